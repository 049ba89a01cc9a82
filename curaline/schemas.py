"""Pandera models: the contract of every stage's output.

A stage's output is validated against its model by a blocking asset check before
anything downstream runs. Files are validated row group by row group (bounded memory);
uniqueness, which spans row groups, is checked with one DuckDB query over the file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandera.polars as pa
import polars as pl
import pyarrow as pa_types
import pyarrow.parquet as pq

from curaline.database import connect
from curaline.ingest import QUARANTINE_REASONS
from curaline.sources import FORMATS, OBTAINED, WEB_FORMATS

DOC_ID_PATTERN = r"^[A-Za-z0-9._-]+:[0-9a-f]{16}$"


class RecordBase(pa.DataFrameModel):
    """Columns every record carries from ingest to release."""

    doc_id: str = pa.Field(unique=True, str_matches=DOC_ID_PATTERN,
                           description="stable id: source id + hash of the source's own id or position")  # fmt: skip
    source_id: str = pa.Field(description="the source manifest id")
    license: str = pa.Field(str_length={"min_value": 1}, description="SPDX licence expression")
    content_hash: str = pa.Field(str_matches=r"^[0-9a-f]{32}$", description="blake2b-128 of the text fields")
    source_record_id: str | None = pa.Field(nullable=True, description="the source's own record id")
    source_file: str = pa.Field(description="file, relative to the source's root folder")
    source_line: int | None = pa.Field(nullable=True, ge=1, description="1-based line (line formats)")
    source_row: int | None = pa.Field(nullable=True, ge=0, description="0-based row (json, parquet)")

    class Config:
        strict = True


class DocumentRecord(RecordBase):
    text: str = pa.Field(str_length={"min_value": 1}, description="the document text")
    url: str | None = pa.Field(nullable=True, description="where the page was crawled from (null when unmapped)")


class InstructionRecord(RecordBase):
    prompt: str = pa.Field(str_length={"min_value": 1}, description="the instruction")
    context: str | None = pa.Field(nullable=True, description="optional input/context")
    response: str = pa.Field(str_length={"min_value": 1}, description="the answer")


class PreferenceRecord(RecordBase):
    prompt: str = pa.Field(str_length={"min_value": 1}, description="the prompt")
    chosen: str = pa.Field(str_length={"min_value": 1}, description="the preferred response")
    rejected: str = pa.Field(str_length={"min_value": 1}, description="the dispreferred response")
    margin: float | None = pa.Field(nullable=True, description="how much better chosen is: rank gap or score difference")
    group: str | None = pa.Field(nullable=True, description="the prompt/conversation the pair came from")


class EvaluationRecord(RecordBase):
    text: str = pa.Field(str_length={"min_value": 1}, description="the evaluation item")
    answer: str | None = pa.Field(nullable=True, description="the reference answer")


class AnnotationRecord(RecordBase):
    """One human judgement: who labelled which item of which task, and how."""

    task: str = pa.Field(str_length={"min_value": 1}, description="the annotation task (default: the source id)")
    item_id: str = pa.Field(str_length={"min_value": 1}, description="the item judged (a target record's own id)")
    target_doc_id: str | None = pa.Field(nullable=True, str_matches=DOC_ID_PATTERN,
                                         description="doc_id of the judged record in target_source")  # fmt: skip
    annotator_id: str = pa.Field(str_length={"min_value": 1}, description="who judged")
    label: str = pa.Field(str_length={"min_value": 1}, description="the label, canonical spelling")
    label_value: float | None = pa.Field(nullable=True, description="label as a number: its index in the declared "
                                         "labels (nominal, ordinal) or its value (interval)")  # fmt: skip
    gold: str | None = pa.Field(nullable=True, description="the expected label on gold/control items")
    confidence: float | None = pa.Field(nullable=True, description="the annotator's own confidence")
    annotated_at: str | None = pa.Field(nullable=True, description="when, as given by the source")


class WebDocumentRecord(DocumentRecord):
    """A page from a WARC file or an HTML folder: text = its main content (curaline.web)."""

    fetched_at: str | None = pa.Field(nullable=True, description="WARC-Date: when the page was fetched")
    http_status: int | None = pa.Field(nullable=True, description="HTTP status (200 for every kept page)")
    content_type: str | None = pa.Field(nullable=True, description="media type of the payload")
    charset: str | None = pa.Field(nullable=True, description="the encoding the page was decoded with")
    warc_offset: int | None = pa.Field(nullable=True, ge=0, description="where the record starts in its WARC file")
    tdm_reserved: bool = pa.Field(description="a text-and-data-mining reservation was found (TDMRep, noai)")
    tdm_evidence: str | None = pa.Field(nullable=True, description="which reservation signals, where")
    tdm_policy: str | None = pa.Field(nullable=True, description="the TDMRep policy URL, when given")
    extractor: str = pa.Field(isin=["trafilatura", "resiliparse"], description="the extractor that made the text")


RECORD_MODELS: dict[str, type[RecordBase]] = {
    "document": DocumentRecord,
    "instruction": InstructionRecord,
    "preference": PreferenceRecord,
    "evaluation": EvaluationRecord,
    "annotation": AnnotationRecord,
}



def record_model(kind: str, fmt: str | None = None) -> type[RecordBase]:
    """The raw records' model of a source: its kind's, or the web page model for warc/html."""
    return WebDocumentRecord if fmt in WEB_FORMATS and kind == "document" else RECORD_MODELS[kind]


LABEL_METHODS = ("majority", "dawid-skene", "mean")


class AdjudicatedLabel(pa.DataFrameModel):
    """One item's label by one method: what the labels asset stores, one row per (task, item, method)."""

    source_id: str = pa.Field(description="the annotation source")
    task: str = pa.Field(description="the annotation task")
    item_id: str = pa.Field(description="the item labelled")
    target_doc_id: str | None = pa.Field(nullable=True, description="doc_id of the labelled record, if any")
    label: str = pa.Field(str_length={"min_value": 1}, description="the adjudicated label")
    confidence: float | None = pa.Field(nullable=True, ge=0, le=1, description="vote share (majority) or "
                                        "posterior probability (dawid-skene); null for interval means")  # fmt: skip
    method: str = pa.Field(isin=list(LABEL_METHODS), description="majority | dawid-skene | mean (interval tasks)")
    n_judgements: int = pa.Field(ge=1, description="judgements of the item")

    class Config:
        strict = True
        unique = ["task", "item_id", "method"]


