"""A learned quality classifier: hashed word n-grams and logistic regression.

The recipe is DCLM's (Li et al. 2024, arXiv 2406.11794, sec. 4.4): a fast linear text
classifier trained with curated reference text as positives and raw web text as
negatives; its probability of "reference-like" is the quality score. fastText does the
same with hashed n-gram embeddings; here the features are hashed word unigrams and
bigrams (lower-cased runs of letters and digits, every non-ASCII byte a letter) and the
model is a plain logistic regression, so scoring is one compiled pass over the UTF-8
bytes of each document (`numba`), with no per-document Python and no new dependency.

A model is one `.npz` file: the weights, the bias, the hashing settings and a JSON
`meta` naming the training sources, their licences and the training figures, which
lineage and the dataset card cite.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numba import njit  # a dependency: the scorer is compiled

#: The model that ships in the package (see curaline/kernels/quality_model_data/README.md).
BUILTIN = "builtin"
BUILTIN_PATH = Path(__file__).with_name("quality_model_data") / "default.npz"
#: Hash buckets (2^20, fastText's default bucket count is 2M) and bytes read per document.
DEFAULT_DIM = 1 << 20
DEFAULT_MAX_BYTES = 20_000
_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)
_MIX = np.uint64(0x9E3779B97F4A7C15)


@njit(cache=True, nogil=True)
def _is_word(b: np.uint8) -> Any:
    return (48 <= b <= 57) or (65 <= b <= 90) or (97 <= b <= 122) or b >= 128


@njit(cache=True, nogil=True)
def _doc_features(data: np.ndarray, lo: int, hi: int, dim: int, out: np.ndarray) -> int:
    """Write the hashed unigram and bigram buckets of data[lo:hi] into out; return how many."""
    n = 0
    h = _FNV_OFFSET
    prev = np.uint64(0)
    have_prev = False
    in_word = False
    i = lo
    while i <= hi:
        b = data[i] if i < hi else np.uint8(32)
        if _is_word(b):
            if 65 <= b <= 90:
                b = b + np.uint8(32)
            h = (h ^ np.uint64(b)) * _FNV_PRIME
            in_word = True
        elif in_word:
            out[n] = np.int64(h % np.uint64(dim))
            n += 1
            if have_prev:
                out[n] = np.int64(((prev * _MIX) ^ (h + np.uint64(0x632BE59BD9B4E019))) % np.uint64(dim))
                n += 1
            prev = h
            have_prev = True
            h = _FNV_OFFSET
            in_word = False
        i += 1
    return n


@njit(cache=True, nogil=True)
def _score_all(data: np.ndarray, offsets: np.ndarray, dim: int, max_bytes: int, weights: np.ndarray,
               bias: float, out: np.ndarray) -> None:
    buf = np.empty(max_bytes + 2, dtype=np.int64)
    for d in range(offsets.size - 1):
        lo = offsets[d]
        hi = min(offsets[d + 1], lo + max_bytes)
        n = _doc_features(data, lo, hi, dim, buf)
        s = 0.0
        for k in range(n):
            s += weights[buf[k]]
        z = bias + (s / np.sqrt(n) if n > 0 else 0.0)
        out[d] = 1.0 / (1.0 + np.exp(-z))


@njit(cache=True, nogil=True)
def _features_all(data: np.ndarray, offsets: np.ndarray, dim: int, max_bytes: int,
                  counts: np.ndarray) -> np.ndarray:
    total = 0
    for d in range(offsets.size - 1):
        total += min(offsets[d + 1] - offsets[d], max_bytes) + 2
    cols = np.empty(total, dtype=np.int64)
    pos = 0
    for d in range(offsets.size - 1):
        lo = offsets[d]
        hi = min(offsets[d + 1], lo + max_bytes)
        n = _doc_features(data, lo, hi, dim, cols[pos:])
        counts[d] = n
        pos += n
    return cols[:pos]


def _buffers(texts: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    arr = texts.combine_chunks() if isinstance(texts, pa.ChunkedArray) else texts
    if not pa.types.is_large_string(arr.type):
        arr = arr.cast(pa.large_string())
    if arr.null_count:
        arr = pc.fill_null(arr, "")
    n = len(arr)
    bufs = arr.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int64, count=n + 1, offset=arr.offset * 8)
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(1, np.uint8)
    return data, offsets


def feature_matrix(texts: pa.Array | pa.ChunkedArray | list[str], *, dim: int = DEFAULT_DIM,
                   max_bytes: int = DEFAULT_MAX_BYTES) -> Any:
    """The documents as a sparse CSR matrix of hashed n-gram counts / sqrt(n-grams)."""
    from scipy import sparse

    arr = pa.array(texts, pa.large_string()) if isinstance(texts, list) else texts
    data, offsets = _buffers(arr)
    n = offsets.size - 1
    counts = np.zeros(n, dtype=np.int64)
    cols = _features_all(data, offsets, dim, max_bytes, counts)
    rows = np.repeat(np.arange(n), counts)
    vals = np.repeat(1.0 / np.sqrt(np.maximum(counts, 1)), counts)
    m = sparse.csr_matrix((vals, (rows, cols)), shape=(n, dim))
    m.sum_duplicates()
    return m


@dataclass(frozen=True)
class QualityModel:
    """A trained linear quality classifier; `score` gives P(reference-like) per document."""

    weights: np.ndarray
    bias: float
    dim: int = DEFAULT_DIM
    max_bytes: int = DEFAULT_MAX_BYTES
    meta: dict[str, Any] = field(default_factory=dict)

    def score(self, texts: pa.Array | pa.ChunkedArray | list[str]) -> np.ndarray:
        arr = pa.array(texts, pa.large_string()) if isinstance(texts, list) else texts
        data, offsets = _buffers(arr)
        out = np.empty(offsets.size - 1, dtype=np.float64)
        if out.size:
            _score_all(data, offsets, self.dim, self.max_bytes, self.weights, float(self.bias), out)
        return out

    @property
    def digest(self) -> str:
        """A content hash of the weights: which model scored a record, independent of its path."""
        h = hashlib.sha256(self.weights.tobytes())
        h.update(np.float64(self.bias).tobytes())
        return h.hexdigest()[:16]

    def save(self, path: Path) -> None:
        """Write atomically: weights as float32, meta as JSON."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, weights=self.weights.astype(np.float32), bias=np.float64(self.bias),
                                dim=np.int64(self.dim), max_bytes=np.int64(self.max_bytes),
                                meta=np.frombuffer(json.dumps(self.meta, sort_keys=True).encode(), np.uint8))
        tmp.replace(path)


