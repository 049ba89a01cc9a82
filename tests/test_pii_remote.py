"""Stage outputs holding PII verbatim never go to a non-local DVC remote by default (issue 17)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from dvc_http_store import http_store

from curaline.pii_stages import PII_STAGES, holds_pii, is_local_remote
from curaline.project import Project
from curaline.versioning import _open_repo, ensure_repo, push, shareable_outputs, track

BIN = Path(sys.executable).parent
EMAIL = "ann@corp.test"


def _project(root: Path) -> Project:
    root.mkdir(parents=True)
    stages = {}
    for stage in ("raw_records", "normalized", "pii_redacted"):
        path = root / "data" / stage / "notes.parquet"
        path.parent.mkdir(parents=True)
        text = "mail me at <EMAIL>" if stage == "pii_redacted" else f"mail me at {EMAIL} ({stage})"
        pq.write_table(pa.table({"doc_id": ["notes:1"], "text": [text]}), path, compression="none")
        stages[stage] = {"cmd": "true", "outs": [f"data/{stage}/notes.parquet"]}
    (root / "dvc.yaml").write_text(yaml.safe_dump({"stages": stages}))
    project = Project.at(root)
    ensure_repo(project)
    track(project, list(stages))
    return project


def _set_remote(root: Path, url: str) -> None:
    res = subprocess.run([str(BIN / "dvc"), "remote", "add", "-f", "-d", "elsewhere", url], cwd=root,
                         capture_output=True, text=True)  # fmt: skip
    assert res.returncode == 0, res.stderr


def test_only_pii_free_outputs_are_pushed_to_a_remote_service(tmp_path: Path) -> None:
    project = _project(tmp_path / "proj")
    with _open_repo(project.root) as repo:
        assert shareable_outputs(project, repo) is None  # the default remote is a folder here: all of it
    assert push(project) == 3 and len(list((project.root / ".dvc-store").rglob("*"))) > 3
    _set_remote(project.root, "s3://some-bucket/curaline")
    with _open_repo(project.root) as repo:
        assert shareable_outputs(project, repo) == ["data/pii_redacted/notes.parquet"]
    (project.root / "curaline.yaml").write_text("pii_to_remote: true\n")
    with _open_repo(project.root) as repo:
        assert shareable_outputs(Project.at(project.root), repo) is None


def test_the_pii_stage_list_and_remote_kinds() -> None:
    assert all(holds_pii(f"data/{s}/x.parquet") for s in PII_STAGES)
    assert holds_pii("data/raw_records.parquet") and not holds_pii("data/pii_redacted/x.parquet")
    assert not holds_pii("data/releases/r/manifest.json") and not holds_pii("lineage/ledger/x.parquet")
    assert is_local_remote("/srv/dvc") and is_local_remote("file:///srv/dvc") and is_local_remote("../store")
    assert not any(is_local_remote(u) for u in ("s3://b/p", "gs://b", "https://h/p", "ssh://h/p", "azure://c"))


def test_a_push_to_a_remote_service_sends_no_pii(tmp_path: Path) -> None:
    project = _project(tmp_path / "proj")
    with http_store() as (url, objects):
        _set_remote(project.root, url)
        assert push(project) == 1
    [sent] = objects.values()
    assert b"<EMAIL>" in sent and not any(EMAIL.encode() in body for body in objects.values())


def test_the_lineage_travels_to_a_remote_service(tmp_path: Path) -> None:
    """The ledger is `dvc add`-ed, not a dvc.lock output: a push to a service must still send it
    (it holds no PII: see test_pii_leak), so a clone that pulls from that service can audit."""
    from curaline.versioning import commit_compliance_state

    project = _project(tmp_path / "proj")
    ledger = project.root / "lineage" / "ledger" / "stage=normalized" / "partition=notes" / "x-run=r1.parquet"
    ledger.parent.mkdir(parents=True)
    pq.write_table(pa.table({"doc_id": ["notes:1"], "action": ["drop"], "reason": ["too_short"]}), ledger)
    with http_store() as (url, objects):
        _set_remote(project.root, url)
        commit_compliance_state(project, "lineage")
        assert ledger.read_bytes() in objects.values()
        assert not any(EMAIL.encode() in body for body in objects.values())
        clone = tmp_path / "clone"
        subprocess.run(["git", "clone", "-q", str(project.root), str(clone)], check=True)
        res = subprocess.run([str(BIN / "dvc"), "pull", "lineage/ledger"], cwd=clone, capture_output=True, text=True)
        assert res.returncode == 0, res.stderr
    assert (clone / ledger.relative_to(project.root)).read_bytes() == ledger.read_bytes()
