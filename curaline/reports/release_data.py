"""One release version as the reports see it: its manifest, its shards, and the lineage behind it.

The EU AI Act summary, the Art. 10 record and the dataset card state only what this
module reads: the version's manifest (`lineage/releases/release=<name>/v<N>.json`, the
append-only history), the shards of the current build when they hold that version,
and the lineage store (OpenLineage events, ledger) as it was when the version was
built. Anything these do not hold is reported as NOT_KNOWN, never filled in.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from curaline.database import connect
from curaline.project import CONFIG_FILE, Project
from curaline.sql import literal, literal_list

NOT_KNOWN = "not known"

#: Where decontamination reads evaluation items (curaline.decontamination.EVAL_STAGE, which
#: imports pyarrow), and where runs before pii_redacted moved up next to normalized read them.
EVAL_ITEM_STAGES = ("pii_redacted", "normalized")
#: Footer key of a ledger file's counts (curaline.ledger.SUMMARY_KEY; no pyarrow import here).
LEDGER_SUMMARY_KEY = "curaline.ledger.summary"
#: Source formats whose pages are checked for a TDM reservation (curaline.sources.WEB_FORMATS), and
#: the ledger reason of a page found reserved (curaline.web.rights.REASON); a test checks both.
_WEB_FORMATS = ("warc", "html")
_RESERVATION_CHECK = "tdm_reserved"
#: Host part of a URL, lower-cased, without user info, port or a leading "www.".
_HOST_SQL = (
    "lower(regexp_replace(regexp_replace(regexp_extract(url, '^[A-Za-z][A-Za-z0-9+.-]*://([^/?#]+)', 1), "
    "'^.*@|:[0-9]+$', '', 'g'), '^www[.]', ''))"
)


class ReportError(ValueError):
    """A report cannot be built as asked: unknown release or version, no releases yet."""


def load_release(project: Project, ref: str) -> ReleaseData:
    """The release version `ref` names (NAME = its latest version, NAME@vN another one).

    A release with a spec but no version yet is checked against the licence gate, so that
    its reports can say it is blocked (and why) instead of "unknown release".
    """
    from curaline.release.build import release_dir
    from curaline.release.versions import ReleaseNotFound, history_dir, parse_ref, resolve, versions

    try:
        name, _ = parse_ref(ref.strip())
        found = versions(project, name)
        if not found:
            blocked = _blocked_build(project, name)
            if blocked is not None:
                return ReleaseData(project=project, name=name, version=None, versions=[], manifest=blocked,
                                   manifest_path=project.releases_dir / f"{name}.yaml")  # fmt: skip
        manifest = resolve(project, ref.strip())
    except ReleaseNotFound as exc:
        raise ReportError(str(exc)) from None
    version = int(manifest["version"])
    manifest = {k: v for k, v in manifest.items() if k != "superseded"}
    path = history_dir(project, name) / f"v{version}.json"
    current = release_dir(project, name) / "manifest.json"
    shards: Path | None = None
    if current.is_file():
        try:
            built = json.loads(current.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            built = {}
        if built.get("version") == version and built.get("files") == manifest.get("files"):
            shards = current.parent
    records = path.with_suffix(".parquet")
    return ReleaseData(project=project, name=name, version=version, versions=[int(m["version"]) for m in found],
                       manifest=manifest, manifest_path=path, records_path=records if records.is_file() else None,
                       shards_dir=shards)  # fmt: skip


def _blocked_build(project: Project, name: str) -> dict[str, Any] | None:
    """The gate's verdict on a spec that has no version: its blocked manifest, or None.

    Raises ReportError when the spec is invalid, the pipeline has not run, or the gate
    passes (then the release simply has not been built yet).
    """
    spec_path = project.releases_dir / f"{name}.yaml"
    if not spec_path.is_file():
        return None
    import shutil
    import tempfile

    from curaline.release.build import ReleaseError, build_release
    from curaline.release.spec import load_spec
    from curaline.sources import ManifestError, load_manifests

    try:
        manifests, _ = load_manifests(project.sources_dir, strict=False)
        spec = load_spec(spec_path, manifests)
        project.data_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{name}.report-", dir=project.data_dir))
        try:
            build = build_release(project, spec, manifests, staging=staging / "shards")
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    except (ManifestError, ReleaseError) as exc:
        raise ReportError(f"release {name!r} has no version: {exc}".splitlines()[0]) from None
    if not build.blocked:
        raise ReportError(f"release {name!r} has no version yet: build it first (`curaline run`)")
    return {**build.manifest, "gate_report": build.gate_report}


_q = literal
_files = literal_list


@dataclass
class ReleaseData:
    """A release version: the manifest, where its shards are, and lineage as of its build."""

    project: Project
    name: str
    version: int | None  #: None for a blocked release that has no version
    versions: list[int]
    manifest: dict[str, Any]
    manifest_path: Path
    records_path: Path | None = None
    #: the folder holding this version's shards (the current build), or None when the build
    #: now holds another version (restore it with `curaline release checkout`)
    shards_dir: Path | None = None
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    # ---- the manifest -----------------------------------------------------------------

    @property
    def ref(self) -> str:
        return f"{self.name}@v{self.version}" if self.version is not None else f"{self.name} (no version)"

    @property
    def blocked(self) -> bool:
        return self.manifest.get("status") == "blocked"

    @property
    def status(self) -> str:
        """The gate's verdict, and "superseded" for every version but the latest."""
        gate = str(self.manifest.get("status") or NOT_KNOWN)
        if self.version is None or self.version == self.versions[-1]:
            return gate
        return f"{gate}, superseded by v{self.versions[-1]}"

    @property
    def created_at(self) -> dt.datetime | None:
        raw = self.manifest.get("created_at")
        if not raw:
            return None
        try:
            stamp = dt.datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
        except ValueError:
            return None
        return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)

    @property
    def spec(self) -> dict[str, Any]:
        return dict(self.manifest.get("spec") or {})

    @property
    def sources(self) -> list[dict[str, Any]]:
        return list(self.manifest.get("sources") or [])

    def declaration(self, source: dict[str, Any]) -> dict[str, Any]:
        return dict(source.get("declaration") or {})

    @property
    def pipeline_stages(self) -> list[str]:
        return list((self.manifest.get("pipeline") or {}).get("stages") or [])

    @property
    def pipeline_removed(self) -> dict[str, dict[str, int]]:
        return {s: dict(r) for s, r in ((self.manifest.get("pipeline") or {}).get("removed") or {}).items()}

    @property
    def licenses(self) -> list[str]:
        """The release's licences: its licence counts, else its sources' licences."""
        counted = [lic for lic, n in (self.manifest.get("licenses") or {}).items() if n]
        return sorted(counted or {str(s["license"]) for s in self.sources if s.get("records") and s.get("license")})

    def latest_collection(self) -> dt.date | None:
        """The latest collection date or crawl period end of the sources with records in the release."""
        dates: list[dt.date] = []
        for s in self.sources:
            if not s.get("records"):
                continue  # a selected source that contributed nothing was not training content
            d = self.declaration(s)
            for raw in (d.get("collected"), (d.get("crawl") or {}).get("period_end")):
                parsed = _date(raw)
                if parsed:
                    dates.append(parsed)
        return max(dates) if dates else None

    # ---- the shards ---------------------------------------------------------------------

    def shard_files(self) -> list[Path]:
        """This version's shard files, in manifest order (empty when not in the working tree)."""
        if self.shards_dir is None:
            return []
        out = []
        for f in self.manifest.get("files") or []:
            p = self.shards_dir / str(f["path"])
            if p.is_file():
                out.append(p)
        return out

    def domains_by_size(self, source_ids: Iterable[str]) -> DomainSizes | None:
        """Web domains of the given sources' rows, by tokens, from the shards' `url` column.

        None when the shards are not in the working tree; a DomainSizes with no domains
        when the shards carry no URL (the column absent or null) for these sources.
        """
        ids = sorted(set(source_ids))
        files = self.shard_files()
        if not files:
            return None
        if not ids:
            return DomainSizes(domains=[], rows_without_url=0)
        con = connect(self.project)
        try:
            scan = f"read_parquet({_files(files)}, union_by_name = true)"
            names = {r[0] for r in con.sql(f"DESCRIBE SELECT * FROM {scan}").fetchall()}
            wanted = f"source_id IN ({', '.join(_q(i) for i in ids)})"
            first_copy = "repeat = 0" if "repeat" in names else "true"  # sizes of the content, not of its copies
            if "url" not in names:
                missing = con.sql(f"SELECT count(*) FROM {scan} WHERE {wanted} AND {first_copy}").fetchall()[0][0]
                return DomainSizes(domains=[], rows_without_url=int(missing))
            rows = con.sql(f"""
                SELECT {_HOST_SQL} AS domain, sum(n_tokens)::BIGINT AS tokens, count(*) AS n
                FROM {scan} WHERE {wanted} AND {first_copy} AND url IS NOT NULL GROUP BY 1
                HAVING domain <> '' ORDER BY tokens DESC, domain""").fetchall()  # fmt: skip
            missing = con.sql(f"SELECT count(*) FROM {scan} WHERE {wanted} AND {first_copy} AND "
                              f"(url IS NULL OR {_HOST_SQL} = '')").fetchall()[0][0]  # fmt: skip
        finally:
            con.close()
        return DomainSizes(domains=[(str(d), int(t), int(n)) for d, t, n in rows], rows_without_url=int(missing))

    # ---- lineage as of the build ------------------------------------------------------------

    def evaluation_sets(self) -> list[str] | str:
        """The evaluation sets the last decontamination run up to the build compared against: the
        `pii_redacted/<source>` (before, `normalized/<source>`) inputs its OpenLineage COMPLETE event
        names (not known without it)."""
        from curaline.lineage.views import open_events

        created = self.created_at
        when = f" AND event_time <= {_q(created.isoformat())}::TIMESTAMPTZ" if created else ""
        con = open_events(self.project)
        try:
            rows = con.sql(f"""
                SELECT [i.name FOR i IN inputs] FROM events
                WHERE job = 'decontaminated' AND event_type = 'COMPLETE'{when}
                ORDER BY event_time DESC LIMIT 1""").fetchall()  # fmt: skip
        except duckdb.Error:
            rows = []
        finally:
            con.close()
        if not rows:
            return NOT_KNOWN
        return sorted({Path(str(n)).stem for n in rows[0][0] or [] if Path(str(n)).parent.name in EVAL_ITEM_STAGES})

    def stage_runs(self, stages: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Per stage: completed runs over this release's sources up to its build, the last
        one's time, and the stage's documentation (the asset description the events carry)."""
        from curaline.lineage.views import open_events

        stages = list(stages)
        if not stages:
            return {}
        sources = [str(s["id"]) for s in self.sources]
        created = self.created_at
        con = open_events(self.project)
        try:
            cond = [f"job IN ({', '.join(_q(s) for s in stages)})", "event_type = 'COMPLETE'",
                    f"(partition IS NULL OR partition IN ({', '.join(_q(s) for s in sources) or 'NULL'}) "
                    "OR partition = '__all__')"]  # fmt: skip
            if created is not None:
                cond.append(f"event_time <= {_q(created.isoformat())}::TIMESTAMPTZ")
            rows = con.sql(f"""
                SELECT job, count(DISTINCT run_id), epoch_us(max(event_time)), arg_max(job_facets, event_time),
                       list(DISTINCT parent_run_id) FILTER (WHERE parent_run_id IS NOT NULL)
                FROM events WHERE {' AND '.join(cond)} GROUP BY job""").fetchall()  # fmt: skip
        finally:
            con.close()
        out: dict[str, dict[str, Any]] = {}
        for job, n, last, facets, parents in rows:
            doc = None
            try:
                doc = ((json.loads(facets) if facets else {}).get("documentation") or {}).get("description")
            except (ValueError, AttributeError):
                doc = None
            out[str(job)] = {"runs": int(n), "last_run": dt.datetime.fromtimestamp(last / 1e6, dt.UTC).isoformat()
                             if last is not None else None, "description": doc,
                             "dagster_runs": sorted(str(p) for p in parents or [])}  # fmt: skip
        return out

    def quarantined(self) -> dict[str, int]:
        """Input quarantined at ingest, by reason, over this release's sources: the last ingest
        run of each source up to the build (its OpenLineage removals facet)."""
        from curaline.lineage.views import open_events

        sources = [str(s["id"]) for s in self.sources]
        if not sources:
            return {}
        created = self.created_at
        when = f" AND event_time <= {_q(created.isoformat())}::TIMESTAMPTZ" if created else ""
        con = open_events(self.project)
        try:
            rows = con.sql(f"""
                SELECT partition, arg_max(output_facets, event_time) FROM events
                WHERE job = 'raw_records' AND event_type = 'COMPLETE'
                  AND partition IN ({', '.join(_q(s) for s in sources)}){when}
                GROUP BY partition""").fetchall()  # fmt: skip
        finally:
            con.close()
        out: dict[str, int] = {}
        for _, facets in rows:
            for output in (json.loads(facets) if facets else {}).values():
                counts = ((output.get("facets") or {}).get("curaline_removals") or {}).get("quarantined") or {}
                for reason, n in counts.items():
                    out[reason] = out.get(reason, 0) + int(n)
        return dict(sorted(out.items()))

    def pipeline_ledger_files(self) -> list[Path]:
        """The ledger files of this release's sources and of the global stages as of its build:
        the latest run of each (stage, partition) up to the build (a sharded stage: a file per
        shard). The release's own files are left out (see `release_ledger_file`)."""
        from curaline.lineage.views import current_ledger_files, ledger_file_time, ledger_sort_key

        if "ledger_files" in self._cache:
            return list(self._cache["ledger_files"])
        root = self.project.lineage_dir / "ledger"
        sources = {str(s["id"]) for s in self.sources}
        created = self.created_at
        chosen: list[Path] = []
        if root.is_dir():
            for folder in sorted(root.glob("stage=*/partition=*")):
                if folder.parent.name == "stage=release":
                    continue  # the release's own exclusions are in the manifest
                part = folder.name.split("=", 1)[1]
                if part not in sources and part != "__all__":
                    continue
                # the latest run up to the build, by the time each file records (never its mtime,
                # which a copy or a clone resets): the same files wherever the project is
                files = sorted((Path(e.path) for e in os.scandir(folder) if e.name.endswith(".parquet") and e.is_file()),
                               key=ledger_sort_key)  # fmt: skip
                if created is not None:  # the build time is to the second: so is the comparison
                    files = [f for f in files if (ledger_file_time(f) or created).replace(microsecond=0) <= created]
                chosen += current_ledger_files(files)  # a sharded stage: a file per shard
        self._cache["ledger_files"] = chosen
        return list(chosen)

    def release_ledger_file(self) -> Path | None:
        """The ledger file the run that built this version wrote (stage release, this release's
        partition): the first one recorded at or after the version's creation (the run writes it
        right after the build; later runs of an unchanged spec write theirs after it)."""
        from curaline.lineage.views import ledger_file_time, ledger_sort_key

        folder = self.project.lineage_dir / "ledger" / "stage=release" / f"partition={self.name}"
        created = self.created_at
        if created is None or not folder.is_dir():
            return None
        files = sorted((Path(e.path) for e in os.scandir(folder) if e.name.endswith(".parquet") and e.is_file()),
                       key=ledger_sort_key)  # fmt: skip
        after = [f for f in files if (t := ledger_file_time(f)) is not None and t.replace(microsecond=0) >= created]
        return after[0] if after else None

    def tdm_reservations(self) -> dict[str, Any] | str:
        """Pages found carrying a TDM rights reservation and what became of them, per source and host,
        from the ledger: the "flag tdm_reserved" rows the ingest of each web source wrote (as of the
        build), the "drop tdm_reserved" rows of the run that built this version (the gate), and every
        other removal of those pages (pipeline stages as of the build, the release's other filters).

        A web source whose ledger predates the flags (its raw_records files do not say they checked)
        is listed under `not_checked`, as is a crawled source in another format (no headers or HTML to
        check); NOT_KNOWN when no source could be counted or the version's release ledger is gone."""
        if "tdm" in self._cache:
            return self._cache["tdm"]  # type: ignore[no-any-return]
        from curaline.lineage.views import FLAG_ACTIONS, REMOVAL_ACTIONS, ledger_sql

        files = self.pipeline_ledger_files()
        release_file = self.release_ledger_file()
        checked: list[str] = []
        not_checked: list[dict[str, str]] = []
        raw: list[Path] = []
        con = connect(self.project)
        try:
            for s in sorted(self.sources, key=lambda s: str(s["id"])):
                sid, d = str(s["id"]), self.declaration(s)
                if d.get("format") not in _WEB_FORMATS:
                    if s.get("obtained") == "web-crawl":
                        not_checked.append({"source": sid, "why": f"format {d.get('format')}: no HTTP headers or HTML "
                                                                  "to look for a reservation in"})  # fmt: skip
                    continue
                mine = [
                    f
                    for f in files
                    if f.parent.name == f"partition={sid}" and f.parent.parent.name == "stage=raw_records"
                ]
                said = con.sql(f"SELECT file_name, decode(value) FROM parquet_kv_metadata({_files(mine)}) "
                               f"WHERE key = {_q(LEDGER_SUMMARY_KEY)}::BLOB").fetchall() if mine else []  # fmt: skip
                if (
                    mine
                    and len(said) == len(mine)
                    and all(_RESERVATION_CHECK in json.loads(v).get("checks", []) for _, v in said)
                ):
                    checked.append(sid)
                    raw += mine
                else:
                    not_checked.append({"source": sid, "why": "its ingest ledger predates reservation flags (rerun it)"
                                        if mine else "no ingest ledger as of the build"})  # fmt: skip
            web = any(self.declaration(s).get("format") in _WEB_FORMATS for s in self.sources)
            if web and (not checked or release_file is None):
                self._cache["tdm"] = NOT_KNOWN
                return NOT_KNOWN
            if not checked:  # no page of the release was fetched as HTML: none could carry a reservation
                out: dict[str, Any] = {"found": 0, "removed": 0, "removed_otherwise": 0, "not_removed": 0,
                                       "by_source": [], "not_checked": not_checked, "release_ledger": None}  # fmt: skip
                self._cache["tdm"] = out
                return out
            removal, flag = ", ".join(_q(a) for a in REMOVAL_ACTIONS), ", ".join(_q(a) for a in FLAG_ACTIONS)
            rows = con.execute(f"""
                WITH flags AS (
                    SELECT DISTINCT doc_id, split_part(doc_id, ':', 1) AS source,
                           coalesce(nullif(regexp_extract(detail, '^host=([^;]*)', 1), ''), 'none') AS host
                    FROM {ledger_sql('$raw')} WHERE action IN ({flag}) AND reason = $reason),
                gate AS (SELECT DISTINCT doc_id FROM {ledger_sql('$release')}
                         WHERE action = 'drop' AND reason = $reason),
                other AS (SELECT DISTINCT doc_id FROM {ledger_sql('$all')}
                          WHERE action IN ({removal}) AND doc_id NOT IN (SELECT doc_id FROM gate))
                SELECT f.source, f.host, count(*),
                       count(*) FILTER (WHERE f.doc_id IN (SELECT doc_id FROM gate)),
                       count(*) FILTER (WHERE f.doc_id IN (SELECT doc_id FROM other))
                FROM flags f WHERE list_contains($checked, f.source) GROUP BY ALL""",
                {"raw": [str(f) for f in raw], "release": [str(release_file)], "reason": _RESERVATION_CHECK,
                 "all": [str(f) for f in [*files, release_file]], "checked": checked}).fetchall()  # fmt: skip
        finally:
            con.close()
        by_source: dict[str, dict[str, Any]] = {sid: {"source": sid, "found": 0, "removed": 0, "removed_otherwise": 0,
                                                      "not_removed": 0, "hosts": []} for sid in checked}  # fmt: skip
        for sid, host, found, gate, other in rows:
            counts = {"found": int(found), "removed": int(gate), "removed_otherwise": int(other),
                      "not_removed": int(found) - int(gate) - int(other)}  # fmt: skip
            entry = by_source[sid]
            entry["hosts"].append({"host": host, **counts})
            for k, v in counts.items():
                entry[k] += v
        for entry in by_source.values():
            entry["hosts"].sort(key=lambda h: (-h["found"], h["host"]))
        keys = ("found", "removed", "removed_otherwise", "not_removed")
        out = {**{k: sum(e[k] for e in by_source.values()) for k in keys}, "by_source": list(by_source.values()),
               "not_checked": not_checked, "release_ledger": release_file.name if release_file else None}  # fmt: skip
        self._cache["tdm"] = out
        return out

    def ledger_counts(self) -> dict[str, dict[str, Any]]:
        """Per stage, over this release's sources and as of its build: records removed and
        changed (distinct), and changes by reason, from the ledger files' footers."""
        if "ledger" in self._cache:
            return dict(self._cache["ledger"])
        sources = {str(s["id"]) for s in self.sources}
        chosen = self.pipeline_ledger_files()
        out: dict[str, dict[str, Any]] = {}
        if chosen:
            con = connect(self.project)
            try:
                rows = con.sql(f"SELECT file_name, decode(value) FROM parquet_kv_metadata({_files(chosen)}) "
                               f"WHERE key = {_q(LEDGER_SUMMARY_KEY)}::BLOB").fetchall()  # fmt: skip
            finally:
                con.close()
            for _, value in rows:
                summary = json.loads(value)
                slot = out.setdefault(summary["stage"], {"removed": 0, "changed": 0, "changed_by_reason": {},
                                                         "removed_by_source": {}})  # fmt: skip
                for source, counts in summary.get("sources", {}).items():
                    if source in sources:
                        slot["removed"] += int(counts.get("removed", 0))
                        slot["changed"] += int(counts.get("changed", 0))
                        by_source = slot["removed_by_source"]
                        by_source[source] = by_source.get(source, 0) + int(counts.get("removed", 0))
                if summary.get("partition") in sources:  # file-wide reasons are this source's
                    for action, reasons in summary.get("reasons", {}).items():
                        if action in ("drop", "merge-into", "takedown", "flag"):  # removals, observations
                            continue
                        for reason, n in reasons.items():
                            slot["changed_by_reason"][reason] = slot["changed_by_reason"].get(reason, 0) + int(n)
        self._cache["ledger"] = out
        return dict(out)

    def stage_settings(self) -> tuple[dict[str, dict[str, Any]], str]:
        """The `stages:` settings of curaline.yaml as committed with this version (its git
        commit), else as in the working tree; and where they were read from."""
        commit = (self.manifest.get("git") or {}).get("commit")
        root = self.project.root
        if commit:
            try:
                top = subprocess.run(["git", "-C", str(root), "rev-parse", "--show-toplevel"], capture_output=True,
                                     text=True, check=True, timeout=10).stdout.strip()  # fmt: skip
                rel = (root / CONFIG_FILE).resolve().relative_to(Path(top).resolve())
                shown = subprocess.run(["git", "-C", str(root), "show", f"{commit}:{rel.as_posix()}"],
                                       capture_output=True, text=True, timeout=10)  # fmt: skip
                if shown.returncode == 0:
                    return _stages_of(shown.stdout), f"{CONFIG_FILE} at commit {str(commit)[:12]}"
                if "does not exist" in shown.stderr or "exists on disk, but not in" in shown.stderr:
                    return {}, f"no {CONFIG_FILE} at commit {str(commit)[:12]} (defaults)"
            except (OSError, subprocess.SubprocessError, ValueError):
                pass
        path = root / CONFIG_FILE
        if path.is_file():
            return _stages_of(path.read_text(encoding="utf-8")), f"{CONFIG_FILE} in the working tree"
        return {}, f"no {CONFIG_FILE} (defaults)"


def _stages_of(text: str) -> dict[str, dict[str, Any]]:
    import yaml

    data = yaml.safe_load(text) or {}
    stages = data.get("stages") if isinstance(data, dict) else None
    return {str(k): dict(v) for k, v in (stages or {}).items() if isinstance(v, dict)}


def collected(s: dict[str, Any]) -> str:
    """When a source was collected: its `collected` date, else its crawl period, else not known."""
    d = s.get("declaration") or {}
    crawl = d.get("crawl") or {}
    if d.get("collected"):
        return str(d["collected"])[:10]
    if crawl.get("period_start") or crawl.get("period_end"):
        return f"{crawl.get('period_start') or NOT_KNOWN} to {crawl.get('period_end') or NOT_KNOWN} (crawl period)"
    return NOT_KNOWN


@dataclass(frozen=True)
class DomainSizes:
    """Web domains of a set of rows, largest first: (domain, tokens, rows)."""

    domains: list[tuple[str, int, int]]
    rows_without_url: int

    def top(self, *, sme: bool | None) -> list[tuple[str, int, int]]:
        """The most relevant domains as the AI Office template asks: the top 10 % by size,
        or for SMEs the top 5 % or 1,000 domains, whichever is lower."""
        return self.domains[: top_domain_count(len(self.domains), sme=bool(sme))]


def top_domain_count(n_domains: int, *, sme: bool) -> int:
    if n_domains <= 0:
        return 0
    if sme:
        return max(1, min(math.ceil(0.05 * n_domains), 1000))
    return max(1, math.ceil(0.10 * n_domains))


def _date(raw: Any) -> dt.date | None:
    if raw is None:
        return None
    if isinstance(raw, dt.datetime):
        return raw.date()
    if isinstance(raw, dt.date):
        return raw
    try:
        return dt.date.fromisoformat(str(raw)[:10])
    except ValueError:
        return None


# ---- Markdown helpers the three reports share --------------------------------------------


def unknown_fields(doc: Any, path: str = "") -> list[str]:
    """Every field of a report document that reads NOT_KNOWN, as a dotted path: the provider's to-do list."""
    if isinstance(doc, dict):
        return [f for k, v in doc.items() for f in unknown_fields(v, f"{path}.{k}" if path else str(k))]
    if isinstance(doc, list):  # an item is named by its id where it has one: sources[forum], not sources[2]
        return [f for i, v in enumerate(doc) for f in unknown_fields(v, f"{path}[{_item_name(v, i)}]")]
    return [path] if isinstance(doc, str) and doc.startswith(NOT_KNOWN) else []


def _item_name(item: Any, index: int) -> str:
    if isinstance(item, dict):
        for key in ("id", "source", "stage", "name", "operation"):
            if isinstance(item.get(key), str) and item[key]:
                return item[key]
    return str(index)


def known(value: Any) -> str:
    """A value for a report: as is, or NOT_KNOWN for None / empty."""
    if value is None or value == "" or value == [] or value == ():
        return NOT_KNOWN
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


def md_escape(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def md_table(headers: Sequence[str], rows: Iterable[Sequence[Any]], align: str | None = None) -> str:
    """A Markdown table; align is one letter per column (l/r), default: numbers right."""
    rows = [list(r) for r in rows]
    if not rows:
        return "_none_"
    if align is None:
        align = "".join("r" if all(isinstance(r[i], (int, float)) and not isinstance(r[i], bool) for r in rows) else "l"
                        for i in range(len(headers)))  # fmt: skip
    rule = "|".join("---:" if a == "r" else "---" for a in align)
    body = "\n".join("| " + " | ".join(md_escape(_fmt(v)) for v in r) + " |" for r in rows)
    return f"| {' | '.join(headers)} |\n|{rule}|\n{body}"


def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:.4g}" if abs(v) < 1 else f"{v:,.2f}"
    return str(v)


def share(part: int | float, whole: int | float) -> float:
    return float(part) / float(whole) if whole else 0.0


def pct(x: float) -> str:
    return f"{100 * x:.1f} %"
