"""The per-source phase as shard tasks: where each shard writes, and what decides it is done.

Layout (relative to the project):

- ``data/<stage>/<source>/shard-NNNNN.parquet``: a stage's output for a source is the
  folder of its shards, one dataset for DuckDB (``read_parquet('data/<stage>/<source>/*.parquet')``)
  and pyarrow (``pyarrow.dataset.dataset(folder)``); shards are in record order;
- ``lineage/ledger/stage=<stage>/partition=<source>/<recorded at>-run=<run>.shard=NNNNN-of-MMMMM.parquet``
  (the time the worker committed the shard, as every ledger file's name carries it);
- ``.curaline/shards/<source>/shard-NNNNN.json``: commit markers (machine-local: a cache
  of finished work, never part of the versioned state).

A shard's key covers its source's files (size, mtime), the shard's slice, the ingest
settings, each stage's kernel source and config, and the takedown requests: a rerun
skips a committed shard exactly when none of these changed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from curaline.ledger import shard_ledger_slot
from curaline.project import Project
from curaline.shards.plan import Shard, plan_source
from curaline.shards.runner import QUARANTINE, RAW, ChainStage, ShardTask
from curaline.sources import SourceManifest

#: bump when the worker's output layout or result changes: every shard then reruns
LAYOUT_VERSION = "1"


def shard_dir(project: Project, stage: str, source_id: str) -> Path:
    """A stage's output for a source: the folder of its shard files."""
    return project.data_dir / stage / source_id


def marker_dir(project: Project, source_id: str) -> Path:
    return project.root / ".curaline" / "shards" / source_id


def chain_fingerprint(chain: Sequence[ChainStage], ingest: Any, takedown_requests: Sequence[Any]) -> str:
    """What, besides its input, a shard's outputs depend on: for each stage its kernel, the
    registry's code version (its code modules and model files, as Dagster sees them: a rebuilt
    model reruns the shards) and its settings."""
    from curaline.stages import code_version

    h = hashlib.sha256(f"layout {LAYOUT_VERSION}\x1e{ingest!r}".encode())
    for stage in chain:
        kernel = f"{stage.kernel.__module__}.{stage.kernel.__qualname__}"
        h.update(f"\x1e{stage.name}\x1f{kernel}\x1f{code_version(stage.name)}\x1f{stage.config!r}"
                 f"\x1f{sorted((k, str(v)) for k, v in stage.signal_columns.items())}".encode())  # fmt: skip
        digest = getattr(stage.config, "content_digest", None)  # settings whose repr does not show all they hold
        if callable(digest):
            h.update(f"\x1f{digest()}".encode())
    for request in takedown_requests:
        h.update(f"\x1d{request!r}".encode())
    return h.hexdigest()


def prepare_source(project: Project, manifest: SourceManifest) -> str | None:
    """What comes before a source is planned: a `format: label-studio` source's judgements are
    pulled from Label Studio (an OpenLineage run of its own), so the mirror file its one shard
    reads is current. The mirror is only rewritten when it changed: an unchanged source keeps
    its shard key, and its committed shard is skipped. Returns such a source's fingerprint as
    the sensor computes it (from Label Studio's state taken before the pull), else None."""
    if manifest.format == "label-studio":
        from curaline.annotation.label_studio import pull_run

        return pull_run(project, manifest)[0].fingerprint
    return None


