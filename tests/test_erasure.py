"""`curaline takedown ... --erase`: the records leave every PII-holding output and every cached version."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from click.testing import CliRunner

from curaline.cli import main
from curaline.project import Project
from curaline.records import make_doc_id
from curaline.versioning import dvc_hash, ensure_repo, git_commit, track

EMAIL = "erase.me@corp.test"
IDS = [make_doc_id("notes", f"own:n{i}") for i in range(4)]


def _write(project: Project, stage: str, rows: list[int]) -> None:
    path = project.stage_path(stage, "notes") / "shard-00000.parquet"  # a sharded stage: a folder per source
    path.parent.mkdir(parents=True, exist_ok=True)
    texts = [f"{stage} note {i} from {EMAIL}" if i == 2 else f"{stage} note {i}" for i in rows]
    pq.write_table(pa.table({"doc_id": [IDS[i] for i in rows], "source_id": ["notes"] * len(rows), "text": texts}),
                   path, compression="none")  # fmt: skip


def test_erase_removes_the_record_from_outputs_cache_and_history(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    (root / "sources").mkdir(parents=True)
    outs = ["data/raw_records/${key}", "data/normalized/${key}"]  # folders of shards, as source_records writes them
    stages = {"source_records": {"foreach": {"notes": {}}, "do": {"cmd": "true", "outs": outs}}}
    (root / "dvc.yaml").write_text(yaml.safe_dump({"stages": stages}))
    project = Project.at(root)
    ensure_repo(project)
    names = ["source_records@notes"]
    for version in ([0, 1, 2], [0, 1, 2, 3]):  # two tracked, committed versions, both holding record 2
        for stage in ("raw_records", "normalized"):
            _write(project, stage, version)
        track(project, names)
        git_commit(project, ["dvc.yaml", "dvc.lock"], f"data with {len(version)} notes")
    cache = root / ".dvc" / "cache" / "files" / "md5"
    assert sum(EMAIL.encode() in p.read_bytes() for p in cache.rglob("*") if p.is_file()) == 4

    ids_file = tmp_path / "ids.txt"
    ids_file.write_text(IDS[2] + "\n")
    res = CliRunner().invoke(main, ["takedown", "--doc-ids", str(ids_file), "--reason", "GDPR Art. 17 erasure",
                                    "--erase", "--project", str(root), "--json"])  # fmt: skip
    assert res.exit_code == 0, res.output
    erased = json.loads(res.stdout)["erased"]
    assert erased["records"] == {"raw_records/notes": 1, "normalized/notes": 1}
    assert len(erased["cache_objects"]) == 4  # both old versions of both outputs (found through the folders' listings)
    lock = yaml.safe_load((root / "dvc.lock").read_text())["stages"]
    for stage in ("raw_records", "normalized"):
        assert pq.read_table(project.stage_path(stage, "notes"))["doc_id"].to_pylist() == [IDS[0], IDS[1], IDS[3]]
        # the rewritten folder is the version DVC now records (and caches)
        recorded = {o["path"]: o["md5"] for o in lock["source_records@notes"]["outs"]}
        assert recorded[f"data/{stage}/notes"] == dvc_hash(project.stage_path(stage, "notes"))
    assert not any(EMAIL.encode() in p.read_bytes() for p in root.rglob("*") if p.is_file() and ".git" not in p.parts)
    # recorded: the erasure file and ledger rows naming the request
    record = json.loads((root / "lineage" / "erasures" / f"{erased['request']}.json").read_text())
    assert record["files"] == ["data/raw_records/notes/shard-00000.parquet", "data/normalized/notes/shard-00000.parquet"]
    files = sorted((root / "lineage" / "ledger" / "stage=erasure").rglob("*.parquet"))
    ledger = pa.concat_tables([pq.read_table(f, partitioning=None) for f in files])
    assert set(ledger["doc_id"].to_pylist()) == {IDS[2]}
    assert {d.split()[0] for d in ledger["detail"].to_pylist()} == {erased["request"]}
