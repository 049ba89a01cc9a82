"""minhash_bands (per source): the MinHash band buckets near dedup joins on.

The shard workers band each shard as they write it (curaline.minhash_bands); this step
checks every part against its input shard, bands what is missing or stale, and reports.
"""

import dagster as dg

from assets.common import dvc_track, stage_asset_args
from assets.deduplicated import dedup_configs
from curaline.minhash_bands import SIGNATURE_STAGE, ensure_source_bands
from resources.lineage import LineageResource
from resources.project import ProjectResource


@dg.asset(
    **stage_asset_args(SIGNATURE_STAGE),
    kinds={"python", "parquet"},
    description=(
        "MinHash band buckets of one source's records (word 5-gram shingles, 128 permutations, "
        "25 bands x 5 rows): one part per shard, written by the shard workers in the same pass as "
        "the cleaning stages, stored per source so a new source costs only its own signatures."
    ),
)
def minhash_bands(
    context: dg.AssetExecutionContext, project: ProjectResource, lineage: LineageResource
) -> dg.MaterializeResult:
    proj = project.project
    minhash, dedup = dedup_configs(proj)
    manifest = project.manifest(context.partition_key)
    path = proj.stage_path(SIGNATURE_STAGE, manifest.id)
    with lineage.materialization(context) as run:
        bands = ensure_source_bands(proj, manifest, minhash, dedup)
        version = dvc_track(proj, SIGNATURE_STAGE, manifest.id)[path.relative_to(proj.root).as_posix()]
        run.output(path, asset_key=dg.AssetKey(SIGNATURE_STAGE), version=version, licence_mix=False)
    if bands.computed:
        context.log.info(f"{manifest.id}: banded {bands.computed} of {bands.parts} shard(s) here "
                         "(the rest came from the shard workers)")  # fmt: skip
    return dg.MaterializeResult(
        data_version=dg.DataVersion(version),
        metadata={"documents": bands.documents, "dagster/row_count": bands.rows, "shards": bands.parts,
                  "banded_by_workers": bands.parts - bands.computed, "banded_here": bands.computed,
                  "minhash": minhash.fingerprint, "bands": dedup.bands, "rows_per_band": dedup.rows,
                  "path": dg.MetadataValue.path(str(path))},  # fmt: skip
    )
