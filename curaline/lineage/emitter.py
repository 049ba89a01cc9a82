"""OpenLineage events for asset materializations (no Dagster import: the resource adapts).

A materialization is one OpenLineage run of a job named after the asset: START when it
begins, COMPLETE (or FAIL, with the error) when it ends. Datasets are named by where
they are stored (namespace ``file://<host>``, name = absolute path), so anyone can
open what an event names, and carry the facets an auditor needs: schema, content
version, statistics, null counts, check results, documentation, ownership, and
curaline's source declaration, licence mix and removals.

Everything is computed from what the stage already has or from parquet footers, never
by rereading data (licence counts read one dictionary-encoded column), so emission
stays a small fraction of a run. Every event lands in the lineage store (parquet,
queryable) and goes through the OpenLineage client's transports with an outbox
(`curaline.lineage.delivery`).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import traceback
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import attr
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.generated import (
    data_quality_assertions_dataset as dqa,
)
from openlineage.client.generated import (
    data_quality_metrics_dataset as dqm,
)
from openlineage.client.generated import (
    dataset_version_dataset,
    documentation_dataset,
    documentation_job,
    error_message_run,
    job_type_job,
    output_statistics_output_dataset,
    ownership_dataset,
    ownership_job,
    parent_run,
    processing_engine_run,
    schema_dataset,
    storage_dataset,
    tags_run,
)
from openlineage.client.serde import Serde
from openlineage.client.uuid import generate_new_uuid

from curaline import __version__
from curaline.lineage import store, versions
from curaline.lineage.custom_facets import (
    CuralineLicenseMixDatasetFacet,
    CuralineRemovalsDatasetFacet,
    CuralineSourceDeclarationDatasetFacet,
)
from curaline.lineage.delivery import Delivery, FlushReport, split_transports
from curaline.project import Project

if TYPE_CHECKING:
    import pandera.polars as pa_polars
    from openlineage.client import OpenLineageClient

    from curaline.sources import SourceManifest

PRODUCER = f"https://curaline.dev/producer/curaline/{__version__}"
DEFAULT_NAMESPACE = "curaline"
PROJECT_CONFIG_FILE = "openlineage.yml"


def default_events_file(project: Project) -> Path:
    """Where events go when no OpenLineage transport is configured: JSON lines."""
    return project.lineage_dir / "events" / "openlineage.jsonl"


def outbox_dir(project: Project) -> Path:
    return project.lineage_dir / "outbox"


def _client_configured() -> bool:
    """True when the client would find a configuration of its own (file or environment)."""
    env = os.environ
    if env.get("OPENLINEAGE_DISABLED", "").strip().lower() == "true" or env.get("OPENLINEAGE_URL"):
        return True
    if any(k.startswith("OPENLINEAGE__TRANSPORT") for k in env):
        return True
    candidates = [env.get("OPENLINEAGE_CONFIG"), os.path.join(os.getcwd(), "openlineage.yml"),
                  os.path.expanduser("~/.openlineage/openlineage.yml")]  # fmt: skip
    return any(p and os.path.isfile(p) for p in candidates)


def client_config(project: Project) -> dict[str, Any] | None:
    """The config handed to the client: the project's openlineage.yml, the default file, or none.

    Order: $OPENLINEAGE_CONFIG (the client reads it itself), then <project>/openlineage.yml,
    then whatever the client finds on its own (./openlineage.yml, ~/.openlineage,
    OPENLINEAGE__* / OPENLINEAGE_URL variables), else the project's JSON-lines file.
    """
    own = project.root / PROJECT_CONFIG_FILE
    if not os.environ.get("OPENLINEAGE_CONFIG") and own.is_file():
        data = yaml.safe_load(own.read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{own}: must be a YAML mapping (the OpenLineage client config)")
        return data
    if _client_configured():
        return None
    return {"transport": {"type": "file", "log_file_path": str(default_events_file(project)), "append": True}}


def build_client(project: Project) -> OpenLineageClient:
    from openlineage.client import OpenLineageClient

    return OpenLineageClient(config=client_config(project))


def _anchor_file_transports(project: Project, transports: list[tuple[str, Any]]) -> None:
    """Relative file-transport paths are relative to the project, and their folder exists."""
    from openlineage.client.transport.file import FileTransport

    for _, t in transports:
        if isinstance(t, FileTransport) and "://" not in t.config.log_file_path:
            path = Path(t.config.log_file_path).expanduser()
            if not path.is_absolute():
                path = project.root / path
                t.config.log_file_path = str(path)
            (path if not t.config.append and path.suffix == "" else path.parent).mkdir(parents=True, exist_ok=True)


# ---- facets from files and models ------------------------------------------------------


@attr.define
class DataQualityMetricsFacet(dqm.DataQualityMetricsDatasetFacet):
    """The client's metrics facet, pinned to the schema version the bundled spec ships."""

    @staticmethod
    def _get_schema() -> str:
        return "https://openlineage.io/spec/facets/1-0-0/DataQualityMetricsDatasetFacet.json#/$defs/DataQualityMetricsDatasetFacet"


