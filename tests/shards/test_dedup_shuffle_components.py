"""Near dedup by shuffles past the driver's edge limit: components and keep-policy on the engine, same removals."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import yaml
from shard_project import dedup_project
from tests_support import prose

from curaline.dedup import deduplicate, source_signatures
from curaline.dedup_shuffle import shuffled_removals
from curaline.engine import LocalEngine
from curaline.kernels.dedup import keep_rank, merge_events
from curaline.project import Project
from curaline.shards.chain import record_chain
from curaline.shards.phase import source_tasks
from curaline.shards.runner import run_phase
from curaline.sources import load_manifests


def _chains(root: Path) -> None:
    """A third source of edit chains: each link one more word changed, so neighbours are near copies
    (Jaccard ~0.88) and links three apart are not (~0.67): components of 8 that take several rounds."""
    rows = []
    for c in range(5):
        words = prose(7000 + c).split()
        for k in range(8):
            for w in range(k):
                words[4 + 9 * w] = f"edit{c}x{w}"
            rows.append({"id": f"c{c}-{k}", "text": " ".join(words)})
    (root / "corpus" / "chains.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    manifest = {"id": "chains", "location": "../corpus/chains.jsonl", "format": "jsonl", "kind": "document",
                "fields": {"id": "id", "text": "text"}, "license": "CC-BY-4.0", "obtained": "public-dataset",
                "languages": ["en"], "priority": 2}  # fmt: skip
    (root / "sources" / "chains.yaml").write_text(yaml.safe_dump(manifest))


def test_past_the_edge_limit_the_engine_removes_what_the_driver_and_the_local_stage_remove(tmp_path: Path) -> None:
    root = dedup_project(tmp_path / "p")
    _chains(root)
    project = Project.at(root)
    manifests, _ = load_manifests(project.sources_dir)
    minhash, dedup = project.config.for_stage("minhash_bands"), project.config.for_stage("deduplicated")
    with LocalEngine(1) as engine:
        run_phase(engine, [t for m in manifests
                           for t in source_tasks(project, m, "run-a", record_chain(m, project))])  # fmt: skip
    for m in manifests:
        source_signatures(project, m, minhash, dedup)
    stats, expected = deduplicate(project, manifests, minhash, dedup)
    with LocalEngine(2) as engine:
        driver = shuffled_removals(project, manifests, minhash, dedup, engine, partitions=3)
        spread = shuffled_removals(project, manifests, minhash, dedup, engine, partitions=3, driver_edge_limit=0)
    assert driver.components is None and spread.components is not None
    assert spread.components.rounds >= 2 and spread.components.nodes > 40  # chains need more than one star step
    assert spread.exact.equals(driver.exact) and spread.near.equals(driver.near)
    assert merge_events(spread.exact, spread.near, dedup).equals(expected)  # doc, cluster, kept doc, Jaccard
    assert spread.candidate_edges == driver.candidate_edges and spread.documents == driver.documents
    chains = [d for d in spread.near["doc_id"].to_pylist() if d.startswith("chains")]
    assert stats.near_removed >= 30 and len(chains) >= 20 and len(set(spread.near["cluster_id"].to_pylist())) < len(chains)
    assert not any((project.root / ".curaline" / "shuffle").iterdir())


def test_keep_rank_orders_a_subset_as_it_orders_the_whole() -> None:
    """Why per-component keep-policies equal the global one: the order is total, so a subset keeps it."""
    rng = np.random.default_rng(3)
    n = 500
    meta = pa.table({
        "doc_id": [f"s{rng.integers(3)}:{i:04d}" for i in rng.permutation(n)],
        "priority": pa.array(rng.integers(0, 3, n), pa.int64()),
        "license_rank": pa.array([None if x == 0 else int(x) for x in rng.integers(0, 3, n)], pa.int64()),
        "collected": pa.array([None if x == 0 else date(2024, 1, int(x)) for x in rng.integers(0, 4, n)], pa.date32()),
    })  # fmt: skip
    whole = keep_rank(meta)
    for _ in range(5):
        subset = np.sort(rng.choice(n, 60, replace=False))
        assert np.array_equal(np.argsort(keep_rank(meta.take(pa.array(subset)))), np.argsort(whole[subset]))


def test_a_source_that_kept_nothing_reads_as_no_rows(tmp_path: Path) -> None:
    # found by bench_ray.py: a dedup input folder without shards failed the shuffle's map task
    from curaline.dedup_shuffle import SourceInput, _meta

    (tmp_path / "empty").mkdir()
    source = SourceInput(id="none", kind="document", input=str(tmp_path / "empty"), bands="", priority=0,
                         license_rank=0, collected=None)  # fmt: skip
    meta, text = _meta(source)
    assert meta.num_rows == 0 and len(text) == 0 and "content_hash" in meta.column_names
