"""The event log storage `curaline run` opens its instance with (resources/event_log.py), for real.

It writes Dagster's own SQLite files through one engine per file: a fresh process with the
home's stock dagster.yaml (as the webserver is) must read what it wrote, Dagster's own class
must read the files, a home's earlier history stays, and the folder is the home's whatever
$DAGSTER_HOME the caller has.
"""

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import closing
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from tests_support import make_project

from curaline.cli import open_instance
from resources.event_log import CachedEngineSqliteEventLogStorage

REPO = Path(__file__).resolve().parents[1]

# what the webserver does with the home: load the instance from dagster.yaml in a new process
READER = """
import json, sys
import dagster as dg
with dg.DagsterInstance.get() as instance:
    runs = instance.get_runs()
    print(json.dumps({
        "storage": type(instance.event_log_storage).__name__,
        "runs": {r.run_id: r.status.value for r in runs},
        "events": {r.run_id: len(instance.all_logs(r.run_id)) for r in runs},
        "materialized": {k: sorted(r.partition_key or "" for r in
                                   instance.fetch_materializations(dg.AssetKey(k), limit=1000).records)
                         for k in sys.argv[1:]},
    }))
"""


def read_home(home: Path, *assets: str) -> dict:
    env = {**os.environ, "DAGSTER_HOME": str(home), "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tests")])}
    out = subprocess.run([sys.executable, "-c", READER, *assets], env=env, cwd=home, capture_output=True,
                         text=True, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


letters = dg.StaticPartitionsDefinition(["a", "b", "c"])


@dg.asset(partitions_def=letters)
def letter(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"letter": context.partition_key})


@dg.asset(check_specs=[dg.AssetCheckSpec("non_empty", asset="summary")])
def summary() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"n": 3}, check_results=[dg.AssetCheckResult(passed=True)])


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


def test_runs_written_through_cached_engines_are_read_by_a_fresh_process_and_by_stock_dagster(home: Path) -> None:
    with open_instance(home) as instance:
        storage = instance.event_log_storage
        assert isinstance(storage, CachedEngineSqliteEventLogStorage)
        assert Path(storage._base_dir) == home / "history" / "runs"  # where Dagster's default storage keeps them
        first = dg.materialize([letter], instance=instance, partition_key="a")
        assert first.success
        # another process reads between this one's writes (the webserver while a run goes on)
        seen = read_home(home, "letter")
        assert seen["storage"] == "SqliteEventLogStorage"  # the webserver's: the home's dagster.yaml is Dagster's
        assert seen["runs"] == {first.run_id: "SUCCESS"} and seen["materialized"]["letter"] == ["a"]
        more = [dg.materialize([letter], instance=instance, partition_key=p) for p in ("b", "c")]
        more.append(dg.materialize([summary], instance=instance))
        assert all(r.success for r in more)
        written = {r.run_id: len(instance.all_logs(r.run_id)) for r in [first, *more]}
        assert len(storage._engines) >= 2  # the index and the runs' files: kept, not rebuilt per event

    for shard in [*written, "index"]:  # WAL, as Dagster made them; no -wal file left once the instance closed
        db = home / "history" / "runs" / f"{shard}.db"
        assert not db.with_name(db.name + "-wal").exists()
        with closing(sqlite3.connect(db)) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    seen = read_home(home, "letter", "summary")
    assert seen["runs"] == dict.fromkeys(written, "SUCCESS")
    assert seen["events"] == written and min(written.values()) > 5
    assert seen["materialized"] == {"letter": ["a", "b", "c"], "summary": [""]}

    # Dagster's own class on the same files: nothing curaline-specific was written
    stock = SqliteEventLogStorage(str(home / "history" / "runs"))
    for run_id, count in written.items():
        assert len(stock.get_logs_for_run(run_id)) == count
    assert stock.get_latest_materialization_events([dg.AssetKey("summary")])[dg.AssetKey("summary")] is not None
    check = dg.AssetCheckKey(dg.AssetKey("summary"), "non_empty")
    execution = stock.get_latest_asset_check_execution_by_key([check])[check]
    assert execution.event.dagster_event.asset_check_evaluation_data.passed
    assert {k.to_user_string() for k in stock.all_asset_keys()} == {"letter", "summary"}


