"""curaline.yaml: settings are checked like manifests, a typo is an error naming the key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from curaline.kernels.langid import LangIdConfig
from curaline.project import Project


def test_stage_settings_reach_the_kernel_config(tmp_path: Path) -> None:
    (tmp_path / "curaline.yaml").write_text("stages:\n  language_checked:\n    keep_languages: [en, de]\n")
    config = Project.at(tmp_path).config.for_stage("language_checked", min_score=0.7)
    assert config == LangIdConfig(keep_languages=("en", "de"), min_score=0.7)


def test_a_settings_key_renamed_to_its_stage_name_says_the_new_key(tmp_path: Path) -> None:
    (tmp_path / "curaline.yaml").write_text("stages:\n  language:\n    min_score: 0.7\n  dedup:\n    threshold: 0.8\n")
    with pytest.raises(ValueError) as err:
        Project.at(tmp_path)
    assert str(err.value) == (f"{tmp_path / 'curaline.yaml'}: stages.dedup is now stages.deduplicated (settings are "
                              "keyed by stage name); stages.language is now stages.language_checked (settings are "
                              "keyed by stage name)")  # fmt: skip


@pytest.mark.parametrize(
    ("text", "message"),
    [("colour: blue\n", "unknown key(s) colour"), ("ingest:\n  max_chars: 5\n", "ingest: unknown key(s) max_chars"),
     ("stages: [quality_filtered]\n", "stages: must map a stage name"), ("- a list\n", "must be a YAML mapping")],
)  # fmt: skip
def test_bad_project_config_names_the_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "curaline.yaml").write_text(text)
    with pytest.raises(ValueError, match=re.escape(message)) as err:
        Project.at(tmp_path)
    assert str(tmp_path / "curaline.yaml") in str(err.value)


def test_unknown_stage_setting_is_refused(tmp_path: Path) -> None:
    (tmp_path / "curaline.yaml").write_text("stages:\n  language_checked:\n    keep: [en]\n")
    with pytest.raises(ValueError, match="stages.language_checked: unknown setting.s. keep; allowed: keep_languages"):
        Project.at(tmp_path).config.for_stage("language_checked")
