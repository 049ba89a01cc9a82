"""The sensors on a real DagsterInstance, their requests executed in-process as the daemon would.

One small project (two tiny sources, two release specs) goes through the operator's day
in order: it is built by the sensors alone, a new manifest arrives, a file changes, a
takedown comes in, a manifest breaks. Each step asserts what ran (job, partition) tick
by tick and what the releases, the ledger and the lineage then say; the steps build on
each other, so they run in order inside one test (and the flow fixture is that test's).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq
import pytest
import yaml
from click.testing import CliRunner
from tests_support import jsonl, make_project, prose, spec

from curaline.cli import main
from curaline.project import Project
from curaline.release.versions import versions
from curaline.takedown import takedown_trace
from resources.project import ProjectResource

#: minutes, not seconds: the fast set (`pytest -m "not slow"`) leaves them out, CI runs them
pytestmark = pytest.mark.slow

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
SENSORS = ("source_sensor", "takedown_sensor")
Ran = list[tuple[str, str | None]]


@dataclass
class Flow:
    """The project, its instance and the sensors' cursors: what the daemon would hold."""

    project: Project
    defs: dg.Definitions
    instance: dg.DagsterInstance
    cursors: dict[str, str | None] = field(default_factory=lambda: dict.fromkeys(SENSORS))
    run_keys: set[str] = field(default_factory=set)
    last: dict[str, dg.SensorResult] = field(default_factory=dict)

    def tick(self) -> Ran:
        """Evaluate both sensors once, add their partitions, execute their new runs (failures kept)."""
        ran: Ran = []
        for name in SENSORS:
            sensor = self.defs.resolve_sensor_def(name)
            ctx = dg.build_sensor_context(instance=self.instance, cursor=self.cursors[name], definitions=self.defs,
                                          resources={"project": ProjectResource(root=str(self.project.root))})  # fmt: skip
            result = sensor(ctx)
            self.last[name] = result
            self.cursors[name] = result.cursor
            for req in result.dynamic_partitions_requests or []:
                self.instance.add_dynamic_partitions(req.partitions_def_name, list(req.partition_keys))
            for req in result.run_requests or []:
                if req.run_key in self.run_keys:  # the daemon skips a run key it has seen
                    continue
                self.run_keys.add(req.run_key)
                job = self.defs.resolve_job_def(req.job_name)
                job.execute_in_process(instance=self.instance, partition_key=req.partition_key, tags=req.tags,
                                       run_config={**QUIET, **(req.run_config or {})}, raise_on_error=False)  # fmt: skip
                ran.append((req.job_name, req.partition_key))
        return ran

    def settle(self, max_ticks: int = 8) -> list[Ran]:
        """Tick until a tick runs nothing; every tick's runs."""
        ticks = []
        for _ in range(max_ticks):
            ran = self.tick()
            if not ran:
                return ticks
            ticks.append(ran)
        raise AssertionError(f"the sensors never settled: {ticks}")

    def cli(self, *args: str) -> str:
        result = CliRunner().invoke(main, [*args, "--project", str(self.project.root)], env={"USER": "tester"})
        assert result.exit_code == 0, result.output
        return result.output

    def latest(self, release: str) -> int:
        return versions(self.project, release)[-1]["version"]

    def records(self, release: str, version: int) -> list[dict]:
        path = self.project.lineage_dir / "releases" / f"release={release}" / f"v{version}.parquet"
        return pq.read_table(path, columns=["doc_id", "source_id"]).to_pylist()

    def runs_of(self, partition: str) -> int:
        return len(self.instance.get_runs(filters=dg.RunsFilter(job_name="per_source_job",
                                                                tags={"dagster/partition": partition})))  # fmt: skip

    def check(self, check_name: str, asset: str = "release") -> dg.AssetCheckEvaluation:
        key = dg.AssetCheckKey(dg.AssetKey(asset), check_name)
        record = self.instance.event_log_storage.get_latest_asset_check_execution_by_key([key])[key]
        return record.event.dagster_event.asset_check_evaluation_data


@pytest.fixture
def flow(tmp_path_factory: pytest.TempPathFactory):
    from curaline.dvc_cli import sync_project
    from curaline.versioning import ensure_repo

    project = make_project(tmp_path_factory.mktemp("flow") / "proj")
    (project.root / "corpus" / "notes.jsonl").write_text(jsonl([prose(i) for i in range(20)], ids="n"))
    (project.root / "releases").mkdir()
    for s in (spec("main", "all", {"notes": 1, "chat": 1, "more": 1}), spec("notes-only", ["notes"], {"notes": 1})):
        (project.root / "releases" / f"{s['name']}.yaml").write_text(yaml.safe_dump(s))
    ensure_repo(project)  # what `curaline run` does first: git + DVC
    sync_project(project)
    mp = pytest.MonkeyPatch()
    mp.setenv("CURALINE_PROJECT", str(project.root))
    import definitions

    with dg.instance_for_test() as instance:
        yield Flow(project, definitions.build_definitions(project), instance)
    mp.undo()


