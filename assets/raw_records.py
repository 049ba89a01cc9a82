"""raw_records / quarantined_records: a source's files ingested, per source partition."""


import dagster as dg
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from assets.common import (
    column_schema,
    counts_markdown,
    counts_table,
    dvc_track,
    schema_check_result,
    source_partitions,
    stage_spec_args,
)
from curaline.fingerprint import source_fingerprint
from curaline.ingest import ingest_source
from curaline.ledger import write_ledger
from curaline.reports.plots import bar_png, histogram_png, png_markdown
from curaline.schemas import QuarantineRow, RecordBase, record_model, validate_file
from curaline.takedown import project_matcher
from resources.lineage import LineageResource
from resources.project import ProjectResource

RAW = dg.AssetKey("raw_records")
QUARANTINE = dg.AssetKey("quarantined_records")


def _preview(path) -> str:
    """A few rows as a table: ids, origin and sizes only, so no raw text (or PII) shows."""
    first = next(pq.ParquetFile(path).iter_batches(batch_size=5), None)  # 5 rows, not the whole file
    table = pa.Table.from_batches([first]) if first is not None else pq.read_schema(path).empty_table()
    text_cols = [c for c in ("text", "prompt", "response", "chosen", "rejected") if c in table.column_names]
    lines = ["| doc_id | file | line/row | " + " | ".join(f"{c} chars" for c in text_cols) + " |",
             "|---|---|---|" + "---:|" * len(text_cols)]  # fmt: skip
    for row in table.to_pylist():
        pos = row["source_line"] if row["source_line"] is not None else row["source_row"]
        sizes = " | ".join(str(len(row[c] or "")) for c in text_cols)
        lines.append(f"| `{row['doc_id']}` | {row['source_file']} | {pos} | {sizes} |")
    return "\n".join(lines)


