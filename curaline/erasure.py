"""Erasure: remove a takedown request's records from every copy that holds their text verbatim.

A takedown keeps records out of every later run and release, but their raw copies stay
in the PII-holding stage outputs (`curaline.pii_stages`) and in the local DVC cache, in
every version ever tracked. `erase` (`curaline takedown ... --erase`) rewrites the
current outputs without the records (atomically, then tracked as a new DVC version) and
deletes every cached version of those outputs that still holds one of them. What it did
is recorded in lineage: ledger rows (stage ``erasure``, action ``takedown``, reason
``erasure``, detail ``<request id> <stage>``) and ``lineage/erasures/<request id>.json``.

Old versions of those outputs can then no longer be restored from this machine: that is
the point. Remotes are not touched here (PII stages are not pushed to remote services by
default: see `curaline.versioning.push`).
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from curaline.kernels.base import EVENT_SCHEMA
from curaline.pii_stages import PII_STAGES
from curaline.project import Project
from curaline.store import file_digest, write_parquet
from curaline.takedown import TakedownRequest, matcher

ERASURE_STAGE = "erasure"


@dataclass
class ErasureReport:
    request: str
    records: dict[str, int] = field(default_factory=dict)  # "stage/source" -> records removed
    files: list[str] = field(default_factory=list)  # outputs rewritten (project-relative)
    cache_objects: list[str] = field(default_factory=list)  # md5 of cached versions deleted

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _erase_file(path: Path, request: TakedownRequest, source: str) -> tuple[int, pa.Array]:
    """Rewrite one output without the request's records; (removed, their doc ids)."""
    table = pq.read_table(path)
    if "doc_id" not in table.column_names:
        return 0, pa.array([], pa.string())
    keep, _ = matcher([request])(table, source)
    keep_mask = np.asarray(keep, dtype=bool)
    removed = int((~keep_mask).sum())
    if removed:
        gone = table.filter(pa.array(~keep_mask))["doc_id"].combine_chunks()
        write_parquet(path, table.filter(pa.array(keep_mask)))
        return removed, gone
    return 0, pa.array([], pa.string())


def _lock_md5s(project: Project, paths: set[str]) -> dict[str, str]:
    """Every md5 dvc.lock ever recorded for these outputs (now, and in every git commit) -> its path."""
    texts = []
    lock = project.root / "dvc.lock"
    if lock.exists():
        texts.append(lock.read_text(encoding="utf-8"))
    if (project.root / ".git").exists():
        revs = subprocess.run(["git", "-C", str(project.root), "rev-list", "--all", "--", "dvc.lock"],
                              capture_output=True, text=True).stdout.split()  # fmt: skip
        for rev in revs:
            shown = subprocess.run(["git", "-C", str(project.root), "show", f"{rev}:dvc.lock"], capture_output=True, text=True)
            if shown.returncode == 0:
                texts.append(shown.stdout)
    md5s: dict[str, str] = {}
    for text in texts:
        stages = (yaml.safe_load(text) or {}).get("stages") or {}
        for stage in stages.values():
            for out in stage.get("outs") or []:
                if out.get("path") in paths and out.get("md5"):
                    md5s[str(out["md5"])] = str(out["path"])
    return md5s


def _cache_path(project: Project, md5: str) -> Path:
    return project.root / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]


def erase(project: Project, request: TakedownRequest) -> ErasureReport:
    """Remove the request's records from the PII-holding outputs and the local DVC cache."""
    from curaline.ledger import write_ledger

    report = ErasureReport(request=request.id)
    touched: dict[str, str] = {}  # project-relative path -> dvc stage name
    from curaline.stages import stage as stage_row

    outs: set[str] = set()  # the DVC outs holding them: a file per source, or a sharded stage's folder
    for stage in PII_STAGES:
        folder = project.data_dir / stage
        files = [*folder.glob("*.parquet"), *folder.glob("*/shard-*.parquet")] if folder.is_dir() else []
        for path in sorted(files):
            sharded = path.parent != folder
            source = path.parent.name if sharded else path.stem
            removed, ids = _erase_file(path, request, source)
            rel = path.relative_to(project.root).as_posix()
            touched[rel] = f"{stage_row(stage).step}@{source}"
            outs.add(path.parent.relative_to(project.root).as_posix() if sharded else rel)
            if not removed:
                continue
            report.records[f"{stage}/{source}"] = removed
            report.files.append(rel)
            events = pa.table({"doc_id": ids, "action": pa.repeat(pa.scalar("takedown"), len(ids)),
                               "reason": pa.repeat(pa.scalar("erasure"), len(ids)),
                               "value": pa.nulls(len(ids), pa.float64()), "threshold": pa.nulls(len(ids), pa.float64()),
                               "detail": pa.repeat(pa.scalar(f"{request.id} {stage}"), len(ids))}, schema=EVENT_SCHEMA)  # fmt: skip
            write_ledger(project, events, stage=ERASURE_STAGE, partition=source, run_id=f"erase-{request.id}-{stage}")
    if (project.root / "dvc.yaml").exists() and (project.root / ".dvc").exists() and report.files:
        from curaline.versioning import track

        known = set((yaml.safe_load((project.root / "dvc.yaml").read_text()) or {}).get("stages") or {})
        names = sorted({touched[f] for f in report.files if touched[f].split("@")[0] in known})
        if names:
            track(project, names)  # the rewritten files become the current version
    current = {file_digest(project.root / rel) for rel in touched}
    match = matcher([request])
    versions: list[tuple[str, str]] = []
    for md5, rel in sorted(_lock_md5s(project, outs).items()):
        listing = _cache_path(project, md5)
        if md5.endswith(".dir") and listing.exists():  # a folder of shards: each file's cached object
            try:
                entries = json.loads(listing.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            versions += [(str(e["md5"]), rel) for e in entries if isinstance(e, dict) and e.get("md5")]
        else:
            versions.append((md5, rel))
    for md5, rel in sorted(set(versions)):
        obj = _cache_path(project, md5)
        if md5 in current or not obj.exists():
            continue
        try:  # an old version: does it hold any record the request names?
            schema = pq.read_schema(obj)
            old = pq.read_table(obj, columns=[c for c in ("doc_id", "source_id", "url") if c in schema.names])
        except (pa.ArrowException, OSError):
            continue
        if "doc_id" not in old.column_names:
            continue
        keep, _ = match(old, Path(rel).stem if rel.endswith(".parquet") else Path(rel).name)
        if not np.asarray(keep, dtype=bool).all():
            obj.chmod(0o644)
            obj.unlink()
            report.cache_objects.append(md5)
    folder = project.lineage_dir / "erasures"
    folder.mkdir(parents=True, exist_ok=True)
    write_json_atomic(folder / f"{request.id}.json", report.to_json())
    return report


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)
