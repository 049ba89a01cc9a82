"""Close kin both detectors confuse: a word-level naive Bayes per language pair, as a last word.

ELD does not know Afrikaans and labels it Dutch, confidently; lid.176, asked about every
ELD "nl" (``wide_always``), still calls about a third of Afrikaans sentences Dutch. The two
languages share most letters and n-grams but few frequent words ("die", "nie", "het",
"ons" against "de", "het", "niet", "wij"), which is what a word-level naive Bayes reads.

For each pair in ``langid_kin.json``, a record the combination labelled with either
language is labelled again with the pair's more probable one (its log-odds: the sum of the
word log-ratios plus the prior). A record with no word the model knows keeps its label;
numbers are not words here (a year says nothing of the language).

The model file is written by ``benchmarks/build_langid_kin.py`` from the Lingua sentences
(Leipzig corpora), names its sources and licences, and reports its cross-validated accuracy;
its sha256 goes into lineage with the other model files. Pairs where a word model does not
separate the languages reliably (Indonesian/Malay, Bosnian/Croatian/Serbian: measured,
see benchmarks/RESULTS_langid.md) are left out on purpose.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

MODEL_PATH = Path(__file__).with_name("langid_kin.json")
KIN = "kin"
_WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    """Lowercased words, numbers left out: the model's vocabulary and what it reads."""
    return [w for w in _WORD.findall(text.lower()) if not w.isdigit()]


@dataclass(frozen=True)
class KinPair:
    first: str
    second: str
    bias: float  # log P(first) - log P(second)
    log_ratio: dict[str, float]  # word -> log P(word | first) - log P(word | second)


@dataclass(frozen=True)
class KinModel:
    pairs: tuple[KinPair, ...]
    sha256: str


@cache
def load(path: Path = MODEL_PATH) -> KinModel:
    raw = path.read_bytes()
    spec = json.loads(raw)
    pairs = tuple(KinPair(p["languages"][0], p["languages"][1], float(p["bias"]), dict(p["log_ratio"]))
                  for p in spec["pairs"])  # fmt: skip
    seen = [code for p in pairs for code in (p.first, p.second)]
    if len(seen) != len(set(seen)):
        raise ValueError(f"{path}: a language is in two pairs; each may be in one")
    return KinModel(pairs, hashlib.sha256(raw).hexdigest())


def log_odds(pair: KinPair, text: str) -> tuple[float, int]:
    """(log-odds of `pair.first` over `pair.second`, how many words the model knew)."""
    score, known = pair.bias, 0
    table = pair.log_ratio
    for word in words(text):
        ratio = table.get(word)
        if ratio is not None:
            score += ratio
            known += 1
    return score, known


def resolve(texts: list[str], language: np.ndarray, model: KinModel | None = None) -> np.ndarray:
    """Which records change label: a bool mask; `language` is relabelled in place."""
    model = model or load()
    changed = np.zeros(len(language), dtype=bool)
    for pair in model.pairs:
        for i in np.flatnonzero(np.isin(language, [pair.first, pair.second])):
            score, known = log_odds(pair, texts[i])
            if not known:
                continue
            best = pair.first if score >= 0 else pair.second
            if best != language[i]:
                language[i] = best
                changed[i] = True
    return changed
