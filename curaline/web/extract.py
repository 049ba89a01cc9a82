"""Main-content extraction: the page's text without navigation, ads, comments and footers.

Three extractors, chosen per source by the manifest's ``extract.extractor``:

- ``trafilatura``: the quality reference (F1 0.958 on the article-extraction benchmark),
  pure Python over lxml, ~20-60 pages/s on one core;
- ``resiliparse``: main-content mode of Resiliparse's C++ HTML-to-text, ~10x faster but
  keeps more boilerplate ("related" blocks, some comment threads; precision ~0.89);
- ``cascade`` (default): Resiliparse first; trafilatura only where Resiliparse is unsure:
  Resiliparse found under ``min_chars`` of text, or, with ``signal: lines`` (default), the
  line filter (curaline.web.boilerplate) is unsure about at least ``max_unsure`` of the
  page's words; with ``signal: markup`` the page marks up comment sections at least
  ``min_markers`` times; with ``signal: score``, a linear estimate of trafilatura's F1 gain
  from cheap features of the page and Resiliparse's text reaches ``min_gain``.

With ``line_filter`` (default on), Resiliparse's text loses the lines the line filter
judges boilerplate (bylines, captions, teasers, share prompts): the main reason
Resiliparse scored under trafilatura. Both the filter and the ``score`` signal were fit on
one half of a benchmark and are measured on the other (benchmarks/RESULTS.md).

benchmarks/bench_extract.py measures all three in one run (benchmarks/RESULTS.md).
The effective parameters (``params``) go into the source declaration, so lineage says
how every source's text was made.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, fields
from typing import Any

from curaline.web.boilerplate import ANCHOR_TEXT, FITTED_MAX_UNSURE, filter_lines, load_model

EXTRACTORS = ("cascade", "trafilatura", "resiliparse")
SIGNALS = ("lines", "markup", "score")

#: Comment-section markup: ids/classes naming comments, Disqus threads or reply forms.
_COMMENT_MARKUP = re.compile(r"""(?:id|class)\s*=\s*["'][^"']*(?:comment|disqus|respond)""", re.I)
#: <article> elements (more than one: teasers of other articles).
_ARTICLE = re.compile(r"<article\b", re.I)
#: sentence ends as the score signal was fit with (boilerplate.py's line filter also knows CJK ones)
_SENTENCE_END = re.compile(r"""[.!?:;"')\u201d]$""")

#: The cascade's "score" signal: cheap features of the page and of Resiliparse's text, and the
#: weights of a linear estimate of trafilatura's per-page F1 gain over Resiliparse, fit (ridge) on
#: one half of the article-extraction benchmark (pages whose key's md5 is even) and reported on
#: the other (benchmarks/RESULTS.md). A page goes to trafilatura when the estimate reaches
#: `min_gain`, or when Resiliparse found under `min_chars`.
SCORE_FEATURES = ("no_end_frac", "no_end_tail", "articles", "log_chars", "link_frac", "short_frac", "log_lines",
                  "log_mean_line", "text_ratio", "last_short")  # fmt: skip
SCORE_WEIGHTS = (0.243359, 0.099149, 0.003663, 0.021703, 1.237028, -1.147655, 0.016499, -0.068922, -0.076205, 0.015956)
SCORE_BIAS = 0.172236
#: the threshold at which the tuning half reached trafilatura's F1 less 0.01 (21 of its 86 pages escalated)
SCORE_MIN_GAIN = 0.0563


@dataclass(frozen=True)
class ExtractConfig:
    extractor: str = "cascade"
    #: cascade: escalate to trafilatura when comment markup occurs at least this often
    min_markers: int = 3
    #: cascade: ... or when Resiliparse's main content is shorter than this (characters)
    min_chars: int = 200
    #: cascade: which "unsure" signal sends a page to trafilatura: "lines" (the line filter's unsure
    #: share of words against max_unsure), "markup" (comment markup counted against min_markers) or
    #: "score" (the linear estimate of SCORE_FEATURES against min_gain)
    signal: str = "lines"
    #: Resiliparse's text loses the lines the line filter judges boilerplate
    line_filter: bool = True
    #: cascade, signal "lines": the unsure share of a page's words at which it goes to trafilatura
    max_unsure: float = FITTED_MAX_UNSURE
    #: cascade, signal "score": the estimated F1 gain at which a page goes to trafilatura
    min_gain: float = SCORE_MIN_GAIN
    #: trafilatura: skip its fallback extractors (readability, jusText): ~2x faster, same F1 here
    fast: bool = True
    include_tables: bool = False
    include_comments: bool = False
    favor_precision: bool = False

    @property
    def runs_line_filter(self) -> bool:
        """Whether Resiliparse's text goes through the line filter: to be filtered, or to be judged."""
        return self.extractor != "trafilatura" and (
            self.line_filter or (self.extractor == "cascade" and self.signal == "lines")
        )

    def params(self) -> dict[str, Any]:
        """What lineage records: the extractor, its settings and the library versions."""
        from importlib.metadata import version

        out = asdict(self)
        libs = {"cascade": ("resiliparse", "trafilatura"), "trafilatura": ("trafilatura",),
                "resiliparse": ("resiliparse",)}[self.extractor]  # fmt: skip
        out["versions"] = {lib: version(lib) for lib in libs}
        if self.runs_line_filter:
            out["line_model"] = {"file": "curaline/web/line_filter.json", "sha256": load_model().sha256}
        return out


def parse_config(raw: object) -> tuple[ExtractConfig, list[tuple[str, str]]]:
    """A manifest's ``extract:`` mapping checked strictly; problems as (field, message)."""
    if raw is None:
        return ExtractConfig(), []
    if not isinstance(raw, dict):
        return ExtractConfig(), [("extract", f"must be a mapping (extractor, ...), got {raw!r}")]
    problems: list[tuple[str, str]] = []
    known = {f.name: f for f in fields(ExtractConfig)}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        f = known.get(str(key))
        if f is None:
            problems.append((f"extract.{key}", f"unknown key; allowed: {', '.join(known)}"))
            continue
        default = f.default
        choices = SIGNALS if f.name == "signal" else EXTRACTORS
        if isinstance(default, bool):
            ok = isinstance(value, bool)
        elif isinstance(default, int):
            ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
        elif isinstance(default, float):
            ok = isinstance(value, int | float) and not isinstance(value, bool) and -1 <= value <= 1
        else:
            ok = isinstance(value, str) and value in choices
        if not ok:
            want = {bool: "true or false", int: "an integer >= 0", float: "a number between -1 and 1"}.get(
                type(default), f"one of {', '.join(choices)}"
            )
            problems.append((f"extract.{key}", f"{value!r} is not allowed; must be {want}"))
            continue
        values[str(key)] = value
    return ExtractConfig(**values), problems


def _trafilatura(html: str, config: ExtractConfig) -> str:
    import trafilatura

    return trafilatura.extract(
        html, fast=config.fast, include_tables=config.include_tables, include_comments=config.include_comments,
        favor_precision=config.favor_precision, deduplicate=False,
    ) or ""  # fmt: skip


def _resiliparse(html: str) -> str:
    from resiliparse.extract.html2text import extract_plain_text

    # comments/post_meta off: comment threads and bylines are not the article (precision 0.86 -> 0.89)
    return extract_plain_text(html, main_content=True, alt_texts=False, links=False, list_bullets=False,
                              form_fields=False, noscript=False, comments=False, post_meta=False)  # fmt: skip


def page_features(html: str, text: str) -> list[float]:
    """SCORE_FEATURES of a page and Resiliparse's text of it (a few regex passes over the HTML)."""
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    n = max(len(lines), 1)
    chars = sum(len(line) for line in lines) or 1
    tail = lines[int(n * 0.6) :] or lines
    tail_chars = sum(len(line) for line in tail) or 1
    anchors = {a.strip() for a in ANCHOR_TEXT.findall(html)}
    return [
        sum(len(line) for line in lines if not _SENTENCE_END.search(line)) / chars,
        sum(len(line) for line in tail if not _SENTENCE_END.search(line)) / tail_chars,
        min(len(_ARTICLE.findall(html)), 20),
        math.log1p(chars),
        sum(len(line) for line in lines if line in anchors) / chars,
        sum(len(line) for line in lines if len(line) < 60) / chars,
        math.log1p(n),
        math.log1p(chars / n),
        chars / max(len(html), 1),
        sum(len(line) < 60 for line in lines[-10:]) / min(n, 10),
    ]


def gain_score(html: str, text: str) -> float:
    """The estimated F1 gain of trafilatura over Resiliparse's `text` on this page."""
    return SCORE_BIAS + sum(w * x for w, x in zip(SCORE_WEIGHTS, page_features(html, text), strict=True))


def unsure(html: str, fast_text: str, config: ExtractConfig, unsure_share: float | None = None) -> bool:
    """Whether the cascade hands a page to the slow extractor (see the module docstring).

    `unsure_share`: the line filter's, when the caller has already run it on `fast_text`.
    """
    if len(fast_text.strip()) < config.min_chars:
        return True
    if config.signal == "lines":
        if unsure_share is None:
            unsure_share = filter_lines(html, fast_text)[1]
        return unsure_share >= config.max_unsure
    if config.signal == "score":
        return gain_score(html, fast_text) >= config.min_gain
    markers = 0
    for _ in _COMMENT_MARKUP.finditer(html):
        markers += 1
        if markers >= config.min_markers:
            return True
    return False


def extract(html: str, config: ExtractConfig) -> tuple[str, str]:
    """The page's main text and the extractor that produced it."""
    if config.extractor == "trafilatura":
        return _trafilatura(html, config), "trafilatura"
    raw = _resiliparse(html)
    text, share = filter_lines(html, raw) if config.runs_line_filter else (raw, None)
    if config.extractor == "cascade":
        # the lines signal judges the filtered text; markup and score were fit on Resiliparse's own
        fast = text if config.signal == "lines" else raw
        if unsure(html, fast, config, share):
            slow = _trafilatura(html, config)
            if slow.strip():  # trafilatura found nothing: keep what Resiliparse found
                return slow, "trafilatura"
    return (text if config.line_filter else raw), "resiliparse"
