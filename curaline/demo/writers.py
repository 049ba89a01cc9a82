"""Write a source plan's rows in its declared format and note where each row landed.

All output is byte-for-byte reproducible: gzip without name or time stamp, JSON with a
fixed layout, parquet with an explicit schema.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from curaline.demo.model import Row, SourcePlan

#: Characters some line splitters (str.splitlines, some JSON-lines readers) treat as line
#: breaks although JSON allows them raw; escaped so one record is always one line.
_LINE_BREAKS = {"\u2028": "\\u2028", "\u2029": "\\u2029", "\x85": "\\u0085"}


def json_line(record: dict[str, Any]) -> bytes:
    text = json.dumps(record, ensure_ascii=False)
    for ch, esc in _LINE_BREAKS.items():
        text = text.replace(ch, esc)
    return text.encode("utf-8")


def atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _jsonl(rows: list[Row], name: str) -> bytes:
    lines = []
    for n, row in enumerate(rows, start=1):
        row.file, row.line = name, n
        lines.append(row.raw_bytes() if row.raw is not None else json_line(row.record or {}))
    return b"\n".join(lines) + b"\n"


def _gzip(data: bytes) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=6) as gz:
        gz.write(data)
    return buf.getvalue()


def _json_array(rows: list[Row], name: str) -> bytes:
    for i, row in enumerate(rows):
        row.file, row.index = name, i
    records = [row.record for row in rows]
    return (json.dumps(records, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _csv(rows: list[Row], name: str, columns: list[str]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for n, row in enumerate(rows, start=2):  # the header is line 1
        assert row.record is not None
        if any("\n" in str(v) or "\r" in str(v) for v in row.record.values()):
            raise ValueError("csv values must stay on one line so record == line")
        row.file, row.line = name, n
        writer.writerow(row.record)
    return out.getvalue().encode("utf-8")


def _parquet(rows: list[Row], name: str, columns: list[str]) -> bytes:
    for i, row in enumerate(rows):
        row.file, row.index = name, i
    schema = pa.schema([pa.field(c, pa.string(), nullable=True) for c in columns])
    table = pa.Table.from_pylist([row.record or {} for row in rows], schema=schema)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd", row_group_size=10_000)
    return sink.getvalue().to_pybytes()


def write_source(plan: SourcePlan, folder: Path) -> None:
    """Write every file of the plan under `folder` (the source's root)."""
    fmt = plan.manifest["format"]
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in plan.files.items():
        if fmt == "jsonl":
            data = _jsonl(rows, name)
        elif fmt == "jsonl.gz":
            data = _gzip(_jsonl(rows, name))
        elif fmt == "json":
            data = _json_array(rows, name)
        elif fmt == "csv":
            data = _csv(rows, name, plan.columns or [])
        elif fmt == "parquet":
            data = _parquet(rows, name, plan.columns or [])
        elif fmt == "warc":  # record 0 is the warcinfo; each record its own gzip member
            from curaline.web.warcfile import warcinfo

            head = warcinfo("curaline-demo-archiver/1.0", "2024-02-05T00:00:00Z").to_bytes()
            for i, row in enumerate(rows, start=1):
                row.file, row.index = name, i
            data = b"".join(_gzip(b) for b in [head, *(row.raw_bytes() for row in rows)])
        elif fmt == "text":
            (row,) = rows
            row.file, row.index = name, 0
            data = row.raw_bytes() if row.raw is not None else str(
                (row.record or {})["text"]).encode("utf-8")
        else:
            raise ValueError(f"unknown format {fmt!r}")
        atomic_write(folder / name, data)
