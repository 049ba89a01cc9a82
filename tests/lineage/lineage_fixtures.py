"""A small curated project with lineage, built for the lineage tests (no shared data).

Three sources under different licences, ingested for real, then one cleaning stage
("quality_filtered") run through the real stage runner with a tiny kernel that drops
and modifies known records, so the ledger, the stage outputs and the events agree.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import yaml

from curaline.ingest import ingest_source
from curaline.kernels.base import KernelResult, make_events
from curaline.ledger import write_ledger
from curaline.lineage.emitter import Assertion, LineageEmitter
from curaline.project import Project
from curaline.records import make_doc_id, own_key
from curaline.schemas import RECORD_MODELS, QuarantineRow
from curaline.sources import load_manifests
from curaline.stage import run_record_stage

DAGSTER_RUN = "6f1c2a34-9b7e-4d21-8a5c-0e3f4b2d1c77"
SIGNALS = {"digit_count": pa.int64()}


def make_project(root: Path) -> Project:
    (root / "sources").mkdir(parents=True)
    (root / "corpus").mkdir()
    (root / "corpus" / "notes.jsonl").write_text(
        "".join(f'{{"id": "n{i}", "text": "Note number {i} about curation."}}\n' for i in range(20))
    )
    (root / "corpus" / "chat.jsonl").write_bytes(
        b'{"q": "Say hi", "a": "Hi!"}\n{"q": "broken\n{"q": "empty", "a": ""}\n{"q": "ok?", "a": "Yes."}\n'
    )
    (root / "corpus" / "forum.jsonl").write_text(
        "".join(f'{{"id": "f{i}", "body": "Forum post {i}."}}\n' for i in range(5))
    )
    manifests = {
        "notes": {"location": "../corpus/notes.jsonl", "format": "jsonl", "kind": "document", "fields": {"id": "id"},
                  "license": "CC-BY-4.0", "obtained": "public-dataset"},
        "chat": {"location": "../corpus/chat.jsonl", "format": "jsonl", "kind": "instruction",
                 "fields": {"prompt": "q", "response": "a"}, "license": "CC-BY-NC-4.0", "obtained": "licensed"},
        "forum": {"location": "../corpus/forum.jsonl", "format": "jsonl", "kind": "document",
                  "fields": {"id": "id", "text": "body"}, "license": "CC-BY-SA-4.0", "obtained": "web-crawl",
                  "crawl": {"crawler": "testbot", "user_agent": "testbot/1.0", "respects_robots_txt": True,
                            "tdm_opt_out": "honoured", "period_start": "2024-01-01", "period_end": "2024-02-01"}},
    }  # fmt: skip
    for sid, spec in manifests.items():
        doc = {"id": sid, "owner": "data@example.com", **spec}
        (root / "sources" / f"{sid}.yaml").write_text(yaml.safe_dump(doc))
    return Project.at(root)


def doc_id(source: str, own_id: str) -> str:
    return make_doc_id(source, own_key(own_id))


def digit_kernel(table: pa.Table, *, kind: str, config: object = None) -> KernelResult:
    """Drops documents whose text holds a 7, marks those holding a 3 as modified."""
    text = table["text"]
    digits = pc.utf8_length(pc.replace_substring_regex(text, r"[^0-9]", ""))
    drop = pc.match_substring(text, "7").to_numpy(zero_copy_only=False)
    modify = pc.match_substring(text, "3").to_numpy(zero_copy_only=False) & ~drop
    ids = table["doc_id"]
    dropped = make_events(ids.filter(pa.array(drop)), "drop", "has_digit_seven", value=1.0, threshold=0.0,
                          detail="digits=1")  # fmt: skip
    modified = make_events(ids.filter(pa.array(modify)), "modify", "digit_three_marked", detail="marks=1")
    return KernelResult(table=table.append_column("digit_count", digits), keep=~np.asarray(drop),
                        events=pa.concat_tables([dropped, modified]))  # fmt: skip


def shard_file(project: Project, stage: str, source: str) -> Path:
    """The one shard of a small source in a per-record stage's folder (the layout of curaline.shards)."""
    return project.stage_path(stage, source) / "shard-00000.parquet"


