"""A line filter for Resiliparse's main-content text: what it keeps that is not the article.

Resiliparse is ~15x faster than trafilatura but keeps bylines, captions, teaser and
"related" blocks, share prompts (precision ~0.89 against ~0.95 on the article-extraction
benchmark). Those are mostly whole lines, and whole lines are easy to judge from shallow
features, as boilerpipe showed (Kohlschütter et al., 2010): how many words the line and its
neighbours have, whether it ends a sentence, whether it is a link's text, where it sits
relative to the page's long paragraphs, boilerplate words, dates, separators.

Two passes of logistic regression:

1. each line from its own features (LINE_FEATURES);
2. the same features plus the pass-1 log-odds of the line and of its two neighbours on each
   side, so a short line inside the article survives and a lone sentence in a footer does not.

A line is kept when pass 2 gives it at least ``threshold``. The page's *unsure* share is the
share of its words in lines pass 2 is unsure about (0.1 < p < 0.7): the cascade hands a page
to trafilatura when that share reaches ``max_unsure``.

The weights live in ``line_filter.json`` beside this module, written by
``benchmarks/fit_line_filter.py`` from one half of the benchmark's pages (md5 of the page
key even); the other half is the held-out measurement (benchmarks/RESULTS.md). Its sha256
goes into lineage with the extraction parameters.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from bisect import bisect_left
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

MODEL_PATH = Path(__file__).with_name("line_filter.json")
#: the cascade's default max_unsure: the value fitted with the weights
FITTED_MAX_UNSURE: float = float(json.loads(MODEL_PATH.read_text(encoding="utf-8"))["max_unsure"])

LINE_FEATURES = (
    "log_words", "log_words_prev", "log_words_next", "log_words_window", "ends_sentence", "under_5_words",
    "under_12_words", "is_link_text", "position", "before_first_long", "after_last_long", "digit_frac",
    "upper_frac", "starts_upper", "separator", "repeated", "boiler_word", "short_boiler_word", "short_date",
    "byline", "ends_sentence_x_log_words", "log_dist_to_long",
)  # fmt: skip
#: the pass-2 additions: pass-1 log-odds of the line, of the previous/next line, two before/after,
#: and the larger/smaller of the two direct neighbours
NEIGHBOUR_FEATURES = ("logit", "logit_prev", "logit_next", "logit_prev2", "logit_next2", "logit_max_nb", "logit_min_nb")
#: a line of at least this many words is a "long" one (a paragraph of the article, usually)
LONG_LINE_WORDS = 20
#: the band of pass-2 probabilities counted as unsure
UNSURE_BAND = (0.1, 0.7)

#: anchor texts (what a related-posts list is made of); the score signal in extract.py reads them too
ANCHOR_TEXT = re.compile(r"<a\b[^>]*>([^<]{12,300})</a>", re.I)
_SENTENCE_END = re.compile(r"""[.!?:;"')\u201d\u3002\uff01\uff1f\u300d\u300f\u061f\u0964]$""")  # + 。！？」』؟।
#: scripts written without spaces between words (Han, kana, Thai, Lao, Myanmar, Khmer): a line's
#: words are estimated as these characters / CHARS_PER_WORD, so a Chinese paragraph is not "one word"
_UNSPACED = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff]")
CHARS_PER_WORD = 1.5
_BOILER = re.compile(
    r"\b(share|shares|comments?|copyright|subscribe|sign up|newsletter|related|read more|advertisement|advertising|"
    r"photo|image|getty|reuters|follow us|click|cookies?|privacy|log ?in|posted|updated|tags?|print|email|facebook|"
    r"twitter|whatsapp|linkedin|pinterest|all rights reserved)\b"
)  # matched against the lowercased line: 3x faster than re.I, the same matches
_DATE = re.compile(r"\b(19|20)\d\d\b|\b\d{1,2}:\d\d\b|\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.? \d", re.I)
_SEPARATOR = re.compile(r"[|•·»›]")


@dataclass(frozen=True)
class LineModel:
    mean1: np.ndarray
    scale1: np.ndarray
    weights1: np.ndarray  # last entry: bias
    mean2: np.ndarray
    scale2: np.ndarray
    weights2: np.ndarray
    threshold: float
    max_unsure: float
    sha256: str


@lru_cache(maxsize=1)
def load_model(path: Path = MODEL_PATH) -> LineModel:
    raw = path.read_bytes()
    spec = json.loads(raw)
    if tuple(spec["features"]) != LINE_FEATURES or tuple(spec["neighbour_features"]) != NEIGHBOUR_FEATURES:
        raise ValueError(f"{path}: its features do not match this curaline's LINE_FEATURES; refit it")
    arr = {k: np.asarray(spec[k], dtype=np.float64) for k in ("mean1", "scale1", "weights1", "mean2", "scale2", "weights2")}
    return LineModel(**arr, threshold=float(spec["threshold"]), max_unsure=float(spec["max_unsure"]),
                     sha256=hashlib.sha256(raw).hexdigest())  # fmt: skip