def _the_sensors_alone_build_everything_in_waves(flow: Flow) -> None:
    ticks = flow.settle()
    assert ticks == [
        [("catalog_job", None), ("per_source_job", "chat"), ("per_source_job", "notes")],
        [("global_job", None)],
        [("release_job", "main"), ("release_job", "notes-only")],
    ]
    assert sorted(flow.instance.get_dynamic_partitions("sources")) == ["chat", "notes"]
    assert sorted(flow.instance.get_dynamic_partitions("releases")) == ["main", "notes-only"]
    assert (flow.latest("main"), flow.latest("notes-only")) == (1, 1)
    assert {r["source_id"] for r in flow.records("main", 1)} == {"chat", "notes"}
    assert "no new or changed source" in flow.last["source_sensor"].skip_reason.skip_message


def _a_new_manifest_reaches_the_releases_that_include_it_and_drift_is_flagged(flow: Flow) -> None:
    root = flow.project.root
    (root / "corpus" / "more.jsonl").write_text(jsonl([prose(1000 + i, 140) for i in range(40)]))
    (root / "sources" / "more.yaml").write_text(yaml.safe_dump({
        "id": "more", "location": "../corpus/more.jsonl", "format": "jsonl", "kind": "document",
        "license": "CC-BY-4.0", "obtained": "public-dataset"}))  # fmt: skip
    before = {r: flow.latest(r) for r in ("main", "notes-only")}
    ticks = flow.settle()
    assert ticks == [[("catalog_job", None), ("per_source_job", "more")], [("global_job", None)], [("release_job", "main")]]
    assert "more" in flow.instance.get_dynamic_partitions("sources")
    assert flow.latest("main") == before["main"] + 1 and flow.latest("notes-only") == before["notes-only"]
    new = flow.records("main", flow.latest("main"))
    assert sum(r["source_id"] == "more" for r in new) > 0
    assert not any(r["source_id"] == "more" for r in flow.records("main", before["main"]))

    # the source mix moved from 1/2 + 1/2 to 1/3 each: the non-blocking drift check fails, readably
    drift = flow.check("release_drift")
    assert not drift.passed and drift.severity == dg.AssetCheckSeverity.WARN
    assert drift.description.startswith(f"v{before['main']} → v{before['main'] + 1}: drifted dimensions: ")
    assert "source mix" in drift.description
    report = drift.metadata["report"].value
    assert report.startswith(f"### Drift of release `main`: v{before['main']} → v{before['main'] + 1}\n"
                             "**Drift above threshold in 1 of 6 dimensions: source mix.**")
    assert "Jensen" in report and "data:image/svg+xml;base64," in report
    [run] = flow.instance.get_runs(filters=dg.RunsFilter(job_name="release_job", tags={"dagster/partition": "main"}), limit=1)
    assert run.status == dg.DagsterRunStatus.SUCCESS  # non-blocking: the release is published


def _a_changed_file_reruns_only_its_source(flow: Flow) -> None:
    chat = flow.project.root / "corpus" / "chat.jsonl"
    chat.write_bytes(chat.read_bytes())  # same content, new mtime: not a change
    assert flow.tick() == []
    runs = {s: flow.runs_of(s) for s in ("notes", "chat", "more")}
    before = {r: flow.latest(r) for r in ("main", "notes-only")}
    with chat.open("a") as fh:
        fh.write('{"q": "Is the sensor watching?", "a": "Yes, by content."}\n')
    ticks = flow.settle()
    assert ticks == [[("per_source_job", "chat")], [("global_job", None)], [("release_job", "main")]]
    assert {s: flow.runs_of(s) for s in runs} == {**runs, "chat": runs["chat"] + 1}
    assert flow.latest("main") == before["main"] + 1 and flow.latest("notes-only") == before["notes-only"]


