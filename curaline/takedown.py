"""Takedown and erasure requests: recorded once, applied at ingest, tracked to completion.

A request (who, when, why, and which records: a whole source, a list of doc ids, or
a URL pattern) is one JSON file under ``lineage/takedowns/``, written atomically and
never rewritten, so the file is the audit record; it is committed to the project's git
at once, so every clone holds it. Ingest applies *every* request ever made (`matcher`),
so a taken-down record never re-enters any later run, here or in a clone, whether or not
the sensor is running; the dedup stage removes the near copies of what requests named
(`near_copy_events`). Status is computed, never stored:

- ``pending``:  no ingest run has applied it yet;
- ``applied``:  the ledger holds its ``takedown`` rows (or every affected source has
  been re-ingested since, when nothing matched);
- ``complete``: every release whose version current at the time of the request held
  an affected record has a later version, and its latest version holds none of them;
- ``no-match``: it names nothing that exists (an unknown source, ids of one, a URL
  pattern no record has) and every current source has been ingested since: it would
  otherwise stay ``pending`` forever and keep the sensor re-running.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import secrets
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curaline.kernels.base import EVENT_SCHEMA
from curaline.project import Project

KINDS = ("source", "doc_ids", "url_pattern")
ACTION = "takedown"
REASON = "takedown_request"
#: A record removed because its content is a near copy of a taken-down one (detail:
#: ``<request id>;near_copy_of=<doc id>``, value: the similarity, threshold: dedup's)
NEAR_REASON = "takedown_near_copy"
#: The stage whose ledger holds the near-duplicate relations (every run's, kept append-only)
DEDUP_STAGE = "deduplicated"
#: The ingest stage that applies requests (its ledger files prove a source was re-ingested).
RAW_STAGE = "raw_records"
STATUSES = ("pending", "applied", "complete", "no-match")
FORMAT_VERSION = 1
_ID = re.compile(r"^td-\d{8}T\d{6}Z-[0-9a-f]{8}$")
_RELEASE_FILE = re.compile(r"^v(\d+)\.parquet$")

#: (table of one source's records, source id) -> (keep mask, ledger events)
Matcher = Callable[[pa.Table, str], tuple[np.ndarray, pa.Table]]


class TakedownError(ValueError):
    """A request that cannot be recorded or read; the message names file, line and field."""


@dataclass(frozen=True)
class TakedownRequest:
    """One request, exactly one of source / doc_ids / url_pattern set."""

    id: str
    requested_by: str
    requested_at: dt.datetime
    reason: str
    source: str | None = None
    doc_ids: tuple[str, ...] = ()
    url_pattern: str | None = None
    doc_ids_file: str | None = None  # where the ids came from, for the audit record
    #: each release's latest version when the request was made: what "affected" is judged on
    release_versions: dict[str, int] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return "source" if self.source is not None else "doc_ids" if self.doc_ids else "url_pattern"

    def selector(self) -> str:
        """One line for people: what is taken down."""
        if self.source is not None:
            return f"source = {self.source}"
        if self.doc_ids:
            where = f" (from {self.doc_ids_file})" if self.doc_ids_file else ""
            return f"{len(self.doc_ids)} doc id(s){where}"
        return f"url matches /{self.url_pattern}/"

    def to_json(self) -> dict[str, Any]:
        value: Any = self.source if self.kind == "source" else list(self.doc_ids) if self.kind == "doc_ids" else self.url_pattern
        return {
            "format": FORMAT_VERSION,
            "id": self.id,
            "requested_by": self.requested_by,
            "requested_at": _iso(self.requested_at),
            "reason": self.reason,
            "selector": {"kind": self.kind, "value": value, **({"file": self.doc_ids_file} if self.doc_ids_file else {})},
            "release_versions": dict(sorted(self.release_versions.items())),
        }


@dataclass(frozen=True)
class Affected:
    sources: list[str]
    releases: list[str]


@dataclass(frozen=True)
class RequestStatus:
    request: TakedownRequest
    status: str
    records_taken_down: int  # distinct records the ledger shows removed for this request
    affected: Affected
    #: affected releases still waiting for a version without the records: {release: version at request}
    releases_pending: dict[str, int]
    #: where the ledger shows the records removed: {stage: {source: records}}
    removed_where: dict[str, dict[str, int]] = field(default_factory=dict)
    #: the near copies removed with them: [{doc_id, near_copy_of, similarity, stage}]
    near_copies: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {**self.request.to_json(), "status": self.status, "records_taken_down": self.records_taken_down,
                "affected_sources": self.affected.sources, "affected_releases": self.affected.releases,
                "releases_pending": self.releases_pending, "removed_where": self.removed_where,
                "near_copies": self.near_copies}  # fmt: skip


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def takedown_dir(project: Project) -> Path:
    return project.lineage_dir / "takedowns"


# ---- validation --------------------------------------------------------------------------


def check_url_pattern(pattern: str) -> str:
    """The pattern as the matcher will run it (RE2, via pyarrow), refused when it would match every URL."""
    if not pattern:
        raise TakedownError("--url-pattern: empty pattern (it would match every URL)")
    try:
        matches_empty = pc.match_substring_regex(pa.array([""]), pattern)[0].as_py()
    except pa.ArrowInvalid as exc:
        raise TakedownError(f"--url-pattern: invalid regular expression {pattern!r} (RE2 syntax): {exc}") from None
    if matches_empty:
        raise TakedownError(f"--url-pattern: {pattern!r} matches the empty string, so every URL; "
                            r"anchor it, e.g. '^https://example\.org/'")  # fmt: skip
    return pattern


def read_doc_ids(path: Path) -> tuple[str, ...]:
    """One doc id per line (blank lines and `#` comments skipped); sorted, without repeats."""
    from curaline.schemas import DOC_ID_PATTERN

    pattern = re.compile(DOC_ID_PATTERN)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TakedownError(f"--doc-ids: cannot read {path}: {exc.strerror or exc}") from None
    ids: set[str] = set()
    for number, raw in enumerate(data.splitlines(), start=1):
        try:
            line = raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise TakedownError(f"--doc-ids: {path}:{number}: not UTF-8 text") from None
        if not line or line.startswith("#"):
            continue
        if not pattern.match(line):
            shown = line if len(line) <= 60 else line[:57] + "..."
            raise TakedownError(f"--doc-ids: {path}:{number}: malformed doc id {shown!r} "
                                "(expected <source id>:<16 hex digits>, e.g. notes:0123456789abcdef)")  # fmt: skip
        ids.add(line)
    if not ids:
        raise TakedownError(f"--doc-ids: {path}: no doc ids in the file")
    return tuple(sorted(ids))


def known_sources(project: Project) -> list[str]:
    from curaline.sources import load_manifests

    manifests, _ = load_manifests(project.sources_dir, strict=False)
    return sorted(m.id for m in manifests)


def check_source(project: Project, source: str) -> str:
    known = known_sources(project)
    if source not in known:
        raise TakedownError(f"--source: unknown source {source!r} (valid manifests in {project.sources_dir}: "
                            f"{', '.join(known) or 'none'})")  # fmt: skip
    return source


# ---- recording and reading ---------------------------------------------------------------


def new_request(
    project: Project,
    *,
    reason: str,
    requested_by: str,
    source: str | None = None,
    doc_ids: Sequence[str] = (),
    url_pattern: str | None = None,
    doc_ids_file: str | None = None,
    now: dt.datetime | None = None,
) -> TakedownRequest:
    """A validated request (not yet recorded), with the releases' current versions."""
    given = [k for k, v in (("--source", source), ("--doc-ids", doc_ids or None), ("--url-pattern", url_pattern))
             if v is not None]  # fmt: skip
    if len(given) != 1:
        raise TakedownError("give exactly one of --source, --doc-ids, --url-pattern" + (f" (got {', '.join(given)})" if given else ""))
    if not reason.strip():
        raise TakedownError("--reason: must say why (it is the audit record)")
    if source is not None:
        check_source(project, source)
    if url_pattern is not None:
        check_url_pattern(url_pattern)
    at = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0)
    rid = f"td-{at:%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"
    latest = {name: versions[-1] for name, versions in release_versions(project).items() if versions}
    return TakedownRequest(id=rid, requested_by=requested_by.strip() or "unknown", requested_at=at, reason=reason.strip(),
                           source=source, doc_ids=tuple(sorted(set(doc_ids))), url_pattern=url_pattern,
                           doc_ids_file=doc_ids_file, release_versions=latest)  # fmt: skip


