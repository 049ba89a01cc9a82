"""`curaline takedown` records a takedown / erasure request; `curaline takedown-status` follows it.

Recording never touches data: it writes the request file, which every later ingest
applies (with or without the sensor), and says what will happen next.
"""

from __future__ import annotations

import getpass
import json
import os
import sys
from pathlib import Path

import click

from curaline.clitools import UserError, json_option, project_option, table, table_options


def _project(project_dir: Path | None):  # -> Project (kept lazy: the CLI imports this module on start)
    from curaline.project import Project

    try:
        return Project.at(project_dir)
    except ValueError as exc:  # a bad curaline.yaml
        raise UserError(str(exc).splitlines()[0]) from None


def _default_user() -> str:
    try:
        return os.environ.get("USER") or getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@click.command("takedown")
@click.option("--source", default=None, help="take down every record of this source (its manifest id)")
@click.option("--doc-ids", "doc_ids_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="a file with one doc id per line (blank lines and # comments skipped)")  # fmt: skip
@click.option("--url-pattern", default=None, help="take down records whose url matches this RE2 regex (searched, not anchored)")
@click.option("--reason", required=True, help="why: the legal ground or ticket, kept as the audit record")
@click.option("--requested-by", default=None, help="who asked (default: $USER)")
@click.option("--erase", is_flag=True,
              help="also remove the records now from every stage output holding their raw text, and every cached "
                   "version of those outputs in the local DVC cache (recorded in lineage/erasures/)")  # fmt: skip
@project_option
@json_option
def takedown(source: str | None, doc_ids_file: Path | None, url_pattern: str | None, reason: str,
             requested_by: str | None, erase: bool, project_dir: Path | None, as_json: bool) -> None:  # fmt: skip
    """Record a takedown / erasure request; ingest drops the records from then on."""
    from curaline.takedown import TakedownError, affected, new_request, read_doc_ids, record_request

    project = _project(project_dir)
    try:
        doc_ids = read_doc_ids(doc_ids_file) if doc_ids_file is not None else ()
        request = new_request(project, reason=reason, requested_by=requested_by or _default_user(), source=source,
                              doc_ids=doc_ids, url_pattern=url_pattern,
                              doc_ids_file=str(doc_ids_file.resolve()) if doc_ids_file else None)  # fmt: skip
        path = record_request(project, request)
    except TakedownError as exc:
        raise UserError(str(exc)) from None
    erased = None
    if erase:
        from curaline.erasure import erase as erase_records

        erased = erase_records(project, request).to_json()
    hit = affected(project, request)
    unknown = sorted(set(hit.sources) - set(_known(project))) if request.kind == "doc_ids" else []
    if as_json:
        click.echo(json.dumps({**request.to_json(), "file": str(path), "affected_sources": hit.sources,
                               "affected_releases": hit.releases, "sources_without_manifest": unknown,
                               **({"erased": erased} if erased is not None else {})}, indent=2))  # fmt: skip
        return
    bindir = Path(sys.executable).parent
    sources = ", ".join(hit.sources) or ("found at the next ingest" if request.kind == "url_pattern" else "none")
    releases = ", ".join(f"{r} (v{request.release_versions[r]})" if r in request.release_versions else r
                         for r in hit.releases)  # fmt: skip
    click.echo(f"recorded takedown request {request.id}")
    for label, value in (("selector", request.selector()), ("reason", request.reason),
                         ("requested by", request.requested_by), ("requested at", request.to_json()["requested_at"]),
                         ("file", str(path)), ("sources", sources), ("releases", releases or "none so far")):  # fmt: skip
        click.echo(f"  {label:<13} {value}")
    if unknown:
        click.echo(f"note: {', '.join(unknown)} has no manifest in {project.sources_dir}; those ids match nothing at ingest")
    if erased is not None:
        counts = ", ".join(f"{k}={v}" for k, v in erased["records"].items()) or "nothing matched"
        click.echo(f"erased: {counts}; {len(erased['cache_objects'])} cached old version(s) deleted")
    click.echo("\nWhat happens next:")
    click.echo("  - the takedown sensor (dagster dev / dagster-daemon) re-ingests the affected sources, then runs the")
    click.echo("    global stages, then rebuilds the releases that hold affected records;")
    click.echo(f"  - without the daemon: {bindir / 'curaline'} run --project {project.root}")
    click.echo("    (every later ingest drops these records, with a `takedown` ledger row naming this request);")
    click.echo("  - the request is complete once every affected release has a new version without them:")
    click.echo(f"    {bindir / 'curaline'} takedown-status --project {project.root}")


def _known(project) -> list[str]:
    from curaline.takedown import known_sources

    return known_sources(project)


@click.command("takedown-status")
@click.argument("request_id", required=False)
@project_option
@table_options
def takedown_status(request_id: str | None, project_dir: Path | None, as_json: bool) -> None:
    """Every takedown request (or one) with its status: pending, applied or complete."""
    from curaline.takedown import load_requests, statuses

    project = _project(project_dir)
    requests, problems = load_requests(project, strict=False)
    if request_id is not None:
        requests = [r for r in requests if r.id == request_id]
        if not requests:
            raise UserError(f"no takedown request {request_id!r} in {project.lineage_dir / 'takedowns'}")
    result = statuses(project, requests)
    if as_json:
        click.echo(json.dumps({"requests": [s.to_json() for s in result], "problems": problems}, indent=2))
    else:
        rows = [[s.request.id, s.status, s.request.selector(), s.records_taken_down, ", ".join(s.affected.sources),
                 ", ".join(f"{n} (needs > v{s.releases_pending[n]})" if n in s.releases_pending else n
                           for n in s.affected.releases),
                 s.request.requested_by] for s in result]  # fmt: skip
        click.echo(table(["request", "status", "selector", "taken down", "sources", "releases", "by"], rows))
        for p in problems:
            click.echo(f"unreadable request: {p}", err=True)
    if problems:
        sys.exit(2)
