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
from typing import Any

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


#: The ledger's reason for a page found reserved (action "flag" at raw_records; the release gate's
#: removals carry the same reason, action "drop").
REASON = "tdm_reserved"
#: What a web source's raw_records ledger files say in their footer (`checks`): every record of the
#: shard was looked at for a reservation, so no flag row means none was found (files without it
#: were written before reservations were ledger rows: their count is not known).
CHECK = REASON


def page_host(url: str | None) -> str:
    """The host a reservation is counted under: the URL's host name, lower-cased ("none" without one),
    as the release gate's `_HOST_SQL` extracts it."""
    from urllib.parse import urlsplit

    try:
        host = urlsplit(url or "").hostname
    except ValueError:
        host = None
    return host or "none"


def reservation_events(table: Any) -> Any:
    """Ledger events (EVENT_SCHEMA, action "flag", reason `REASON`) for the reserved pages of one
    batch of web records: the detail holds the page's host and the evidence, "host=news.example;
    header:tdm-reservation=1; policy=https://news.example/tdm.json" (no record text)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from curaline.kernels.base import empty_events, make_events

    if "tdm_reserved" not in table.column_names or not table.num_rows:
        return empty_events()
    reserved = table.filter(pc.fill_null(table["tdm_reserved"], False))
    if not reserved.num_rows:
        return empty_events()
    cols = {c: reserved[c].to_pylist() if c in reserved.column_names else [None] * reserved.num_rows
            for c in ("url", "tdm_evidence", "tdm_policy")}  # fmt: skip
    details = ["; ".join([f"host={page_host(u)}", e or "reserved", *([f"policy={p}"] if p else [])])
               for u, e, p in zip(cols["url"], cols["tdm_evidence"], cols["tdm_policy"], strict=True)]  # fmt: skip
    return make_events(reserved["doc_id"].combine_chunks().cast(pa.string()), "flag", REASON, detail=details)
