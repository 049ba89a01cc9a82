"""`curaline`: the command line for operators and compliance staff.

This is the one module of the library that may reach the Dagster side, and only
lazily, inside the commands that run the pipeline (run, demo): everything else here
reads the project's files and lineage and never imports Dagster.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

from curaline.clitools import Group, UserError, json_option, project_option, table, table_options
from curaline.project import PROJECT_ENV, Project
from curaline.stages import JOBS, SCOPES

REPO_ROOT = Path(__file__).resolve().parents[1]


class LazyGroup(Group):
    """A group that imports a subcommand's module only when that command runs (or help lists
    it): `curaline lineage trace` must not pay for importing DVC, release or takedown code."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy: dict[str, str] = {}

    def add_lazy(self, name: str, target: str) -> None:
        """Mount `module:attribute` as command `name`, imported on first use."""
        self.lazy[name] = target

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            import importlib

            module, _, attribute = self.lazy[cmd_name].partition(":")
            self.add_command(getattr(importlib.import_module(module), attribute), cmd_name)
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        """A broken curaline.yaml is a user error in every command: one line, exit 2."""
        from curaline.project import ConfigError

        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            raise UserError(str(exc)) from None


@click.group("curaline", cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="curaline")
def main() -> None:
    """curaline: curate licence-aware training data with record-level lineage."""


# ---- sources --------------------------------------------------------------------------


@main.group(cls=Group)
def sources() -> None:
    """Validate and list the project's source manifests."""


@sources.command("check")
@project_option
@json_option
def sources_check(project_dir: Path | None, as_json: bool) -> None:
    """Validate every manifest in sources/ and print all problems at once."""
    from curaline.sources import load_manifests

    project = Project.at(project_dir)
    if not project.sources_dir.is_dir():
        raise UserError(f"no sources/ folder in {project.root}")
    from curaline.source_files import file_findings

    manifests, problems = load_manifests(project.sources_dir, strict=False)
    warnings = []
    for m in manifests:  # valid manifests can still read nothing: say so before a run does
        found, warned = file_findings(m)
        problems += found
        warnings += warned
    failed = {p.file for p in problems}
    valid = [m.id for m in manifests if str(m.path) not in failed]
    if as_json:
        click.echo(json.dumps({
            "valid": valid,
            "problems": [{"file": p.file, "field": p.field, "message": p.message} for p in problems],
            "warnings": [{"file": p.file, "field": p.field, "message": p.message} for p in warnings],
        }, indent=2))  # fmt: skip
    else:
        for p in problems:
            click.echo(str(p))
        for p in warnings:
            click.echo(f"warning: {p}")
        click.echo(f"{len(valid)} valid manifest(s), {len(failed)} invalid, {len(problems)} problem(s)"
                   + (f", {len(warnings)} warning(s)" if warnings else ""))  # fmt: skip
    if problems:
        sys.exit(2)


@sources.command("list")
@project_option
@table_options
def sources_list(project_dir: Path | None, as_json: bool) -> None:
    """List the valid sources with licence, kind and how they were obtained."""
    from curaline.sources import load_manifests

    manifests, _ = load_manifests(Project.at(project_dir).sources_dir, strict=False)
    rows = [[m.id, m.kind, m.format, m.license, m.obtained, ",".join(m.languages)] for m in manifests]
    if as_json:
        click.echo(json.dumps([m.declaration() for m in manifests], indent=2))
    else:
        click.echo(table(["source", "kind", "format", "license", "obtained", "languages"], rows))


# ---- running the pipeline (the only place that reaches Dagster) -------------------------


def _prepare_dagster_home(project: Project) -> Path:
    home = Path(os.environ.get("DAGSTER_HOME") or project.dagster_home).resolve()
    home.mkdir(parents=True, exist_ok=True)
    cfg = home / "dagster.yaml"
    if not cfg.exists():
        # nux off: the UI's "join the community" dialog would cover the operator's first view
        cfg.write_text("telemetry:\n  enabled: false\nnux:\n  enabled: false\n", encoding="utf-8")
    os.environ["DAGSTER_HOME"] = str(home)
    return home


#: keys of a dagster.yaml that chose its own storage: curaline then opens the instance as it is
STORAGE_KEYS = {"storage", "run_storage", "event_log_storage", "schedule_storage", "instance_class"}


