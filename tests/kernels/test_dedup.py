"""dedup: keep-policy, chain verification, incremental banding, determinism."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.json as pj
import pyarrow.parquet as pq
import pytest

from curaline.kernels.base import EVENT_SCHEMA
from curaline.kernels.dedup import (
    NEAR_SCHEMA,
    DedupConfig,
    _exact_jaccard_np,
    band_table,
    candidate_pairs,
    exact_duplicates,
    exact_jaccard,
    keep_rank,
    merge_events,
    near_duplicates,
    needed_rows,
)
from curaline.kernels.minhash import MinHashConfig, minhash_signatures, shingle_sets, string_hashes

MH = MinHashConfig()
DC = DedupConfig()


def _jaccard(x: str, y: str, k: int = 5) -> float:
    def sh(t: str) -> set[tuple[str, ...]]:
        w = re.findall(r"\w+", t.lower())
        return {tuple(w[i : i + k]) for i in range(len(w) - k + 1)}

    a, b = sh(x), sh(y)
    return len(a & b) / len(a | b)


@pytest.fixture(scope="module")
def real_texts(shared_dir: Path) -> list[str]:
    """Long real documents (technical prose) of the benchmark corpus, no injected copies."""
    shard = shared_dir / "bench" / "corpus-100k" / "00001.jsonl.gz"
    if not shard.is_file():
        pytest.skip(f"needs the benchmark corpus at {shard}")
    t = pj.read_json(
        pa.input_stream(str(shard), compression="gzip"),
        read_options=pj.ReadOptions(block_size=64 << 20),
    )
    rows = [(i, x) for i, x in zip(t["id"].to_pylist(), t["text"].to_pylist(), strict=True)]
    return [x for i, x in rows if i.startswith("b")][:1200]


def _meta(docs: list[dict[str, object]], texts: list[str]) -> pa.Table:
    return pa.table(
        {
            "doc_id": [d["doc_id"] for d in docs],
            "source_id": [d.get("source_id", "s") for d in docs],
            "priority": pa.array([d.get("priority", 0) for d in docs], pa.int32()),
            "license_rank": pa.array([d.get("license_rank", 0) for d in docs], pa.int32()),
            "collected": pa.array(
                [d.get("collected", dt.date(2024, 1, 1)) for d in docs], pa.date32()
            ),
            "content_hash": pa.array(string_hashes(pa.array(texts)).view(np.int64)),
        }
    )


def _near_copy(text: str, rate: float, seed: int) -> str:
    rng = np.random.default_rng(seed)
    words = text.split()
    for i in rng.choice(len(words), size=int(len(words) * rate), replace=False):
        words[i] = f"edited{i}"
    return " ".join(words)


def _near_pipeline(meta: pa.Table, texts: list[str]) -> pa.Table:
    sig = minhash_signatures(pa.array(texts), config=MH)
    con = duckdb.connect()
    con.register("bands", band_table(meta["doc_id"], sig, DC))
    pairs = candidate_pairs(con, "bands")
    rows = needed_rows_for(meta, pairs)
    sets = shingle_sets(pa.array(texts).take(pa.array(rows)), config=MH)
    return near_duplicates(meta, pairs, sets=sets, set_rows=rows, config=DC)


def needed_rows_for(meta: pa.Table, pairs: pa.Table) -> np.ndarray:
    import pyarrow.compute as pc

    idx = pa.table({c: pc.index_in(pairs[c], value_set=meta["doc_id"]) for c in ("a", "b")})
    return needed_rows(idx)


# keep-policy: priority beats licence beats date beats doc_id, one group each
POLICY = [
    # group P: x2 has the better licence and date, x1 the higher priority -> x1 kept
    ("x2", dict(priority=0, license_rank=0, collected=dt.date(2020, 1, 1)), "P"),
    ("x1", dict(priority=1, license_rank=5, collected=dt.date(2024, 1, 1)), "P"),
    # group L: same priority; y2 has the more permissive licence, y1 the earlier date
    ("y1", dict(priority=0, license_rank=2, collected=dt.date(2019, 1, 1)), "L"),
    ("y2", dict(priority=0, license_rank=1, collected=dt.date(2024, 1, 1)), "L"),
    # group D: same priority and licence; z9 collected first despite its larger doc_id
    ("z1", dict(priority=0, license_rank=1, collected=dt.date(2024, 5, 1)), "D"),
    ("z9", dict(priority=0, license_rank=1, collected=dt.date(2023, 5, 1)), "D"),
    # group I: all equal -> smallest doc_id
    ("w2", dict(priority=0, license_rank=1, collected=dt.date(2023, 5, 1)), "I"),
    ("w1", dict(priority=0, license_rank=1, collected=dt.date(2023, 5, 1)), "I"),
]
WINNER = {"P": "x1", "L": "y2", "D": "z9", "I": "w1"}


def _policy_docs(real_texts: list[str], near: bool) -> tuple[pa.Table, list[str]]:
    long = [t for t in real_texts if len(t.split()) > 300]
    base = dict(zip("PLDI", long, strict=False))
    docs, texts = [], []
    for n, (doc_id, attrs, group) in enumerate(POLICY):
        docs.append({"doc_id": doc_id, "source_id": f"src{n % 3}", **attrs})
        texts.append(_near_copy(base[group], 0.01, n) if near else base[group])
    fillers = [t for t in real_texts if t not in long[:4]][:200]
    docs += [{"doc_id": f"f{i:03d}"} for i in range(len(fillers))]
    return _meta(docs, texts + fillers), texts + fillers


def test_exact_duplicates_keep_policy(real_texts: list[str]) -> None:
    meta, _ = _policy_docs(real_texts, near=False)
    got = dict(zip(*exact_duplicates(meta).to_pydict().values(), strict=True))
    assert got == {doc_id: WINNER[g] for doc_id, _, g in POLICY if doc_id != WINNER[g]}


def test_near_duplicates_keep_policy(real_texts: list[str]) -> None:
    meta, texts = _policy_docs(real_texts, near=True)
    near = _near_pipeline(meta, texts)
    assert near.schema == NEAR_SCHEMA
    got = {r["doc_id"]: r["duplicate_of"] for r in near.to_pylist() if r["doc_id"][0] in "xyzw"}
    assert got == {doc_id: WINNER[g] for doc_id, _, g in POLICY if doc_id != WINNER[g]}
    for r in near.to_pylist():
        assert r["jaccard"] >= DC.threshold
        i, j = (
            meta["doc_id"].to_pylist().index(r["doc_id"]),
            meta["doc_id"].to_pylist().index(r["duplicate_of"]),
        )
        assert r["jaccard"] == pytest.approx(_jaccard(texts[i], texts[j]), abs=1e-3)


def test_transitive_chain_member_is_not_removed(real_texts: list[str]) -> None:
    """A~B, B~C, C~D but A!~C: B merges into A; C stays (unlike A); D then merges into C."""
    words = next(t for t in real_texts if len(set(t.split())) > 200).split()
    a, b, c, d = (" ".join(words[o : o + 100]) for o in (0, 10, 20, 25))
    assert _jaccard(a, b) >= 0.7 and _jaccard(b, c) >= 0.7 and _jaccard(c, d) >= 0.7
    assert _jaccard(a, c) < 0.7 and _jaccard(a, d) < 0.7
    texts = [a, b, c, d]
    meta = _meta(
        [{"doc_id": x, "priority": p} for x, p in zip("ABCD", (3, 2, 1, 0), strict=True)], texts
    )
    chain = pa.table({"a": [0, 1, 2], "b": [1, 2, 3]})  # only the chain's links are candidates
    sets = shingle_sets(pa.array(texts), config=MH)
    near = near_duplicates(meta, chain, sets=sets, config=DC)
    rows = {r["doc_id"]: (r["duplicate_of"], r["cluster_id"]) for r in near.to_pylist()}
    assert rows == {"B": ("A", "A"), "D": ("C", "A")}
    # the signature estimate alone would not have kept C: it is the chain the check stops
    assert keep_rank(meta).tolist() == [0, 1, 2, 3]


def test_incremental_banding_equals_full_recompute(real_texts: list[str], tmp_path: Path) -> None:
    """Source A's signatures stored; source B added later; banding A+B == from scratch."""
    texts_a = real_texts[:500]
    texts_b = real_texts[500:900] + [_near_copy(t, 0.03, i) for i, t in enumerate(texts_a[:40])]
    ids_a = [f"A:{i}" for i in range(len(texts_a))]
    ids_b = [f"B:{i}" for i in range(len(texts_b))]
    for name, ids, texts in (("A", ids_a, texts_a), ("B", ids_b, texts_b)):
        sig = minhash_signatures(pa.array(texts), config=MH)
        pq.write_table(band_table(pa.array(ids), sig, DC), tmp_path / f"bands-{name}.parquet")
    con = duckdb.connect()
    stored = candidate_pairs(con, f"read_parquet('{tmp_path}/bands-*.parquet')")
    full_sig = minhash_signatures(pa.array(texts_a + texts_b), config=MH)
    con.register("full_bands", band_table(pa.array(ids_a + ids_b), full_sig, DC))
    assert stored.to_pydict() == candidate_pairs(con, "full_bands").to_pydict()
    # and the planted cross-source copies are candidates
    pairs = set(zip(*stored.to_pydict().values(), strict=True))
    assert sum((f"A:{i}", f"B:{400 + i}") in pairs for i in range(40)) >= 39


