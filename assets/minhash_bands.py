"""minhash_bands (per source): the MinHash band buckets near dedup joins on."""

import dagster as dg
import pyarrow.parquet as pq

from assets.common import dvc_track, stage_asset_args
from assets.deduplicated import dedup_configs
from curaline.dedup import SIGNATURE_STAGE, source_signatures
from resources.lineage import LineageResource
from resources.project import ProjectResource


@dg.asset(
    **stage_asset_args(SIGNATURE_STAGE),
    kinds={"python", "parquet"},
    description=(
        "MinHash band buckets of one source's records (word 5-gram shingles, 128 permutations, "
        "25 bands x 5 rows): stored per source so a new source costs only its own signatures."
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
        n = source_signatures(proj, manifest, minhash, dedup)
        version = dvc_track(proj, SIGNATURE_STAGE, manifest.id)[path.relative_to(proj.root).as_posix()]
        run.output(path, asset_key=dg.AssetKey(SIGNATURE_STAGE), version=version, licence_mix=False)
    return dg.MaterializeResult(
        data_version=dg.DataVersion(version),
        metadata={"documents": n, "dagster/row_count": pq.ParquetFile(path).metadata.num_rows,
                  "minhash": minhash.fingerprint, "bands": dedup.bands, "rows_per_band": dedup.rows,
                  "path": dg.MetadataValue.path(str(path))},  # fmt: skip
    )
