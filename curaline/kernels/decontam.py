"""Decontamination: drop training records that share long n-grams with evaluation items.

The method is GPT-3's (Brown et al. 2020, appendix C): word 13-grams over lower-cased
word tokens; a training record that contains any 13-gram of an evaluation item is
contaminated. Items shorter than 13 tokens would never match, so they use their own
length as n (down to `min_item_tokens`), which is the "shorter-n mode" for short items
such as multiple-choice questions. N-grams never span two fields of a record.

Everything is vectorized: tokens come from Arrow's regex split, unique tokens are hashed
once, n-gram hashes are polynomial rolls over the token hash array in NumPy, and the
lookup is a sorted-array `searchsorted` against the evaluation index.
"""

from __future__ import annotations

from dataclasses import dataclass
from hashlib import blake2b

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curaline.kernels.base import KernelResult, make_events
from curaline.records import TEXT_COLUMNS

#: the ledger reason of every record this kernel drops
REASON = "contaminated_eval_ngram"

SIGNAL_COLUMNS: dict[str, pa.DataType] = {
    "contaminated_by": pa.string(),  # doc_id of the first evaluation item matched
    "contamination_ngrams": pa.int32(),  # how many of the record's n-grams hit an eval item
}

_MULT = np.uint64(0x100000001B3)  # FNV-1a 64-bit prime: a good multiplier for the roll


@dataclass(frozen=True)
class DecontamConfig:
    #: word n-gram length; 13 as in GPT-3's contamination analysis (Brown et al. 2020)
    ngram: int = 13
    #: items with fewer tokens than `ngram` use their own length as n, down to this floor;
    #: shorter items are too generic to be evidence (they are counted, not matched)
    min_item_tokens: int = 8
    #: n-gram hits needed to call a record contaminated
    min_matches: int = 1


def _tokens(texts: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """Stable 64-bit hashes of lower-cased word tokens, with per-text offsets."""
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    split = pc.split_pattern_regex(pc.utf8_lower(pc.fill_null(texts, "")), r"[^\w]+")
    flat = pc.list_flatten(split)
    offsets = split.offsets.to_numpy()
    encoded = pc.dictionary_encode(flat)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    vocab = encoded.dictionary.to_pylist()
    vocab_hash = np.fromiter(
        (0 if w == "" else int.from_bytes(blake2b(w.encode(), digest_size=8).digest(), "little") for w in vocab),
        dtype=np.uint64,
        count=len(vocab),
    )
    hashes = vocab_hash[encoded.indices.to_numpy(zero_copy_only=False)] if len(flat) else np.array([], np.uint64)
    # empty strings come from leading/trailing separators: drop them, fixing offsets
    keep = hashes != 0
    kept_before = np.concatenate([[0], np.cumsum(keep)])
    return hashes[keep], kept_before[offsets]


def _ngram_hashes(tokens: np.ndarray, offsets: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of every n-gram that lies inside one text, and the text index of each."""
    total = len(tokens)
    if total < n:
        return np.array([], np.uint64), np.array([], np.int64)
    h = np.zeros(total - n + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(n):
            h = h * _MULT + tokens[j : total - n + 1 + j]
    starts = np.arange(total - n + 1)
    doc = np.searchsorted(offsets, starts, side="right") - 1
    inside = starts + n <= offsets[doc + 1]
    return h[inside], doc[inside]


@dataclass
class EvalIndex:
    """The n-grams of every evaluation item, by n, as sorted arrays for vectorized lookup."""

    item_ids: np.ndarray  # doc_id per item
    item_sources: np.ndarray  # source_id per item
    by_n: dict[int, tuple[np.ndarray, np.ndarray]]  # n -> (sorted hashes, item index)
    too_short: int = 0

    @classmethod
    def build(cls, items: pa.Table, config: DecontamConfig | None = None) -> EvalIndex:
        """items: doc_id, source_id and the text columns of evaluation records."""
        config = config or DecontamConfig()
        text_cols = [c for c in TEXT_COLUMNS["evaluation"] if c in items.column_names]
        tokens, offsets = _tokens(items[text_cols[0]])
        lengths = np.diff(offsets)
        item_n = np.minimum(lengths, config.ngram)
        by_n: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for n in np.unique(item_n[item_n >= config.min_item_tokens]):
            hashes, doc = _ngram_hashes(tokens, offsets, int(n))
            mine = item_n[doc] == n
            hashes, doc = hashes[mine], doc[mine]
            order = np.argsort(hashes, kind="stable")
            by_n[int(n)] = (hashes[order], doc[order])
        return cls(
            item_ids=np.asarray(items["doc_id"].to_pylist(), dtype=object),
            item_sources=np.asarray(items["source_id"].to_pylist(), dtype=object),
            by_n=by_n,
            too_short=int((item_n < config.min_item_tokens).sum()),
        )

    def match(self, texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
        """Per text: number of n-gram hits and the index of the first item hit (-1: none)."""
        n_texts = len(texts)
        hits = np.zeros(n_texts, dtype=np.int64)
        first = np.full(n_texts, -1, dtype=np.int64)
        if not self.by_n or n_texts == 0:
            return hits, first
        tokens, offsets = _tokens(texts)
        for n, (sorted_hashes, item_of) in self.by_n.items():
            hashes, doc = _ngram_hashes(tokens, offsets, n)
            if not len(hashes):
                continue
            pos = np.searchsorted(sorted_hashes, hashes)
            pos_c = np.minimum(pos, len(sorted_hashes) - 1)
            found = sorted_hashes[pos_c] == hashes
            np.add.at(hits, doc[found], 1)
            hit_docs, at = np.unique(doc[found], return_index=True)  # each text's first hit
            unset = first[hit_docs] < 0
            first[hit_docs[unset]] = item_of[pos_c[found]][at[unset]]
        return hits, first


def decontaminate(
    table: pa.Table, *, kind: str, index: EvalIndex, config: DecontamConfig | None = None
) -> KernelResult:
    """Drop records whose text fields share n-grams with an evaluation item."""
    config = config or DecontamConfig()
    n = table.num_rows
    hits = np.zeros(n, dtype=np.int64)
    first = np.full(n, -1, dtype=np.int64)
    for col in TEXT_COLUMNS[kind]:
        if col not in table.column_names:
            continue
        col_hits, col_first = index.match(table[col])
        hits += col_hits
        first = np.where(first < 0, col_first, first)
    contaminated = hits >= config.min_matches
    by = np.full(n, None, dtype=object)
    if len(index.item_ids):
        hit = first >= 0
        by[hit] = index.item_ids[first[hit]]
    out = table
    for name in SIGNAL_COLUMNS:
        if name in out.column_names:
            out = out.drop_columns([name])
    out = out.append_column("contaminated_by", pa.array(by.tolist(), pa.string()))
    out = out.append_column("contamination_ngrams", pa.array(hits.astype(np.int32)))
    idx = np.flatnonzero(contaminated)
    doc_ids = table["doc_id"].take(pa.array(idx)).to_pylist()
    events = make_events(
        doc_ids, "drop", REASON, value=hits[idx].astype(float), threshold=float(config.min_matches),
        detail=[f"eval_source={index.item_sources[first[i]]}" for i in idx],
        related_doc_id=[index.item_ids[first[i]] for i in idx],
    )  # fmt: skip
    return KernelResult(table=out, keep=~contaminated, events=events)