def open_instance(home: Path) -> Any:
    """The Dagster instance of a home, its event log written through one kept connection per
    database file (resources/event_log.py) unless its dagster.yaml names a storage of its own.

    Dagster's SQLite event log builds an engine and opens the file for each event it stores
    (about 1.3 of the 10 CPU-s of a 1,000-document run). The files and their folder are
    Dagster's own, so the UI and any other process read them with the stock class; the
    override lives in this process only (dagster.yaml is not changed), with the folder
    resolved from this home, never from whatever $DAGSTER_HOME a caller has.
    """
    import yaml
    from dagster import DagsterInstance
    from dagster._core.instance.ref import InstanceRef

    cfg = home / "dagster.yaml"
    try:
        config = yaml.safe_load(cfg.read_text(encoding="utf-8")) if cfg.exists() else None
    except yaml.YAMLError as exc:  # before Dagster reads it: a message, not a traceback
        raise UserError(f"{cfg} is not valid YAML: {' '.join(str(exc).split())}") from None
    own = isinstance(config, dict) and bool(STORAGE_KEYS & config.keys())
    overrides = None if own else {"event_log_storage": {
        "module": "resources.event_log", "class": "CachedEngineSqliteEventLogStorage",
        "config": {"base_dir": str(home / "history" / "runs")}}}  # fmt: skip
    return DagsterInstance.from_ref(InstanceRef.from_dir(str(home), overrides=overrides))


def _load_definitions(project: Project) -> Any:
    os.environ[PROJECT_ENV] = str(project.root)
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    import definitions

    return definitions


#: tags of the runs `curaline run` executes: a later run marks them failed when their process is gone
PID_TAG, HOST_TAG = "curaline/pid", "curaline/host"


def fail_killed_runs(instance: Any, echo: Callable[[str], None]) -> int:
    """Mark failed the runs a killed `curaline run` left STARTED (their process is gone); returns how many."""
    import socket

    from dagster import DagsterRunStatus, RunsFilter

    host = socket.gethostname()
    count = 0
    for run in instance.get_runs(filters=RunsFilter(statuses=[DagsterRunStatus.STARTED, DagsterRunStatus.STARTING])):
        pid = run.tags.get(PID_TAG)
        if pid is None or run.tags.get(HOST_TAG) != host or _alive(int(pid)):
            continue
        instance.report_run_failed(run, message=f"the curaline run process (pid {pid}) ended without finishing "
                                                "this run (killed); marked failed by the next `curaline run`")  # fmt: skip
        echo(f"  run {run.run_id[:8]} ({run.job_name}) was left STARTED by a killed run: marked failed")
        count += 1
    return count


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def run_pipeline(project: Project, *, echo: Callable[[str], None] = click.echo, workers: int | None = None,
                 wait: bool = False, engine: str | None = None, address: str | None = None) -> bool:  # fmt: skip
    """Materialize every asset for the project's sources; True when every run succeeded.

    One run at a time per project (the project lock: refused, or with wait, waited for).
    workers overrides `engine.workers` of curaline.yaml; engine and address its `engine.kind`
    and `engine.address` (`--engine ray --address ADDR`).
    """
    from curaline.engine.base import ADDRESS_ENV, ENGINE_ENV
    from curaline.runlock import ProjectLocked, project_lock

    try:
        engine_config = project.config.engine.with_workers(workers).with_engine(engine, address)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    # the Dagster steps run in this process and build their engine from curaline.yaml and these
    saved = {k: os.environ.get(k) for k in ("CURALINE_WORKERS", ENGINE_ENV, ADDRESS_ENV)}
    if workers is not None:
        os.environ["CURALINE_WORKERS"] = str(workers)
    os.environ[ENGINE_ENV] = engine_config.kind
    if engine_config.kind == "ray":
        os.environ[ADDRESS_ENV] = engine_config.resolved_address
    else:
        os.environ.pop(ADDRESS_ENV, None)
    try:
        with project_lock(project.root, wait=wait, on_wait=echo):
            return _run_pipeline(project, echo=echo, engine_config=engine_config)
    except ProjectLocked as exc:
        raise UserError(str(exc)) from None
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _run_pipeline(project: Project, *, echo: Callable[[str], None], engine_config: Any) -> bool:
    from curaline.sources import load_manifests

    manifests, problems = load_manifests(project.sources_dir, strict=False)
    if not manifests:
        lines = "".join(f"\n{p}" for p in problems)
        raise UserError(f"no valid source manifests in {project.sources_dir}{lines}")
    from curaline.release.spec import load_specs
    from curaline.sources import ManifestError

    try:
        # with invalid manifests, a spec naming one of them is skipped below, not refused here
        specs = load_specs(project.releases_dir, None if problems else manifests)
    except ManifestError as exc:
        raise UserError(f"invalid release specs:\n{exc}") from None
    broken = sorted({Path(p.file).stem for p in problems})
    if problems:  # one bad manifest must not stop the good sources: report it, run the rest, fail at the end
        echo(f"  {len(broken)} invalid source manifest(s), not run (fix them; `curaline sources check` lists all):")
        for p in problems:
            echo(f"    {p}")
        held = [s.name for s in specs if s.sources is None or set(s.sources) & set(broken)]
        if held:
            echo(f"  release(s) held back until they are fixed (they would lose those sources): {', '.join(held)}")
        specs = [s for s in specs if s.name not in held]

    from curaline.versioning import unpulled_lineage

    missing = unpulled_lineage(project)
    if missing:  # a clone before `dvc pull`: its run would version new lineage over the pulled history
        raise UserError(f"the project's lineage is not pulled ({', '.join(missing)}): run `dvc pull` "
                        f"in {project.root} first")  # fmt: skip
    import uuid

    # the shards need no Dagster, git or DVC: they run while this process sets those up and runs the catalog
    run_ids = {m.id: str(uuid.uuid4()) for m in manifests}  # the ids the per-source runs will have
    with _cluster_connection(engine_config):
        phase = ShardPhase(project, manifests, run_ids, engine_config, echo)
        phase.start()
        try:
            return _run_jobs(project, manifests, specs, run_ids, phase, echo=echo) and not problems
        finally:
            phase.stop()  # a setup that failed does not wait for every shard, only for those in flight


