"""OpenLineage for every asset materialization, as a Dagster resource.

Assets wrap their work in ``with lineage.materialization(context) as run:``: START on
entry, COMPLETE on exit (FAIL, with the error, if an exception escapes). The job is the
asset key (the op name for a multi-asset), the parent run is the Dagster run, the
inputs default to the upstream assets' files, and descriptions and owners come from
the asset specs. The event building, storage and delivery live in
`curaline.lineage.emitter` (no Dagster there); this module only adapts the context.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field, PrivateAttr

from curaline.lineage.emitter import DEFAULT_NAMESPACE, Assertion, LineageEmitter, MaterializationRun
from curaline.project import Project
from curaline.sources import SourceManifest
from resources.project import ProjectResource


def check_assertion(result: dg.AssetCheckResult) -> Assertion:
    """A Dagster asset check result as an OpenLineage assertion (column from metadata 'column')."""
    meta = result.metadata or {}
    column = meta.get("column")
    column = getattr(column, "value", column)
    severity = result.severity or dg.AssetCheckSeverity.ERROR
    return Assertion(
        name=str(result.check_name), success=bool(result.passed), column=str(column) if column else None,
        severity="error" if severity == dg.AssetCheckSeverity.ERROR else "warn", assertion=str(result.check_name),
        description=result.description,
    )  # fmt: skip


def upstream_files(project: Project, context: dg.AssetExecutionContext) -> list[Path]:
    """The files of the asset's upstream assets: the same partition, the whole asset, or all partitions."""
    assets_def = context.assets_def
    own = set(assets_def.keys)
    partition = context.partition_key if context.has_partition_key else None
    files: list[Path] = []
    for key in sorted(assets_def.dependency_keys - own, key=lambda k: k.to_user_string()):
        stage = "__".join(key.path)
        if partition and project.stage_path(stage, partition).exists():
            files.append(project.stage_path(stage, partition))
        elif project.stage_path(stage).exists():
            files.append(project.stage_path(stage))
        elif (project.data_dir / stage).is_dir():  # a file per source, or (a sharded stage) a folder per source
            folder = project.data_dir / stage
            files += sorted([*folder.glob("*.parquet"), *(p for p in folder.iterdir() if p.is_dir())])
    return files


class AssetLineage:
    """The materialization run as the asset sees it: outputs named by asset key."""

    def __init__(self, run: MaterializationRun, context: dg.AssetExecutionContext):
        self.run = run
        self.context = context

    @property
    def run_id(self) -> str:
        return self.run.run_id

    def input(self, path: str | Path, *, version: str | None = None) -> None:
        self.run.input(path, version=version)

    def source(self, manifest: SourceManifest) -> None:
        self.run.source(manifest)

    def output(self, path: str | Path, *, asset_key: dg.AssetKey | None = None, **kwargs: Any) -> None:
        """`MaterializationRun.output`, with the asset's description and owners by default."""
        if asset_key is not None:
            spec = self.context.assets_def.specs_by_key[asset_key]
            kwargs.setdefault("description", spec.description)
            kwargs.setdefault("owners", list(spec.owners))
            kwargs.setdefault("stage", "__".join(asset_key.path))
        self.run.output(path, **kwargs)

    def checks(self, path: str | Path, results: Iterable[dg.AssetCheckResult]) -> None:
        """Record asset check results as data quality assertions on an output."""
        self.run.assertions(path, [check_assertion(r) for r in results])

    def tags(self, tags: dict[str, str]) -> None:
        """Add run tags (e.g. the model files a stage used); they appear from the next event on."""
        self.run.tags.update(tags)

    def document(self, path: str | Path, *, file_format: str, version: str | None = None, rows: int | None = None) -> None:
        """`MaterializationRun.document`, with the asset's description and owners."""
        self.run.document(path, file_format=file_format, version=version, rows=rows)


class _Disabled(AssetLineage):
    """What assets get when lineage is off: the same calls, doing nothing."""

    def __init__(self) -> None:
        pass

    @property
    def run_id(self) -> str:
        return ""

    def input(self, path: str | Path, *, version: str | None = None) -> None:
        pass

    def source(self, manifest: SourceManifest) -> None:
        pass

    def output(self, path: str | Path, *, asset_key: dg.AssetKey | None = None, **kwargs: Any) -> None:
        pass

    def checks(self, path: str | Path, results: Iterable[dg.AssetCheckResult]) -> None:
        pass

    def tags(self, tags: dict[str, str]) -> None:
        pass

    def document(self, path: str | Path, *, file_format: str, version: str | None = None, rows: int | None = None) -> None:
        pass


class LineageResource(dg.ConfigurableResource):
    """Emits OpenLineage events (and stores them in the lineage store) for materializations.

    Transports come from the OpenLineage client's configuration (<project>/openlineage.yml,
    $OPENLINEAGE_CONFIG, OPENLINEAGE__* variables); without one, events go to
    <project>/lineage/events/openlineage.jsonl.
    """

    project: ProjectResource
    namespace: str = Field(default=DEFAULT_NAMESPACE, description="OpenLineage namespace of the jobs")
    dataset_host: str = Field(default="", description="host in the dataset namespace file://<host>")
    delivery_timeout_s: float = Field(default=2.0, description="longest wait for a transport per event")
    retry_after_s: float = Field(default=30.0, description="after a failed delivery, queue without trying for this long")
    enabled: bool = Field(default=True, description="False: emit nothing (tests, dry runs)")

    _emitter: LineageEmitter | None = PrivateAttr(default=None)

    def emitter(self) -> LineageEmitter:
        if self._emitter is None:
            proj = self.project.project
            self._emitter = LineageEmitter(
                proj, namespace=self.namespace, dataset_host=self.dataset_host,
                delivery_timeout_s=self.delivery_timeout_s, retry_after_s=self.retry_after_s,
                license_classes=getattr(proj.config, "license_classes", None),
            )  # fmt: skip
        return self._emitter

    @contextmanager
    def materialization(
        self,
        context: dg.AssetExecutionContext,
        *,
        job: str | None = None,
        inputs: Iterable[str | Path] | None = None,
    ) -> Iterator[AssetLineage]:
        """START now, COMPLETE (or FAIL) on exit; when disabled, calls on the run do nothing.

        inputs default to the upstream assets' files (see `upstream_files`).
        """
        if not self.enabled:
            yield _Disabled()
            return
        assets_def = context.assets_def
        keys = list(assets_def.keys)
        name = job or (keys[0].to_user_string() if len(keys) == 1 else context.op_def.name)
        first = assets_def.specs_by_key[keys[0]]
        owners = sorted({o for k in keys for o in assets_def.specs_by_key[k].owners})
        emitter = self.emitter()
        chosen = list(inputs) if inputs is not None else upstream_files(emitter.project, context)
        run = emitter.materialization(
            name, parent_run_id=context.run_id, parent_job=context.job_name,
            partition=context.partition_key if context.has_partition_key else None,
            description=first.description, owners=owners, inputs=chosen, engine_version=dg.__version__,
        )  # fmt: skip
        with run:
            yield AssetLineage(run, context)
