"""Semantic deduplication, SemDeDup-style: embed, cluster, compare within clusters.

MinHash finds copies that share word 5-grams; paraphrases and templated rewrites share
meaning, not n-grams. SemDeDup (Abbas et al. 2023, arXiv 2303.09540) embeds every
document, clusters the embeddings with k-means, and within each cluster removes
documents whose cosine similarity to another exceeds a threshold. Here:

- embeddings: WordLlama's static 256-d token embeddings (l2_supercat, shipped inside the
  `wordllama` wheel, MIT), mean-pooled over the tokens of the first `max_words` words
  and L2-normalised; read straight from the wheel's files, so nothing is ever downloaded;
- clusters: spherical k-means fitted on a sample; every document belongs to its two
  nearest clusters (multi-probe), so pairs near a cluster boundary are still compared;
- removal: documents go in keep-policy order (the exact / near dedup policy: priority,
  licence, collection date, doc_id) and a document is removed when its cosine to an
  already *kept* document of one of its clusters reaches the threshold. So every removal
  names the kept document and the similarity (no chains through removed documents).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curaline.kernels.base import make_events

#: Per removed document: its cluster, the document kept for it, and their cosine.
SEMANTIC_SCHEMA = pa.schema(
    [
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("cluster_id", pa.string(), nullable=False),
        pa.field("duplicate_of", pa.string(), nullable=False),
        pa.field("similarity", pa.float64(), nullable=False),
    ]
)

_WEIGHTS = ("weights", "l2_supercat_256.safetensors")
_TOKENIZER = ("tokenizers", "l2_supercat_tokenizer_config.json")


@dataclass(frozen=True)
class SemDedupConfig:
    """Threshold and shape of semantic dedup.

    threshold: cosine of the mean-pooled embeddings at or above which two documents
        count as duplicates. 0.78 is calibrated on STS-B's English train split (the most
        recall with <= 5 % of pairs rated <= 2 flagged); on dev + test it finds 0.80 of the
        pairs rated >= 4.5 and flags 2.3 % of those rated <= 2 (benchmarks/RESULTS_semdedup.md).
        Static embeddings are less sharp than a transformer's: 0.92 keeps near-copies only.
    cluster_size: target documents per k-means cluster (k = n / cluster_size);
        SemDeDup used 50,000 clusters for 440M images, ~9,000 per cluster.
    """

    threshold: float = 0.78
    cluster_size: int = 500
    probes: int = 2
    max_words: int = 256  # words embedded per document (~1,500 characters of prose)
    kmeans_sample: int = 20_000
    kmeans_iterations: int = 15
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.threshold <= 1:
            raise ValueError(f"semantic threshold must be a cosine in (0, 1], got {self.threshold}")


@cache
def _token_strings() -> pa.Array:
    """The tokenizer's tokens by id ("▁the" is the word "the" after a space)."""
    tok, table = _embedder()
    by_id = [""] * table.shape[0]
    for token, i in tok.get_vocab().items():
        if 0 <= i < len(by_id):
            by_id[i] = token
    return pa.array(by_id, pa.string())


@cache
def _embedder() -> tuple[Any, np.ndarray]:
    """WordLlama's tokenizer and embedding table, from the files inside its wheel."""
    from safetensors import safe_open
    from tokenizers import Tokenizer

    spec = importlib.util.find_spec("wordllama")
    if spec is None or spec.origin is None:
        raise RuntimeError("semantic dedup needs the `wordllama` package (pip install wordllama)")
    base = Path(spec.origin).parent
    tok = Tokenizer.from_file(str(base.joinpath(*_TOKENIZER)))
    tok.no_padding()
    tok.no_truncation()
    with safe_open(str(base.joinpath(*_WEIGHTS)), framework="np", device="cpu") as fh:
        table = np.ascontiguousarray(fh.get_tensor("embedding.weight").astype(np.float32))
    return tok, table


