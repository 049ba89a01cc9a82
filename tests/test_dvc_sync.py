"""dvc.yaml is generated from the Dagster asset graph: the table covers the graph, and the
committed dvc.yaml of the repository (an empty project) and a demo project's are in sync."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from tests_support import make_project

from curaline import stages
from curaline.cli import main
from curaline.demo import generate_demo_project
from curaline.dvc_cli import asset_nodes, project_stage_specs
from curaline.project import Project
from curaline.stage_outputs import ASSET_OUTPUTS, AssetNode, AssetOutputs, ProjectInputs, project_inputs, stage_specs
from curaline.versioning import VersioningError, expand_stages, render_dvc_yaml, sync, sync_difference

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def nodes() -> list[AssetNode]:
    import definitions

    return asset_nodes(definitions.build_definitions(Project.at(REPO)).assets or [])


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Project:
    root = tmp_path_factory.mktemp("dvc-sync") / "demo"
    generate_demo_project(root)
    return Project.at(root)


def test_the_repository_dvc_yaml_is_what_sync_generates() -> None:
    project = Project.at(REPO)
    difference = sync_difference(project, project_stage_specs(project))
    assert difference is None, f"{difference}: run `curaline dvc sync --project {REPO}` and commit dvc.yaml"


def test_every_asset_has_output_paths_and_its_dagster_deps_become_dvc_deps(nodes: list[AssetNode], demo: Project) -> None:
    import dagster as dg

    import definitions

    assets = [a for a in definitions.build_definitions(demo).assets or [] if isinstance(a, dg.AssetsDefinition)]
    keys = {k.to_user_string() for a in assets for k in a.keys}
    assert keys <= set(ASSET_OUTPUTS), f"add {sorted(keys - set(ASSET_OUTPUTS))} to ASSET_OUTPUTS"
    inputs = project_inputs(demo)
    specs = {s.name: s for s in stage_specs(nodes, inputs)}
    assert [n.stage for n in nodes if n.stage not in specs] == []
    for node in nodes:
        spec = specs[node.stage]
        assert (spec.foreach is not None) == (node.partitioning is not None), node.stage
        if node.partitioning == "sources":  # every source, or those of the kinds the asset writes for
            kinds = {k for key in node.keys for k in ASSET_OUTPUTS[key].kinds or inputs.kinds.values()}
            assert set(spec.foreach or {}) == {s for s in inputs.sources if inputs.kinds[s] in kinds}
        own = {"sources": "{source}", "releases": "{release}"}.get(node.partitioning or "")
        for key in node.upstream:  # the Dagster dependency, as DVC deps on the upstream's outputs
            entry = ASSET_OUTPUTS[key]
            sources = [s for s in inputs.sources if entry.kinds is None or inputs.kinds[s] in entry.kinds]
            for out in entry.outs:
                wanted = [out.replace(own, "${key}") if own else out]
                if "{source}" in wanted[0]:
                    wanted = [w.replace("{source}", s) for w in wanted for s in sources]
                if "{release}" in wanted[0]:
                    wanted = [w.replace("{release}", r) for w in wanted for r in inputs.releases]
                assert set(wanted) <= set(spec.deps), (node.stage, key, wanted)
    raw = specs["source_records"]  # ingest and the per-record stages: one step, a folder of shards each
    assert raw.deps == ("data/source_catalog.parquet", "sources/${key}.yaml", "${item.data}")
    assert raw.outs == tuple(f"data/{s}/${{key}}" for s in sorted(stages.SHARDED_STAGES))
    assert (raw.foreach or {})["web-crawl"] == {"data": "corpus/web-crawl"}  # a glob: its fixed folder
    assert specs["deduplicated"].outs == ("data/deduplicated",)


def test_the_demo_project_syncs_and_checks(demo: Project) -> None:
    (demo.root / "dvc.yaml").unlink(missing_ok=True)  # another test of this module may have synced it
    runner = CliRunner()
    first = runner.invoke(main, ["dvc", "sync", "--project", str(demo.root), "--json"])
    assert first.exit_code == 0, first.output
    assert json.loads(first.output)["changed"] is True
    again = runner.invoke(main, ["dvc", "sync", "--project", str(demo.root)])
    assert again.exit_code == 0 and "already up to date" in again.output
    check = runner.invoke(main, ["dvc", "sync", "--check", "--project", str(demo.root)])
    assert check.exit_code == 0 and "is in sync" in check.output
    stages = expand_stages(yaml.safe_load((demo.root / "dvc.yaml").read_text()))
    assert {"source_records@web-crawl", "deduplicated", "release@commercial", "release@research-all"} <= set(stages)

    spec = demo.releases_dir / "commercial.yaml"
    shutil.copy(spec, demo.releases_dir / "extra.yaml")
    try:
        stale = runner.invoke(main, ["dvc", "sync", "--check", "--project", str(demo.root)])
        assert stale.exit_code == 1
        assert stale.stderr.count("\n") == 1
        assert ("is out of date: missing stages art10_record@extra, dataset_card@extra, eu_ai_act_summary@extra, "
                "preference_exports@extra and 1 more; run `curaline dvc sync") in stale.stderr
        as_json = runner.invoke(main, ["dvc", "sync", "--check", "--json", "--project", str(demo.root)])
        assert as_json.exit_code == 1 and json.loads(as_json.output)["in_sync"] is False
    finally:
        (demo.releases_dir / "extra.yaml").unlink()
    assert runner.invoke(main, ["dvc", "sync", "--check", "--project", str(demo.root)]).exit_code == 0


def test_a_changed_dvc_yaml_is_reported_and_rewritten(demo: Project, nodes: list[AssetNode]) -> None:
    specs = stage_specs(nodes, project_inputs(demo))
    sync(demo, specs)
    path = demo.root / "dvc.yaml"
    good = path.read_text()
    path.write_text(good.replace("materialize decontaminated --project .", "materialize decontaminated --project ./"))
    assert sync_difference(demo, specs) == f"{path} is out of date: changed stages decontaminated"
    assert sync(demo, specs) is True and path.read_text() == good
    path.write_text(good.replace("# Generated", "# generated"))
    assert sync_difference(demo, specs) == f"{path} is out of date: formatting or comments differ"
    path.unlink()
    assert sync_difference(demo, specs) == f"{path} is missing"
    assert sync(demo, specs) is True


NODES = [
    AssetNode("catalog", ("catalog",), ()),
    AssetNode("clean", ("clean",), ("catalog",), "sources"),
    AssetNode("merged", ("merged",), ("clean",)),
    AssetNode("release", ("release",), ("clean", "merged"), "releases"),
    AssetNode("labels", ("labels",), ("clean",), "sources"),
    AssetNode("votes", ("votes",), ("labels",)),
]
TABLE = {
    "catalog": AssetOutputs(("data/catalog.parquet",), extra_deps=("sources",)),
    "clean": AssetOutputs(("data/clean/{source}.parquet",), extra_deps=("{source_data}",), config=("stages.clean",)),
    "merged": AssetOutputs(("data/merged",)),
    "release": AssetOutputs(("data/releases/{release}",), extra_deps=("releases/{release}.yaml",)),
    "labels": AssetOutputs(("data/labels/{source}.parquet",), kinds=("annotation",)),  # written for b only
    "votes": AssetOutputs(("data/votes",)),
}
INPUTS = ProjectInputs(sources={"a": "corpus/a.jsonl", "b": "/abs/b"}, releases=("r1",),
                       kinds={"a": "document", "b": "annotation"}, config_keys=frozenset({"stages.clean"}))  # fmt: skip


def test_rendering_a_small_graph() -> None:
    text = render_dvc_yaml(stage_specs(NODES, INPUTS, TABLE))
    stages = yaml.safe_load(text)["stages"]
    assert list(stages) == ["catalog", "clean", "merged", "release", "labels", "votes"]
    reordered = [s.name for s in stage_specs(list(reversed(NODES)), INPUTS, TABLE)]  # upstream first, whatever the order
    assert reordered == ["catalog", "clean", "labels", "votes", "merged", "release"]
    assert stages["clean"] == {
        "foreach": {"a": {"data": "corpus/a.jsonl"}, "b": {"data": "/abs/b"}},
        "do": {"cmd": "curaline materialize clean --partition ${key} --project .",
               "deps": ["data/catalog.parquet", "${item.data}"],
               "params": [{"curaline.yaml": ["stages.clean"]}],
               "outs": ["data/clean/${key}.parquet"]},
    }  # fmt: skip
    assert stages["merged"]["deps"] == ["data/clean/a.parquet", "data/clean/b.parquet"]
    assert stages["release"]["do"]["deps"] == ["data/clean/a.parquet", "data/clean/b.parquet", "data/merged",
                                               "releases/${key}.yaml"]  # fmt: skip
    assert stages["labels"]["foreach"] == {"b": {}}  # only the annotation source
    assert stages["votes"]["deps"] == ["data/labels/b.parquet"]
    expanded = expand_stages(yaml.safe_load(text))
    assert expanded["clean@b"]["deps"] == ["data/catalog.parquet", "/abs/b"]
    assert expanded["release@r1"]["outs"] == ["data/releases/r1"]
    assert render_dvc_yaml(stage_specs(NODES, INPUTS, TABLE)) == text  # byte-stable


@pytest.mark.parametrize(
    ("nodes", "table", "message"),
    [
        ([AssetNode("x", ("x",), ())], TABLE, r"no output paths for asset\(s\) x: add them to curaline.stages.STAGES"),
        ([AssetNode("clean", ("clean",), (), "days")], TABLE, r"clean is partitioned by 'days': dvc.yaml knows"),
        ([AssetNode("merged", ("merged",), (), "sources")], TABLE, r"each of its outs needs \{source\}"),
        ([AssetNode("merged", ("merged",), ("ghost",))], TABLE, r"merged depends on ghost, which has no entry"),
        ([AssetNode("catalog", ("catalog",), ("merged",)), AssetNode("merged", ("merged",), ("catalog",))],
         TABLE, r"cycle: catalog -> merged -> catalog"),
    ],
)  # fmt: skip
def test_graph_errors_name_the_asset(nodes: list[AssetNode], table: dict[str, AssetOutputs], message: str) -> None:
    with pytest.raises(VersioningError, match=message):
        stage_specs(nodes, INPUTS, table)


def test_materialize_refuses_unknown_assets_and_missing_partitions(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p")
    runner = CliRunner()
    unknown = runner.invoke(main, ["materialize", "nope", "--project", str(project.root)])
    assert unknown.exit_code == 2 and "no asset 'nope' in the definitions; known: " in unknown.stderr
    partitioned = runner.invoke(main, ["materialize", "normalized", "--project", str(project.root)])
    assert partitioned.exit_code == 2 and "asset normalized is partitioned (sources): give --partition" in partitioned.stderr
    # minhash_bands reads toxicity_screened, never made here (source_records ingests by itself)
    missing = runner.invoke(main, ["materialize", "minhash_bands", "--partition", "notes", "--project", str(project.root)])
    assert missing.exit_code == 1 and "materializing minhash_bands@notes failed" in missing.stderr
