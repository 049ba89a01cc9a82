"""The Dagster definitions of the project chosen by $CURALINE_PROJECT (default: here).

`dagster dev -w workspace.yaml` loads this module; so does `curaline run`, which
executes the same jobs in-process against the project's DAGSTER_HOME.
"""

from __future__ import annotations

import dagster as dg

from assets.annotation import ANNOTATION_ASSETS
from assets.catalog import source_catalog
from assets.common import release_partitions, source_partitions
from assets.decontaminated import decontaminated
from assets.dedup import deduplicated, minhash_bands
from assets.kept_fraction import KEPT_CHECKS
from assets.language import language_checked
from assets.normalized import normalized
from assets.pii import pii_redacted
from assets.preference import preference_exports, preference_pairs
from assets.quality import quality_filtered
from assets.raw import raw_records
from assets.release import release
from assets.reports import REPORT_ASSETS
from assets.toxicity import toxicity_screened
from curaline.project import Project
from resources.lineage import LineageResource
from resources.project import ProjectResource
from sensors.sources import make_source_sensor
from sensors.takedown import make_takedown_sensor

#: Unpartitioned assets that per-source stages read (run first).
CATALOG_ASSETS = [source_catalog]
#: Per-source stages, partitioned by source.
PER_SOURCE_ASSETS = [raw_records, normalized, language_checked, quality_filtered, pii_redacted, toxicity_screened, minhash_bands,
                     *ANNOTATION_ASSETS]
#: Global stages over every source (dedup, decontamination, mix, release).
GLOBAL_ASSETS: list[dg.AssetsDefinition] = [deduplicated, decontaminated, preference_pairs]
#: Per-release assets, partitioned by release spec.
RELEASE_ASSETS = [release, preference_exports, *REPORT_ASSETS]

catalog_job = dg.define_asset_job(
    "catalog_job", selection=dg.AssetSelection.assets(*CATALOG_ASSETS),
    description="Validate every source manifest and rebuild the source catalog.",
)  # fmt: skip
per_source_job = dg.define_asset_job(
    "per_source_job",
    selection=dg.AssetSelection.assets(*PER_SOURCE_ASSETS),
    partitions_def=source_partitions,
    description="Ingest and clean one source (one partition per source manifest).",
)
JOBS = [catalog_job, per_source_job]
if GLOBAL_ASSETS:
    JOBS.append(
        dg.define_asset_job(
            "global_job", selection=dg.AssetSelection.assets(*GLOBAL_ASSETS),
            description="Dedup, decontaminate, mix and release across every source.",
        )  # fmt: skip
    )

release_job = dg.define_asset_job(
    "release_job", selection=dg.AssetSelection.assets(*RELEASE_ASSETS), partitions_def=release_partitions,
    description="Build, gate, version and document one release (one partition per release spec).",
)  # fmt: skip
JOBS.append(release_job)


_global_job = next((j for j in JOBS if j.name == "global_job"), None)
#: Both start RUNNING; $CURALINE_SENSOR_INTERVAL shortens their 30 s interval (tests).
SENSORS = [
    make_source_sensor(per_source_job, catalog_job, _global_job, release_job),
    make_takedown_sensor(per_source_job, _global_job, release_job),
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
