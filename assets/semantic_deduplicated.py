"""semantic_deduplicated (per release spec): paraphrases and templated rewrites MinHash misses.

Thin wiring around `curaline.semantic_dedup`: off unless the spec says `dedup: {semantic:
COSINE}` (then an empty list); the removals (kept doc, cosine, cluster) go to the ledger as
`merge-into` `semantic_duplicate` and to data/semantic_deduplicated/<release>.parquet, which
the `release` asset applies.
"""

import dagster as dg
import numpy as np

from assets.common import counts_table, dvc_track, stage_asset_args
from curaline.ledger import write_ledger
from curaline.release.spec import load_spec
from curaline.semantic_dedup import STAGE, output_path, semantic_deduplicate
from resources.lineage import LineageResource
from resources.project import ProjectResource


@dg.asset(
    **stage_asset_args(STAGE),
    kinds={"python", "parquet"},
    description=(
        "Semantic duplicates among a release's records (SemDeDup-style): WordLlama static embeddings "
        "(read from its wheel), k-means with two probes, and in keep-policy order a record whose cosine to "
        "a kept one reaches the spec's `dedup.semantic` is removed, naming the kept record and the cosine. "
        "Off (an empty list) unless the release spec sets `dedup: {semantic: COSINE}`."
    ),
)
def semantic_deduplicated(context: dg.AssetExecutionContext, project: ProjectResource, lineage: LineageResource):
    proj = project.project
    name = context.partition_key
    manifests = project.manifests()
    spec = load_spec(proj.releases_dir / f"{name}.yaml", manifests)
    path = output_path(proj, name)
    with lineage.materialization(context) as run:
        stats, removed, events = semantic_deduplicate(proj, spec, manifests)
        write_ledger(proj, events, stage=STAGE, partition=name, run_id=context.run_id)
        version = dvc_track(proj, STAGE, name)[path.relative_to(proj.root).as_posix()]
        run.output(path, asset_key=context.asset_key, rows=removed.num_rows, version=version, licence_mix=False,
                   rows_in=stats.rows_in, removals={"semantic_duplicate": stats.removed} if stats.removed else {})
    sims = stats.similarities
    return dg.MaterializeResult(
        data_version=dg.DataVersion(version),
        metadata={
            "semantic_threshold": spec.semantic if spec.semantic is not None else "off",
            "rows_in": stats.rows_in,
            "removed": stats.removed,
            "removed_by_source": counts_table(stats.by_source, key="source"),
            "cosine_median": float(np.median(sims)) if sims.size else 0.0,
            "path": dg.MetadataValue.path(str(path)),
        },
    )
