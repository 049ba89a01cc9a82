"""What every stage asset shares: the partitions, groups, owners and metadata builders."""

from __future__ import annotations

from collections.abc import Mapping

import dagster as dg
import pandera.polars as pa

from curaline import stages
from curaline.reports.plots import bar_svg, svg_markdown
from curaline.schemas import ValidationReport, column_docs

#: One dynamic partition per source manifest; `curaline run` and the sensor add them.
source_partitions = dg.DynamicPartitionsDefinition(name="sources")
#: One dynamic partition per release spec (`releases/<name>.yaml`).
release_partitions = dg.DynamicPartitionsDefinition(name="releases")

OWNER = "team:data-curation"

#: Asset groups, one per curation stage family (the registry names each stage's).
SOURCING, CLEANING, DEDUP, RELEASE = stages.SOURCING, stages.CLEANING, stages.DEDUP, stages.RELEASE
ANNOTATION, PREFERENCE, COMPLIANCE = stages.ANNOTATION, stages.PREFERENCE, stages.COMPLIANCE
#: a scope's dynamic partitions
PARTITIONS: dict[str, dg.DynamicPartitionsDefinition | None] = {
    "catalog": None, "source": source_partitions, "global": None, "release": release_partitions}  # fmt: skip


def stage_asset_args(name: str) -> dict:
    """`dg.asset` arguments a stage's registry row fixes: its key, deps, group, partitions, code version."""
    row = stages.stage(name)
    return {"name": name, "deps": list(row.upstream), "group_name": row.group, "owners": [OWNER],
            "partitions_def": PARTITIONS[row.scope], "code_version": row.code_version}  # fmt: skip


def stage_spec_args(name: str) -> dict:
    """The same for a `dg.AssetSpec` of a multi-asset (partitions go on the multi-asset)."""
    row = stages.stage(name)
    return {"key": name, "deps": list(row.upstream), "group_name": row.group, "owners": [OWNER],
            "code_version": row.code_version}  # fmt: skip


def column_schema(model: type[pa.DataFrameModel] | pa.DataFrameSchema) -> dg.TableSchema:
    """The Pandera model as the UI's column schema (Columns tab)."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name=name,
                type=dtype,
                description=desc or None,
                constraints=dg.TableColumnConstraints(nullable=nullable),
            )
            for name, dtype, desc, nullable in column_docs(model)
        ]
    )


def counts_table(counts: Mapping[str, int], key: str = "reason") -> dg.TableMetadataValue:
    """A {reason: count} mapping as a sortable table in the UI."""
    schema = dg.TableSchema(columns=[dg.TableColumn(key, "string"), dg.TableColumn("count", "int")])
    records = [dg.TableRecord({key: k, "count": int(v)}) for k, v in sorted(counts.items(), key=lambda kv: -kv[1])]
    return dg.MetadataValue.table(records, schema=schema)


def counts_markdown(title: str, counts: Mapping[str, int], key: str = "reason") -> str:
    if not counts:
        return f"**{title}:** none"
    ranked = sorted(counts.items(), key=lambda kv: -kv[1])  # the plot in the table's order
    rows = "\n".join(f"| {k} | {v} |" for k, v in ranked)
    plot = svg_markdown(bar_svg([k for k, _ in ranked], [v for _, v in ranked], title=title), title)
    return f"**{title}**\n\n| {key} | count |\n|---|---:|\n{rows}\n\n{plot}"


def schema_check_result(report: ValidationReport, check_name: str, asset_key: dg.AssetKey | None = None) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=check_name,
        asset_key=asset_key,
        passed=report.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"rows": report.rows, "failures": report.failures, "report": dg.MetadataValue.md(report.markdown())},
    )


def dvc_track(project, stage: str, partition: str | None = None) -> dict[str, str]:
    """Record a stage's outputs in DVC (dvc.lock + cache); returns {out path: DVC hash}.

    The hashes are the assets' data versions, so Dagster's staleness and DVC agree.
    """
    from curaline.dvc_cli import track_asset

    return track_asset(project, stage, partition)


def commit_release_outputs(project, name: str, paths: list[str], what: str) -> None:
    """Commit dvc.lock once a release's documents or exports are tracked, and push them.

    The release commit (and its tag) comes before them; without this second commit a fresh
    clone's `dvc pull` fails on outputs its dvc.lock does not know. Not under `dvc repro`,
    which records the outputs itself and publishes nothing.
    """
    import os

    from curaline import versioning

    if os.environ.get("DVC_STAGE"):
        return
    versioning.git_commit(project, versioning.versioning_paths(project), f"{what} of release {name}")
    versioning.push(project, paths)


def per_source_version(project, stage: str) -> dg.DataVersion:
    """A global stage's data version: the DVC hash of its output folder (tracked here)."""
    return dg.DataVersion(dvc_track(project, stage)[f"data/{stage}"])
