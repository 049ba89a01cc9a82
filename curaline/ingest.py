"""Ingestion: stream a source's files into Arrow batches of records, quarantining bad input.

Every input record either becomes a row with a stable doc_id or a quarantine row naming
the file, the line (or row) and the reason, so `read = ingested + quarantined` holds
for every source and nothing is lost silently. Files are read one at a time in bounded
batches, so the size of a source never sets the memory of a run.
"""

from __future__ import annotations

import csv
import gzip
import sys
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from hashlib import blake2b
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curaline.project import IngestConfig
from curaline.records import EXTRA_COLUMNS, TEXT_COLUMNS, canonical_label, make_doc_id, own_key, position_key
from curaline.safe_paths import source_file_problem
from curaline.sources import FieldRef, SourceManifest

QUARANTINE_REASONS = (
    "malformed_json",  # a line or file that is not valid JSON
    "not_an_object",  # valid JSON, but not a record (object)
    "malformed_csv",  # the CSV reader could not split the row, or its cell count is not the header's
    "undecodable_bytes",  # bytes that are not UTF-8
    "missing_field",  # a mapped field is absent or null
    "wrong_type",  # a mapped text field holds a number, list, ...
    "empty_text",  # a required text field is empty or whitespace
    "oversize_record",  # more text than ingest.max_record_chars
    "duplicate_source_id",  # the source's own id seen twice in one source
    "unreadable_file",  # cannot open, bad gzip, corrupt parquet, truncated
    "label_not_in_set",  # an annotation's label (or gold) is not one of the manifest's labels
    "non_numeric_label",  # an interval annotation's label (or gold) is not a number
    "duplicate_judgement",  # the same annotator judged the same item of the same task twice
)

#: The reasons only annotation sources give (tests/test_annotation_ingest.py covers them).
ANNOTATION_QUARANTINE_REASONS = ("label_not_in_set", "non_numeric_label", "duplicate_judgement")

QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("source_id", pa.string(), nullable=False),
        pa.field("file", pa.string(), nullable=False),  # relative to the source root
        pa.field("line", pa.int64()),  # 1-based line (line formats)
        pa.field("row", pa.int64()),  # 0-based row (json arrays, parquet)
        pa.field("byte_offset", pa.int64()),  # where undecodable bytes start
        pa.field("reason", pa.string(), nullable=False),
        pa.field("field", pa.string()),  # the curaline field at fault, if any
        pa.field("detail", pa.string(), nullable=False),
        pa.field("raw", pa.binary()),  # the offending bytes (capped), for repair
    ]
)

RAW_CAP = 64 * 1024  # bytes of a quarantined record kept for repair
#: annotation columns whose values may be numbers in the source (canonicalized, not str()'d)
_LABEL_COLUMNS = ("label", "gold")


def _number(value: Any) -> float | None:
    """A float from a number or a numeric string; None for anything else (bool included)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if number == number and abs(number) != float("inf") else None


def record_schema(kind: str) -> pa.Schema:
    """The columns of ingested records of a kind."""
    text_fields = [pa.field(c, pa.string()) for c in TEXT_COLUMNS[kind]]
    text_fields += [pa.field(c, pa.type_for_alias(t)) for c, t in EXTRA_COLUMNS[kind]]
    return pa.schema(
        [
            pa.field("doc_id", pa.string(), nullable=False),
            pa.field("source_id", pa.string(), nullable=False),
            pa.field("license", pa.string(), nullable=False),
            pa.field("content_hash", pa.string(), nullable=False),
            pa.field("source_record_id", pa.string()),
            pa.field("source_file", pa.string(), nullable=False),
            pa.field("source_line", pa.int64()),
            pa.field("source_row", pa.int64()),
            *text_fields,
        ]
    )


def content_hash(values: list[str | None]) -> str:
    """Hash of a record's text fields, in kind order; the exact-dedup key before cleaning."""
    h = blake2b(digest_size=16)
    for v in values:
        h.update(b"\x1e" if v is None else v.encode("utf-8", "surrogatepass"))
        h.update(b"\x1f")
    return h.hexdigest()


@dataclass
class _Item:
    """One input record before mapping: its position, and its parsed object or its fault."""

    file: str
    line: int | None
    row: int | None
    obj: Any = None
    raw: bytes = b""
    reason: str | None = None
    detail: str = ""
    byte_offset: int | None = None


