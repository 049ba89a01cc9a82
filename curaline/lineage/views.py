"""Read-only DuckDB views over the project's parquet outputs and lineage store.

Views live in an in-memory database over parquet files that runs replace atomically,
so queries never take a lock a running pipeline needs (a .duckdb file would: one
writer excludes every reader).

Views (each exists even before the first run, empty, with its columns):

- one per stage output (``source_catalog``, ``raw_records``, ``quarantined_records``...),
  without text columns: lineage answers "where from, what happened", never "what it said";
- ``events``: every OpenLineage event, flattened (`curaline.lineage.store.EVENTS_SCHEMA`);
- ``runs``: one row per materialization: asset, partition, status, times, outputs and
  their versions, check results;
- ``catalog``: every dataset the events name, at its latest materialized version;
- ``ledger_history``: every ledger row of every run; ``ledger``: only the latest run of
  each (stage, partition), i.e. what the current outputs reflect;
- ``records``: where each ingested record came from (ids, file, line/row, licence, hash);
- ``release_records``: every record of every release version
  (``lineage/releases/release=<name>/v<N>.parquet``, see the release contract);
- ``releases``: one row per release version, from its manifest ``v<N>.json``.

`VIEW_DOCS` says what each holds: `lineage sql --help` shows it. Neither DuckDB nor pyarrow
is imported here at module level: `lineage trace` lists files through this module and
answers from `curaline.lineage.index` without starting DuckDB.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from curaline.project import Project
from curaline.records import TEXT_COLUMNS
from curaline.sql import literal, literal_list

if TYPE_CHECKING:
    import duckdb

#: Columns no view exposes: record text, and the raw bytes of quarantined input.
HIDDEN_COLUMNS = tuple(sorted({c for cols in TEXT_COLUMNS.values() for c in cols} | {"raw"}))

#: Removals in the ledger: the record is gone from the stage's output.
REMOVAL_ACTIONS = ("drop", "merge-into", "takedown")
#: Observations in the ledger (curaline.kernels.base.FLAG_ACTIONS): neither removed nor changed.
FLAG_ACTIONS = ("flag",)

#: DuckDB types of the lineage tables, for their empty views (must match LEDGER_SCHEMA and
#: EVENTS_SCHEMA, which a test checks; declared here to keep pyarrow off the CLI path).
LEDGER_COLUMNS = (
    ("doc_id", "VARCHAR"), ("stage", "VARCHAR"), ("partition", "VARCHAR"), ("run_id", "VARCHAR"),
    ("recorded_at", "TIMESTAMP WITH TIME ZONE"), ("action", "VARCHAR"), ("reason", "VARCHAR"),
    ("value", "DOUBLE"), ("threshold", "DOUBLE"), ("detail", "VARCHAR"), ("related_doc_id", "VARCHAR"),
)  # fmt: skip
#: how a ledger file written before `related_doc_id` existed named the related record (read only there)
LEGACY_RELATED_SQL = (
    "CASE WHEN action = 'merge-into' THEN nullif(regexp_extract(detail, 'into=([^;]+)', 1), '') "
    "WHEN reason = 'contaminated_eval_ngram' THEN nullif(regexp_extract(detail, 'eval_item=([^ ;]+)', 1), '') END"
)
EVENT_COLUMNS = (
    ("event_time", "TIMESTAMP WITH TIME ZONE"), ("event_type", "VARCHAR"), ("run_id", "VARCHAR"),
    ("parent_run_id", "VARCHAR"), ("parent_job", "VARCHAR"), ("namespace", "VARCHAR"), ("job", "VARCHAR"),
    ("partition", "VARCHAR"),
    ("inputs", 'STRUCT(namespace VARCHAR, "name" VARCHAR, "version" VARCHAR)[]'),
    ("outputs", 'STRUCT(namespace VARCHAR, "name" VARCHAR, "version" VARCHAR, "rows" BIGINT, bytes BIGINT)[]'),
    ("assertions", 'STRUCT(dataset VARCHAR, "name" VARCHAR, "assertion" VARCHAR, success BOOLEAN, '
                   '"column" VARCHAR, severity VARCHAR)[]'),
    ("error_message", "VARCHAR"), ("producer", "VARCHAR"), ("run_facets", "VARCHAR"), ("job_facets", "VARCHAR"),
    ("input_facets", "VARCHAR"), ("output_facets", "VARCHAR"),
)  # fmt: skip
RECORD_COLUMNS = (
    ("doc_id", "VARCHAR"), ("source_id", "VARCHAR"), ("source_file", "VARCHAR"), ("source_line", "BIGINT"),
    ("source_row", "BIGINT"), ("source_record_id", "VARCHAR"), ("license", "VARCHAR"), ("content_hash", "VARCHAR"),
)  # fmt: skip
RELEASE_COLUMNS = (
    ("release", "VARCHAR"), ("version", "INTEGER"), ("doc_id", "VARCHAR"), ("source_id", "VARCHAR"), ("kind", "VARCHAR"),
    ("license", "VARCHAR"), ("license_class", "VARCHAR"), ("split", "VARCHAR"), ("copies", "SMALLINT"),
)  # fmt: skip
RELEASES_COLUMNS = (
    ("release", "VARCHAR"), ("version", "INTEGER"), ("created_at", "TIMESTAMP WITH TIME ZONE"), ("records", "BIGINT"),
    ("tokens", "BIGINT"), ("status", "VARCHAR"), ("superseded", "BOOLEAN"), ("dvc_md5", "VARCHAR"), ("git_tag", "VARCHAR"),
)  # fmt: skip

LINEAGE_VIEWS = ("events", "runs", "catalog", "ledger", "ledger_history", "records", "release_records", "releases")

#: What each view holds, as `lineage sql --help` lists them (stage outputs come on top).
VIEW_DOCS = {
    "events": "every OpenLineage event, flattened: event_time, event_type, run_id, job (the asset), partition, "
              "inputs/outputs with versions, assertions, facets as JSON",
    "runs": "one row per materialization: asset, partition, status, started_at/ended_at, outputs and their "
            "versions, check results",
    "catalog": "every dataset the events name, at its latest materialized version",
    "ledger": "what the current outputs reflect: the ledger rows of the latest run of each stage and partition "
              "(doc_id, stage, partition, run_id, recorded_at, action, reason, value, threshold, detail, related_doc_id: "
              "the kept doc of a merge, the evaluation item of a contamination)",
    "ledger_history": "every ledger row of every run",
    "records": "where each ingested record came from: doc_id, source_id, source_file, source_line/source_row, "
               "source_record_id, license, content_hash",
    "release_records": "every record of every release version: release, version, doc_id, source_id, kind, license, "
                       "license_class, split, copies",
    "releases": "one row per release version: release, version, created_at, records, tokens, status "
                "(released | blocked), superseded, dvc_md5, git_tag",
}  # fmt: skip


#: What DuckDB says when a parquet file was replaced between reading its footer and its
#: pages: the pipeline renames new outputs over old ones, so the next attempt is consistent.
_REPLACED = ("TProtocolException", "Invalid data", "No magic bytes", "too small to be a Parquet file",
             "No such file", "Could not open file", "Could not read enough bytes", "Corrupt",
             "out of range",
             # thrift's compact protocol on a footer read from the other file (seen in tests/test_soak.py
             # under load: "don't know what type: \x0e", reported to the user as bad SQL)
             "don't know what type")  # fmt: skip

T = TypeVar("T")


def retry_replaced(fn: Callable[[], T], *, attempts: int = 5, wait_s: float = 0.02) -> T:
    """Run a read; if a file was swapped under it by an atomic rename, read again."""
    import duckdb

    for attempt in range(attempts):
        try:
            return fn()
        except duckdb.Error as exc:
            transient = isinstance(exc, duckdb.IOException) or any(m in str(exc) for m in _REPLACED)
            if attempt == attempts - 1 or not transient:
                raise
            time.sleep(wait_s * (attempt + 1))
    raise AssertionError("unreachable")


_sql_str = literal
_file_list = literal_list


def _empty(columns: tuple[tuple[str, str], ...]) -> str:
    return "SELECT " + ", ".join(f"NULL::{t} AS {n}" for n, t in columns) + " WHERE false"


def _visible(columns: tuple[tuple[str, str], ...]) -> str:
    return ", ".join(n for n, _ in columns)


def legacy_related(action: str | None, reason: str | None, detail: str | None) -> str | None:
    """LEGACY_RELATED_SQL for one row (the index keeps rows of old ledger files as written)."""
    if not detail:
        return None
    if action == "merge-into":
        found = re.search(r"into=([^;]+)", detail)
    elif reason == "contaminated_eval_ngram":
        found = re.search(r"eval_item=([^ ;]+)", detail)
    else:
        return None
    return found.group(1) if found else None


def ledger_sql(files: str) -> str:
    """A relation over ledger files (`files`: SQL for read_parquet, a parameter such as `$files`, a
    quoted glob or list) with every ledger column, whichever version of the ledger wrote the files."""
    cols = ", ".join(n if n != "related_doc_id" else f"coalesce(related_doc_id, {LEGACY_RELATED_SQL}) AS related_doc_id"
                     for n, _ in LEDGER_COLUMNS)  # fmt: skip
    return (f"(SELECT {cols} FROM ({_empty(LEDGER_COLUMNS)} UNION ALL BY NAME "
            f"SELECT * FROM read_parquet({files}, union_by_name = true, hive_partitioning = false)))")


def stage_views(project: Project) -> dict[str, str]:
    """View name -> the parquet glob behind it, for outputs that exist."""
    data = project.data_dir
    views: dict[str, str] = {}
    if (data / "source_catalog.parquet").exists():
        views["source_catalog"] = str(data / "source_catalog.parquet")
    if data.is_dir():
        for single in sorted(data.glob("*.parquet")):  # global stages written as one file
            views.setdefault(single.stem, str(single))
        for stage_dir in sorted(p for p in data.iterdir() if p.is_dir()):
            if any(stage_dir.glob("*.parquet")):  # a file per source
                views[stage_dir.name] = str(stage_dir / "*.parquet")
            elif any(stage_dir.glob("*/shard-*.parquet")):  # a sharded stage: a folder of shards per source
                views[stage_dir.name] = str(stage_dir / "*" / "shard-*.parquet")
    return views


# ---- the lineage store's files ---------------------------------------------------------


def ledger_root(project: Project) -> Path:
    return project.lineage_dir / "ledger"


def events_root(project: Project) -> Path:
    return project.lineage_dir / "events"


def releases_root(project: Project) -> Path:
    return project.lineage_dir / "releases"


def event_files(project: Project, job: str | None = None) -> list[Path]:
    root = events_root(project)
    pattern = f"job={job}/run=*.parquet" if job else "job=*/run=*.parquet"
    return sorted(root.glob(pattern)) if root.is_dir() else []


#: A ledger file's name: ``<recorded at, UTC, to the microsecond>-run=<run id>.parquet``. The time
#: is in the name so that "the latest run" is what the file records, whatever mtimes a copy or a
#: clone left; such names sort in time order.
LEDGER_STAMP = "%Y%m%dT%H%M%S%fZ"
_LEDGER_NAME = re.compile(r"^(?:(?P<at>\d{8}T\d{12}Z)-)?run=(?P<run>.+?)(?:\.shard=[0-9]+-of-[0-9]+)?\.parquet$")
_OLDEST = dt.datetime.min.replace(tzinfo=dt.UTC)
#: Summary footer key of a ledger file (curaline.ledger.SUMMARY_KEY; no pyarrow import here).
_LEDGER_SUMMARY_KEY = b"curaline.ledger.summary"


def ledger_file_name(run_id: str, at: dt.datetime) -> str:
    return f"{at.astimezone(dt.UTC).strftime(LEDGER_STAMP)}-run={run_id}.parquet"


def ledger_file_time(path: Path) -> dt.datetime | None:
    """When the run wrote this ledger file, as the file records it: its name, else its contents.

    A file from before the time was in the name (``run=<id>.parquet``) gives its footer's
    ``recorded_at``, else its rows' latest; an empty one of those gives None (the oldest).
    """
    m = _LEDGER_NAME.match(path.name)
    if m and m.group("at"):
        return dt.datetime.strptime(m.group("at"), LEDGER_STAMP).replace(tzinfo=dt.UTC)
    import json

    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    try:
        summary = json.loads((pq.read_metadata(path).metadata or {}).get(_LEDGER_SUMMARY_KEY, b"{}"))
        if summary.get("recorded_at"):
            return dt.datetime.fromisoformat(summary["recorded_at"]).astimezone(dt.UTC)
        stamps = pq.read_table(path, columns=["recorded_at"])["recorded_at"]
    except (OSError, ValueError, KeyError):
        return None
    top = pc.max(stamps).as_py() if len(stamps) else None
    return top.astimezone(dt.UTC) if top is not None else None


def ledger_sort_key(path: Path) -> tuple[dt.datetime, str]:
    """Ledger files in the order their runs wrote them (recorded time, then name), never by mtime."""
    return (ledger_file_time(path) or _OLDEST, path.name)


#: A sharded stage's ledger file: one per (run, shard) of a (stage, partition), see curaline.shards;
#: ``<recorded at>-run=<run id>.shard=NNNNN-of-MMMMM.parquet`` (the time the worker committed it)
SHARD_LEDGER_FILE = re.compile(r"^(?:(?P<at>\d{8}T\d{12}Z)-)?run=(?P<run>.+)\.shard=(?P<shard>[0-9]+)-of-(?P<shards>[0-9]+)\.parquet$")


def current_ledger_files(files: list[Path]) -> list[Path]:
    """Of one (stage, partition) folder's files in time order (`ledger_sort_key`), those the current
    output reflects: the newest file, or, when it is a shard's, the newest file of each shard of its
    plan (the shards of a resumed run come from the runs that committed them)."""
    if not files:
        return []
    m = SHARD_LEDGER_FILE.match(files[-1].name)
    if m is None:
        return [files[-1]]
    best: dict[int, Path] = {}
    for path in files:  # oldest first: a later file of a shard replaces an earlier one
        e = SHARD_LEDGER_FILE.match(path.name)
        if e is not None and e["shards"] == m["shards"]:
            best[int(e["shard"])] = path
    return [best[i] for i in sorted(best)]


def ledger_files(project: Project, *, partition: str | None = None, latest: bool = True) -> list[Path]:
    """Ledger files (one per stage, partition and run, or per shard of a run), oldest first; with
    latest, the current ones per (stage, partition): the run the current output reflects, or for a
    sharded stage the newest file of each shard of the newest file's plan (`current_ledger_files`).

    "Newest" is the time the file records (`ledger_file_time`), so a copy that reset the
    files' mtimes (`cp -r`, a clone + `dvc pull`) picks the same files as the original.
    """
    root = ledger_root(project)
    if not root.is_dir():
        return []
    parts = f"partition={partition}" if partition else "partition=*"
    out: list[Path] = []
    for part_dir in sorted(root.glob(f"stage=*/{parts}")):
        files = sorted((Path(e.path) for e in os.scandir(part_dir) if e.name.endswith(".parquet") and e.is_file()),
                       key=ledger_sort_key)  # fmt: skip
        out += current_ledger_files(files) if latest else files
    return out


#: A release version's files: ``v<N>.parquet`` (its release_records) and ``v<N>.json`` (its manifest).
RELEASE_FILE = re.compile(r"^v([1-9][0-9]*)\.(parquet|json)$")


def release_versions(project: Project, release: str | None = None) -> dict[str, dict[int, dict[str, Path]]]:
    """release -> version -> {"parquet": path, "json": path} (each where it exists), in version order."""
    root = releases_root(project)
    out: dict[str, dict[int, dict[str, Path]]] = {}
    if not root.is_dir():
        return out
    folders = [root / f"release={release}"] if release else sorted(root.glob("release=*"))
    for folder in folders:
        if not folder.is_dir():
            continue
        versions: dict[int, dict[str, Path]] = {}
        for entry in os.scandir(folder):
            m = RELEASE_FILE.match(entry.name)
            if m and entry.is_file():
                versions.setdefault(int(m.group(1)), {})[m.group(2)] = Path(entry.path)
        if versions:
            out[folder.name.split("=", 1)[1]] = dict(sorted(versions.items()))
    return out


def release_files(project: Project, release: str | None = None, *, version: int | None = None,
                  suffix: str = "parquet") -> list[Path]:  # fmt: skip
    """The release_records files (or manifests, suffix="json"), ordered by release and version."""
    return [files[suffix] for versions in release_versions(project, release).values()
            for v, files in versions.items() if suffix in files and version in (None, v)]  # fmt: skip


def releases(project: Project) -> list[str]:
    return sorted(release_versions(project))


def latest_version(versions: dict[int, dict[str, Path]]) -> int:
    """The latest of a release's versions: the highest with records (else the highest manifest)."""
    with_records = [v for v, files in versions.items() if "parquet" in files]
    return max(with_records or versions)


