"""kept_fraction: a non-blocking check per source partition of how much the stages kept.

Thin wiring around `curaline.kept`: a source the pipeline empties fails it (WARN below the
warning threshold, ERROR below the error threshold, as dbt's warn_if / error_if), without
stopping anything downstream.
"""

import warnings

import dagster as dg

from assets.common import source_partitions
from curaline import kept
from curaline.stages import PER_SOURCE_STAGES
from resources.project import ProjectResource

TARGET = dg.AssetKey(PER_SOURCE_STAGES[-1])

with warnings.catch_warnings():  # partitioned checks are a preview in Dagster 1.13: expected
    warnings.simplefilter("ignore", dg.PreviewWarning)

    @dg.asset_check(
        asset=TARGET,
        name="kept_fraction",
        blocking=False,
        partitions_def=source_partitions,
        description="records kept by the per-source stages / records read (ingested + quarantined), against the "
                    "project's warn_below / error_below (curaline.yaml stages.kept_fraction, per-source overrides)",
    )  # fmt: skip
    def kept_fraction(context: dg.AssetCheckExecutionContext, project: ProjectResource) -> dg.AssetCheckResult:
        source = context.partition_key
        v = kept.per_source_verdict(project.project, source)
        if v is None:  # e.g. an annotation source: the record stages do not run for it
            return dg.AssetCheckResult(passed=True, metadata={"note": f"no {TARGET.to_user_string()} output for {source}"})
        severity = dg.AssetCheckSeverity.ERROR if v.level == "error" else dg.AssetCheckSeverity.WARN
        # one table, not numbers: the UI would plot numbers of different sources as one line
        table = dg.MetadataValue.md(
            "| read | kept | kept fraction | warn below | error below | level |\n|---:|---:|---:|---:|---:|---|\n"
            f"| {v.read} | {v.kept} | {'n/a' if v.fraction is None else f'{v.fraction:.1%}'} | "
            f"{v.warn_below:.0%} | {v.error_below:.0%} | {v.level} |")  # fmt: skip
        return dg.AssetCheckResult(passed=v.level == "ok", severity=severity, description=v.message(),
                                   metadata={"kept_fraction": table, "source": source})  # fmt: skip


KEPT_CHECKS = [kept_fraction]
