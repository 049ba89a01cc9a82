"""A small project whose one source spans many shards: prose, bad lines, short docs, repeated ids."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from tests_support import prose, spec


def write_project(root: Path, *, docs: int = 240, shard_records: int = 40, release: bool = False) -> Path:
    (root / "sources").mkdir(parents=True)
    if release:
        (root / "releases").mkdir()
        (root / "releases" / "r.yaml").write_text(yaml.safe_dump(spec("r", "all", {"web": 1.0})))
    (root / "corpus").mkdir()
    lines = []
    for i in range(docs):
        if i % 53 == 7:
            lines.append('{"id": "broken')  # malformed: quarantined with its line
        elif i % 31 == 5:
            lines.append(json.dumps({"id": f"d{i}", "text": "too short"}))  # dropped by quality
        elif i % 47 == 46:
            lines.append(json.dumps({"id": f"d{i - 45}", "text": prose(i)}))  # an id an earlier shard holds
        else:
            lines.append(json.dumps({"id": f"d{i}", "text": prose(i) + (" Mail me at jo@example.com." if i % 9 == 0 else "")}))
    (root / "corpus" / "web.jsonl").write_text("\n".join(lines) + "\n")
    manifest = {"id": "web", "location": "../corpus/web.jsonl", "format": "jsonl", "kind": "document",
                "fields": {"id": "id", "text": "text"}, "license": "CC-BY-4.0", "obtained": "public-dataset",
                "languages": ["en"]}  # fmt: skip
    (root / "sources" / "web.yaml").write_text(yaml.safe_dump(manifest))
    (root / "curaline.yaml").write_text(yaml.safe_dump({"ingest": {"shard_records": shard_records}}))
    return root


def dedup_project(root: Path, *, exam: bool = False) -> Path:
    """Two sources: `forum` holds exact copies (case, spaces), near copies (one word changed) and its own docs;
    with exam, an evaluation set `exam` whose items copy a passage of every seventh `web` doc."""
    import json

    from tests_support import prose

    (root / "sources").mkdir(parents=True)
    (root / "corpus").mkdir()
    web = [{"id": f"w{i}", "text": prose(1000 + i)} for i in range(60)]
    forum = []
    for i in range(36):
        base = prose(1000 + i)
        if i % 3 == 0:
            text = base.replace(". ", ".   ").lower().capitalize()  # exact after lowering and squashing spaces
        elif i % 3 == 1:
            words = base.split()
            words[len(words) // 2] = "zebra"
            text = " ".join(words)
        else:
            text = prose(5000 + i)
        forum.append({"id": f"f{i}", "text": text})
    forum += [{"id": f"g{i}", "text": forum[1]["text"]} for i in range(2)]  # exact copies of a near copy
    for name, rows, extra in (("web", web, {"priority": 1}), ("forum", forum, {"collected": "2024-01-01"})):
        (root / "corpus" / f"{name}.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
        manifest = {"id": name, "location": f"../corpus/{name}.jsonl", "format": "jsonl", "kind": "document",
                    "fields": {"id": "id", "text": "text"}, "license": "CC-BY-4.0", "obtained": "public-dataset",
                    "languages": ["en"], **extra}  # fmt: skip
        (root / "sources" / f"{name}.yaml").write_text(yaml.safe_dump(manifest))
    if exam:
        items = [{"id": f"q{i}", "text": " ".join(prose(1000 + i).split()[10:40])} for i in range(0, 60, 7)]
        (root / "corpus" / "exam.jsonl").write_text("\n".join(json.dumps(r) for r in items) + "\n")
        (root / "sources" / "exam.yaml").write_text(yaml.safe_dump({
            "id": "exam", "location": "../corpus/exam.jsonl", "format": "jsonl", "kind": "evaluation",
            "fields": {"id": "id", "text": "text"}, "license": "MIT", "obtained": "public-dataset"}))  # fmt: skip
    (root / "curaline.yaml").write_text(yaml.safe_dump({"ingest": {"shard_records": 25}}))
    return root


def through_dedup(root: Path) -> tuple[Any, list]:
    """A project through dedup: `web` (60 docs, 9 of them copied in `exam`), `forum`, and the eval set `exam`."""
    from curaline.dedup import deduplicate, source_signatures
    from curaline.engine.local import LocalEngine
    from curaline.project import Project
    from curaline.shards.chain import record_chain
    from curaline.shards.phase import source_tasks
    from curaline.shards.runner import run_phase
    from curaline.sources import load_manifests

    project = Project.at(dedup_project(root, exam=True))
    manifests, problems = load_manifests(project.sources_dir)
    assert not problems, problems
    minhash, dedup = project.config.for_stage("minhash_bands"), project.config.for_stage("deduplicated")
    with LocalEngine(1) as engine:
        run_phase(engine, [t for m in manifests for t in source_tasks(project, m, "run-a", record_chain(m, project))])
    for m in manifests:
        if m.kind != "evaluation":
            source_signatures(project, m, minhash, dedup)
    deduplicate(project, manifests, minhash, dedup)
    return project, manifests
