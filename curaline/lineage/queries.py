"""The questions compliance staff ask, answered from the lineage store and stage outputs.

`sources` (what went in, under which licence, what was kept), `trace` (where one
record came from and what happened to it), `impact` (where a source's records went),
`runs` (the materialization history). Each reads only the files that can hold the
answer: a doc id names its source (``<source>:<hash>``), so a trace opens that
source's files and the global ones, never the whole corpus, and counts come from
parquet footers where they can. Record text is never read.
"""

from __future__ import annotations

import datetime as dt
import glob
import json
import os
import re
from pathlib import Path
from typing import Any

import duckdb

from curaline.licenses import classify
from curaline.lineage.versions import cached_version
from curaline.lineage.views import (
    REMOVAL_ACTIONS,
    event_files,
    ledger_files,
    release_files,
    releases,
    retry_replaced,
)
from curaline.project import Project

#: Footer key of a ledger file's counts (curaline.ledger.SUMMARY_KEY; no pyarrow import here).
SUMMARY_KEY = "curaline.ledger.summary"
DOC_ID = re.compile(r"^([A-Za-z0-9._-]+):([0-9a-f]{16})$")
GLOBAL_PARTITION = "__all__"
#: Stage outputs that are not records of a source.
NOT_RECORDS = ("source_catalog",)


class LineageQueryError(ValueError):
    """A question lineage cannot answer as asked: unknown id, no runs yet..."""


def _q(value: str | Path) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _files(paths: list[Path]) -> str:
    return "[" + ", ".join(_q(p) for p in paths) + "]"


def _iso(epoch_us: int | None) -> str | None:
    """Timestamps leave DuckDB as integers: converting time-zoned values costs a cold CLI 15 ms."""
    if epoch_us is None:
        return None
    return dt.datetime.fromtimestamp(epoch_us / 1e6, dt.UTC).isoformat()


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


# ---- sources --------------------------------------------------------------------------------


def source_catalog(project: Project, con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, Any]]:
    """source id -> catalog row (declaration parsed), from the catalog output, else the manifests."""
    path = project.stage_path("source_catalog")
    if path.exists():
        rel = con.sql(f"SELECT source_id, kind, format, license, obtained, manifest, declaration FROM read_parquet({_q(path)})")
        cols = rel.columns
        rows = [dict(zip(cols, r, strict=True)) for r in rel.fetchall()]
    else:
        from curaline.sources import load_manifests

        manifests, _ = load_manifests(project.sources_dir, strict=False) if project.sources_dir.is_dir() else ([], [])
        rows = [{"source_id": m.id, "kind": m.kind, "format": m.format, "license": m.license,
                 "obtained": m.obtained, "manifest": str(m.path), "declaration": json.dumps(m.declaration())}
                for m in manifests]  # fmt: skip
    out = {}
    for row in rows:
        row["declaration"] = json.loads(row["declaration"]) if row.get("declaration") else {}
        out[row["source_id"]] = row
    return out


def _row_counts(con: duckdb.DuckDBPyConnection, folder: Path) -> dict[str, int]:
    """Rows per partition file of a stage folder, from the parquet footers."""
    if not folder.is_dir() or not any(folder.glob("*.parquet")):
        return {}
    rows = con.sql(f"SELECT file_name, num_rows FROM parquet_file_metadata({_q(folder / '*.parquet')})").fetchall()
    return {Path(f).stem: int(n) for f, n in rows}


