"""Helpers shared by the Dagster-level tests (importable: tests/ is on sys.path)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import yaml

from curaline.project import Project


def make_project(root: Path) -> Project:
    """A small project with a clean source and a dirty one, written here (no shared data)."""
    (root / "sources").mkdir(parents=True)
    (root / "corpus").mkdir()
    (root / "corpus" / "notes.jsonl").write_text(
        "".join(f'{{"id": "n{i}", "text": "Note number {i} about curation."}}\n' for i in range(20))
    )
    (root / "corpus" / "chat.jsonl").write_bytes(
        b'{"q": "Say hi", "a": "Hi!"}\n{"q": "broken\n{"q": "empty", "a": ""}\n{"q": "ok?", "a": "Yes."}\n'
    )
    base = {"license": "CC-BY-4.0", "obtained": "public-dataset", "owner": "data@example.com"}
    for sid, spec in {
        "notes": {"location": "../corpus/notes.jsonl", "format": "jsonl", "kind": "document", "fields": {"id": "id"}},
        "chat": {"location": "../corpus/chat.jsonl", "format": "jsonl", "kind": "instruction",
                 "fields": {"prompt": "q", "response": "a"}},
    }.items():  # fmt: skip
        (root / "sources" / f"{sid}.yaml").write_text(yaml.safe_dump({"id": sid, **base, **spec}))
    return Project.at(root)


_CROISSANT_CHECK = """
import sys, mlcroissant as mlc
ds = mlc.Dataset(jsonld=sys.argv[1])
print(ds.metadata.ctx.issues.report())
for name in sys.argv[2:]:
    print("ROWS", name, sum(1 for _ in ds.records(name)))
"""


def mlcroissant_check(path: Path, *record_sets: str) -> str:
    """mlcroissant's report on a Croissant file, then `ROWS <set> <n>` per record set read.

    In its own process, as an auditor runs it: mlcroissant imports absl, whose log handler
    keeps the stderr of the moment and closes it when a later dictConfig shuts handlers
    down, which killed the whole pytest process with 'lost sys.stderr'.
    """
    res = subprocess.run([sys.executable, "-c", _CROISSANT_CHECK, str(path), *record_sets], capture_output=True,
                         text=True, timeout=300)  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    return res.stdout


WORDS = """the a of and to in is was for on with that by from at as it this be are were have has had not but
or which their they people city river bridge harbour market garden library station meadow workshop village museum
festival ferry canal bakery tower school teacher student farmer baker painter writer doctor engineer children family
morning evening winter summer spring autumn weather rain snow wind light stone wood glass paper music story history
water road train boat house street window door table chair book letter picture song dinner breakfast market country
small large quiet busy bright dark early late happy careful simple famous local public ancient modern green yellow
walked opened visited painted repaired measured described carried built found wrote read heard watched helped
often rarely always slowly quickly together again nearby across between during before after under over""".split()


def prose(seed: int, words: int = 80) -> str:
    """Varied plain English (~80 words) that passes the quality, language and dedup stages."""
    rng = random.Random(seed)
    sentences, n = [], 0
    while n < words:
        length = rng.randint(8, 14)
        sentence = " ".join(rng.choice(WORDS) for _ in range(length))
        sentences.append(sentence[0].upper() + sentence[1:] + ".")
        n += length
    return " ".join(sentences)


def jsonl(texts: list[str], ids: str | None = None) -> str:
    return "".join(json.dumps({**({"id": f"{ids}{i}"} if ids else {}), "text": t}) + "\n" for i, t in enumerate(texts))


def spec(name: str, sources: object, weights: dict[str, float]) -> dict:
    return {"name": name, "description": f"{name} (test)", "use": "research", "sources": sources, "languages": ["en"],
            "quality": "default", "dedup": True, "decontaminate": True, "mix": {"by": "source", "weights": weights},
            "splits": {"train": 0.8, "validation": 0.1, "test": 0.1, "seed": 7}}  # fmt: skip


def stop_process_group(proc: subprocess.Popen, grace_s: float = 30) -> None:
    """SIGTERM a server started with start_new_session=True and its children; SIGKILL after grace_s."""
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