def schema_fields(model: Any | None, arrow_schema: pa.Schema) -> list[Any]:
    """The file's columns, in order, with the Pandera model's types and descriptions where it has them.

    model: a Pandera DataFrameModel class or DataFrameSchema (stage schemas are the latter);
    columns the model does not name (signals of earlier stages) keep their parquet type.
    """
    declared: dict[str, tuple[str, str | None]] = {}
    if model is not None:
        from curaline.schemas import column_docs

        declared = {name: (dtype, desc or None) for name, dtype, desc, _ in column_docs(model)}
    out = []
    for i, f in enumerate(arrow_schema):
        dtype, description = declared.get(f.name, (str(f.type), None))
        out.append(schema_dataset.SchemaDatasetFacetFields(name=f.name, type=dtype, description=description,
                                                           ordinal_position=i + 1))  # fmt: skip
    return out


_NUMERIC = ("INT32", "INT64", "FLOAT", "DOUBLE")


def column_metrics(meta: pq.FileMetaData | list[pq.FileMetaData]) -> dict[str, dqm.ColumnMetrics]:
    """Null counts (and numeric min/max) per top-level column, from the footers' statistics (one per shard)."""
    metas = meta if isinstance(meta, list) else [meta]
    nulls: dict[str, int | None] = {}
    lows: dict[str, float] = {}
    highs: dict[str, float] = {}
    groups = [m.row_group(rg) for m in metas for rg in range(m.num_row_groups)]
    for group in groups:
        for ci in range(group.num_columns):
            col = group.column(ci)
            name = col.path_in_schema
            if "." in name:
                continue  # nested leaves: their null counts are not row counts
            stats = col.statistics
            if stats is None or not stats.has_null_count:
                nulls[name] = None
            elif nulls.get(name, 0) is not None:
                nulls[name] = (nulls.get(name) or 0) + stats.null_count
            if stats is not None and stats.has_min_max and col.physical_type in _NUMERIC:
                lows[name] = min(lows.get(name, stats.min), stats.min)
                highs[name] = max(highs.get(name, stats.max), stats.max)
    if not groups:
        first = metas[0]
        nulls = {first.schema.column(i).path: 0 for i in range(first.num_columns) if "." not in first.schema.column(i).path}
    out = {}
    for name, n in nulls.items():
        out[name] = dqm.ColumnMetrics(nullCount=n, min=_num(lows.get(name)), max=_num(highs.get(name)), quantiles=None)
    return out


def _num(v: Any) -> float | None:
    return None if v is None else float(v)


def license_counts(path: Path, column: str = "license") -> dict[str, int]:
    """Records per licence expression, reading only the (dictionary-encoded) licence column (of every shard)."""
    from curaline.store import parquet_files

    files = [pq.ParquetFile(f, read_dictionary=[column]) for f in parquet_files(path)]
    if not files or column not in files[0].schema_arrow.names:
        return {}
    counts: dict[str, int] = {}
    for batch in (b for pf in files for b in pf.iter_batches(columns=[column], batch_size=1 << 20)):
        arr = batch.column(0)
        if isinstance(arr, pa.DictionaryArray):
            idx = pc.value_counts(arr.indices)
            dictionary = arr.dictionary.to_pylist()
            for item in idx.to_pylist():
                if item["values"] is not None:
                    key = dictionary[item["values"]]
                    counts[key] = counts.get(key, 0) + item["counts"]
        else:
            for item in pc.value_counts(arr).to_pylist():
                if item["values"] is not None:
                    counts[item["values"]] = counts.get(item["values"], 0) + item["counts"]
    return counts


