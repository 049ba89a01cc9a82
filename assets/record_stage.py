"""The shape every per-source cleaning stage shares, so each stage module stays a few lines.

A stage reads its upstream stage's parquet for one source, runs a pure kernel from
`curaline.kernels` batch by batch, writes the kept rows, appends its ledger rows, and
reports rows in/out, removals and changes by reason, and a histogram of its main signal.
Two blocking checks guard what flows downstream: the output schema and in = kept + dropped.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import dagster as dg
import numpy as np
import pyarrow as pa

from assets.common import column_schema, counts_markdown, counts_table, dvc_track, schema_check_result, stage_asset_args
from curaline import stages
from curaline.ledger import write_ledger
from curaline.project import Project
from curaline.records import NON_TEXT_KINDS
from curaline.reports.plots import histogram_png, png_markdown
from curaline.schemas import stage_schema, validate_file
from curaline.settings import settings_markdown
from curaline.sources import SourceManifest
from curaline.stage import Kernel, run_record_stage, stage_signals
from resources.lineage import LineageResource
from resources.project import ProjectResource


@dataclass(frozen=True)
class Histogram:
    title: str
    xlabel: str
    log_x: bool = False
    threshold: Callable[[Any], float | None] = lambda config: None


def _settings(name: str) -> Callable[[SourceManifest, Project], Any]:
    return lambda manifest, project: project.config.for_stage(name)


def record_stage_asset(
    *,
    name: str,
    signal_columns: Mapping[str, pa.DataType] | Callable[[str], Mapping[str, pa.DataType]],
    signal_column: str,
    histogram: Histogram,
    description: str,
    make_config: Callable[[SourceManifest, Project], Any] | None = None,
    model_inputs: Callable[[Any, Any, str], list[Any]] | None = None,
) -> dg.AssetsDefinition:
    """The asset of per-source stage `name`: its upstream, kernel, group and code version come
    from its row in curaline.stages; its settings from `stages.<name>` unless make_config is given."""
    key = dg.AssetKey(name)
    row = stages.stage(name)
    if row.scope != "source" or len(row.upstream) != 1 or row.kernel is None:
        raise ValueError(f"stage {name}: a record stage is per source, reads one upstream and names its kernel")
    upstream = row.upstream[0]
    kernel: Kernel = stages.kernel_function(name)
    make_config = make_config or _settings(name)

    @dg.asset(
        **stage_asset_args(name),
        kinds={"python", "parquet"},
        description=description,
        check_specs=[
            dg.AssetCheckSpec(f"{name}_schema", asset=key, blocking=True,
                              description="output matches the kind's Pandera model plus this stage's signals"),
            dg.AssetCheckSpec(f"{name}_balance", asset=key, blocking=True,
                              description="records in = kept + dropped, and the ledger agrees"),
        ],  # fmt: skip
    )
    def _stage(context: dg.AssetExecutionContext, project: ProjectResource, lineage: LineageResource):
        source_id = context.partition_key
        proj = project.project
        manifest = project.manifest(source_id)
        config = make_config(manifest, proj.for_source(manifest))  # the source's own stage settings win
        declared = {} if manifest.kind in NON_TEXT_KINDS else signal_columns  # a kind's signals may not exist
        signals = stage_signals(manifest.kind, declared(manifest.kind) if callable(declared) else declared)
        out_path = proj.stage_path(name, source_id)
        schema = stage_schema(manifest.kind, signals)
        with lineage.materialization(context) as run:  # START now; COMPLETE, or FAIL on error
            if hasattr(config, "lineage_tags"):  # models and their versions (language stage)
                run.tags(config.lineage_tags())
            inner = getattr(run, "run", None)  # None when lineage is off
            if model_inputs is not None and inner is not None:  # a learned model is an input too
                for dataset in model_inputs(inner.emitter, config, manifest.kind):
                    inner.input(dataset)
            stats, events = run_record_stage(
                kernel, kind=manifest.kind, config=config,
                input_path=proj.stage_path(upstream, source_id), output_path=out_path,
                signal_columns=signals, signal_column=signal_column if signal_column in signals else None,
            )  # fmt: skip
            write_ledger(proj, events, stage=name, partition=source_id, run_id=context.run_id)
            version = dvc_track(proj, name, source_id)[out_path.relative_to(proj.root).as_posix()]
            ledger_drops = int((events["action"].to_numpy(zero_copy_only=False) == "drop").sum()) if events.num_rows else 0
            checks = [
                schema_check_result(validate_file(out_path, schema), f"{name}_schema", key),
                dg.AssetCheckResult(
                    check_name=f"{name}_balance", asset_key=key,
                    passed=stats.balanced and ledger_drops >= stats.dropped_total, severity=dg.AssetCheckSeverity.ERROR,
                    metadata={"in": stats.rows_in, "kept": stats.kept, "dropped": stats.dropped_total,
                              "ledger_drop_rows": ledger_drops},
                ),
            ]  # fmt: skip
            run.output(out_path, asset_key=key, model=schema, version=version, rows=stats.kept,
                       rows_in=stats.rows_in, removals=dict(stats.dropped), changes=dict(stats.changed))  # fmt: skip
            run.checks(out_path, checks)
        values = stats.signal_values()
        plot = png_markdown(
            histogram_png(values, title=histogram.title, xlabel=histogram.xlabel, log_x=histogram.log_x,
                          threshold=histogram.threshold(config)),
            histogram.title,
        )  # fmt: skip
        summary = (
            f"### `{name}` of `{source_id}`\n\n{stats.rows_in} in, **{stats.kept} kept**, "
            f"**{stats.dropped_total} dropped**, {stats.records_changed} changed.\n\n"
            + (f"Records of kind `{manifest.kind}` are not text: they pass through unchanged."
               if manifest.kind in NON_TEXT_KINDS else settings_markdown(config))
        )
        report = "\n\n".join([summary, counts_markdown("Dropped by reason", dict(stats.dropped)),
                              counts_markdown("Changed by reason", dict(stats.changed)), plot])  # fmt: skip
        yield dg.MaterializeResult(
            asset_key=key,
            data_version=dg.DataVersion(version),
            metadata={
                "dagster/row_count": stats.kept,
                "dagster/column_schema": column_schema(schema),
                "path": dg.MetadataValue.path(str(out_path)),
                "rows_in": stats.rows_in,
                "rows_out": stats.kept,
                "dropped": stats.dropped_total,
                "changed": stats.records_changed,
                "dropped_by_reason": counts_table(dict(stats.dropped)),
                "changed_by_reason": counts_table(dict(stats.changed)),
                f"{signal_column}_mean": float(np.nanmean(values)) if values.size else 0.0,
                "report": dg.MetadataValue.md(report),
                **({"models": dg.MetadataValue.json(config.lineage_tags())} if hasattr(config, "lineage_tags") else {}),
            },
        )
        yield from checks

    return _stage
