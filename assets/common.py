"""What every stage asset shares: the partitions, groups, owners and metadata builders."""

from __future__ import annotations

from collections.abc import Mapping

import dagster as dg
import pandera.polars as pa

from curaline.reports.plots import bar_png, png_markdown
from curaline.schemas import ValidationReport, column_docs

#: One dynamic partition per source manifest; `curaline run` and the sensor add them.
source_partitions = dg.DynamicPartitionsDefinition(name="sources")
#: One dynamic partition per release spec (`releases/<name>.yaml`).
release_partitions = dg.DynamicPartitionsDefinition(name="releases")

OWNER = "team:data-curation"

#: Asset groups, one per curation stage family, in flow order.
SOURCING = "sourcing"
CLEANING = "cleaning"
DEDUP = "dedup"
RELEASE = "release"
ANNOTATION = "annotation"
PREFERENCE = "preference"
COMPLIANCE = "compliance"


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
    rows = "\n".join(f"| {k} | {v} |" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))
    plot = png_markdown(bar_png(list(counts), list(counts.values()), title=title), title)
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


def per_source_version(project, stage: str, source_ids=None) -> dg.DataVersion:
    """A global stage's data version: the DVC hash of its output folder (tracked here)."""
    return dg.DataVersion(dvc_track(project, stage)[f"data/{stage}"])


def per_source_schema_check(project, stage: str, kinds: Mapping[str, str], check_name: str, key: dg.AssetKey):
    """Validate every per-source file of a global stage; report the first failing one."""
    from curaline.schemas import stage_schema, validate_file

    reports = [validate_file(project.stage_path(stage, s), stage_schema(kind)) for s, kind in sorted(kinds.items())]
    failing = [r for r in reports if not r.passed]
    if not reports:
        return dg.AssetCheckResult(check_name=check_name, asset_key=key, passed=True, metadata={"files": 0})
    return schema_check_result(failing[0] if failing else reports[0], check_name, key)
