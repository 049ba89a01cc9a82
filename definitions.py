"""The Dagster definitions of the project chosen by $CURALINE_PROJECT (default: here).

`dagster dev -w workspace.yaml` loads this module; so does `curaline run`, which
executes the same jobs in-process against the project's DAGSTER_HOME. Which assets
exist and which job runs them comes from the stage registry (curaline.stages): each
row's asset is the attribute `<step>` of module `assets.<module>`.
"""

from __future__ import annotations

import importlib

import dagster as dg

from assets.common import release_partitions, source_partitions
from assets.kept_fraction import KEPT_CHECKS
from curaline import stages
from curaline.project import Project
from resources.lineage import LineageResource
from resources.project import ProjectResource
from sensors.sources import make_source_sensor
from sensors.takedown import make_takedown_sensor


def _assets_of(scope: stages.Scope) -> list[dg.AssetsDefinition]:
    """The scope's assets in registry order, a multi-asset once."""
    steps: dict[str, dg.AssetsDefinition] = {}
    for row in stages.of_scope(scope):
        if row.step not in steps:
            steps[row.step] = getattr(importlib.import_module(row.asset_module), row.step)
    return list(steps.values())


#: Unpartitioned assets that per-source stages read (run first).
CATALOG_ASSETS = _assets_of("catalog")
#: Per-source stages, partitioned by source.
PER_SOURCE_ASSETS = _assets_of("source")
#: Global stages over every source (dedup, decontamination, preference pairs).
GLOBAL_ASSETS = _assets_of("global")
#: Per-release assets, partitioned by release spec.
RELEASE_ASSETS = _assets_of("release")

catalog_job = dg.define_asset_job(
    stages.JOBS["catalog"], selection=dg.AssetSelection.assets(*CATALOG_ASSETS),
    description="Validate every source manifest and rebuild the source catalog.",
)  # fmt: skip
per_source_job = dg.define_asset_job(
    stages.JOBS["source"], selection=dg.AssetSelection.assets(*PER_SOURCE_ASSETS), partitions_def=source_partitions,
    description="Ingest and clean one source (one partition per source manifest).",
)  # fmt: skip
global_job = dg.define_asset_job(
    stages.JOBS["global"], selection=dg.AssetSelection.assets(*GLOBAL_ASSETS),
    description="Dedup, decontaminate and check preference pairs across every source.",
)  # fmt: skip
release_job = dg.define_asset_job(
    stages.JOBS["release"], selection=dg.AssetSelection.assets(*RELEASE_ASSETS), partitions_def=release_partitions,
    description="Build, gate, version and document one release (one partition per release spec).",
)  # fmt: skip
#: one job per scope, in the order `curaline run` and the sensor waves run them
JOBS = [catalog_job, per_source_job, global_job, release_job]

#: Both start RUNNING; $CURALINE_SENSOR_INTERVAL shortens their 30 s interval (tests).
SENSORS = [
    make_source_sensor(per_source_job, catalog_job, global_job, release_job),
    make_takedown_sensor(per_source_job, global_job, release_job),
]


def build_definitions(project: Project | None = None) -> dg.Definitions:
    project = project or Project.at()
    return dg.Definitions(
        assets=[*CATALOG_ASSETS, *PER_SOURCE_ASSETS, *GLOBAL_ASSETS, *RELEASE_ASSETS],
        asset_checks=KEPT_CHECKS,
        jobs=JOBS,
        sensors=SENSORS,
        resources={"project": (proj := ProjectResource(root=str(project.root))), "lineage": LineageResource(project=proj)},
    )


defs = build_definitions()
