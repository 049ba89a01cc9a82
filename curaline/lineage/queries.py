"""The questions compliance staff ask, answered from the lineage store and stage outputs.

`sources` (what went in, under which licence, what was kept), `trace` (where one
record came from and what happened to it), `impact` (where a source's records went),
`runs` (the materialization history). Each reads only the files that can hold the
answer: a doc id names its source (``<source>:<hash>``), so a trace looks at that
source's files and the global ones, never the whole corpus, and counts come from
parquet footers where they can. Record text is never read.

`trace` answers from `curaline.lineage.index` (SQLite, stdlib) so that a command-line
trace costs little more than starting Python; the others use DuckDB, imported when
called.
"""

from __future__ import annotations

import datetime as dt
import glob
import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from curaline.licenses import classify
from curaline.lineage.index import doc_key
from curaline.lineage.versions import cached_version
from curaline.lineage.views import (
    FLAG_ACTIONS,
    REMOVAL_ACTIONS,
    current_ledger_files,
    event_files,
    latest_version,
    ledger_file_time,
    ledger_files,
    legacy_related,
    release_files,
    release_versions,
    releases,
    retry_replaced,
)
from curaline.project import Project
from curaline.sql import literal, literal_list

if TYPE_CHECKING:
    import duckdb

    from curaline.lineage.index import Entry, LineageIndex

#: Footer key of a ledger file's counts (curaline.ledger.SUMMARY_KEY; no pyarrow import here).
SUMMARY_KEY = "curaline.ledger.summary"
GLOBAL_PARTITION = "__all__"
#: The stage of the ledger rows a release build writes (partition = the release name).
RELEASE_STAGE = "release"
#: Ingest: what its ledger rows remove (takedowns) never reaches its output.
RAW_STAGE = "raw_records"
#: Stage outputs that are not records of a source.
NOT_RECORDS = ("source_catalog",)


class LineageQueryError(ValueError):
    """A question lineage cannot answer as asked: unknown id, no runs yet..."""


_q = literal
_files = literal_list


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _iso(epoch_us: int | None) -> str | None:
    """Timestamps leave DuckDB as integers: converting time-zoned values costs a cold CLI 15 ms."""
    if epoch_us is None:
        return None
    return (_EPOCH + dt.timedelta(microseconds=epoch_us)).isoformat()


# ---- sources --------------------------------------------------------------------------------


def source_catalog(project: Project, con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, Any]]:
    """source id -> catalog row (declaration parsed), from the catalog output, else the manifests."""
    path = project.stage_path("source_catalog")
    if not path.exists():
        return _manifest_catalog(project)
    rel = con.sql(f"SELECT source_id, kind, format, license, obtained, manifest, declaration FROM read_parquet({_q(path)})")
    cols = rel.columns
    return _catalog_rows(project, [dict(zip(cols, r, strict=True)) for r in rel.fetchall()])


def _manifest_catalog(project: Project) -> dict[str, dict[str, Any]]:
    """The catalog rows before the catalog asset ran: from the manifests themselves."""
    from curaline.sources import load_manifests

    manifests, _ = load_manifests(project.sources_dir, strict=False) if project.sources_dir.is_dir() else ([], [])
    return _catalog_rows(project, [{"source_id": m.id, "kind": m.kind, "format": m.format, "license": m.license,
                           "obtained": m.obtained, "manifest": str(m.path), "declaration": json.dumps(m.declaration())}
                          for m in manifests])  # fmt: skip


