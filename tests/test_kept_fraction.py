"""The kept-fraction check: a source the pipeline empties is flagged, never blocked."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
from tests_support import make_project

from curaline.kept import KeptFractionConfig, config, verdict
from curaline.project import Project

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def test_levels_follow_the_thresholds_and_per_source_overrides() -> None:
    cfg = KeptFractionConfig(warn_below=0.5, error_below=0.1, sources={"forum": {"warn_below": 0.05}})
    assert verdict("web", 1000, 803, cfg, measured_at="x").level == "ok"
    assert verdict("web", 400, 42, cfg, measured_at="x").level == "warn"
    assert verdict("docs", 40, 0, cfg, measured_at="x").level == "error"
    assert verdict("empty", 0, 0, cfg, measured_at="x").level == "error"  # nothing read: nothing to train on
    forum = verdict("forum", 400, 42, cfg, measured_at="quality_filtered")
    assert (forum.level, forum.warn_below, forum.error_below) == ("ok", 0.05, 0.1)
    docs = verdict("docs", 40, 0, cfg, measured_at="toxicity_screened")
    assert docs.message() == ("docs: kept 0 of 40 records (0%) after toxicity_screened: below the error threshold "
                              "10%; see the removals by stage (or lower the threshold: curaline.yaml "
                              "stages.kept_fraction.sources.docs)")  # fmt: skip


@pytest.mark.parametrize("settings, message", [
    ({"warn_below": 1.5}, "(project) warn_below must be a fraction in [0, 1], got 1.5"),
    ({"sources": {"forum": {"warn_if": 0.1}}}, "stages.kept_fraction.sources.forum: allowed keys: warn_below, error_below"),
])  # fmt: skip
def test_bad_settings_name_the_file_and_field(settings: dict, message: str) -> None:
    with pytest.raises(ValueError, match="curaline.yaml") as err:
        KeptFractionConfig(**settings)
    assert message in str(err.value)


def _run(project: Project, source: str) -> tuple[dg.ExecuteInProcessResult, dg.AssetCheckEvaluation]:
    import definitions

    defs = definitions.build_definitions(project)
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("sources", [source])
        defs.resolve_job_def("catalog_job").execute_in_process(instance=instance, run_config=QUIET)
        result = defs.resolve_job_def("per_source_job").execute_in_process(
            instance=instance, partition_key=source, run_config=QUIET, raise_on_error=False)  # fmt: skip
    [check] = [e.asset_check_evaluation_data for e in result.all_events
               if e.event_type_value == "ASSET_CHECK_EVALUATION" and e.asset_check_evaluation_data.check_name == "kept_fraction"]  # fmt: skip
    return result, check


def test_an_emptied_source_fails_the_check_without_failing_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = make_project(tmp_path / "proj")  # its notes are one short sentence each: quality drops them all
    monkeypatch.setenv("CURALINE_PROJECT", str(project.root))
    result, check = _run(project, "notes")
    assert result.success  # non-blocking
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR and check.partition == "notes"
    assert check.description.startswith("notes: kept 0 of 20 records (0%) after toxicity_screened")
    assert "| 20 | 0 | 0.0% | 50% | 10% | error |" in check.metadata["kept_fraction"].value
    # the operator lowers this source's thresholds: the same output passes
    (project.root / "curaline.yaml").write_text(
        "stages:\n  kept_fraction:\n    sources:\n      notes: {warn_below: 0.0, error_below: 0.0}\n")
    project = Project.at(project.root)
    assert config(project).thresholds("notes") == (0.0, 0.0)
    _, check = _run(project, "notes")
    assert check.passed
