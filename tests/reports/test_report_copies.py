"""Reports read the lineage by the times its files record, never by file mtimes.

A small project (crafted stage output, real ledger files, a published release) is copied
with `cp -r` (mtimes reset, then scrambled), `cp -a` and `rsync -r` (no times kept): every copy
must produce the same three reports as the original, and pick the same ledger runs.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from curaline.kernels.base import EVENT_SCHEMA
from curaline.ledger import write_ledger
from curaline.lineage.views import ledger_file_time, ledger_files
from curaline.project import Project
from curaline.records import make_doc_id, own_key
from curaline.release.build import build_release
from curaline.release.spec import load_spec
from curaline.release.versions import publish
from curaline.reports.art10 import art10_markdown, art10_record
from curaline.reports.card import card_markdown
from curaline.reports.eu_ai_act import eu_ai_act_markdown, eu_ai_act_summary
from curaline.reports.release_data import load_release
from curaline.sources import load_manifests

N = 30
IDS = [make_doc_id("wiki", own_key(f"r{i}")) for i in range(N)]


def _events(ids: list[str], reason: str) -> pa.Table:
    n = len(ids)
    return pa.table({"doc_id": ids, "action": ["drop"] * n, "reason": [reason] * n, "value": [1.0] * n,
                     "threshold": [2.0] * n, "detail": [None] * n, "related_doc_id": [None] * n},
                    schema=EVENT_SCHEMA)  # fmt: skip


def make_small_project(root: Path) -> Project:
    """One CC-BY source with crafted decontaminated output and a spec; nothing run yet."""
    (root / "sources").mkdir(parents=True)
    (root / "corpus").mkdir()
    (root / "corpus" / "wiki.jsonl").write_text("")
    (root / "sources" / "wiki.yaml").write_text(yaml.safe_dump({
        "id": "wiki", "location": "../corpus/wiki.jsonl", "format": "jsonl", "kind": "document",
        "license": "CC-BY-4.0", "license_url": "https://creativecommons.org/licenses/by/4.0/", "domain": "encyclopedia",
        "languages": ["en"], "owner": "data@example.com", "obtained": "public-dataset", "collected": "2024-01-15",
        "personal_data": "none", "legal_basis": "test data", "fields": {"id": "id"}}))  # fmt: skip
    texts = [" ".join(f"river{i} stone{k} garden{i + k}" for k in range(12)) + "." for i in range(N)]
    path = root / "data" / "decontaminated" / "wiki.parquet"
    path.parent.mkdir(parents=True)
    pq.write_table(pa.table({"doc_id": IDS, "source_id": ["wiki"] * N, "license": ["CC-BY-4.0"] * N,
                             "content_hash": ["0" * 32] * N, "language": ["en"] * N, "lang_score": [0.9] * N,
                             "toxicity": [0.0] * N, "pii_total": [0] * N, "text": texts,
                             "q_word_count": [36.0] * N}), path)  # fmt: skip
    (root / "releases").mkdir()
    (root / "releases" / "research.yaml").write_text(yaml.safe_dump({
        "name": "research", "description": "test", "use": "research", "sources": "all", "languages": ["en"],
        "quality": "default", "dedup": True, "decontaminate": True, "mix": {"by": "source", "weights": {"wiki": 1.0}},
        "splits": {"train": 0.8, "validation": 0.1, "test": 0.1, "seed": 1}}))  # fmt: skip
    return Project.at(root)


def publish_release(project: Project, name: str = "research") -> dict:
    manifests, problems = load_manifests(project.sources_dir, strict=False)
    assert not problems, problems
    build = build_release(project, load_spec(project.releases_dir / f"{name}.yaml", manifests), manifests)
    return publish(project, build, versioning=False).manifest


def reports(root: Path) -> dict[str, str]:
    data = load_release(Project.at(root), "research@v1")
    return {"eu-ai-act": eu_ai_act_markdown(eu_ai_act_summary(data), data),
            "art10": art10_markdown(art10_record(data), data), "card": card_markdown(data)}  # fmt: skip


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = make_small_project(tmp_path_factory.mktemp("copies") / "project")
    # two quality runs before the release: the second (3 removed) is the one v1 was built from
    write_ledger(project, _events(IDS[:5], "gopher_short_doc"), stage="quality_filtered", partition="wiki", run_id="run-a")
    write_ledger(project, _events(IDS[:3], "gopher_short_doc"), stage="quality_filtered", partition="wiki", run_id="run-b")
    assert publish_release(project)["version"] == 1
    # a later run, after v1's build: not v1's story
    created = load_release(project, "research@v1").created_at
    assert created is not None
    write_ledger(project, _events(IDS[:1], "c4_too_few_sentences"), stage="quality_filtered", partition="wiki",
                 run_id="run-c", at=created + dt.timedelta(seconds=2))  # fmt: skip
    return project.root


def _scramble_mtimes(root: Path) -> None:
    """The oldest ledger file gets the newest mtime and the newest the oldest (a copy may do that)."""
    files = ledger_files(Project.at(root), latest=False)
    for i, f in enumerate(files):
        os.utime(f, ns=(10**18 - i * 10**12, 10**18 - i * 10**12))


def test_copies_report_the_same_as_the_original(original: Path, tmp_path: Path) -> None:
    want = reports(original)
    data = load_release(Project.at(original), "research@v1")
    assert data.ledger_counts()["quality_filtered"]["removed"] == 3  # run-b: not run-a (older), not run-c (later)
    assert "gopher_short_doc=3" in want["art10"] and "c4_too_few_sentences" not in want["art10"]
    copies = {"cp -r": ["cp", "-r"], "cp -a": ["cp", "-a"]}
    if shutil.which("rsync"):
        copies["rsync -r"] = ["rsync", "-r"]
    for how, cmd in copies.items():
        target = tmp_path / how.replace(" ", "")
        src = f"{original}/" if how.startswith("rsync") else str(original)
        subprocess.run([*cmd, src, str(target)], check=True)
        if how == "cp -r":
            _scramble_mtimes(target)
        got = reports(target)
        for name in want:
            assert got[name] == want[name], f"{how}: {name} differs"
        assert [p.name for p in ledger_files(Project.at(target))] == [p.name for p in ledger_files(Project.at(original))]


def test_a_ledger_file_says_when_it_was_written(original: Path, tmp_path: Path) -> None:
    files = ledger_files(Project.at(original), latest=False)
    times = [ledger_file_time(f) for f in files]
    assert all(t is not None for t in times) and times == sorted(times)  # type: ignore[type-var]
    assert [f.name.split("run=")[1] for f in files] == ["run-a.parquet", "run-b.parquet", "run-c.parquet"]
    # a file from before the time was in its name: its rows' recorded_at, read from the file
    legacy = tmp_path / "run=old.parquet"
    shutil.copyfile(files[0], legacy)
    assert ledger_file_time(legacy) == times[0]


def test_a_retried_step_replaces_its_run_file(tmp_path: Path) -> None:
    project = make_small_project(tmp_path / "p")
    first = write_ledger(project, _events(IDS[:2], "x"), stage="normalized", partition="wiki", run_id="run-1")
    second = write_ledger(project, _events(IDS[:1], "x"), stage="normalized", partition="wiki", run_id="run-1")
    assert not first.exists() and ledger_files(project, latest=False) == [second]