@contextlib.contextmanager
def _cluster_connection(engine_config: Any) -> Iterator[None]:
    """On Ray, one connection for the whole run, made here (the main thread): the shards' thread
    and every step reuse it. Each engine that connected itself would disconnect the others
    when it ended, and every step would pay for its own `ray.init`."""
    if engine_config.kind != "ray":
        yield
        return
    from curaline.engine.ray import RayEngine, RayUnavailable

    engine = RayEngine(engine_config.resolved_address)
    try:
        engine.connect()
    except RayUnavailable as exc:
        raise UserError(str(exc)) from None
    with engine:
        yield


def _run_jobs(project: Project, manifests: list[Any], specs: list[Any], run_ids: dict[str, str], phase: ShardPhase, *,
              echo: Callable[[str], None]) -> bool:  # fmt: skip
    """The Dagster runs of every scope, in the registry's order; with the shards already running,
    each source's run follows its shards (`_as_they_finish`)."""
    home = _prepare_dagster_home(project)
    definitions = _load_definitions(project)
    defs = definitions.build_definitions(project)
    from curaline.dvc_cli import sync_project
    from curaline.versioning import ensure_repo

    ensure_repo(project)  # the project is a git + DVC repository; dvc.yaml follows the graph
    sync_project(project)
    quiet = {"loggers": {"console": {"config": {"log_level": os.environ.get("CURALINE_LOG_LEVEL", "WARNING")}}}}
    import socket

    tags = {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}
    ok = True
    from curaline.versioning import VersioningError, commit_compliance_state, deferred_pushes

    with deferred_pushes(project), open_instance(home) as instance:
        fail_killed_runs(instance, echo)
        for scope in SCOPES:  # the registry's order: catalog, per source, global, per release
            job = defs.resolve_job_def(JOBS[scope])
            if scope == "catalog":
                ok &= job.execute_in_process(instance=instance, run_config=quiet, raise_on_error=False, tags=tags).success
            elif scope == "source":
                partitions = definitions.source_partitions.name
                known = set(instance.get_dynamic_partitions(partitions))
                new = [m.id for m in manifests if m.id not in known]
                if new:
                    instance.add_dynamic_partitions(partitions, new)
                # a source's run as soon as its shards are done, while the others' still run; then the rest
                for m in _as_they_finish(phase, manifests):
                    res = job.execute_in_process(instance=instance, run_config=quiet, partition_key=m.id, raise_on_error=False,
                                                 run_id=run_ids[m.id], tags=tags,
                                                 asset_selection=per_source_assets(job, m.kind))  # fmt: skip
                    echo(f"  {m.id:<24} {'ok' if res.success else 'FAILED'}  (run {res.run_id[:8]})")
                    ok &= res.success
            elif scope == "global":
                res = job.execute_in_process(instance=instance, run_config=quiet, raise_on_error=False, tags=tags)
                echo(f"  {'global stages':<24} {'ok' if res.success else 'FAILED'}  (run {res.run_id[:8]})")
                ok &= res.success
            else:
                ok &= _run_releases(specs, job, definitions, instance, quiet, echo, tags)
        try:
            commit_compliance_state(project, "lineage of a curaline run")  # takedowns, ledger, events travel
        except VersioningError as exc:  # the run's outputs stand, but a clone would not have its lineage: say so
            echo(f"  compliance state NOT versioned: {exc}")
            ok = False
    return ok


