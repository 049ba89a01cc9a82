"""A source's shard results summed into what each stage asset reports.

Shards are counted from their results (stored in their markers), so a resumed run
reports the whole source, committed shards included, without reading any output.
The one check that spans shards, doc id uniqueness, is one DuckDB query over the
raw folder's doc_id column.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from curaline.schemas import ValidationReport
from curaline.shards.runner import QUARANTINE, RAW, merge_reports


@dataclass
class StageSummary:
    rows_in: int = 0
    kept: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    changed: Counter[str] = field(default_factory=Counter)
    records_changed: int = 0
    ledger_drop_rows: int = 0
    signal: np.ndarray = field(default_factory=lambda: np.array([], dtype=float))
    validation: ValidationReport = field(default_factory=ValidationReport)

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped.values())

    @property
    def balanced(self) -> bool:
        return self.rows_in == self.kept + self.dropped_total

    def signal_values(self) -> np.ndarray:
        return self.signal


@dataclass
class IngestSummary:
    read: int = 0
    ingested: int = 0
    quarantined: Counter[str] = field(default_factory=Counter)
    files: int = 0
    blank_lines: int = 0
    trees: int = 0
    trees_without_pairs: int = 0
    taken_down: int = 0
    #: web formats: WARC records that hold no page (request, warcinfo, revisit...), by type
    skipped: Counter[str] = field(default_factory=Counter)
    lengths: np.ndarray = field(default_factory=lambda: np.array([], dtype=float))
    raw_validation: ValidationReport = field(default_factory=ValidationReport)
    quarantine_validation: ValidationReport = field(default_factory=ValidationReport)

    @property
    def quarantined_total(self) -> int:
        return sum(self.quarantined.values())

    @property
    def balanced(self) -> bool:
        return self.read == self.ingested + self.quarantined_total + self.taken_down


def _report(raw: dict[str, Any]) -> ValidationReport:
    return ValidationReport(rows=raw["rows"], failures=raw["failures"], by_check=dict(raw["by_check"]),
                            examples=list(raw["examples"]))  # fmt: skip


def summarize_ingest(results: Sequence[dict[str, Any]]) -> IngestSummary:
    out = IngestSummary()
    for r in results:
        i = r["ingest"]
        out.read += i["read"]
        out.ingested += i["ingested"]
        out.quarantined.update(i["quarantined"])
        out.files += i["files"]
        out.blank_lines += i["blank_lines"]
        out.trees += i["trees"]
        out.trees_without_pairs += i["trees_without_pairs"]
        out.taken_down += i["taken_down"]
        out.skipped.update(i.get("skipped", {}))  # absent from shards committed before web formats
    out.lengths = np.asarray([v for r in results for v in r["ingest"]["lengths"]], dtype=float)
    out.raw_validation = _report(merge_reports([r["validation"][RAW] for r in results]))
    out.quarantine_validation = _report(merge_reports([r["validation"][QUARANTINE] for r in results]))
    return out


def summarize_stage(results: Sequence[dict[str, Any]], stage: str) -> StageSummary:
    out = StageSummary()
    for r in results:
        s = r["stages"][stage]
        out.rows_in += s["rows_in"]
        out.kept += s["kept"]
        out.dropped.update(s["dropped"])
        out.changed.update(s["changed"])
        out.records_changed += s["records_changed"]
        out.ledger_drop_rows += s["ledger_drop_rows"]
    out.signal = np.asarray([v for r in results for v in r["stages"][stage]["signal"]], dtype=float)
    out.validation = _report(merge_reports([r["stages"][stage]["validation"] for r in results]))
    return out


def check_unique_doc_ids(folder: Path, report: ValidationReport) -> ValidationReport:
    """Add doc ids repeated across the folder's shards to report (each shard checked its own)."""
    import duckdb

    files = sorted(folder.glob("shard-*.parquet"))
    if len(files) < 2:
        return report
    with duckdb.connect() as con:
        dupes = con.execute("SELECT doc_id, count(*) AS n FROM read_parquet(?) GROUP BY 1 HAVING n > 1",
                            [[str(f) for f in files]]).fetchall()  # fmt: skip
    if dupes:
        report.failures += sum(n for _, n in dupes)
        report.by_check["doc_id: unique across shards"] = sum(n for _, n in dupes)
        report.examples += [{"column": "doc_id", "check": "unique", "index": None, "failure_case": f"{v} x{n}"}
                            for v, n in dupes[:5]]  # fmt: skip
    return report