def embed(texts: list[str] | pa.Array | pa.ChunkedArray, config: SemDedupConfig | None = None) -> np.ndarray:
    """L2-normalised mean token embeddings, float32 (n x 256); a text without words gives zeros.

    WordLlama's tokenizer (Llama 2's SentencePiece BPE) never merges across a space, so a
    text's tokens are its words' tokens: each *distinct* word of a batch is tokenized once
    and its token vectors summed, and a document is the bag of its first `max_words` words
    (a sparse matrix product). Words are split on whitespace, so a run of several spaces
    loses its "▁▁" token; otherwise this equals tokenizing the text, at a fraction of the cost.
    """
    from scipy import sparse

    c = config or SemDedupConfig()
    arr = pa.array(texts, pa.large_string()) if isinstance(texts, list) else texts
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    tok, table = _embedder()
    n, dim = len(arr), table.shape[1]
    out = np.zeros((n, dim), dtype=np.float32)
    step = 10_000  # bounds the batch vocabulary matrix (distinct words x 256 floats)
    for lo in range(0, n, step):
        part = pc.fill_null(arr.slice(lo, step), "")
        words = pc.utf8_split_whitespace(part)
        flat = pc.list_flatten(words)
        if len(flat) == 0:
            continue
        doc = np.asarray(pc.list_parent_indices(words), dtype=np.int64)
        word = pc.greater(pc.utf8_length(flat), 0).to_numpy(zero_copy_only=False)  # runs of spaces give ""
        doc, flat = doc[word], flat.filter(pa.array(word))
        counts = np.bincount(doc, minlength=len(part))
        first = np.concatenate(([0], np.cumsum(counts)[:-1]))
        head = (np.arange(doc.size) - first[doc]) < c.max_words  # a document's first max_words words
        doc, flat = doc[head], flat.filter(pa.array(head))
        if len(flat) == 0:
            continue
        offsets = np.concatenate(([0], np.cumsum(np.bincount(doc, minlength=len(part)))))
        codes = pc.dictionary_encode(flat).combine_chunks() if isinstance(flat, pa.ChunkedArray) else pc.dictionary_encode(flat)
        vocab = codes.dictionary.cast(pa.string())
        # most words are one token ("▁" + word): looked up in Arrow; only the rest go through BPE
        single = pc.index_in(pc.binary_join_element_wise("\u2581", vocab, ""), value_set=_token_strings())
        single_np = pc.fill_null(single, -1).to_numpy(zero_copy_only=False).astype(np.int64)
        rare = np.flatnonzero(single_np < 0)
        encs = tok.encode_batch_fast(vocab.take(pa.array(rare)).to_pylist(), add_special_tokens=False) if rare.size else []
        lengths = np.ones(len(vocab), dtype=np.int64)
        lengths[rare] = np.fromiter((len(e.ids) for e in encs), dtype=np.int64, count=len(encs))
        rare_ids = np.fromiter((i for e in encs for i in e.ids), dtype=np.int64, count=int(lengths[rare].sum()))
        starts = np.concatenate(([0], np.cumsum(lengths)))
        ids = np.empty(int(starts[-1]), dtype=np.int64)
        common = np.flatnonzero(single_np >= 0)
        ids[starts[common]] = single_np[common]
        if rare.size:  # the positions of the rare words' tokens, in word order
            pos = np.repeat(starts[rare], lengths[rare]) + (np.arange(rare_ids.size)
                                                             - np.repeat(np.cumsum(lengths[rare]) - lengths[rare], lengths[rare]))
            ids[pos] = rare_ids
        np.clip(ids, 0, table.shape[0] - 1, out=ids)
        # word -> sum of its token vectors; document -> sum over its words, / its token count
        word_tokens = sparse.csr_matrix((np.ones(ids.size, np.float32), ids, starts),
                                        shape=(len(vocab), table.shape[0]))  # fmt: skip
        word_vecs = np.asarray(word_tokens @ table, dtype=np.float32)
        rows = np.asarray(codes.indices, dtype=np.int64)
        docs = sparse.csr_matrix((np.ones(rows.size, np.float32), rows, offsets), shape=(len(part), len(vocab)))
        pooled = np.asarray(docs @ word_vecs, dtype=np.float32)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        out[lo : lo + len(part)] = np.divide(pooled, norms, out=np.zeros_like(pooled), where=norms > 0)
    return out


def kmeans(x: np.ndarray, k: int, *, iterations: int, sample: int, seed: int) -> np.ndarray:
    """Spherical k-means centroids (k x d), fitted on a random sample of the rows."""
    rng = np.random.default_rng(seed)
    n = x.shape[0]
    fit = x[rng.choice(n, size=min(n, sample), replace=False)] if n > sample else x
    k = max(1, min(k, fit.shape[0]))
    centroids = fit[rng.choice(fit.shape[0], size=k, replace=False)].copy()
    for _ in range(iterations):
        labels = np.argmax(fit @ centroids.T, axis=1)
        sums = np.zeros_like(centroids)
        np.add.at(sums, labels, fit)
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        empty = norms[:, 0] == 0
        centroids = np.where(empty[:, None], centroids, sums / np.where(norms > 0, norms, 1))
    return centroids


def assign(x: np.ndarray, centroids: np.ndarray, block: int = 16_384) -> np.ndarray:
    """The nearest centroid of every row, in blocks (bounded memory)."""
    out = np.empty(x.shape[0], dtype=np.int64)
    for lo in range(0, x.shape[0], block):
        out[lo : lo + block] = np.argmax(x[lo : lo + block] @ centroids.T, axis=1)
    return out