def ledger_counts(project: Project, con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, dict[str, int]]]:
    """source -> stage -> {"removed": n, "changed": n}: distinct records, latest run of each stage.

    From the counts each ledger file carries in its footer (`curaline.ledger.summarize`);
    files without them are counted with a query.
    """
    files = ledger_files(project, latest=True)
    if not files:
        return {}
    out: dict[str, dict[str, dict[str, int]]] = {}
    summaries = con.sql(f"SELECT file_name, decode(value) FROM parquet_kv_metadata({_files(files)}) "
                        f"WHERE key = {_q(SUMMARY_KEY)}::BLOB").fetchall()  # fmt: skip
    seen = set()
    for name, value in summaries:
        summary = json.loads(value)
        seen.add(name)
        for source, counts in summary["sources"].items():
            slot = out.setdefault(source, {}).setdefault(summary["stage"], {"removed": 0, "changed": 0})
            slot["removed"] += int(counts["removed"])
            slot["changed"] += int(counts["changed"])
    rest = [f for f in files if str(f) not in seen]
    if rest:
        removal = ", ".join(_q(a) for a in REMOVAL_ACTIONS)
        rows = con.sql(f"""
            SELECT split_part(doc_id, ':', 1) AS source, stage,
                   count(DISTINCT doc_id) FILTER (WHERE action IN ({removal})) AS removed,
                   count(DISTINCT doc_id) FILTER (WHERE action NOT IN ({removal})) AS changed
            FROM read_parquet({_files(rest)}, hive_partitioning = false) GROUP BY ALL""").fetchall()  # fmt: skip
        for source, stage, removed, changed in rows:
            slot = out.setdefault(source, {}).setdefault(stage, {"removed": 0, "changed": 0})
            slot["removed"] += int(removed)
            slot["changed"] += int(changed)
    return out


