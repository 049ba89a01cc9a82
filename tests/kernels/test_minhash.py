"""minhash: tokens as Python's re, both backends bit-identical, estimates track Jaccard."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj
import pyarrow.parquet as pq
import pytest

from curaline.kernels.minhash import (
    EMPTY,
    MinHashConfig,
    ShingleSets,
    minhash_signatures,
    shingle_sets,
    signatures_from_table,
    signatures_table,
    squashed_hashes,
    string_hashes,
)


def _corpus_texts(shared_dir: Path, n: int) -> pa.Array:
    shard = shared_dir / "bench" / "corpus-100k" / "00000.jsonl.gz"
    if not shard.is_file():
        pytest.skip(f"needs the benchmark corpus at {shard}")
    table = pj.read_json(
        pa.input_stream(str(shard), compression="gzip"),
        read_options=pj.ReadOptions(block_size=64 << 20),
    )
    return table["text"].combine_chunks().slice(0, n)


def _python_shingles(text: str, k: int = 5) -> set[tuple[str, ...]]:
    """The ground truth's definition: k-grams of lower-cased \\w+ tokens."""
    words = re.findall(r"\w+", text.lower())
    if len(words) < k:
        return {tuple(words)} if words else set()
    return {tuple(words[i : i + k]) for i in range(len(words) - k + 1)}


@pytest.fixture(scope="module")
def texts(shared_dir: Path) -> pa.Array:
    return _corpus_texts(shared_dir, 400)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_shingle_sets_match_python_regex_tokens(texts: pa.Array, backend: str) -> None:
    if backend == "numba":
        pytest.importorskip("numba", reason="the compiled backend needs numba")
    sets = shingle_sets(texts, config=MinHashConfig(backend=backend))
    expected = [len(_python_shingles(t)) for t in texts.to_pylist()]
    assert sets.sizes().tolist() == expected


def test_unicode_words_and_short_docs() -> None:
    texts = pa.array(["Ünïcode façade_x 3² naïve", "two words", "", None, "... !!"])
    sets = shingle_sets(texts, config=MinHashConfig(shingle_size=3))
    # "ünïcode façade_x 3² naïve" is 4 \w+ tokens -> 2 trigrams; short docs are one shingle
    assert sets.sizes().tolist() == [2, 1, 0, 0, 0]
    sig = minhash_signatures(texts, config=MinHashConfig(shingle_size=3))
    assert (sig[2:] == EMPTY).all() and not (sig[:2] == EMPTY).any()


def test_backends_are_bit_identical(texts: pa.Array) -> None:
    pytest.importorskip("numba", reason="the compiled backend needs numba")
    fast = minhash_signatures(texts, config=MinHashConfig(backend="numba"))
    slow = minhash_signatures(texts, config=MinHashConfig(backend="numpy", chunk_rows=999))
    assert fast.dtype == np.uint32 and fast.shape == (len(texts), 128)
    assert np.array_equal(fast, slow)
    a = shingle_sets(texts, config=MinHashConfig(backend="numba"))
    b = shingle_sets(texts, config=MinHashConfig(backend="numpy"))
    assert np.array_equal(a.offsets, b.offsets) and np.array_equal(a.hashes, b.hashes)


def test_signatures_deterministic_for_seed(texts: pa.Array) -> None:
    cfg = MinHashConfig(seed=7, num_perm=64)
    assert np.array_equal(
        minhash_signatures(texts, config=cfg), minhash_signatures(texts, config=cfg)
    )
    other = minhash_signatures(texts, config=MinHashConfig(seed=8, num_perm=64))
    assert (other != minhash_signatures(texts, config=cfg)).mean() > 0.9
    # a document's signature does not depend on its batch: per-source storage is valid
    assert np.array_equal(
        minhash_signatures(texts.slice(100, 50), config=cfg),
        minhash_signatures(texts, config=cfg)[100:150],
    )
    assert cfg.fingerprint == "minhash-v1:k5:p64:s7"


