"""The per-source step: ingest and every per-record stage of a source, one pass per shard.

One Dagster step (a multi-asset) materializes `raw_records`, `quarantined_records` and
each per-record stage of a source. The work is `curaline.shards`: the source is planned
into shards, an engine runs each shard's ingest + stage chain in a worker (one read of
the input, every output and ledger row committed together, schema validated on the
batches), and committed shards of an interrupted run are skipped. Each asset still gets
its own materialization, metadata, report, checks and OpenLineage run: this module sums
the shards' results per asset, tracks the folders in DVC once, and reports.
"""


import io
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from assets.common import (
    PARTITIONS,
    column_schema,
    counts_markdown,
    counts_table,
    dvc_track,
    schema_check_result,
    stage_spec_args,
)
from curaline import stages
from curaline.engine import EngineConfig, make_engine
from curaline.fingerprint import source_fingerprint
from curaline.lineage.index import record_ledger_file
from curaline.progress import Progress
from curaline.records import NON_TEXT_KINDS
from curaline.reports.plots import bar_svg, histogram_svg, svg_markdown
from curaline.schemas import QuarantineRow, record_model, stage_schema
from curaline.settings import settings_markdown
from curaline.shards.chain import WORKER_MODULES, record_chain
from curaline.shards.phase import prepare_source, source_tasks
from curaline.shards.runner import QUARANTINE, RAW, run_phase
from curaline.shards.summary import IngestSummary, StageSummary, check_unique_doc_ids, summarize_ingest, summarize_stage
from curaline.sources import WEB_FORMATS
from curaline.takedown import load_requests
from resources.lineage import LineageResource
from resources.project import ProjectResource

#: `curaline run --workers N` sets it for the steps it runs (else curaline.yaml's engine.workers, else every core)
WORKERS_ENV = "CURALINE_WORKERS"


@dataclass(frozen=True)
class Histogram:
    title: str
    xlabel: str
    log_x: bool = False
    threshold: Callable[[Any], float | None] = lambda config: None


@dataclass(frozen=True)
class RecordStage:
    """What the UI shows of a per-record stage: its description and its report's histogram;
    model_inputs names the learned models it applies as lineage inputs (emitter, config, kind)."""

    name: str
    description: str
    histogram: Histogram
    model_inputs: Callable[[Any, Any, str], list[Any]] | None = None


def engine_config(project: Any) -> EngineConfig:
    workers = os.environ.get(WORKERS_ENV)
    # CURALINE_ENGINE / CURALINE_ENGINE_ADDRESS: `curaline run --engine ray --address ADDR`
    return project.config.engine.with_workers(int(workers) if workers else None).with_environment()


def _checks(chain: Sequence[RecordStage]) -> list[dg.AssetCheckSpec]:
    raw, quarantine = dg.AssetKey(RAW), dg.AssetKey(QUARANTINE)
    specs = [
        dg.AssetCheckSpec("raw_schema", asset=raw, blocking=True, description="records match the kind's Pandera model"),
        dg.AssetCheckSpec("read_balance", asset=raw, blocking=True, description="records read = ingested + quarantined"),
        dg.AssetCheckSpec("quarantine_schema", asset=quarantine, blocking=True,
                          description="quarantine rows match the QuarantineRow model"),
    ]  # fmt: skip
    for s in chain:
        key = dg.AssetKey(s.name)
        specs += [
            dg.AssetCheckSpec(f"{s.name}_schema", asset=key, blocking=True,
                              description="output matches the kind's Pandera model plus this stage's signals"),
            dg.AssetCheckSpec(f"{s.name}_balance", asset=key, blocking=True,
                              description="records in = kept + dropped, and the ledger agrees"),
        ]  # fmt: skip
    return specs


