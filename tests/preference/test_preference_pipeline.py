"""preference_pairs through the real stages: ingest, cleaning, PII, dedup and decontamination run
as Dagster jobs on a small project, then the asset; every bad pair is removed by the stage that
owns its problem, and the ledger says which and why."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import duckdb
import pyarrow.parquet as pq
import pytest
import yaml
from tests_support import make_project

from curaline.project import Project
from curaline.records import make_doc_id, own_key

BASIL = "How should I store fresh basil so that it stays green for longer?"
BASIL_GOOD = ("Trim the ends of the stems, stand the basil in a glass of water on the kitchen counter, "
              "and cover the leaves loosely with a plastic bag. Change the water every two days.")  # fmt: skip
BASIL_BAD = "Put it straight into the freezer in a sealed box and leave it there until you need some of it."
RUN = "What is a sensible way to start running if I have never done any sport before?"
RUN_GOOD = ("Begin with short sessions that mix one minute of easy running with two minutes of walking, "
            "three times a week. Add a few minutes each week and rest on the days in between so that "
            "your legs can recover and you do not lose the wish to go out again.")  # fmt: skip
RUN_BAD = ("Run as far and as fast as you possibly can on the very first day, and keep going every single "
           "day after that even when your knees hurt, because pain simply means that it is working.")  # fmt: skip
RUN_BAD2 = ("Buy the most expensive running shoes in the shop first, because the right equipment matters "
            "far more than any amount of practice ever will.")  # fmt: skip
PET = "Which is the better first pet for a small flat in the city, a cat or a large dog?"
CAT = ("A cat usually suits a small flat better, because it needs far less space, can stay alone "
       "during the working day and does not need to be walked several times a day.")  # fmt: skip
DOG = ("A large dog is the ideal pet for a small flat, since it will happily spend the whole day "
       "waiting in a corner for you to come home from work in the evening.")  # fmt: skip
EVAL_ITEM = "The survey asked which planet in our solar system has the largest number of known moons today"
HEATER = "Who should I write to about the broken heater in my rented flat this winter?"
CUT = ("You could start by checking the thermostat settings and the fuse box in the hallway, then look "
       "at whether the radiators are warm at the top or only at the bottom, and after that you might "
       "want to speak to your neighbours about whether their heating also stopped working during the")  # fmt: skip

#: (id, prompt, chosen, rejected): what each row tests is in its id
PAIRS = [
    ("clean-basil", BASIL, BASIL_GOOD, BASIL_BAD),
    ("clean-run", RUN, RUN_GOOD, RUN_BAD),
    ("exact-dup", BASIL.upper(), BASIL_GOOD.replace(" ", "  "), BASIL_BAD),  # same after folding
    ("near-dup", RUN, RUN_GOOD.replace("three times", "four times"), RUN_BAD),
    ("run-second-rank", RUN, RUN_GOOD, RUN_BAD2),  # the same ranking's next pair: same prompt and chosen
    ("pet-cat-wins", PET, CAT, DOG),
    ("pet-dog-wins", PET, DOG, CAT),  # the same pair judged the other way
    ("contaminated", f"Please answer this quiz question for me. {EVAL_ITEM}?", "It is Saturn, with well over one "
     "hundred confirmed moons.", "It is Mars, which has hundreds of large moons."),
    ("identical", "What colour is a ripe banana usually when you buy it?", "It is usually yellow.", "It is usually yellow."),
    ("empty-rejected", "Tell me a fact about owls that most people do not know.", "Owls cannot move their eyes.", " "),
    ("pii-identical", HEATER, "Write to the caretaker at jo.smith@example.org and describe the problem.",
     "Write to the caretaker at kim.lee@example.net and describe the problem."),  # equal once redacted
    ("truncated", "How can I find out why my heating stopped working last night?", CUT,
     "Just wait until spring, it will fix itself."),
]  # fmt: skip


def doc(pair_id: str) -> str:
    return make_doc_id("prefs", own_key(pair_id))


def ledger(project: Project, stage: str) -> dict[str, str]:
    pattern = str(project.lineage_dir / "ledger" / f"stage={stage}" / "**" / "*.parquet")
    with duckdb.connect() as con:
        rows = con.execute(
            "SELECT doc_id, reason FROM read_parquet(?, hive_partitioning = false)", [pattern]
        ).fetchall()
    return dict(rows)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    root = tmp_path / "proj"
    make_project(root)
    corpus = root / "corpus"
    (corpus / "prefs.jsonl").write_text("".join(
        json.dumps({"id": i, "q": p, "c": c, "r": r}) + "\n" for i, p, c, r in PAIRS))  # fmt: skip
    (corpus / "quiz.jsonl").write_text(json.dumps({"id": "q1", "question": EVAL_ITEM}) + "\n")
    base = {"license": "MIT", "obtained": "public-dataset", "owner": "data@example.com"}
    specs = {
        "prefs": {"location": "../corpus/prefs.jsonl", "format": "jsonl", "kind": "preference", "domain": "chat",
                  "fields": {"id": "id", "prompt": "q", "chosen": "c", "rejected": "r"}},
        "quiz": {"location": "../corpus/quiz.jsonl", "format": "jsonl", "kind": "evaluation",
                 "fields": {"id": "id", "text": "question"}},
    }  # fmt: skip
    for sid, spec in specs.items():
        (root / "sources" / f"{sid}.yaml").write_text(yaml.safe_dump({"id": sid, **base, **spec}))
    # redact even documentation addresses (example.org), so the PII pair below is redacted
    (root / "curaline.yaml").write_text(yaml.safe_dump({"stages": {"pii_redacted": {"keep_reserved_examples": False}}}))
    monkeypatch.setenv("DAGSTER_HOME", str(root / ".dagster"))
    return Project.at(root)


def test_preference_pairs_through_the_real_stages(project: Project) -> None:
    import definitions
    from assets.preference_pairs import preference_pairs
    from resources.lineage import LineageResource
    from resources.project import ProjectResource

    defs = definitions.build_definitions(project)
    project.dagster_home.mkdir(parents=True, exist_ok=True)
    partitions = ["chat", "notes", "prefs", "quiz"]
    with dg.DagsterInstance.get() as instance:
        assert defs.resolve_job_def("catalog_job").execute_in_process(instance=instance).success
        instance.add_dynamic_partitions("sources", partitions)
        for key in partitions:
            assert (
                defs.resolve_job_def("per_source_job").execute_in_process(instance=instance, partition_key=key).success
            )
        assert defs.resolve_job_def("global_job").execute_in_process(instance=instance).success
        res = ProjectResource(root=str(project.root))
        result = dg.materialize([preference_pairs], instance=instance,
                                resources={"project": res, "lineage": LineageResource(project=res)})  # fmt: skip
        assert result.success
        meta = result.asset_materializations_for_node("preference_pairs")[0].metadata
        checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
        run_id = result.run_id

    # upstream owns these, and does remove them
    quarantine = pq.read_table(project.stage_path("quarantined_records", "prefs")).to_pylist()
    assert [(q["reason"], q["field"]) for q in quarantine] == [("empty_text", "rejected")]
    quality = ledger(project, "quality_filtered")
    assert quality[doc("identical")] == "pref_identical_responses"
    # PII redaction runs before the quality stage and made these answers equal: its rule drops them
    assert quality[doc("pii-identical")] == "pref_identical_responses"
    dedup = ledger(project, "deduplicated")
    assert dedup[doc("exact-dup")] == "exact_duplicate"
    # near copies merge only when prompt, chosen and rejected each are near copies: the next pair
    # of the same ranking (A>B, then A>C) looks alike as a whole but stays
    run_pair = {doc("clean-run"), doc("near-dup")}
    [merged] = run_pair & set(dedup)
    assert dedup[merged] == "near_duplicate" and doc("run-second-rank") not in dedup
    [run_kept] = run_pair - {merged}
    assert ledger(project, "decontaminated")[doc("contaminated")] == "contaminated_eval_ngram"

    # the pair-level checks
    pairs = ledger(project, "preference_pairs")
    assert pairs[doc("truncated")] == "truncated_chosen"
    # a reversed pair (A>B and B>A for the same prompt): both sides are dropped
    pet = {d: dedup.get(d) or pairs.get(d) for d in (doc("pet-cat-wins"), doc("pet-dog-wins"))}
    assert sorted(pet.values()) == ["contradicting_pair", "contradicting_pair"]
    assert set(pairs) == {doc("truncated"), *pet}

    kept = pq.read_table(project.stage_path("preference_pairs", "prefs"))
    assert sorted(kept["doc_id"].to_pylist()) == sorted([doc("clean-basil"), run_kept, doc("run-second-rank")])
    # basil was judged twice (the exact copy), the running pairs once each (judgements count exact copies)
    judged = dict(zip(kept["doc_id"].to_pylist(), kept["pref_judgements"].to_pylist(), strict=True))
    assert judged == {doc("clean-basil"): 2, run_kept: 1, doc("run-second-rank"): 1}
    assert kept["pref_agreement"].to_pylist() == [1.0, 1.0, 1.0]
    assert not project.stage_path("preference_pairs", "notes").exists()  # other kinds pass by

    assert checks == {"preference_pairs_balance": True, "preference_pairs_schema": True}
    assert (meta["rows_in"].value, meta["rows_out"].value, meta["dropped"].value) == (6, 3, 3)
    assert {r.data["reason"]: r.data["count"] for r in meta["dropped_by_reason"].value.records} == {
        "truncated_chosen": 1, "contradicting_pair": 2}  # fmt: skip
    assert meta["prompts"].value == 2 and meta["length_bias"].value == 1.0  # both chosen answers are longer
    # repeated judgements before dedup: basil (2x, agreeing) and the pet pair (2x, both ways)
    assert meta["multi_judged_pairs"].value == 2 and meta["contradicted_pairs"].value == 1
    assert meta["report"].value.count("data:image/svg+xml;base64,") >= 4
    (ledger_file,) = (project.lineage_dir / "ledger" / "stage=preference_pairs" / "partition=__all__").glob(
        f"*-run={run_id}.parquet"
    )
    assert pq.read_table(ledger_file).num_rows == 3  # one row per dropped pair


def test_preference_assets_wire_into_the_definitions(tmp_path: Path) -> None:
    """What definitions.py gets: no key clash, the right upstreams, the house metadata."""
    import definitions
    from assets.preference_exports import preference_exports
    from assets.preference_pairs import preference_pairs

    base = definitions.build_definitions(make_project(tmp_path / "wired"))
    known = {k.to_user_string() for k in base.resolve_asset_graph().get_all_asset_keys()}
    defs = base if "preference_pairs" in known else dg.Definitions.merge(base, dg.Definitions(assets=[preference_pairs, preference_exports]))
    graph = defs.resolve_asset_graph()
    pairs, exports = graph.get(dg.AssetKey("preference_pairs")), graph.get(dg.AssetKey("preference_exports"))
    assert {k.to_user_string() for k in pairs.parent_keys} == {"decontaminated"}
    assert {k.to_user_string() for k in exports.parent_keys} == {"release"}
    for node in (pairs, exports):
        assert node.group_name == "preference" and node.owners and node.code_version and node.description
    assert exports.partitions_def is not None and exports.partitions_def.name == "releases"
    checks = {k.name for k in graph.asset_check_keys}
    assert {"preference_pairs_balance", "preference_pairs_schema", "preference_exports_complete"} <= checks


def test_no_preference_sources_is_an_empty_success(tmp_path: Path) -> None:
    from assets.preference_pairs import preference_pairs
    from resources.lineage import LineageResource
    from resources.project import ProjectResource

    project = make_project(tmp_path / "bare")  # a document and an instruction source, nothing run
    res = ProjectResource(root=str(project.root))
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize([preference_pairs], instance=instance,
                                resources={"project": res, "lineage": LineageResource(project=res)})  # fmt: skip
        assert result.success
        meta = result.asset_materializations_for_node("preference_pairs")[0].metadata
        assert (meta["rows_in"].value, meta["dagster/row_count"].value) == (0, 0)
        assert all(c.passed for c in result.get_asset_check_evaluations())
