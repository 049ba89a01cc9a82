"""MinHash signatures of word shingles, computed per source partition and stored.

Near-duplicate detection is a global stage, but its expensive part is per document:
tokenize, shingle, min-hash. Doing that once per source partition and storing the
signatures means a new source costs only its own signatures plus the global banding
(curaline.kernels.dedup). Everything here works on Arrow batches of ~4 MB of text:

- tokens: those of Python's ``re.findall(r"\\w+", text.lower())`` (the benchmark ground
  truth's definition). ``pyarrow.compute`` lower-cases; the NumPy path splits with
  pyarrow on NON_WORD, the numba path scans the UTF-8 once with a code-point table
  built from ``str.isalnum`` (about 5x faster than the regex split);
- token and shingle hashes: a polynomial hash mod 2**64 over the UTF-8 bytes (and over
  the token hashes of each shingle), finalized by splitmix64 -- our own definition, so
  stored signatures stay valid across library versions;
- permutations: multiply-shift universal hashing ``(a*x + b) mod 2**64 >> 32``, min per
  document. NumPy broadcast + ``np.minimum.reduceat`` in bounded chunks, or the same
  arithmetic fused in one numba loop (faster, same bits) when numba is importable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: A signature value no shingle produced: the signature of a document without tokens.
EMPTY = np.uint32(0xFFFFFFFF)

#: RE2 spelling of Python's non-``\w`` (``\w`` is Unicode letters, digits and ``_``).
NON_WORD = r"[^\p{L}\p{N}_]+"

_P = np.uint64(0x100000001B3)  # FNV-64 prime: byte multiplier of the token hash
_Q = np.uint64(0x9E3779B97F4A7C15)  # golden-ratio constant: token multiplier of shingles
_M1 = np.uint64(0xBF58476D1CE4E5B9)  # splitmix64 finalizer constants (Steele et al. 2014)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S32 = (np.uint64(s) for s in (30, 27, 31, 32))

#: Bytes of text tokenized at once: bounds the token arrays to tens of MB.
_BATCH_BYTES = 4 << 20


@dataclass(frozen=True)
class MinHashConfig:
    """How signatures are made; stored signatures are only comparable under one config.

    num_perm: 128, the default of datasketch and rensa; 25 bands x 5 rows use 125 of them.
    shingle_size: word 5-grams, as datatrove's MinhashConfig and FineWeb (Penedo et al.
        2024, arXiv 2406.17557); documents with fewer words are one shingle of all words.
    seed: seeds the permutations (a, b).
    backend: "numba" (fused loop), "numpy" or "auto" (numba when importable).
    chunk_rows: shingles per NumPy broadcast chunk: chunk_rows x num_perm x 8 bytes.
    """

    num_perm: int = 128
    shingle_size: int = 5
    seed: int = 1
    backend: str = "auto"
    chunk_rows: int = 1 << 15

    def __post_init__(self) -> None:
        if self.num_perm < 1 or self.shingle_size < 1:
            raise ValueError("num_perm and shingle_size must be >= 1")
        if self.backend not in ("auto", "numba", "numpy"):
            raise ValueError(f"unknown backend {self.backend!r}: auto, numba or numpy")

    @property
    def fingerprint(self) -> str:
        """Store this beside signatures: a different fingerprint means recompute."""
        return f"minhash-v1:k{self.shingle_size}:p{self.num_perm}:s{self.seed}"


@dataclass(frozen=True)
class ShingleSets:
    """Per-document sorted, unique 32-bit shingle fingerprints (for true Jaccard).

    32 bits suffice: two distinct shingles of a pair collide with probability
    |A|*|B|/2**32, a Jaccard error far below the thresholds' resolution.
    """

    offsets: np.ndarray  # int64, n + 1
    hashes: np.ndarray  # uint32, sorted within each document

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def sizes(self) -> np.ndarray:
        return np.diff(self.offsets)

    @staticmethod
    def concat(parts: list[ShingleSets]) -> ShingleSets:
        """Sets of several batches, in order (e.g. one per shard)."""
        sizes = [p.sizes() for p in parts]
        offsets = np.zeros(sum(len(s) for s in sizes) + 1, dtype=np.int64)
        if len(offsets) > 1:
            np.cumsum(np.concatenate(sizes), out=offsets[1:])
        hashes = [p.hashes for p in parts] or [np.zeros(0, dtype=np.uint32)]
        return ShingleSets(offsets=offsets, hashes=np.concatenate(hashes))


def permutations(config: MinHashConfig) -> tuple[np.ndarray, np.ndarray]:
    """The (a, b) of each permutation; a is odd so x -> a*x + b is a bijection mod 2**64."""
    rng = np.random.Generator(np.random.PCG64(config.seed))
    a = rng.integers(0, 2**64, size=config.num_perm, dtype=np.uint64, endpoint=False)
    b = rng.integers(0, 2**64, size=config.num_perm, dtype=np.uint64, endpoint=False)
    return a | np.uint64(1), b


def minhash_signatures(texts: pa.Array | pa.ChunkedArray, *, config: MinHashConfig) -> np.ndarray:
    """Signatures (n x num_perm uint32) of each text; null or token-less texts get EMPTY."""
    a, b = permutations(config)
    use_numba = _want_numba(config.backend)
    out = np.full((len(texts), config.num_perm), EMPTY, dtype=np.uint32)
    for lo, hi, th, doc_off in _token_hash_batches(texts, use_numba):
        if use_numba:
            _nb_signatures(th, doc_off, config.shingle_size, a, b, out[lo:hi])
        else:
            sh, per_doc = _shingle_hashes_np(th, doc_off, config.shingle_size)
            _minhash_np(sh, per_doc, a, b, out[lo:hi], config.chunk_rows)
    return out


def shingle_sets(texts: pa.Array | pa.ChunkedArray, *, config: MinHashConfig) -> ShingleSets:
    """The shingle sets the signatures estimate, to verify candidate pairs exactly."""
    use_numba = _want_numba(config.backend)
    parts: list[np.ndarray] = []
    sizes = np.zeros(len(texts), dtype=np.int64)
    for lo, hi, th, doc_off in _token_hash_batches(texts, use_numba):
        if use_numba:
            h32, sizes[lo:hi] = _nb_shingle_sets(th, doc_off, config.shingle_size)
            parts.append(h32)
            continue
        sh, per_doc = _shingle_hashes_np(th, doc_off, config.shingle_size)
        h32 = (sh >> _S32).astype(np.uint64)
        doc = np.repeat(np.arange(hi - lo, dtype=np.uint64), per_doc)
        key = np.sort((doc << _S32) | h32)  # by document, then fingerprint
        key = key[np.r_[True, key[1:] != key[:-1]]] if len(key) else key
        parts.append((key & np.uint64(0xFFFFFFFF)).astype(np.uint32))
        sizes[lo:hi] = np.bincount((key >> _S32).astype(np.int64), minlength=hi - lo)
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    hashes = np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint32)
    return ShingleSets(offsets=offsets, hashes=hashes)


def string_hashes(strings: pa.Array | pa.ChunkedArray, backend: str = "auto") -> np.ndarray:
    """64-bit hash of each whole string (nulls hash like ""), e.g. for content hashes."""
    arr = _as_large_string(strings)
    data, off = _string_buffers(arr)
    if _want_numba(backend):
        return _nb_string_hashes(data, off)
    out = np.full(len(arr), _mix(np.zeros(1, dtype=np.uint64))[0], dtype=np.uint64)
    nonempty = np.flatnonzero(np.diff(off) > 0)
    if len(nonempty):  # empty strings own no bytes, so the others tile `data`
        out[nonempty] = _token_hashes_np(data, np.r_[off[nonempty], off[-1]])
    return out


def squashed_hashes(strings: pa.Array | pa.ChunkedArray, backend: str = "auto") -> np.ndarray:
    """string_hashes of each string lowercased, trimmed, and with every run of whitespace as
    one space: the exact-duplicate key. Equal to hashing the `\\s+` -> " " rewrite, which
    costs a regex pass over the corpus (80 % of this key's time); here the runs are
    squashed inside the hash loop."""
    trimmed = pc.utf8_trim_whitespace(pc.utf8_lower(strings))
    if not _want_numba(backend):
        return string_hashes(pc.replace_substring_regex(trimmed, r"\s+", " "), backend="numpy")
    data, off = _string_buffers(_as_large_string(trimmed))
    return _nb_squashed_hashes(data, off)


def signatures_table(doc_ids: pa.Array, signatures: np.ndarray) -> pa.Table:
    """(doc_id, signature fixed_size_list<uint32>) for parquet storage per source."""
    n, k = signatures.shape
    flat = pa.array(np.ascontiguousarray(signatures, dtype=np.uint32).reshape(-1))
    return pa.table({"doc_id": doc_ids, "signature": pa.FixedSizeListArray.from_arrays(flat, k)})


def signatures_from_table(table: pa.Table, column: str = "signature") -> np.ndarray:
    """Inverse of signatures_table (zero-copy when the column is one chunk)."""
    col = table[column].combine_chunks()
    k = col.type.list_size
    values = col.flatten().to_numpy(zero_copy_only=False)
    return values.reshape(-1, k).astype(np.uint32, copy=False)


# --- tokenization ----------------------------------------------------------------------


def _as_large_string(strings: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One large_string chunk with nulls as "" (their offsets are then well defined)."""
    if isinstance(strings, pa.ChunkedArray):
        strings = strings.combine_chunks() if strings.num_chunks else pa.array([], pa.string())
    if not pa.types.is_large_string(strings.type):
        strings = strings.cast(pa.large_string())
    if strings.null_count:
        strings = pc.fill_null(strings, "")
    return strings


def _string_buffers(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The UTF-8 bytes and int64 offsets (from 0) of a null-free large_string array."""
    bufs = arr.buffers()
    off = np.frombuffer(bufs[1], dtype=np.int64, count=len(arr) + 1, offset=arr.offset * 8)
    if bufs[2] is None or off[-1] == off[0]:
        return np.zeros(0, dtype=np.uint8), np.zeros(len(arr) + 1, dtype=np.int64)
    data = np.frombuffer(bufs[2], dtype=np.uint8)[off[0] : off[-1]]
    return data, off - off[0]


def _token_hash_batches(texts: pa.Array | pa.ChunkedArray, use_numba: bool) -> Any:
    """Yield (lo, hi, token hashes, per-doc token offsets) per batch of about 4 MB of text.

    NumPy path: pyarrow lower-cases and splits on NON_WORD, NumPy hashes the tokens.
    numba path: pyarrow lower-cases, one compiled pass decodes UTF-8 and hashes the runs of
    word characters (Python's str.isalnum() or "_", from a table): same tokens, same hashes.
    """
    arr = _as_large_string(texts)
    n = len(arr)
    if n == 0:
        return
    _, text_off = _string_buffers(arr)
    table = _word_table() if use_numba else None
    lo = 0
    while lo < n:
        hi = int(np.searchsorted(text_off, text_off[lo] + _BATCH_BYTES, side="right")) - 1
        hi = min(max(hi, lo + 1), n)
        lower = pc.utf8_lower(arr.slice(lo, hi - lo))
        if table is not None:
            data, off = _string_buffers(_as_large_string(lower))
            th, doc_off = _nb_tokenize(data, off, table)
            yield lo, hi, th, doc_off
        else:
            tokens = pc.split_pattern_regex(lower, NON_WORD)
            flat = pc.list_flatten(tokens)
            parent = pc.list_parent_indices(tokens).to_numpy()
            lens = pc.binary_length(flat).to_numpy(zero_copy_only=False)
            keep = lens > 0  # leading/trailing separators give empty tokens
            data, _ = _string_buffers(_as_large_string(flat))
            tok_off = np.zeros(int(keep.sum()) + 1, dtype=np.int64)
            np.cumsum(lens[keep], out=tok_off[1:])  # empty tokens own no bytes
            doc_off = np.zeros(hi - lo + 1, dtype=np.int64)
            np.cumsum(np.bincount(parent[keep], minlength=hi - lo), out=doc_off[1:])
            yield lo, hi, _token_hashes_np(data, tok_off), doc_off
        lo = hi


_WORD: list[np.ndarray] = []


def _word_table() -> np.ndarray:
    """is_word[code point], as Python's re ``\\w``: str.isalnum() or "_" (built once)."""
    if not _WORD:
        table = np.fromiter((chr(c).isalnum() for c in range(0x110000)), bool, 0x110000)
        table[ord("_")] = True
        _WORD.append(table)
    return _WORD[0]


# --- NumPy path ------------------------------------------------------------------------


def _mix(z: np.ndarray) -> np.ndarray:
    """splitmix64 finalizer, in place on a fresh copy."""
    z = z ^ (z >> _S30)
    z *= _M1
    z ^= z >> _S27
    z *= _M2
    z ^= z >> _S31
    return z


def _token_hashes_np(data: np.ndarray, tok_off: np.ndarray) -> np.ndarray:
    """Polynomial hash sum(byte_i * P**(len-1-i)) mod 2**64 of each (non-empty) token."""
    lens = np.diff(tok_off)
    if len(lens) == 0:
        return np.zeros(0, dtype=np.uint64)
    powers = np.ones(int(lens.max()), dtype=np.uint64)
    if len(powers) > 1:
        powers[1:] = _P
        powers = np.cumprod(powers, dtype=np.uint64)
    rel = tok_off - tok_off[0]
    exps = np.repeat(rel[1:], lens)
    exps -= np.arange(1, rel[-1] + 1, dtype=np.int64)
    terms = data.astype(np.uint64)
    terms *= powers[exps]
    return _mix(np.add.reduceat(terms, rel[:-1]))


def _shingle_hashes_np(
    th: np.ndarray, doc_off: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of each document's k-token windows (one window of all tokens if shorter)."""
    ntok = len(th)
    cnt = np.diff(doc_off)
    ndoc = len(cnt)
    per_doc = np.where(cnt >= k, cnt - k + 1, np.minimum(cnt, 1))
    if ntok == 0:
        return np.zeros(0, dtype=np.uint64), per_doc
    window = np.zeros(ntok, dtype=np.uint64)  # window[p]: k tokens from p (if they exist)
    if ntok >= k:
        acc = np.zeros(ntok - k + 1, dtype=np.uint64)
        for j in range(k):
            acc *= _Q
            acc += th[j : ntok - k + 1 + j]
        window[: ntok - k + 1] = acc
    doc_of = np.repeat(np.arange(ndoc), cnt)
    pos = np.arange(ntok) - doc_off[:-1][doc_of]
    starts = pos <= (cnt - np.minimum(cnt, k))[doc_of]
    short = np.flatnonzero((cnt > 0) & (cnt < k))
    if len(short):  # one window of all tokens: Horner over the first cnt tokens
        acc = np.zeros(len(short), dtype=np.uint64)
        for j in range(k - 1):
            live = cnt[short] > j
            acc[live] = acc[live] * _Q + th[doc_off[short[live]] + j]
        window[doc_off[short]] = acc
    return _mix(window[starts]), per_doc


def _minhash_np(
    sh: np.ndarray, per_doc: np.ndarray, a: np.ndarray, b: np.ndarray, out: np.ndarray, rows: int
) -> None:
    """out[d] = min over document d's shingles s of (a*s + b) >> 32, chunk by chunk."""
    doc = np.repeat(np.arange(len(per_doc)), per_doc)
    for lo in range(0, len(sh), rows):
        d = doc[lo : lo + rows]
        v = np.multiply.outer(sh[lo : lo + rows], a)
        v += b
        v >>= _S32
        first = np.flatnonzero(np.r_[True, d[1:] != d[:-1]])
        red = np.minimum.reduceat(v, first, axis=0).astype(np.uint32)
        docs = d[first]
        out[docs] = np.minimum(out[docs], red)


# --- numba path (same arithmetic, one fused pass) --------------------------------------
# Plain functions here, compiled by numba on first use (numba is imported lazily); each
# calls the others through the module globals _nb_* that _nb_compile fills in.

_nb_mix: Any = None
_nb_tokenize: Any = None
_nb_shingles: Any = None
_nb_signatures: Any = None
_nb_string_hashes: Any = None
_nb_squashed_hashes: Any = None
_nb_shingle_sets: Any = None


def _want_numba(backend: str) -> bool:
    if backend == "numpy":
        return False
    try:
        _nb_compile()
    except ImportError:
        if backend == "numba":
            raise
        return False
    return True


def _nb_compile() -> None:
    """Wrap the loops below with numba.njit (cached on disk beside this module)."""
    global _nb_mix, _nb_tokenize, _nb_shingles, _nb_signatures, _nb_string_hashes, _nb_shingle_sets
    global _nb_squashed_hashes
    if _nb_signatures is not None:
        return
    import numba

    jit = numba.njit(nogil=True, cache=True)
    _nb_mix = numba.njit(nogil=True, cache=True, inline="always")(_loop_mix)
    _nb_tokenize = jit(_loop_tokenize)
    _nb_string_hashes = jit(_loop_string_hashes)
    _nb_squashed_hashes = jit(_loop_squashed_hashes)
    _nb_shingles = jit(_loop_shingles)
    _nb_shingle_sets = jit(_loop_shingle_sets)
    _nb_signatures = jit(_loop_signatures)


def _loop_mix(z: np.uint64) -> np.uint64:
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


def _loop_string_hashes(data: np.ndarray, off: np.ndarray) -> np.ndarray:
    out = np.empty(len(off) - 1, dtype=np.uint64)
    for d in range(len(off) - 1):
        h = np.uint64(0)
        for i in range(off[d], off[d + 1]):
            h = h * _P + np.uint64(data[i])
        out[d] = _nb_mix(h)
    return out


def _loop_squashed_hashes(data: np.ndarray, off: np.ndarray) -> np.ndarray:
    # RE2's \s is [\t\n\f\r ]; a run counts as one space once a later byte shows it is inside
    out = np.empty(len(off) - 1, dtype=np.uint64)
    for d in range(len(off) - 1):
        h = np.uint64(0)
        started = False
        pending = False
        for i in range(off[d], off[d + 1]):
            b = data[i]
            if b == 32 or b == 9 or b == 10 or b == 12 or b == 13:
                pending = started
            else:
                if pending:
                    h = h * _P + np.uint64(32)
                    pending = False
                h = h * _P + np.uint64(b)
                started = True
        out[d] = _nb_mix(h)
    return out


def _loop_tokenize(
    data: np.ndarray, off: np.ndarray, is_word: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    th = np.empty(len(data) // 2 + 1, dtype=np.uint64)  # tokens are >= 1 byte apart
    ndoc = len(off) - 1
    doc_off = np.zeros(ndoc + 1, dtype=np.int64)
    t = 0
    for d in range(ndoc):
        i = off[d]
        end = off[d + 1]
        inside = False
        h = np.uint64(0)
        while i < end:
            c = np.int64(data[i])
            if c < 0x80:
                cp, n = c, 1
            elif c < 0xE0:
                cp, n = ((c & 0x1F) << 6) | (data[i + 1] & 0x3F), 2
            elif c < 0xF0:
                cp = ((c & 0x0F) << 12) | ((data[i + 1] & 0x3F) << 6) | (data[i + 2] & 0x3F)
                n = 3
            else:
                cp = ((c & 0x07) << 18) | ((data[i + 1] & 0x3F) << 12)
                cp |= ((data[i + 2] & 0x3F) << 6) | (data[i + 3] & 0x3F)
                n = 4
            if is_word[cp]:
                if not inside:
                    inside = True
                    h = np.uint64(0)
                for j in range(i, i + n):
                    h = h * _P + np.uint64(data[j])
            elif inside:
                inside = False
                th[t] = _nb_mix(h)
                t += 1
            i += n
        if inside:
            th[t] = _nb_mix(h)
            t += 1
        doc_off[d + 1] = t
    return th[:t], doc_off


def _loop_shingles(th: np.ndarray, doc_off: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    ndoc = len(doc_off) - 1
    per_doc = np.empty(ndoc, dtype=np.int64)
    for d in range(ndoc):
        n = doc_off[d + 1] - doc_off[d]
        per_doc[d] = n - k + 1 if n >= k else min(n, 1)
    sh = np.empty(per_doc.sum(), dtype=np.uint64)
    o = 0
    for d in range(ndoc):
        s0 = doc_off[d]
        w = min(k, doc_off[d + 1] - s0)
        for i in range(s0, s0 + per_doc[d]):
            acc = np.uint64(0)
            for j in range(w):
                acc = acc * _Q + th[i + j]
            sh[o] = _nb_mix(acc)
            o += 1
    return sh, per_doc


def _loop_shingle_sets(
    th: np.ndarray, doc_off: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    sh, per_doc = _nb_shingles(th, doc_off, k)
    h32 = (sh >> _S32).astype(np.uint32)
    sizes = np.zeros(len(per_doc), dtype=np.int64)
    o = 0  # write position: each document's sorted distinct values, compacted
    s = 0
    for d in range(len(per_doc)):
        e = s + per_doc[d]
        h32[s:e].sort()
        for i in range(s, e):
            if i == s or h32[i] != h32[i - 1]:
                h32[o] = h32[i]
                o += 1
                sizes[d] += 1
        s = e
    return h32[:o].copy(), sizes


def _loop_signatures(
    th: np.ndarray, doc_off: np.ndarray, k: int, a: np.ndarray, b: np.ndarray, out: np.ndarray
) -> None:
    nperm = len(a)
    mins = np.empty(nperm, dtype=np.uint64)
    for d in range(len(doc_off) - 1):
        s0 = doc_off[d]
        n = doc_off[d + 1] - s0
        if n == 0:
            continue
        w = min(k, n)
        mins[:] = np.uint64(0xFFFFFFFF)
        for i in range(s0, s0 + n - w + 1):
            acc = np.uint64(0)
            for j in range(w):
                acc = acc * _Q + th[i + j]
            sh = _nb_mix(acc)
            for r in range(nperm):
                v = (a[r] * sh + b[r]) >> _S32
                if v < mins[r]:
                    mins[r] = v
        for r in range(nperm):
            out[d, r] = np.uint32(mins[r])
