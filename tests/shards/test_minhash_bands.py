"""MinHash bands made by the shard workers: one part per shard, the same rows the step would
compute, and a step that completes what is missing or stale (issue 15: the global stages'
per-shard work runs on the engine)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from shard_project import dedup_project

from curaline.cli import open_instance, run_pipeline
from curaline.kernels.minhash import MinHashConfig
from curaline.minhash_bands import INPUT_KEY, SETTINGS_KEY, SIGNATURE_STAGE, ensure_source_bands
from curaline.project import Project
from curaline.sources import load_manifests
from curaline.store import parquet_files


def _rows(folder: Path) -> pa.Table:
    return pa.concat_tables([pq.read_table(f) for f in parquet_files(folder)]).sort_by(
        [("doc_id", "ascending"), ("band", "ascending")])  # fmt: skip


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    root = dedup_project(tmp_path_factory.mktemp("bands") / "proj", exam=True)  # 25 records a shard
    cfg = yaml.safe_load((root / "curaline.yaml").read_text())
    cfg["engine"] = {"kind": "local", "workers": 2}
    (root / "curaline.yaml").write_text(yaml.safe_dump(cfg))
    project = Project.at(root)
    mp = pytest.MonkeyPatch()
    mp.setenv("DAGSTER_HOME", str(project.dagster_home))
    try:
        assert run_pipeline(project, echo=lambda _: None)
    finally:
        mp.undo()
    return project


def test_each_shard_of_a_deduplicated_source_has_its_part_from_the_workers(project: Project) -> None:
    manifests = {m.id: m for m in load_manifests(project.sources_dir)[0]}
    for sid in ("web", "forum"):
        inputs = parquet_files(project.stage_path("toxicity_screened", sid))
        parts = parquet_files(project.stage_path(SIGNATURE_STAGE, sid))
        assert len(inputs) >= 2 and [p.name for p in parts] == [f.name for f in inputs]
        for part in parts:
            meta = pq.ParquetFile(part).metadata.metadata
            assert SETTINGS_KEY in meta and INPUT_KEY in meta
        assert manifests[sid].kind == "document"
    # the evaluation set is not deduplicated: one empty part, still one dataset to readers
    exam = parquet_files(project.stage_path(SIGNATURE_STAGE, "exam"))
    assert len(exam) == 1 and pq.ParquetFile(exam[0]).metadata.num_rows == 0
    with open_instance(project.dagster_home) as instance:
        for sid in ("web", "forum"):
            records = instance.fetch_materializations(dg.AssetKey(SIGNATURE_STAGE), limit=20).records
            mine = [r for r in records if r.partition_key == sid]
            meta = mine[0].asset_materialization.metadata
            assert meta["banded_here"].value == 0  # every part came from the shard workers
            assert meta["banded_by_workers"].value == meta["shards"].value >= 2


def test_the_workers_parts_are_what_the_step_computes_alone(project: Project, tmp_path: Path) -> None:
    manifest = next(m for m in load_manifests(project.sources_dir)[0] if m.id == "web")
    minhash, dedup = project.config.for_stage("minhash_bands"), project.config.for_stage("deduplicated")
    folder = project.stage_path(SIGNATURE_STAGE, "web")
    from_workers = _rows(folder)
    assert from_workers.num_rows > 0
    saved = {p.name: p.read_bytes() for p in parquet_files(folder)}
    try:
        for p in parquet_files(folder):
            p.unlink()
        summary = ensure_source_bands(project, manifest, minhash, dedup)
        assert summary.computed == summary.parts == len(saved)
        assert _rows(folder).equals(from_workers)
    finally:
        for name, data in saved.items():
            (folder / name).write_bytes(data)


def test_stale_parts_are_banded_again_and_current_ones_kept(project: Project) -> None:
    manifest = next(m for m in load_manifests(project.sources_dir)[0] if m.id == "forum")
    minhash, dedup = project.config.for_stage("minhash_bands"), project.config.for_stage("deduplicated")
    folder = project.stage_path(SIGNATURE_STAGE, "forum")
    saved = {p.name: p.read_bytes() for p in parquet_files(folder)}
    try:
        assert ensure_source_bands(project, manifest, minhash, dedup).computed == 0  # all current
        other = MinHashConfig(seed=minhash.seed + 1)  # other permutations: every bucket differs
        summary = ensure_source_bands(project, manifest, other, dedup)
        assert summary.computed == summary.parts == len(saved)
        assert ensure_source_bands(project, manifest, other, dedup).computed == 0
        # a part whose shard now holds other records (or that is damaged) is banded again
        first = parquet_files(folder)[0]
        first.write_bytes(b"not parquet")
        legacy = folder.with_suffix(".parquet")  # the one-file layout of earlier versions
        legacy.write_bytes(b"old")
        assert ensure_source_bands(project, manifest, other, dedup).computed == 1
        assert not legacy.exists()
    finally:
        for p in parquet_files(folder):
            p.unlink()
        for name, data in saved.items():
            (folder / name).write_bytes(data)
    assert ensure_source_bands(project, manifest, minhash, dedup).computed == 0