def _a_new_or_changed_release_spec_builds_only_that_release(flow: Flow) -> None:
    runs = {s: flow.runs_of(s) for s in ("notes", "chat", "more")}
    before = {r: flow.latest(r) for r in ("main", "notes-only")}
    path = flow.project.releases_dir / "more-only.yaml"
    path.write_text(yaml.safe_dump(spec("more-only", ["more"], {"more": 1})))
    assert flow.settle() == [[("release_job", "more-only")]]  # no source reruns: their outputs are current
    assert "more-only" in flow.instance.get_dynamic_partitions("releases")
    assert flow.latest("more-only") == 1
    assert {r["source_id"] for r in flow.records("more-only", 1)} == {"more"}

    changed = spec("more-only", ["more"], {"more": 1})
    changed["splits"]["seed"] = 8  # other splits: other shard bytes, a new version
    path.write_text(yaml.safe_dump(changed))
    assert flow.settle() == [[("release_job", "more-only")]]
    assert flow.latest("more-only") == 2
    assert {s: flow.runs_of(s) for s in runs} == runs
    assert {r: flow.latest(r) for r in before} == before


def _a_fresh_cursor_rebuilds_only_what_changed_since_the_last_materialization(flow: Flow) -> None:
    """A new daemon (or one started on a project `curaline run` built) has no cursor: what the
    instance last materialized from the same bytes is current, only the rest is rebuilt."""
    runs = {s: flow.runs_of(s) for s in ("notes", "chat", "more")}
    before = {r: flow.latest(r) for r in ("main", "notes-only", "more-only")}
    flow.cursors["source_sensor"] = None
    assert flow.settle() == [[("catalog_job", None)]]  # the catalog is cheap and its key was in the cursor
    assert {s: flow.runs_of(s) for s in runs} == runs

    flow.cursors["source_sensor"] = None  # a change while no sensor watched: a spec and one source
    spec_path = flow.project.releases_dir / "more-only.yaml"
    changed = yaml.safe_load(spec_path.read_text())
    changed["splits"]["seed"] = 9
    spec_path.write_text(yaml.safe_dump(changed))
    with (flow.project.root / "corpus" / "notes.jsonl").open("a") as fh:
        fh.write(jsonl([prose(5000)], ids="late"))
    ticks = flow.settle()
    assert ticks == [[("catalog_job", None), ("per_source_job", "notes")], [("global_job", None)],
                     [("release_job", "main"), ("release_job", "more-only"), ("release_job", "notes-only")]]  # fmt: skip
    assert {s: flow.runs_of(s) for s in runs} == {**runs, "notes": runs["notes"] + 1}
    # notes-only has the new record, more-only other splits; main was rebuilt too, but its
    # token-weighted mix samples notes down, so the new record may leave its bytes unchanged
    assert (flow.latest("notes-only"), flow.latest("more-only")) == (before["notes-only"] + 1, before["more-only"] + 1)