def test_deterministic_and_events(real_texts: list[str]) -> None:
    texts = real_texts[:300] + [_near_copy(t, 0.02, i) for i, t in enumerate(real_texts[:30])]
    meta = _meta([{"doc_id": f"d{i:04d}"} for i in range(len(texts))], texts)
    first, second = _near_pipeline(meta, texts), _near_pipeline(meta, texts)
    assert first.equals(second)
    assert {f"d{300 + i:04d}" for i in range(30)} <= set(first["doc_id"].to_pylist())
    events = merge_events(exact_duplicates(meta), first, DC)
    assert events.schema == EVENT_SCHEMA
    assert set(events["action"].to_pylist()) == {"merge-into"}
    assert events.num_rows == first.num_rows
    assert events["related_doc_id"][0].as_py().startswith("d")
    assert all(d is None or d.startswith("cluster=") for d in events["detail"].to_pylist())  # never the kept doc


def test_exact_jaccard_backends_agree(real_texts: list[str]) -> None:
    sets = shingle_sets(pa.array(real_texts[:200]), config=MH)
    rng = np.random.default_rng(1)
    a, b = rng.integers(0, 200, 500), rng.integers(0, 200, 500)
    a[:50] = b[:50]  # identical sets -> 1.0
    fast, slow = exact_jaccard(sets, a, b), _exact_jaccard_np(sets, a, b, budget=5000)
    assert np.allclose(fast, slow) and (fast[:50] == 1.0).all()
    # with a threshold, pairs stop early once they cannot reach it: exact above, bound below
    early = exact_jaccard(sets, a, b, at_least=0.3)
    assert np.array_equal(early[fast >= 0.3], fast[fast >= 0.3])
    assert (early[fast < 0.3] <= fast[fast < 0.3]).all()
    assert (early < 0.3).sum() == (fast < 0.3).sum()


def test_verify_needs_its_inputs() -> None:
    meta = _meta([{"doc_id": "a"}, {"doc_id": "b"}], ["x y z", "x y z"])
    pairs = pa.table({"a": ["a"], "b": ["b"]})
    with pytest.raises(ValueError, match='verify="exact" needs the shingle sets'):
        near_duplicates(meta, pairs)
    with pytest.raises(ValueError, match='verify="estimate" needs the signatures'):
        near_duplicates(meta, pairs, config=DedupConfig(verify="estimate"))
    with pytest.raises(ValueError, match="pair doc_ids are not in meta"):
        near_duplicates(meta, pa.table({"a": ["a"], "b": ["zz"]}), sets=None)


def test_shuffle_min_records_is_validated_and_zero_always_shuffles() -> None:
    with pytest.raises(ValueError, match="shuffle_min_records must be >= 0"):
        DedupConfig(shuffle_min_records=-1)
    assert DedupConfig().shuffle_min_records == 1_000_000  # below it, the Ray engine's driver deduplicates
    assert DedupConfig(shuffle_min_records=0).shuffle_min_records == 0
