"""`curaline lineage ...`: what compliance staff ask, answered from lineage alone.

Every command reads (only `flush` delivers queued events), takes ``--project DIR`` and
``--json``, and turns a user mistake (unknown doc id or source, no runs yet, bad SQL)
into one line on stderr and exit code 2. Imports are lazy so that a `trace` costs
little more than starting Python and DuckDB.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from curaline.clitools import Group, UserError, note, project_option, table_options, terminal_width
from curaline.clitools import table as text_table


def _dump(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


def _project(project_dir: Path | None) -> Any:
    from curaline.project import Project

    try:
        return Project.at(project_dir)
    except ValueError as exc:  # a bad curaline.yaml
        raise UserError(str(exc).splitlines()[0]) from None


def _license_classes(project: Any) -> dict[str, str]:
    # the project config maps custom LicenseRef ids to a class (`license_classes:` in curaline.yaml)
    return dict(getattr(project.config, "license_classes", None) or {})


def _counts(d: dict[str, int]) -> str:
    return ", ".join(f"{k}={v}" for k, v in d.items())


def _short(path: str | None, root: Path) -> str | None:
    if path is None:
        return None
    try:
        return str(Path(path).relative_to(root))
    except ValueError:
        return path


@click.group(cls=Group)
def lineage() -> None:
    """Read-only questions about where records came from and what happened to them."""


@lineage.command("sources")
@click.option("--release", default=None, metavar="NAME[@vN]",
              help="only the sources in this release version (default: its latest), with their record counts")
@project_option
@table_options
def sources_cmd(release: str | None, project_dir: Path | None, as_json: bool) -> None:
    """Every source: licence and licence class, how obtained, records read, kept, removed by stage."""
    from curaline.lineage.queries import LineageQueryError, sources_report

    project = _project(project_dir)
    try:
        rows = sources_report(project, release=release, license_classes=_license_classes(project))
    except LineageQueryError as exc:
        raise UserError(str(exc)) from None
    if as_json:
        _dump(rows)
        return
    table = [[r["source"], r["license"], r["license_class"], r["obtained"], r["read"], r["quarantined"],
              _counts(r["removed_by_stage"]), r["kept"]] + ([r["in_release"]] if release else []) for r in rows]  # fmt: skip
    headers = ["source", "license", "class", "obtained", "read", "quarantined", "removed by stage", "kept"]
    if release:
        headers.append(f"in {rows[0]['release']}@v{rows[0]['release_version']}" if rows else "in release")
    click.echo(text_table(headers, table))


@lineage.command("trace")
@click.argument("doc_id")
@project_option
@table_options
def trace_cmd(doc_id: str, project_dir: Path | None, as_json: bool) -> None:
    """Where record DOC_ID came from, and every stage it passed, was changed or dropped at, and why."""
    from curaline.lineage.queries import LineageQueryError, trace

    project = _project(project_dir)
    try:
        t = trace(project, doc_id, license_classes=_license_classes(project))
    except LineageQueryError as exc:
        raise UserError(str(exc)) from None
    if as_json:
        _dump(t)
        return
    s, o = t["source"], t["origin"]
    note(f"record   {t['doc_id']}")
    note(f"source   {s['id']}  licence {s.get('license')} ({s.get('license_class')}), obtained {s.get('obtained')}")
    if o:
        where = f"line {o['line']}" if o["line"] is not None else f"row {o['row']}"
        note(f"origin   {o['file']} {where}  ({o['path']})  licence {o['license']}  content {o['content_hash']}")
    else:
        note("origin   not in the current raw_records output (see history)")
    rows = []
    for st in t["stages"]:
        why = "; ".join(f"{e['action']} {e['reason']}" + (f" value={e['value']:g}" if e["value"] is not None else "")
                        + (f" threshold={e['threshold']:g}" if e["threshold"] is not None else "")
                        + (f" ({e['detail']})" if e["detail"] else "") for e in st["events"])  # fmt: skip
        rows.append([st["stage"], st["status"], _short(st.get("dataset"), project.root), st.get("version"), why])
    click.echo("")
    click.echo(text_table(["stage", "status", "dataset", "version", "why"], rows))
    if t["history"]:
        note(f"\n{len(t['history'])} ledger row(s) from earlier runs: use --json to see them")
    click.echo("")
    if t["releases"]:
        click.echo(text_table(["release", "version", "split", "copies", "status", "created"],
                              [[r["release"], f"v{r['version']}", r["split"], r["copies"],
                                f"{r['status']}" + ("" if r["latest"] else ", superseded"), (r["created_at"] or "")[:19]]
                               for r in t["releases"]]))  # fmt: skip
    else:
        click.echo("releases none")
    for r in t["removed_from_releases"]:
        why = "; ".join(f"{e['action']} {e['reason']} at {e['stage']}" + (f" ({e['detail']})" if e["detail"] else "")
                        for e in r["removed_by"]) or "no ledger row removed it (the release's spec or sources changed)"
        note(f"removed  from {r['release']} in v{r['first_version_without']} (last in v{r['last_version']}, "
                   f"latest v{r['latest_version']}): {why}")  # fmt: skip
    for td in t.get("takedowns", []):
        if "problem" in td:
            note(f"takedown {td['id']}: {td['problem']}")
        else:
            note(f"takedown {td['id']} by {td['requested_by']} at {td['requested_at']} "
                       f"({td['selector'] or 'selector not known'}): {td['reason']}")  # fmt: skip


@lineage.command("impact")
@click.argument("source_id")
@project_option
@table_options
def impact_cmd(source_id: str, project_dir: Path | None, as_json: bool) -> None:
    """Every dataset and version holding records of SOURCE_ID, with counts (e.g. for a takedown)."""
    from curaline.lineage.queries import LineageQueryError, impact

    project = _project(project_dir)
    try:
        result = impact(project, source_id)
    except LineageQueryError as exc:
        raise UserError(str(exc)) from None
    if as_json:
        _dump(result)
        return
    note(f"source {result['source']}  licence {result['license']}, obtained {result['obtained']}\n")
    click.echo(text_table(["asset", "dataset", "version", "records"],
                      [[d["asset"], _short(d["path"], project.root), d["version"], d["records"]]
                       for d in result["datasets"]]))  # fmt: skip
    if result["ledger"]:
        click.echo("")
        click.echo(text_table(["stage", "action", "reason", "records"],
                          [[r["stage"], r["action"], r["reason"], r["records"]] for r in result["ledger"]]))  # fmt: skip
    versions = {(h["dataset"], h["version"]) for h in result["history"]}
    note(f"\n{len(versions)} dataset version(s) in the run history")
    if result["releases"]:
        click.echo("")
        click.echo(text_table(["release", "version", "status", "records", "rows"],
                              [[r["release"], f"v{r['version']}", f"{r['status']}" + ("" if r["latest"] else ", superseded"),
                                r["records"], r["rows"]] for r in result["releases"]]))  # fmt: skip
    else:
        click.echo("releases none")


@lineage.command("runs")
@click.option("--asset", default=None, help="only this asset's materializations")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1), help="newest N runs")
@project_option
@table_options
def runs_cmd(asset: str | None, limit: int, project_dir: Path | None, as_json: bool) -> None:
    """Materialization history: status, output versions and check results, newest first."""
    from curaline.lineage.queries import LineageQueryError, runs_report

    project = _project(project_dir)
    try:
        rows = runs_report(project, asset=asset, limit=limit)
    except LineageQueryError as exc:
        raise UserError(str(exc)) from None
    if as_json:
        _dump(rows)
        return
    wide = terminal_width() is None
    table = []
    for r in rows:
        failed = [c["name"] for c in r["checks"] if not c["passed"]]
        checks = f"{len(r['checks']) - len(failed)}/{len(r['checks'])} passed" + (f" (failed: {', '.join(failed)})" if failed else "")
        outs = [f"{Path(o['dataset']).parent.name}/{Path(o['dataset']).name}@{(o['version'] or '?')[:8]}"
                for o in r["outputs"]]  # fmt: skip
        if not wide and outs:  # names and versions do not fit beside the run ids: --wide has them
            outs = [f"{len(outs)} file{'s' if len(outs) > 1 else ''}"]
        dagster_run = r.get("parent_run_id") or ""
        table.append([(r["started_at"] or "")[:19].replace("T", " ")[: 19 if wide else 16], r["asset"], r["partition"],
                      r["status"], ", ".join(outs), checks if r["checks"] else "",
                      dagster_run if wide else dagster_run[:8], r["run_id"] if wide else r["run_id"][-8:]])  # fmt: skip
    click.echo(text_table(["started", "asset", "partition", "status", "outputs@version" if wide else "outputs",
                           "checks", "dagster run",
                           "openlineage run"], table,
                          fixed=("started", "asset", "partition", "dagster run", "openlineage run")))  # fmt: skip
    if not wide and rows:
        note("dagster run: the first 8 characters, as the Dagster UI shows them; openlineage run: the last 8; "
             "--wide (or --json) for both in full and every output with its version")  # fmt: skip


def _sql_help() -> str:
    import textwrap

    from curaline.lineage.views import VIEW_DOCS

    views = "\n".join(textwrap.fill(doc, 78, initial_indent=f"  {name:<16} ", subsequent_indent=" " * 19)
                      for name, doc in VIEW_DOCS.items())  # fmt: skip
    return ("Read-only SQL (DuckDB) over the documented views below, and one view per stage output "
            "(raw_records, quality_filtered...; text columns left out).\n\n\b\n" + views)


@lineage.command("sql", help=_sql_help(), short_help="Read-only SQL over the documented lineage views.")
@click.argument("query")
@project_option
@table_options
def sql_cmd(query: str, project_dir: Path | None, as_json: bool) -> None:
    import duckdb

    from curaline.lineage.sandbox import ReadOnlyQueryError, run_query
    from curaline.lineage.views import event_files, retry_replaced, stage_views

    project = _project(project_dir)
    if not stage_views(project) and not event_files(project):
        raise UserError(f"no runs yet in {project.root}: run `curaline run` first")
    try:
        columns, rows = retry_replaced(lambda: run_query(project, query))
    except ReadOnlyQueryError as exc:
        raise UserError(str(exc)) from None
    except duckdb.Error as exc:
        raise UserError(f"bad SQL: {str(exc).splitlines()[0]}") from None
    if as_json:
        _dump([dict(zip(columns, r, strict=True)) for r in rows])
    else:
        click.echo(text_table(columns, [list(r) for r in rows]))


@lineage.command("flush")
@project_option
@table_options
def flush_cmd(project_dir: Path | None, as_json: bool) -> None:
    """Re-send the events queued in lineage/outbox/ (a backend was down); exit 1 if some remain."""
    from curaline.lineage.delivery import outbox_pending
    from curaline.lineage.emitter import LineageEmitter, outbox_dir

    project = _project(project_dir)
    try:
        emitter = LineageEmitter(project, license_classes=_license_classes(project))
    except (ValueError, TypeError, KeyError, RuntimeError) as exc:
        raise UserError(f"cannot build the OpenLineage transport: {str(exc).splitlines()[0]}") from None
    report = emitter.flush()
    emitter.close()
    configured = {ch.name for ch in emitter.delivery.channels}
    orphaned = {k: v for k, v in outbox_pending(outbox_dir(project)).items() if k not in configured and v}
    result = {"delivered": report.delivered, "pending": report.pending, "errors": report.errors,
              "unconfigured_outboxes": orphaned}  # fmt: skip
    if as_json:
        _dump(result)
    else:
        rows = [[name, report.delivered.get(name, 0), report.pending.get(name, 0), report.errors.get(name, "")]
                for name in sorted(configured)]  # fmt: skip
        rows += [[name, 0, n, "no such transport configured now"] for name, n in orphaned.items()]
        click.echo(text_table(["transport", "delivered", "pending", "error"], rows))
    if report.total_pending or orphaned:
        click.echo(f"curaline: {report.total_pending + sum(orphaned.values())} event(s) still queued in "
                   f"{outbox_dir(project)}", err=True)  # fmt: skip
        sys.exit(1)


if __name__ == "__main__":
    lineage()
