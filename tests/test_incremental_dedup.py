"""Adding a source costs only its own signatures, and dedup equals a full recompute."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import dagster as dg
import pytest
import yaml

from curaline.project import Project

WORDS = ("the of and to in is was for on as with by at from river city history music school market bridge "
         "winter summer garden village station museum harbour festival library castle forest valley").split()


def write_source(root: Path, sid: str, docs: list[str], priority: int) -> None:
    (root / "corpus").mkdir(parents=True, exist_ok=True)
    (root / "corpus" / f"{sid}.jsonl").write_text("".join(
        json.dumps({"id": f"{sid}-{i}", "text": d}) + "\n"
        for i, d in enumerate(docs)))  # fmt: skip
    (root / "sources").mkdir(exist_ok=True)
    (root / "sources" / f"{sid}.yaml").write_text(yaml.safe_dump({
        "id": sid, "location": f"../corpus/{sid}.jsonl", "format": "jsonl", "kind": "document",
        "fields": {"id": "id"}, "license": "CC-BY-4.0", "obtained": "public-dataset", "priority": priority}))  # fmt: skip


def edited(text: str, rng: random.Random, rate: float) -> str:
    words = text.split()
    for i in rng.sample(range(len(words)), int(len(words) * rate)):
        words[i] = rng.choice(WORDS)
    return " ".join(words)


def dedup_result(project: Project) -> set[tuple[str, str]]:
    import duckdb

    with duckdb.connect() as con:
        return set(con.execute(
            "SELECT doc_id, detail FROM read_parquet(?, hive_partitioning = false) WHERE stage = 'deduplicated'",
            [str(project.lineage_dir / "ledger" / "stage=deduplicated" / "**" / "*.parquet")]).fetchall())  # fmt: skip


def run(project: Project, partitions: list[str]) -> None:
    import definitions

    defs = definitions.build_definitions(project)
    project.dagster_home.mkdir(parents=True, exist_ok=True)
    with dg.DagsterInstance.get() as instance:
        assert defs.resolve_job_def("catalog_job").execute_in_process(instance=instance).success
        instance.add_dynamic_partitions("sources", partitions)
        for key in partitions:
            assert defs.resolve_job_def("per_source_job").execute_in_process(instance=instance, partition_key=key).success
        assert defs.resolve_job_def("global_job").execute_in_process(instance=instance).success


def test_new_source_only_adds_its_own_signatures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(3)
    base = [" ".join(rng.choice(WORDS) for _ in range(120)) for _ in range(30)]
    root = tmp_path / "inc"
    write_source(root, "a", base[:20], priority=2)
    write_source(root, "b", [edited(d, rng, 0.03) for d in base[:5]] + base[20:], priority=1)
    (root / "curaline.yaml").write_text(yaml.safe_dump({"stages": {"quality_filtered": {
        "gopher_quality": False, "gopher_repetition": False, "c4": False, "fineweb": False}}}))  # fmt: skip
    monkeypatch.setenv("DAGSTER_HOME", str(root / ".dagster"))
    project = Project.at(root)
    run(project, ["a", "b"])
    bands_a = project.stage_path("minhash_bands", "a")  # a folder of parts, one per shard
    parts = sorted(bands_a.glob("*.parquet"))
    before = [(p.stat().st_mtime_ns, p.read_bytes()) for p in parts]
    assert parts

    write_source(root, "c", [edited(d, rng, 0.02) for d in base[10:14]], priority=0)
    run(project, ["c"])  # only the new partition, then the global stages
    assert sorted(bands_a.glob("*.parquet")) == parts
    assert [(p.stat().st_mtime_ns, p.read_bytes()) for p in parts] == before  # a's signatures not recomputed
    incremental = dedup_result(project)
    assert len(incremental) == 5 + 4  # b's five edited copies and c's four

    full_root = tmp_path / "full"
    shutil.copytree(root / "sources", full_root / "sources")
    shutil.copytree(root / "corpus", full_root / "corpus")
    shutil.copy(root / "curaline.yaml", full_root / "curaline.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(full_root / ".dagster"))
    full = Project.at(full_root)
    run(full, ["a", "b", "c"])
    assert dedup_result(full) == incremental
