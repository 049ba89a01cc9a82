"""`curaline run` pushes once, at its end: pushes asked for inside `deferred_pushes` send
nothing until it closes, and then everything shareable goes in one push (a real DVC repo
and its default folder remote)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from curaline.project import Project
from curaline.versioning import deferred_pushes, ensure_repo, push, track


def _objects(root: Path) -> set[str]:
    store = root / ".dvc-store"
    return {p.name for p in store.rglob("*") if p.is_file()} if store.exists() else set()


def test_pushes_inside_wait_for_the_end_and_then_send_everything(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    stages = {}
    for i, stage in enumerate(("pii_redacted", "toxicity_screened")):
        path = root / "data" / stage / "notes.parquet"
        path.parent.mkdir(parents=True)
        pq.write_table(pa.table({"doc_id": [f"notes:{i}"], "text": [f"text {i}"]}), path)
        stages[stage] = {"cmd": "true", "outs": [f"data/{stage}/notes.parquet"]}
    (root / "dvc.yaml").write_text(yaml.safe_dump({"stages": stages}))
    project = Project.at(root)
    ensure_repo(project)
    track(project, list(stages))
    with deferred_pushes(project):
        assert push(project, ["data/pii_redacted/notes.parquet"]) == 0
        with deferred_pushes(project):  # nested: the outer one pushes
            assert push(project) == 0
        assert _objects(root) == set()
    assert len(_objects(root)) == 2  # both outputs, though only one was named inside
    with deferred_pushes(project):
        pass  # nothing asked for: no push at the end
    assert push(project) == 0  # everything is there already


def test_an_error_inside_still_pushes_what_was_due(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    path = root / "data" / "pii_redacted" / "notes.parquet"
    path.parent.mkdir(parents=True)
    pq.write_table(pa.table({"doc_id": ["notes:1"]}), path)
    (root / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"pii_redacted": {"cmd": "true", "outs": [
        "data/pii_redacted/notes.parquet"]}}}))  # fmt: skip
    project = Project.at(root)
    ensure_repo(project)
    track(project, ["pii_redacted"])
    try:
        with deferred_pushes(project):
            push(project)
            raise RuntimeError("a step failed")
    except RuntimeError:
        pass
    assert len(_objects(root)) == 1