def latest_versions(project: Project) -> dict[str, int]:
    return {r: latest_version(versions) for r, versions in release_versions(project).items()}


# ---- views ---------------------------------------------------------------------------------


def _stage_view_sql(pattern: str) -> str:
    hidden = ", ".join(_sql_str(c) for c in HIDDEN_COLUMNS)
    return (f"SELECT COLUMNS(lambda c: NOT list_contains([{hidden}], c)) "
            f"FROM read_parquet({_sql_str(pattern)}, union_by_name = true)")  # fmt: skip


def _events_sql(project: Project) -> str:
    if not event_files(project):
        return _empty(EVENT_COLUMNS)
    return (f"SELECT {_visible(EVENT_COLUMNS)} FROM read_parquet({_sql_str(events_root(project) / 'job=*' / 'run=*.parquet')}, "
            "union_by_name = true, hive_partitioning = false)")  # fmt: skip


def open_events(project: Project) -> duckdb.DuckDBPyConnection:
    """An in-memory connection with the `events` view only: what a report's lineage questions
    need, without listing every stage's and ledger's files for views it does not ask about."""
    from curaline.database import connect

    con = connect(project)
    con.execute(f"CREATE VIEW events AS {_events_sql(project)}")
    return con


def lineage_view_sql(project: Project) -> dict[str, str]:
    """The SQL of every lineage view, in creation order (later ones use earlier ones)."""
    views: dict[str, str] = {"events": _events_sql(project)}
    views["runs"] = """
        SELECT run_id, any_value(job) AS asset, any_value(partition) AS partition,
               any_value(parent_run_id) AS parent_run_id, any_value(parent_job) AS parent_job,
               min(event_time) FILTER (WHERE event_type = 'START') AS started_at,
               max(event_time) FILTER (WHERE event_type IN ('COMPLETE', 'FAIL', 'ABORT')) AS ended_at,
               coalesce(arg_max(event_type, event_time) FILTER (WHERE event_type IN ('COMPLETE', 'FAIL', 'ABORT')),
                        'RUNNING') AS status,
               arg_max(inputs, event_time) AS inputs, arg_max(outputs, event_time) AS outputs,
               arg_max(assertions, event_time) AS assertions, max(error_message) AS error_message
        FROM events GROUP BY run_id"""
    views["catalog"] = """
        SELECT o.namespace, o.name AS dataset, job AS asset, partition, o.version, o.rows, o.bytes,
               event_time AS materialized_at, run_id
        FROM (SELECT job, partition, event_time, run_id, unnest(outputs) AS o FROM events
              WHERE event_type = 'COMPLETE')
        QUALIFY row_number() OVER (PARTITION BY o.namespace, o.name ORDER BY event_time DESC) = 1"""
    history = ledger_files(project, latest=False)
    views["ledger_history"] = (
        f"SELECT * FROM {ledger_sql(_sql_str(ledger_root(project) / '**' / '*.parquet'))}"
        if history
        else _empty(LEDGER_COLUMNS)
    )  # fmt: skip
    latest = ledger_files(project, latest=True)
    views["ledger"] = (
        f"SELECT * FROM {ledger_sql(_file_list(latest))}"
        if latest
        else _empty(LEDGER_COLUMNS)
    )
    raw = project.data_dir / "raw_records"
    raw_glob = next((raw / g for g in ("*.parquet", "*/shard-*.parquet") if raw.is_dir() and any(raw.glob(g))), None)
    views["records"] = (
        f"SELECT {_visible(RECORD_COLUMNS)} FROM read_parquet({_sql_str(raw_glob)}, union_by_name = true)"
        if raw_glob is not None
        else _empty(RECORD_COLUMNS)
    )
    rel = release_files(project)
    views["release_records"] = (
        f"SELECT {_visible(RELEASE_COLUMNS)} FROM read_parquet({_file_list(rel)}, union_by_name = true, "
        "hive_partitioning = false)"
        if rel
        else _empty(RELEASE_COLUMNS)
    )
    views["releases"] = _releases_view_sql(project)
    return views


