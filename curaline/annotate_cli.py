"""`curaline annotate push|pull`: the review queue to Label Studio, and the judgements back.

Both talk to Label Studio over HTTP (curaline.annotation.label_studio); each is an
OpenLineage run naming the Label Studio project as a dataset.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from curaline.clitools import Group, UserError, json_option, project_option


def _setup(project_dir: Path | None, source_id: str):
    from curaline.project import Project
    from curaline.sources import ManifestError, parse_manifest

    try:
        project = Project.at(project_dir)
    except ValueError as exc:  # a bad curaline.yaml
        raise UserError(str(exc).splitlines()[0]) from None
    path = project.sources_dir / f"{source_id}.yaml"
    if not path.exists():
        raise UserError(f"{path}: no such source manifest")
    try:
        return project, parse_manifest(path)
    except ManifestError as exc:
        raise UserError(str(exc)) from None


@click.group("annotate", cls=Group)
def annotate() -> None:
    """Human judgement round trip with Label Studio (curaline.yaml annotation.label_studio)."""


@annotate.command("push")
@click.option("--task", "source_id", required=True, help="the annotation source (its manifest id) whose review queue to send")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="send only the top N items of the queue")
@project_option
@json_option
def push_cmd(source_id: str, limit: int | None, project_dir: Path | None, as_json: bool) -> None:
    """Send the top of a source's review queue to Label Studio, the adjudicated label as a pre-annotation."""
    from curaline.annotation.label_studio import LabelStudioError, push_run

    project, manifest = _setup(project_dir, source_id)
    try:
        result, run = push_run(project, manifest, limit)
    except LabelStudioError as exc:
        raise UserError(str(exc)) from None
    out = {"label_studio_project": result.ls_project, "created": result.created, "tasks": result.tasks,
           "skipped_without_text": result.skipped_without_text, "run_id": run.run_id,
           "server_s": round(result.server_s, 3), "total_s": round(result.total_s, 3)}  # fmt: skip
    if as_json:
        click.echo(json.dumps(out, indent=2))
        return
    click.echo(f"pushed {result.tasks} task(s) of {source_id} to Label Studio project {result.ls_project}"
               f"{' (created)' if result.created else ''}; lineage run {run.run_id}")  # fmt: skip
    if result.skipped_without_text:
        click.echo(f"{result.skipped_without_text} queued item(s) left out: their record has no redacted text", err=True)


@annotate.command("pull")
@click.option("--source", "source_id", required=True, help="the label-studio annotation source (its manifest id)")
@project_option
@json_option
def pull_cmd(source_id: str, project_dir: Path | None, as_json: bool) -> None:
    """Fetch the judgements of a label-studio source: new versions to the ledger, current ones to its mirror."""
    from curaline.annotation.label_studio import LabelStudioError, pull_run

    project, manifest = _setup(project_dir, source_id)
    try:
        result, run = pull_run(project, manifest)
    except LabelStudioError as exc:
        raise UserError(str(exc)) from None
    out = {"label_studio_project": result.ls_project, "annotations": result.annotations,
           "fetched_tasks": result.fetched_tasks,
           "new_entries": result.new_entries, "edits": result.edits, "withdrawals": result.withdrawals,
           "current": result.current,
           "mirror": str(result.mirror_path), "run_id": run.run_id,
           "server_s": round(result.server_s, 3), "total_s": round(result.total_s, 3)}  # fmt: skip
    if as_json:
        click.echo(json.dumps(out, indent=2))
        return
    click.echo(f"pulled {result.annotations} judgement(s) of {source_id}: {result.new_entries} new ledger entr(ies) "
               f"({result.edits} edit(s), {result.withdrawals} withdrawn), {result.current} current; lineage run {run.run_id}")  # fmt: skip