def owner_urn(owner: str) -> str:
    """Dagster owners ('team:x', 'a@b.org') as OpenLineage owner names ('team:x', 'user:a@b.org')."""
    if ":" in owner:
        return owner
    return f"user:{owner}" if "@" in owner else f"team:{owner}"


@dataclass(frozen=True)
class Assertion:
    """One check result on a dataset (a Dagster asset check, a schema validation...)."""

    name: str
    success: bool
    column: str | None = None
    severity: str | None = None  # "error" blocks downstream, "warn" does not
    assertion: str | None = None  # the kind of test; defaults to the name
    description: str | None = None
    expected: str | None = None
    actual: str | None = None

    def facet_item(self) -> dqa.Assertion:
        return dqa.Assertion(assertion=self.assertion or self.name, success=bool(self.success), column=self.column,
                             severity=self.severity, name=self.name, description=self.description,
                             expected=self.expected, actual=self.actual, params=None)  # fmt: skip


# ---- the emitter -------------------------------------------------------------------------


class LineageEmitter:
    """Builds, stores and delivers the events of a project's materializations."""

    def __init__(
        self,
        project: Project,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        dataset_host: str = "",
        producer: str = PRODUCER,
        delivery_timeout_s: float = 2.0,
        retry_after_s: float = 30.0,
        license_classes: Mapping[str, str] | None = None,
        client: OpenLineageClient | None = None,
    ):
        self.project = project
        self.namespace = namespace
        self.dataset_namespace = f"file://{dataset_host}"
        self.producer = producer
        self.license_classes = dict(license_classes or {})
        self.client = client or build_client(project)
        transports = split_transports(self.client.transport)
        _anchor_file_transports(project, transports)
        self.delivery = Delivery(transports, outbox_dir(project), timeout_s=delivery_timeout_s,
                                 retry_after_s=retry_after_s)  # fmt: skip
        self.last_report: FlushReport | None = None

    # datasets
    def dataset_name(self, path: str | Path) -> str:
        return str(Path(path).expanduser().resolve())

    def input_dataset(self, path: str | Path, *, version: str | None = None) -> InputDataset:
        """An upstream dataset with its content version (cached by size and mtime)."""
        p = Path(path).expanduser().resolve()
        facets: dict[str, Any] = {}
        if p.is_file():
            ver = versions.dataset_version(self.project, p, version)
            facets["version"] = dataset_version_dataset.DatasetVersionDatasetFacet(datasetVersion=ver, producer=self.producer)
        return InputDataset(namespace=self.dataset_namespace, name=str(p), facets=facets)

    def source_dataset(self, manifest: SourceManifest) -> InputDataset:
        """The source's own files as an input: its file, or its root folder for several."""
        files = manifest.files()
        location = files[0] if len(files) == 1 else manifest.root
        facet = CuralineSourceDeclarationDatasetFacet.from_declaration(
            manifest.declaration(), producer=self.producer, license_classes=self.license_classes
        )
        return InputDataset(namespace=self.dataset_namespace, name=self.dataset_name(location),
                            facets={"curaline_sourceDeclaration": facet})  # fmt: skip

    # runs
    def materialization(
        self,
        job: str,
        *,
        parent_run_id: str | None = None,
        parent_job: str | None = None,
        partition: str | None = None,
        description: str | None = None,
        owners: Iterable[str] = (),
        inputs: Iterable[str | Path | InputDataset] = (),
        engine_version: str | None = None,
        engine_name: str = "Dagster",
        tags: Mapping[str, str] | None = None,
    ) -> MaterializationRun:
        """A run of `job` (an asset); use as a context manager: START, then COMPLETE/FAIL."""
        return MaterializationRun(self, job, parent_run_id=parent_run_id, parent_job=parent_job,
                                  partition=partition, description=description, owners=list(owners),
                                  inputs=list(inputs), engine_version=engine_version, engine_name=engine_name,
                                  tags=dict(tags or {}))  # fmt: skip

    def emit(self, event: RunEvent, history: list[dict[str, Any]]) -> dict[str, Any]:
        """Enrich through the client (its tags, env and code-location facets), store, deliver."""
        client = self.client
        event = client.add_environment_facets(event)  # type: ignore[assignment]
        event = client.update_event_tags_facets(event)  # type: ignore[assignment]
        event = client.add_source_code_location_facet(event)  # type: ignore[assignment]
        data = Serde.to_dict(event)
        history.append(data)
        store.write_run(self.project, history)
        if client.filter_event(event) is not None:
            self.last_report = self.delivery.send(data, json.dumps(data, sort_keys=True))
        return data

    def flush(self) -> FlushReport:
        """Re-send every queued event now, ignoring back-off (`curaline lineage flush`)."""
        return self.delivery.flush()

    def close(self) -> None:
        try:
            self.client.close(0)
        except Exception:  # closing is best effort; queued events stay in the outbox
            pass


