"""The long tail's last word: a character n-gram naive Bayes that chooses among the languages
the combination is known to confuse.

ELD and lid.176 together still give many small languages the label of a big neighbour:
Bosnian and Latin-script Serbian read as Croatian, Corsican, Emilian and Venetian as
Italian, Walloon as French, Indonesian and Minangkabau as Malay, Maithili, Nepali and
Sanskrit as Hindi or Marathi, Bikol and Kapampangan as Tagalog, and Somali, Guarani or
Haitian as nothing at all ("und"). Neither model can be retrained here, but the mistakes
are regular, so this model is asked a narrower question than "which language is this?":
given the combination's label P, which of the languages that are labelled P by mistake
(``candidates[P]``, P included) is it? (Bosnian and Latin-script Serbian it still misses:
their text is Croatian's but for a few words. benchmarks/RESULTS_langid.md has every
language's accuracy.)

The model (``langid_tail.npz``, written by ``benchmarks/build_langid_tail.py``) holds:

- per language, the log-probabilities of its most frequent hashed character 1-4-grams
  (multinomial naive Bayes, add-alpha smoothing, every other n-gram at a floor), as a
  sparse matrix over 2**18 hash buckets;
- the candidate map, measured by the build from the combination's own confusions on the
  training sentences (a language joins ``candidates[P]`` when the combination labels at
  least a tenth of its training sentences P);
- the margin: a record is relabelled L only when L beats P by at least ``margin`` nats per
  n-gram (for "und": L is the best of all the model's languages, English included, and
  beats the runner-up by that much); a label that is one of ``protected`` (ELD's own
  languages, where ELD is strong: Malay, Croatian, Italian...; and "und", which code, tables
  and lists of identifiers get as well as Somali) needs ``margin_protected``, chosen by the
  build so that none of ELD's languages loses accuracy on its training data;
- its training sources and licences, named in the run's lineage tag `langid.tail` with the file's sha256.

English is never second-guessed: it is most web text, and Scots (the one language that
reads as English) is not worth scoring every English record for.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from numba import njit

MODEL_PATH = Path(__file__).with_name("langid_tail.npz")
TAIL = "tail"
UNDETERMINED = "und"
#: hash buckets of the n-grams (2**18: collisions well under 1 % of a language's kept n-grams)
BITS = 18
MAX_N = 4
#: English is never asked (see the module docstring)
NEVER_ASKED = frozenset({"en"})


@njit(cache=True, nogil=True)
def _is_separator(cp: int) -> bool:
    """Digits, ASCII punctuation and the Unicode punctuation/symbol blocks: not evidence of a language."""
    if cp < 128:
        return not (97 <= cp <= 122 or 65 <= cp <= 90)
    if 0xA0 <= cp <= 0xBF or cp == 0xD7 or cp == 0xF7:
        return True
    if 0x2000 <= cp <= 0x2BFF or 0x3000 <= cp <= 0x303F or 0xFF00 <= cp <= 0xFF20:
        return True
    return False


@njit(cache=True, nogil=True)
def _hash_grams(cps: np.ndarray, offsets: np.ndarray, max_n: int, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """(row, bucket) of every 1..max_n-gram of every text (separators folded to one space, padded)."""
    n_texts = len(offsets) - 1
    cap = 0
    for i in range(n_texts):
        cap += (offsets[i + 1] - offsets[i] + 2) * max_n
    rows = np.empty(cap, dtype=np.int32)
    buckets = np.empty(cap, dtype=np.int32)
    mask = (1 << bits) - 1
    buf = np.empty(0, dtype=np.uint32)
    k = 0
    for i in range(n_texts):
        start, end = offsets[i], offsets[i + 1]
        if len(buf) < end - start + 2:
            buf = np.empty(end - start + 2, dtype=np.uint32)
        m = 0
        buf[m] = 32
        m += 1
        for p in range(start, end):
            cp = cps[p]
            if _is_separator(cp):
                if buf[m - 1] != 32:
                    buf[m] = 32
                    m += 1
            else:
                buf[m] = cp
                m += 1
        if buf[m - 1] != 32:
            buf[m] = 32
            m += 1
        if m <= 1:
            continue
        for p in range(m):
            h = np.uint64(14695981039346656037)
            for n in range(max_n):
                if p + n >= m:
                    break
                h = (h ^ np.uint64(buf[p + n])) * np.uint64(1099511628211)
                if n == 0 and buf[p] == 32:
                    continue  # a lone space is not a gram
                rows[k] = i
                buckets[k] = np.int32((h ^ np.uint64(n + 1) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(20)) & mask
                k += 1
    return rows[:k], buckets[:k]


def gram_counts(texts: list[str], max_chars: int = 1000) -> sp.csr_matrix:
    """Records x 2**BITS counts of hashed character n-grams of the lowercased text."""
    lowered = [t[:max_chars].lower() for t in texts]
    cps = np.frombuffer("".join(lowered).encode("utf-32-le"), dtype=np.uint32)
    offsets = np.zeros(len(lowered) + 1, dtype=np.int64)
    np.cumsum([len(t) for t in lowered], out=offsets[1:])
    rows, buckets = _hash_grams(cps, offsets, MAX_N, BITS)
    data = np.ones(len(rows), dtype=np.float32)
    return sp.csr_matrix((data, (rows, buckets)), shape=(len(texts), 1 << BITS))


@dataclass(frozen=True)
class TailModel:
    languages: tuple[str, ...]
    #: 2**BITS x languages: log P(gram | language) above the language's floor (0 where not kept)
    delta: sp.csr_matrix
    floor: np.ndarray  # per language: log P of a gram the language did not keep
    candidates: dict[str, tuple[str, ...]]  # combination label -> languages to choose among (label first)
    margin: float  # nats per n-gram
    meta: dict
    sha256: str
    protected: frozenset[str] = frozenset()  # labels that need margin_protected to move
    margin_protected: float = 0.0

    def scores(self, counts: sp.csr_matrix) -> np.ndarray:
        """Records x languages: log-likelihood per n-gram under each language."""
        total = np.asarray(counts.sum(axis=1)).ravel()
        ll = np.asarray((counts @ self.delta).todense()) + np.outer(total, self.floor)
        return ll / np.maximum(total, 1.0)[:, None]


HEADER_KEYS = ("languages", "candidates", "margin", "protected", "margin_protected", "bits", "max_n")


def write(path: Path, languages: list[str], delta: sp.csr_matrix, floor: np.ndarray,
          candidates: dict[str, list[str]], margin: float, meta: dict, *,
          protected: Sequence[str] = (), margin_protected: float = 0.0) -> None:
    """The model file: arrays plus a JSON header; byte-identical for identical inputs."""
    coo = delta.tocoo()
    order = np.lexsort((coo.col, coo.row))
    header = dict(meta, languages=languages, candidates=candidates, margin=margin, protected=sorted(protected),
                  margin_protected=margin_protected, bits=BITS, max_n=MAX_N)
    with path.open("wb") as fh:
        np.savez_compressed(fh, header=np.frombuffer(json.dumps(header, sort_keys=True).encode(), dtype=np.uint8),
                            rows=coo.row[order].astype(np.int32), cols=coo.col[order].astype(np.int16),
                            values=coo.data[order].astype(np.float16), floor=floor.astype(np.float32))  # fmt: skip


@cache
def load(path: Path = MODEL_PATH) -> TailModel:
    raw = path.read_bytes()
    with np.load(io.BytesIO(raw)) as z:  # one read: the bytes hashed for lineage are the bytes loaded
        header = json.loads(z["header"].tobytes())
        rows, cols, values, floor = z["rows"], z["cols"], z["values"], z["floor"]
    if header["bits"] != BITS or header["max_n"] != MAX_N:
        raise ValueError(f"{path}: built for {header['bits']} bits / {header['max_n']}-grams, "
                         f"this kernel hashes {BITS} / {MAX_N}; rebuild it (benchmarks/build_langid_tail.py)")  # fmt: skip
    languages = tuple(header["languages"])
    delta = sp.csr_matrix((values.astype(np.float32), (rows, cols.astype(np.int32))),
                          shape=(1 << BITS, len(languages)))  # fmt: skip
    candidates = {label: tuple(langs) for label, langs in header["candidates"].items()}
    unknown = {lang for langs in candidates.values() for lang in langs} - set(languages)
    if unknown:
        raise ValueError(f"{path}: candidates name languages the model lacks: {', '.join(sorted(unknown))}")
    meta = {k: v for k, v in header.items() if k not in HEADER_KEYS}
    return TailModel(languages, delta, floor.astype(np.float64), candidates, float(header["margin"]), meta,
                     hashlib.sha256(raw).hexdigest(), frozenset(header.get("protected", ())),
                     float(header.get("margin_protected", header["margin"])))  # fmt: skip


def decide(scores: np.ndarray, grams: np.ndarray, labels: np.ndarray,
           model: TailModel) -> tuple[np.ndarray, np.ndarray]:
    """(new label, its probability among the candidates) per record; probability 0 where unchanged.

    A record keeps its label unless a candidate of that label beats it (or, for "und", beats
    every other language of the model) by at least ``model.margin`` nats per n-gram
    (``model.margin_protected`` for a protected label). The probability is
    naive Bayes' posterior over the candidates at equal priors (overconfident, as NB is).
    """
    index = {lang: j for j, lang in enumerate(model.languages)}
    out = labels.copy()
    prob = np.zeros(len(labels), dtype=np.float64)
    for label in np.unique(labels):
        cands = model.candidates.get(label)
        if not cands or label in NEVER_ASKED:
            continue
        rows = np.flatnonzero(labels == label)
        names = np.asarray(cands, dtype=object)
        need = model.margin_protected if label in model.protected else model.margin
        sub = scores[np.ix_(rows, np.array([index[c] for c in cands], dtype=np.int64))]
        best = sub.argmax(axis=1)
        top = sub[np.arange(len(rows)), best]
        if label == UNDETERMINED:
            # nothing to compare with: the candidate must be the best of all the model's
            # languages, by the margin (English-like code and tables stay "und", not Latin)
            every = scores[rows]
            runner = np.partition(every, -2, axis=1)[:, -2]
            ok = (top >= every.max(axis=1)) & (top - runner >= need)
        else:
            runner = sub[:, 0]  # the label itself is the first candidate
            ok = top - runner >= need
        # a strict gain, on some evidence: with no n-gram (empty, digits only) every language ties at 0
        ok &= (names[best] != label) & (top - runner > 0) & (grams[rows] > 0)
        if not ok.any():
            continue
        total = (sub[ok] - top[ok, None]) * grams[rows[ok], None]  # log-likelihoods relative to the best
        out[rows[ok]] = names[best[ok]]
        prob[rows[ok]] = 1.0 / np.exp(total).sum(axis=1)
    return out, prob


def resolve(texts: list[str], language: np.ndarray, max_chars: int = 1000,
            model: TailModel | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(which records change label, their probability); `language` is relabelled in place."""
    model = model or load()
    asked = np.isin(language, [p for p in model.candidates if p not in NEVER_ASKED])
    changed = np.zeros(len(language), dtype=bool)
    prob = np.zeros(len(language), dtype=np.float64)
    if not asked.any():
        return changed, prob
    idx = np.flatnonzero(asked)
    counts = gram_counts([texts[i] for i in idx], max_chars)
    grams = np.asarray(counts.sum(axis=1)).ravel()
    new, p = decide(model.scores(counts), grams, language[idx], model)
    moved = new != language[idx]
    language[idx[moved]] = new[moved]
    changed[idx[moved]] = True
    prob[idx[moved]] = p[moved]
    return changed, prob