def _releases_view_sql(project: Project) -> str:
    """One row per manifest; release and version from its path (they pair it with its records)."""
    manifests = [(r, v, files["json"]) for r, versions in release_versions(project).items()
                 for v, files in versions.items() if "json" in files]  # fmt: skip
    if not manifests:
        return _empty(RELEASES_COLUMNS)
    latest = latest_versions(project)
    paths = ", ".join(f"({_sql_str(p)}, {_sql_str(r)}, {v}, {latest[r]})" for r, v, p in manifests)
    return f"""
        SELECT f.release, f.version, CAST(m.json ->> '$.created_at' AS TIMESTAMP WITH TIME ZONE) AS created_at,
               CAST(m.json ->> '$.records' AS BIGINT) AS records, CAST(m.json ->> '$.tokens' AS BIGINT) AS tokens,
               m.json ->> '$.status' AS status, f.version < f.latest AS superseded,
               m.json ->> '$.dvc.md5' AS dvc_md5, m.json ->> '$.git.tag' AS git_tag
        FROM read_json_objects([{', '.join(_sql_str(p) for _, _, p in manifests)}], filename = true, format = 'auto') m
        JOIN (VALUES {paths}) f(path, release, version, latest) ON m.filename = f.path
        ORDER BY f.release, f.version"""


def open_views(project: Project, con: duckdb.DuckDBPyConnection | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory connection (or `con`) with the stage and lineage views; refuses nothing by
    itself: `curaline.lineage.sandbox.open_query_views` is what user SQL runs on."""
    from curaline.database import connect

    con = con if con is not None else connect(project)
    for name, pattern in stage_views(project).items():
        if name in LINEAGE_VIEWS:
            continue  # a stage cannot shadow a lineage view
        con.execute(f"CREATE VIEW \"{name}\" AS {_stage_view_sql(pattern)}")
    for name, sql in lineage_view_sql(project).items():
        con.execute(f"CREATE VIEW {name} AS {sql}")
    return con


def view_names(project: Project) -> list[str]:
    """Every view `open_views` creates: what user SQL may name."""
    return [n for n in stage_views(project) if n not in LINEAGE_VIEWS] + list(LINEAGE_VIEWS)