class ReviewItem(pa.DataFrameModel):
    """An item worth another judgement, highest expected gain first."""

    priority: int = pa.Field(ge=1, unique=True, description="1 = review first")
    source_id: str = pa.Field(description="the annotation source")
    task: str = pa.Field(description="the annotation task")
    item_id: str = pa.Field(description="the item")
    target_doc_id: str | None = pa.Field(nullable=True, description="doc_id of the record, if any")
    label: str = pa.Field(description="current label (Dawid-Skene, or mean for interval tasks)")
    confidence: float | None = pa.Field(nullable=True, ge=0, le=1, description="posterior of that label")
    majority_label: str | None = pa.Field(nullable=True, description="the majority-vote label")
    majority_share: float | None = pa.Field(nullable=True, ge=0, le=1, description="share of votes for it")
    n_judgements: int = pa.Field(ge=1, description="judgements so far")
    expected_gain: float = pa.Field(ge=0, description="expected gain of one more judgement (see curaline.annotation.review)")
    reason: str = pa.Field(description="why it is queued: low_confidence, split_vote, methods_disagree, spread")

    class Config:
        strict = True


class QuarantineRow(pa.DataFrameModel):
    """Input that could not become a record: where it is and why."""

    source_id: str = pa.Field(description="the source manifest id")
    file: str = pa.Field(description="file, relative to the source's root folder")
    line: int | None = pa.Field(nullable=True, ge=1, description="1-based line")
    row: int | None = pa.Field(nullable=True, ge=0, description="0-based row")
    byte_offset: int | None = pa.Field(nullable=True, ge=0, description="offset of undecodable bytes")
    reason: str = pa.Field(isin=list(QUARANTINE_REASONS), description="why it was quarantined")
    field: str | None = pa.Field(nullable=True, description="the curaline field at fault")
    detail: str = pa.Field(description="what exactly was wrong")
    raw: pl.Binary | None = pa.Field(nullable=True, description="the offending bytes, capped at 64 KiB")

    class Config:
        strict = True


class SourceCatalogRow(pa.DataFrameModel):
    """One validated source declaration."""

    source_id: str = pa.Field(unique=True, description="the manifest id")
    kind: str = pa.Field(description="document | instruction | preference | evaluation | annotation")
    format: str = pa.Field(isin=list(FORMATS), description="file format")
    license: str = pa.Field(description="SPDX licence expression")
    license_url: str | None = pa.Field(nullable=True, description="licence text URL")
    obtained: str = pa.Field(isin=list(OBTAINED), description="how the data was obtained")
    personal_data: str = pa.Field(isin=["expected", "none", "unknown"], description="personal data expected")
    domain: str | None = pa.Field(nullable=True, description="content domain")
    languages: str | None = pa.Field(nullable=True, description="declared languages, comma-separated")
    owner: str | None = pa.Field(nullable=True, description="who answers for the source")
    collected: str | None = pa.Field(nullable=True, description="collection date")
    priority: int = pa.Field(description="dedup keep-policy priority (higher wins)")
    manifest: str = pa.Field(description="the manifest file")
    declaration: str = pa.Field(description="the full declaration as JSON")

    class Config:
        strict = True


#: failure cases a report keeps (the counts cover all)
EXAMPLES = 20