def _takedown_by_source_and_doc_id_rebuilds_every_affected_release(flow: Flow, tmp_path: Path) -> None:
    old = {r: flow.latest(r) for r in ("main", "notes-only")}
    in_both = {r["doc_id"] for r in flow.records("notes-only", old["notes-only"])} & {
        r["doc_id"] for r in flow.records("main", old["main"]) if r["source_id"] == "notes"}
    victim = min(in_both)  # a notes record both releases hold
    ids = tmp_path / "erase.txt"
    ids.write_text(f"# erasure request\n{victim}\n")
    flow.cli("takedown", "--doc-ids", str(ids), "--reason", "GDPR art. 17 request 12")
    flow.cli("takedown", "--source", "chat", "--reason", "licence withdrawn")

    def status() -> dict[str, str]:
        return {r["selector"]["kind"]: r["status"] for r in json.loads(flow.cli("takedown-status", "--json"))["requests"]}

    assert status() == {"doc_ids": "pending", "source": "pending"}
    assert flow.tick() == [("per_source_job", "chat"), ("per_source_job", "notes")]
    assert status() == {"doc_ids": "applied", "source": "applied"}
    assert flow.tick() == [("global_job", None)]
    assert status() == {"doc_ids": "applied", "source": "applied"}  # complete only once every release has a new version
    assert flow.tick() == [("release_job", "main"), ("release_job", "notes-only")]
    assert status() == {"doc_ids": "complete", "source": "complete"}
    assert flow.tick() == []
    assert flow.last["takedown_sensor"].skip_reason.skip_message == "no new takedown request"

    new = {r: flow.latest(r) for r in old}
    assert new == {r: v + 1 for r, v in old.items()}
    for release in old:
        kept = flow.records(release, new[release])
        assert victim not in {r["doc_id"] for r in kept} and not any(r["source_id"] == "chat" for r in kept)
        assert victim in {r["doc_id"] for r in flow.records(release, old[release])}
    assert any(r["source_id"] == "chat" for r in flow.records("main", old["main"]))

    # the old version is marked superseded and stays restorable, byte for byte
    listed = {(r["release"], r["version"]): r["status"] for r in json.loads(flow.cli("release", "list", "--json"))}
    assert listed[("main", old["main"])] == "superseded" and listed[("main", new["main"])] == "released"
    out = tmp_path / "audit"
    flow.cli("release", "checkout", f"main@v{old['main']}", "--to", str(out))
    restored = pq.read_table(sorted(out.rglob("*.parquet")), columns=["doc_id"])["doc_id"].to_pylist()
    assert victim in restored

    # the ledger and the lineage: the takedown rows, the request, the first version without the record
    request_id = next(p.stem for p in (flow.project.lineage_dir / "takedowns").glob("*.json")
                      if victim in p.read_text())  # fmt: skip
    trace = json.loads(flow.cli("lineage", "trace", victim, "--json"))
    [removed] = [r for r in trace["removed_from_releases"] if r["release"] == "main"]
    assert removed["first_version_without"] == new["main"] and removed["last_version"] == old["main"]
    assert [(e["action"], e["detail"]) for e in removed["removed_by"]] == [("takedown", request_id)]
    text = flow.cli("lineage", "trace", victim)
    assert f"removed  from main in v{new['main']} (last in v{old['main']}" in text and request_id in text
    [shown] = trace["takedowns"]
    assert (shown["id"], shown["requested_by"], shown["reason"], shown["selector"]) == (
        request_id, "tester", "GDPR art. 17 request 12", "doc_ids")
    assert f"takedown {request_id} by tester at " in text and ": GDPR art. 17 request 12" in text
    # who and why, per release the first version without it (curaline.takedown's view of the same story)
    [request] = takedown_trace(flow.project, victim)
    assert (request["id"], request["requested_by"], request["reason"], request["status"]) == (
        request_id, "tester", "GDPR art. 17 request 12", "complete")
    assert request["releases"] == {r: {"last_with": old[r], "first_without": new[r]} for r in old}

    # records once taken down stay out of every later run: another change of notes brings nothing back
    with (flow.project.root / "corpus" / "notes.jsonl").open("a") as fh:
        fh.write(jsonl([prose(99)], ids="late"))
    flow.settle()
    assert victim not in {r["doc_id"] for r in flow.records("notes-only", flow.latest("notes-only"))}


def _a_bad_manifest_or_spec_is_reported_and_the_sensor_survives(flow: Flow) -> None:
    sources, releases = flow.project.sources_dir, flow.project.root / "releases"
    (sources / "broken.yaml").write_text("id: broken\nformat: xml\n")
    (releases / "bad.yaml").write_text("name: bad\nuse: production\n")
    assert flow.tick() == [("catalog_job", None)]  # its manifests_valid check shows the problem in the UI
    valid = flow.check("manifests_valid", "source_catalog")
    assert not valid.passed and "broken.yaml" in str(valid.metadata)
    assert flow.tick() == []
    message = flow.last["source_sensor"].skip_reason.skip_message
    assert "manifest problem(s): " in message and f"{sources}/broken.yaml: format: 'xml'" in message
    assert "release spec problem(s): " in message and "releases/bad.yaml: description: is required" in message
    assert "releases/bad.yaml: use: 'production' is not allowed" in message
    assert "broken" not in flow.instance.get_dynamic_partitions("sources")
    assert "bad" not in flow.instance.get_dynamic_partitions("releases")

    (sources / "broken.yaml").unlink()
    (releases / "bad.yaml").unlink()
    assert flow.tick() == [("catalog_job", None)]
    assert flow.check("manifests_valid", "source_catalog").passed
    assert flow.tick() == []


def test_the_operators_day(flow: Flow, tmp_path: Path) -> None:
    """The steps share one instance, its cursors and the releases each step leaves behind, so
    they are one test: run alone or in any order among the others, it sees the same story."""
    _the_sensors_alone_build_everything_in_waves(flow)
    _a_new_manifest_reaches_the_releases_that_include_it_and_drift_is_flagged(flow)
    _a_changed_file_reruns_only_its_source(flow)
    _a_new_or_changed_release_spec_builds_only_that_release(flow)
    _a_fresh_cursor_rebuilds_only_what_changed_since_the_last_materialization(flow)
    _takedown_by_source_and_doc_id_rebuilds_every_affected_release(flow, tmp_path)
    _a_bad_manifest_or_spec_is_reported_and_the_sensor_survives(flow)