def source_tasks(project: Project, manifest: SourceManifest, run_id: str, chain: Sequence[ChainStage], *,
                 takedown_requests: Sequence[Any] = ()) -> list[ShardTask]:  # fmt: skip
    """Plan the source and describe each shard's task; removes shard files a previous, larger plan left."""
    from curaline.minhash_bands import INPUT_STAGE as BANDED_STAGE
    from curaline.minhash_bands import SIGNATURE_STAGE, BandSpec, banded

    ingest = project.config.ingest
    shards = plan_source(manifest, shard_records=ingest.shard_records, shard_bytes=ingest.shard_bytes)
    stages = (RAW, QUARANTINE, *(s.name for s in chain))
    # the band buckets of what the chain keeps, when dedup reads this source: made by the same pass
    band_configs = None
    if banded(manifest.kind) and chain and chain[-1].name == BANDED_STAGE:
        band_configs = (project.config.for_stage(SIGNATURE_STAGE), project.config.for_stage("deduplicated"))
    _remove_stale(project, manifest.id, (*stages, SIGNATURE_STAGE), len(shards))
    fingerprint = chain_fingerprint(chain, ingest, takedown_requests)
    tasks = []
    for shard in shards:
        task = _task(project, manifest, shard, len(shards), run_id, tuple(chain), stages, fingerprint,
                     tuple(takedown_requests))  # fmt: skip
        if band_configs is not None:
            path = shard_dir(project, SIGNATURE_STAGE, manifest.id) / f"{shard.name}.parquet"
            task = replace(task, bands=BandSpec(path=str(path), minhash=band_configs[0], dedup=band_configs[1]))
        tasks.append(task)
    return tasks


def _task(project: Project, manifest: SourceManifest, shard: Shard, n: int, run_id: str, chain: tuple[ChainStage, ...],
          stages: Sequence[str], fingerprint: str, requests: tuple[Any, ...]) -> ShardTask:  # fmt: skip
    outputs = {s: str(shard_dir(project, s, manifest.id) / f"{shard.name}.parquet") for s in stages}
    ledgers = {s: str(shard_ledger_slot(project, s, manifest.id, run_id, shard.index, n))
               for s in stages if s != QUARANTINE}  # fmt: skip
    key = hashlib.sha256(f"{shard.key()}\x1e{fingerprint}\x1e{n}".encode()).hexdigest()
    return ShardTask(manifest=manifest, shard=shard, shards=n, run_id=run_id, chain=chain, outputs=outputs,
                     ledgers=ledgers, marker=str(marker_dir(project, manifest.id) / f"{shard.name}.json"), key=key,
                     ingest=project.config.ingest, takedown_requests=requests)  # fmt: skip


def _remove_stale(project: Project, source_id: str, stages: Sequence[str], n: int) -> None:
    """Shard files numbered n or above belong to an older plan of this source: not part of its dataset now."""
    folders = [shard_dir(project, s, source_id) for s in stages] + [marker_dir(project, source_id)]
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in folder.glob("shard-*"):
            index = path.name.removeprefix("shard-").split(".", 1)[0]
            if index.isdigit() and int(index) >= n:
                path.unlink()


def run_sources(project: Project, manifests: Sequence[SourceManifest], run_ids: dict[str, str], engine: Any, *,
                progress: Any = None, on_source_done: Callable[[str], None] | None = None,
                ) -> dict[str, list[dict[str, Any]]]:  # fmt: skip
    """The per-source phase of every source at once: all their shards in one engine map.

    `curaline run` calls this before the per-source Dagster runs, with the run ids those
    runs will have, so the shards of all sources share the workers; each run's step then
    finds its shards committed (with its own run id in the ledger) and only reports.
    """
    from curaline.shards.chain import record_chain
    from curaline.shards.runner import run_phase
    from curaline.takedown import load_requests

    requests, _ = load_requests(project, strict=True)
    # a Label Studio source is pulled by its own step (once per run, see prepare_source), which then
    # runs its one shard: pulling here as well would pull twice
    manifests = [m for m in manifests if m.format != "label-studio"]
    tasks = [t for m in manifests
             for t in source_tasks(project, m, run_ids[m.id], record_chain(m, project), takedown_requests=requests)]  # fmt: skip
    if progress is not None:
        progress.total = len(tasks)
    results = run_phase(engine, tasks, progress=None if progress is None else lambda r: progress.update(skipped=r["skipped"]),
                        on_source_done=on_source_done)  # fmt: skip
    out: dict[str, list[dict[str, Any]]] = {}
    for task, result in zip(tasks, results, strict=True):
        out.setdefault(task.manifest.id, []).append(result)
    return out