def source_records_asset(chain: Sequence[RecordStage], descriptions: Mapping[str, str]) -> dg.AssetsDefinition:
    """The multi-asset of the `source_records` step over the registry's sharded stages."""
    specs = [dg.AssetSpec(**stage_spec_args(name), kinds={"python", "parquet"}, description=descriptions[name])
             for name in (RAW, QUARANTINE)]  # fmt: skip
    specs += [dg.AssetSpec(**stage_spec_args(s.name), kinds={"python", "parquet"}, description=s.description)
              for s in chain]  # fmt: skip
    by_name = {s.name: s for s in chain}

    @dg.multi_asset(name=stages.SOURCE_RECORDS, specs=specs, check_specs=_checks(chain),
                    partitions_def=PARTITIONS["source"])  # fmt: skip
    def source_records(context: dg.AssetExecutionContext, project: ProjectResource, lineage: LineageResource):
        source_id = context.partition_key
        proj = project.project
        manifest = project.manifest(source_id)
        # taken before reading: a file changed during the ingest reads as changed on the sensor's next tick
        fingerprint, _ = source_fingerprint(manifest, {})
        try:  # a damaged request file must fail the run, never let records back in
            requests, _ = load_requests(proj, strict=True)
        except ValueError as exc:
            raise dg.Failure(f"cannot apply takedown requests: {exc}") from exc
        # a label-studio source: its judgements pulled first; its fingerprint is Label Studio's
        # state before the pull (its mirror is the pull's output, not what the sensor watches)
        fingerprint = prepare_source(proj, manifest) or fingerprint
        chain_run = record_chain(manifest, proj)
        tasks = source_tasks(proj, manifest, context.run_id, chain_run, takedown_requests=requests)
        config = engine_config(proj)
        progress = Progress(f"{source_id}: shards", len(tasks), stream=io.StringIO(), tty=False, log=context.log.info)
        context.log.info(f"{source_id}: {len(tasks)} shard(s) on the {config.label} engine")
        with make_engine(config, preload=WORKER_MODULES) as engine:
            results = run_phase(engine, tasks, progress=lambda r: progress.update(skipped=r["skipped"]))
        for r in results:
            if not r["skipped"]:
                for path in r["ledgers"].values():  # keep `lineage trace`'s index current (a cache)
                    record_ledger_file(proj, Path(path))
        hashes = dvc_track(proj, stages.SOURCE_RECORDS, source_id)
        ingest = summarize_ingest(results)
        yield from _ingest_results(context, lineage, proj, manifest, ingest, hashes, fingerprint, len(tasks))
        previous = proj.stage_path(RAW, source_id)
        for stage in chain_run:
            summary = summarize_stage(results, stage.name)
            yield from _stage_results(context, lineage, proj, manifest, stage, by_name[stage.name], summary, hashes,
                                      previous)  # fmt: skip
            previous = proj.stage_path(stage.name, source_id)

    return source_records


def _version(proj: Any, hashes: Mapping[str, str], stage: str, source_id: str) -> str:
    return hashes[proj.stage_path(stage, source_id).relative_to(proj.root).as_posix()]