@dataclass
class IngestStats:
    read: int = 0
    ingested: int = 0
    quarantined: Counter[str] = field(default_factory=Counter)
    files: int = 0
    blank_lines: int = 0
    #: oasst: message trees read, and those that imply no pair (no two ranked replies)
    trees: int = 0
    trees_without_pairs: int = 0
    #: records removed by takedown requests (curaline.takedown) before they were written
    taken_down: int = 0
    takedown_events: pa.Table | None = None

    @property
    def quarantined_total(self) -> int:
        return sum(self.quarantined.values())

    @property
    def balanced(self) -> bool:
        return self.read == self.ingested + self.quarantined_total + self.taken_down


@dataclass
class Batch:
    records: pa.Table
    quarantine: pa.Table


def _skip_line(fh: Any, chunk: int = 1 << 20) -> int:
    """Read to the end of the current line in bounded chunks; the bytes skipped."""
    skipped = 0
    while True:
        part = fh.readline(chunk)
        skipped += len(part)
        if not part or part.endswith(b"\n"):
            return skipped


def _lookup(obj: Any, ref: str | int) -> tuple[bool, Any]:
    """Find a source field: a column index, a key, or a dotted path into nested objects."""
    if isinstance(ref, int):
        if isinstance(obj, list) and 0 <= ref < len(obj):
            return True, obj[ref]
        return False, None
    if not isinstance(obj, dict):
        return False, None
    if ref in obj:
        return True, obj[ref]
    cur: Any = obj
    for part in ref.split("."):
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        elif isinstance(cur, list) and part.lstrip("-").isdigit() and -len(cur) <= int(part) < len(cur):
            cur = cur[int(part)]  # "conversations.0.value", "-1" = last turn
        else:
            return False, None
    return True, cur


