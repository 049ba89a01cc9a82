"""The language stage in a real pipeline run: long-tail languages kept by a manifest's aliases,
the script column, and the models' versions in the OpenLineage events."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml
from tests_support import make_project

from curaline.kernels import langid_tail
from curaline.kernels.langid_wide import MODEL_SHA256
from curaline.lineage.emitter import default_events_file
from curaline.lineage.validate import EventValidator
from curaline.project import Project


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shared_data: Path) -> Project:
    for key in list(os.environ):
        if key.startswith("OPENLINEAGE"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    proj = make_project(tmp_path / "proj")
    monkeypatch.setenv("DAGSTER_HOME", str(proj.dagster_home))
    monkeypatch.setenv("CURALINE_PROJECT", str(proj.root))
    rows = []
    for iso in ("sw", "cy", "en", "sr", "de"):
        lines = (shared_data / "lingua-langid-75lang" / f"{iso}.txt").read_text(encoding="utf-8").splitlines()
        rows += [{"id": f"{iso}{i}", "text": line, "truth": iso} for i, line in enumerate(lines[:20])]
    (proj.root / "corpus" / "multi.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    manifest = {"id": "multi", "license": "CC-BY-4.0", "obtained": "public-dataset", "owner": "data@example.com",
                "location": "../corpus/multi.jsonl", "format": "jsonl", "kind": "document", "fields": {"id": "id"},
                "languages": ["swa", "cym", "eng", "srp-Cyrl"]}  # fmt: skip
    (proj.root / "sources" / "multi.yaml").write_text(yaml.safe_dump(manifest))
    return proj


def _materialize_language_stage(project: Project) -> dict:
    """catalog, then the source_records step (ingest and the per-record chain) of `multi` only, as
    `curaline run` runs them."""
    import dagster as dg

    from curaline import stages
    from curaline.cli import _load_definitions, _prepare_dagster_home
    from curaline.versioning import ensure_repo

    _prepare_dagster_home(project)
    definitions = _load_definitions(project)
    defs = definitions.build_definitions(project)
    ensure_repo(project)
    with dg.DagsterInstance.get() as instance:
        assert defs.resolve_job_def("catalog_job").execute_in_process(instance=instance).success
        instance.add_dynamic_partitions(definitions.source_partitions.name, ["multi"])
        keys = [dg.AssetKey(k) for k in stages.SHARDED_STAGES]  # one step: the source's whole chain, shard by shard
        res = defs.resolve_job_def("per_source_job").execute_in_process(
            instance=instance, partition_key="multi", asset_selection=keys)
        assert res.success
        record = instance.fetch_materializations(dg.AssetKey("language_checked"), limit=1).records[0]
        return dict(record.asset_materialization.metadata)


def test_long_tail_source_through_the_pipeline(project: Project, shared_dir: Path, shared_data: Path) -> None:
    metadata = _materialize_language_stage(project)
    assert MODEL_SHA256 in metadata["models"].value["langid.lid176"]  # what operators see in the UI
    out = pq.read_table(project.stage_path("language_checked", "multi")).to_pylist()
    truth = {json.loads(line)["text"]: json.loads(line)["truth"]
             for line in (project.root / "corpus" / "multi.jsonl").read_text().splitlines()}  # fmt: skip
    kept = [truth[r["text"]] for r in out]
    assert {r["language"] for r in out} <= {"sw", "cy", "en", "sr"}
    assert all(r["script"] == ("Cyrl" if r["language"] == "sr" else "Latn") for r in out)
    for iso, floor in (("sw", 10), ("cy", 15), ("en", 19), ("sr", 15)):  # Lingua: sw 0.71, cy 0.88
        assert kept.count(iso) >= floor, iso
    assert "de" not in kept
    assert "lid176" in {r["lang_model"] for r in out if r["language"] in ("sw", "cy")}
    assert {r["lang_model"] for r in out if r["language"] in ("sw", "cy")} <= {"lid176", "tail"}

    events = [json.loads(line) for line in default_events_file(project).read_text().splitlines()]
    complete = [e for e in events if e["eventType"] == "COMPLETE" and e["job"]["name"] == "language_checked"]
    assert complete
    for event in complete:
        tags = {t["key"]: t["value"] for t in event["run"]["facets"]["tags"]["tags"]}
        assert tags["langid.eld"].startswith("eldc==0.4.0")
        assert MODEL_SHA256 in tags["langid.lid176"] and tags["langid.combination"] == "eld+lid176/v3"
        assert langid_tail.load().sha256 in tags["langid.tail"]
    spec = shared_dir / "openlineage-spec"
    if spec.is_dir():
        validator = EventValidator(spec)
        assert all(validator.validate(e) == [] for e in complete)
