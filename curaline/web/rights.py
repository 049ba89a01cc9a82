"""Text-and-data-mining rights reservations of one fetched page, from its headers and its HTML.

Signals (DSM Directive Art. 4(3) asks for machine-readable opt-outs; these are the ones
in use): the TDMRep protocol (W3C CG report: HTTP header ``tdm-reservation: 1`` or
``<meta name="tdm-reservation" content="1">``, with an optional ``tdm-policy`` URL),
and the ``noai`` / ``noimageai`` directives of ``X-Robots-Tag`` or ``<meta name="robots">``.
``noimageai`` is honoured as a reservation of the page too (conservative: the page's
images are part of what was fetched). An explicit ``tdm-reservation: 0`` is recorded as
evidence but reserves nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

#: Bytes of the page searched for <meta>/<link> tags: the head of any sane page.
HEAD_SCAN = 256 * 1024
_TAG = re.compile(r"<(meta|link)\b([^>]*)>", re.I)
_ATTR = re.compile(r"""([a-zA-Z_:][-\w:.]*)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""")
_HEAD_END = re.compile(r"</head\s*>|<body[\s>]", re.I)
ROBOTS_DIRECTIVES = ("noai", "noimageai")


@dataclass(frozen=True)
class Reservation:
    reserved: bool
    evidence: str | None  # "header:tdm-reservation=1; meta:robots=noai" (what was seen, where)
    policy: str | None  # the tdm-policy URL, when one is given


def _robots_directives(value: str) -> list[str]:
    """noai/noimageai in an X-Robots-Tag or robots meta value ("googlebot: noai, noimageai" too)."""
    out = []
    for part in re.split(r"[,\s]+", value.lower()):
        token = part.rsplit(":", 1)[-1].strip()
        if token in ROBOTS_DIRECTIVES and token not in out:
            out.append(token)
    return out


def _html_tags(html: str) -> Iterable[tuple[str, dict[str, str]]]:
    head = html[:HEAD_SCAN]
    end = _HEAD_END.search(head)
    if end is not None:
        head = head[: end.start()]
    for m in _TAG.finditer(head):
        attrs = {a.group(1).lower(): next(v for v in a.groups()[1:] if v is not None) for a in _ATTR.finditer(m.group(2))}
        yield m.group(1).lower(), attrs


def detect(headers: Iterable[tuple[str, str]], html: str) -> Reservation:
    """The page's reservation: headers first (they bind the whole response), then its <head>."""
    evidence: list[str] = []
    reserved = False
    policy: str | None = None
    for name, value in headers:
        key, val = name.strip().lower(), value.strip()
        if key == "tdm-reservation":
            evidence.append(f"header:tdm-reservation={val}")
            reserved |= val == "1"
        elif key == "tdm-policy" and val:
            policy = policy or val
        elif key == "x-robots-tag":
            for d in _robots_directives(val):
                evidence.append(f"header:x-robots-tag={d}")
                reserved = True
    for tag, attrs in _html_tags(html):
        name = attrs.get("name", "").strip().lower()
        content = attrs.get("content", "").strip()
        if tag == "meta" and name == "tdm-reservation":
            evidence.append(f"meta:tdm-reservation={content}")
            reserved |= content == "1"
        elif tag == "meta" and name == "tdm-policy" and content:
            policy = policy or content
        elif tag == "meta" and name == "robots":
            for d in _robots_directives(content):
                evidence.append(f"meta:{name}={d}")
                reserved = True
        elif tag == "link" and attrs.get("rel", "").strip().lower() == "tdm-policy" and attrs.get("href"):
            policy = policy or attrs["href"].strip()
    return Reservation(reserved, "; ".join(dict.fromkeys(evidence)) or None, policy)