class SourceReader:
    """Reads one source's files as batches of records and quarantine rows."""

    def __init__(self, manifest: SourceManifest, config: IngestConfig | None = None):
        self.m = manifest
        self.config = config or IngestConfig()
        self.schema = record_schema(manifest.kind)
        self.text_columns = TEXT_COLUMNS[manifest.kind]
        self.stats = IngestStats()
        self._seen_ids: set[str] = set()
        self._refs: dict[str, FieldRef] = dict(manifest.fields)
        if manifest.kind in ("document", "evaluation"):
            self._refs.setdefault("text", "text")
        if manifest.format == "oasst":  # pairs made by _oasst carry curaline's own names
            self._refs = {name: name for name in ("id", "prompt", "chosen", "rejected", "margin", "group")}
        self._extra = EXTRA_COLUMNS[manifest.kind]
        self._label_index = {label: i for i, label in enumerate(manifest.labels)}
        self._seen_judgements: dict[tuple[str, str, str], str] = {}

    # ---- reading: every format yields _Item, one per input record -----------------

    def _items(self, path: Path, rel: str) -> Iterator[_Item]:
        fmt = self.m.format
        try:
            if fmt in ("jsonl", "jsonl.gz"):
                yield from self._jsonl(path, rel)
            elif fmt == "json":
                yield from self._json(path, rel)
            elif fmt == "csv":
                yield from self._csv(path, rel)
            elif fmt == "parquet":
                yield from self._parquet(path, rel)
            elif fmt == "oasst":
                from curaline.oasst import oasst_pairs

                yield from (_Item(**item) for item in oasst_pairs(path, rel, self.stats))
            else:
                yield from self._text(path, rel)
        except (OSError, EOFError, zlib.error, pa.ArrowException) as exc:
            yield _Item(rel, None, None, reason="unreadable_file", detail=f"{type(exc).__name__}: {exc}")

    def _jsonl(self, path: Path, rel: str, begin: int = 0, end: int | None = None, first_line: int = 1) -> Iterator[_Item]:
        """The lines of a file, or of its bytes [begin, end) whose first line is first_line (a shard)."""
        opener = gzip.open if self.m.format == "jsonl.gz" or path.suffix == ".gz" else open
        offset = begin
        limit = self.config.max_line_bytes
        with opener(path, "rb") as fh:
            if begin:
                fh.seek(begin)
            for lineno, raw in enumerate(iter(lambda: fh.readline(limit + 1), b""), start=first_line):
                if end is not None and offset >= end:
                    break
                start = offset
                offset += len(raw)
                if len(raw) > limit and not raw.endswith(b"\n"):
                    size = len(raw) + _skip_line(fh)
                    offset = start + size
                    yield _Item(rel, lineno, None, raw=raw[:RAW_CAP], reason="oversize_record", byte_offset=start,
                                detail=f"a line of {size} bytes > ingest.max_line_bytes {limit}: not read whole")  # fmt: skip
                    continue
                line = raw.rstrip(b"\r\n")
                if lineno == 1 and line.startswith(b"\xef\xbb\xbf"):
                    line = line[3:]
                if not line.strip():
                    self.stats.blank_lines += 1
                    continue
                try:
                    text = line.decode("utf-8")
                except UnicodeDecodeError as exc:
                    yield _Item(rel, lineno, None, raw=line, reason="undecodable_bytes",
                                detail=f"invalid UTF-8 at byte {exc.start} of the line",
                                byte_offset=start + exc.start)  # fmt: skip
                    continue
                try:
                    obj = orjson.loads(text)
                except orjson.JSONDecodeError as exc:
                    yield _Item(rel, lineno, None, raw=line, reason="malformed_json", detail=str(exc))
                    continue
                yield _Item(rel, lineno, None, obj=obj, raw=line)

    def _json(self, path: Path, rel: str) -> Iterator[_Item]:
        data = path.read_bytes()
        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            reason = "undecodable_bytes" if "UTF-8" in str(exc) else "malformed_json"
            yield _Item(rel, None, None, raw=data[:RAW_CAP], reason=reason, detail=str(exc))
            return
        if not isinstance(doc, list):
            yield _Item(rel, None, None, raw=data[:RAW_CAP], reason="malformed_json",
                        detail=f"expected a JSON array of records, got {type(doc).__name__}")  # fmt: skip
            return
        for i, obj in enumerate(doc):
            yield _Item(rel, None, i, obj=obj)

    def _csv(self, path: Path, rel: str) -> Iterator[_Item]:
        headerless = any(
            isinstance(r, int) for v in self._refs.values() for r in (v if isinstance(v, list) else [v])
        )
        csv.field_size_limit(sys.maxsize)
        with path.open("r", encoding="utf-8", errors="surrogateescape", newline="") as fh:
            reader = csv.reader(fh)
            header: list[str] | None = None
            last_line = 0
            while True:
                try:
                    row = next(reader)
                except StopIteration:
                    break
                except csv.Error as exc:
                    start = last_line + 1
                    last_line = reader.line_num
                    yield _Item(rel, start, None, reason="malformed_csv", detail=str(exc))
                    continue
                start, last_line = last_line + 1, reader.line_num
                if header is None and not headerless:
                    header = row
                    continue
                if not row or all(not c.strip() for c in row):
                    self.stats.blank_lines += 1
                    continue
                joined = "\x1f".join(row)
                raw = joined.encode("utf-8", "surrogateescape")
                if any("\udc80" <= ch <= "\udcff" for ch in joined):
                    bad = raw.decode("utf-8", "replace").find("\ufffd")
                    yield _Item(rel, start, None, raw=raw, reason="undecodable_bytes",
                                detail=f"invalid UTF-8 in the row (near character {bad})")  # fmt: skip
                    continue
                if header is not None and len(row) != len(header):
                    # an unquoted comma shifts text into the next column; extra cells would be lost
                    yield _Item(rel, start, None, raw=raw, reason="malformed_csv",
                                detail=f"{len(row)} cells where the header has {len(header)}")  # fmt: skip
                    continue
                obj: Any = row if header is None else dict(zip(header, row, strict=False))
                yield _Item(rel, start, None, obj=obj, raw=raw)

    def _parquet(self, path: Path, rel: str, begin: int = 0, end: int | None = None) -> Iterator[_Item]:
        """The rows of a file, or of its whole row groups holding rows [begin, end) (a shard)."""
        pf = pq.ParquetFile(path)
        groups, first = [], 0
        for g in range(pf.metadata.num_row_groups):
            if first >= begin and (end is None or first < end):
                groups.append(g)
            first += pf.metadata.row_group(g).num_rows
        row = begin
        for batch in pf.iter_batches(batch_size=self.config.batch_size, row_groups=groups):
            for obj in batch.to_pylist():
                yield _Item(rel, None, row, obj=obj)
                row += 1

    def _text(self, path: Path, rel: str) -> Iterator[_Item]:
        size = path.stat().st_size
        if size > self.config.max_line_bytes:
            with path.open("rb") as fh:
                head = fh.read(RAW_CAP)
            yield _Item(rel, None, 0, raw=head, reason="oversize_record",
                        detail=f"a file of {size} bytes > ingest.max_line_bytes {self.config.max_line_bytes}: not read whole")  # fmt: skip
            return
        data = path.read_bytes()
        if data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            yield _Item(rel, line, 0, raw=data[:RAW_CAP], reason="undecodable_bytes",
                        detail=f"invalid UTF-8 at byte {exc.start}", byte_offset=exc.start)  # fmt: skip
            return
        yield _Item(rel, None, 0, obj={"id": rel, "text": text}, raw=b"")

    # ---- mapping: an item becomes a record row or a quarantine row -------------------

    def _map(self, item: _Item) -> tuple[dict[str, Any] | None, tuple[str, str | None, str] | None]:
        obj = item.obj
        if self.m.format == "csv" and isinstance(obj, list):
            pass
        elif not isinstance(obj, dict):
            return None, ("not_an_object", None, f"expected a JSON object, got {type(obj).__name__}")
        values: dict[str, str | None] = {}
        refs = self._refs if self.m.format != "text" else {"id": "id", "text": "text"}
        required = {"document": ("text",), "evaluation": ("text",)}.get(
            self.m.kind, tuple(c for c in self.text_columns if c != "context")
        )
        for col in self.text_columns:
            ref = refs.get(col)
            if ref is None:
                values[col] = None
                continue
            parts: list[str] = []
            for r in ref if isinstance(ref, list) else [ref]:
                found, value = _lookup(obj, r)
                if not found or value is None:
                    if col in required and not isinstance(ref, list):
                        return None, ("missing_field", col, f"source field {r!r} is absent or null")
                    continue
                if not isinstance(value, str):
                    return None, ("wrong_type", col, f"source field {r!r} holds {type(value).__name__}, not text")
                parts.append(value)
            if not parts and col in required:
                return None, ("missing_field", col, f"source fields {ref!r} are absent or null")
            values[col] = "\n".join(parts) if parts else None
        for col in required:
            if not (values.get(col) or "").strip():
                return None, ("empty_text", col, "the text is empty")
        size = sum(len(v) for v in values.values() if v)
        if size > self.config.max_record_chars:
            return None, ("oversize_record", None,
                          f"{size} characters > ingest.max_record_chars {self.config.max_record_chars}")  # fmt: skip
        extra, fault = self._map_extra(obj, refs)
        if fault is not None:
            return None, fault
        own_id: str | None = None
        if "id" in refs:
            found, value = _lookup(obj, refs["id"] if not isinstance(refs["id"], list) else refs["id"][0])
            if found and value is not None and not isinstance(value, (dict, list)):
                own_id = str(value)
            elif self.m.format != "text":
                return None, ("missing_field", "id", f"source id field {refs['id']!r} is absent or null")
        if own_id is not None and own_id in self._seen_ids:
            return None, ("duplicate_source_id", "id", f"the source id {own_id!r} was already read")
        if self.m.kind == "annotation":
            judgement = (extra["task"], extra["item_id"], extra["annotator_id"])
            if judgement in self._seen_judgements:
                return None, ("duplicate_judgement", "annotator_id",
                              f"annotator {judgement[2]!r} already judged item {judgement[1]!r} of task "
                              f"{judgement[0]!r} (at {self._seen_judgements[judgement]})")  # fmt: skip
            where = f"line {item.line}" if item.line is not None else f"row {item.row}"
            self._seen_judgements[judgement] = f"{item.file} {where}"
        if own_id is not None:
            self._seen_ids.add(own_id)
        return {"own_id": own_id, **values, **extra}, None

    def _map_extra(self, obj: Any, refs: Mapping[str, FieldRef]) -> tuple[dict[str, Any], tuple[str, str | None, str] | None]:
        """The kind's non-text columns (url; margin, group; the judgement of an annotation)."""
        out: dict[str, Any] = {}
        for col, typ in self._extra:
            ref = refs.get(col)
            value = None
            if ref is not None:
                r = ref[0] if isinstance(ref, list) else ref
                found, value = _lookup(obj, r)
                if isinstance(value, str) and not value.strip() and self.m.format == "csv":
                    value = None  # csv has no null: an empty cell is one
                if value is not None and not isinstance(value, (str, int, float)):
                    return out, ("wrong_type", col, f"source field {r!r} holds {type(value).__name__}, not a scalar")
                if typ == "float64" and value is not None:
                    number = _number(value)
                    if number is None:
                        return out, ("wrong_type", col, f"source field {r!r} holds {value!r}, not a number")
                    value = number
                elif value is not None and col not in _LABEL_COLUMNS:
                    if isinstance(value, bool):
                        return out, ("wrong_type", col, f"source field {r!r} holds a boolean, not an id or text")
                    value = canonical_label(value)
            out[col] = value
        if self.m.kind == "annotation":
            return self._judgement(out, refs)
        return out, None

    def _judgement(self, out: dict[str, Any], refs: Mapping[str, FieldRef]) -> tuple[dict[str, Any], tuple[str, str | None, str] | None]:
        """Check one annotation: who, which item, which label, against the manifest's label set."""
        for col in ("item_id", "annotator_id", "label"):
            if out[col] is None or isinstance(out[col], str) and not out[col].strip():
                return out, ("missing_field", col, f"source field {refs[col]!r} is absent, null or empty")
        if out["task"] is None:
            out["task"] = self.m.id
        for col in ("label", "gold"):
            raw = out[col]
            if raw is None:
                continue
            label = canonical_label(raw)
            if self.m.label_type == "interval":
                number = _number(raw)
                if number is None:
                    return out, ("non_numeric_label", col, f"{raw!r} is not a number (label_type interval)")
                label = canonical_label(number)
            if self._label_index and label not in self._label_index:
                number = _number(raw)  # "1.0" in a csv is the declared label 1
                alt = canonical_label(number) if number is not None else None
                if alt not in self._label_index:
                    allowed = ", ".join(self.m.labels)
                    return out, ("label_not_in_set", col, f"{raw!r} is not a declared label; allowed: {allowed}")
                label = alt
            out[col] = label
        label = out["label"]
        if self.m.label_type == "interval":
            out["label_value"] = float(label)
        elif self._label_index:
            out["label_value"] = float(self._label_index[label])
        if self.m.target_source:
            out["target_doc_id"] = make_doc_id(self.m.target_source, own_key(out["item_id"]))
        return out, None

    def files(self) -> list[Path]:
        """The files this reader reads: all of the source's (a shard reader reads some)."""
        return self.m.files()

    def batches(self) -> Iterator[Batch]:
        """Yield bounded batches of records and quarantine rows, file by file."""
        root = self.m.root
        rows: dict[str, list[Any]] = {name: [] for name in self.schema.names}
        qrows: dict[str, list[Any]] = {name: [] for name in QUARANTINE_SCHEMA.names}

        def flush() -> Batch:
            batch = Batch(
                pa.table(rows, schema=self.schema),
                pa.table(qrows, schema=QUARANTINE_SCHEMA),
            )
            for v in rows.values():
                v.clear()
            for v in qrows.values():
                v.clear()
            return batch

        files = self.files()
        if not files:
            qrows_item = _Item(self.m.location, None, None, reason="unreadable_file",
                               detail=f"no file matches location {self.m.location!r}")  # fmt: skip
            self._quarantine(qrows, qrows_item)
            self.stats.read += 1
        for path in files:
            self.stats.files += 1
            try:
                rel = path.relative_to(root).as_posix()
            except ValueError:
                rel = path.name
            problem = source_file_problem(path, self.m.ingest_roots)
            if problem:  # one quarantine row for the file; the other files are still read
                self.stats.read += 1
                self._quarantine(qrows, _Item(rel, None, None, reason="unreadable_file", detail=problem))
                continue
            for item in self._items(path, rel):
                self.stats.read += 1
                mapped, fault = (None, None) if item.reason else self._map(item)
                if item.reason:
                    self._quarantine(qrows, item)
                elif fault is not None:
                    item.reason, fld, item.detail = fault
                    self._quarantine(qrows, item, fld)
                else:
                    assert mapped is not None
                    self._append(rows, item, mapped)
                if len(rows["doc_id"]) + len(qrows["source_id"]) >= self.config.batch_size:
                    yield flush()
        if rows["doc_id"] or qrows["source_id"]:
            yield flush()

    def _append(self, rows: dict[str, list[Any]], item: _Item, mapped: dict[str, Any]) -> None:
        own_id = mapped["own_id"]
        position = item.line if item.line is not None else (item.row or 0)
        # a text file is its own record: its id is its position (the file), as for any
        # record without an id of its own; the path is still kept as source_record_id
        if own_id is not None and self.m.format != "text":
            key = own_key(own_id)
        else:
            key = position_key(item.file, position)
        texts = [mapped[c] for c in self.text_columns]
        if self.m.kind == "annotation":  # the judgement is its content
            texts = [mapped[c] for c in ("task", "item_id", "annotator_id", "label")]
        rows["doc_id"].append(make_doc_id(self.m.id, key))
        rows["source_id"].append(self.m.id)
        rows["license"].append(self.m.license)
        rows["content_hash"].append(content_hash(texts))
        rows["source_record_id"].append(own_id)
        rows["source_file"].append(item.file)
        rows["source_line"].append(item.line)
        rows["source_row"].append(item.row)
        for c in self.text_columns:
            rows[c].append(mapped[c])
        for c, _ in self._extra:
            rows[c].append(mapped.get(c))
        self.stats.ingested += 1

    def _quarantine(self, qrows: dict[str, list[Any]], item: _Item, fld: str | None = None) -> None:
        assert item.reason in QUARANTINE_REASONS, item.reason
        raw = item.raw
        if not raw and item.obj is not None:
            try:
                raw = orjson.dumps(item.obj)
            except TypeError:
                raw = repr(item.obj).encode("utf-8", "replace")
        qrows["source_id"].append(self.m.id)
        qrows["file"].append(item.file)
        qrows["line"].append(item.line)
        qrows["row"].append(item.row)
        qrows["byte_offset"].append(item.byte_offset)
        qrows["reason"].append(item.reason)
        qrows["field"].append(fld)
        qrows["detail"].append(item.detail[:500])
        qrows["raw"].append(raw[:RAW_CAP] if raw else None)
        self.stats.quarantined[item.reason] += 1


