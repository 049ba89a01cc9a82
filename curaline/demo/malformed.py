"""Broken input for a JSON-lines source: every way ingestion must quarantine a line."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from curaline.demo.model import Row
from curaline.demo.writers import json_line

OVERSIZE_CHARS = 1_200_000  # over the 1,000,000-character limit ingestion enforces


def oversize_text(rng: random.Random) -> str:
    """A runaway page: a log table repeated far past any sane document size."""
    line = "| {:>6} | sensor-{:02d} | reading ok | {:>5} |\n"
    rows = [line.format(i, rng.randint(0, 99), rng.randint(100, 99999)) for i in range(200)]
    block = "".join(rows)
    return (block * (OVERSIZE_CHARS // len(block) + 1))[:OVERSIZE_CHARS]


def malformed_rows(
    rng: random.Random,
    source_id: str,
    make_record: Callable[[], dict[str, Any]],
    text_field: str,
    canonical: str,
) -> list[Row]:
    """Seven rows: truncated JSON, trailing garbage, missing / empty / non-string /
    oversize text, and a line with bytes that are not UTF-8."""

    def line_of(oid: str, **change: Any) -> bytes:
        record = make_record()
        record["id"] = oid
        record.update(change)
        return json_line(record)

    def truncated(oid: str) -> bytes:
        text = line_of(oid).decode("utf-8")
        return text[: len(text) * 2 // 3].encode("utf-8")

    def undecodable(oid: str) -> bytes:
        data = line_of(oid, **{text_field: "Caf\u00e9 Ren\u00e9 opens at nine. " * 3})
        return data.replace("\u00e9".encode(), b"\xe9") + b" \xff"

    def record(**change: Any) -> dict[str, Any]:
        rec = make_record()
        rec.update(change)
        return rec

    missing = record()
    del missing[text_field]
    rows = [
        Row(source_id, raw=truncated).plant("malformed_json", problem="truncated object"),
        Row(source_id, raw=lambda oid: line_of(oid) + b" }{garbage").plant(
            "malformed_json", problem="trailing garbage"),
        Row(source_id, raw=undecodable).plant("undecodable_bytes"),
        Row(source_id, record=missing).plant("missing_field", field=canonical,
                                             source_field=text_field),
        Row(source_id, record=record(**{text_field: ""})).plant("empty_text", field=canonical),
        Row(source_id, record=record(**{text_field: rng.randint(10_000, 99_999)})).plant(
            "wrong_type", field=canonical, found="int"),
        Row(source_id, record=record(**{text_field: oversize_text(rng)})).plant(
            "oversize", field=canonical, chars=OVERSIZE_CHARS),
    ]
    return rows