@dg.multi_asset(
    specs=[
        dg.AssetSpec(**stage_spec_args("raw_records"), kinds={"python", "parquet"},
                     description=("The source's records as read from its files, with stable doc_id, "
                                  "source_id, licence and content_hash; streamed in bounded Arrow batches.")),
        dg.AssetSpec(**stage_spec_args("quarantined_records"), kinds={"python", "parquet"},
                     description=("Input that could not become a record (malformed JSON, bad bytes, missing or "
                                  "empty fields, over-size...), with file, line and reason: nothing is lost.")),
    ],
    check_specs=[
        dg.AssetCheckSpec("raw_schema", asset=RAW, blocking=True,
                          description="records match the kind's Pandera model"),
        dg.AssetCheckSpec("read_balance", asset=RAW, blocking=True,
                          description="records read = ingested + quarantined"),
        dg.AssetCheckSpec("quarantine_schema", asset=QUARANTINE, blocking=True,
                          description="quarantine rows match the QuarantineRow model"),
    ],
    partitions_def=source_partitions,
)  # fmt: skip
def raw_records(context: dg.AssetExecutionContext, project: ProjectResource, lineage: LineageResource):
    source_id = context.partition_key
    proj = project.project
    manifest = project.manifest(source_id)
    records_path = proj.stage_path("raw_records", source_id)
    quarantine_path = proj.stage_path("quarantined_records", source_id)
    model: type[RecordBase] = record_model(manifest.kind, manifest.format)
    # taken before reading: a file changed during the ingest reads as changed on the sensor's next tick
    fingerprint, _ = source_fingerprint(manifest, {})
    with lineage.materialization(context) as run:  # START now; COMPLETE, or FAIL on error
        run.source(manifest)
        try:  # a damaged request file must fail the run, never let records back in
            takedown = project_matcher(proj)
        except ValueError as exc:
            raise dg.Failure(f"cannot apply takedown requests: {exc}") from exc
        stats = ingest_source(manifest, records_path, quarantine_path, proj.config.ingest, takedown=takedown)
        # written on every run, even empty: takedown status reads "applied" from it
        write_ledger(proj, stats.takedown_events, stage="raw_records", partition=source_id, run_id=context.run_id)
        hashes = dvc_track(proj, "raw_records", source_id)
        raw_version = hashes[records_path.relative_to(proj.root).as_posix()]
        quarantine_version = hashes[quarantine_path.relative_to(proj.root).as_posix()]
        checks = [
            schema_check_result(validate_file(records_path, model), "raw_schema", RAW),
            dg.AssetCheckResult(
                check_name="read_balance", asset_key=RAW, passed=stats.balanced, severity=dg.AssetCheckSeverity.ERROR,
                metadata={"read": stats.read, "ingested": stats.ingested, "quarantined": stats.quarantined_total,
                          "taken_down": stats.taken_down},
            ),
            schema_check_result(validate_file(quarantine_path, QuarantineRow), "quarantine_schema", QUARANTINE),
        ]  # fmt: skip
        run.output(records_path, asset_key=RAW, model=model, version=raw_version, rows=stats.ingested,
                   rows_in=stats.read, quarantined=dict(stats.quarantined), source=manifest)  # fmt: skip
        run.output(quarantine_path, asset_key=QUARANTINE, model=QuarantineRow, version=quarantine_version,
                   rows=stats.quarantined_total, licence_mix=False)  # fmt: skip
        run.checks(records_path, checks[:2])
        run.checks(quarantine_path, checks[2:])
    context.log.info(
        f"{source_id}: read {stats.read}, ingested {stats.ingested}, quarantined {stats.quarantined_total}"
    )

    if manifest.kind == "annotation":  # judgements, not text: how often each label was given
        counts = pc.value_counts(pq.read_table(records_path, columns=["label"])["label"]).to_pylist()
        plot = png_markdown(bar_png([str(c["values"]) for c in counts[:30]], [c["counts"] for c in counts[:30]],
                                    title="judgements per label"), "label counts")  # fmt: skip
    else:
        first_text = "text" if manifest.kind in ("document", "evaluation") else "prompt"
        lengths = pc.utf8_length(pq.read_table(records_path, columns=[first_text])[first_text]).to_numpy(zero_copy_only=False)
        plot = png_markdown(histogram_png(np.asarray(lengths), title=f"{first_text} length (characters)",
                                          xlabel="characters", log_x=True), "length histogram")  # fmt: skip
    report = "\n\n".join(
        [
            f"### Ingest of `{source_id}`",
            f"{stats.files} file(s), {stats.read} records read: **{stats.ingested} ingested**, "
            f"**{stats.quarantined_total} quarantined**, **{stats.taken_down} taken down** (takedown requests), "
            f"{stats.blank_lines} blank lines skipped."
            + (f" WARC records that hold no page, skipped: {dict(stats.skipped)}." if stats.skipped else "")
            + (f" {stats.trees} message trees, {stats.trees_without_pairs} without a ranked pair."
               if manifest.format == "oasst" else ""),
            counts_markdown("Quarantined by reason", dict(stats.quarantined)),
            plot,
        ]
    )
    yield dg.MaterializeResult(
        asset_key=RAW,
        data_version=dg.DataVersion(raw_version),
        metadata={
            "dagster/row_count": stats.ingested,
            "dagster/column_schema": column_schema(model),
            "path": dg.MetadataValue.path(str(records_path)),
            "records_read": stats.read,
            "records_ingested": stats.ingested,
            "records_quarantined": stats.quarantined_total,
            "records_taken_down": stats.taken_down,
            "quarantined_by_reason": counts_table(dict(stats.quarantined)),
            "license": manifest.license,
            "obtained": manifest.obtained,
            "kind": manifest.kind,
            "format": manifest.format,
            "files": stats.files,
            "source_fingerprint": fingerprint,
            "preview": dg.MetadataValue.md(_preview(records_path)),
            "report": dg.MetadataValue.md(report),
        },
    )
    yield dg.MaterializeResult(
        asset_key=QUARANTINE,
        data_version=dg.DataVersion(quarantine_version),
        metadata={
            "dagster/row_count": stats.quarantined_total,
            "dagster/column_schema": column_schema(QuarantineRow),
            "path": dg.MetadataValue.path(str(quarantine_path)),
            "by_reason": counts_table(dict(stats.quarantined)),
        },
    )
    yield from checks
