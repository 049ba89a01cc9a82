"""The Label Studio round trip: settings and manifests validated, and a real server.

The real-server test starts Label Studio (its own cached venv, see label_studio_server.py)
on 127.0.0.1, pushes a review queue made by the real annotation stages, has three
annotators judge through the API, pulls the judgements back through ingest, and checks
agreement and labels against a direct computation.
"""

from __future__ import annotations

import collections
import json
import os
import random
from pathlib import Path

import pyarrow.parquet as pq
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


def test_a_label_studio_fingerprint_is_the_manifest_and_the_watermark_not_the_mirror(tmp_path: Path) -> None:
    path = _manifest(tmp_path, id="judged", location="../mirror/judged.jsonl", format="label-studio", kind="annotation",
                     label_type="nominal", labels=["yes", "no"],
                     label_studio={"project": 3, "annotator_key_env": "CURALINE_ANNOTATOR_KEY"})  # fmt: skip
    m = parse_manifest(path, roots=[tmp_path])
    mark = json.dumps({"annotations": 6, "newest": "2026-01-01T00:00:00Z", "tasks": 3})
    fp = ls.source_fingerprint(m, mark)
    (tmp_path / "mirror").mkdir()
    (tmp_path / "mirror" / "judged.jsonl").write_text('{"id": "1"}\n')  # the pull's output: not watched
    assert ls.source_fingerprint(m, mark) == fp
    assert ls.source_fingerprint(m, mark.replace("6", "5")) != fp
    path.write_text(path.read_text() + "alpha_floor: 0.5\n")
    assert ls.source_fingerprint(parse_manifest(path, roots=[tmp_path]), mark) != fp