def split_lines(text: str) -> list[str]:
    return [s for s in (line.strip() for line in text.split("\n")) if s]


def word_count(line: str) -> int:
    """Words of a line: spaces apart, plus an estimate for the scripts that use none."""
    unspaced = len(_UNSPACED.findall(line))
    return len(line.split()) + round(unspaced / CHARS_PER_WORD) if unspaced else len(line.split())


def line_features(html: str, lines: list[str], words: list[int]) -> np.ndarray:
    """LINE_FEATURES of every line (rows), from the lines, their word counts and one regex pass over the HTML."""
    n = len(lines)
    if n == 0:
        return np.zeros((0, len(LINE_FEATURES)))
    anchors = {a.strip() for a in ANCHOR_TEXT.findall(html)}
    long_idx = [i for i, w in enumerate(words) if w >= LONG_LINE_WORDS]
    first_long = long_idx[0] if long_idx else n
    last_long = long_idx[-1] if long_idx else -1
    seen: dict[str, int] = {}
    for line in lines:
        seen[line] = seen.get(line, 0) + 1
    rows = []
    for i, line in enumerate(lines):
        w = words[i]
        window = words[max(0, i - 2) : i + 3]
        ends = 1.0 if _SENTENCE_END.search(line) else 0.0
        boiler = 1.0 if _BOILER.search(line.lower()) else 0.0
        nearest_long = n
        if long_idx:
            at = bisect_left(long_idx, i)
            nearest_long = min(abs(i - long_idx[j]) for j in (at - 1, at) if 0 <= j < len(long_idx))
        rows.append((
            math.log1p(w), math.log1p(words[i - 1] if i > 0 else 0), math.log1p(words[i + 1] if i < n - 1 else 0),
            math.log1p(sum(window) / len(window)), ends, float(w < 5), float(5 <= w < 12),
            float(line in anchors), i / max(n - 1, 1), float(i < first_long), float(i > last_long),
            sum(map(str.isdigit, line)) / len(line), sum(map(str.isupper, line)) / len(line),
            float(line[0].isupper()), float(bool(_SEPARATOR.search(line))), float(seen[line] > 1),
            boiler, boiler * float(w < 12), float(w < 12 and bool(_DATE.search(line))),
            float(line.startswith(("By ", "by ", "BY "))), ends * math.log1p(w), math.log1p(nearest_long),
        ))  # fmt: skip
    return np.asarray(rows, dtype=np.float64)


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, 1e-4, 1 - 1e-4)
    return np.log(q / (1 - q))


def neighbour_features(p1: np.ndarray) -> np.ndarray:
    """NEIGHBOUR_FEATURES from the pass-1 probabilities of a page's lines (0.5 past either end)."""
    n = len(p1)
    pad = np.concatenate(([0.5, 0.5], p1, [0.5, 0.5]))
    prev, nxt, prev2, nxt2 = pad[1 : n + 1], pad[3 : n + 3], pad[0:n], pad[4 : n + 4]
    cols = (p1, prev, nxt, prev2, nxt2, np.maximum(prev, nxt), np.minimum(prev, nxt))
    return np.column_stack([_logit(c) for c in cols]) if n else np.zeros((0, len(NEIGHBOUR_FEATURES)))


def predict(x: np.ndarray, mean: np.ndarray, scale: np.ndarray, weights: np.ndarray) -> np.ndarray:
    z = ((x - mean) / scale) @ weights[:-1] + weights[-1]
    return 1.0 / (1.0 + np.exp(-z))


def line_probabilities(html: str, lines: list[str], words: list[int], model: LineModel) -> np.ndarray:
    """Pass-2 probability that each line belongs to the article."""
    x = line_features(html, lines, words)
    if not len(x):
        return np.zeros(0)
    p1 = predict(x, model.mean1, model.scale1, model.weights1)
    return predict(np.hstack([x, neighbour_features(p1)]), model.mean2, model.scale2, model.weights2)


def filter_lines(html: str, text: str, model: LineModel | None = None) -> tuple[str, float]:
    """Resiliparse's `text` without its boilerplate lines, and the page's unsure share of words.

    A page where no line reaches the threshold keeps its text whole (and is all unsure): the
    filter never empties a page on its own.
    """
    model = model or load_model()
    lines = split_lines(text)
    if not lines:
        return "", 1.0
    counts = [word_count(line) for line in lines]
    p = line_probabilities(html, lines, counts, model)
    words = np.asarray(counts, dtype=np.float64)
    lo, hi = UNSURE_BAND
    unsure = float(words[(p > lo) & (p < hi)].sum() / max(words.sum(), 1.0))
    keep = p >= model.threshold
    if not keep.any():
        return text.strip(), 1.0
    # Resiliparse's own layout stays: blank lines between blocks, one where several dropped lines were
    out: list[str] = []
    i = 0
    for raw in text.split("\n"):
        if raw.strip():
            if keep[i]:
                out.append(raw.strip())
            i += 1
        elif out and out[-1]:
            out.append("")
    return "\n".join(out).strip(), unsure