def probes(x: np.ndarray, config: SemDedupConfig) -> np.ndarray:
    """Each row's `probes` nearest k-means clusters (n x probes; -1 rows for empty texts).

    A pair split by a cluster boundary is never compared; comparing each document within
    its two nearest clusters (multi-probe, as in IVF indexes) catches most of those."""
    n = x.shape[0]
    valid = np.linalg.norm(x, axis=1) > 0
    out = np.full((n, config.probes), -1, dtype=np.int64)
    rows = np.flatnonzero(valid)
    if rows.size == 0:
        return out
    k = max(1, int(np.ceil(rows.size / config.cluster_size)))
    centroids = kmeans(x[rows], k, iterations=config.kmeans_iterations, sample=config.kmeans_sample, seed=config.seed)
    p = min(config.probes, centroids.shape[0])
    for lo in range(0, rows.size, 16_384):
        part = rows[lo : lo + 16_384]
        sims = x[part] @ centroids.T
        top = np.argpartition(-sims, p - 1, axis=1)[:, :p] if p < centroids.shape[0] else np.argsort(-sims, axis=1)
        order = np.argsort(-np.take_along_axis(sims, top, axis=1), axis=1)
        out[part, :p] = np.take_along_axis(top, order, axis=1)
    return out


def cluster_labels(embeddings: np.ndarray, config: SemDedupConfig) -> np.ndarray:
    """Each row's nearest clusters (see probes): two rows are compared when they share one."""
    return probes(embeddings, config)


def _greedy(x: np.ndarray, order: np.ndarray, probe: np.ndarray, threshold: float,
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rows in keep order; each is compared with the rows already kept in its probe
    clusters and removed into the most similar one at/above the threshold.
    Returns (removed rows, kept row each duplicates, cosine, the cluster it was found in)."""
    d = x.shape[1]
    sizes = np.bincount(probe[probe >= 0].ravel(), minlength=int(probe.max()) + 1) if (probe >= 0).any() else np.zeros(0, np.int64)
    buffers = [np.empty((0, d), np.float32)] * sizes.size
    members: list[list[int]] = [[] for _ in range(sizes.size)]
    fill = np.zeros(sizes.size, dtype=np.int64)
    removed, into, value, where = [], [], [], []
    for i in order:
        cs = probe[i][probe[i] >= 0]
        if cs.size == 0:
            continue
        best, best_j, best_c = -2.0, -1, -1
        v = x[i]
        for c in cs:
            f = fill[c]
            if f:
                sims = buffers[c][:f] @ v
                j = int(np.argmax(sims))
                if sims[j] > best:
                    best, best_j, best_c = float(sims[j]), members[c][j], int(c)
        if best >= threshold:
            removed.append(i)
            into.append(best_j)
            value.append(best)
            where.append(best_c)
            continue
        for c in cs:  # kept: a candidate for later rows of its clusters
            if buffers[c].shape[0] == 0:
                buffers[c] = np.empty((int(sizes[c]), d), np.float32)
            buffers[c][fill[c]] = v
            members[c].append(int(i))
            fill[c] += 1
    return (np.array(removed, dtype=np.int64), np.array(into, dtype=np.int64), np.array(value, dtype=np.float64),
            np.array(where, dtype=np.int64))


def semantic_duplicates(meta: pa.Table, embeddings: np.ndarray, config: SemDedupConfig | None = None,
                        rank: np.ndarray | None = None) -> pa.Table:
    """SEMANTIC_SCHEMA rows for the documents to remove.

    meta: one row per embedding with `doc_id` (and the keep-policy columns of
    curaline.kernels.dedup.META_COLUMNS, unless rank is given: 0 = keep first).
    """
    from curaline.kernels.dedup import keep_rank

    c = config or SemDedupConfig()
    if meta.num_rows != embeddings.shape[0]:
        raise ValueError(f"{meta.num_rows} metadata rows for {embeddings.shape[0]} embeddings")
    if meta.num_rows == 0:
        return SEMANTIC_SCHEMA.empty_table()
    if rank is None:
        rank = keep_rank(meta)
    x = np.ascontiguousarray(embeddings, dtype=np.float32)
    removed, into, value, where = _greedy(x, np.argsort(rank, kind="stable"), probes(x, c), c.threshold)
    if removed.size == 0:
        return SEMANTIC_SCHEMA.empty_table()
    doc_ids = meta["doc_id"]
    return pa.table(
        {
            "doc_id": doc_ids.take(pa.array(removed)),
            "cluster_id": pa.array([f"s{w}" for w in where.tolist()], pa.string()),
            "duplicate_of": doc_ids.take(pa.array(into)),
            "similarity": pa.array(np.minimum(value, 1.0), pa.float64()),
        },
        schema=SEMANTIC_SCHEMA,
    )


def semantic_events(removed: pa.Table, config: SemDedupConfig | None = None) -> pa.Table:
    """EVENT_SCHEMA rows (merge-into `semantic_duplicate`, naming the kept doc and the cosine)."""
    c = config or SemDedupConfig()
    return make_events(
        removed["doc_id"], "merge-into", "semantic_duplicate",
        value=removed["similarity"].to_numpy(), threshold=c.threshold,
        detail=pc.binary_join_element_wise("into=", removed["duplicate_of"], ";cluster=", removed["cluster_id"], "").to_pylist(),
    )  # fmt: skip
