"""`curaline dvc sync`: dvc.yaml from the stage registry (each stage runs `curaline materialize`,
which lives with the other pipeline commands in curaline/cli.py).

This module never imports Dagster or the Dagster side (definitions, assets): the graph is
curaline.stages, which tests/test_stages.py holds equal to the Definitions; the versioning
itself is curaline.versioning and curaline.stage_outputs.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import click

from curaline.clitools import Group, UserError, json_option, project_option
from curaline.project import Project
from curaline.stage_outputs import AssetNode, project_inputs, registry_nodes, stage_specs
from curaline.versioning import StageSpec, ensure_repo, stage_name, sync, sync_difference, track


def asset_nodes(assets_defs: Iterable[Any]) -> list[AssetNode]:
    """The steps of Dagster AssetsDefinitions (duck-typed: no Dagster import here); the
    registry test compares them with `registry_nodes()`."""
    nodes = []
    for assets_def in assets_defs:
        if not getattr(assets_def, "is_executable", False) or not hasattr(assets_def, "node_def"):
            continue  # external assets, specs, source assets: nothing to run
        keys = tuple(sorted(k.to_user_string() for k in assets_def.keys))  # a set: sort for stable output
        deps = {d.asset_key.to_user_string() for spec in assets_def.specs for d in spec.deps}
        partitions = assets_def.partitions_def
        partitioning = getattr(partitions, "name", None) or (repr(partitions) if partitions is not None else None)
        nodes.append(AssetNode(stage=assets_def.node_def.name, keys=keys,
                               upstream=tuple(sorted(deps - set(keys))), partitioning=partitioning))  # fmt: skip
    return nodes


def project_stage_specs(project: Project) -> list[StageSpec]:
    """The dvc.yaml stages of this project: the stage registry over its sources and releases."""
    return stage_specs(registry_nodes(), project_inputs(project))


def sync_project(project: Project) -> bool:
    """Regenerate the project's dvc.yaml; True when it changed."""
    return sync(project, project_stage_specs(project))


def track_asset(project: Project, stage: str, partition: str | None = None) -> dict[str, str]:
    """What an asset calls after writing its files: {out path: DVC hash} (its data version).

    Sets up the repository on first use and regenerates dvc.yaml when the stage is new
    (a source or release added since the last sync).
    """
    ensure_repo(project)
    return track(project, [stage_name(stage, partition)], resync=lambda: sync_project(project))


@click.group("dvc", cls=Group)
def dvc() -> None:
    """Version the project's data with DVC (dvc.yaml is generated from the stage registry)."""


@dvc.command("sync")
@click.option("--check", is_flag=True, help="only check: exit 1 when dvc.yaml is out of date")
@project_option
@json_option
def dvc_sync(check: bool, project_dir: Path | None, as_json: bool) -> None:
    """Regenerate dvc.yaml from the stage registry and the project's sources/releases."""
    project = Project.at(project_dir)
    if not project.root.is_dir():
        raise UserError(f"no project folder {project.root}")
    specs = project_stage_specs(project)
    path = project.root / "dvc.yaml"
    stages = len(specs)
    if check:
        difference = sync_difference(project, specs)
        if as_json:
            click.echo(json.dumps({"path": str(path), "in_sync": difference is None, "difference": difference}))
        elif difference:
            click.echo(f"curaline: {difference}; run `curaline dvc sync --project {project.root}`", err=True)
        else:
            click.echo(f"{path} is in sync ({stages} stages)")
        if difference:
            sys.exit(1)
        return
    changed = sync(project, specs)
    if as_json:
        click.echo(json.dumps({"path": str(path), "changed": changed, "stages": [s.name for s in specs]}))
    else:
        click.echo(f"{path} {'written' if changed else 'already up to date'} ({stages} stages)")
