"""The learned quality classifier: training, scoring, the shipped model, `curaline quality train`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import yaml
from click.testing import CliRunner
from tests_support import prose

from curaline.kernels.quality import QualityConfig, score_quality
from curaline.kernels.quality_model import BUILTIN, QualityModel, feature_matrix, load_model, train
from curaline.project import Project
from curaline.stage_settings import quality_config

NAV = ["Home | About | Contact | Login | Sign up", "Share on Facebook Tweet Pin Email", "Cookie settings Accept all",
       "Previous post Next post Related posts Tags: news", "Copyright 2019 All rights reserved Privacy policy"]  # fmt: skip


def test_features_and_scores_agree_with_a_direct_computation() -> None:
    model = train([prose(i) for i in range(20)], NAV * 4, dim=1 << 14)
    texts = [prose(99), NAV[0], "", "ÉCOLE école"]
    x = feature_matrix(pa.array(texts, pa.large_string()), dim=1 << 14)
    z = x @ model.weights + model.bias
    assert np.allclose(model.score(texts), 1 / (1 + np.exp(-z)))
    assert x[2].nnz == 0  # no words: the bias alone
    scores = model.score(texts)
    assert scores[0] > 0.5 > scores[1]
    # case folds for ASCII; a non-ASCII byte is a letter, so "école" and "ÉCOLE" stay words
    assert x[3].nnz >= 2


def test_save_load_roundtrip_keeps_weights_meta_and_digest(tmp_path: Path) -> None:
    model = train([prose(i) for i in range(10)], NAV, dim=1 << 12, meta={"positive": [{"source": "p", "license": "MIT"}]})
    path = tmp_path / "m.npz"
    model.save(path)
    loaded = load_model(path)
    assert loaded.digest == QualityModel(weights=model.weights.astype(np.float32).astype(np.float64),
                                         bias=model.bias, dim=model.dim).digest  # fmt: skip
    assert loaded.meta["positive"] == [{"source": "p", "license": "MIT"}]
    assert np.allclose(loaded.score([prose(3)]), model.score([prose(3)]), atol=1e-5)
    with pytest.raises(FileNotFoundError, match="quality model 'nope.npz' not found"):
        load_model("nope.npz", tmp_path)


def test_shipped_model_names_its_sources_and_licences_and_separates_prose_from_boilerplate() -> None:
    model = load_model(BUILTIN)
    sources = {m["source"]: m["license"] for m in model.meta["positive"] + model.meta["negative"]}
    assert sources == {"oasst-sample": "Apache-2.0", "wikipedia-demo": "CC-BY-SA-4.0",
                       "dolma-cc-2019": "LicenseRef-CommonCrawl-ToU"}  # fmt: skip
    scores = model.score([prose(i, 200) for i in range(5)] + NAV)
    assert (scores[:5] > scores[5:].max()).all()


def test_quality_model_low_drops_with_value_and_threshold() -> None:
    texts = [prose(1, 120), "Home | About | Contact | Login | Sign up\n" * 3]
    table = pa.table({"doc_id": ["good", "nav"], "text": texts})
    config = QualityConfig(gopher_repetition=False, gopher_quality=False, c4=False, fineweb=False, quality_model_low=0.5)
    res = score_quality(table, kind="document", config=config)  # the classifier alone
    scores = res.table["q_model_score"].to_pylist()
    assert res.keep.tolist() == [True, False] and scores[0] >= 0.5 > scores[1]
    [event] = res.events.to_pylist()
    assert (event["doc_id"], event["reason"], event["threshold"]) == ("nav", "quality_model_low", 0.5)
    assert event["value"] == pytest.approx(scores[1])
    rules_only = score_quality(table, kind="document", config=QualityConfig(quality_model=None))
    assert rules_only.table["q_model_score"].null_count == 2  # rules alone: no score


def _project(tmp_path: Path, shared_data: Path) -> Project:
    root = tmp_path / "proj"
    (root / "sources").mkdir(parents=True)
    (root / "releases").mkdir()
    (root / "corpus").mkdir()
    (root / "corpus" / "ref.jsonl").write_text("".join(json.dumps({"id": i, "text": prose(i, 150)}) + "\n" for i in range(40)))
    manifests = {
        "reference": {"location": "../corpus/ref.jsonl", "format": "jsonl", "kind": "document", "fields": {"id": "id"},
                      "license": "CC-BY-4.0"},
        "web": {"location": str(next((shared_data / "dolma-cc-2019-sample").glob("*.jsonl.gz"))), "format": "jsonl.gz",
                "kind": "document", "fields": {"id": "id"}, "license": "LicenseRef-CommonCrawl-ToU",
                "license_url": "https://commoncrawl.org/terms-of-use"},
    }  # fmt: skip
    for sid, m in manifests.items():
        (root / "sources" / f"{sid}.yaml").write_text(yaml.safe_dump({"id": sid, "obtained": "public-dataset", **m}))
    (root / "curaline.yaml").write_text(yaml.safe_dump({"ingest": {"allowed_roots": [str(shared_data)]}}))
    return Project.at(root)


def test_cli_trains_a_dvc_tracked_model_the_stage_then_uses(tmp_path: Path, shared_data: Path) -> None:
    from curaline.cli import main

    project = _project(tmp_path, shared_data)
    args = ["quality", "train", "--positive", "reference", "--negative", "web", "--out", "models/q.npz",
            "--project", str(project.root), "--json"]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert [(m["source"], m["license"]) for m in info["positive"]] == [("reference", "CC-BY-4.0")]
    assert info["negative"][0]["license"] == "LicenseRef-CommonCrawl-ToU" and info["negative"][0]["documents"] > 500
    dvcfile = project.root / "models" / "q.npz.dvc"
    assert yaml.safe_load(dvcfile.read_text())["outs"][0]["md5"] == info["dvc_md5"]
    assert (project.root / "models" / ".gitignore").read_text().strip() == "/q.npz"
    (project.root / "curaline.yaml").write_text(yaml.safe_dump({"stages": {"quality_filtered": {"quality_model": "models/q.npz"}},
                                                                "ingest": {"allowed_roots": [str(shared_data)]}}))
    config = quality_config(Project.at(project.root))
    table = pa.table({"doc_id": ["a"], "text": [prose(500, 150)]})
    scored = score_quality(table, kind="document", config=config).table["q_model_score"].to_pylist()[0]
    assert scored == pytest.approx(float(load_model(config.quality_model).score([prose(500, 150)])[0]))


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--positive", "nope", "--negative", "web"], "no valid source manifest 'nope'"),
        (["--positive", "web", "--negative", "web"], "a source cannot be positive and negative: web"),
    ],
)
def test_cli_refuses_bad_sources(tmp_path: Path, shared_data: Path, args: list[str], says: str) -> None:
    from curaline.cli import main

    project = _project(tmp_path, shared_data)
    result = CliRunner().invoke(main, ["quality", "train", *args, "--out", "m.npz", "--project", str(project.root)])
    assert result.exit_code != 0 and says in result.output, result.output
