"""`curaline release list | show | checkout`: the versions a training team and an auditor use."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from curaline.clitools import Group, UserError, json_option, note, project_option, table, table_options
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


@click.group(cls=Group)
def release() -> None:
    """Released dataset versions: list them, show one, restore its exact bytes."""


@release.command("list")
@project_option
@table_options
def release_list(project_dir: Path | None, as_json: bool) -> None:
    """Every version of every release, newest last, with its status; a release whose latest
    build the licence gate blocked gets a `blocked` row after its versions."""
    from curaline.release.versions import blocked, release_names, versions

    project = _project(project_dir)
    rows = []
    names = sorted({*release_names(project), *_blocked_names(project)})
    for name in names:
        for m in versions(project, name):
            rows.append({"release": name, "version": m["version"], "created_at": m["created_at"],
                         "status": "superseded" if m["superseded"] else m["status"], "records": m["records"],
                         "tokens": m["tokens"], "use": m["use"], "tag": m["git"]["tag"],
                         "dvc_md5": m["dvc"]["md5"]})  # fmt: skip
        block = blocked(project, name)
        if block is not None:
            rows.append({"release": name, "version": None, "created_at": block.get("created_at"),
                         "status": "blocked", "records": None, "tokens": None, "use": block.get("use"), "tag": None,
                         "dvc_md5": None, "violations": block.get("gate", {}).get("violations", [])})  # fmt: skip
    if as_json:
        _dump(rows)
        return
    if not rows:
        raise UserError(f"no releases yet in {project.root} (run `curaline run`)")
    click.echo(table(["release", "version", "created", "status", "records", "tokens", "use", "git tag"],
                     [[r["release"], f"v{r['version']}" if r["version"] else "-", _when(r["created_at"]), r["status"],
                       r["records"], r["tokens"], r["use"], r["tag"]] for r in rows],
                     fixed=("release", "version", "created", "status")))  # fmt: skip
    if any(r["status"] == "blocked" for r in rows):
        note("blocked: the licence gate refused the latest build; `curaline release show NAME` says which sources "
             "and why (the versions above it, if any, are still the latest released)")  # fmt: skip


def _blocked_names(project: Project) -> list[str]:
    from curaline.release.versions import blocked_names

    return blocked_names(project)


def _when(stamp: str | None) -> str:
    return (stamp or "")[:19].replace("T", " ")


def _blocked_verdict(project: Project, name: str) -> dict[str, Any] | None:
    """The gate's verdict on `name`'s latest build when it blocked it: recorded by the release
    step, else (a project built before such records) the gate run again, as reports do."""
    from curaline.release.versions import blocked

    block = blocked(project, name)
    if block is not None or not (project.releases_dir / f"{name}.yaml").is_file():
        return block
    from curaline.reports.release_data import ReportError, load_release

    try:
        data = load_release(project, name)
    except ReportError:
        return None
    return dict(data.manifest) if data.blocked else None


@release.command("show")
@click.argument("ref")
@project_option
@table_options
def release_show(ref: str, project_dir: Path | None, as_json: bool) -> None:
    """One version (NAME for the latest, NAME@vN for another): counts, sources, licences, files;
    the licence gate's report first when NAME's latest build was blocked."""
    from curaline.release.versions import ReleaseNotFound, parse_ref, resolve, versions

    project = _project(project_dir)
    try:
        name, version = parse_ref(ref)
    except ReleaseNotFound as exc:
        raise UserError(str(exc)) from None
    block = _blocked_verdict(project, name) if version is None else None
    if block is not None and not versions(project, name):
        if as_json:
            _dump({**block, "version": None})
        else:
            _print_blocked(name, block, previous=None)
        return
    try:
        m = resolve(project, ref)
    except ReleaseNotFound as exc:
        raise UserError(str(exc)) from None
    if as_json:
        _dump({**block, "version": None, "latest_version": m} if block is not None else m)
        return
    if block is not None:
        _print_blocked(name, block, previous=m["version"])
        click.echo("")
    status = "superseded" if m["superseded"] else m["status"]
    note(f"{m['name']} v{m['version']} ({status}, {m['use']} use) created {m['created_at']}")
    note(f"  {m['records']} records, {m['rows']} rows, {m['tokens']} tokens; git tag {m['git']['tag']} "
         f"(commit {(m['git']['commit'] or '-')[:12]}); DVC {m['dvc']['md5']}")  # fmt: skip
    note("  splits: " + ", ".join(f"{k} {v['records']}" for k, v in m["splits"].items()))
    note("  licence classes: " + ", ".join(f"{k} {v}" for k, v in m["license_mix"].items() if v))
    click.echo("")
    click.echo(table(["source", "license", "class", "candidates", "records", "tokens", "removed by the release"],
                     [[s["id"], s["license"], s["license_class"], s["candidates"], s["records"], s["tokens"],
                       ", ".join(f"{k}={v}" for k, v in s["removed"].items())] for s in m["sources"]]))  # fmt: skip
    if m["obligations"]:
        click.echo("\nObligations:")
        for o in m["obligations"]:
            note(f"  - {o['obligation']}: {o['source']} ({o['license']}): {o['note']}")


def _print_blocked(name: str, block: dict[str, Any], *, previous: int | None) -> None:
    still = f"; v{previous} stays the latest released version" if previous else "; it has no released version"
    note(f"{name}: BLOCKED by the licence gate ({block.get('use')} use), latest build "
         f"{_when(block.get('created_at'))}{still}")  # fmt: skip
    report = str(block.get("gate_report") or "").strip().splitlines()
    violations = block.get("gate", {}).get("violations", [])
    if not (report and violations):
        for line in report:
            note(line)
        return
    note(report[0])  # the headline, then the violations as a table, then what to change
    click.echo(table(["source", "license", "class", "records", "why"],
                     [[v["source"], v["license"], v["class"], v["records"], v["why"]] for v in violations]))  # fmt: skip
    for line in report[1:]:
        if not line.lstrip().startswith("- source "):
            note(line.strip())


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
