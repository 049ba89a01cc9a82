"""The annotation assets in Dagster, in-process: every partition kind passes the per-source job,
labels join their target records, and a task under its alpha floor blocks its labels."""

from __future__ import annotations

import json
import random
from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq
import pytest
import yaml

from curaline.project import Project
from curaline.records import make_doc_id, own_key

BASE = {"license": "CC-BY-4.0", "obtained": "public-dataset", "owner": "data@example.com"}
WORDS = "river city history music school market bridge winter summer garden village station museum".split()


def make_project(root: Path) -> Project:
    """docs (documents), ratings (annotations of docs, reliable), noisy (annotations, random)."""
    rng = random.Random(5)
    corpus = root / "corpus"
    corpus.mkdir(parents=True)
    (root / "sources").mkdir()
    docs = [{"id": f"d{i}", "text": " ".join(rng.choice(WORDS) for _ in range(60)) + ".", "url": f"https://example.org/{i}"}
            for i in range(12)]  # fmt: skip
    (corpus / "docs.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    truth = {d["id"]: rng.choice(["relevant", "off-topic"]) for d in docs}
    ratings, noisy = [], []
    for item, label in truth.items():
        for who in ("ann1", "ann2", "ann3", "ann4"):
            flip = who == "ann4" and item in ("d1", "d2")  # ann4 errs twice
            given = ("off-topic" if label == "relevant" else "relevant") if flip else label
            ratings.append({"doc": item, "rater": who, "verdict": given, "gold": label if item == "d0" else None})
            noisy.append({"doc": item, "rater": who, "verdict": rng.choice(["relevant", "off-topic"])})
    for name, rows in (("ratings", ratings), ("noisy", noisy)):
        (corpus / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    specs = {
        "docs": {"location": "../corpus/docs.jsonl", "format": "jsonl", "kind": "document",
                 "fields": {"id": "id", "url": "url"}},
        "ratings": {"location": "../corpus/ratings.jsonl", "format": "jsonl", "kind": "annotation",
                    "label_type": "nominal", "labels": ["relevant", "off-topic"], "target_source": "docs",
                    "fields": {"item_id": "doc", "annotator_id": "rater", "label": "verdict", "gold": "gold"}},
        "noisy": {"location": "../corpus/noisy.jsonl", "format": "jsonl", "kind": "annotation", "label_type": "nominal",
                  "alpha_floor": 0.8, "fields": {"item_id": "doc", "annotator_id": "rater", "label": "verdict"}},
    }  # fmt: skip
    for sid, spec in specs.items():
        (root / "sources" / f"{sid}.yaml").write_text(yaml.safe_dump({"id": sid, **BASE, **spec}))
    (root / "curaline.yaml").write_text(yaml.safe_dump({"stages": {"quality_filtered": {
        "gopher_quality": False, "gopher_repetition": False, "c4": False, "fineweb": False}}}))  # fmt: skip
    return Project.at(root)


@pytest.fixture
def defs_and_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[dg.Definitions, Project]:
    import definitions
    from assets.annotation import ANNOTATION_ASSETS
    from assets.common import source_partitions
    from resources.lineage import LineageResource
    from resources.project import ProjectResource

    project = make_project(tmp_path / "proj")
    monkeypatch.setenv("DAGSTER_HOME", str(project.dagster_home))
    project.dagster_home.mkdir(parents=True)
    per_source = dg.define_asset_job("per_source_job", partitions_def=source_partitions,
                                     selection=dg.AssetSelection.assets(*definitions.PER_SOURCE_ASSETS, *ANNOTATION_ASSETS))  # fmt: skip
    defs = dg.Definitions(
        assets=[*definitions.CATALOG_ASSETS, *definitions.PER_SOURCE_ASSETS, *ANNOTATION_ASSETS, *definitions.GLOBAL_ASSETS],
        jobs=[definitions.catalog_job, per_source, dg.define_asset_job("global_job", selection=dg.AssetSelection.assets(
            *definitions.GLOBAL_ASSETS))],
        resources={"project": (proj := ProjectResource(root=str(project.root))), "lineage": LineageResource(project=proj)},
    )  # fmt: skip
    return defs, project


def test_annotation_partitions_pass_the_chain_and_labels_join_their_records(defs_and_project) -> None:
    defs, project = defs_and_project
    with dg.DagsterInstance.get() as instance:
        assert defs.resolve_job_def("catalog_job").execute_in_process(instance=instance).success
        instance.add_dynamic_partitions("sources", ["docs", "ratings", "noisy"])
        job = defs.resolve_job_def("per_source_job")
        for key in ("docs", "ratings"):
            assert job.execute_in_process(instance=instance, partition_key=key).success, key
        assert defs.resolve_job_def("global_job").execute_in_process(instance=instance).success

        # a document partition: the annotation assets record nothing (no materialization to show
        # in the UI), their checks pass with a note, and nothing is written
        docs_meta = {e.partition_key: e.asset_materialization.metadata for e in
                     instance.fetch_materializations(dg.AssetKey("annotation_agreement"), limit=10).records}  # fmt: skip
        assert set(docs_meta) == {"ratings"}
        for key in ("annotation_agreement", "adjudicated_labels", "review_queue"):
            assert instance.get_materialized_partitions(dg.AssetKey(key)) == {"ratings"}, key
        [docs_run] = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/partition": "docs"}), limit=1)
        notes = [e.dagster_event.asset_check_evaluation_data for e in instance.all_logs(docs_run.run_id)
                 if e.dagster_event and e.dagster_event.event_type_value == "ASSET_CHECK_EVALUATION"
                 and e.dagster_event.asset_check_evaluation_data.check_name == "alpha_floor"]  # fmt: skip
        assert notes and notes[0].passed and "is a `document` source" in notes[0].metadata["note"].value
        assert not project.stage_path("annotation_agreement", "docs").exists()

        # the annotation partition: judgements passed every text stage unchanged
        raw = pq.read_table(project.stage_path("raw_records", "ratings"))
        assert pq.read_table(project.stage_path("toxicity_screened", "ratings")).equals(raw)
        assert pq.read_table(project.stage_path("minhash_bands", "ratings")).num_rows == 0
        assert not project.stage_path("deduplicated", "ratings").exists()  # annotations are not training text
        assert pq.read_table(project.stage_path("deduplicated", "docs"))["url"].to_pylist()[:2] == [
            "https://example.org/0", "https://example.org/1"]

        meta = docs_meta["ratings"]
        assert meta["tasks_below_floor"].value == 0 and meta["krippendorff_alpha"].value > 0.667
        assert "data:image/svg+xml;base64," in meta["report"].value and "| ratings | nominal | 12 | 4 | 48 |" in meta["report"].value
        checks = instance.event_log_storage.get_latest_asset_check_execution_by_key(
            [dg.AssetCheckKey(dg.AssetKey("annotation_agreement"), "alpha_floor")])  # fmt: skip
        assert checks

        labels = pq.read_table(project.stage_path("adjudicated_labels", "ratings"))
        assert labels.column_names == ["source_id", "task", "item_id", "target_doc_id", "label", "confidence",
                                       "method", "n_judgements"]  # fmt: skip
        assert sorted(set(labels["method"].to_pylist())) == ["dawid-skene", "majority"] and labels.num_rows == 24
        docs = pq.read_table(project.stage_path("raw_records", "docs"))
        assert set(labels["target_doc_id"].to_pylist()) == set(docs["doc_id"].to_pylist())
        d1 = [r for r in labels.to_pylist() if r["item_id"] == "d1"]
        assert {r["target_doc_id"] for r in d1} == {make_doc_id("docs", own_key("d1"))}
        assert all(r["n_judgements"] == 4 for r in d1)
        per_annotator = pq.read_table(project.stage_path("annotator_agreement", "ratings")).to_pylist()
        assert {r["annotator_id"]: r["gold_judgements"] for r in per_annotator} == {"ann1": 1, "ann2": 1, "ann3": 1, "ann4": 1}
        assert pq.read_table(project.stage_path("review_queue", "ratings")).column_names[0] == "priority"


def test_a_task_under_its_alpha_floor_blocks_its_labels(defs_and_project) -> None:
    defs, project = defs_and_project
    with dg.DagsterInstance.get() as instance:
        assert defs.resolve_job_def("catalog_job").execute_in_process(instance=instance).success
        instance.add_dynamic_partitions("sources", ["noisy"])
        result = defs.resolve_job_def("per_source_job").execute_in_process(
            instance=instance, partition_key="noisy", raise_on_error=False)  # fmt: skip
        assert not result.success
        check = next(e for e in result.get_asset_check_evaluations() if e.check_name == "alpha_floor")
        assert not check.passed
        report = check.metadata["report"].value
        assert "| noisy | nominal | 12 | 4 | 48 |" in report and "**fails**" in report and "under the floor" in report
        assert "0.800" in report  # the manifest's floor, not the default
        # the agreement itself is recorded (operators need its report); the labels step never ran
        assert project.stage_path("annotation_agreement", "noisy").exists()
        assert "adjudicated_labels" not in {e.step_key for e in result.get_step_success_events()}
        assert not project.stage_path("adjudicated_labels", "noisy").exists()
        assert not instance.fetch_materializations(dg.AssetKey("adjudicated_labels"), limit=1).records
