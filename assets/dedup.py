"""minhash_bands (per source) and deduplicated (global): exact and near duplicates removed."""

from collections import Counter

import dagster as dg
import pyarrow.parquet as pq

from assets.common import (
    DEDUP,
    OWNER,
    counts_markdown,
    counts_table,
    dvc_track,
    per_source_schema_check,
    per_source_version,
    source_partitions,
)
from curaline.dedup import OUTPUT_STAGE, SIGNATURE_STAGE, deduplicate, source_signatures
from curaline.kernels.dedup import DedupConfig
from curaline.kernels.minhash import MinHashConfig
from curaline.ledger import write_ledger
from curaline.reports.plots import histogram_png, png_markdown
from curaline.store import file_digest
from resources.lineage import LineageResource
from resources.project import ProjectResource


def _configs(project):
    cfg = project.config
    return cfg.stage_config("minhash", MinHashConfig), cfg.stage_config("dedup", DedupConfig)


@dg.asset(
    name=SIGNATURE_STAGE,
    deps=["toxicity_screened"],
    partitions_def=source_partitions,
    group_name=DEDUP,
    owners=[OWNER],
    kinds={"python", "parquet"},
    code_version="1",
    description=(
        "MinHash band buckets of one source's records (word 5-gram shingles, 128 permutations, "
        "25 bands x 5 rows): stored per source so a new source costs only its own signatures."
    ),
)
def minhash_bands(
    context: dg.AssetExecutionContext, project: ProjectResource, lineage: LineageResource
) -> dg.MaterializeResult:
    proj = project.project
    minhash, dedup = _configs(proj)
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


KEY = dg.AssetKey(OUTPUT_STAGE)


@dg.asset(
    name=OUTPUT_STAGE,
    deps=["toxicity_screened", SIGNATURE_STAGE],
    group_name=DEDUP,
    owners=[OWNER],
    kinds={"python", "duckdb", "parquet"},
    code_version="1",
    description=(
        "Training records of every source with exact duplicates (normalized content hash) and "
        "near duplicates (MinHash LSH, candidates verified by true Jaccard to the kept document) "
        "removed. Which copy is kept: higher source priority, then the more permissive licence, "
        "then the earliest collection, then doc_id. Each removal is a `merge-into` ledger row "
        "naming the kept document and the Jaccard to it."
    ),
    check_specs=[
        dg.AssetCheckSpec("deduplicated_balance", asset=KEY, blocking=True,
                          description="records in = kept + removed, and the ledger agrees"),
        dg.AssetCheckSpec("deduplicated_schema", asset=KEY, blocking=True,
                          description="every source's output matches its kind's Pandera model"),
    ],  # fmt: skip
)
def deduplicated(context: dg.AssetExecutionContext, project: ProjectResource, lineage: LineageResource):
    proj = project.project
    minhash, dedup = _configs(proj)
    manifests = project.manifests()
    with lineage.materialization(context) as run:  # inputs: every source's cleaned records and bands
        stats, events = deduplicate(proj, manifests, minhash, dedup)
        write_ledger(proj, events, stage=OUTPUT_STAGE, partition=None, run_id=context.run_id)
        for source_id, (rows_in, kept) in sorted(stats.by_source.items()):
            path = proj.stage_path(OUTPUT_STAGE, source_id)
            run.output(path, asset_key=KEY, version=file_digest(path), rows=kept, rows_in=rows_in,
                       removals=dict(stats.removed_by.get(source_id, {})))  # fmt: skip
    removed = stats.exact_removed + stats.near_removed + stats.takedown_removed
    reasons = Counter(events["reason"].to_pylist())
    pairs = Counter({f"{a} → {b}": n for (a, b), n in stats.source_pairs.items()})
    plot = png_markdown(histogram_png(stats.jaccards, title="Jaccard of removed near duplicates to the kept doc",
                                      xlabel="Jaccard (word 5-grams)", threshold=dedup.threshold), "jaccard")  # fmt: skip
    report = "\n\n".join([
        f"### Dedup across {len(stats.by_source)} sources\n\n{stats.rows_in} in, **{stats.kept} kept**, "
        f"{stats.exact_removed} exact and {stats.near_removed} near duplicates removed, "
        f"{stats.takedown_removed} near copies of taken-down records "
        f"({stats.candidate_pairs} candidate pairs, {stats.clusters} clusters). Config: `{dedup}`",
        counts_markdown("Removed by reason", dict(reasons)),
        counts_markdown("Removed by source pair (removed → kept)", dict(pairs), key="sources"),
        "**Biggest clusters**\n\n| kept doc | removed |\n|---|---:|\n"
        + "\n".join(f"| `{d}` | {n} |" for d, n in stats.biggest),
        plot,
    ])  # fmt: skip
    yield dg.MaterializeResult(
        asset_key=KEY,
        data_version=per_source_version(proj, OUTPUT_STAGE, stats.by_source),
        metadata={
            "dagster/row_count": stats.kept,
            "rows_in": stats.rows_in, "rows_out": stats.kept, "removed": removed,
            "exact_removed": stats.exact_removed, "near_removed": stats.near_removed,
            "clusters": stats.clusters, "candidate_pairs": stats.candidate_pairs,
            "removed_by_reason": counts_table(dict(reasons)),
            "removed_by_source_pair": counts_table(dict(pairs), key="sources"),
            "path": dg.MetadataValue.path(str(proj.data_dir / OUTPUT_STAGE)),
            "report": dg.MetadataValue.md(report),
        },
    )  # fmt: skip
    yield dg.AssetCheckResult(
        check_name="deduplicated_balance", asset_key=KEY,
        passed=stats.rows_in == stats.kept + removed and events.num_rows == removed,
        metadata={"in": stats.rows_in, "kept": stats.kept, "removed": removed, "ledger_rows": events.num_rows},
    )  # fmt: skip
    kinds = {m.id: m.kind for m in manifests if m.id in stats.by_source}
    yield per_source_schema_check(proj, OUTPUT_STAGE, kinds, "deduplicated_schema", KEY)