def per_source_assets(job: Any, kind: str) -> list[Any] | None:
    """The assets of one source's run: all of the job's for an annotation source, the job's
    without the annotation group for any other (their steps would add nothing). None: all."""
    if kind == "annotation":
        return None
    keys = job.asset_layer.selected_asset_keys
    graph = job.asset_layer.asset_graph
    others = [k for k in keys if graph.get(k).group_name != "annotation"]
    return others if len(others) < len(keys) else None


class ShardPhase:
    """Every source's shards in one pool, on a thread of its own; the per-source runs (which
    then only report) follow each source as its shards are done.

    `curaline run` starts it before importing Dagster, opening the instance, setting up git
    and DVC and running the catalog (about 3 s of one core, and the pool's own start,
    otherwise spent before the first shard), and runs a source's Dagster run while other
    sources' shards still run (about 1 s of one core per source, otherwise spent after the
    last shard). A failure here is not the command's: the failing source's own run fails
    with the error in its step, where the UI shows it.
    """

    def __init__(self, project: Project, manifests: list[Any], run_ids: dict[str, str], engine_config: Any,
                 echo: Callable[[str], None]):  # fmt: skip
        import queue
        import threading

        self._args = (project, manifests, run_ids, engine_config, echo)
        self._stopping = threading.Event()
        self._finished: queue.Queue[str | None] = queue.Queue()  # source ids as they finish; None: no more
        self._error: BaseException | None = None
        # a daemon: Ctrl-C in the main thread ends the process (workers follow, see curaline.engine.local)
        self._thread = threading.Thread(target=self._run, name="curaline-shards", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        from curaline.engine import TaskError, make_engine
        from curaline.progress import Progress
        from curaline.shards.chain import WORKER_MODULES
        from curaline.shards.phase import run_sources

        project, manifests, run_ids, engine_config, echo = self._args
        stopping = self._stopping

        class StoppableProgress(Progress):
            def update(self, n: int = 1, *, skipped: bool = False) -> None:
                super().update(n, skipped=skipped)
                if stopping.is_set():
                    raise _PhaseStopped

        try:
            # one worker too is a process: this one's thread is busy with Dagster meanwhile (sharing the GIL
            # with it, the shards of a 100k-document run ended 0.8 s later than without the overlap)
            with make_engine(engine_config, preload=WORKER_MODULES, in_process=False) as engine:
                run_sources(project, manifests, run_ids, engine, progress=StoppableProgress("per-source shards", 0),
                            on_source_done=self._finished.put)  # fmt: skip
        except _PhaseStopped:
            pass
        except (TaskError, ValueError) as exc:
            echo(f"  shards: {exc} (the source's run reports it)")
        except BaseException as exc:  # raised in the main thread by result()
            self._error = exc
        finally:
            self._finished.put(None)

    def finished_sources(self) -> Iterator[str]:
        """The ids of the sources whose shards are all committed, as they finish; the sources the
        phase did not finish (a failed shard, a Label Studio source) are the caller's to run."""
        while (source := self._finished.get()) is not None:
            yield source

    def result(self) -> None:
        """Wait for every shard; an unexpected error of the phase is raised here."""
        self._thread.join()
        if self._error is not None:
            raise self._error

    def stop(self) -> None:
        """Hand out no more shards, and wait for those in flight (committed or not, a rerun resumes)."""
        self._stopping.set()
        self._thread.join()


def _as_they_finish(phase: ShardPhase, manifests: list[Any]) -> Iterator[Any]:
    """The manifests in the order their shards finish, then those the phase did not finish (in
    manifest order, once the phase is over: its unexpected error is raised first)."""
    by_id = {m.id: m for m in manifests}
    for source in phase.finished_sources():
        yield by_id.pop(source)
    phase.result()
    yield from by_id.values()


class _PhaseStopped(Exception):
    """The run ended before its shards did (its setup failed)."""


def _run_releases(specs: list[Any], job: Any, definitions: Any, instance: Any, run_config: dict[str, Any],
                  echo: Callable[[str], None], tags: dict[str, str] | None = None) -> bool:  # fmt: skip
    """One release_job run per spec; a blocked release fails the command, not the others."""
    if not specs:
        return True
    partitions = definitions.release_partitions.name
    known = set(instance.get_dynamic_partitions(partitions))
    new = [s.name for s in specs if s.name not in known]
    if new:
        instance.add_dynamic_partitions(partitions, new)
    ok = True
    for spec in specs:
        res = job.execute_in_process(instance=instance, run_config=run_config, partition_key=spec.name,
                                     raise_on_error=False, tags=tags)  # fmt: skip
        evaluations = [e.asset_check_evaluation_data for e in res.all_events
                       if e.event_type_value == "ASSET_CHECK_EVALUATION" and not e.asset_check_evaluation_data.passed]  # fmt: skip
        # WARN checks (drift, facts not known) inform; only an ERROR check (the licence gate) blocks
        failed = [c for c in evaluations if c.severity.value == "ERROR"]
        warned = [c for c in evaluations if c.severity.value != "ERROR"]
        status = release_outcome(res) if res.success and not failed else "BLOCKED" if failed else "FAILED"
        note = f", {len(warned)} warning(s)" if warned else ""
        echo(f"  release {spec.name:<16} {status}  (run {res.run_id[:8]}{note})")
        for check in failed:
            report = check.metadata.get("report")
            text = getattr(report, "value", None) or check.check_name
            echo("    " + str(text).strip("`\n").replace("\n", "\n    "))
        for check in warned:
            echo(f"    warning {check.asset_key.to_user_string()}.{check.check_name}: {check.description or 'failed'}")
        ok &= res.success and not failed
    return ok


def release_outcome(result: Any) -> str:
    """What a successful release run made: "new version vN" or "unchanged (vN)"."""
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        if materialization.asset_key.to_user_string() != "release":
            continue
        meta = materialization.metadata
        version = getattr(meta.get("version"), "value", None)
        if version is None:
            break
        return f"new version v{version}" if getattr(meta.get("new_version"), "value", False) else f"unchanged (v{version})"
    return "ok"


def ingest_summary(project: Project) -> list[dict[str, Any]]:
    """Per source: records read, quarantined by reason, dropped per stage, kept at the end."""
    from curaline.database import connect
    from curaline.sources import load_manifests
    from curaline.stages import GLOBAL_STAGES, PER_SOURCE_STAGES

    manifests, _ = load_manifests(project.sources_dir, strict=False)
    con = connect(project)
    out = []
    for m in manifests:
        quarantine = project.stage_path("quarantined_records", m.id)
        rows: dict[str, int] = {}
        for stage in (*PER_SOURCE_STAGES, *GLOBAL_STAGES):
            path = project.stage_path(stage, m.id)
            if path.exists():
                rows[stage] = con.execute("SELECT count(*) FROM read_parquet(?)", [str(path)]).fetchall()[0][0]
        if not rows:
            continue
        reasons = dict(
            con.execute("SELECT reason, count(*) FROM read_parquet(?) GROUP BY 1 ORDER BY 2 DESC", [str(quarantine)]).fetchall()
        ) if quarantine.exists() else {}  # fmt: skip
        counts = list(rows.values())
        dropped = {stage: counts[i - 1] - counts[i] for i, stage in enumerate(rows) if i > 0}
        out.append({"source": m.id, "kind": m.kind, "license": m.license, "stages": list(rows),
                    "read": counts[0] + sum(reasons.values()), "quarantined": sum(reasons.values()),
                    "by_reason": reasons, "dropped_by_stage": dropped, "kept": counts[-1]})  # fmt: skip
    con.close()
    return out


def _print_summary(project: Project) -> None:
    """Per source: read, quarantined, dropped, kept and the kept-fraction check; the removals by
    reason and stage in the table when it is printed whole, else as lines under it."""
    from curaline.clitools import note, terminal_width
    from curaline.kept import config, verdict

    rows = ingest_summary(project)
    cfg = config(project)
    verdicts = [verdict(r["source"], r["read"], r["kept"], cfg, measured_at=next(reversed(r["stages"]), "ingest"))
                for r in rows]  # fmt: skip
    wide = terminal_width() is None
    reasons = [", ".join(f"{k}={v}" for k, v in r["by_reason"].items()) for r in rows]
    stages = [", ".join(f"{k}={v}" for k, v in r["dropped_by_stage"].items() if v) for r in rows]
    lines = [[r["source"], *([r["kind"]] if wide else []), r["license"], r["read"], r["quarantined"],
              sum(r["dropped_by_stage"].values()), r["kept"],
              "" if v.fraction is None else f"{v.fraction:.0%}", {"ok": "", "warn": "warn", "error": "ERROR"}[v.level],
              *([q, d] if wide else [])]
             for r, v, q, d in zip(rows, verdicts, reasons, stages, strict=True)]  # fmt: skip
    totals = [sum(r[k] for r in rows) for k in ("read", "quarantined")]
    dropped = sum(sum(r["dropped_by_stage"].values()) for r in rows)
    lines.append(["TOTAL", *([""] if wide else []), "", *totals, dropped, sum(r["kept"] for r in rows), "", "",
                  *(["", ""] if wide else [])])  # fmt: skip
    headers = ["source", *(["kind"] if wide else []), "license", "read", "quarantined", "dropped", "kept", "kept %",
               "check", *(["quarantined by reason", "dropped by stage"] if wide else [])]  # fmt: skip
    click.echo(table(headers, lines, status=("check",), fixed=("source", "read", "kept", "kept %", "check")))
    if not wide:
        for r, q, d in zip(rows, reasons, stages, strict=True):
            if q or d:
                note(f"  {r['source']}: " + "; ".join(x for x in (q and f"quarantined {q}", d and f"dropped {d}") if x))
    for v in verdicts:
        if v.level != "ok":
            note(f"{'warning' if v.level == 'warn' else 'ERROR'} {v.message()}")


def _example_doc(project: Project) -> str | None:
    """A record worth tracing: one that a global stage removed, else any ingested record."""
    import duckdb

    from curaline.database import connect

    ledger = project.lineage_dir / "ledger"
    try:
        with connect(project) as con:
            row = con.execute(
                "SELECT doc_id FROM read_parquet(?, hive_partitioning = false) "
                "WHERE stage IN ('deduplicated', 'decontaminated') ORDER BY stage, doc_id LIMIT 1",
                [str(ledger / "**" / "*.parquet")],
            ).fetchone()
    except duckdb.Error:
        return None
    return row[0] if row else None


def _next_steps(project: Project) -> None:
    bindir = Path(sys.executable).parent
    home = os.environ.get("DAGSTER_HOME", str(project.dagster_home))
    click.echo("\nNext steps:")
    click.echo("  Open the Dagster UI on this project (asset graph, stage reports, run history):")
    click.echo(f"    cd {REPO_ROOT} && CURALINE_PROJECT={project.root} DAGSTER_HOME={home} {bindir / 'dagster'} dev -w workspace.yaml")
    releases = sorted(p.name for p in (project.data_dir / "releases").glob("*") if (p / "manifest.json").exists())
    if releases:
        click.echo(f"  The releases (parquet shards + manifest.json): {', '.join(releases)}")
        click.echo(f"    {project.data_dir / 'releases'}/")
        click.echo(f"    {bindir / 'curaline'} release list --project {project.root}")
        click.echo(f"    {bindir / 'curaline'} release show {releases[0]} --project {project.root}")
        click.echo(f"  Their compliance documents (also in {project.data_dir / 'reports'}/ and the UI's compliance group):")
        click.echo(f"    {bindir / 'curaline'} report eu-ai-act {releases[0]} --project {project.root}")
        click.echo(f"    {bindir / 'curaline'} report card {releases[0]} --project {project.root}")
    else:
        click.echo("  The curated records, one parquet file per source:")
        click.echo(f"    {project.data_dir}/decontaminated/")
    click.echo("  Ask the lineage: every source with licence class and removals; where one record went:")
    click.echo(f"    {bindir / 'curaline'} lineage sources --project {project.root}")
    doc = _example_doc(project)
    if doc:
        click.echo(f"    {bindir / 'curaline'} lineage trace {doc} --project {project.root}")
    click.echo(f"    {bindir / 'curaline'} lineage sql --project {project.root} "
               "\"SELECT stage, reason, count(*) AS n FROM ledger GROUP BY ALL ORDER BY n DESC\"")  # fmt: skip


@main.command("run")
@click.option("--accept-changed-sources", is_flag=True,
              help="read sources outside the project whose bytes differ from lineage/sources.lock")
@project_option
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="worker processes for the shards (default: engine.workers of curaline.yaml, else every core)")
@click.option("--wait", is_flag=True, help="if another run holds the project, wait for it instead of refusing")
@click.option("--engine", type=click.Choice(["local", "ray"]), default=None,
              help="where shards run (default: engine.kind of curaline.yaml, else local)")