def sources_report(project: Project, *, release: str | None = None,
                   license_classes: dict[str, str] | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """Every source: licence and class, how obtained, records read, kept, removed by stage."""
    return retry_replaced(lambda: _sources_report(project, release=release, license_classes=license_classes))


def _sources_report(project: Project, *, release: str | None = None,
                   license_classes: dict[str, str] | None = None) -> list[dict[str, Any]]:  # fmt: skip
    con = duckdb.connect()
    try:
        catalog = source_catalog(project, con)
        if not catalog:
            raise LineageQueryError(f"no sources in {project.root}: no source_catalog output and no manifests")
        in_release: dict[str, int] | None = None
        if release is not None:
            files = release_files(project, release)
            if not files:
                known = ", ".join(releases(project)) or "none yet"
                raise LineageQueryError(f"unknown release {release!r} (releases: {known})")
            in_release = dict(con.sql(f"SELECT source_id, count(*) FROM read_parquet({_files(files)}) GROUP BY 1").fetchall())
        ingested = _row_counts(con, project.data_dir / "raw_records")
        quarantined = _row_counts(con, project.data_dir / "quarantined_records")
        qdir = project.data_dir / "quarantined_records"
        by_reason: dict[str, dict[str, int]] = {}
        if any(n for n in quarantined.values()):
            for source, reason, n in con.sql(
                f"SELECT source_id, reason, count(*) FROM read_parquet({_q(qdir / '*.parquet')}) GROUP BY ALL ORDER BY 3 DESC, 1, 2"
            ).fetchall():  # fmt: skip
                by_reason.setdefault(source, {})[reason] = int(n)
        ledger = ledger_counts(project, con)
    finally:
        con.close()
    out = []
    for sid, row in sorted(catalog.items()):
        if in_release is not None and sid not in in_release:
            continue
        stages = ledger.get(sid, {})
        removed = {s: c["removed"] for s, c in stages.items() if c["removed"]}
        changed = {s: c["changed"] for s, c in stages.items() if c["changed"]}
        n_in = ingested.get(sid)
        n_q = quarantined.get(sid, 0)
        entry = {
            "source": sid,
            "kind": row["kind"],
            "license": row["license"],
            "license_class": classify(row["license"], license_classes),
            "obtained": row["obtained"],
            "read": None if n_in is None else n_in + n_q,
            "ingested": n_in,
            "quarantined": n_q,
            "quarantined_by_reason": by_reason.get(sid, {}),
            "removed_by_stage": removed,
            "changed_by_stage": changed,
            "kept": None if n_in is None else n_in - sum(removed.values()),
        }
        if in_release is not None:
            entry["in_release"] = int(in_release[sid])
        out.append(entry)
    return out


# ---- trace ----------------------------------------------------------------------------------


def _candidate_files(project: Project, source: str) -> list[Path]:
    """Every stage output that can hold a record of the source: its partitions, global outputs."""
    data = project.data_dir
    if not data.is_dir():
        return []
    files: list[Path] = []
    for entry in os.scandir(data):
        if entry.is_dir():
            for name in (f"{source}.parquet", f"{GLOBAL_PARTITION}.parquet"):
                p = Path(entry.path) / name
                if p.is_file():
                    files.append(p)
        elif entry.name.endswith(".parquet") and Path(entry.name).stem not in NOT_RECORDS:
            files.append(Path(entry.path))
    return sorted(files)


def _stage_of(project: Project, path: Path) -> str:
    return path.stem if path.parent == project.data_dir else path.parent.name


def _source_file(row: dict[str, Any] | None, source_file: str | None) -> str | None:
    """The absolute path of a record's source file: the manifest location's fixed prefix + file.

    The same root as `SourceManifest.root`, computed here so `trace` needs no manifest parsing.
    """
    if not row or not source_file:
        return None
    location = Path(str(row["declaration"].get("location", ""))).expanduser()
    pattern = location if location.is_absolute() else Path(row["manifest"]).parent / location
    fixed = []
    for part in pattern.parts:
        if glob.has_magic(part):
            break
        fixed.append(part)
    base = Path(*fixed) if fixed else Path(".")
    root = base if glob.has_magic(str(pattern)) else base.parent
    return str((root / source_file).resolve())


def trace(project: Project, doc_id: str, *, license_classes: dict[str, str] | None = None) -> dict[str, Any]:
    """Where a record came from, every stage it passed or was dropped or changed at, and why."""
    return retry_replaced(lambda: _trace(project, doc_id, license_classes=license_classes))


def _trace(project: Project, doc_id: str, *, license_classes: dict[str, str] | None = None) -> dict[str, Any]:
    m = DOC_ID.match(doc_id)
    if not m:
        raise LineageQueryError(f"{doc_id!r} is not a curaline doc id (<source>:<16 hex digits>)")
    source = m.group(1)
    con = duckdb.connect()
    try:
        catalog = source_catalog(project, con)
        origin = None
        raw = project.stage_path("raw_records", source)
        files = _candidate_files(project, source)
        present: dict[str, Path] = {}
        if files:
            try:
                # one scan of the doc_id column of every output that can hold the record; the
                # origin columns travel with the record through every stage
                rel = con.sql(
                    f"SELECT filename, source_file, source_line, source_row, source_record_id, license, content_hash "
                    f"FROM read_parquet({_files(files)}, union_by_name = true, filename = true) WHERE doc_id = ?",
                    params=[doc_id])  # fmt: skip
                cols = rel.columns
                for hit in rel.fetchall():
                    row = dict(zip(cols, hit, strict=True))
                    p = Path(row.pop("filename"))
                    present[_stage_of(project, p)] = p
                    if origin is None or p == raw:
                        origin = row
            except duckdb.BinderException:
                pass  # no candidate file has these columns (only quarantine so far)
        ledger_rows: list[dict[str, Any]] = []
        every = ledger_files(project, partition=source, latest=False) + ledger_files(
            project, partition=GLOBAL_PARTITION, latest=False)  # fmt: skip
        current = {str(p) for p in {f.parent: f for f in every}.values()}  # the newest of each folder
        if every:
            rel = con.sql(f"""SELECT stage, partition, run_id, epoch_us(recorded_at) AS recorded_at, action, reason,
                       value, threshold, detail, filename
                FROM read_parquet({_files(every)}, filename = true, hive_partitioning = false)
                WHERE doc_id = ? ORDER BY recorded_at, stage, action, reason""", params=[doc_id])  # fmt: skip
            cols = rel.columns
            for r in rel.fetchall():
                row = dict(zip(cols, r, strict=True))
                row["current"] = row.pop("filename") in current
                row["recorded_at"] = _iso(row["recorded_at"])
                ledger_rows.append(row)
        in_releases: list[dict[str, Any]] = []
        rel_files = release_files(project)
        if rel_files:
            in_releases = [{"release": r, "records": int(n)} for r, n in con.sql(
                f"SELECT release, count(*) FROM read_parquet({_files(rel_files)}, hive_partitioning = true) "
                "WHERE doc_id = ? GROUP BY 1 ORDER BY 1", params=[doc_id]).fetchall()]  # fmt: skip
    finally:
        con.close()
    if origin is None and not present and not ledger_rows:
        raise LineageQueryError(f"unknown doc id {doc_id!r}: not in any output or ledger of {project.root}")

    # stages in flow order: each stage's output (or ledger file) is written when the stage ends
    when: dict[str, int] = {}
    for stage, p in present.items():
        when[stage] = _mtime(p)
    for row in ledger_rows:
        if row["current"]:
            when.setdefault(row["stage"], 0)
    for stage in list(when):
        if when[stage] == 0:
            lf = [f for f in ledger_files(project, partition=source) if f.parent.parent.name == f"stage={stage}"]
            when[stage] = _mtime(lf[0]) if lf else 0
    stages = []
    from curaline.pipeline import FLOW_ORDER

    def flow(stage: str) -> tuple[int, int, str]:  # known stages in flow order, others by time
        return (FLOW_ORDER.index(stage) if stage in FLOW_ORDER else len(FLOW_ORDER), when[stage], stage)

    for stage in sorted(when, key=flow):
        rows = [r for r in ledger_rows if r["stage"] == stage and r["current"]]
        removal = [r for r in rows if r["action"] in REMOVAL_ACTIONS]
        path = present.get(stage)
        if path is not None:
            status = "changed" if len(rows) > len(removal) else "kept"
        elif removal:
            status = {"drop": "dropped", "merge-into": "merged", "takedown": "taken down"}[removal[0]["action"]]
        else:
            status = "absent"
        entry: dict[str, Any] = {"stage": stage, "status": status, "events": [
            {k: r[k] for k in ("action", "reason", "value", "threshold", "detail", "run_id", "recorded_at")} for r in rows]}  # fmt: skip
        if path is not None:
            cached = cached_version(project, path)
            entry["dataset"] = str(path)
            entry["version"] = cached["version"] if cached else None
        stages.append(entry)
    declared = catalog.get(source)
    src: dict[str, Any] = {"id": source}
    if declared:
        d = declared["declaration"]
        src.update({"license": declared["license"], "license_class": classify(declared["license"], license_classes),
                    "obtained": declared["obtained"], "kind": declared["kind"], "license_url": d.get("license_url"),
                    "legal_basis": d.get("legal_basis"), "owner": d.get("owner")})  # fmt: skip
    return {
        "doc_id": doc_id,
        "source": src,
        "origin": None if origin is None else {
            "file": origin["source_file"], "path": _source_file(declared, origin["source_file"]),
            "line": origin["source_line"], "row": origin["source_row"],
            "source_record_id": origin["source_record_id"], "license": origin["license"],
            "content_hash": origin["content_hash"]},
        "stages": stages,
        "history": [r for r in ledger_rows if not r["current"]],
        "releases": in_releases,
    }  # fmt: skip


# ---- impact ---------------------------------------------------------------------------------


def impact(project: Project, source_id: str) -> dict[str, Any]:
    """Every dataset (and version) holding records of a source, with counts; its removals."""
    return retry_replaced(lambda: _impact(project, source_id))


def _impact(project: Project, source_id: str) -> dict[str, Any]:
    con = duckdb.connect()
    try:
        catalog = source_catalog(project, con)
        files = _candidate_files(project, source_id)
        per_source = [f for f in files if f.name == f"{source_id}.parquet"]
        if source_id not in catalog and not per_source:
            known = ", ".join(sorted(catalog)) or "none"
            raise LineageQueryError(f"unknown source {source_id!r} (sources: {known})")
        datasets: list[dict[str, Any]] = []
        if per_source:
            for name, n in con.sql(f"SELECT file_name, num_rows FROM parquet_file_metadata({_files(per_source)})").fetchall():
                if n:
                    datasets.append({"path": name, "records": int(n)})
        for f in (f for f in files if f not in per_source):
            try:
                n = con.sql(f"SELECT count(*) FROM read_parquet({_q(f)}) WHERE source_id = ?", params=[source_id]).fetchall()[0]
            except duckdb.BinderException:
                continue  # no source_id column: not a record dataset
            if n and n[0]:
                datasets.append({"path": str(f), "records": int(n[0])})
        for d in datasets:
            p = Path(d["path"])
            d["asset"] = _stage_of(project, p)
            cached = cached_version(project, p)
            d["version"] = cached["version"] if cached else None
        datasets.sort(key=lambda d: (_mtime(Path(d["path"])), d["asset"]))
        history: list[dict[str, Any]] = []
        events = event_files(project)
        if events:
            names = [d["path"] for d in datasets]
            rel = con.sql(f"""
                SELECT job AS asset, partition, epoch_us(event_time) AS event_time, run_id, o.name AS dataset,
                       o.version, o.rows
                FROM (SELECT job, partition, event_time, run_id, unnest(outputs) AS o
                      FROM read_parquet({_files(events)}, union_by_name = true, hive_partitioning = false)
                      WHERE event_type = 'COMPLETE')
                WHERE partition = ? OR list_contains(?, o.name) ORDER BY event_time""",
                params=[source_id, names])  # fmt: skip
            cols = rel.columns
            for r in rel.fetchall():
                row = dict(zip(cols, r, strict=True))
                row["event_time"] = _iso(row["event_time"])
                history.append(row)
        removals: list[dict[str, Any]] = []
        lf = ledger_files(project, partition=source_id) + ledger_files(project, partition=GLOBAL_PARTITION)
        if lf:
            removals = [{"stage": s, "action": a, "reason": r, "records": int(n)} for s, a, r, n in con.sql(
                f"""SELECT stage, action, reason, count(DISTINCT doc_id) FROM read_parquet({_files(lf)}, hive_partitioning = false)
                    WHERE starts_with(doc_id, ?) GROUP BY ALL ORDER BY 1, 4 DESC, 2, 3""", params=[f"{source_id}:"]).fetchall()]  # fmt: skip
        in_releases: list[dict[str, Any]] = []
        rel_files = release_files(project)
        if rel_files:
            in_releases = [{"release": r, "records": int(n)} for r, n in con.sql(
                f"SELECT release, count(*) FROM read_parquet({_files(rel_files)}, hive_partitioning = true) "
                "WHERE source_id = ? GROUP BY 1 ORDER BY 1", params=[source_id]).fetchall()]  # fmt: skip
    finally:
        con.close()
    row = catalog.get(source_id) or {}
    return {"source": source_id, "license": row.get("license"), "obtained": row.get("obtained"),
            "datasets": datasets, "history": history, "ledger": removals, "releases": in_releases}  # fmt: skip


# ---- runs -----------------------------------------------------------------------------------


def runs_report(project: Project, *, asset: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """Materializations, newest first: status, times, output versions and check results."""
    return retry_replaced(lambda: _runs_report(project, asset=asset, limit=limit))


def _runs_report(project: Project, *, asset: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    files = event_files(project, asset)
    if not files:
        if asset and event_files(project):
            known = sorted({p.parent.name.split("=", 1)[1] for p in event_files(project)})
            raise LineageQueryError(f"no runs of asset {asset!r} (assets with runs: {', '.join(known)})")
        raise LineageQueryError(f"no materialization events yet in {project.root}: run `curaline run` first")
    con = duckdb.connect()
    try:
        rel = con.sql(f"""
            SELECT run_id, any_value(job) AS asset, any_value(partition) AS partition,
                   any_value(parent_run_id) AS parent_run_id, any_value(parent_job) AS parent_job,
                   epoch_us(min(event_time) FILTER (WHERE event_type = 'START')) AS started_at,
                   epoch_us(max(event_time) FILTER (WHERE event_type IN ('COMPLETE', 'FAIL', 'ABORT'))) AS ended_at,
                   coalesce(arg_max(event_type, event_time) FILTER (WHERE event_type IN ('COMPLETE', 'FAIL', 'ABORT')),
                            'RUNNING') AS status,
                   arg_max(outputs, event_time) AS outputs, arg_max(assertions, event_time) AS assertions,
                   max(error_message) AS error
            FROM read_parquet({_files(files)}, union_by_name = true, hive_partitioning = false)
            GROUP BY run_id ORDER BY started_at DESC NULLS LAST LIMIT {int(limit)}""")  # fmt: skip
        cols = rel.columns
        out = []
        for r in rel.fetchall():
            row = dict(zip(cols, r, strict=True))
            for k in ("started_at", "ended_at"):
                row[k] = _iso(row[k])
            row["outputs"] = [{"dataset": o["name"], "version": o["version"], "rows": o["rows"]} for o in row["outputs"] or []]
            row["checks"] = [{"name": a["name"], "dataset": a["dataset"], "passed": a["success"]} for a in row.pop("assertions") or []]
            out.append(row)
        return out
    finally:
        con.close()
