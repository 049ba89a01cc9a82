"""Rows, source plans and the ids ingestion will compute for them."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from curaline.records import make_doc_id, own_key, position_key

_WORD = re.compile(r"\w+")


@dataclass(eq=False)
class Row:
    """One record, raw line or text file of a source, with the cases planted in it.

    `raw` rows are written byte for byte (malformed input); a callable gets the row's
    own id, so even a broken line carries a plausible id. Ingestion cannot read the id
    of such a line, so its doc id is position based, like a text file's.
    """

    source_id: str
    record: dict[str, Any] | None = None
    raw: bytes | Callable[[str], bytes] | None = None
    name: str | None = None  # file name, text-format sources only
    cases: list[dict[str, Any]] = field(default_factory=list)
    own_id: str | None = None
    file: str | None = None  # relative to the source's root folder, set by the writer
    line: int | None = None  # 1-based line of jsonl/csv
    index: int | None = None  # 0-based index in a json array / parquet file

    @property
    def data(self) -> dict[str, Any]:
        if self.record is None:
            raise RuntimeError("raw row has no record")
        return self.record

    def plant(self, case: str, **fields: Any) -> Row:
        self.cases.append({"case": case, **fields})
        return self

    @property
    def id_readable(self) -> bool:
        return self.own_id is not None and self.raw is None

    @property
    def doc_id(self) -> str:
        if self.id_readable:
            assert self.own_id is not None
            return make_doc_id(self.source_id, own_key(self.own_id))
        if self.file is None:
            raise RuntimeError(f"row of {self.source_id} has no location yet")
        pos = self.line if self.line is not None else (self.index or 0)
        return make_doc_id(self.source_id, position_key(self.file, pos))

    def raw_bytes(self) -> bytes:
        assert self.raw is not None
        return self.raw(self.own_id or "") if callable(self.raw) else self.raw


@dataclass
class SourcePlan:
    """What one source will look like on disk: its manifest and its files' rows."""

    manifest: dict[str, Any]
    files: dict[str, list[Row]]
    columns: list[str] | None = None  # csv / parquet column order

    @property
    def source_id(self) -> str:
        return str(self.manifest["id"])

    @property
    def rows(self) -> list[Row]:
        return [row for rows in self.files.values() for row in rows]


def scaled(base: int, scale: float, minimum: int = 1) -> int:
    return max(minimum, round(base * scale))


def order_pairs(rows: list[Row], pairs: Iterable[tuple[Row, Row]]) -> None:
    """After a shuffle, put each pair's first row before its second (dedup keeps the
    earlier record of two with equal priority)."""
    for first, second in pairs:
        i, j = rows.index(first), rows.index(second)
        if j < i:
            rows[i], rows[j] = rows[j], rows[i]


def assign_ids(rows: list[Row], prefix: str, id_field: str, width: int = 6) -> None:
    for n, row in enumerate(rows, start=1):
        row.own_id = f"{prefix}-{n:0{width}d}"
        if row.record is not None:
            row.record[id_field] = row.own_id


def split(rows: list[Row], parts: int) -> list[list[Row]]:
    size = -(-len(rows) // parts)
    return [rows[i : i + size] for i in range(0, len(rows), size)]


class Distinct:
    """Rejects a text too similar (word 5-gram Jaccard) to one accepted before.

    Template text repeats; this keeps the only near duplicates the planted ones.
    """

    def __init__(self, limit: float = 0.35) -> None:
        self.limit = limit
        self.index: dict[tuple[str, ...], list[int]] = {}
        self.sizes: list[int] = []

    def accept(self, text: str) -> bool:
        tokens = _WORD.findall(text.lower())
        grams = {tuple(tokens[i : i + 5]) for i in range(max(1, len(tokens) - 4))}
        shared: dict[int, int] = {}
        for g in grams:
            for j in self.index.get(g, ()):
                shared[j] = shared.get(j, 0) + 1
        if any(c / (len(grams) + self.sizes[j] - c) > self.limit for j, c in shared.items()):
            return False
        for g in grams:
            self.index.setdefault(g, []).append(len(self.sizes))
        self.sizes.append(len(grams))
        return True

    def draw(self, make: Callable[[], Any], text_of: Callable[[Any], str], tries: int = 50) -> Any:
        """Call `make` until its result is distinct enough (or tries run out)."""
        for _ in range(tries):
            value = make()
            if self.accept(text_of(value)):
                return value
        raise RuntimeError("could not draw a distinct text; the bank is too small")
