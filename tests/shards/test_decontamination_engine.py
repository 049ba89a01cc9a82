"""Decontamination on an engine: row groups as tasks, the evaluation index shipped once per worker,
the same output bytes and ledger events as the stage in the driver."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from shard_project import through_dedup

from curaline.decontamination import OUTPUT_STAGE, decontaminate_project, row_groups
from curaline.engine.local import LocalEngine
from curaline.project import Project


def _digest(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_row_groups_on_an_engine_give_the_drivers_bytes_and_events(tmp_path: Path) -> None:
    project, manifests = through_dedup(tmp_path / "p")
    config = project.config.for_stage(OUTPUT_STAGE)
    groups = row_groups(project, manifests)
    assert groups >= 4  # the dedup outputs hold one row group per shard: several tasks per source
    stats, events = decontaminate_project(project, manifests, config)
    web = pq.read_table(parquet_of(project, "web"), columns=["doc_id", "source_record_id"]).to_pylist()
    survivors = {r["source_record_id"]: r["doc_id"] for r in web}
    copied = {survivors[f"w{i}"] for i in range(0, 60, 7) if f"w{i}" in survivors}  # what dedup left of them
    assert len(copied) >= 7 and set(events["doc_id"].to_pylist()) == copied  # every copy, nothing else
    assert stats.by_source["web"] == (len(survivors), len(survivors) - len(copied))
    outputs = {m.id: project.stage_path(OUTPUT_STAGE, m.id) for m in manifests if m.kind != "evaluation"}
    local = {s: _digest(p) for s, p in outputs.items()}
    with LocalEngine(2) as engine:
        stats_e, events_e = decontaminate_project(project, manifests, config, engine=engine)
    assert {s: _digest(p) for s, p in outputs.items()} == local  # byte for byte
    assert events_e.equals(events)
    assert (stats_e.by_source, stats_e.by_eval_set, stats_e.rows_in) == (stats.by_source, stats.by_eval_set, stats.rows_in)
    # the index went to each worker once: loads <= workers, not one per task
    assert stats_e.tasks == groups and 1 <= stats_e.index_loads <= 2 < groups and stats_e.index_bytes > 0
    assert not any((project.root / ".curaline" / "decontam").iterdir())  # parts and the index removed
    assert pq.read_table(outputs["web"]).num_rows == len(survivors) - len(copied)


def test_a_damaged_input_is_named_and_leaves_no_parts(tmp_path: Path) -> None:
    project, manifests = through_dedup(tmp_path / "p")
    broken = parquet_of(project, "forum")
    broken.write_bytes(b"PAR1 not parquet at all")
    config = project.config.for_stage(OUTPUT_STAGE)
    for engine in (None, LocalEngine(2)):
        with pytest.raises(ValueError, match=f"{broken}: not a readable parquet file"):
            decontaminate_project(project, manifests, config, engine=engine)
        if engine is not None:
            engine.close()
    assert not any((project.root / ".curaline" / "decontam").iterdir())  # the index written for it is gone too


def parquet_of(project: Project, source: str) -> Path:
    from curaline.decontamination import INPUT_STAGE

    return project.stage_path(INPUT_STAGE, source)
