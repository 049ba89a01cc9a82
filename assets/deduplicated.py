"""deduplicated (global): exact and near duplicates removed across every source."""

from collections import Counter

from assets.common import counts_markdown, counts_table
from assets.global_stage import GlobalOutcome, global_stage_asset
from curaline.dedup import deduplicate, training_records
from curaline.reports.plots import histogram_svg, svg_markdown


def dedup_configs(project):
    """(MinHashConfig, DedupConfig): minhash_bands and deduplicated read both."""
    return project.config.for_stage("minhash_bands"), project.config.for_stage("deduplicated")


def _deduplicate(context, project, manifests) -> GlobalOutcome:
    minhash, dedup = dedup_configs(project)
    from assets.record_stage import engine_config
    from curaline.engine import make_engine

    config = engine_config(project)
    on_cluster = config.kind == "ray"
    if on_cluster:
        records = training_records(project, manifests)
        on_cluster = records >= dedup.shuffle_min_records
        if not on_cluster:  # the shuffles' fixed cost would dominate: the driver deduplicates, as locally
            context.log.info(f"deduplicated: {records:,} records, under shuffle_min_records "
                             f"({dedup.shuffle_min_records:,}): in this process, not as shuffles on the {config.label} engine")  # fmt: skip
    if on_cluster:  # exact and near dedup as shuffles on the cluster (same removals as locally)
        context.log.info(f"deduplicated: shuffles on the {config.label} engine")
        with make_engine(config) as engine:
            stats, events = deduplicate(project, manifests, minhash, dedup, engine=engine)
    else:
        stats, events = deduplicate(project, manifests, minhash, dedup)
    pairs = Counter({f"{a} → {b}": n for (a, b), n in stats.source_pairs.items()})
    plot = svg_markdown(histogram_svg(stats.jaccards, title="Jaccard of removed near duplicates to the kept doc",
                                      xlabel="Jaccard (word 5-grams)", threshold=dedup.threshold), "jaccard")  # fmt: skip
    return GlobalOutcome(
        by_source=stats.by_source,
        events=events,
        dropped_by_source={s: dict(c) for s, c in stats.removed_by.items()},
        balanced=stats.exact_removed + stats.near_removed + stats.takedown_removed == stats.rows_in - stats.kept,
        sections=[
            f"{stats.exact_removed} exact and {stats.near_removed} near duplicates, "
            f"{stats.takedown_removed} near copies of taken-down records "
            f"({stats.candidate_pairs} candidate pairs, {stats.clusters} clusters). Config: `{dedup}`",
            counts_markdown("Dropped by source pair (dropped → kept)", dict(pairs), key="sources"),
            "**Biggest clusters**\n\n| kept doc | dropped |\n|---|---:|\n"
            + "\n".join(f"| `{d}` | {n} |" for d, n in stats.biggest),
            plot,
        ],
        metadata={
            "exact_dropped": stats.exact_removed, "near_dropped": stats.near_removed,
            "takedown_near_copies_dropped": stats.takedown_removed,
            "clusters": stats.clusters, "candidate_pairs": stats.candidate_pairs,
            "dropped_by_source_pair": counts_table(dict(pairs), key="sources"),
            # where the removals were computed: the driver, or shuffles on a cluster (and how much they moved)
            "engine": config.label if config.kind == "ray" else "driver",
            **({"shuffle_bytes": stats.shuffle_bytes} if config.kind == "ray" else {}),
        },
    )  # fmt: skip


deduplicated = global_stage_asset(
    name="deduplicated",
    body=_deduplicate,
    kinds=frozenset({"python", "duckdb", "parquet"}),
    description=(
        "Training records of every source with exact duplicates (normalized content hash) and "
        "near duplicates (MinHash LSH, candidates verified by true Jaccard to the kept document) "
        "removed. Which copy is kept: higher source priority, then the more permissive licence, "
        "then the earliest collection, then doc_id. Each removal is a `merge-into` ledger row "
        "naming the kept document and the Jaccard to it."
    ),
)