def train(positive: list[str], negative: list[str], *, dim: int = DEFAULT_DIM, max_bytes: int = DEFAULT_MAX_BYTES,
          l2: float = 1e-3, max_iter: int = 300, meta: dict[str, Any] | None = None) -> QualityModel:
    """Fit L2-regularised logistic regression (L-BFGS) on positives vs negatives, classes
    weighted equally whatever their sizes."""
    from scipy.optimize import minimize

    if not positive or not negative:
        raise ValueError("training needs at least one positive and one negative document")
    x = feature_matrix(pa.array(positive + negative, pa.large_string()), dim=dim, max_bytes=max_bytes)
    y = np.concatenate([np.ones(len(positive)), np.zeros(len(negative))])
    sw = np.where(y == 1, 0.5 / len(positive), 0.5 / len(negative))
    used = np.unique(x.indices)  # optimise only the buckets that occur
    xs = x[:, used].tocsr()

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:-1], theta[-1]
        z = xs @ w + b
        p = 1.0 / (1.0 + np.exp(-z))
        ll = np.sum(sw * (np.logaddexp(0.0, z) - y * z)) + 0.5 * l2 * float(w @ w)
        g = sw * (p - y)
        return float(ll), np.concatenate([xs.T @ g + l2 * w, [g.sum()]])

    res = minimize(loss, np.zeros(used.size + 1), jac=True, method="L-BFGS-B", options={"maxiter": max_iter})
    weights = np.zeros(dim, dtype=np.float64)
    weights[used] = res.x[:-1]
    info = {"positives": len(positive), "negatives": len(negative), "dim": dim, "l2": l2,
            "iterations": int(res.nit), "features_used": int(used.size), **(meta or {})}
    return QualityModel(weights=weights, bias=float(res.x[-1]), dim=dim, max_bytes=max_bytes, meta=info)


@cache
def _load_cached(path: str, mtime_ns: int, size: int) -> QualityModel:
    with np.load(path) as z:
        meta = json.loads(bytes(z["meta"]).decode()) if "meta" in z.files else {}
        return QualityModel(weights=z["weights"].astype(np.float64), bias=float(z["bias"]), dim=int(z["dim"]),
                            max_bytes=int(z["max_bytes"]), meta=meta)


def load_model(ref: str | Path, root: Path | None = None) -> QualityModel:
    """The model at ref (`builtin`, or a path relative to root); cached per file version."""
    path = BUILTIN_PATH if str(ref) == BUILTIN else Path(ref).expanduser()
    if not path.is_absolute() and root is not None:
        path = root / path
    if not path.is_file():
        raise FileNotFoundError(f"quality model {ref!r} not found at {path}")
    st = path.stat()
    return _load_cached(str(path.resolve()), st.st_mtime_ns, st.st_size)