def read_source(manifest: SourceManifest, config: IngestConfig | None = None) -> tuple[pa.Table, pa.Table, IngestStats]:
    """Read a whole (small) source into memory: for tests and previews, not for runs."""
    reader = SourceReader(manifest, config)
    parts = list(reader.batches())
    records = pa.concat_tables([b.records for b in parts]) if parts else reader.schema.empty_table()
    quarantine = pa.concat_tables([b.quarantine for b in parts]) if parts else QUARANTINE_SCHEMA.empty_table()
    return records, quarantine, reader.stats


def ingest_source(
    manifest: SourceManifest,
    records_path: Path,
    quarantine_path: Path,
    config: IngestConfig | None = None,
    *,
    takedown: Callable[[pa.Table, str], tuple[Any, pa.Table]] | None = None,
) -> IngestStats:
    """Stream a source into its records and quarantine parquet files, both atomically.

    ``takedown`` (curaline.takedown.matcher) removes records named by takedown requests
    before anything is written, so they never reach a later stage or run; its ledger
    events (EVENT_SCHEMA, action "takedown") land in ``stats.takedown_events``.
    """
    from curaline.kernels.base import EVENT_SCHEMA
    from curaline.store import AtomicParquetWriter

    reader = SourceReader(manifest, config)
    events: list[pa.Table] = [EVENT_SCHEMA.empty_table()]
    with (
        AtomicParquetWriter(records_path, reader.schema) as records,
        AtomicParquetWriter(quarantine_path, QUARANTINE_SCHEMA) as quarantine,
    ):
        for batch in reader.batches():
            table = batch.records
            if takedown is not None and table.num_rows:
                keep, ev = takedown(table, manifest.id)
                keep = pa.array(keep, pa.bool_())
                removed = table.num_rows - pc.sum(keep).as_py()
                if removed:
                    table = table.filter(keep)
                    reader.stats.ingested -= removed
                    reader.stats.taken_down += removed
                events.append(ev)
            records.write(table)
            quarantine.write(batch.quarantine)
    if not reader.stats.balanced:
        raise AssertionError(f"{manifest.id}: read {reader.stats.read} != ingested + quarantined + taken down")
    reader.stats.takedown_events = pa.concat_tables(events)
    return reader.stats


__all__ = [
    "ingest_source",
    "QUARANTINE_REASONS",
    "ANNOTATION_QUARANTINE_REASONS",
    "QUARANTINE_SCHEMA",
    "IngestStats",
    "SourceReader",
    "read_source",
    "record_schema",
    "content_hash",
]