def record_request(project: Project, request: TakedownRequest) -> Path:
    """Write the request file atomically; never replaces an existing one (append-only)."""
    folder = takedown_dir(project)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{request.id}.json"
    fd, tmp = tempfile.mkstemp(prefix=f".{request.id}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(request.to_json(), fh, indent=2)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.link(tmp, target)  # fails if the target exists: a request is never overwritten
    except FileExistsError:
        raise TakedownError(f"{target}: a request with this id already exists") from None
    finally:
        Path(tmp).unlink(missing_ok=True)
    # versioned with the project at once: a clone (and every run there) applies it too
    from curaline.versioning import commit_compliance_state

    commit_compliance_state(project, f"takedown request {request.id}: {request.selector()}", data=False)
    return target


def parse_request(path: Path) -> TakedownRequest:
    """A request file, checked field by field (it may have been edited or damaged by hand)."""

    def bad(fld: str, msg: str) -> TakedownError:
        return TakedownError(f"{path}: {fld}: {msg}")

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise TakedownError(f"{path}: cannot read: {exc}") from None
    except json.JSONDecodeError as exc:
        raise TakedownError(f"{path}: line {exc.lineno}: not valid JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise bad("(file)", "must be a JSON object")
    for key in ("id", "requested_by", "requested_at", "reason"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise bad(key, "missing or not a non-empty string")
    if not _ID.match(data["id"]) or data["id"] != path.stem:
        raise bad("id", f"{data['id']!r} is not a request id matching the file name")
    try:
        at = dt.datetime.fromisoformat(data["requested_at"].replace("Z", "+00:00"))
    except ValueError:
        raise bad("requested_at", f"{data['requested_at']!r} is not an ISO-8601 time") from None
    if at.tzinfo is None:
        raise bad("requested_at", "needs a time zone (UTC, 'Z')")
    sel = data.get("selector")
    if not isinstance(sel, dict) or sel.get("kind") not in KINDS:
        raise bad("selector.kind", f"must be one of {', '.join(KINDS)}")
    kind, value = sel["kind"], sel.get("value")
    versions = data.get("release_versions", {})
    if not isinstance(versions, dict) or not all(isinstance(v, int) for v in versions.values()):
        raise bad("release_versions", "must map a release name to a version number")
    common: dict[str, Any] = dict(id=data["id"], requested_by=data["requested_by"], requested_at=at.astimezone(dt.UTC),
                                  reason=data["reason"], release_versions={str(k): int(v) for k, v in versions.items()})  # fmt: skip
    if kind == "source":
        if not isinstance(value, str) or not value:
            raise bad("selector.value", "a source takedown needs the source id")
        return TakedownRequest(source=value, **common)
    if kind == "url_pattern":
        if not isinstance(value, str):
            raise bad("selector.value", "a url takedown needs the pattern")
        try:
            check_url_pattern(value)
        except TakedownError as exc:
            raise bad("selector.value", str(exc).removeprefix("--url-pattern: ")) from None
        return TakedownRequest(url_pattern=value, **common)
    from curaline.schemas import DOC_ID_PATTERN

    if not isinstance(value, list) or not value:
        raise bad("selector.value", "a doc-id takedown needs a non-empty list of doc ids")
    malformed = [i for i, v in enumerate(value) if not (isinstance(v, str) and re.match(DOC_ID_PATTERN, v))]
    if malformed:
        raise bad(f"selector.value[{malformed[0]}]", f"malformed doc id {value[malformed[0]]!r}")
    doc_file = sel.get("file")
    return TakedownRequest(doc_ids=tuple(sorted(set(value))), doc_ids_file=str(doc_file) if doc_file else None, **common)


def load_requests(project: Project, *, strict: bool = True) -> tuple[list[TakedownRequest], list[str]]:
    """Every recorded request, oldest first, and the problems of unreadable files.

    Ingest should load strictly: a damaged request file must stop the run rather than let
    the records it names back in silently.
    """
    folder = takedown_dir(project)
    requests: list[TakedownRequest] = []
    problems: list[str] = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            requests.append(parse_request(path))
        except TakedownError as exc:
            problems.append(str(exc))
    if strict and problems:
        raise TakedownError("unreadable takedown request(s), fix or remove them:\n" + "\n".join(problems))
    return sorted(requests, key=lambda r: (r.requested_at, r.id)), problems


# ---- the matcher: applied to every batch at ingest ----------------------------------------


def matcher(requests: Iterable[TakedownRequest]) -> Matcher:
    """A function that marks one source's records named by any request, with one event per (record, request).

    Vectorized: a hash join for doc ids, RE2 (pyarrow) over the nullable ``url`` column
    for patterns (a table without ``url`` matches no pattern; a null url never matches).
    """
    by_source: dict[str, list[str]] = {}
    id_rows: list[tuple[str, str]] = []
    patterns: list[tuple[str, str]] = []
    for r in requests:
        if r.source is not None:
            by_source.setdefault(r.source, []).append(r.id)
        elif r.doc_ids:
            id_rows += [(d, r.id) for d in r.doc_ids]
        elif r.url_pattern is not None:
            patterns.append((r.url_pattern, r.id))
    ids = pa.table({"doc_id": [d for d, _ in id_rows], "request_id": [i for _, i in id_rows]},
                   schema=pa.schema([("doc_id", pa.string()), ("request_id", pa.string())]))  # fmt: skip
    prefix = pc.list_element(pc.split_pattern(ids["doc_id"], ":", max_splits=1), 0) if id_rows else None
    per_source_ids: dict[str, pa.Table] = {}

    def match(table: pa.Table, source_id: str) -> tuple[np.ndarray, pa.Table]:
        n = table.num_rows
        hits: list[tuple[np.ndarray, pa.Array]] = []  # (row indices, request id per row)
        for rid in by_source.get(source_id, []):
            hits.append((np.arange(n), pa.repeat(pa.scalar(rid), n)))
        if prefix is not None and n:
            if source_id not in per_source_ids:
                per_source_ids[source_id] = ids.filter(pc.equal(prefix, source_id))
            wanted = per_source_ids[source_id]
            if wanted.num_rows:
                rows = pa.table({"doc_id": table["doc_id"], "_row": pa.array(np.arange(n))})
                joined = rows.join(wanted, "doc_id", join_type="inner")
                hits.append((joined["_row"].to_numpy(), joined["request_id"].combine_chunks()))
        if patterns and "url" in table.column_names and n:
            url = table["url"]
            for pattern, rid in patterns:
                idx = np.flatnonzero(pc.fill_null(pc.match_substring_regex(url, pattern), False).to_numpy(zero_copy_only=False))
                if idx.size:
                    hits.append((idx, pa.repeat(pa.scalar(rid), idx.size)))
        keep = np.ones(n, dtype=bool)
        if not hits:
            return keep, EVENT_SCHEMA.empty_table()
        rows_hit = np.concatenate([h[0] for h in hits]).astype(np.int64)
        keep[rows_hit] = False
        order = np.argsort(rows_hit, kind="stable")  # events in record order
        details = pa.concat_arrays([h[1].cast(pa.string()) for h in hits]).take(pa.array(order))
        m = len(rows_hit)
        events = pa.table({
            "doc_id": table["doc_id"].take(pa.array(rows_hit[order])).combine_chunks().cast(pa.string()),
            "action": pa.repeat(pa.scalar(ACTION), m), "reason": pa.repeat(pa.scalar(REASON), m),
            "value": pa.nulls(m, pa.float64()), "threshold": pa.nulls(m, pa.float64()), "detail": details,
            "related_doc_id": pa.nulls(m, pa.string()),
        }, schema=EVENT_SCHEMA)  # fmt: skip
        return keep, events

    return match


def project_matcher(project: Project) -> Matcher:
    """The matcher of every request the project ever recorded (strict: a damaged file raises)."""
    requests, _ = load_requests(project, strict=True)
    return matcher(requests)


# ---- status ------------------------------------------------------------------------------


def release_versions(project: Project) -> dict[str, list[int]]:
    """Each release's recorded versions, ascending (lineage/releases/release=<name>/v<N>.parquet)."""
    root = project.lineage_dir / "releases"
    out: dict[str, list[int]] = {}
    for folder in sorted(root.glob("release=*")) if root.is_dir() else []:
        versions = sorted(int(m.group(1)) for p in folder.iterdir() if (m := _RELEASE_FILE.match(p.name)))
        if versions:
            out[folder.name.removeprefix("release=")] = versions
    return out


def _release_file(project: Project, release: str, version: int) -> Path:
    return project.lineage_dir / "releases" / f"release={release}" / f"v{version}.parquet"


def _takedown_files(project: Project) -> list[str]:
    from curaline.ledger import SUMMARY_KEY, ledger_dir

    files = []
    for path in sorted(ledger_dir(project).glob("stage=*/partition=*/*.parquet")):
        summary = (pq.read_schema(path).metadata or {}).get(SUMMARY_KEY.encode())
        if summary is None or ACTION in json.loads(summary).get("reasons", {}):
            files.append(str(path))  # the footer says this run took something down (or cannot say)
    return files


def _ledger_hits(project: Project) -> pa.Table:
    """Distinct (request id, doc id, stage, reason, near copy of, similarity) of every takedown
    row in the whole ledger history, as Arrow; ``detail`` is the request id alone."""
    from curaline.database import connect

    files = _takedown_files(project)
    if not files:
        return pa.table({c: pa.array([], t) for c, t in (("detail", pa.string()), ("doc_id", pa.string()),
                         ("stage", pa.string()), ("reason", pa.string()), ("near_copy_of", pa.string()),
                         ("similarity", pa.float64()))})  # fmt: skip
    with connect(project) as con:
        return con.sql("""
            SELECT split_part(detail, ';', 1) AS detail, doc_id, any_value(stage) AS stage, any_value(reason) AS reason,
                   max(nullif(regexp_extract(detail, 'near_copy_of=([^;]+)', 1), '')) AS near_copy_of,
                   max(value) AS similarity
            FROM read_parquet($files, hive_partitioning = false) WHERE action = $action
            GROUP BY 1, 2 ORDER BY 1, 2""", params={"files": files, "action": ACTION}).to_arrow_table()  # fmt: skip


def near_copy_events(project: Project, present: pa.Array, *, threshold: float | None = None) -> pa.Table:
    """Takedown rows (EVENT_SCHEMA) for the records in `present` that are near copies of a
    record a request took down: a rights holder's request covers the work, not one copy.

    The near-duplicate relations are the dedup stage's, from every run in its ledger
    history (``merge-into`` rows: a record merged into a taken-down one, or a taken-down
    one merged into it), so a copy found while the original was still in the corpus stays
    known after the original is gone. Only records a request named are followed, not the
    copies of copies. One row per copy: the request, the original and the similarity.
    """
    from curaline.database import connect
    from curaline.ledger import ledger_dir

    empty = EVENT_SCHEMA.empty_table()
    folder = ledger_dir(project) / f"stage={DEDUP_STAGE}"
    dedup_files = sorted(str(p) for p in folder.glob("partition=*/*.parquet")) if folder.is_dir() else []
    taken = _ledger_hits(project)
    taken = taken.filter(pc.equal(taken["reason"], REASON))
    if not dedup_files or not taken.num_rows or not len(present):
        return empty
    with connect(project) as con:
        con.register("taken", taken.select(["detail", "doc_id"]))
        con.register("present", pa.table({"doc_id": present}))
        rows = con.sql("""
            WITH merges AS (  -- the kept doc: the related_doc_id column, or `into=` in files from before it
                SELECT doc_id AS a, value AS sim, threshold,
                       coalesce(related_doc_id, nullif(regexp_extract(detail, 'into=([^;]+)', 1), '')) AS b
                FROM read_parquet($files, hive_partitioning = false, union_by_name = true)
                WHERE action = 'merge-into'),
            edges AS (SELECT a, b, sim, threshold FROM merges WHERE b IS NOT NULL),
            pairs AS (  -- (copy, original): either direction of a merge
                SELECT a AS copy, b AS original, sim, threshold FROM edges
                UNION ALL SELECT b, a, sim, threshold FROM edges)
            SELECT p.copy AS doc_id, arg_max(t.detail || ';near_copy_of=' || p.original, p.sim) AS detail,
                   arg_max(p.original, p.sim) AS related_doc_id,
                   max(p.sim) AS value, any_value(p.threshold) AS threshold
            FROM pairs p JOIN taken t ON t.doc_id = p.original
            WHERE p.copy IN (SELECT doc_id FROM present) AND p.copy NOT IN (SELECT doc_id FROM taken)
            GROUP BY p.copy ORDER BY p.copy""", params={"files": dedup_files}).to_arrow_table()  # fmt: skip
    n = rows.num_rows
    if not n:
        return empty
    limit = pa.array([threshold] * n, pa.float64()) if threshold is not None else rows["threshold"].cast(pa.float64())
    return pa.table({"doc_id": rows["doc_id"].cast(pa.string()), "action": pa.repeat(pa.scalar(ACTION), n),
                     "reason": pa.repeat(pa.scalar(NEAR_REASON), n), "value": rows["value"].cast(pa.float64()),
                     "threshold": limit, "detail": rows["detail"].cast(pa.string()),
                     "related_doc_id": rows["related_doc_id"].cast(pa.string())}, schema=EVENT_SCHEMA)  # fmt: skip


def _matches_nothing(project: Project, request: TakedownRequest, sources: set[str]) -> bool:
    """No current source is one the request names, and every one was ingested since it."""
    folder = project.data_dir / RAW_STAGE  # a file per source, or a folder of shards per source
    current = {p.stem if p.suffix == ".parquet" else p.name for p in folder.glob("*")
               if p.suffix == ".parquet" or p.is_dir()} if folder.is_dir() else set()  # fmt: skip
    return bool(current) and not (sources & current) and all(
        _raw_runs_since(project, s, request.requested_at) for s in current
    )


def _raw_runs_since(project: Project, source: str, since: dt.datetime) -> bool:
    from curaline.ledger import ledger_dir
    from curaline.lineage.views import ledger_file_time

    folder = ledger_dir(project) / f"stage={RAW_STAGE}" / f"partition={source}"
    # the time each ledger file records, never its mtime (a copy or a clone resets those)
    return folder.is_dir() and any((t := ledger_file_time(p)) is not None and t >= since for p in folder.glob("*.parquet"))


def sources_with_urls(project: Project) -> list[str]:
    """Sources whose current raw records carry at least one URL: all a URL pattern can ever match."""
    from curaline.store import parquet_files

    out = []
    folder = project.data_dir / RAW_STAGE
    for path in sorted(folder.glob("*")) if folder.is_dir() else []:  # a file per source, or a folder of shards
        if not (path.suffix == ".parquet" or path.is_dir()):
            continue
        for pf in (pq.ParquetFile(f) for f in parquet_files(path)):
            if "url" in pf.schema_arrow.names and any(
                b.column(0).null_count < b.num_rows for b in pf.iter_batches(columns=["url"], batch_size=65_536)
            ):
                out.append(path.stem if path.suffix == ".parquet" else path.name)
                break
    return out


def _url_sources(project: Project, pattern: str) -> list[str]:
    """Sources whose current raw records have a url matching the pattern (reads the url column only)."""
    from curaline.store import parquet_files

    out = []
    folder = project.data_dir / RAW_STAGE
    for path in sorted(folder.glob("*")) if folder.is_dir() else []:  # a file per source, or a folder of shards
        source = path.stem if path.suffix == ".parquet" else path.name
        files = [pq.ParquetFile(f) for f in parquet_files(path)] if path.suffix == ".parquet" or path.is_dir() else []
        if not files or "url" not in files[0].schema_arrow.names:
            continue
        batches = (b for pf in files for b in pf.iter_batches(columns=["url"], batch_size=65_536))
        if any(pc.any(pc.match_substring_regex(batch.column(0), pattern)).as_py() for batch in batches):
            out.append(source)
    return out


def _releases_holding(project: Project, request: TakedownRequest, id_set: pa.Array, versions: dict[str, int],
                      cache: dict[Path, pa.Table]) -> dict[str, bool]:  # fmt: skip
    """For each (release, version) given: does that version hold a record the request names?"""
    out: dict[str, bool] = {}
    for release, version in versions.items():
        path = _release_file(project, release, version)
        if not path.exists():
            out[release] = False
            continue
        if path not in cache:
            cache[path] = pq.read_table(path, columns=["doc_id", "source_id"])
        t = cache[path]
        mask = pc.is_in(t["doc_id"], value_set=id_set)
        if request.source is not None:
            mask = pc.or_(mask, pc.equal(t["source_id"], request.source))
        out[release] = bool(pc.any(mask).as_py())
    return out


def statuses(project: Project, requests: Sequence[TakedownRequest]) -> list[RequestStatus]:
    """The status of each request; reads the ledger once for all of them."""
    hits = _ledger_hits(project)
    all_versions = release_versions(project)
    latest = {name: v[-1] for name, v in all_versions.items()}
    cache: dict[Path, pa.Table] = {}  # release_records files read once for all requests
    out = []
    for r in requests:
        mine = hits.filter(pc.equal(hits["detail"], r.id))
        taken = mine["doc_id"].combine_chunks()
        where: dict[str, dict[str, int]] = {}
        for row in mine.select(["doc_id", "stage"]).to_pylist():
            by_source = where.setdefault(str(row["stage"]), {})
            source = str(row["doc_id"]).split(":", 1)[0]
            by_source[source] = by_source.get(source, 0) + 1
        near = [{"doc_id": h["doc_id"], "near_copy_of": h["near_copy_of"], "similarity": h["similarity"],
                 "stage": h["stage"]} for h in mine.to_pylist() if h["reason"] == NEAR_REASON]  # fmt: skip
        docs = pc.unique(pa.concat_arrays([taken, pa.array(r.doc_ids, pa.string())]))
        sources = set(pc.unique(pc.list_element(pc.split_pattern(taken, ":", max_splits=1), 0)).to_pylist())
        if r.source is not None:
            sources.add(r.source)
        elif r.doc_ids:
            sources |= {d.split(":", 1)[0] for d in r.doc_ids}
        else:
            sources |= set(_url_sources(project, str(r.url_pattern)))
        at_request = {name: v for name, v in r.release_versions.items() if name in all_versions}
        held_then = _releases_holding(project, r, docs, at_request, cache)
        affected_releases = sorted(name for name, held in held_then.items() if held)
        # a release built since the request (still) holding them must be rebuilt too
        held_now = _releases_holding(project, r, docs, {n: latest[n] for n in latest if n not in affected_releases}, cache)
        affected_releases = sorted({*affected_releases, *(n for n, held in held_now.items() if held)})
        latest_holds = _releases_holding(project, r, docs, {n: latest[n] for n in affected_releases}, cache)
        pending = {n: at_request.get(n, 0) for n in affected_releases
                   if latest_holds[n] or latest[n] <= at_request.get(n, 0)}  # fmt: skip
        applied = len(taken) > 0 or (
            r.kind != "url_pattern" and bool(sources)
            and all(_raw_runs_since(project, s, r.requested_at) for s in sources)
        )  # fmt: skip
        status = "pending" if not applied else "complete" if not pending else "applied"
        if status == "pending" and not len(taken) and not affected_releases and _matches_nothing(project, r, sources):
            status = "no-match"
        out.append(RequestStatus(request=r, status=status, records_taken_down=len(taken),
                                 affected=Affected(sorted(sources), affected_releases), releases_pending=pending,
                                 removed_where=dict(sorted(where.items())), near_copies=near))  # fmt: skip
    return out


def request_status(project: Project, request: TakedownRequest) -> str:
    """pending | applied | complete (see the module docstring)."""
    return statuses(project, [request])[0].status


def affected(project: Project, request: TakedownRequest) -> Affected:
    """The sources to re-ingest and the releases to rebuild for this request.

    Sources: the named one; the prefixes of the doc ids; for a URL pattern, those whose
    current raw records match (plus any the ledger already shows). Releases: those whose
    version current at the request, or whose latest version, holds an affected record.
    """
    return statuses(project, [request])[0].affected


def pending_requests(project: Project) -> list[TakedownRequest]:
    """Requests no ingest run has applied yet (unreadable files are skipped: see load_requests)."""
    requests, _ = load_requests(project, strict=False)
    return [s.request for s in statuses(project, requests) if s.status == "pending"]


def takedown_trace(project: Project, doc_id: str) -> list[dict[str, Any]]:
    """Each request that took the record down, and per release the first version without it.

    One entry per request: the request (who, when, why, selector), its status, and
    ``releases``: {release: {"last_with": N, "first_without": M or None}} for every
    release that ever held the record (None: no version without it yet).
    """
    from curaline.database import connect
    from curaline.ledger import ledger_dir

    root = ledger_dir(project)
    ids: list[str] = []
    if any(root.glob("stage=*/partition=*/*.parquet")):
        with connect(project) as con:
            rows = con.sql("SELECT DISTINCT split_part(detail, ';', 1) FROM read_parquet($glob, hive_partitioning = false) "
                           "WHERE doc_id = $doc AND action = $action ORDER BY 1",
                           params={"glob": str(root / "stage=*" / "partition=*" / "*.parquet"), "doc": doc_id,
                                   "action": ACTION}).fetchall()  # fmt: skip
        ids = [r[0] for r in rows]
    requests, _ = load_requests(project, strict=False)
    mine = [r for r in requests if r.id in ids or doc_id in r.doc_ids]
    if not mine:
        return []
    held: dict[str, dict[str, int | None]] = {}
    for release, versions in release_versions(project).items():
        holding = [v for v in versions
                   if pq.read_table(_release_file(project, release, v), columns=["doc_id"],
                                    filters=[("doc_id", "==", doc_id)]).num_rows]  # fmt: skip
        if holding:
            later = [v for v in versions if v > holding[-1]]
            held[release] = {"last_with": holding[-1], "first_without": later[0] if later else None}
    by_id = {s.request.id: s for s in statuses(project, mine)}
    return [{**r.to_json(), "status": by_id[r.id].status, "releases": held} for r in mine]
