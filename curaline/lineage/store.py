"""The lineage store: OpenLineage events as append-only parquet, plus dataset versions.

One parquet file per OpenLineage run (one asset materialization), written atomically
at START and replaced, START + COMPLETE/FAIL, at the end, so a reader sees either the
previous state or the new one and queries run while the pipeline writes. Events are
flattened for SQL (times, ids, job, datasets with their versions, check results) with
each facet group kept as a JSON string, so nothing of the event is lost.

Dataset versions live in `curaline.lineage.versions`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pyarrow as pa

from curaline.project import Project
from curaline.store import write_parquet

INPUT_TYPE = pa.struct([("namespace", pa.string()), ("name", pa.string()), ("version", pa.string())])
OUTPUT_TYPE = pa.struct(
    [
        ("namespace", pa.string()),
        ("name", pa.string()),
        ("version", pa.string()),
        ("rows", pa.int64()),
        ("bytes", pa.int64()),
    ]
)
ASSERTION_TYPE = pa.struct(
    [
        ("dataset", pa.string()),
        ("name", pa.string()),
        ("assertion", pa.string()),
        ("success", pa.bool_()),
        ("column", pa.string()),
        ("severity", pa.string()),
    ]
)

EVENTS_SCHEMA = pa.schema(
    [
        pa.field("event_time", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("event_type", pa.string(), nullable=False),  # START | COMPLETE | FAIL | ...
        pa.field("run_id", pa.string(), nullable=False),  # the OpenLineage run (one materialization)
        pa.field("parent_run_id", pa.string()),  # the Dagster run
        pa.field("parent_job", pa.string()),  # the Dagster job
        pa.field("namespace", pa.string(), nullable=False),
        pa.field("job", pa.string(), nullable=False),  # the asset key
        pa.field("partition", pa.string()),  # the source partition, if any
        pa.field("inputs", pa.list_(INPUT_TYPE)),
        pa.field("outputs", pa.list_(OUTPUT_TYPE)),
        pa.field("assertions", pa.list_(ASSERTION_TYPE)),
        pa.field("error_message", pa.string()),
        pa.field("producer", pa.string()),
        pa.field("run_facets", pa.string()),  # JSON object: key -> facet
        pa.field("job_facets", pa.string()),  # JSON object
        pa.field("input_facets", pa.string()),  # JSON object: dataset name -> {facets, inputFacets}
        pa.field("output_facets", pa.string()),  # JSON object: dataset name -> {facets, outputFacets}
    ]
)


def events_dir(project: Project) -> Path:
    return project.lineage_dir / "events"


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._=-]+", "__", name)


def run_file(project: Project, job: str, run_id: str) -> Path:
    return events_dir(project) / f"job={_safe(job)}" / f"run={run_id}.parquet"


def _tag(facets: dict[str, Any], key: str) -> str | None:
    for tag in (facets.get("tags") or {}).get("tags") or []:
        if tag.get("key") == key:
            return str(tag.get("value"))
    return None


def flatten(event: dict[str, Any]) -> dict[str, Any]:
    """One event (as serialized JSON data) as one row of EVENTS_SCHEMA."""
    run = event.get("run") or {}
    run_facets = run.get("facets") or {}
    job = event.get("job") or {}
    parent = run_facets.get("parent") or {}
    error = run_facets.get("errorMessage") or {}
    inputs, outputs, assertions = [], [], []
    input_facets, output_facets = {}, {}
    for ds in event.get("inputs") or []:
        facets = ds.get("facets") or {}
        inputs.append({"namespace": ds["namespace"], "name": ds["name"],
                       "version": (facets.get("version") or {}).get("datasetVersion")})  # fmt: skip
        input_facets[ds["name"]] = {k: ds[k] for k in ("facets", "inputFacets") if ds.get(k)}
    for ds in event.get("outputs") or []:
        facets = ds.get("facets") or {}
        stats = (ds.get("outputFacets") or {}).get("outputStatistics") or {}
        outputs.append({"namespace": ds["namespace"], "name": ds["name"],
                        "version": (facets.get("version") or {}).get("datasetVersion"),
                        "rows": stats.get("rowCount"), "bytes": stats.get("size")})  # fmt: skip
        output_facets[ds["name"]] = {k: ds[k] for k in ("facets", "outputFacets") if ds.get(k)}
        for a in (facets.get("dataQualityAssertions") or {}).get("assertions") or []:
            assertions.append({"dataset": ds["name"], "name": a.get("name"), "assertion": a.get("assertion"),
                               "success": a.get("success"), "column": a.get("column"),
                               "severity": a.get("severity")})  # fmt: skip
    return {
        "event_time": dt.datetime.fromisoformat(event["eventTime"].replace("Z", "+00:00")),
        "event_type": event.get("eventType") or "OTHER",
        "run_id": run["runId"],
        "parent_run_id": (parent.get("run") or {}).get("runId"),
        "parent_job": (parent.get("job") or {}).get("name"),
        "namespace": job["namespace"],
        "job": job["name"],
        "partition": _tag(run_facets, "partition"),
        "inputs": inputs,
        "outputs": outputs,
        "assertions": assertions,
        "error_message": error.get("message"),
        "producer": event.get("producer"),
        "run_facets": json.dumps(run_facets, sort_keys=True),
        "job_facets": json.dumps(job.get("facets") or {}, sort_keys=True),
        "input_facets": json.dumps(input_facets, sort_keys=True),
        "output_facets": json.dumps(output_facets, sort_keys=True),
    }


def write_run(project: Project, events: list[dict[str, Any]]) -> Path:
    """Write (or atomically replace) the file of one OpenLineage run with its events so far."""
    first = events[0]
    path = run_file(project, first["job"]["name"], first["run"]["runId"])
    table = pa.Table.from_pylist([flatten(e) for e in events], schema=EVENTS_SCHEMA)
    write_parquet(path, table, EVENTS_SCHEMA)
    return path
