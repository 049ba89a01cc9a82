"""`curaline dvc sync` and `curaline materialize`: dvc.yaml from the asset graph, and its stages' command.

Like curaline/cli.py's pipeline commands, this module reaches the Dagster side only
lazily (the asset graph comes from `definitions`); the versioning itself is
curaline.versioning and curaline.stage_outputs, which never import Dagster.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import click

from curaline.clitools import UserError, json_option, project_option
from curaline.project import Project
from curaline.stage_outputs import AssetNode, project_inputs, stage_specs
from curaline.versioning import StageSpec, ensure_repo, stage_name, sync, sync_difference, track


def asset_nodes(assets_defs: Iterable[Any]) -> list[AssetNode]:
    """The steps of Dagster AssetsDefinitions (duck-typed: no Dagster import here)."""
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


def _definitions_module(project: Project) -> Any:
    from curaline.cli import _load_definitions

    return _load_definitions(project)


def project_stage_specs(project: Project) -> list[StageSpec]:
    """The dvc.yaml stages of this project: the asset graph of definitions.py over its sources."""
    definitions = _definitions_module(project)
    return stage_specs(asset_nodes(definitions.build_definitions(project).assets), project_inputs(project))


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


@click.group("dvc")
def dvc() -> None:
    """Version the project's data with DVC (dvc.yaml is generated from the asset graph)."""


@dvc.command("sync")
@click.option("--check", is_flag=True, help="only check: exit 1 when dvc.yaml is out of date")
@project_option
@json_option
def dvc_sync(check: bool, project_dir: Path | None, as_json: bool) -> None:
    """Regenerate dvc.yaml from the Dagster asset definitions and the project's sources/releases."""
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


@click.command("materialize")
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
        raise click.ClickException(f"materializing {stage_name(asset, partition)} failed (see the log above)")


def materialize_asset(project: Project, asset: str, partition: str | None = None) -> bool:
    """Run one asset's step (both keys of a multi-asset) for one partition; True on success."""
    from curaline.cli import _prepare_dagster_home

    _prepare_dagster_home(project)
    definitions = _definitions_module(project)
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
    with dg.DagsterInstance.get() as instance:
        if isinstance(partitions, dg.DynamicPartitionsDefinition) and partition:
            assert partitions.name is not None
            if not instance.has_dynamic_partition(partitions.name, partition):
                instance.add_dynamic_partitions(partitions.name, [partition])
        result = dg.materialize([target], instance=instance, partition_key=partition, resources=defs.resources,
                                run_config=quiet, raise_on_error=False)  # fmt: skip
    return bool(result.success)