@dataclass
class _Output:
    dataset: OutputDataset
    assertions: list[Assertion]


class MaterializationRun:
    """One asset materialization as an OpenLineage run; collects outputs and checks."""

    def __init__(self, emitter: LineageEmitter, job: str, *, parent_run_id: str | None, parent_job: str | None,
                 partition: str | None, description: str | None, owners: list[str],
                 inputs: list[str | Path | InputDataset], engine_version: str | None, engine_name: str,
                 tags: dict[str, str]):  # fmt: skip
        self.emitter = emitter
        self.job = job
        self.run_id = str(generate_new_uuid())
        self.parent_run_id = parent_run_id
        self.parent_job = parent_job
        self.partition = partition
        self.description = description
        self.owners = owners
        self.engine_version = engine_version
        self.engine_name = engine_name
        self.tags = tags
        self.inputs: list[InputDataset] = []
        self.outputs: dict[str, _Output] = {}
        self.events: list[dict[str, Any]] = []
        self.state: str | None = None
        for item in inputs:
            self.input(item)

    # declaring datasets
    def input(self, item: str | Path | InputDataset, *, version: str | None = None) -> None:
        ds = item if isinstance(item, InputDataset) else self.emitter.input_dataset(item, version=version)
        self.inputs.append(ds)

    def source(self, manifest: SourceManifest) -> None:
        """Name the source's files as an input, with the source declaration facet."""
        self.inputs.append(self.emitter.source_dataset(manifest))

    def output(
        self,
        path: str | Path,
        *,
        model: type[pa_polars.DataFrameModel] | pa_polars.DataFrameSchema | None = None,
        rows: int | None = None,
        version: str | None = None,
        licence_mix: Mapping[str, int] | bool = True,
        removals: Mapping[str, int] | None = None,
        changes: Mapping[str, int] | None = None,
        quarantined: Mapping[str, int] | None = None,
        rows_in: int | None = None,
        stage: str | None = None,
        source: SourceManifest | Mapping[str, Any] | None = None,
        description: str | None = None,
        owners: Iterable[str] | None = None,
        assertions: Iterable[Assertion] = (),
    ) -> None:
        """Record a dataset this run wrote, with its facets (call after the file is complete).

        removals / changes / quarantined are reason -> count for this stage; licence_mix is
        licence -> records, or True to count the file's `license` column.
        """
        em = self.emitter
        p = Path(path).expanduser().resolve()
        producer = em.producer
        from curaline.store import parquet_files

        files = parquet_files(p)  # a file, or a sharded stage's folder of shards
        metas = [pq.ParquetFile(f).metadata for f in files]
        meta = metas[0]
        size = sum(f.stat().st_size for f in files)
        nrows = int(rows if rows is not None else sum(m.num_rows for m in metas))
        ver = versions.dataset_version(em.project, p, version)
        facets: dict[str, Any] = {
            "schema": schema_dataset.SchemaDatasetFacet(fields=schema_fields(model, meta.schema.to_arrow_schema()),
                                                        producer=producer),  # fmt: skip
            "version": dataset_version_dataset.DatasetVersionDatasetFacet(datasetVersion=ver, producer=producer),
            "dataQualityMetrics": DataQualityMetricsFacet(
                columnMetrics=column_metrics(metas), rowCount=nrows, bytes=size, fileCount=len(files),
                lastUpdated=dt.datetime.fromtimestamp(p.stat().st_mtime, dt.UTC).isoformat(), producer=producer,
            ),
        }  # fmt: skip
        facets.update(self._about(description, owners))
        if source is not None:
            declaration = source if isinstance(source, Mapping) else source.declaration()
            facets["curaline_sourceDeclaration"] = CuralineSourceDeclarationDatasetFacet.from_declaration(
                declaration, producer=producer, license_classes=em.license_classes)  # fmt: skip
        counts = license_counts(p) if licence_mix is True else (dict(licence_mix) if licence_mix else None)
        if counts is not None:
            facets["curaline_licenseMix"] = CuralineLicenseMixDatasetFacet.from_counts(
                counts, producer=producer, license_classes=em.license_classes)  # fmt: skip
        if removals is not None or changes is not None or quarantined is not None:
            name = stage or self.job
            facets["curaline_removals"] = CuralineRemovalsDatasetFacet(
                stage=name,
                removed={name: {k: int(v) for k, v in (removals or {}).items()}},
                changed={name: {k: int(v) for k, v in changes.items()}} if changes else None,
                quarantined={k: int(v) for k, v in quarantined.items()} if quarantined is not None else None,
                rowsIn=rows_in, rowsOut=nrows, producer=producer,
            )  # fmt: skip
        dataset = OutputDataset(
            namespace=em.dataset_namespace, name=str(p), facets=facets,
            outputFacets={"outputStatistics": output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
                rowCount=nrows, size=size, fileCount=1, producer=producer)},
        )  # fmt: skip
        self.outputs[str(p)] = _Output(dataset, list(assertions))

    def document(
        self,
        path: str | Path,
        *,
        file_format: str,
        version: str | None = None,
        rows: int | None = None,
        description: str | None = None,
        owners: Iterable[str] | None = None,
    ) -> None:
        """Record a file this run wrote that is not a parquet table: a report, a JSONL export.

        It gets what an auditor needs to find and trust it: its location, content version,
        format, size (and rows when known), documentation and owners.
        """
        em = self.emitter
        p = Path(path).expanduser().resolve()
        producer = em.producer
        size = p.stat().st_size
        facets: dict[str, Any] = {
            "version": dataset_version_dataset.DatasetVersionDatasetFacet(
                datasetVersion=versions.dataset_version(em.project, p, version), producer=producer),
            "storage": storage_dataset.StorageDatasetFacet(storageLayer="file", fileFormat=file_format,
                                                           producer=producer),
        }  # fmt: skip
        facets.update(self._about(description, owners))
        dataset = OutputDataset(
            namespace=em.dataset_namespace, name=str(p), facets=facets,
            outputFacets={"outputStatistics": output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
                rowCount=rows, size=size, fileCount=1, producer=producer)},
        )  # fmt: skip
        self.outputs[str(p)] = _Output(dataset, [])

    def _about(self, description: str | None, owners: Iterable[str] | None) -> dict[str, Any]:
        """Documentation and ownership facets of an output: given, else the run's own."""
        producer = self.emitter.producer
        facets: dict[str, Any] = {}
        doc = description if description is not None else self.description
        if doc:
            facets["documentation"] = documentation_dataset.DocumentationDatasetFacet(
                description=doc, contentType="text/markdown", producer=producer)  # fmt: skip
        who = list(owners) if owners is not None else self.owners
        if who:
            facets["ownership"] = ownership_dataset.OwnershipDatasetFacet(
                owners=[ownership_dataset.Owner(name=owner_urn(o), type="OWNER") for o in who], producer=producer)  # fmt: skip
        return facets

    def assertions(self, path: str | Path, results: Iterable[Assertion]) -> None:
        """Attach check results to an output declared with `output()`."""
        key = str(Path(path).expanduser().resolve())
        if key not in self.outputs:
            raise KeyError(f"{key} is not an output of this run; call output() first")
        self.outputs[key].assertions.extend(results)

    # events
    def _run_facets(self, error: BaseException | None = None) -> dict[str, Any]:
        em, producer = self.emitter, self.emitter.producer
        facets: dict[str, Any] = {}
        if self.parent_run_id:
            job = self.parent_job or "dagster"
            facets["parent"] = parent_run.ParentRunFacet(
                run=parent_run.Run(runId=self.parent_run_id),
                job=parent_run.Job(namespace=em.namespace, name=job),
                root=parent_run.Root(run=parent_run.RootRun(runId=self.parent_run_id),
                                     job=parent_run.RootJob(namespace=em.namespace, name=job)),
                producer=producer,
            )  # fmt: skip
        if self.engine_version:
            facets["processing_engine"] = processing_engine_run.ProcessingEngineRunFacet(
                version=self.engine_version, name=self.engine_name, openlineageAdapterVersion=__version__,
                producer=producer)  # fmt: skip
        tags = {**({"partition": self.partition} if self.partition else {}), **self.tags}
        if tags:
            facets["tags"] = tags_run.TagsRunFacet(
                tags=[tags_run.TagsRunFacetFields(key=k, value=str(v), source="CURALINE") for k, v in tags.items()],
                producer=producer)  # fmt: skip
        if error is not None:
            facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
                message=error_summary(error), programmingLanguage="python",
                stackTrace=stack_frames(error), producer=producer)  # fmt: skip
        return facets

    def _job_facets(self) -> dict[str, Any]:
        producer = self.emitter.producer
        facets: dict[str, Any] = {
            "jobType": job_type_job.JobTypeJobFacet(processingType="BATCH", integration="DAGSTER", jobType="ASSET",
                                                    producer=producer),  # fmt: skip
        }
        if self.description:
            facets["documentation"] = documentation_job.DocumentationJobFacet(
                description=self.description, contentType="text/markdown", producer=producer)  # fmt: skip
        if self.owners:
            facets["ownership"] = ownership_job.OwnershipJobFacet(
                owners=[ownership_job.Owner(name=owner_urn(o), type="OWNER") for o in self.owners], producer=producer)  # fmt: skip
        return facets

    def _event(self, state: RunState, error: BaseException | None = None) -> RunEvent:
        outputs: list[OutputDataset] = []
        if state == RunState.COMPLETE:
            for out in self.outputs.values():
                ds = out.dataset
                if out.assertions:
                    facets: dict[str, Any] = dict(ds.facets or {})
                    facets["dataQualityAssertions"] = dqa.DataQualityAssertionsDatasetFacet(
                        assertions=[a.facet_item() for a in out.assertions], producer=self.emitter.producer)  # fmt: skip
                    ds = OutputDataset(namespace=ds.namespace, name=ds.name, facets=facets, outputFacets=ds.outputFacets)
                outputs.append(ds)
        return RunEvent(
            eventType=state,
            eventTime=dt.datetime.now(dt.UTC).isoformat(),
            run=Run(runId=self.run_id, facets=self._run_facets(error)),
            job=Job(namespace=self.emitter.namespace, name=self.job, facets=self._job_facets()),
            inputs=list(self.inputs),
            outputs=outputs,
            producer=self.emitter.producer,
        )

    def start(self) -> dict[str, Any]:
        if self.state is not None:
            raise RuntimeError(f"run {self.run_id} already {self.state}")
        self.state = "START"
        return self.emitter.emit(self._event(RunState.START), self.events)

    def complete(self) -> dict[str, Any]:
        self.state = "COMPLETE"
        return self.emitter.emit(self._event(RunState.COMPLETE), self.events)

    def fail(self, error: BaseException) -> dict[str, Any]:
        self.state = "FAIL"
        return self.emitter.emit(self._event(RunState.FAIL, error), self.events)

    def __enter__(self) -> MaterializationRun:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:  # fmt: skip
        if exc is None:
            self.complete()
        else:
            self.fail(exc)


def stack_frames(error: BaseException, limit: int = 8000) -> str | None:
    """Where it failed: file, line and function per frame, without source lines or values."""
    frames = traceback.extract_tb(error.__traceback__)
    text = "".join(f'  File "{f.filename}", line {f.lineno}, in {f.name}\n' for f in frames)
    return text[-limit:] or None


def error_summary(error: BaseException, limit: int = 300) -> str:
    """Exception type and the first line of its message, capped: messages may quote data."""
    first = str(error).splitlines()[0] if str(error) else ""
    text = f"{type(error).__name__}: {first}" if first else type(error).__name__
    return text[:limit]
