"""The compliance state travels with the project: takedowns and release manifests in git, the
ledger, events and record lists in DVC, source files tracked or pinned; a clone answers the same.

Real git and DVC in tmp dirs; the lineage files are written by curaline's own writers (no
pipeline run: that is the slow goal test in test_compliance_goal.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from tests_support import make_project

from curaline.cli import main
from curaline.kernels.base import EVENT_SCHEMA
from curaline.ledger import write_ledger
from curaline.project import Project
from curaline.records import make_doc_id
from curaline.takedown import load_requests, matcher, new_request, record_request, statuses
from curaline.versioning import SOURCES_LOCK, changed_outside_sources, commit_compliance_state, ensure_repo

BIN = Path(sys.executable).parent
NOTES = [make_doc_id("notes", f"own:n{i}") for i in range(6)]


def _run(root: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "CURALINE_PROJECT")}
    res = subprocess.run(list(args), cwd=root, env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout


def _release(project: Project, version: int, ids: list[str]) -> None:
    n = len(ids)
    folder = project.lineage_dir / "releases" / "release=main"
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"release": ["main"] * n, "version": pa.array([version] * n, pa.int32()), "doc_id": ids,
                             "source_id": [d.split(":")[0] for d in ids], "kind": ["document"] * n,
                             "license": ["CC-BY-4.0"] * n, "license_class": ["commercial"] * n,
                             "split": ["train"] * n, "copies": pa.array([1] * n, pa.int32())}),
                   folder / f"v{version}.parquet")  # fmt: skip
    (folder / f"v{version}.json").write_text(json.dumps({"name": "main", "version": version, "records": n}))


def clone_of(project: Project, target: Path) -> Project:
    _run(project.root, "git", "clone", "-q", str(project.root), str(target))
    _run(target, str(BIN / "dvc"), "remote", "modify", "--local", "local", "url", str(project.root / ".dvc-store"))
    _run(target, str(BIN / "dvc"), "pull", "--quiet")
    return Project.at(target)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    proj = make_project(tmp_path / "proj")
    ensure_repo(proj)
    return proj


def test_a_takedown_is_committed_when_recorded_and_a_clone_applies_it(project: Project, tmp_path: Path) -> None:
    _release(project, 1, NOTES)
    req = new_request(project, doc_ids=[NOTES[1]], reason="erasure (ticket 7)", requested_by="dpo")
    path = record_request(project, req)
    assert _run(project.root, "git", "log", "-1", "--format=%s").startswith(f"takedown request {req.id}")
    assert _run(project.root, "git", "ls-files", "lineage/takedowns").split() == [path.relative_to(project.root).as_posix()]
    # a run applies it and records the run (ledger), a new version leaves the record out
    _, events = matcher([req])(pa.table({"doc_id": NOTES}), "notes")
    write_ledger(project, events, stage="raw_records", partition="notes", run_id="run-1")
    write_ledger(project, EVENT_SCHEMA.empty_table(), stage="normalized", partition="notes", run_id="run-1")
    _release(project, 2, [d for d in NOTES if d != NOTES[1]])
    commit_compliance_state(project, "lineage of a run")
    tracked = set(_run(project.root, "git", "ls-files").split())
    assert {"lineage/ledger.dvc", "lineage/releases/release=main/v1.json", "lineage/releases/release=main/v2.json",
            "lineage/releases/release=main/v1.parquet.dvc", "corpus/notes.jsonl.dvc", "corpus/chat.jsonl.dvc",
            "sources/notes.yaml", ".dvc/config"} <= tracked  # fmt: skip
    assert not any(p.startswith(("lineage/index/", "lineage/versions/")) for p in tracked)  # machine-local caches
    assert "url = ../.dvc-store" in (project.root / ".dvc" / "config").read_text()

    # a clone that was not pulled yet: a run there would version new lineage over the history, so it refuses
    bare = tmp_path / "bare" / "proj"
    _run(project.root, "git", "clone", "-q", str(project.root), str(bare))
    res = CliRunner().invoke(main, ["run", "--project", str(bare)])
    assert res.exit_code != 0 and "lineage is not pulled (lineage/ledger" in res.output and "dvc pull" in res.output

    clone = clone_of(project, tmp_path / "elsewhere" / "proj")
    assert [r.id for r in load_requests(clone)[0]] == [req.id]  # every later run there applies it
    assert (clone.root / "corpus" / "notes.jsonl").read_bytes() == (project.root / "corpus" / "notes.jsonl").read_bytes()
    [here], [there] = statuses(project, [req]), statuses(clone, load_requests(clone)[0])
    assert (there.status, there.records_taken_down) == (here.status, here.records_taken_down) == ("complete", 1)
    status = CliRunner().invoke(main, ["takedown-status", "--json", "--project", str(clone.root)])
    assert status.exit_code == 0 and [r["id"] for r in json.loads(status.output)["requests"]] == [req.id]
    # a copy pushes into its own store, never into the original's
    assert "../.dvc-store" in (clone.root / ".dvc" / "config").read_text()


def test_a_takedown_before_any_run_waits_for_the_first_commit(tmp_path: Path) -> None:
    project = make_project(tmp_path / "fresh")
    record_request(project, new_request(project, source="chat", reason="licence withdrawn", requested_by="a"))
    assert not (project.root / ".git").exists()  # nothing to commit into yet: the first run commits it
    commit_compliance_state(project, "first run")
    assert any(p.startswith("lineage/takedowns/") for p in _run(project.root, "git", "ls-files").split())


def test_sources_outside_the_project_are_pinned_by_content_hash(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p")
    outside = tmp_path / "shared" / "notes.jsonl"
    outside.parent.mkdir()
    outside.write_bytes((project.root / "corpus" / "notes.jsonl").read_bytes())
    manifest = project.sources_dir / "notes.yaml"
    manifest.write_text(manifest.read_text().replace("../corpus/notes.jsonl", str(outside)))
    with (project.root / "curaline.yaml").open("a") as cfg:  # sources outside the project must be allowed
        cfg.write(f"\ningest:\n  allowed_roots: [{str(outside.parent)!r}]\n")
    commit_compliance_state(project, "run")
    lock = json.loads((project.root / SOURCES_LOCK).read_text())["sources"]
    assert lock == {"notes": {"path": str(outside), "md5": lock["notes"]["md5"]}} and len(lock["notes"]["md5"]) == 32
    assert SOURCES_LOCK in _run(project.root, "git", "ls-files").split()
    assert changed_outside_sources(project) == {}
    outside.write_text('{"id": "x", "text": "changed"}\n')
    assert list(changed_outside_sources(project)) == ["notes"]
    # a rebuild refuses the changed bytes unless asked (before any Dagster work)
    res = CliRunner().invoke(main, ["run", "--project", str(project.root)])
    assert res.exit_code != 0 and "notes: md5 " in res.output and "--accept-changed-sources" in res.output
