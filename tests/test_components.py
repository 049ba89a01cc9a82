"""Distributed connected components (curaline.components) against the driver's union-find, on a real LocalEngine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curaline.components import connected_components, read_labels
from curaline.engine.local import LocalEngine
from curaline.kernels.dedup import _components


@pytest.fixture(scope="module")
def engine() -> Iterator[LocalEngine]:
    with LocalEngine(2, preload=["curaline.components"]) as engine:
        yield engine


def reference(a: np.ndarray, b: np.ndarray) -> dict[int, int]:
    """node -> smallest node of its component, by the driver's union-find (scipy)."""
    nodes = np.unique(np.concatenate([a, b]))
    label = _components(len(nodes), np.searchsorted(nodes, a), np.searchsorted(nodes, b))
    smallest = np.full(label.max() + 1 if len(label) else 0, np.iinfo(np.int64).max)
    np.minimum.at(smallest, label, nodes)
    return dict(zip(nodes.tolist(), smallest[label].tolist(), strict=True))


def components(engine: LocalEngine, tmp_path: Path, a: np.ndarray, b: np.ndarray, files: int = 3) -> dict[int, int]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, rows in enumerate(np.array_split(np.arange(len(a)), files)):
        paths.append(tmp_path / f"edges-{i}.parquet")
        pq.write_table(pa.table({"a": pa.array(a[rows], pa.int64()), "b": pa.array(b[rows], pa.int64())}), paths[-1])
    result = connected_components(engine, paths, tmp_path / "work", partitions=3)
    labels = read_labels(result)
    assert result.nodes == labels.num_rows and result.edges == len(a)
    assert sorted(p.name for p in (tmp_path / "work").iterdir()) == [f"labels-{result.rounds - 1:05d}", "round-00000"]
    return dict(zip(labels["node"].to_pylist(), labels["label"].to_pylist(), strict=True))


def test_random_graphs_get_the_union_finds_components(engine: LocalEngine, tmp_path: Path) -> None:
    rng = np.random.default_rng(16)
    for i, (n, m) in enumerate(((400, 300), (1500, 1200), (500, 2000))):  # many small trees; one giant component
        a, b = rng.integers(0, n, m), rng.integers(0, n, m)
        a, b = a[a != b], b[a != b]
        assert components(engine, tmp_path / str(i), a, b) == reference(a, b)


def test_long_chains_stars_and_pairs(engine: LocalEngine, tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    path = rng.permutation(1000) + 10_000  # a path graph visiting 1,000 ids in random order
    chain = np.arange(20_000, 21_000)  # and one in order: the worst case for min-label propagation
    star = np.full(300, 30_000)
    a = np.concatenate([path[:-1], chain[:-1], star, np.arange(40_000, 40_100, 2)])
    b = np.concatenate([path[1:], chain[1:], np.arange(30_001, 30_301), np.arange(40_001, 40_101, 2)])
    order = rng.permutation(len(a))
    a, b = a[order], b[order]
    flip = rng.random(len(a)) < 0.5
    a, b = np.where(flip, b, a), np.where(flip, a, b)  # either direction, and duplicated edges
    a, b = np.concatenate([a, b[:50]]), np.concatenate([b, a[:50]])
    got = components(engine, tmp_path, a, b)
    assert got == reference(a, b)
    assert got[int(path[700])] == 10_000 and got[20_999] == 20_000 and got[30_123] == 30_000 and got[40_051] == 40_050
    assert len(set(got.values())) == 3 + 50


def test_no_edges_no_labels(engine: LocalEngine, tmp_path: Path) -> None:
    empty = np.array([], np.int64)
    assert components(engine, tmp_path / "empty", empty, empty, files=1) == {}
    result = connected_components(engine, [], tmp_path / "none", partitions=3)
    assert (result.labels, result.nodes, result.edges, result.rounds) == ([], 0, 0, 1)


def test_string_ids_are_labelled_with_the_bytewise_smallest(engine: LocalEngine, tmp_path: Path) -> None:
    pq.write_table(pa.table({"a": ["web:b", "web:c", "forum:z", "x"], "b": ["web:c", "forum:z", "web:a", "y"]}),
                   tmp_path / "e.parquet")  # fmt: skip
    labels = read_labels(connected_components(engine, [tmp_path / "e.parquet"], tmp_path / "work", partitions=2))
    assert dict(zip(labels["node"].to_pylist(), labels["label"].to_pylist(), strict=True)) == {
        "forum:z": "forum:z", "web:a": "forum:z", "web:b": "forum:z", "web:c": "forum:z", "x": "x", "y": "x"}  # fmt: skip