@click.option("--address", default=None, metavar="ADDR",
              help="the Ray cluster for --engine ray: auto, host:port or ray://host:port (default: engine.address, else auto)")
def run_cmd(accept_changed_sources: bool, project_dir: Path | None, workers: int | None, wait: bool,
            engine: str | None, address: str | None) -> None:
    """Materialize every asset for the project's sources (the job the UI runs)."""
    project = Project.at(project_dir)
    click.echo(f"curaline run: project {project.root}")
    from curaline.versioning import SOURCES_LOCK, changed_outside_sources

    changed = changed_outside_sources(project)
    if changed and not accept_changed_sources:  # a rebuild reads the bytes the lock names, or says why not
        lines = "\n".join(f"  {sid}: md5 {old} in {SOURCES_LOCK}, now {new}" for sid, (old, new) in sorted(changed.items()))
        raise UserError(f"source files outside the project changed since they were pinned:\n{lines}\n"
                        "rerun with --accept-changed-sources to read them (the lock is then updated)")  # fmt: skip
    ok = run_pipeline(project, workers=workers, wait=wait, engine=engine, address=address)
    _print_summary(project)
    if not ok:
        click.echo("some runs failed: open the Dagster UI or the run logs for the failing step", err=True)
        sys.exit(1)


@main.command("demo")
@click.option("--dir", "demo_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("curaline-demo"),
              show_default=True, help="where to create the demo project")  # fmt: skip
