"""The shape every global stage shares, as record_stage is for the per-source ones.

A global stage reads every source's upstream records at once (dedup, decontamination,
pair checks) and still writes one file per source under data/<stage>/. What it does is
its own; the frame is the same for each, so it is written once here: the lineage run,
the ledger file, one OpenLineage output per source file, the DVC-tracked data version,
the same metadata keys in the UI for every stage (rows_in, rows_out, dropped,
dropped_by_reason, path, report) and two blocking checks: in = kept + dropped with the
ledger agreeing, and every source file against its kind's Pandera model.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc

from assets.common import OWNER, column_schema, counts_markdown, counts_table, per_source_version, schema_check_result
from curaline import stages
from curaline.ledger import write_ledger
from curaline.project import Project
from curaline.schemas import stage_schema, validate_file
from curaline.sources import SourceManifest
from curaline.store import file_digest, release_unused_memory
from resources.lineage import LineageResource
from resources.project import ProjectResource

#: ledger actions that take a record out (a merge keeps its copy, not the record)
REMOVALS = ("drop", "merge-into")


@dataclass
class GlobalOutcome:
    """What a global stage's body returns: counts per source, ledger rows, its own report."""

    by_source: Mapping[str, tuple[int, int]]  # source -> (records in, kept)
    events: pa.Table  # ledger rows (curaline.kernels.base.EVENT_SCHEMA)
    dropped_by_source: Mapping[str, Mapping[str, int]] = field(default_factory=dict)  # source -> reason -> n
    sections: list[str] = field(default_factory=list)  # Markdown after the summary line
    metadata: dict[str, Any] = field(default_factory=dict)  # the stage's own figures, beside the shared keys
    balanced: bool = True  # the body's own consistency check (pairs per source add up...)

    @property
    def rows_in(self) -> int:
        return sum(n for n, _ in self.by_source.values())

    @property
    def kept(self) -> int:
        return sum(k for _, k in self.by_source.values())

    @property
    def dropped(self) -> int:
        return self.rows_in - self.kept

    def dropped_by_reason(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for reasons in self.dropped_by_source.values():
            for reason, n in reasons.items():
                if n:
                    out[reason] = out.get(reason, 0) + int(n)
        return out


#: (project, manifests) -> the outcome; runs inside the lineage run, after its START
Body = Callable[[dg.AssetExecutionContext, Project, list[SourceManifest]], GlobalOutcome]


def global_stage_asset(
    *,
    name: str,
    body: Body,
    description: str,
    signal_columns: Mapping[str, pa.DataType] | None = None,
    inputs: Callable[[Project, list[SourceManifest]], list[Path]] | None = None,
    kinds: frozenset[str] = frozenset({"python", "parquet"}),
) -> dg.AssetsDefinition:
    """The Dagster asset of global stage `name` (a row of curaline.stages) around `body`."""
    row = stages.stage(name)
    key = dg.AssetKey(name)

    @dg.asset(
        name=name,
        deps=list(row.upstream),
        group_name=row.group,
        owners=[OWNER],
        kinds=set(kinds),
        code_version=row.code_version,
        description=description,
        check_specs=[
            dg.AssetCheckSpec(f"{name}_balance", asset=key, blocking=True,
                              description="records in = kept + dropped, and the ledger has one removal row per dropped record"),
            dg.AssetCheckSpec(f"{name}_schema", asset=key, blocking=True,
                              description="every source's output matches its kind's Pandera model plus this stage's signals"),
        ],  # fmt: skip
    )
    def _stage(context: dg.AssetExecutionContext, project: ProjectResource, lineage: LineageResource):
        proj = project.project
        manifests = project.manifests()
        kind_of = {m.id: m.kind for m in manifests}
        read = inputs(proj, manifests) if inputs is not None else None
        with lineage.materialization(context, inputs=read) as run:
            outcome = body(context, proj, manifests)
            write_ledger(proj, outcome.events, stage=name, partition=None, run_id=context.run_id)
            for source_id, (rows_in, kept) in sorted(outcome.by_source.items()):
                path = proj.stage_path(name, source_id)
                run.output(path, asset_key=key, model=stage_schema(kind_of[source_id], dict(signal_columns or {})),
                           version=file_digest(path), rows=kept, rows_in=rows_in,
                           removals=dict(outcome.dropped_by_source.get(source_id, {})))  # fmt: skip
        release_unused_memory()  # the step's tables are gone: the next step (the release) need not stack on them
        by_reason = outcome.dropped_by_reason()
        report = "\n\n".join([
            f"### `{name}` over {len(outcome.by_source)} source(s)\n\n{outcome.rows_in} in, "
            f"**{outcome.kept} kept**, **{outcome.dropped} dropped**.",
            *outcome.sections,
            counts_markdown("Dropped by reason", by_reason),
        ])  # fmt: skip
        kinds_written = sorted({kind_of[s] for s in outcome.by_source})
        schemas = {kind: stage_schema(kind, dict(signal_columns or {})) for kind in kinds_written}
        shared: dict[str, Any] = {
            "dagster/row_count": outcome.kept,
            "rows_in": outcome.rows_in,
            "rows_out": outcome.kept,
            "dropped": outcome.dropped,
            "dropped_by_reason": counts_table(by_reason),
            "path": dg.MetadataValue.path(str(proj.data_dir / name)),
            "report": dg.MetadataValue.md(report),
        }
        if len(schemas) == 1:  # one kind: the UI's Columns tab can show its model
            shared["dagster/column_schema"] = column_schema(next(iter(schemas.values())))
        yield dg.MaterializeResult(
            asset_key=key,
            data_version=per_source_version(proj, name),
            metadata={**outcome.metadata, **shared},
        )
        events = outcome.events
        ledger_rows = int(pc.sum(pc.is_in(events["action"], pa.array(REMOVALS))).as_py() or 0) if events.num_rows else 0
        yield dg.AssetCheckResult(
            check_name=f"{name}_balance", asset_key=key,
            passed=outcome.balanced and ledger_rows == outcome.dropped,
            metadata={"in": outcome.rows_in, "kept": outcome.kept, "dropped": outcome.dropped,
                      "ledger_removal_rows": ledger_rows},
        )  # fmt: skip
        reports = [validate_file(proj.stage_path(name, s), schemas[kind_of[s]]) for s in sorted(outcome.by_source)]
        failing = [r for r in reports if not r.passed]
        if reports:
            yield schema_check_result(failing[0] if failing else reports[0], f"{name}_schema", key)
        else:
            yield dg.AssetCheckResult(check_name=f"{name}_schema", asset_key=key, passed=True, metadata={"files": 0})

    return _stage
