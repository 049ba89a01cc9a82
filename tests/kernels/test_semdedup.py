"""Semantic dedup: offline embeddings, k-means with probes, greedy removal in keep order."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from curaline.kernels.semdedup import SemDedupConfig, _embedder, embed, probes, semantic_duplicates, semantic_events

PARAPHRASES = [
    ("A man is playing a guitar on the stage.", "A man plays the guitar on stage."),
    ("The cat is sleeping on the warm windowsill.", "A cat sleeps on the warm window sill."),
    ("Stock markets fell sharply after the announcement.", "Stock markets dropped sharply following the announcement."),
]
UNRELATED = ["The recipe needs two eggs and a cup of flour.", "Rain is expected in the north tomorrow evening.",
             "She repaired the bicycle chain with a small tool."]  # fmt: skip


def meta(ids: list[str], priority: list[int] | None = None) -> pa.Table:
    n = len(ids)
    return pa.table({"doc_id": ids, "source_id": ["s"] * n, "priority": priority or [0] * n,
                     "license_rank": [0] * n, "collected": pa.array([dt.date(2024, 1, 1)] * n, pa.date32())})  # fmt: skip


def test_embeddings_come_from_the_wheel_and_equal_tokenizer_mean_pooling() -> None:
    tok, table = _embedder()  # read from wordllama's own files: no download
    texts = ["A man plays the guitar on stage.", "Stock markets dropped sharply following the announcement."]
    e = embed(texts)
    for text, row in zip(texts, e, strict=True):
        ids = tok.encode(text, add_special_tokens=False).ids
        ref = table[ids].mean(axis=0)
        assert np.allclose(row, ref / np.linalg.norm(ref), atol=1e-5)
    assert np.allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)
    assert not embed(["", None, "   "]).any()  # nothing to embed: zeros, never compared


def test_paraphrases_merge_into_the_kept_copy_and_the_rest_stays() -> None:
    texts = [t for pair in PARAPHRASES for t in pair] + UNRELATED + [""]
    ids = [f"d{i}" for i in range(len(texts))]
    config = SemDedupConfig(threshold=0.85)
    removed = semantic_duplicates(meta(ids), embed(texts, config), config)
    got = dict(zip(removed["doc_id"].to_pylist(), removed["duplicate_of"].to_pylist(), strict=True))
    assert got == {"d1": "d0", "d3": "d2", "d5": "d4"}  # keep-policy tie: the smaller doc_id stays
    assert (removed["similarity"].to_numpy() >= 0.85).all()
    events = semantic_events(removed, config).to_pylist()
    assert {e["reason"] for e in events} == {"semantic_duplicate"} and {e["action"] for e in events} == {"merge-into"}
    assert all(e["detail"].startswith(f"into={got[e['doc_id']]};cluster=") and e["threshold"] == 0.85 for e in events)


def test_keep_policy_decides_which_copy_stays() -> None:
    a, b = PARAPHRASES[0]
    removed = semantic_duplicates(meta(["x:1", "y:2"], priority=[0, 5]), embed([a, b]), SemDedupConfig(threshold=0.85))
    assert removed["doc_id"].to_pylist() == ["x:1"] and removed["duplicate_of"].to_pylist() == ["y:2"]


def test_every_removal_names_a_kept_document_never_a_removed_one() -> None:
    rng = np.random.default_rng(3)
    base = rng.normal(size=(40, 32)).astype(np.float32)
    x = np.repeat(base, 5, axis=0) + rng.normal(scale=0.15, size=(200, 32)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    ids = [f"d{i:03d}" for i in range(200)]
    config = SemDedupConfig(threshold=0.9, cluster_size=20)
    removed = semantic_duplicates(meta(ids), x, config)
    gone = set(removed["doc_id"].to_pylist())
    assert gone and not gone & set(removed["duplicate_of"].to_pylist())
    sims = {(a, b): float(x[int(a[1:])] @ x[int(b[1:])]) for a, b in zip(removed["doc_id"].to_pylist(),
                                                                          removed["duplicate_of"].to_pylist(), strict=True)}  # fmt: skip
    assert np.allclose(sorted(sims.values()), sorted(removed["similarity"].to_pylist()), atol=1e-5)
    assert probes(x, config).shape == (200, 2)


def test_bad_threshold_and_mismatched_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match=r"cosine in \(0, 1\]"):
        SemDedupConfig(threshold=1.5)
    with pytest.raises(ValueError, match="2 metadata rows for 3 embeddings"):
        semantic_duplicates(meta(["a", "b"]), np.ones((3, 4), np.float32))


def test_sts_b_paraphrases_are_found(shared_data: Path) -> None:
    """STS-B dev (human similarity 0-5): at the default threshold most pairs rated 5 are
    found and few rated 0-1 are (the benchmark has the full figures)."""
    with open(shared_data / "stsb-multi-mt" / "stsb-en-dev.csv", newline="", encoding="utf-8") as fh:
        rows = [(a, b, float(s)) for a, b, s in csv.reader(fh)]
    e_a, e_b = embed([r[0] for r in rows]), embed([r[1] for r in rows])
    cos = (e_a * e_b).sum(1)
    s = np.array([r[2] for r in rows])
    thr = SemDedupConfig().threshold
    assert (cos[s == 5] >= thr).mean() >= 0.8 and (cos[s <= 1] >= thr).mean() <= 0.05