@click.option("--seed", type=int, default=7, show_default=True, help="seed of the generated corpus")
@click.option("--scale", type=float, default=1.0, show_default=True, help="corpus size multiplier")
def demo_cmd(demo_dir: Path, seed: int, scale: float) -> None:
    """Generate the demo project, run the whole pipeline on it, and say where to look."""
    from curaline.demo import generate_demo_project

    root = demo_dir.expanduser().resolve()
    summary = generate_demo_project(root, seed=seed, scale=scale)
    click.echo(f"curaline demo: generated {sum(summary.records_written.values())} records in "
               f"{len(summary.sources)} sources under {root}")  # fmt: skip
    project = Project.at(root)
    ok = run_pipeline(project)
    click.echo("")
    _print_summary(project)
    _next_steps(project)
    if not ok:
        sys.exit(1)


# ---- lineage queries (read-only): curaline.lineage.cli ------------------------------------

@main.command("materialize")
@click.argument("asset")
@click.option("--partition", default=None, help="the partition key: a source id or a release name")
@project_option
def materialize_cmd(asset: str, partition: str | None, project_dir: Path | None) -> None:
    """Materialize one asset (one partition) in process: the command of each dvc.yaml stage.

    Upstream outputs must exist (dvc repro runs the stages upstream first); the run is
    recorded in the project's DAGSTER_HOME like `curaline run`'s.
    """
    project = Project.at(project_dir)
    if not materialize_asset(project, asset, partition):
        from curaline.versioning import stage_name

        raise click.ClickException(f"materializing {stage_name(asset, partition)} failed (see the log above)")


