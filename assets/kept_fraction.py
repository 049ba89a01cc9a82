"""kept_fraction: a non-blocking check per source partition of how much the stages kept.

Thin wiring around `curaline.kept`: a source the pipeline empties fails it (WARN below the
warning threshold, ERROR below the error threshold, as dbt's warn_if / error_if), without
stopping anything downstream.
"""

import warnings

import dagster as dg

from assets.common import source_partitions
from curaline import kept
from curaline.pipeline import PER_SOURCE_STAGES
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
        return dg.AssetCheckResult(
            passed=v.level == "ok", severity=severity, description=v.message(),
            metadata={"read": v.read, "kept": v.kept, "kept_fraction": dg.MetadataValue.float(round(v.fraction or 0.0, 4)),
                      "warn_below": v.warn_below, "error_below": v.error_below, "level": v.level},
        )  # fmt: skip


KEPT_CHECKS = [kept_fraction]