def test_threads_share_the_engines_under_the_lock(home: Path) -> None:
    with open_instance(home) as instance:

        def report(i: int) -> None:
            for j in range(15):
                instance.report_runless_asset_event(dg.AssetMaterialization("threaded", partition=f"{i}-{j}"))

        threads = [threading.Thread(target=report, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert not any(t.is_alive() for t in threads)  # no deadlock: has_table runs inside index transactions
    assert len(read_home(home, "threaded")["materialized"]["threaded"]) == 60


def test_a_home_with_history_keeps_it_and_its_dagster_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    before = "# mine\ntelemetry:\n  enabled: false\nnux:\n  enabled: false"
    (home / "dagster.yaml").write_text(before)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:  # Dagster's default storage: the runs before curaline opened it
        assert type(instance.event_log_storage) is SqliteEventLogStorage
        old = dg.materialize([letter], instance=instance, partition_key="b").run_id
    with open_instance(home) as instance:
        assert isinstance(instance.event_log_storage, CachedEngineSqliteEventLogStorage)
        assert instance.get_run_by_id(old) is not None and len(instance.all_logs(old)) > 5
        new = dg.materialize([letter], instance=instance, partition_key="c").run_id
    assert (home / "dagster.yaml").read_text() == before  # nothing written into the user's file
    seen = read_home(home, "letter")
    assert seen["runs"] == {old: "SUCCESS", new: "SUCCESS"} and seen["materialized"]["letter"] == ["b", "c"]


def test_the_home_decides_where_events_go_not_the_callers_dagster_home(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """A caller whose $DAGSTER_HOME is another home (a test, a script opening several projects)
    must not send one home's events to the other's files."""
    mine, other = tmp_path / "mine", tmp_path / "other"
    for h in (mine, other):
        h.mkdir()
        (h / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(other))
    with open_instance(mine) as instance:
        assert Path(instance.event_log_storage._base_dir) == mine / "history" / "runs"
        run_id = dg.materialize([letter], instance=instance, partition_key="a").run_id
    with dg.DagsterInstance.from_config(str(mine)) as reader:  # as a test or a script reads a project's home
        assert len(reader.all_logs(run_id)) > 5
    assert not (other / "history").exists()


@pytest.mark.parametrize("own", [
    "storage:\n  sqlite:\n    base_dir: /somewhere\n",
    "event_log_storage:\n  module: dagster._core.storage.event_log\n  class: SqliteEventLogStorage\n"
    "  config:\n    base_dir: /somewhere\n",
])  # fmt: skip
def test_a_home_that_names_its_own_storage_is_opened_as_it_is(own: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(own.replace("/somewhere", str(tmp_path / "elsewhere")))
    with open_instance(home) as instance:
        assert type(instance.event_log_storage) is SqliteEventLogStorage
        assert Path(instance.event_log_storage._base_dir).is_relative_to(tmp_path / "elsewhere")  # the file's place


def test_curaline_run_records_through_the_storage_and_a_fresh_process_reads_them(tmp_path: Path,
                                                                                   monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    from curaline.cli import run_pipeline

    project = make_project(tmp_path / "proj")
    monkeypatch.setenv("DAGSTER_HOME", str(project.dagster_home))
    monkeypatch.setenv("CURALINE_PROJECT", str(project.root))
    assert run_pipeline(project, echo=lambda _: None)
    home = project.dagster_home
    assert "event_log_storage" not in (yaml.safe_load((home / "dagster.yaml").read_text()) or {})
    seen = read_home(home, "raw_records", "source_catalog")  # as the webserver reads them, with Dagster's class
    assert seen["runs"] and set(seen["runs"].values()) == {"SUCCESS"}
    assert all(n > 0 for n in seen["events"].values())
    assert seen["materialized"] == {"raw_records": ["chat", "notes"], "source_catalog": [""]}
    assert {p.stem for p in (home / "history" / "runs").glob("*.db")} == {"index", *seen["runs"]}


def test_the_webservers_live_view_sees_each_event_as_it_is_written(home: Path) -> None:
    """The webserver follows a run by watching `<run_id>.db` for changes: the kept connection
    must still change it with each write (the stock class's connection did when it closed)."""
    from dagster._core.events.log import EventLogEntry
    from dagster._core.utils import make_new_run_id

    def entry(run_id: str, message: str) -> EventLogEntry:
        return EventLogEntry(error_info=None, level=20, user_message=message, run_id=run_id, timestamp=time.time())

    run_id = make_new_run_id()
    with open_instance(home) as instance:
        instance.event_log_storage.store_event(entry(run_id, "first"))
        webserver = SqliteEventLogStorage(str(home / "history" / "runs"))  # Dagster's class, as in the webserver
        seen: list[str] = []
        arrived = threading.Condition()

        def on_event(event: EventLogEntry, _cursor: str) -> None:
            with arrived:
                seen.append(event.user_message)
                arrived.notify_all()

        webserver.watch(run_id, None, on_event)
        try:
            time.sleep(0.2)  # the observer's watch is in place
            for message in ("second", "third"):
                instance.event_log_storage.store_event(entry(run_id, message))
                with arrived:  # each one shows before the next is written
                    assert arrived.wait_for(lambda m=message: m in seen, timeout=10), (message, seen)
        finally:
            webserver.end_watch(run_id, on_event)
            webserver.dispose()
    assert seen[-2:] == ["second", "third"]


def test_a_dagster_yaml_that_does_not_parse_is_named_with_its_line(tmp_path: Path) -> None:
    from curaline.cli import UserError

    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry: [unclosed\n")
    with pytest.raises(UserError, match=r"dagster\.yaml is not valid YAML: .*line 1"):
        open_instance(home)