def _ingest_results(context: dg.AssetExecutionContext, lineage: LineageResource, proj: Any, manifest: Any,
                    stats: IngestSummary, hashes: Mapping[str, str], fingerprint: str, shards: int) -> Iterator[Any]:  # fmt: skip
    source_id = manifest.id
    raw_key, q_key = dg.AssetKey(RAW), dg.AssetKey(QUARANTINE)
    records_path, quarantine_path = proj.stage_path(RAW, source_id), proj.stage_path(QUARANTINE, source_id)
    model = record_model(manifest.kind, manifest.format)
    raw_version = _version(proj, hashes, RAW, source_id)
    quarantine_version = _version(proj, hashes, QUARANTINE, source_id)
    raw_report = check_unique_doc_ids(records_path, stats.raw_validation)
    checks = [
        schema_check_result(raw_report, "raw_schema", raw_key),
        dg.AssetCheckResult(
            check_name="read_balance", asset_key=raw_key, passed=stats.balanced, severity=dg.AssetCheckSeverity.ERROR,
            metadata={"read": stats.read, "ingested": stats.ingested, "quarantined": stats.quarantined_total,
                      "taken_down": stats.taken_down},
        ),
        schema_check_result(stats.quarantine_validation, "quarantine_schema", q_key),
    ]  # fmt: skip
    catalog = [p for p in [proj.stage_path("source_catalog")] if p.exists()]
    with lineage.materialization(context, job=RAW, inputs=catalog) as run:
        run.source(manifest)
        run.output(records_path, asset_key=raw_key, model=model, version=raw_version, rows=stats.ingested,
                   rows_in=stats.read, quarantined=dict(stats.quarantined), source=manifest)  # fmt: skip
        run.checks(records_path, checks[:2])
    with lineage.materialization(context, job=QUARANTINE, inputs=catalog) as run:
        run.source(manifest)
        run.output(quarantine_path, asset_key=q_key, model=QuarantineRow, version=quarantine_version,
                   rows=stats.quarantined_total, licence_mix=False)  # fmt: skip
        run.checks(quarantine_path, checks[2:])
    context.log.info(f"{source_id}: read {stats.read}, ingested {stats.ingested}, quarantined {stats.quarantined_total}"
                     f" in {shards} shard(s)")  # fmt: skip
    if manifest.kind == "annotation":  # judgements, not text: how often each label was given
        counts = pc.value_counts(pq.read_table(records_path, columns=["label"])["label"]).to_pylist()
        plot = svg_markdown(bar_svg([str(c["values"]) for c in counts[:30]], [c["counts"] for c in counts[:30]],
                                    title="judgements per label"), "label counts")  # fmt: skip
    else:
        first_text = "text" if manifest.kind in ("document", "evaluation") else "prompt"
        plot = svg_markdown(histogram_svg(stats.lengths, title=f"{first_text} length (characters)", xlabel="characters",
                                          log_x=True), "length histogram")  # fmt: skip
    by_extractor: dict[str, int] = {}
    if manifest.format in WEB_FORMATS and stats.ingested:  # which extractor made each page's text (the cascade's choice)
        counts = pc.value_counts(pq.read_table(records_path, columns=["extractor"])["extractor"]).to_pylist()
        by_extractor = {str(c["values"]): int(c["counts"]) for c in counts}
    report = "\n\n".join([
        f"### Ingest of `{source_id}`",
        f"{stats.files} file(s) in {shards} shard(s), {stats.read} records read: **{stats.ingested} ingested**, "
        f"**{stats.quarantined_total} quarantined**, **{stats.taken_down} taken down** (takedown requests), "
        f"{stats.blank_lines} blank lines skipped."
        + (f" WARC records that hold no page, skipped: {dict(stats.skipped)}." if stats.skipped else "")
        + (f" **{stats.tdm_reserved} page(s) carry a TDM rights reservation** (ledger: flag tdm_reserved; the "
           "release gate keeps them out where it must)." if manifest.format in WEB_FORMATS else "")
        + (f" {stats.trees} message trees, {stats.trees_without_pairs} without a ranked pair."
           if manifest.format == "oasst" else ""),
        counts_markdown("Quarantined by reason", dict(stats.quarantined)),
        *([counts_markdown("Pages by extractor (main text)", by_extractor, key="extractor")]
          if manifest.format in WEB_FORMATS else []),
        plot,
    ])  # fmt: skip
    yield dg.MaterializeResult(asset_key=raw_key, data_version=dg.DataVersion(raw_version), metadata={
        "dagster/row_count": stats.ingested, "dagster/column_schema": column_schema(model),
        "path": dg.MetadataValue.path(str(records_path)), "shards": shards,
        "records_read": stats.read, "records_ingested": stats.ingested,
        "records_quarantined": stats.quarantined_total, "records_taken_down": stats.taken_down,
        **({"records_tdm_reserved": stats.tdm_reserved,
            "pages_by_extractor": counts_table(by_extractor, key="extractor")} if manifest.format in WEB_FORMATS else {}),
        "quarantined_by_reason": counts_table(dict(stats.quarantined)), "license": manifest.license,
        "obtained": manifest.obtained, "kind": manifest.kind, "format": manifest.format, "files": stats.files,
        "source_fingerprint": fingerprint, "preview": dg.MetadataValue.md(_preview(records_path)),
        "report": dg.MetadataValue.md(report),
    })  # fmt: skip
    yield dg.MaterializeResult(asset_key=q_key, data_version=dg.DataVersion(quarantine_version), metadata={
        "dagster/row_count": stats.quarantined_total, "dagster/column_schema": column_schema(QuarantineRow),
        "path": dg.MetadataValue.path(str(quarantine_path)), "by_reason": counts_table(dict(stats.quarantined)),
    })  # fmt: skip
    yield from checks


