"""Main-content extraction: the page's text without navigation, ads, comments and footers.

Three extractors, chosen per source by the manifest's ``extract.extractor``:

- ``trafilatura``: the quality reference (F1 0.958 on the article-extraction benchmark),
  pure Python over lxml, ~20-60 pages/s on one core;
- ``resiliparse``: main-content mode of Resiliparse's C++ HTML-to-text, ~10x faster but
  keeps more boilerplate ("related" blocks, some comment threads; precision ~0.89);
- ``cascade`` (default): Resiliparse first; trafilatura only where Resiliparse is unsure:
  the page marks up comment sections (the main thing Resiliparse keeps and trafilatura
  drops) at least ``min_markers`` times, or Resiliparse found under ``min_chars`` of text.

benchmarks/bench_extract.py measures all three in one run (benchmarks/RESULTS.md).
The effective parameters (``params``) go into the source declaration, so lineage says
how every source's text was made.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields
from typing import Any

EXTRACTORS = ("cascade", "trafilatura", "resiliparse")

#: Comment-section markup: ids/classes naming comments, Disqus threads or reply forms.
_COMMENT_MARKUP = re.compile(r"""(?:id|class)\s*=\s*["'][^"']*(?:comment|disqus|respond)""", re.I)


@dataclass(frozen=True)
class ExtractConfig:
    extractor: str = "cascade"
    #: cascade: escalate to trafilatura when comment markup occurs at least this often
    min_markers: int = 3
    #: cascade: ... or when Resiliparse's main content is shorter than this (characters)
    min_chars: int = 200
    #: trafilatura: skip its fallback extractors (readability, jusText): ~2x faster, same F1 here
    fast: bool = True
    include_tables: bool = False
    include_comments: bool = False
    favor_precision: bool = False

    def params(self) -> dict[str, Any]:
        """What lineage records: the extractor, its settings and the library versions."""
        from importlib.metadata import version

        out = asdict(self)
        libs = {"cascade": ("resiliparse", "trafilatura"), "trafilatura": ("trafilatura",),
                "resiliparse": ("resiliparse",)}[self.extractor]  # fmt: skip
        out["versions"] = {lib: version(lib) for lib in libs}
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
        if isinstance(default, bool):
            ok = isinstance(value, bool)
        elif isinstance(default, int):
            ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
        else:
            ok = isinstance(value, str) and value in EXTRACTORS
        if not ok:
            want = {bool: "true or false", int: "an integer >= 0"}.get(type(default), f"one of {', '.join(EXTRACTORS)}")
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


def unsure(html: str, fast_text: str, config: ExtractConfig) -> bool:
    """Whether the cascade hands a page to the slow extractor (see the module docstring)."""
    if len(fast_text.strip()) < config.min_chars:
        return True
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
    text = _resiliparse(html)
    if config.extractor == "cascade" and unsure(html, text, config):
        slow = _trafilatura(html, config)
        if slow.strip():  # trafilatura found nothing: keep what Resiliparse found
            return slow, "trafilatura"
    return text, "resiliparse"
