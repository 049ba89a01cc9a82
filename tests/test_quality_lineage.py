"""The quality stage in a real run: per-source settings applied, the model named in lineage."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml
from tests_support import make_project, prose

from curaline.lineage.emitter import default_events_file
from curaline.lineage.validate import EventValidator
from curaline.project import Project

TURNS = ["Could you send me the report by Friday, please?", "Which train goes to the airport after midnight?",
         "Thanks, the new settings fixed the build for me."]  # fmt: skip


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    proj = make_project(tmp_path / "proj")
    corpus = proj.root / "corpus"
    (corpus / "turns.jsonl").write_text("".join(json.dumps({"id": f"t{i}", "text": t}) + "\n" for i, t in enumerate(TURNS)))
    (corpus / "essays.jsonl").write_text("".join(json.dumps({"id": f"e{i}", "text": prose(i, 150)}) + "\n" for i in range(6)))
    base = {"format": "jsonl", "kind": "document", "fields": {"id": "id"}, "license": "CC-BY-4.0",
            "obtained": "public-dataset", "languages": ["en"]}  # fmt: skip
    for sid, extra in {"turns": {"profile": "short-text"}, "turns-plain": {}, "essays": {}}.items():
        location = "../corpus/turns.jsonl" if sid.startswith("turns") else "../corpus/essays.jsonl"
        (proj.sources_dir / f"{sid}.yaml").write_text(yaml.safe_dump({"id": sid, "location": location, **base, **extra}))
    monkeypatch.setenv("DAGSTER_HOME", str(proj.dagster_home))
    monkeypatch.setenv("CURALINE_PROJECT", str(proj.root))
    return Project.at(proj.root)


def test_profiles_apply_per_source_and_the_model_is_an_input_of_every_quality_run(project: Project, shared_dir: Path) -> None:
    from curaline.cli import run_pipeline

    assert run_pipeline(project, echo=lambda _: None)
    kept = {sid: pq.read_table(project.stage_path("quality_filtered", sid)).num_rows
            for sid in ("turns", "turns-plain", "essays")}  # fmt: skip
    assert kept == {"turns": 3, "turns-plain": 0, "essays": 6}  # same records, the profile decides
    essays = pq.read_table(project.stage_path("quality_filtered", "essays"))
    assert essays["q_model_score"].null_count == 0 and min(essays["q_model_score"].to_pylist()) >= 0.1
    events = [json.loads(line) for line in default_events_file(project).read_text().splitlines()]
    quality = [e for e in events if e["job"]["name"] == "quality_filtered" and e["eventType"] == "COMPLETE"]
    assert len(quality) == 5  # every source partition (chat and notes too)
    scored = [e for e in quality if e["run"]["facets"]["tags"] and any(
        t["key"] == "partition" and t["value"] in ("turns", "turns-plain", "essays", "notes") for t in e["run"]["facets"]["tags"]["tags"])]  # fmt: skip
    assert len(scored) == 4  # the document sources; chat (instructions) is not scored by the classifier
    for e in scored:
        [model] = [i for i in e["inputs"] if i["name"].endswith("default.npz")]
        doc = model["facets"]["documentation"]["description"]
        assert "oasst-sample (Apache-2.0" in doc and "dolma-cc-2019 (LicenseRef-CommonCrawl-ToU" in doc
        assert model["facets"]["version"]["datasetVersion"].startswith("sha256:")
    declared = [ds["facets"]["curaline_sourceDeclaration"] for e in events for ds in e.get("inputs", []) + e.get("outputs", [])
                if ds.get("facets", {}).get("curaline_sourceDeclaration", {}).get("sourceId") == "turns"]  # fmt: skip
    assert declared and all(d["stageSettings"] == {"profile": "short-text", "stages": {}} for d in declared)
    validator = EventValidator(shared_dir / "openlineage-spec")
    assert all(validator.validate(e) == [] for e in events)