def _preview(folder: Any) -> str:
    """A few rows as a table: ids, origin and sizes only, so no raw text (or PII) shows."""
    files = sorted(folder.glob("shard-*.parquet"))
    first = next(pq.ParquetFile(files[0]).iter_batches(batch_size=5), None) if files else None
    table = pa.Table.from_batches([first]) if first is not None else pa.table({"doc_id": pa.array([], pa.string())})
    text_cols = [c for c in ("text", "prompt", "response", "chosen", "rejected") if c in table.column_names]
    lines = ["| doc_id | file | line/row | " + " | ".join(f"{c} chars" for c in text_cols) + " |",
             "|---|---|---|" + "---:|" * len(text_cols)]  # fmt: skip
    for row in table.to_pylist():
        pos = row["source_line"] if row["source_line"] is not None else row["source_row"]
        sizes = " | ".join(str(len(row[c] or "")) for c in text_cols)
        lines.append(f"| `{row['doc_id']}` | {row['source_file']} | {pos} | {sizes} |")
    return "\n".join(lines)


def _stage_results(context: dg.AssetExecutionContext, lineage: LineageResource, proj: Any, manifest: Any, stage: Any,
                   shown: RecordStage, stats: StageSummary, hashes: Mapping[str, str], upstream: Any) -> Iterator[Any]:  # fmt: skip
    name, source_id = stage.name, manifest.id
    key = dg.AssetKey(name)
    out_path = proj.stage_path(name, source_id)
    schema = stage_schema(manifest.kind, dict(stage.signal_columns))
    version = _version(proj, hashes, name, source_id)
    checks = [
        schema_check_result(stats.validation, f"{name}_schema", key),
        dg.AssetCheckResult(
            check_name=f"{name}_balance", asset_key=key, severity=dg.AssetCheckSeverity.ERROR,
            passed=stats.balanced and stats.ledger_drop_rows >= stats.dropped_total,
            metadata={"in": stats.rows_in, "kept": stats.kept, "dropped": stats.dropped_total,
                      "ledger_drop_rows": stats.ledger_drop_rows},
        ),
    ]  # fmt: skip
    models = stage.config.lineage_tags() if hasattr(stage.config, "lineage_tags") else None
    with lineage.materialization(context, job=name, inputs=[upstream]) as run:
        if models:  # models and their versions (language stage)
            run.tags(models)
        inner = getattr(run, "run", None)  # None when lineage is off
        if inner is not None and shown.model_inputs is not None:  # a learned model is an input too
            for dataset in shown.model_inputs(inner.emitter, stage.config, manifest.kind):
                inner.input(dataset)
        run.output(out_path, asset_key=key, model=schema, version=version, rows=stats.kept, rows_in=stats.rows_in,
                   removals=dict(stats.dropped), changes=dict(stats.changed))  # fmt: skip
        run.checks(out_path, checks)
    values = stats.signal_values()
    histogram = shown.histogram
    plot = svg_markdown(histogram_svg(values, title=histogram.title, xlabel=histogram.xlabel, log_x=histogram.log_x,
                                      threshold=histogram.threshold(stage.config)), histogram.title)  # fmt: skip
    summary = (
        f"### `{name}` of `{source_id}`\n\n{stats.rows_in} in, **{stats.kept} kept**, "
        f"**{stats.dropped_total} dropped**, {stats.records_changed} changed.\n\n"
        + (f"Records of kind `{manifest.kind}` are not text: they pass through unchanged."
           if manifest.kind in NON_TEXT_KINDS else settings_markdown(stage.config))
    )  # fmt: skip
    report = "\n\n".join([summary, counts_markdown("Dropped by reason", dict(stats.dropped)),
                          counts_markdown("Changed by reason", dict(stats.changed)), plot])  # fmt: skip
    column = stage.signal_column or "signal"
    yield dg.MaterializeResult(asset_key=key, data_version=dg.DataVersion(version), metadata={
        "dagster/row_count": stats.kept, "dagster/column_schema": column_schema(schema),
        "path": dg.MetadataValue.path(str(out_path)), "rows_in": stats.rows_in, "rows_out": stats.kept,
        "dropped": stats.dropped_total, "changed": stats.records_changed,
        "dropped_by_reason": counts_table(dict(stats.dropped)), "changed_by_reason": counts_table(dict(stats.changed)),
        f"{column}_mean": float(np.nanmean(values)) if values.size else 0.0, "report": dg.MetadataValue.md(report),
        **({"models": dg.MetadataValue.json(models)} if models else {}),
    })  # fmt: skip
    yield from checks
