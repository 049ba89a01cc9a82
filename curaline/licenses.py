"""Licence classes: may a model trained on this data be used commercially?

Compliance staff need one answer per source and per release, not an SPDX expression,
so every expression is reduced to one class, following the Data Provenance
Initiative's licence table (Longpre et al. 2023, github.com/Data-Provenance-Initiative,
constants/license_classes.json: use = All / NC / Acad, share-alike flag):

- ``commercial``: any use, at most attribution (CC-BY, MIT, Apache-2.0, CC0 ...);
- ``share-alike``: any use, but derivatives carry conditions (CC-BY-SA, GPL, ODbL;
  the DPI table flags CC-BY-ND the same way, as a derivative restriction);
- ``non-commercial``: non-commercial use only (CC-BY-NC-*);
- ``academic-only``: academic research only (the DPI's "Acad" licences, e.g. "Academic
  Research Purposes Only"; no SPDX id exists, so projects map their ``LicenseRef-*``);
- ``unknown``: anything not in the table, including ``LicenseRef-*`` ids unless the
  project maps them.

``A AND B`` takes the most restrictive class (both licences apply), ``A OR B`` the
least restrictive (the licensee may choose). The table is built in, with no
dependency on ../shared, because classification runs inside every deployment.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache

COMMERCIAL = "commercial"
SHARE_ALIKE = "share-alike"
NON_COMMERCIAL = "non-commercial"
ACADEMIC_ONLY = "academic-only"
UNKNOWN = "unknown"

#: Classes from least to most restrictive; `unknown` is the most restrictive, so an
#: unclassified part can never make a release look more permissive than it is.
CLASSES = (COMMERCIAL, SHARE_ALIKE, NON_COMMERCIAL, ACADEMIC_ONLY, UNKNOWN)
_RANK = {c: i for i, c in enumerate(CLASSES)}

_CC_VERSIONS = ("1.0", "2.0", "2.5", "3.0", "4.0")


def _cc(variant: str) -> list[str]:
    return [f"CC-{variant}-{v}" for v in _CC_VERSIONS]


#: SPDX id (lower case) -> class. Sources: the DPI table above for the ids it lists;
#: the licence texts (spdx.org/licenses) for the usual permissive and copyleft rest.
_TABLE: dict[str, str] = {
    **{i: COMMERCIAL for i in [
        *_cc("BY"), "CC-BY-3.0-US", "CC-BY-3.0-DE", "CC-BY-3.0-AT", "CC0-1.0", "PDDL-1.0",
        "ODC-By-1.0", "CDLA-Permissive-1.0", "CDLA-Permissive-2.0", "OGL-UK-3.0",
        "MIT", "MIT-0", "Apache-2.0", "Apache-1.1", "BSD-2-Clause", "BSD-3-Clause", "0BSD", "ISC",
        "Unlicense", "Zlib", "BSL-1.0", "AFL-3.0", "Artistic-2.0", "EPL-1.0", "EPL-2.0",
        "MPL-2.0", "LGPL-2.1", "LGPL-2.1-only", "LGPL-2.1-or-later", "LGPL-3.0", "LGPL-3.0-only",
        "LGPL-3.0-or-later", "PSF-2.0", "Python-2.0", "WTFPL", "CC-PDDC", "Unicode-DFS-2016",
    ]},
    **{i: SHARE_ALIKE for i in [
        *_cc("BY-SA"), *_cc("BY-ND"), "ODbL-1.0", "CDLA-Sharing-1.0", "C-UDA-1.0",
        "GPL-2.0", "GPL-2.0-only", "GPL-2.0-or-later", "GPL-3.0", "GPL-3.0-only",
        "GPL-3.0-or-later", "AGPL-3.0", "AGPL-3.0-only", "AGPL-3.0-or-later",
        "GFDL-1.3", "GFDL-1.3-only", "GFDL-1.3-or-later", "GFDL-1.2-only", "GFDL-1.2-or-later",
        "EUPL-1.2", "OSL-3.0", "BigScience-OpenRAIL-M", "OpenRAIL-M", "CreativeML-OpenRAIL-M",
    ]},
    **{i: NON_COMMERCIAL for i in [
        *_cc("BY-NC"), *_cc("BY-NC-SA"), *_cc("BY-NC-ND"), "CC-BY-NC-SA-2.0-UK",
        "CC-BY-NC-SA-3.0-IGO", "CC-BY-NC-ND-3.0-IGO", "CC-BY-NC-SA-2.0-FR",
    ]},
}  # fmt: skip
TABLE: dict[str, str] = {k.lower(): v for k, v in _TABLE.items()}

_TOKEN = re.compile(r"\s*(\(|\)|[A-Za-z0-9.+:_-]+)")


class LicenseExpressionError(ValueError):
    pass


def _tokens(expr: str) -> list[str]:
    pos, out = 0, []
    expr = expr.strip()
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if not m:
            raise LicenseExpressionError(f"cannot parse licence expression {expr!r} at {pos}")
        out.append(m.group(1))
        pos = m.end()
    return out


def _most(classes: list[str]) -> str:
    return max(classes, key=_RANK.__getitem__)


def _least(classes: list[str]) -> str:
    return min(classes, key=_RANK.__getitem__)


def classify_id(spdx_id: str, custom: Mapping[str, str] | None = None) -> str:
    """The class of one licence id (``+`` suffix and ``WITH`` exceptions keep the base)."""
    if custom:
        for key, cls in custom.items():
            if key.lower() == spdx_id.lower():
                if cls not in _RANK:
                    raise ValueError(f"licence class for {key!r} must be one of {', '.join(CLASSES)}, got {cls!r}")
                return cls
    return TABLE.get(spdx_id.lower().removesuffix("+"), UNKNOWN)


def classify(expression: str | None, custom: Mapping[str, str] | None = None) -> str:
    """The class of an SPDX expression: AND -> most restrictive, OR -> least restrictive.

    ``custom`` maps ids (typically ``LicenseRef-*``) to a class, from the project config.
    """
    if not expression or not expression.strip():
        return UNKNOWN
    if custom:
        return _classify(expression, tuple(sorted(custom.items())))
    return _classify(expression, ())


@lru_cache(maxsize=4096)
def _classify(expression: str, custom: tuple[tuple[str, str], ...]) -> str:
    tokens = _tokens(expression)
    table = dict(custom)
    pos = 0

    def peek() -> str | None:
        return tokens[pos] if pos < len(tokens) else None

    def take() -> str:
        nonlocal pos
        if pos >= len(tokens):
            raise LicenseExpressionError(f"unexpected end of licence expression {expression!r}")
        pos += 1
        return tokens[pos - 1]

    def atom() -> str:
        tok = take()
        if tok == "(":
            cls = disjunction()
            if take() != ")":
                raise LicenseExpressionError(f"missing ')' in {expression!r}")
            return cls
        if tok.upper() in ("AND", "OR", "WITH", ")"):
            raise LicenseExpressionError(f"unexpected {tok!r} in {expression!r}")
        cls = classify_id(tok, table)
        if (peek() or "").upper() == "WITH":
            take()
            take()  # the exception id: exceptions only relax the base licence
        return cls

    def conjunction() -> str:
        parts = [atom()]
        while (peek() or "").upper() == "AND":
            take()
            parts.append(atom())
        return _most(parts)

    def disjunction() -> str:
        parts = [conjunction()]
        while (peek() or "").upper() == "OR":
            take()
            parts.append(conjunction())
        return _least(parts)

    result = disjunction()
    if pos != len(tokens):
        raise LicenseExpressionError(f"unexpected {tokens[pos]!r} in {expression!r}")
    return result


def most_restrictive(classes: list[str]) -> str:
    """The class of data mixed from several licences (a release): the most restrictive."""
    return _most(classes) if classes else UNKNOWN


# ---- the release gate's rules ----------------------------------------------------------

#: Intended uses of a release and the licence classes each may contain. `unknown` is
#: never allowed: data whose terms nobody knows cannot be used for anything.
USES = ("commercial", "internal", "research")
ALLOWED_CLASSES: dict[str, tuple[str, ...]] = {
    # a deployed product: any-use licences only; share-alike obligations go into the card
    "commercial": (COMMERCIAL, SHARE_ALIKE),
    # a company's internal models still give it a commercial advantage, which NC forbids
    "internal": (COMMERCIAL, SHARE_ALIKE),
    "research": (COMMERCIAL, SHARE_ALIKE, NON_COMMERCIAL, ACADEMIC_ONLY),
}
#: Uses for which synthetic data from a generator whose terms forbid building competing
#: models is excluded (the DPI treats OpenAI-generated data so: Longpre et al. 2023, §3).
GENERATOR_TERMS_BLOCK = ("commercial",)

RESTRICTED = "restricted"
PERMITTED = "permitted"
#: Generator families whose terms of use forbid using outputs to develop competing
#: models: OpenAI (Terms of Use, "What you cannot do"; the DPI's `OpenAI` model group),
#: Anthropic (Commercial Terms §D.4), Google Gemini (Gemini API Additional Terms).
#: Matched case-insensitively as substrings of the manifest's `synthetic.generator`.
RESTRICTED_GENERATORS = (
    "openai", "gpt-3", "gpt-4", "gpt-5", "gpt3", "gpt4", "chatgpt", "codex", "text-davinci",
    "o1-", "o3-", "anthropic", "claude", "gemini", "bard", "palm-2", "palm 2",
)  # fmt: skip


def generator_terms(generator: str | None, custom: Mapping[str, str] | None = None) -> str:
    """Whether a synthetic source's generator terms forbid competing use: restricted | permitted.

    ``custom`` (the project's ``generator_terms``) maps a generator name to either value
    and wins over the built-in list, because only the project knows its agreements.
    """
    if not generator:
        return PERMITTED
    for name, verdict in (custom or {}).items():
        if name.lower() == generator.lower():
            if verdict not in (RESTRICTED, PERMITTED):
                raise ValueError(f"generator_terms for {name!r} must be {RESTRICTED} or {PERMITTED}, got {verdict!r}")
            return verdict
    low = generator.lower()
    return RESTRICTED if any(p in low for p in RESTRICTED_GENERATORS) else PERMITTED
