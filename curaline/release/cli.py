"""`curaline release list | show | checkout`: the versions a training team and an auditor use."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from curaline.clitools import UserError, json_option, project_option, table
from curaline.project import Project


def _project(project_dir: Path | None) -> Project:
    try:
        project = Project.at(project_dir)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if not project.root.is_dir():
        raise UserError(f"no project folder {project.root}")
    return project


def _dump(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


@click.group()
def release() -> None:
    """Released dataset versions: list them, show one, restore its exact bytes."""


@release.command("list")
@project_option
@json_option
def release_list(project_dir: Path | None, as_json: bool) -> None:
    """Every version of every release, newest last, with its status."""
    from curaline.release.versions import release_names, versions

    project = _project(project_dir)
    rows = []
    for name in release_names(project):
        for m in versions(project, name):
            rows.append({"release": name, "version": m["version"], "created_at": m["created_at"],
                         "status": "superseded" if m["superseded"] else m["status"], "records": m["records"],
                         "tokens": m["tokens"], "use": m["use"], "tag": m["git"]["tag"],
                         "dvc_md5": m["dvc"]["md5"]})  # fmt: skip
    if as_json:
        _dump(rows)
        return
    if not rows:
        raise UserError(f"no releases yet in {project.root} (run `curaline run`)")
    click.echo(table(["release", "version", "created", "status", "records", "tokens", "use", "git tag"],
                     [[r["release"], f"v{r['version']}", r["created_at"], r["status"], r["records"], r["tokens"],
                       r["use"], r["tag"]] for r in rows]))  # fmt: skip


@release.command("show")
@click.argument("ref")
@project_option
@json_option
def release_show(ref: str, project_dir: Path | None, as_json: bool) -> None:
    """One version (NAME for the latest, NAME@vN for another): counts, sources, licences, files."""
    from curaline.release.versions import ReleaseNotFound, resolve

    project = _project(project_dir)
    try:
        m = resolve(project, ref)
    except ReleaseNotFound as exc:
        raise UserError(str(exc)) from None
    if as_json:
        _dump(m)
        return
    status = "superseded" if m["superseded"] else m["status"]
    click.echo(f"{m['name']} v{m['version']} ({status}, {m['use']} use) created {m['created_at']}")
    click.echo(f"  {m['records']} records, {m['rows']} rows, {m['tokens']} tokens; git tag {m['git']['tag']} "
               f"(commit {(m['git']['commit'] or '-')[:12]}); DVC {m['dvc']['md5']}")  # fmt: skip
    click.echo("  splits: " + ", ".join(f"{k} {v['records']}" for k, v in m["splits"].items()))
    click.echo("  licence classes: " + ", ".join(f"{k} {v}" for k, v in m["license_mix"].items() if v))
    click.echo("")
    click.echo(table(["source", "license", "class", "candidates", "records", "tokens", "removed by the release"],
                     [[s["id"], s["license"], s["license_class"], s["candidates"], s["records"], s["tokens"],
                       ", ".join(f"{k}={v}" for k, v in s["removed"].items())] for s in m["sources"]]))  # fmt: skip
    if m["obligations"]:
        click.echo("\nObligations:")
        for o in m["obligations"]:
            click.echo(f"  - {o['obligation']}: {o['source']} ({o['license']}): {o['note']}")


@release.command("checkout")
@click.argument("ref")
@click.option("--to", "dest", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="folder to restore into (default: ./<name>-v<N>); must be new or empty unless --force")
@click.option("--force", is_flag=True, help="restore into a non-empty folder, overwriting the release's files there")
@project_option
@json_option
def release_checkout(ref: str, dest: Path | None, force: bool, project_dir: Path | None, as_json: bool) -> None:
    """Restore exactly the released bytes of a version (every file's md5 verified)."""
    from curaline.release.versions import ReleaseNotFound, RestoreError, checkout, parse_ref, resolve
    from curaline.safe_paths import checkout_target_problem

    project = _project(project_dir)
    try:
        m = resolve(project, ref)
        name, _ = parse_ref(ref)
        target = dest or Path(f"{name}-v{m['version']}")
        problem = checkout_target_problem(project.root, target, force=force)
        if problem:
            raise UserError(problem)
        checkout(project, f"{name}@v{m['version']}", target)
    except (ReleaseNotFound, RestoreError) as exc:
        raise UserError(str(exc)) from None
    files = [f for f in m["files"]]
    if as_json:
        _dump({"release": name, "version": m["version"], "to": str(target.resolve()), "files": len(files),
               "verified": True})  # fmt: skip
        return
    click.echo(f"restored {name}@v{m['version']} into {target.resolve()}: {len(files)} files + manifest.json, "
               "every md5 verified")  # fmt: skip