def run_pipeline_with_lineage(project: Project, emitter: LineageEmitter, run_id: str = DAGSTER_RUN) -> None:
    """Ingest every source and filter the document sources, emitting lineage as the assets will."""
    manifests, problems = load_manifests(project.sources_dir)
    assert not problems
    for m in manifests:
        raw = shard_file(project, "raw_records", m.id)
        quarantine = shard_file(project, "quarantined_records", m.id)
        with emitter.materialization("raw_records", parent_run_id=run_id, parent_job="per_source_job",
                                     partition=m.id, description="The source's records.",
                                     owners=["team:data-curation"], engine_version="1.13.27") as run:  # fmt: skip
            run.source(m)
            stats = ingest_source(m, raw, quarantine, project.config.ingest)
            run.output(raw, model=RECORD_MODELS[m.kind], quarantined=dict(stats.quarantined), rows_in=stats.read,
                       source=m, assertions=[Assertion("read_balance", stats.balanced, severity="error")])  # fmt: skip
            run.output(quarantine, model=QuarantineRow, licence_mix=False)
        if m.kind != "document":
            continue
        out = shard_file(project, "quality_filtered", m.id)
        with emitter.materialization("quality_filtered", parent_run_id=run_id, parent_job="per_source_job",
                                     partition=m.id, owners=["team:data-curation"], inputs=[raw]) as run:  # fmt: skip
            stage_stats, events = run_record_stage(digit_kernel, kind=m.kind, config=None, input_path=raw,
                                                   output_path=out, signal_columns=SIGNALS)  # fmt: skip
            write_ledger(project, events, stage="quality_filtered", partition=m.id, run_id=run_id)
            run.output(out, removals=dict(stage_stats.dropped), changes=dict(stage_stats.changed),
                       rows_in=stage_stats.rows_in)  # fmt: skip
            run.assertions(out, [Assertion("rows_balance", stage_stats.balanced, severity="error"),
                                 Assertion("text_not_null", True, column="text", assertion="not_null")])  # fmt: skip


def fresh_run_id() -> str:
    return str(uuid.uuid4())


def read_jsonl(path: Path) -> Iterator[dict[str, object]]:
    import json

    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


RELEASE_RECORD_COLUMNS = ("doc_id", "source_id", "kind", "license", "license_class", "split", "copies")


def write_release_version(project: Project, name: str, version: int, records: list[dict[str, object]], *,
                          created_at: str, status: str = "released", use: str = "research") -> dict[str, object]:  # fmt: skip
    """One release version as the release contract lays it out: ``v<N>.parquet`` (release_records)
    and its manifest ``v<N>.json``, under ``lineage/releases/release=<name>/``; returns the manifest."""
    import json

    from curaline.store import write_parquet

    n = len(records)
    table = pa.table({
        "release": pa.array([name] * n, pa.string()),
        "version": pa.array([version] * n, pa.int32()),
        **{c: pa.array([r[c] for r in records], pa.int16() if c == "copies" else pa.string()) for c in RELEASE_RECORD_COLUMNS},
    })  # fmt: skip
    folder = project.lineage_dir / "releases" / f"release={name}"
    write_parquet(folder / f"v{version}.parquet", table)
    rows = sum(int(r["copies"]) for r in records)  # type: ignore[call-overload]
    splits = {s: {"records": sum(r["split"] == s for r in records),
                  "rows": sum(int(r["copies"]) for r in records if r["split"] == s),  # type: ignore[call-overload]
                  "tokens": 10 * sum(int(r["copies"]) for r in records if r["split"] == s)}  # type: ignore[call-overload]
              for s in ("train", "validation", "test")}  # fmt: skip
    sources = sorted({str(r["source_id"]) for r in records})
    manifest: dict[str, object] = {
        "name": name, "version": version, "created_at": created_at, "description": f"{name} for the tests",
        "use": use, "spec": {"name": name, "use": use, "sources": "all"}, "status": status,
        "records": n, "rows": rows, "tokens": 10 * rows, "bytes": 1000 * version, "splits": splits,
        "kinds": {"document": {"records": n, "tokens": 10 * rows}},
        "languages": {"en": {"records": n, "tokens": 10 * rows}}, "domains": {},
        "mix": {"by": "source", "rule": "proportional", "groups": {}},
        "sources": [{"id": s, "records": sum(r["source_id"] == s for r in records)} for s in sources],
        "license_mix": {}, "licenses": {}, "obligations": [],
        "gate": {"use": use, "passed": status == "released", "allowed_classes": [], "violations": []},
        "files": [], "dvc": {"path": f"data/releases/{name}", "md5": f"{version:032x}.dir"},
        "git": {"commit": None, "tag": f"release/{name}/v{version}"},
        "pipeline": {"stages": ["raw_records", "quality_filtered"], "removed": {}},
    }  # fmt: skip
    (folder / f"v{version}.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return manifest


def release_record(doc: str, split: str = "train", copies: int = 1, *, source: str = "notes",
                   license: str = "CC-BY-4.0", license_class: str = "commercial") -> dict[str, object]:  # fmt: skip
    return {"doc_id": doc, "source_id": source, "kind": "document", "license": license,
            "license_class": license_class, "split": split, "copies": copies}  # fmt: skip
