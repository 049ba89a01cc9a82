"""Semantic dedup of one release: paraphrases and templated rewrites MinHash misses.

Off by default (the stage then writes an empty list); a release spec turns it on with
`dedup: {semantic: COSINE}`. It runs over
the records the release reads (its input stage, after exact and near dedup) of the
spec's sources, with the keep-policy of exact and near dedup (source priority, licence
permissiveness, collection date, doc_id), and writes one file per release listing every
removed record with the record it duplicates, the cosine and the cluster. The ledger
gets one `merge-into` row per removal (`semantic_duplicate`, value = cosine, threshold,
detail `into=<kept doc>;cluster=...`), and the release build drops them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curaline.kernels.semdedup import SEMANTIC_SCHEMA, SemDedupConfig, embed, semantic_duplicates, semantic_events
from curaline.licenses import CLASSES, classify
from curaline.project import Project
from curaline.records import NON_TEXT_KINDS
from curaline.store import write_parquet

#: The stage's name in paths, the ledger and lineage.
STAGE = "semantic_deduplicated"


@dataclass
class SemanticStats:
    rows_in: int = 0
    removed: int = 0
    by_source: dict[str, int] = field(default_factory=dict)
    similarities: np.ndarray = field(default_factory=lambda: np.array([], dtype=float))


def output_path(project: Project, release: str) -> Path:
    return project.stage_path(STAGE, release)


def dedup_texts(table: pa.Table, kind: str) -> pa.Array:
    """What a record is compared on: its text, or prompt and answer(s) joined."""
    from curaline.dedup import dedup_text

    return dedup_text(table, kind)


def semantic_deduplicate(project: Project, spec: Any, manifests: list[Any],
                         config: SemDedupConfig | None = None) -> tuple[SemanticStats, pa.Table, pa.Table]:
    """Semantic duplicates among a release's input records: (stats, removals, ledger events).

    Writes the removals (SEMANTIC_SCHEMA) to `data/semantic_deduplicated/<release>.parquet`.
    """
    from curaline.release.build import input_stage, source_path

    base = config or project.config.stage_config(STAGE, SemDedupConfig)
    if spec.semantic is None:  # off for this release: an empty list, so the release reads one either way
        write_parquet(output_path(project, spec.name), SEMANTIC_SCHEMA.empty_table())
        return SemanticStats(), SEMANTIC_SCHEMA.empty_table(), semantic_events(SEMANTIC_SCHEMA.empty_table(), base)
    c = SemDedupConfig(**{**base.__dict__, "threshold": spec.semantic})
    stage = input_stage(spec)
    stats = SemanticStats()
    metas, texts = [], []
    for m in spec.select_sources(manifests):
        path = source_path(project, stage, m)
        if m.kind in NON_TEXT_KINDS or not path.exists():
            continue
        t = pq.read_table(path)
        rank = CLASSES.index(classify(m.license, project.config.license_classes))
        metas.append(pa.table({
            "doc_id": t["doc_id"].combine_chunks().cast(pa.string()),
            "source_id": pa.array([m.id] * t.num_rows, pa.string()),
            "priority": pa.array([m.priority] * t.num_rows, pa.int64()),
            "license_rank": pa.array([rank] * t.num_rows, pa.int64()),
            "collected": pa.array([m.collected] * t.num_rows, pa.date32()),
        }))  # fmt: skip
        texts.append(dedup_texts(t, m.kind))
    removed = SEMANTIC_SCHEMA.empty_table()
    if metas:
        meta = pa.concat_tables(metas)
        stats.rows_in = meta.num_rows
        removed = semantic_duplicates(meta, embed(pa.concat_arrays(texts), c), c)
        source_of = dict(zip(meta["doc_id"].to_pylist(), meta["source_id"].to_pylist(), strict=True))
        for doc in removed["doc_id"].to_pylist():
            stats.by_source[source_of[doc]] = stats.by_source.get(source_of[doc], 0) + 1
    stats.removed = removed.num_rows
    stats.similarities = removed["similarity"].to_numpy()
    write_parquet(output_path(project, spec.name), removed)
    return stats, removed, semantic_events(removed, c)
