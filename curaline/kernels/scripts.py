"""Writing system of each text: the ISO 15924 code of its most frequent script.

Over an Arrow string array: its UTF-8 bytes are decoded to code points in one compiled
pass (numba; a NumPy path gives the same counts without it), looked up in a table built
from Unicode's Scripts.txt (as fontTools ships it), and counted per text. Common and Inherited characters (digits, punctuation, spaces,
combining marks) do not vote. Han text with any kana is ``Jpan`` (Japanese mixes the
three); a text without letters is ``Zyyy`` (Common).

Why a column of its own: one language may be written in several scripts (Serbian in
Cyrillic and Latin, Kurdish in Arabic and Latin, Uzbek, Azerbaijani...), and a curator
may keep only one of them.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

NO_SCRIPT = "Zyyy"
JAPANESE = "Jpan"
_NON_VOTING = ("Zyyy", "Zinh", "Zzzz")
_KANA = ("Hira", "Kana")


@cache
def _table() -> tuple[np.ndarray, tuple[str, ...]]:
    """Code point -> script index (uint8), and the script codes by index."""
    from fontTools.unicodedata import Scripts

    names = tuple(dict.fromkeys(["Zzzz", *_NON_VOTING, *_KANA, "Hani", *Scripts.VALUES]))
    index = {s: i for i, s in enumerate(names)}
    if len(names) > 255:
        raise RuntimeError("more scripts than a uint8 table holds")
    table = np.zeros(0x110000, dtype=np.uint8)  # Zzzz where Scripts.txt says nothing
    starts = list(Scripts.RANGES) + [0x110000]
    for lo, hi, value in zip(starts[:-1], starts[1:], Scripts.VALUES, strict=True):
        table[lo:hi] = index[value]
    return table, names


def _code_points(arr: pa.StringArray) -> tuple[np.ndarray, np.ndarray]:
    """(code point, row) of every character of a non-null string array, from its UTF-8."""
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)[arr.offset : arr.offset + len(arr) + 1]
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8) if arr.buffers()[2] else np.zeros(0, np.uint8)
    lo, hi = int(offsets[0]), int(offsets[-1])
    b = np.zeros(hi - lo + 3, dtype=np.uint32)  # 3 bytes of padding for the look-ahead below
    b[: hi - lo] = data[lo:hi]
    body = b[: hi - lo]
    lead = np.flatnonzero((body & 0xC0) != 0x80)
    b0 = b[lead]
    b1, b2, b3 = b[lead + 1] & 0x3F, b[lead + 2] & 0x3F, b[lead + 3] & 0x3F
    cp = np.where(
        b0 < 0x80,
        b0,
        np.where(
            b0 < 0xE0,
            ((b0 & 0x1F) << 6) | b1,
            np.where(b0 < 0xF0, ((b0 & 0x0F) << 12) | (b1 << 6) | b2,
                     ((b0 & 0x07) << 18) | (b1 << 12) | (b2 << 6) | b3),
        ),
    )  # fmt: skip
    rows = np.searchsorted(offsets - lo, lead, side="right") - 1
    return np.minimum(cp, 0x10FFFF), rows


def _loop_counts(data: np.ndarray, offsets: np.ndarray, table: np.ndarray, k: int) -> np.ndarray:
    """Per row, how many characters of each script (the compiled twin of `_code_points`)."""
    n = offsets.shape[0] - 1
    counts = np.zeros((n, k), dtype=np.int32)
    for r in range(n):
        i = offsets[r]
        end = offsets[r + 1]
        while i < end:
            b0 = np.uint32(data[i])
            if b0 < 0x80:
                cp = b0
                i += 1
            elif b0 < 0xE0 and i + 1 < end:
                cp = ((b0 & 0x1F) << 6) | (data[i + 1] & 0x3F)
                i += 2
            elif b0 < 0xF0 and i + 2 < end:
                cp = ((b0 & 0x0F) << 12) | ((data[i + 1] & 0x3F) << 6) | (data[i + 2] & 0x3F)
                i += 3
            elif i + 3 < end:
                cp = ((b0 & 0x07) << 18) | ((data[i + 1] & 0x3F) << 12) | ((data[i + 2] & 0x3F) << 6)
                cp |= data[i + 3] & 0x3F
                i += 4
            else:  # truncated sequence at the end of the row
                cp = 0xFFFD  # type: ignore[assignment]
                i += 1
            counts[r, table[min(cp, 0x10FFFF)]] += 1  # type: ignore[index,call-overload]
    return counts


_compiled: list = []


def _counts(arr: pa.StringArray, table: np.ndarray, k: int) -> np.ndarray:
    """Script counts per row: the numba loop when importable, else NumPy."""
    if not _compiled:
        try:
            import numba

            _compiled.append(numba.njit(nogil=True, cache=True)(_loop_counts))
        except ImportError:
            _compiled.append(None)
    if _compiled[0] is not None:
        offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)[arr.offset : arr.offset + len(arr) + 1]
        data = np.frombuffer(arr.buffers()[2], dtype=np.uint8) if arr.buffers()[2] else np.zeros(1, np.uint8)
        return _compiled[0](data, offsets.astype(np.int64), table, k)
    return _numpy_counts(arr, table, k)


def _numpy_counts(arr: pa.StringArray, table: np.ndarray, k: int) -> np.ndarray:
    n = len(arr)
    cp, rows = _code_points(arr)
    sid = table[cp].astype(np.int64)
    return np.bincount(rows * k + sid, minlength=n * k).reshape(n, k)


def detect_scripts(texts: pa.Array | pa.ChunkedArray) -> pa.Array:
    """ISO 15924 code of each text's dominant script; ``Zyyy`` for null, empty or no letters."""
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    arr = pc.fill_null(texts.cast(pa.string()), "")
    n = len(arr)
    table, names = _table()
    k = len(names)
    if n == 0:
        return pa.array([], pa.string())
    counts = _counts(arr, table, k)
    for s in _NON_VOTING:
        counts[:, names.index(s)] = 0
    best = counts.argmax(axis=1)
    kana = counts[:, [names.index(s) for s in _KANA]].sum(axis=1) > 0
    han_like = np.isin(best, [names.index(s) for s in ("Hani", *_KANA)])
    codes = np.array(names, dtype=object)[best]
    codes[kana & han_like] = JAPANESE
    codes[counts.sum(axis=1) == 0] = NO_SCRIPT
    return pa.array(codes.tolist(), pa.string())
