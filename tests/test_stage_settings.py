"""Per-source stage settings: a manifest's `profile` and `stages:` over curaline.yaml's `stages:`."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
import yaml

from curaline.kernels.quality import QualityConfig, score_quality
from curaline.project import Project
from curaline.sources import ManifestError, parse_manifest
from curaline.stage_settings import PROFILES, quality_config

BASE = {"location": "corpus.jsonl", "format": "jsonl", "kind": "document", "license": "CC-BY-4.0",
        "obtained": "public-dataset", "fields": {"id": "id"}}  # fmt: skip


def manifest(tmp_path: Path, sid: str = "chat", **extra: object) -> Path:
    path = tmp_path / "sources" / f"{sid}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"id": sid, **BASE, **extra}))
    return path


def test_profile_and_stages_parse_and_are_declared(tmp_path: Path) -> None:
    m = parse_manifest(manifest(tmp_path, profile="short-text", stages={"quality_filtered": {"min_doc_words": 5}}))
    assert m.profile == "short-text" and m.stages == {"quality_filtered": {"min_doc_words": 5}}
    assert m.declaration()["profile"] == "short-text"
    assert m.declaration()["stages"] == {"quality_filtered": {"min_doc_words": 5}}
    # the manifest's own stages win over its profile, setting by setting
    assert m.stage_settings()["quality_filtered"]["min_doc_words"] == 5
    assert m.stage_settings()["quality_filtered"]["c4"] is False
    plain = parse_manifest(manifest(tmp_path, "plain"))
    assert plain.stage_settings() == {} and "profile" not in plain.declaration()


@pytest.mark.parametrize(
    ("extra", "field", "says"),
    [
        ({"stages": {"qualty": {"c4": False}}}, "stages.qualty", "not a per-source stage; allowed: normalized"),
        ({"stages": {"quality": {"c4": False}}}, "stages.quality", "now stages.quality_filtered (settings are keyed"),
        ({"stages": {"quality_filtered": {"min_doc_wrds": 3}}}, "stages.quality_filtered.min_doc_wrds", "unknown setting; allowed:"),
        ({"stages": {"deduplicated": {"threshold": 0.5}}}, "stages.deduplicated", "not a per-source stage"),
        ({"stages": {"quality_filtered": 3}}, "stages.quality_filtered", "must be a mapping of settings"),
        ({"stages": ["quality"]}, "stages", "must map a stage name to its settings"),
        ({"stages": {"quality_filtered": {"quality_model_low": 2}}}, "stages.quality_filtered", "quality_model_low must be a probability"),
        ({"profile": "poetry"}, "profile", "'poetry' is not allowed; allowed: short-text, code, math"),
    ],
)
def test_bad_stage_settings_are_refused_naming_file_and_field(tmp_path: Path, extra: dict, field: str, says: str) -> None:
    path = manifest(tmp_path, **extra)
    with pytest.raises(ManifestError) as err:
        parse_manifest(path)
    assert f"{path}: {field}: " in str(err.value) and says in str(err.value), str(err.value)


def test_effective_settings_order_defaults_project_profile_source(tmp_path: Path) -> None:
    (tmp_path / "curaline.yaml").write_text(yaml.safe_dump(
        {"stages": {"quality_filtered": {"min_doc_words": 20, "max_doc_words": 500, "c4": True}}}))
    project = Project.at(tmp_path)
    m = parse_manifest(manifest(tmp_path, profile="short-text", stages={"quality_filtered": {"max_doc_words": 900}}))
    config = quality_config(project.for_source(m))
    assert config.min_doc_words == PROFILES["short-text"]["quality_filtered"]["min_doc_words"]  # profile beats project
    assert config.max_doc_words == 900  # the source's own setting beats both
    assert config.c4 is False  # profile beats project
    assert config.max_avg_word_length == QualityConfig().max_avg_word_length  # defaults where nobody says
    assert quality_config(project).min_doc_words == 20  # other sources keep the project's
    assert project.for_source(parse_manifest(manifest(tmp_path, "plain"))) is project


def test_short_text_profile_keeps_chat_turns_the_web_rules_drop(tmp_path: Path) -> None:
    turns = ["Could you send me the report by Friday, please?", "Thanks, that fixed the build for me.",
             "Which train goes to the airport after midnight?"]  # fmt: skip
    table = pa.table({"doc_id": [f"d{i}" for i in range(3)], "text": turns})
    project = Project.at(tmp_path)
    web = score_quality(table, kind="document", config=quality_config(project))
    assert not web.keep.any() and all(r.startswith("gopher_") for r in web.events["reason"].to_pylist())
    short = parse_manifest(manifest(tmp_path, profile="short-text"))
    kept = score_quality(table, kind="document", config=quality_config(project.for_source(short)))
    assert kept.keep.all(), kept.events.to_pylist()


def test_trained_model_path_resolves_against_the_project(tmp_path: Path) -> None:
    (tmp_path / "curaline.yaml").write_text(yaml.safe_dump({"stages": {"quality_filtered": {"quality_model": "models/q.npz"}}}))
    assert quality_config(Project.at(tmp_path)).quality_model == str(tmp_path.resolve() / "models" / "q.npz")


def test_art10_parameters_name_each_sources_own_settings() -> None:
    from curaline.reports.operations import source_parameters, source_parameters_text, stage_parameters

    project_settings = {"quality_filtered": {"min_doc_words": 20}}
    params = stage_parameters("quality_filtered", project_settings)
    sources = [{"id": "docs", "declaration": {"profile": "code", "stages": {"quality_filtered": {"code_min_alnum_frac": 0.3}}}},
               {"id": "web", "declaration": {}}]  # fmt: skip
    by_source = source_parameters("quality_filtered", project_settings, sources, params)
    assert set(by_source) == {"docs"}  # a source without settings of its own has the project's
    docs = by_source["docs"]
    assert docs["profile"] == "code" and docs["code_rules"] is True and docs["gopher_quality"] is False
    assert docs["code_min_alnum_frac"] == 0.3 and docs["quality_model"] is None
    assert "min_doc_words" not in docs  # unchanged from the project's: not repeated
    assert source_parameters("pii_redacted", project_settings, sources, stage_parameters("pii_redacted", {})) == {}
    assert source_parameters_text(by_source).startswith("<br>**docs**: profile=code; ")


def test_math_profile_keeps_latex_the_web_rules_drop(tmp_path: Path) -> None:
    text = ("We prove that the sum of the first $n$ odd numbers is $n^2$. By induction, the base case holds since "
            "$1 = 1^2$. Assume that $\\sum_{k=1}^{n} (2k - 1) = n^2$ holds for some $n$. Then the next sum is "
            "$\\sum_{k=1}^{n+1} (2k - 1) = n^2 + 2n + 1 = (n + 1)^2$, which is the claim for $n + 1$. The proof of "
            "the identity is complete, and the same argument gives the formula for the even numbers as well. "
            "It follows that every square is a sum of consecutive odd numbers, a fact known to the Greeks.")  # fmt: skip
    table = pa.table({"doc_id": ["m"], "text": [text]})
    project = Project.at(tmp_path)
    web = score_quality(table, kind="document", config=quality_config(project))
    assert not web.keep.any()
    math = parse_manifest(manifest(tmp_path, "proofs", profile="math"))
    res = score_quality(table, kind="document", config=quality_config(project.for_source(math)))
    assert res.keep.all(), res.events.to_pylist()
