"""The stage registry (curaline.stages) is the one place a stage is written down: the
Dagster Definitions, their jobs, dvc.yaml and the reports agree with it."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import dagster as dg
import pytest
import yaml

import definitions
from curaline import stages
from curaline.dvc_cli import asset_nodes, project_stage_specs
from curaline.project import Project
from curaline.reports.operations import PURPOSE, STAGE_CONFIGS
from curaline.stage_outputs import ASSET_OUTPUTS, registry_nodes
from curaline.versioning import expand_stages

REPO = Path(__file__).resolve().parents[1]
#: assets/ modules that are frames shared by the stages, not stages
SHARED_MODULES = {"__init__", "common", "record_stage", "global_stage", "kept_fraction"}  # kept_fraction: a check


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    return definitions.build_definitions(Project.at(REPO))


def test_registry_and_definitions_have_the_same_assets_steps_and_deps(defs: dg.Definitions) -> None:
    from_dagster = {n.stage: n for n in asset_nodes(defs.assets or [])}
    from_registry = {n.stage: n for n in registry_nodes()}
    assert from_dagster == from_registry
    graph = defs.resolve_asset_graph()
    assert {k.to_user_string() for k in graph.get_all_asset_keys()} == set(stages.BY_NAME)
    for row in stages.STAGES:
        node = graph.get(dg.AssetKey(row.name))
        assert {k.to_user_string() for k in node.parent_keys} == set(row.upstream), row.name
        assert node.group_name == row.group, row.name
        assert node.code_version == row.code_version == stages.code_version(row.name), row.name
        assert getattr(node.partitions_def, "name", None) == row.partitions, row.name


def test_each_scope_is_one_job_in_run_order(defs: dg.Definitions) -> None:
    assert [j.name for j in definitions.JOBS] == [stages.JOBS[s] for s in stages.SCOPES]
    for scope in stages.SCOPES:
        job = defs.resolve_job_def(stages.JOBS[scope])
        keys = {k.to_user_string() for k in job.asset_layer.executable_asset_keys}
        assert keys == {s.name for s in stages.of_scope(scope)}, scope


def test_the_repository_dvc_yaml_has_one_stage_per_registry_step() -> None:
    committed = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    assert list(committed) == list(dict.fromkeys(s.step for s in stages.STAGES))
    assert [s.name for s in project_stage_specs(Project.at(REPO))] == list(committed)
    for row in stages.STAGES:
        outs = expand_stages({"stages": {row.step: committed[row.step]}})
        assert all(o.replace("${key}", "{" + "source}") in row.outputs or "${key}" not in o
                   for spec in outs.values() for o in spec.get("outs", [])), row.name  # fmt: skip
    assert set(ASSET_OUTPUTS) == set(stages.BY_NAME)


def test_rows_come_after_their_upstream_and_name_what_exists() -> None:
    seen: set[str] = set()
    for row in stages.STAGES:
        assert set(row.upstream) <= seen, f"{row.name} comes before its upstream {set(row.upstream) - seen}"
        seen.add(row.name)
        module = importlib.import_module(row.asset_module)
        assert isinstance(getattr(module, row.step), dg.AssetsDefinition), row.name
        assert row.kernel is not None and callable(stages.kernel_function(row.name)), row.name
        if row.config:
            assert stages.config_class(row.name).__dataclass_fields__ is not None
        assert set(row.reads_config) <= {s.name for s in stages.STAGES if s.config}, row.name
    modules = {p.stem for p in (REPO / "assets").glob("*.py")} - SHARED_MODULES
    assert modules == {s.module or s.name for s in stages.STAGES}, "an asset module without a registry row"


def test_a_stage_is_one_row_one_kernel_and_one_short_asset_module(defs: dg.Definitions) -> None:
    """Per-source record stages are made by one step of the record_stage frame (shard by shard),
    global ones by global_stage_asset; the modules naming them stay short."""
    frames = {"source": "assets.record_stage", "global": "assets.global_stage"}
    for assets_def in defs.assets or []:
        assert isinstance(assets_def, dg.AssetsDefinition)
        rows = [r for r in stages.STAGES if r.step == assets_def.op.name]
        assert rows, assets_def.op.name
        fn = assets_def.op.compute_fn
        made_in = getattr(fn, "decorated_fn", fn).__module__
        for row in rows:
            if row.records:
                assert made_in == frames[row.scope], row.name
                lines = (REPO / "assets" / f"{row.module or row.name}.py").read_text().count("\n")
                assert lines <= 80, f"assets/{row.module or row.name}.py has {lines} lines: the frame belongs in {frames[row.scope]}"
    assert stages.SHARDED_STAGES == ("raw_records", "quarantined_records", *stages.PER_SOURCE_STAGES[1:])
    assert {r.step for r in stages.STAGES if r.name in stages.SHARDED_STAGES} == {stages.SOURCE_RECORDS}


def test_derived_lists_follow_the_registry() -> None:
    # PII is redacted right after normalization: nothing that judges the text sees it (curaline/pii_stages.py)
    assert stages.PER_SOURCE_STAGES == ("raw_records", "url_filtered", "normalized", "pii_redacted",
                                        "language_checked", "quality_filtered", "toxicity_screened")  # fmt: skip
    assert stages.GLOBAL_STAGES == ("deduplicated", "decontaminated", "preference_pairs")
    flow = stages.FLOW_ORDER
    assert flow.index("toxicity_screened") < flow.index("minhash_bands") < flow.index("deduplicated")
    assert stages.PII_STAGES == ("raw_records", "quarantined_records", "url_filtered", "normalized")
    # past redaction no stage reads a PII-holding output (decontamination reads evaluation items redacted);
    # the annotation stages read judgements (labels, no text) from raw_records
    annotation = {"annotation_agreement", "adjudicated_labels", "review_queue"}
    for row in stages.STAGES[stages.STAGES.index(stages.stage("pii_redacted")) + 1 :]:
        reads = {*row.upstream, *(d.split("/")[1] for d in row.extra_deps if d.startswith("data/"))}
        assert not reads & set(stages.PII_STAGES) or row.name in annotation, row.name
    assert set(PURPOSE) == {*stages.PER_SOURCE_STAGES, *stages.GLOBAL_STAGES, "semantic_deduplicated", "release"}
    assert STAGE_CONFIGS["deduplicated"] == [("deduplicated", "curaline.kernels.dedup:DedupConfig"),
                                             ("minhash_bands", "curaline.kernels.minhash:MinHashConfig")]  # fmt: skip
    assert ASSET_OUTPUTS["minhash_bands"].config == ("stages.minhash_bands", "stages.deduplicated")
    with pytest.raises(KeyError, match="no stage 'language' in curaline.stages.STAGES; known: source_catalog"):
        stages.stage("language")


def test_code_version_follows_the_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "kernel_x.py").write_text("def k(t):\n    return t\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    before = stages.source_hash(["kernel_x"])
    assert stages.source_hash(["kernel_x"]) == before
    (tmp_path / "kernel_x.py").write_text("def k(t):\n    return t[:1]\n")
    assert stages.source_hash(["kernel_x"]) != before
    assert "kernel_x" not in sys.modules  # hashed from the file, never imported
    with pytest.raises(ValueError, match="module no_such_kernel of the stage registry is not importable"):
        stages.source_hash(["no_such_kernel"])


def test_code_version_follows_the_model_files(tmp_path: Path) -> None:
    """A rebuilt model (the language stage's tail model, the quality classifier) changes its stage's code version."""
    (tmp_path / "kernels").mkdir()
    model = tmp_path / "kernels" / "model.npz"
    model.write_bytes(b"one")
    before = stages.files_hash(["kernels/model.npz"], root=tmp_path)
    model.write_bytes(b"two")
    assert stages.files_hash(["kernels/model.npz"], root=tmp_path) != before
    with pytest.raises(ValueError, match="model file kernels/gone.npz of the stage registry is not in"):
        stages.files_hash(["kernels/gone.npz"], root=tmp_path)
    # every listed file is shipped, and the stages that read one name it
    assert "kernels/langid_tail.npz" in stages.stage("language_checked").model_files
    assert "kernels/quality_model_data/default.npz" in stages.stage("quality_filtered").model_files
    for row in stages.STAGES:
        stages.files_hash(list(row.model_files))
    language = stages.stage("language_checked")
    modules = [language.kernel.partition(":")[0], *language.code]  # type: ignore[union-attr]
    assert stages.code_version("language_checked") != stages.source_hash(modules)  # the files are in it


def test_the_files_a_stage_settings_name_are_deps_of_its_dvc_stage(tmp_path: Path) -> None:
    """url_filtered's block/allow lists (curaline.yaml, and a source's own `stages:`) are deps of
    the step that runs it; a list outside the project is an absolute dep; a bad setting is refused."""
    from tests_support import make_project

    from curaline.versioning import VersioningError

    project = make_project(tmp_path / "p")
    outside = tmp_path / "shared-lists" / "allow.txt"
    (project.root / "curaline.yaml").write_text(yaml.safe_dump({"stages": {"url_filtered": {
        "domains": ["lists/blocked.txt", "./lists/blocked.txt"], "ut1": ["lists/ut1"], "allow": [str(outside)]}}}))  # fmt: skip
    notes = yaml.safe_load((project.root / "sources" / "notes.yaml").read_text())
    (project.root / "sources" / "notes.yaml").write_text(yaml.safe_dump(
        {**notes, "stages": {"url_filtered": {"patterns": ["lists/notes-patterns.txt"]}}}))  # fmt: skip
    specs = {s.name: s for s in project_stage_specs(Project.at(project.root))}
    deps = specs[stages.SOURCE_RECORDS].deps
    assert deps[-4:] == ("lists/blocked.txt", "lists/ut1", str(outside), "lists/notes-patterns.txt")
    assert all("lists" not in d for s, spec in specs.items() if s != stages.SOURCE_RECORDS for d in spec.deps)
    # without lists: no extra deps
    (project.root / "curaline.yaml").write_text("stages: {}\n")
    (project.root / "sources" / "notes.yaml").write_text(yaml.safe_dump(notes))
    bare = {s.name: s for s in project_stage_specs(Project.at(project.root))}[stages.SOURCE_RECORDS]
    assert bare.deps == ("data/source_catalog.parquet", "sources/${key}.yaml", "${item.data}")
    (project.root / "curaline.yaml").write_text(yaml.safe_dump({"stages": {"url_filtered": {"domain": ["x"]}}}))
    with pytest.raises(VersioningError, match=r"stages.url_filtered: unknown setting\(s\) domain; allowed: allow, domains"):
        project_stage_specs(Project.at(project.root))