def materialize_asset(project: Project, asset: str, partition: str | None = None) -> bool:
    """Run one asset's step (both keys of a multi-asset) for one partition; True on success."""
    from curaline.versioning import unpulled_lineage

    missing = unpulled_lineage(project)
    if missing:  # a clone before `dvc pull`: its run would version new lineage over the pulled history
        raise UserError(f"the project's lineage is not pulled ({', '.join(missing)}): run `dvc pull` "
                        f"in {project.root} first")  # fmt: skip
    home = _prepare_dagster_home(project)
    definitions = _load_definitions(project)
    import dagster as dg

    defs = definitions.build_definitions(project)
    steps = [a for a in defs.assets if getattr(a, "is_executable", False) and hasattr(a, "node_def")]
    chosen = [a for a in steps if a.node_def.name == asset or asset in {k.to_user_string() for k in a.keys}]
    if not chosen:
        known = ", ".join(sorted(a.node_def.name for a in steps))
        raise UserError(f"no asset {asset!r} in the definitions; known: {known}")
    target = chosen[0]
    partitions = target.partitions_def
    if partitions is None and partition:
        raise UserError(f"asset {asset} is not partitioned: drop --partition")
    if partitions is not None and not partition:
        raise UserError(f"asset {asset} is partitioned ({getattr(partitions, 'name', partitions)}): give --partition")
    level = os.environ.get("CURALINE_LOG_LEVEL", "WARNING")
    quiet = {"loggers": {"console": {"config": {"log_level": level}}}}
    with open_instance(home) as instance:
        if isinstance(partitions, dg.DynamicPartitionsDefinition) and partition:
            assert partitions.name is not None
            if not instance.has_dynamic_partition(partitions.name, partition):
                instance.add_dynamic_partitions(partitions.name, [partition])
        result = dg.materialize([target], instance=instance, partition_key=partition, resources=defs.resources,
                                run_config=quiet, raise_on_error=False)  # fmt: skip
    return bool(result.success)