def test_the_watcher_asks_a_server_that_is_down_once_per_tick(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from label_studio_server import free_port

    (tmp_path / "curaline.yaml").write_text(yaml.safe_dump({"annotation": {"label_studio": {
        "url": f"http://127.0.0.1:{free_port()}", "project": "q", "token_env": TOKEN_ENV}}}))  # fmt: skip
    manifests = [parse_manifest(_manifest(tmp_path, id=f"j{n}", location=f"../j{n}.jsonl", format="label-studio",
                                          kind="annotation", label_type="nominal", labels=["a", "b"],
                                          label_studio={"project": n, "annotator_key_env": KEY_ENV}),
                                roots=[tmp_path]) for n in (1, 2)]  # fmt: skip
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    watcher = ls.Watcher(Project.at(tmp_path), timeout_s=2)
    for m in manifests:  # no token: said for every source, nothing asked
        with pytest.raises(ls.LabelStudioError, match=f"{TOKEN_ENV} .* is not set"):
            watcher.fingerprint(m)
    monkeypatch.setenv(TOKEN_ENV, "secret-token-value")
    watcher = ls.Watcher(Project.at(tmp_path), timeout_s=2)
    with pytest.raises(ls.LabelStudioUnreachable, match="cannot be reached") as first:
        watcher.fingerprint(manifests[0])
    asked = watcher._client.server_s if watcher._client else None
    with pytest.raises(ls.LabelStudioUnreachable) as second:  # the same answer, without a second request
        watcher.fingerprint(manifests[1])
    assert second.value is first.value and watcher._client is not None and watcher._client.server_s == asked
    assert "secret-token-value" not in str(first.value)


# ---- a real Label Studio server ------------------------------------------------------------

ANNOTATORS = ("ann1", "ann2", "ann3")
LABELS = ["relevant", "off-topic"]
WORDS = "river city history music school market bridge winter summer garden village station museum".split()
TOKEN_ENV, KEY_ENV = "CURALINE_TEST_LS_TOKEN", "CURALINE_TEST_ANNOTATOR_KEY"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    from label_studio_server import ensure_venv, running

    exe = ensure_venv()
    if isinstance(exe, str):
        pytest.skip(exe)
    yield from running(exe, tmp_path_factory.mktemp("label-studio-data"), ANNOTATORS)


def _project(root: Path, url: str) -> Project:
    """docs (12 documents) and seed (two annotators who split on 4 of them: a review queue)."""
    rng = random.Random(11)
    corpus = root / "corpus"
    corpus.mkdir(parents=True)
    docs = [{"id": f"d{i}", "text": " ".join(rng.choice(WORDS) for _ in range(60)) + "."} for i in range(12)]
    (corpus / "docs.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    seed = [{"doc": d["id"], "rater": who, "verdict": LABELS[(i + (who == "b") * (i < 4)) % 2]}
            for i, d in enumerate(docs) for who in ("a", "b")]  # fmt: skip
    (corpus / "seed.jsonl").write_text("".join(json.dumps(r) + "\n" for r in seed))
    _manifest(root, id="docs", location="../corpus/docs.jsonl", format="jsonl", kind="document", fields={"id": "id"})
    _manifest(root, id="seed", location="../corpus/seed.jsonl", format="jsonl", kind="annotation", label_type="nominal",
              labels=LABELS, target_source="docs", alpha_floor=0.0,
              fields={"item_id": "doc", "annotator_id": "rater", "label": "verdict"})  # fmt: skip
    (root / "curaline.yaml").write_text(yaml.safe_dump({
        "stages": {"quality_filtered": {"gopher_quality": False, "gopher_repetition": False, "c4": False, "fineweb": False}},
        "annotation": {"label_studio": {"url": url, "project": "curaline review", "token_env": TOKEN_ENV}},
    }))  # fmt: skip
    return Project.at(root)


def _defs(project: Project):
    import dagster as dg

    import definitions
    from assets.annotation import ANNOTATION_ASSETS
    from assets.common import source_partitions
    from resources.lineage import LineageResource
    from resources.project import ProjectResource

    per_source = dg.define_asset_job("per_source_job", partitions_def=source_partitions,
                                     selection=dg.AssetSelection.assets(*definitions.PER_SOURCE_ASSETS, *ANNOTATION_ASSETS))  # fmt: skip
    return dg.Definitions(
        assets=[*definitions.CATALOG_ASSETS, *definitions.PER_SOURCE_ASSETS, *ANNOTATION_ASSETS],
        jobs=[definitions.catalog_job, per_source],
        resources={"project": (proj := ProjectResource(root=str(project.root))), "lineage": LineageResource(project=proj)},
    )  # fmt: skip


def _run_sources(defs, instance, keys: list[str]) -> None:
    assert defs.resolve_job_def("catalog_job").execute_in_process(instance=instance).success
    instance.add_dynamic_partitions("sources", keys)
    for key in keys:
        assert defs.resolve_job_def("per_source_job").execute_in_process(instance=instance, partition_key=key).success, key


@pytest.mark.slow
def test_round_trip_through_a_real_label_studio(server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                shared_dir: Path) -> None:  # fmt: skip
    import dagster as dg
    import krippendorff
    import numpy as np
    from click.testing import CliRunner

    from curaline.cli import main
    from curaline.lineage.emitter import default_events_file
    from curaline.lineage.queries import trace
    from curaline.lineage.validate import EventValidator

    for key in list(os.environ):  # events go to the project's own file
        if key.startswith("OPENLINEAGE"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(TOKEN_ENV, server.token)
    monkeypatch.setenv(KEY_ENV, "a-secret-pseudonymisation-key")
    project = _project(tmp_path / "proj", server.url)
    monkeypatch.setenv("DAGSTER_HOME", str(project.dagster_home))
    project.dagster_home.mkdir(parents=True)
    defs = _defs(project)
    with dg.DagsterInstance.get() as instance:
        _run_sources(defs, instance, ["docs", "seed"])
        queue = pq.read_table(project.stage_path("review_queue", "seed")).sort_by("priority")
        assert queue.num_rows >= 4  # the split items at least

        # push: the top 4 of the queue, with redacted text and the adjudicated label as a prediction
        pushed = CliRunner().invoke(main, ["annotate", "push", "--task", "seed", "--limit", "4", "--project",
                                           str(project.root), "--json"])  # fmt: skip
        assert pushed.exit_code == 0, pushed.output
        out = json.loads(pushed.output)
        assert out["tasks"] == 4 and out["created"] and out["skipped_without_text"] == 0
        ls_id = out["label_studio_project"]
        tasks = server.api("GET", f"/api/tasks?project={ls_id}&page_size=100&fields=all")["tasks"]
        assert sorted(t["data"]["doc_id"] for t in tasks) == sorted(queue["target_doc_id"].to_pylist()[:4])
        redacted = dict(zip(*pq.read_table(project.stage_path("pii_redacted", "docs"), columns=["doc_id", "text"])
                            .to_pydict().values(), strict=True))  # fmt: skip
        assert all(t["data"]["text"] == redacted[t["data"]["doc_id"]] for t in tasks)
        top = queue.slice(0, 4).to_pylist()
        by_doc = {r["target_doc_id"]: r for r in top}
        for t in tasks:
            [pred] = server.api("GET", f"/api/predictions?task={t['id']}")
            assert pred["result"][0]["value"]["choices"] == [by_doc[t["data"]["doc_id"]]["label"]]
            assert pred["score"] == pytest.approx(by_doc[t["data"]["doc_id"]]["confidence"])
        project_cfg = server.api("GET", f"/api/projects/{ls_id}")
        assert project_cfg["label_config"] == ls.label_config("nominal", tuple(LABELS))

        # three annotators judge through the API: ann1 the truth, ann2 and ann3 err once each
        ordered = sorted(tasks, key=lambda t: t["id"])
        truth = {t["data"]["item_id"]: LABELS[k % 2] for k, t in enumerate(ordered)}
        given: dict[tuple[str, str], str] = {}
        ann_ids: dict[tuple[str, str], int] = {}
        for n, name in enumerate(ANNOTATORS):
            for k, t in enumerate(ordered):
                item = t["data"]["item_id"]
                label = LABELS[1 - LABELS.index(truth[item])] if (n, k) in ((1, 2), (2, 1)) else truth[item]
                made = server.api("POST", f"/api/tasks/{t['id']}/annotations/",
                                  {"result": [ls.result_value("nominal", label)]}, token=server.annotators[name])  # fmt: skip
                given[(item, name)], ann_ids[(item, name)] = label, made["id"]

        # the label-studio source: ingest pulls, agreement and labels recompute
        _manifest(project.root, id="judged", location="../label_studio/judged.jsonl", format="label-studio",
                  kind="annotation", label_type="nominal", labels=LABELS, target_source="docs", alpha_floor=0.0,
                  label_studio={"project": ls_id, "annotator_key_env": KEY_ENV})  # fmt: skip
        _run_sources(defs, instance, ["judged"])

    raw = pq.read_table(project.stage_path("raw_records", "judged"))
    assert raw.num_rows == 12 and all(a.startswith("ls-") and len(a) == 19 for a in raw["annotator_id"].to_pylist())
    users = {name: server.api("GET", "/api/current-user/whoami", token=tok)["id"] for name, tok in server.annotators.items()}
    key = b"a-secret-pseudonymisation-key"
    name_of = {ls.pseudonym(key, uid): name for name, uid in users.items()}
    assert {(r["item_id"], name_of[r["annotator_id"]]): r["label"] for r in raw.to_pylist()} == given

    # agreement and labels against a direct computation
    items = sorted(truth)
    data = np.array([[LABELS.index(given[(i, a)]) for i in items] for a in ANNOTATORS], dtype=float)
    agreement = pq.read_table(project.stage_path("annotation_agreement", "judged")).to_pylist()
    assert agreement[0]["krippendorff_alpha"] == pytest.approx(krippendorff.alpha(data, level_of_measurement="nominal"))
    labels = pq.read_table(project.stage_path("adjudicated_labels", "judged")).to_pylist()
    majority = {r["item_id"]: r["label"] for r in labels if r["method"] == "majority"}
    direct = {i: collections.Counter(given[(i, a)] for a in ANNOTATORS).most_common(1)[0][0] for i in items}
    assert majority == direct == truth  # at least 2 of 3 are right on every item

    # an edit in Label Studio: a new ledger entry, still one current judgement per annotator per item
    item0 = items[0]
    flipped = LABELS[1 - LABELS.index(given[(item0, "ann1")])]
    server.api("PATCH", f"/api/annotations/{ann_ids[(item0, 'ann1')]}/", {"result": [ls.result_value("nominal", flipped)]},
               token=server.annotators["ann1"])  # fmt: skip
    runner = CliRunner()
    pulls = [json.loads(runner.invoke(main, ["annotate", "pull", "--source", "judged", "--project", str(project.root),
                                             "--json"], catch_exceptions=False).output) for _ in range(2)]  # fmt: skip
    # incremental by update time: only the edited task is fetched, then none
    assert [(p["fetched_tasks"], p["new_entries"], p["edits"], p["current"]) for p in pulls] == [(1, 1, 1, 12), (0, 0, 0, 12)]
    ledger = ls.read_ledger(project, "judged")
    assert ledger.num_rows == 13 and ledger["event"].to_pylist().count("edit") == 1
    edit = [r for r in ledger.to_pylist() if r["event"] == "edit"][0]
    assert (edit["item_id"], edit["label"], edit["version"]) == (item0, flipped, 2)
    mirror = [json.loads(line) for line in (project.root / "label_studio" / "judged.jsonl").read_text().splitlines()]
    assert len(mirror) == len({(r["item_id"], r["annotator_id"]) for r in mirror}) == 12
    assert {(r["item_id"], name_of[r["annotator_id"]]): r["label"] for r in mirror} == {**given, (item0, "ann1"): flipped}

    # lineage: push and pull are runs naming the Label Studio project; the events validate, hold no token
    validator = EventValidator(shared_dir / "openlineage-spec")
    events = [json.loads(line) for line in default_events_file(project).read_text().splitlines()]
    ours = [e for e in events if e["job"]["name"] in ("label_studio_push", "label_studio_pull")]
    assert {e["job"]["name"] for e in ours} == {"label_studio_push", "label_studio_pull"}
    for e in ours:
        assert validator.validate(e) == [], e["job"]["name"]
        assert server.token not in json.dumps(e)
    dataset = {"namespace": server.url, "name": f"label-studio/projects/{ls_id}"}
    push_done = [e for e in ours if e["job"]["name"] == "label_studio_push" and e["eventType"] == "COMPLETE"]
    assert [{k: o[k] for k in dataset} for o in push_done[0]["outputs"]] == [dataset]
    pull_done = [e for e in ours if e["job"]["name"] == "label_studio_pull" and e["eventType"] == "COMPLETE"]
    assert len(pull_done) == 3 and all({k: e["inputs"][0][k] for k in dataset} == dataset for e in pull_done)

    # lineage trace of a judged record: its judgements and adjudicated label
    doc = [r for r in raw.to_pylist() if r["item_id"] == items[1]][0]["target_doc_id"]
    story = trace(project, doc)
    judged = [a for a in story["annotations"] if a["source"] == "judged"][0]
    assert sorted(j["label"] for j in judged["judgements"]) == sorted(given[(items[1], a)] for a in ANNOTATORS)
    assert {r["label"] for r in judged["adjudicated"] if r["method"] == "majority"} == {truth[items[1]]}

    # deletions in Label Studio: a whole task (its three judgements) and one annotation of another
    # task; the step's pull withdraws them (ledger entries), agreement and labels recompute
    now_given = {**given, (item0, "ann1"): flipped}
    gone_item = items[3]
    # the annotation cut: one whose item's other two judgements agree (no tie for the majority to break)
    cut_item, cut_by = next((i, a) for i in items[1:3] for a in ANNOTATORS
                            if len({now_given[(i, b)] for b in ANNOTATORS if b != a}) == 1)  # fmt: skip
    gone_task = [t["id"] for t in tasks if t["data"]["item_id"] == gone_item][0]
    server.api("DELETE", f"/api/tasks/{gone_task}/")
    server.api("DELETE", f"/api/annotations/{ann_ids[(cut_item, cut_by)]}/")
    with dg.DagsterInstance.get() as instance:
        assert (
            defs.resolve_job_def("per_source_job").execute_in_process(instance=instance, partition_key="judged").success
        )
    left = {k: v for k, v in now_given.items() if k[0] != gone_item and k != (cut_item, cut_by)}
    raw = pq.read_table(project.stage_path("raw_records", "judged"))
    assert {(r["item_id"], name_of[r["annotator_id"]]): r["label"] for r in raw.to_pylist()} == left
    ledger = ls.read_ledger(project, "judged")
    withdrawn = [r for r in ledger.to_pylist() if r["event"] == "withdraw"]
    assert ledger.num_rows == 13 + 4
    assert sorted((r["item_id"], name_of[r["annotator_id"]], r["label"], r["version"]) for r in withdrawn) == sorted(
        [(gone_item, a, None, 2) for a in ANNOTATORS] + [(cut_item, cut_by, None, 2)])  # fmt: skip
    assert {r["ls_task"] for r in withdrawn if r["item_id"] == gone_item} == {gone_task}
    kept_items = [i for i in items if i != gone_item]
    data = np.array([[LABELS.index(left[(i, a)]) if (i, a) in left else np.nan for i in kept_items]
                     for a in ANNOTATORS], dtype=float)  # fmt: skip
    agreement = pq.read_table(project.stage_path("annotation_agreement", "judged")).to_pylist()
    assert agreement[0]["krippendorff_alpha"] == pytest.approx(krippendorff.alpha(data, level_of_measurement="nominal"))
    labels = pq.read_table(project.stage_path("adjudicated_labels", "judged")).to_pylist()
    majority = {r["item_id"]: (r["label"], r["n_judgements"]) for r in labels if r["method"] == "majority"}
    assert majority == {i: (collections.Counter(v for (j, _), v in left.items() if j == i).most_common(1)[0][0],
                            sum(j == i for j, _ in left)) for i in kept_items}  # fmt: skip
    # the pull run says so in its lineage; pulling again withdraws nothing twice
    events = [json.loads(line) for line in default_events_file(project).read_text().splitlines()]
    last_pull = [e for e in events if e["job"]["name"] == "label_studio_pull" and e["eventType"] == "COMPLETE"][-1]
    facets = [o["facets"]["curaline_removals"] for o in last_pull["outputs"] if "curaline_removals" in o["facets"]]
    assert [f["changed"]["label_studio_pull"] for f in facets] == [{"new": 0, "edit": 0, "withdraw": 4}]
    assert validator.validate(last_pull) == []
    again = json.loads(runner.invoke(main, ["annotate", "pull", "--source", "judged", "--project", str(project.root),
                                            "--json"], catch_exceptions=False).output)  # fmt: skip
    assert (again["new_entries"], again["withdrawals"], again["current"]) == (0, 0, len(left))
    assert ls.read_ledger(project, "judged").num_rows == 17


def test_push_and_pull_refuse_what_they_cannot_do_safely(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No server needed: each refusal comes before the first request, and names the file or variable."""
    root = tmp_path / "proj"
    (root / "curaline.yaml").parent.mkdir(parents=True)
    (root / "curaline.yaml").write_text(yaml.safe_dump({"annotation": {"label_studio": {
        "url": "http://127.0.0.1:1", "project": "q", "token_env": TOKEN_ENV}}}))  # fmt: skip
    project = Project.at(root)
    settings = ls.settings_of(project)
    client = ls.Client(settings.url, "unused")
    seed = parse_manifest(_manifest(root, id="seed", location="../s.jsonl", format="jsonl", kind="annotation",
                                    label_type="nominal", target_source="docs",
                                    fields={"item_id": "i", "annotator_id": "a", "label": "l"}), roots=[root])  # fmt: skip
    with pytest.raises(ls.LabelStudioError, match=r"review_queue/seed.parquet: no review queue for 'seed'"):
        ls.push(project, seed, client, settings)
    queue_path = project.stage_path("review_queue", "seed")
    queue_path.parent.mkdir(parents=True)
    from curaline.annotation.review import REVIEW_SCHEMA

    pq.write_table(REVIEW_SCHEMA.empty_table(), queue_path)
    with pytest.raises(ls.LabelStudioError, match=r"pii_redacted/docs: the target source 'docs' has no PII-redacted"):
        ls.push(project, seed, client, settings)
    docs = parse_manifest(_manifest(root, id="docs", location="../d.jsonl", format="jsonl", kind="document"), roots=[root])
    with pytest.raises(ls.LabelStudioError, match="only an annotation source has a review queue"):
        ls.push(project, docs, client, settings)
    judged = parse_manifest(_manifest(root, id="judged", location="../j.jsonl", format="label-studio", kind="annotation",
                                      label_type="nominal", label_studio={"project": 1, "annotator_key_env": KEY_ENV}),
                            roots=[root])  # fmt: skip
    monkeypatch.setenv(KEY_ENV, "short")
    with pytest.raises(ls.LabelStudioError, match=f"judged.yaml: label_studio.annotator_key_env: .*{KEY_ENV} must hold"):
        ls.pull(project, judged, client, "run")
    monkeypatch.setenv(KEY_ENV, "a-long-enough-pseudonymisation-key")
    globbed = parse_manifest(_manifest(root, id="globbed", location="../j*.jsonl", format="label-studio",
                                       kind="annotation", label_type="nominal",
                                       label_studio={"project": 1, "annotator_key_env": KEY_ENV}), roots=[root])  # fmt: skip
    with pytest.raises(ls.LabelStudioError, match="globbed.yaml: location: must name one file"):
        ls.pull(project, globbed, client, "run")
    with pytest.raises(ls.LabelStudioError, match="pull needs format 'label-studio'"):
        ls.pull(project, seed, client, "run")
    (root / "curaline.yaml").write_text("{}")
    with pytest.raises(ls.LabelStudioError, match="curaline.yaml has no annotation.label_studio"):
        ls.settings_of(Project.at(root))


def test_an_unchanged_pull_leaves_the_mirror_file_alone(tmp_path: Path) -> None:
    """The shard engine keys a shard on its files' size and mtime: a pull with nothing new must
    not touch the mirror (its shard is then skipped), a pull with a change must rewrite it."""
    import pyarrow as pa

    def current(label: str) -> pa.Table:
        return pa.table({"ls_annotation": [1, 2], "item_id": ["i1", "i2"], "annotator_id": ["ls-a", "ls-b"],
                         "label": [label, "off-topic"], "task": ["t", "t"],
                         "updated_at": ["2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z"]})  # fmt: skip

    mirror = tmp_path / "label_studio" / "judged.jsonl"
    ls._write_mirror(mirror, current("relevant"))
    os.utime(mirror, ns=(1, 1))
    ls._write_mirror(mirror, current("relevant"))
    assert mirror.stat().st_mtime_ns == 1 and not list(mirror.parent.glob(".*"))  # untouched, no temp file left
    ls._write_mirror(mirror, current("off-topic"))
    assert mirror.stat().st_mtime_ns != 1
    assert [json.loads(line)["label"] for line in mirror.read_text().splitlines()] == ["off-topic", "off-topic"]


# ---- the sensor watches Label Studio ---------------------------------------------------------


def _sensor_tick(defs, instance, root: Path, cursor: str | None):
    import dagster as dg

    from resources.project import ProjectResource

    sensor = defs.resolve_sensor_def("source_sensor")
    result = sensor(dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs,
                                            resources={"project": ProjectResource(root=str(root))}))  # fmt: skip
    for req in result.dynamic_partitions_requests or []:  # what the daemon does first
        instance.add_dynamic_partitions(req.partitions_def_name, list(req.partition_keys))
    return result


def _per_source(result) -> list[str]:
    return sorted(r.partition_key for r in result.run_requests or [] if r.job_name == "per_source_job")


def _judge(server, task_id: int, name: str, label: str) -> int:
    made = server.api("POST", f"/api/tasks/{task_id}/annotations/", {"result": [ls.result_value("nominal", label)]},
                      token=server.annotators[name])  # fmt: skip
    return int(made["id"])


@pytest.mark.slow
def test_the_sensor_starts_a_wave_when_judgements_change_in_label_studio(
        server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """A real Label Studio, a real Dagster instance, the real source sensor: a judgement made or
    deleted there starts the label-studio source's wave, nothing else does (not the pull's own
    rewrite of the mirror, not a task without judgements); an unreachable server or a missing
    token is a skip reason, never a failed tick, and the other sources are still evaluated."""
    import dagster as dg
    from label_studio_server import free_port
    from tests_support import make_project

    import definitions
    from sensors.sources import state_dir

    for key in list(os.environ):
        if key.startswith("OPENLINEAGE"):
            monkeypatch.delenv(key)
    monkeypatch.setenv(TOKEN_ENV, server.token)
    monkeypatch.setenv(KEY_ENV, "a-secret-pseudonymisation-key")
    created = server.api("POST", "/api/projects", {"title": f"sensor {tmp_path.name}",
                                                   "label_config": ls.label_config("nominal", tuple(LABELS))})  # fmt: skip
    ls_id = int(created["id"])
    server.api("POST", f"/api/projects/{ls_id}/import", [{"data": {"item_id": f"i{k}", "task": "default",
                                                                   "text": f"Item {k}."}} for k in range(3)])  # fmt: skip
    task_ids = sorted(t["id"] for t in server.api("GET", f"/api/tasks?project={ls_id}&page_size=100")["tasks"])
    for name in ("ann1", "ann2"):
        for k, t in enumerate(task_ids):
            _judge(server, t, name, LABELS[k % 2])

    project = make_project(tmp_path / "proj")
    root = project.root
    url = server.url

    def configure(at: str) -> None:
        (root / "curaline.yaml").write_text(yaml.safe_dump({"annotation": {"label_studio": {
            "url": at, "project": "unused by pull", "token_env": TOKEN_ENV}}}))  # fmt: skip

    configure(url)
    _manifest(root, id="judged", location="../label_studio/judged.jsonl", format="label-studio", kind="annotation",
              label_type="nominal", labels=LABELS, alpha_floor=0.0,
              label_studio={"project": ls_id, "annotator_key_env": KEY_ENV})  # fmt: skip
    defs = definitions.build_definitions(Project.at(root))
    with dg.instance_for_test() as instance:
        first = _sensor_tick(defs, instance, root, None)
        assert _per_source(first) == ["chat", "judged", "notes"]
        # the judged run of the wave: its step pulls the judgements (4 of the 6 are ann1's and ann2's)
        [req] = [r for r in first.run_requests if r.partition_key == "judged"]
        assert req.asset_selection is None  # an annotation source runs the whole job
        run = defs.resolve_job_def("per_source_job").execute_in_process(instance=instance, partition_key="judged",
                                                                         tags=req.tags)  # fmt: skip
        assert run.success
        assert pq.read_table(project.stage_path("raw_records", "judged")).num_rows == 6

        # the pull rewrote the mirror, and nothing changed in Label Studio: no new wave for judged
        after = _sensor_tick(defs, instance, root, first.cursor)
        assert "judged" not in _per_source(after)
        # a fresh cursor (a new daemon) counts judged as current: its run recorded Label Studio's state
        assert _per_source(_sensor_tick(defs, instance, root, None)) == ["chat", "notes"]

        # a new judgement through the API: judged's wave starts, once
        _judge(server, task_ids[0], "ann3", LABELS[0])
        judged = _sensor_tick(defs, instance, root, after.cursor)
        assert _per_source(judged) == ["judged"]
        [req] = [r for r in judged.run_requests if r.job_name == "per_source_job"]
        assert req.tags["curaline/sources"] == "judged" and req.run_key.startswith("source:srcw-")
        quiet = _sensor_tick(defs, instance, root, judged.cursor)
        assert not _per_source(quiet)

        # a task without judgements (what a push adds) is no new judgement; a deleted annotation is a change
        server.api(
            "POST", f"/api/projects/{ls_id}/import", [{"data": {"item_id": "i9", "task": "default", "text": "x"}}]
        )
        pushed = _sensor_tick(defs, instance, root, quiet.cursor)
        assert not _per_source(pushed)
        some = server.api("GET", f"/api/tasks/{task_ids[1]}/annotations/")
        server.api("DELETE", f"/api/annotations/{some[0]['id']}/")
        deleted = _sensor_tick(defs, instance, root, pushed.cursor)
        assert _per_source(deleted) == ["judged"]

        # Label Studio down: the tick does not fail, says why, and still sees a changed source
        configure(f"http://127.0.0.1:{free_port()}")  # nothing listens there
        notes = root / "corpus" / "notes.jsonl"
        notes.write_text(notes.read_text() + '{"id": "n99", "text": "A late note."}\n')
        _judge(server, task_ids[2], "ann3", LABELS[1])  # made while the sensor cannot see it
        down = _sensor_tick(defs, instance, root, deleted.cursor)
        assert _per_source(down) == ["notes"]
        still_down = _sensor_tick(defs, instance, root, down.cursor)
        assert not still_down.run_requests
        reason = still_down.skip_reason.skip_message
        assert reason.startswith("label-studio source judged not checked for new judgements: Label Studio at "
                                 "http://127.0.0.1:") and "cannot be reached" in reason, reason  # fmt: skip

        # no token: the same, naming the variable; the token itself is never in the cursor or the state
        configure(url)
        monkeypatch.delenv(TOKEN_ENV)
        no_token = _sensor_tick(defs, instance, root, still_down.cursor)
        assert not no_token.run_requests
        assert f"{TOKEN_ENV} (annotation.label_studio.token_env) is not set" in no_token.skip_reason.skip_message
        monkeypatch.setenv(TOKEN_ENV, server.token)
        # back: the judgement made while it was down starts judged's wave
        back = _sensor_tick(defs, instance, root, no_token.cursor)
        assert _per_source(back) == ["judged"]
        for cursor in (first.cursor, judged.cursor, down.cursor, back.cursor):
            assert server.token not in cursor
        for state in state_dir(project).glob("*.json"):
            assert server.token not in state.read_text()
