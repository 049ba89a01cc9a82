"""URL filters: domain and URL blocklists the project provides; an allow-list overrides them.

Lists are files in the project (curaline.yaml `stages.url_filtered`, paths relative to the
project root), in two layouts:

- plain lists, one entry a line (``#`` comments, blank lines ignored): ``domains`` (a
  domain blocks itself and every subdomain), ``urls`` (a URL prefix, scheme ignored, cut
  at a ``/`` boundary) and ``patterns`` (regular expressions searched in the URL);
- the UT1 blacklist layout (Université Toulouse Capitole): a folder per category, each
  with ``domains``, ``urls`` and optional ``expressions`` files; ``ut1_categories`` picks
  categories (default: all).

Every list is its own reason in the ledger: ``url_blocklist:<file stem>`` for a plain list,
``url_blocklist:ut1/<category>`` for a UT1 category, with the matching entry as detail. A
record whose host or URL is on an allow-list is kept whatever the blocklists say.
Decisions are made once per distinct URL of a batch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from curaline.kernels.base import KernelResult, empty_events, make_events

SIGNAL_COLUMNS = {"url_list_hits": pa.int8()}
_SPLIT = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


@dataclass(frozen=True)
class UrlFilterConfig:
    domains: tuple[str, ...] = ()  #: plain domain lists
    urls: tuple[str, ...] = ()  #: plain URL-prefix lists
    patterns: tuple[str, ...] = ()  #: plain lists of regular expressions
    ut1: tuple[str, ...] = ()  #: UT1 blacklist folders (<folder>/<category>/domains, urls, expressions)
    ut1_categories: tuple[str, ...] = ()  #: UT1 categories to use (default: every category found)
    allow: tuple[str, ...] = ()  #: allow-lists: domains or URL prefixes never filtered


@dataclass
class BlockList:
    name: str  # the ledger reason: url_blocklist:<name>
    domains: set[str] = field(default_factory=set)
    urls: set[str] = field(default_factory=set)
    patterns: list[re.Pattern[str]] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.domains) + len(self.urls) + len(self.patterns)


def _entries(path: Path) -> list[tuple[int, str]]:
    out = []
    with path.open(encoding="utf-8", errors="replace") as fh:
        for n, line in enumerate(fh, start=1):
            entry = line.split("#", 1)[0].strip() if not line.lstrip().startswith("#") else ""
            if entry:
                out.append((n, entry))
    return out


def url_key(url: str) -> tuple[str, str]:
    """(host, host + path) of a URL, lower-case, without scheme, credentials, port or www."""
    rest = _SPLIT.sub("", url.strip())
    hostport, _, path = rest.partition("/")
    host = hostport.rsplit("@", 1)[-1].split(":", 1)[0].rstrip(".").lower()
    host = host.removeprefix("www.")
    return host, f"{host}/{path}".rstrip("/").lower() if path else host


def _entry_key(entry: str) -> str:
    return url_key(entry)[1]


class UrlFilters:
    """Compiled lists: what the kernel receives as its config."""

    def __init__(self, lists: list[BlockList], allow_domains: set[str], allow_urls: set[str]) -> None:
        self.lists, self.allow_domains, self.allow_urls = lists, allow_domains, allow_urls

    def __repr__(self) -> str:
        parts = ", ".join(f"{b.name} ({b.size})" for b in self.lists) or "none"
        return f"UrlFilters(blocklists: {parts}; allow-list entries: {len(self.allow_domains) + len(self.allow_urls)})"

    def content_digest(self) -> str:
        """A hash of every entry (the repr only counts them): a committed shard filtered with other
        lists of the same sizes must not be taken as done (curaline.shards.phase)."""
        import hashlib

        h = hashlib.sha256()
        for b in self.lists:
            h.update(f"\x1e{b.name}".encode())
            for part in (sorted(b.domains), sorted(b.urls), [p.pattern for p in b.patterns]):
                h.update(("\x1d" + "\x1f".join(part)).encode())
        for part in (sorted(self.allow_domains), sorted(self.allow_urls)):
            h.update(("\x1c" + "\x1f".join(part)).encode())
        return h.hexdigest()

    @staticmethod
    def _domain_hit(host: str, domains: set[str]) -> str | None:
        labels = host.split(".")
        for i in range(len(labels)):
            candidate = ".".join(labels[i:])
            if candidate in domains:
                return candidate
        return None

    @staticmethod
    def _url_hit(key: str, urls: set[str]) -> str | None:
        cut = key
        while True:
            if cut in urls:
                return cut
            if "/" not in cut:
                return None
            cut = cut.rsplit("/", 1)[0]

    def decide(self, url: str) -> tuple[bool, list[tuple[str, str]]]:
        """(allowed by an allow-list, [(list name, matching entry), ...])."""
        host, key = url_key(url)
        hits = []
        for b in self.lists:
            entry = self._domain_hit(host, b.domains) or self._url_hit(key, b.urls)
            if entry is None:
                entry = next((p.pattern for p in b.patterns if p.search(url)), None)
            if entry is not None:
                hits.append((b.name, entry))
        allowed = bool(self._domain_hit(host, self.allow_domains) or self._url_hit(key, self.allow_urls))
        return allowed, hits


def list_files(config: UrlFilterConfig) -> tuple[str, ...]:
    """Every list file and UT1 folder the config names (relative to the project root, as written):
    the url_filtered stage's DVC deps (curaline.stages), so editing a list makes it changed."""
    named = (config.domains, config.urls, config.patterns, config.ut1, config.allow)
    return tuple(dict.fromkeys(p for v in named for p in ((v,) if isinstance(v, str) else v)))