def test_estimate_tracks_true_jaccard(texts: pa.Array) -> None:
    """Edited copies of real docs: |equal-minhash fraction - true Jaccard| is small."""
    rng = np.random.default_rng(0)
    originals = [t for t in texts.to_pylist() if len(t.split()) > 150][:60]
    copies = []
    for t in originals:
        words = t.split()
        for i in rng.choice(len(words), size=len(words) // 25, replace=False):
            words[i] = "zzedit"
        copies.append(" ".join(words))
    sig = minhash_signatures(pa.array(originals + copies), config=MinHashConfig(num_perm=256))
    n = len(originals)
    est = (sig[:n] == sig[n:]).mean(axis=1)
    true = np.array(
        [
            len(a & b) / len(a | b)
            for a, b in (
                (_python_shingles(x), _python_shingles(y))
                for x, y in zip(originals, copies, strict=True)
            )
        ]
    )
    assert np.abs(est - true).max() < 0.12  # ~4 sigma of a 256-permutation estimate
    assert abs(float(np.mean(est - true))) < 0.02  # unbiased


def test_signatures_roundtrip_parquet(texts: pa.Array, tmp_path: Path) -> None:
    sig = minhash_signatures(texts, config=MinHashConfig())
    ids = pa.array([f"s:{i}" for i in range(len(texts))])
    pq.write_table(signatures_table(ids, sig), tmp_path / "sig.parquet")
    back = pq.read_table(tmp_path / "sig.parquet")
    assert back["doc_id"].to_pylist() == ids.to_pylist()
    assert np.array_equal(signatures_from_table(back), sig)


def test_string_hashes_and_set_concat(texts: pa.Array) -> None:
    h = string_hashes(pa.array(["abc", "abd", "", None, "abc"]))
    assert h[0] == h[4] and h[0] != h[1] and h[2] == h[3]
    assert np.array_equal(string_hashes(texts), string_hashes(texts, backend="numpy"))
    cfg = MinHashConfig()
    whole = shingle_sets(texts, config=cfg)
    parts = ShingleSets.concat(
        [shingle_sets(texts.slice(0, 150), config=cfg), shingle_sets(texts.slice(150), config=cfg)]
    )
    assert np.array_equal(whole.offsets, parts.offsets)
    assert np.array_equal(whole.hashes, parts.hashes)


def test_squashed_hashes_equal_hashing_the_regex_rewrite(texts: pa.Array) -> None:
    """The exact-dup key squashes whitespace inside the hash loop; it must equal hashing the
    rewrite it replaced (RE2's \\s: tab, LF, FF, CR, space; Unicode spaces only trimmed at the ends)."""
    odd = ["", None, "   ", "A  b", " a b ", "a\tb", "a\n\n\r b", "a\vb", "a\x0bb ", "a\u00a0b", "\u00a0 a \u2003",
           "a \u00a0 b", "\u3000x\u3000", "x\x0c\x0cy", "ÀB  ç", "\n\tA\n", "ﬁ  Σ", "a\x85b", "tab\t"]
    reference = string_hashes(pc.utf8_trim_whitespace(pc.replace_substring_regex(
        pc.utf8_lower(pa.array(odd)), r"\s+", " ")))  # fmt: skip
    assert np.array_equal(squashed_hashes(pa.array(odd)), reference)
    assert np.array_equal(squashed_hashes(pa.array(odd), backend="numpy"), reference)
    h = squashed_hashes(pa.array(["A  b", "a b", "a\tb", "ab", " a b\n", "a\u00a0b"]))
    assert h[0] == h[1] == h[2] == h[4] and h[3] != h[0] and h[5] != h[0]  # NBSP inside is not squashed
    corpus = pc.utf8_trim_whitespace(pc.replace_substring_regex(pc.utf8_lower(texts), r"\s+", " "))
    assert np.array_equal(squashed_hashes(texts), string_hashes(corpus))
    assert np.array_equal(squashed_hashes(pa.chunked_array([texts.slice(0, 10), texts.slice(10)])), string_hashes(corpus))
