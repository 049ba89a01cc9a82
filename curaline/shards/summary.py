"""A source's shard results summed into what each stage asset reports.

Shards are counted from their results (stored in their markers), so a resumed run
reports the whole source, committed shards included, without reading any output.
The one check that spans shards, doc id uniqueness, is one DuckDB query over the
raw folder's doc_id column.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from curaline.ingest import IngestStats
from curaline.schemas import ValidationReport
from curaline.shards.runner import QUARANTINE, RAW
from curaline.stage import StageStats


@dataclass
class StageSummary(StageStats):
    """A stage's counts over every shard of a source, with its merged validation report."""

    validation: ValidationReport = field(default_factory=ValidationReport)


@dataclass
class IngestSummary(IngestStats):
    """Ingest's counts over every shard, with the sampled lengths and both validation reports."""

    #: web formats: pages found carrying a TDM rights reservation (flag rows of the raw ledger)
    tdm_reserved: int = 0
    lengths: np.ndarray = field(default_factory=lambda: np.array([], dtype=float))
    raw_validation: ValidationReport = field(default_factory=ValidationReport)
    quarantine_validation: ValidationReport = field(default_factory=ValidationReport)


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
        out.tdm_reserved += i.get("tdm_reserved", 0)  # absent from shards committed before the flags
        out.skipped.update(i.get("skipped", {}))  # absent from shards committed before web formats
    out.lengths = np.asarray([v for r in results for v in r["ingest"]["lengths"]], dtype=float)
    out.raw_validation = ValidationReport.merged(r["validation"][RAW] for r in results)
    out.quarantine_validation = ValidationReport.merged(r["validation"][QUARANTINE] for r in results)
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
    out.signal = [np.asarray([v for r in results for v in r["stages"][stage]["signal"]], dtype=float)]
    out.validation = ValidationReport.merged(r["stages"][stage]["validation"] for r in results)
    return out


def check_unique_doc_ids(folder: Path, report: ValidationReport) -> ValidationReport:
    """Add doc ids repeated across the folder's shards to report (each shard checked its own)."""
    from curaline.database import connect

    files = sorted(folder.glob("shard-*.parquet"))
    if len(files) < 2:
        return report
    with connect() as con:
        dupes = con.execute("SELECT doc_id, count(*) AS n FROM read_parquet(?) GROUP BY 1 HAVING n > 1",
                            [[str(f) for f in files]]).fetchall()  # fmt: skip
    if dupes:
        report.failures += sum(n for _, n in dupes)
        report.by_check["doc_id: unique across shards"] = sum(n for _, n in dupes)
        report.examples += [{"column": "doc_id", "check": "unique", "index": None, "failure_case": f"{v} x{n}"}
                            for v, n in dupes[:5]]  # fmt: skip
    return report