def load_filters(root: Path, config: UrlFilterConfig, setting: str = "stages.url_filtered") -> UrlFilters:
    """Read every list the config names; a missing file or a bad regex is an error naming it."""
    def path_of(rel: str, key: str) -> Path:
        path = (root / rel).resolve()
        if not path.exists():
            raise ValueError(f"{setting}.{key}: {rel!r} does not exist (relative to {root})")
        return path

    lists: list[BlockList] = []

    def compile_patterns(path: Path) -> list[re.Pattern[str]]:
        out = []
        for n, entry in _entries(path):
            try:
                out.append(re.compile(entry))
            except re.error as exc:
                raise ValueError(f"{path}:{n}: not a regular expression ({exc}): {entry!r}") from None
        return out

    for key in ("domains", "urls", "patterns"):
        for rel in getattr(config, key):
            path = path_of(rel, key)
            b = BlockList(path.stem)
            if key == "domains":
                b.domains = {url_key(e)[0] for _, e in _entries(path)}
            elif key == "urls":
                b.urls = {_entry_key(e) for _, e in _entries(path)}
            else:
                b.patterns = compile_patterns(path)
            lists.append(b)
    for rel in config.ut1:
        folder = path_of(rel, "ut1")
        categories = sorted(p.name for p in folder.iterdir() if p.is_dir())
        unknown = sorted(set(config.ut1_categories) - set(categories))
        if unknown:
            raise ValueError(f"{setting}.ut1_categories: {', '.join(unknown)} not in {rel} "
                             f"(categories: {', '.join(categories[:20])})")  # fmt: skip
        for cat in config.ut1_categories or categories:
            b = BlockList(f"ut1/{cat}")
            if (folder / cat / "domains").is_file():
                b.domains = {url_key(e)[0] for _, e in _entries(folder / cat / "domains")}
            if (folder / cat / "urls").is_file():
                b.urls = {_entry_key(e) for _, e in _entries(folder / cat / "urls")}
            if (folder / cat / "expressions").is_file():
                b.patterns = compile_patterns(folder / cat / "expressions")
            lists.append(b)
    allow_domains: set[str] = set()
    allow_urls: set[str] = set()
    for rel in config.allow:
        for _, entry in _entries(path_of(rel, "allow")):
            host, key = url_key(entry)
            (allow_urls if key != host else allow_domains).add(key)
    return UrlFilters(lists, allow_domains, allow_urls)


def filter_urls(table: pa.Table, *, kind: str, config: UrlFilters) -> KernelResult:
    """Drop records whose URL a blocklist names (first list in config order is the reason)."""
    n = table.num_rows
    hits_col = np.zeros(n, dtype=np.int8)
    keep = np.ones(n, dtype=bool)
    if "url" not in table.column_names or not config.lists or n == 0:
        out = table.append_column("url_list_hits", pa.array(hits_col)) if "url_list_hits" not in table.column_names else table
        return KernelResult(out, keep, empty_events())
    urls = table["url"].to_pylist()
    decided: dict[str, tuple[bool, list[tuple[str, str]]]] = {}
    dropped, reasons, details = [], [], []
    ids = table["doc_id"].to_pylist()
    for i, url in enumerate(urls):
        if not url:
            continue
        if url not in decided:
            decided[url] = config.decide(url)
        allowed, hits = decided[url]
        hits_col[i] = min(len(hits), 127)
        if hits and not allowed:
            keep[i] = False
            dropped.append(ids[i])
            reasons.append(f"url_blocklist:{hits[0][0]}")
            details.append("; ".join(f"{name}={entry}" for name, entry in hits)[:300])
    out = table.drop_columns(["url_list_hits"]) if "url_list_hits" in table.column_names else table
    out = out.append_column("url_list_hits", pa.array(hits_col))
    events = make_events(dropped, "drop", reasons, detail=details) if dropped else empty_events()
    return KernelResult(out, keep, events)