@dataclass
class ValidationReport:
    """The outcome of validating one file: counts, and the first failure cases."""

    rows: int = 0
    failures: int = 0
    by_check: dict[str, int] = field(default_factory=dict)
    examples: list[dict[str, object]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.failures == 0

    def markdown(self) -> str:
        if self.passed:
            return f"All {self.rows} rows pass the schema."
        lines = [f"**{self.failures} failure(s)** in {self.rows} rows.", "", "| column/check | count |", "|---|---:|"]
        lines += [f"| {k} | {v} |" for k, v in sorted(self.by_check.items())]
        if self.examples:
            lines += ["", "| column | check | row | value |", "|---|---|---:|---|"]
            for ex in self.examples[:10]:
                value = str(ex.get("failure_case"))[:60].replace("|", "\\|")
                lines.append(f"| {ex.get('column')} | {ex.get('check')} | {ex.get('index')} | {value} |")
        return "\n".join(lines)

    def add_batch(self, batch: pa_types.Table | pa_types.RecordBatch, schema: pa.DataFrameSchema) -> None:
        """Validate one Arrow batch, its rows numbered after those already counted: a file, or a
        shard's stream of batches, is validated in bounded memory."""
        frame = pl.from_arrow(batch)
        assert isinstance(frame, pl.DataFrame)
        try:
            schema.validate(frame, lazy=True)
        except pa.errors.SchemaErrors as err:
            cases = err.failure_cases
            self.failures += cases.height
            for row in cases.iter_rows(named=True):
                key = f"{row.get('column')}: {row.get('check')}"
                self.by_check[key] = self.by_check.get(key, 0) + 1
                if len(self.examples) < EXAMPLES:
                    if row.get("index") is not None:
                        row["index"] = int(row["index"]) + self.rows
                    self.examples.append({k: _json_safe(v) for k, v in row.items()})
        self.rows += batch.num_rows

    def to_dict(self) -> dict[str, object]:
        """JSON-ready (a shard's commit marker stores it)."""
        return {"rows": self.rows, "failures": self.failures, "by_check": dict(self.by_check),
                "examples": list(self.examples)}  # fmt: skip

    @classmethod
    def merged(cls, reports: Iterable[ValidationReport | dict[str, Any]]) -> ValidationReport:
        """One report of many (a source's shards), reports or their `to_dict` forms."""
        out = cls()
        for r in reports:
            r = r if isinstance(r, ValidationReport) else cls(r["rows"], r["failures"], dict(r["by_check"]),
                                                               list(r["examples"]))  # fmt: skip
            out.rows += r.rows
            out.failures += r.failures
            for k, v in r.by_check.items():
                out.by_check[k] = out.by_check.get(k, 0) + v
            out.examples += r.examples[: max(0, EXAMPLES - len(out.examples))]
        return out


def _json_safe(value: Any) -> Any:
    return value if value is None or isinstance(value, (bool, int, float, str)) else str(value)


def stage_schema(kind: str, signal_columns: dict[str, pa_types.DataType] | None = None) -> pa.DataFrameSchema:
    """A stage's output contract: the kind's record model plus the stage's signal columns.

    Signal columns of earlier stages travel along, so columns not named here are allowed.
    """
    import pyarrow as pa_arrow

    schema = RECORD_MODELS[kind].to_schema()
    extra = {}
    for name, typ in (signal_columns or {}).items():
        dtype = pl.from_arrow(pa_arrow.table({name: pa_arrow.array([], typ)})).schema[name]  # type: ignore[union-attr]
        extra[name] = pa.Column(dtype, nullable=True, description=f"signal column {name}")
    schema = schema.add_columns(extra) if extra else schema
    return schema.__class__(  # strict=False: signal columns of earlier stages travel along
        columns=schema.columns, strict=False, name=f"{kind}_stage"
    )


def validate_file(
    path: Path, model: type[pa.DataFrameModel] | pa.DataFrameSchema, *, batch_rows: int = 50_000
) -> ValidationReport:
    """Validate a parquet file against a model or schema, batch by batch, plus global uniqueness."""
    report = ValidationReport()
    schema = model if isinstance(model, pa.DataFrameSchema) else model.to_schema()
    for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_rows):
        report.add_batch(batch, schema)
    unique = [name for name, col in schema.columns.items() if col.unique]
    if unique and report.rows:
        con = connect()
        for name in unique:
            dupes = con.execute(
                f"SELECT {name} AS v, count(*) AS n FROM read_parquet(?) GROUP BY 1 HAVING n > 1",
                [str(path)],
            ).fetchall()
            if dupes:
                report.failures += sum(n for _, n in dupes)
                report.by_check[f"{name}: unique across file"] = sum(n for _, n in dupes)
                for v, n in dupes[:5]:
                    report.examples.append({"column": name, "check": "unique", "index": None, "failure_case": f"{v} x{n}"})
        con.close()
    return report


def column_docs(model: type[pa.DataFrameModel] | pa.DataFrameSchema) -> list[tuple[str, str, str, bool]]:
    """(name, type, description, nullable) per column: what the UI's column schema shows."""
    schema = model if isinstance(model, pa.DataFrameSchema) else model.to_schema()
    out = []
    for name, col in schema.columns.items():
        out.append((name, str(col.dtype), col.description or "", bool(col.nullable)))
    return out