from curaline.lineage.cli import lineage  # noqa: E402  (the group is defined with its queries)

main.add_command(lineage)

main.add_lazy("init", "curaline.init_cli:init")
main.add_lazy("annotate", "curaline.annotate_cli:annotate")
main.add_lazy("release", "curaline.release.cli:release")
main.add_lazy("report", "curaline.reports.cli:report")

main.add_lazy("takedown", "curaline.takedown_cli:takedown")
main.add_lazy("takedown-status", "curaline.takedown_cli:takedown_status")

main.add_lazy("dvc", "curaline.dvc_cli:dvc")  # dvc.yaml sync
main.add_lazy("quality", "curaline.quality_train:quality")  # train the quality classifier


def console() -> None:
    """The `curaline` command: `main`, then an exit without the interpreter's teardown.

    Freeing the objects and modules of Dagster, DVC and numba one by one took 1.5 s after
    every `curaline run` had printed its summary (half a 1,000-document run's fixed cost was
    imports and their teardown). What teardown does that matters is done first, in its
    order: non-daemon threads joined (threading's own shutdown hook, which also stops thread
    pools), atexit handlers run (logging's flush, multiprocessing's pools and forkserver),
    the standard streams flushed. An unexpected exception ends the process as usual.
    """
    import atexit
    import threading

    try:
        main()
        code: object = 0
    except SystemExit as exc:
        code = exc.code
    if code is None:
        code = 0
    elif not isinstance(code, int):  # sys.exit("message"): the message on stderr, status 1
        print(code, file=sys.stderr)
        code = 1
    threading._shutdown()  # type: ignore[attr-defined]  # what Py_FinalizeEx calls first
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`curaline … | head`): nothing more to say
            pass
    os._exit(code)


if __name__ == "__main__":
    console()