def _catalog_rows(project: Project, rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Parse the declarations; a manifest path stored relative to the project becomes absolute."""
    out = {}
    for row in rows:
        if row.get("manifest") and not Path(row["manifest"]).is_absolute():
            row["manifest"] = str(project.root / row["manifest"])
        row["declaration"] = json.loads(row["declaration"]) if row.get("declaration") else {}
        out[row["source_id"]] = row
    return out


def _row_counts(con: duckdb.DuckDBPyConnection, folder: Path) -> dict[str, int]:
    """Rows per partition of a stage folder (a file per source, or a folder of shards), from the parquet footers."""
    out: dict[str, int] = {}
    for pattern, key in (("*.parquet", lambda p: p.stem), ("*/shard-*.parquet", lambda p: p.parent.name)):
        if not folder.is_dir() or not any(folder.glob(pattern)):
            continue
        rows = con.sql(f"SELECT file_name, num_rows FROM parquet_file_metadata({_q(folder / pattern)})").fetchall()
        for f, n in rows:
            out[key(Path(f))] = out.get(key(Path(f)), 0) + int(n)
    return out


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
        other = ", ".join(_q(a) for a in (*REMOVAL_ACTIONS, *FLAG_ACTIONS))  # a flag is no change
        rows = con.sql(f"""
            SELECT split_part(doc_id, ':', 1) AS source, stage,
                   count(DISTINCT doc_id) FILTER (WHERE action IN ({removal})) AS removed,
                   count(DISTINCT doc_id) FILTER (WHERE action NOT IN ({other})) AS changed
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


def resolve_release(project: Project, spec: str) -> tuple[str, int]:
    """``NAME`` (its latest version) or ``NAME@vN`` / ``NAME@N`` -> (name, version) of existing records."""
    name, _, wanted = spec.partition("@")
    versions = release_versions(project, name).get(name) if name and "/" not in name else None
    if not versions or not any("parquet" in f for f in versions.values()):
        known = ", ".join(releases(project)) or "none yet"
        raise LineageQueryError(f"unknown release {name!r} (releases: {known})")
    if not wanted:
        return name, latest_version(versions)
    m = re.fullmatch(r"v?([0-9]+)", wanted)
    if not m:
        raise LineageQueryError(f"bad release {spec!r}: use NAME or NAME@vN")
    version = int(m.group(1))
    if "parquet" not in versions.get(version, {}):
        known = ", ".join(f"v{v}" for v, f in versions.items() if "parquet" in f)
        raise LineageQueryError(f"release {name!r} has no version v{version} (versions: {known})")
    return name, version


def _sources_report(project: Project, *, release: str | None = None,
                   license_classes: dict[str, str] | None = None) -> list[dict[str, Any]]:  # fmt: skip
    from curaline.database import connect

    con = connect(project)
    try:
        catalog = source_catalog(project, con)
        if not catalog:
            raise LineageQueryError(f"no sources in {project.root}: no source_catalog output and no manifests")
        in_release: dict[str, int] | None = None
        if release is not None:
            name, version = resolve_release(project, release)
            files = release_files(project, name, version=version)
            in_release = dict(con.sql(f"SELECT source_id, count(*) FROM read_parquet({_files(files)}) GROUP BY 1").fetchall())
        ingested = _row_counts(con, project.data_dir / "raw_records")
        quarantined = _row_counts(con, project.data_dir / "quarantined_records")
        qdir = project.data_dir / "quarantined_records"
        by_reason: dict[str, dict[str, int]] = {}
        if any(n for n in quarantined.values()):
            shards = [str(p) for p in sorted(qdir.glob("*.parquet")) + sorted(qdir.glob("*/shard-*.parquet"))]
            for source, reason, n in con.execute(
                "SELECT source_id, reason, count(*) FROM read_parquet(?) GROUP BY ALL ORDER BY 3 DESC, 1, 2", [shards]
            ).fetchall():  # fmt: skip
                by_reason.setdefault(source, {})[reason] = int(n)
        ledger = ledger_counts(project, con)
    finally:
        con.close()
    out = []
    for sid, row in sorted(catalog.items()):
        if in_release is not None and sid not in in_release:
            continue
        # what a release left out is the release's choice, not a removal from the curated data
        stages = {s: c for s, c in ledger.get(sid, {}).items() if s != RELEASE_STAGE}
        removed = {s: c["removed"] for s, c in stages.items() if c["removed"]}
        changed = {s: c["changed"] for s, c in stages.items() if c["changed"]}
        n_in = ingested.get(sid)
        n_q = quarantined.get(sid, 0)
        at_ingest = removed.get(RAW_STAGE, 0)  # taken down at ingest: read, never in raw_records
        entry = {
            "source": sid,
            "kind": row["kind"],
            "license": row["license"],
            "license_class": classify(row["license"], license_classes),
            "obtained": row["obtained"],
            "read": None if n_in is None else n_in + n_q + at_ingest,
            "ingested": n_in,
            "quarantined": n_q,
            "quarantined_by_reason": by_reason.get(sid, {}),
            "removed_by_stage": removed,
            "changed_by_stage": changed,
            "kept": None if n_in is None else n_in - sum(removed.values()) + at_ingest,
        }
        if in_release is not None:
            entry.update({"release": name, "release_version": version, "in_release": int(in_release[sid])})
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
            shards = Path(entry.path) / source  # a sharded stage: data/<stage>/<source>/shard-*.parquet
            if shards.is_dir():  # (globbed here: `trace` imports no pyarrow)
                files += sorted(p for p in shards.glob("shard-*.parquet"))
        elif entry.name.endswith(".parquet") and Path(entry.name).stem not in NOT_RECORDS:
            files.append(Path(entry.path))
    return sorted(files)


def _stage_of(project: Project, path: Path) -> str:
    if path.parent == project.data_dir:
        return path.stem
    return path.parent.parent.name if path.parent.parent.parent == project.data_dir else path.parent.name


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
    """Where a record came from, every stage it passed or was dropped or changed at, and why,
    and which release versions hold it (or why a later version no longer does).

    Answered from `curaline.lineage.index`, refreshed first for exactly the files that can
    hold the record, so a trace neither starts DuckDB nor reads a whole ledger.
    """
    import sqlite3

    from curaline.lineage.index import IndexedFileError, LineageIndex, discard, index_path, is_damaged

    try:
        source, key = doc_key(doc_id)
    except ValueError as exc:
        raise LineageQueryError(str(exc)) from None
    in_memory = False
    for attempt in range(3):
        try:
            with LineageIndex(project, in_memory=in_memory) as index:
                return _trace(project, index, doc_id, source, key, license_classes=license_classes)
        except IndexedFileError as exc:
            raise LineageQueryError(str(exc)) from None
        except sqlite3.Error as exc:
            if attempt == 2 or in_memory:
                raise
            if attempt == 0 and is_damaged(exc):  # damaged under us: the next attempt rebuilds it
                discard(index_path(project))
            else:  # busy for too long, or read-only: answer from an index of this question alone
                in_memory = True
    raise AssertionError("unreachable")


def _catalog(project: Project, index: LineageIndex) -> dict[str, dict[str, Any]]:
    """source id -> catalog row, as `source_catalog` gives it, without DuckDB."""
    path = project.stage_path("source_catalog")
    entry = index.entries({path: "catalog"}).get(path)
    return _manifest_catalog(project) if entry is None else _catalog_rows(project, entry.payload)


def _ledger_scope(project: Project, source: str, known_sources: set[str]) -> list[tuple[Path, str, str]]:
    """(path, stage, partition) of every ledger file that can hold a record of the source, oldest
    first per folder: its own partition, global stages, and partitions that are no source (a
    release, takedowns)."""
    out = []
    for path in ledger_files(project, latest=False):
        stage, partition = path.parent.parent.name.split("=", 1)[1], path.parent.name.split("=", 1)[1]
        if partition == source or partition not in known_sources:
            out.append((path, stage, partition))
    return out


def _trace(project: Project, index: LineageIndex, doc_id: str, source: str, key: int, *,
           license_classes: dict[str, str] | None) -> dict[str, Any]:  # fmt: skip
    catalog = _catalog(project, index)
    raw = project.stage_path("raw_records", source)
    outputs = _candidate_files(project, source)
    ledger = _ledger_scope(project, source, set(catalog) | {p.stem for p in (project.data_dir / "raw_records").glob("*") if p.suffix == ".parquet" or p.is_dir()})
    versions = release_versions(project)
    wanted: dict[Path, str] = {p: "origin" if p == raw or p.parent == raw else "presence" for p in outputs}
    wanted |= {p: "ledger" for p, _, _ in ledger}
    wanted |= {f[kind]: role for vs in versions.values() for f in vs.values()
               for kind, role in (("parquet", "release"), ("json", "manifest")) if kind in f}  # fmt: skip
    entries = index.entries(wanted)

    origin = None
    present: dict[str, Path] = {}
    for p in outputs:
        hits = index.lookup(entries[p], source, key) if p in entries else []
        if hits:
            present[_stage_of(project, p)] = p
            if p == raw or p.parent == raw:
                origin = hits[0]
    by_folder: dict[Path, list[Path]] = {}
    for f, _, _ in ledger:  # oldest first in each (stage, partition) folder
        by_folder.setdefault(f.parent, []).append(f)
    # the newest of each folder (of a sharded stage: the newest file of each shard)
    current = {f for files in by_folder.values() for f in current_ledger_files(files)}
    ledger_rows: list[dict[str, Any]] = []
    for p, stage, partition in ledger:
        for row in index.lookup(entries[p], source, key) if p in entries else []:
            ledger_rows.append({"stage": row.get("stage", stage), "partition": row.get("partition", partition),
                                "run_id": row.get("run_id"), "recorded_at": row.get("recorded_at"),
                                "action": row.get("action"), "reason": row.get("reason"), "value": row.get("value"),
                                "threshold": row.get("threshold"), "detail": row.get("detail"),
                                "related_doc_id": row.get("related_doc_id")
                                or legacy_related(row.get("action"), row.get("reason"), row.get("detail")),
                                "current": p in current, "_file": p})  # fmt: skip
    ledger_rows.sort(key=lambda r: (r["recorded_at"] or 0, r["stage"], r["action"] or "", r["reason"] or ""))
    in_releases, removed = _release_story(index, entries, versions, source, key, ledger_rows)
    if origin is None and not present and not ledger_rows and not in_releases:
        raise LineageQueryError(f"unknown doc id {doc_id!r}: not in any output or ledger of {project.root}")

    # stages in flow order; others after them, by the time their ledger file records (never an mtime)
    when: dict[str, float] = {stage: 0.0 for stage in present}
    for row in ledger_rows:
        if row["current"]:
            at = ledger_file_time(row["_file"])
            when[row["stage"]] = max(when.get(row["stage"], 0.0), at.timestamp() if at else 0.0)
    from curaline.stages import FLOW_ORDER

    def flow(stage: str) -> tuple[int, float, str]:  # known stages in flow order, others by time
        return (FLOW_ORDER.index(stage) if stage in FLOW_ORDER else len(FLOW_ORDER), when[stage], stage)

    fields = ("action", "reason", "value", "threshold", "detail", "related_doc_id", "partition", "run_id", "recorded_at")
    stages = []
    for stage in sorted(when, key=flow):
        rows = [r for r in ledger_rows if r["stage"] == stage and r["current"]]
        removal = [r for r in rows if r["action"] in REMOVAL_ACTIONS]
        flags = [r for r in rows if r["action"] in FLAG_ACTIONS]  # observations: kept unchanged
        path = present.get(stage)
        if path is not None:
            status = "changed" if len(rows) > len(removal) + len(flags) else "flagged" if flags else "kept"
        elif removal:
            status = {"drop": "dropped", "merge-into": "merged", "takedown": "taken down"}[removal[0]["action"]]
        else:
            status = "absent"
        entry: dict[str, Any] = {"stage": stage, "status": status,
                                 "events": [{k: _shown(k, r[k]) for k in fields} for r in rows]}  # fmt: skip
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
    history = [{k: _shown(k, r[k]) for k in ("stage", *fields)} for r in ledger_rows if not r["current"]]
    return {
        "doc_id": doc_id,
        "source": src,
        "origin": None if origin is None else {
            "file": origin.get("source_file"), "path": _source_file(declared, origin.get("source_file")),
            "line": origin.get("source_line"), "row": origin.get("source_row"),
            "source_record_id": origin.get("source_record_id"), "license": origin.get("license"),
            "content_hash": origin.get("content_hash")},
        "stages": stages,
        "history": history,
        "releases": in_releases,
        "removed_from_releases": removed,
        "takedowns": _takedown_requests(project, ledger_rows),
        "annotations": _annotations(project, doc_id, source, catalog),
    }  # fmt: skip


def _annotations(project: Project, doc_id: str, source: str, catalog: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The judgements of the record and its adjudicated labels, from the annotation sources that target its source."""
    targeting = [sid for sid, row in catalog.items() if row.get("kind") == "annotation"
                 and (row.get("declaration") or {}).get("target_source") == source]  # fmt: skip
    if not targeting:  # the common case: no pyarrow import for a trace
        return []
    from curaline.annotation.label_studio import record_judgements

    return record_judgements(project, doc_id, sorted(targeting))


def _takedown_requests(project: Project, ledger_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The requests behind the record's `takedown` rows: who asked, when and why (stdlib only: trace stays fast).

    A request file that is missing or unreadable is reported as such: the ledger row is the proof, the
    request file the explanation.
    """
    out = []
    near = {str(r["detail"]).split(";", 1)[0]: str(r["detail"]).split("near_copy_of=", 1)[1].split(";")[0]
            for r in ledger_rows if r["action"] == "takedown" and "near_copy_of=" in str(r["detail"] or "")}  # fmt: skip
    for rid in sorted({str(r["detail"]).split(";", 1)[0] for r in ledger_rows if r["action"] == "takedown" and r["detail"]}):
        path = project.lineage_dir / "takedowns" / f"{rid}.json"
        entry: dict[str, Any] = {"id": rid, "file": str(path)}
        if rid in near:  # removed as a near copy of a record the request named
            entry["near_copy_of"] = near[rid]
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            entry.update({k: data.get(k) for k in ("requested_by", "requested_at", "reason")})
            selector = data.get("selector") or {}
            entry["selector"] = selector.get("kind")
            if selector.get("kind") in ("source", "url_pattern"):
                entry["selector"] += f" {selector.get('value')}"
        except (OSError, ValueError) as exc:
            entry["problem"] = f"request file unreadable: {exc}"
        out.append(entry)
    return out


def _shown(field: str, value: Any) -> Any:
    return _iso(value) if field == "recorded_at" else value


def _epoch_us(iso: str | None) -> int | None:
    if not iso:
        return None
    try:
        t = dt.datetime.fromisoformat(iso)
    except ValueError:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return int(t.timestamp() * 1_000_000)


def _release_story(index: LineageIndex, entries: dict[Path, Entry], versions: dict[str, dict[int, dict[str, Path]]],
                   source: str, key: int, ledger_rows: list[dict[str, Any]],
                   ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:  # fmt: skip
    """The versions holding the record; for each release whose latest version lost it, when and why."""
    held: list[dict[str, Any]] = []
    removed: list[dict[str, Any]] = []
    for release, vs in versions.items():
        latest = latest_version(vs)
        summary = {v: entries[f["json"]].payload if f.get("json") in entries else {} for v, f in vs.items()}
        holding = []
        for v, f in vs.items():
            hits = index.lookup(entries[f["parquet"]], source, key) if f.get("parquet") in entries else []
            if hits:
                holding.append(v)
                held.append({"release": release, "version": v, "split": hits[0].get("split"),
                             "copies": hits[0].get("copies"), "status": summary[v].get("status"),
                             "created_at": summary[v].get("created_at"), "latest": v == latest})  # fmt: skip
        if not holding or latest in holding:
            continue
        last = max(holding)
        first_without = min(v for v in vs if v > last and "parquet" in vs[v])
        after = _epoch_us(summary[last].get("created_at"))
        removals = [r for r in ledger_rows if r["action"] in REMOVAL_ACTIONS
                    and not (r["stage"] == "release" and r["partition"] != release)]  # fmt: skip
        since = [r for r in removals if after is not None and (r["recorded_at"] or 0) > after]
        fields = ("stage", "partition", "action", "reason", "value", "threshold", "detail", "related_doc_id", "run_id",
                  "recorded_at", "current")  # fmt: skip
        removed.append({"release": release, "last_version": last, "first_version_without": first_without,
                        "latest_version": latest,
                        "removed_by": [{k: _shown(k, r[k]) for k in fields} for r in since or removals]})  # fmt: skip
    return held, removed


# ---- impact ---------------------------------------------------------------------------------


def impact(project: Project, source_id: str) -> dict[str, Any]:
    """Every dataset (and version) holding records of a source, with counts; its removals."""
    return retry_replaced(lambda: _impact(project, source_id))


def _impact(project: Project, source_id: str) -> dict[str, Any]:
    import duckdb

    from curaline.database import connect

    con = connect(project)
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
        from curaline.stages import FLOW_ORDER

        def flow(d: dict[str, Any]) -> tuple[int, str, str]:  # flow order, never file mtimes
            return (FLOW_ORDER.index(d["asset"]) if d["asset"] in FLOW_ORDER else len(FLOW_ORDER), d["asset"], d["path"])

        datasets.sort(key=flow)
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
        in_releases = _release_counts(project, con, source_id)
    finally:
        con.close()
    row = catalog.get(source_id) or {}
    return {"source": source_id, "license": row.get("license"), "obtained": row.get("obtained"),
            "datasets": datasets, "history": history, "ledger": removals, "releases": in_releases}  # fmt: skip


def _release_counts(project: Project, con: duckdb.DuckDBPyConnection, source_id: str) -> list[dict[str, Any]]:
    """Every release version holding records of the source: records, rows (upsampled copies
    included), the version's status, and whether it is the release's latest."""
    versions = release_versions(project)
    where = {str(f["parquet"]): (r, v) for r, vs in versions.items() for v, f in vs.items() if "parquet" in f}
    paths = [Path(p) for p in where]
    if not where:
        return []
    counts = con.sql(f"""SELECT filename, count(*), sum(copies) FROM read_parquet({_files(paths)},
                             filename = true, hive_partitioning = false)
                         WHERE source_id = ? GROUP BY ALL""", params=[source_id]).fetchall()  # fmt: skip
    out = []
    for filename, n, rows in counts:
        release, version = where[filename]
        manifest = versions[release][version].get("json")
        summary = _manifest(manifest) if manifest else {}
        out.append({"release": release, "version": version, "records": int(n), "rows": None if rows is None else int(rows),
                    "status": summary.get("status"), "created_at": summary.get("created_at"),
                    "latest": version == latest_version(versions[release])})  # fmt: skip
    return sorted(out, key=lambda r: (r["release"], r["version"]))


def _manifest(path: Path) -> dict[str, Any]:
    from curaline.lineage.index import manifest_summary

    try:
        return manifest_summary(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        raise LineageQueryError(f"{path}: not a JSON release manifest ({exc})") from None


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
    from curaline.database import connect

    con = connect(project)
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
