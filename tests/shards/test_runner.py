"""One pass per shard: the same records, counts and ledger rows as the stage-by-stage pipeline,
committed exactly once, skipped on a rerun, resumed byte-identical after a kill -9."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from shard_project import write_project

from curaline.engine import LocalEngine
from curaline.ingest import ingest_source
from curaline.lineage.views import SHARD_LEDGER_FILE
from curaline.project import Project
from curaline.shards.chain import record_chain
from curaline.shards.commit import ShardCommit, recover
from curaline.shards.phase import shard_dir, source_tasks
from curaline.shards.runner import RAW, run_phase
from curaline.sources import load_manifests
from curaline.stage import run_record_stage

EVENT_COLUMNS = ["doc_id", "action", "reason", "value", "threshold", "detail"]


def load(root: Path):
    project = Project.at(root)
    (manifest,) = load_manifests(project.sources_dir)[0]
    return project, manifest


def digests(root: Path, *folders: str) -> dict[str, str]:
    out = {}
    for folder in folders:
        for path in sorted((root / folder).rglob("*.parquet")):
            out[path.relative_to(root).as_posix()] = hashlib.md5(path.read_bytes()).hexdigest()
    return out


def ledger_rows(root: Path, stage: str) -> list[tuple]:
    files = sorted((root / "lineage" / "ledger" / f"stage={stage}").rglob("*.parquet"))
    if not files:
        return []
    table = pa.concat_tables(pq.read_table(f, columns=EVENT_COLUMNS) for f in files)
    return sorted(tuple(r.values()) for r in table.to_pylist())


@pytest.fixture(scope="module")
def sharded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict]]:
    root = write_project(tmp_path_factory.mktemp("sharded"))
    project, manifest = load(root)
    tasks = source_tasks(project, manifest, "run-a", record_chain(manifest, project))
    with LocalEngine(2) as engine:
        results = run_phase(engine, tasks)
    return root, results


def test_shards_equal_the_stage_by_stage_pipeline(sharded: tuple[Path, list[dict]], tmp_path: Path) -> None:
    root, results = sharded
    project, manifest = load(root)
    assert len(results) == 6 and [r["shard"] for r in results] == list(range(6))
    # the reference: one whole file per stage, each stage reading the previous one's output
    raw, quarantine = tmp_path / "raw.parquet", tmp_path / "q.parquet"
    stats = ingest_source(manifest, raw, quarantine, project.config.ingest)
    assert ds.dataset(shard_dir(project, RAW, "web")).to_table().equals(pq.read_table(raw))
    assert ds.dataset(shard_dir(project, "quarantined_records", "web")).to_table().equals(pq.read_table(quarantine))
    assert sum(r["ingest"]["quarantined"].get("duplicate_source_id", 0) for r in results) == \
        stats.quarantined["duplicate_source_id"] == 5  # fmt: skip
    previous = raw
    for stage in record_chain(manifest, project):
        out = tmp_path / f"{stage.name}.parquet"
        ref_stats, ref_events = run_record_stage(stage.kernel, kind="document", config=stage.config, input_path=previous,
                                                 output_path=out, signal_columns=stage.signal_columns,
                                                 signal_column=stage.signal_column)  # fmt: skip
        folder = shard_dir(project, stage.name, "web")
        assert ds.dataset(folder).to_table().equals(pq.read_table(out)), stage.name
        with duckdb.connect() as con:  # the folder is one dataset for DuckDB too
            (n,) = con.execute("SELECT count(*) FROM read_parquet(?)", [str(folder / "*.parquet")]).fetchone()
        assert n == ref_stats.kept
        got = [r["stages"][stage.name] for r in results]
        assert sum(g["rows_in"] for g in got) == ref_stats.rows_in and sum(g["kept"] for g in got) == ref_stats.kept
        assert sum((__import__("collections").Counter(g["dropped"]) for g in got), __import__("collections").Counter()) \
            == ref_stats.dropped  # fmt: skip
        assert all(g["validation"]["failures"] == 0 and g["validation"]["rows"] == g["kept"] for g in got)
        assert ledger_rows(root, stage.name) == sorted(tuple(r.values()) for r in ref_events.select(EVENT_COLUMNS).to_pylist())
        previous = out
    assert ref_stats.kept > 150


def test_each_shard_has_one_ledger_file_per_stage(sharded: tuple[Path, list[dict]]) -> None:
    root, _ = sharded
    for stage in ("raw_records", "normalized", "toxicity_screened"):
        names = sorted(p.name for p in (root / "lineage/ledger" / f"stage={stage}" / "partition=web").iterdir())
        # named by the time each worker committed its shard, as every ledger file is (curaline.lineage.views)
        assert [SHARD_LEDGER_FILE.match(n)["at"] is not None for n in names] == [True] * 6, names
        assert sorted(n.split("-", 1)[1] for n in names) == [f"run=run-a.shard={i:05d}-of-00006.parquet" for i in range(6)]


def test_a_rerun_skips_committed_shards_and_changes_no_byte(sharded: tuple[Path, list[dict]]) -> None:
    root, first = sharded
    before = digests(root, "data", "lineage")
    project, manifest = load(root)
    tasks = source_tasks(project, manifest, "run-b", record_chain(manifest, project))
    with LocalEngine(2) as engine:
        again = run_phase(engine, tasks)
    assert all(r["skipped"] for r in again)
    assert [r["stages"] for r in again] == [r["stages"] for r in first]
    assert digests(root, "data", "lineage") == before
    assert engine._pool is None  # committed shards are reported by the caller: no worker was started


def test_each_source_is_reported_done_once_as_soon_as_its_shards_are_final(tmp_path: Path) -> None:
    from shard_project import dedup_project

    from curaline.shards.phase import run_sources

    # two sources of 3 and 2 shards; `web` also gets a repeated id, so one of its shards runs again after the round
    root = dedup_project(tmp_path)
    with (root / "corpus" / "web.jsonl").open("a") as fh:
        fh.write('{"id": "w3", "text": "A later record that reuses an id an earlier shard holds, and says so at length."}\n')
    project = Project.at(root)
    manifests = load_manifests(project.sources_dir)[0]
    seen: list[str] = []
    with LocalEngine(1) as engine:
        out = run_sources(project, manifests, {m.id: "run-s" for m in manifests}, engine,
                          on_source_done=lambda s: seen.append(f"done {s}"))  # fmt: skip
    assert len(out["web"]) == 3 and len(out["forum"]) == 2
    assert seen == ["done forum", "done web"]  # forum before web's repeat; each once
    quarantined = pa.concat_tables(pq.read_table(r["outputs"]["quarantined_records"]) for r in out["web"])
    assert "duplicate_source_id" in quarantined["reason"].to_pylist()


def test_a_changed_code_version_of_a_stage_reruns_its_shards(sharded: tuple[Path, list[dict]],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """The shard key carries the registry's code version, model files included: a rebuilt language
    model must not leave committed shards labelled by the old one."""
    from curaline import stages

    root, _ = sharded
    project, manifest = load(root)
    chain = record_chain(manifest, project)
    before = [t.key for t in source_tasks(project, manifest, "run-k", chain)]
    real = stages.code_version
    monkeypatch.setattr(stages, "code_version", lambda name: "rebuilt" if name == "language_checked" else real(name))
    after = [t.key for t in source_tasks(project, manifest, "run-k", chain)]
    assert len(set(before) & set(after)) == 0


def test_the_largest_shards_run_first_and_results_stay_in_task_order(tmp_path: Path) -> None:
    root = write_project(tmp_path)
    project, manifest = load(root)
    tasks = source_tasks(project, manifest, "run-order", record_chain(manifest, project))
    assert len(tasks) > 2 and len({t.shard.size for t in tasks}) > 1
    ran: list[int] = []
    with LocalEngine(1) as engine:  # one worker runs tasks in the order they are handed out
        results = run_phase(engine, tasks, progress=lambda r: ran.append(r["shard"]))
    by_size = sorted(range(len(tasks)), key=lambda i: -tasks[i].shard.size)
    assert ran == [tasks[i].shard.index for i in by_size] != sorted(ran)
    assert [r["shard"] for r in results] == [t.shard.index for t in tasks]


def test_the_run_s_shard_phase_stops_handing_out_shards_when_told_and_a_rerun_completes(tmp_path: Path) -> None:
    """`curaline run` starts its shards before setting up Dagster; a setup that fails stops them
    (those in flight commit), and the next run does the rest."""
    from curaline.cli import ShardPhase
    from curaline.engine import EngineConfig

    root = write_project(tmp_path)
    project, manifest = load(root)
    said: list[str] = []
    phase = ShardPhase(project, [manifest], {"web": "run-stopped"}, EngineConfig(workers=1), said.append)
    phase.start()
    phase.stop()
    phase.result()  # stopping is not an error
    tasks = source_tasks(project, manifest, "run-again", record_chain(manifest, project))
    first_round: list[bool] = []
    with LocalEngine(1) as engine:
        run_phase(engine, tasks, progress=lambda r: first_round.append(r["skipped"]))
    # those in flight committed (one worker holds two; the first to finish hands out a third before it is
    # reported), the rest did not run
    assert len(tasks) == 6 and 1 <= sum(first_round) <= 3
    assert said == []


def test_a_marker_without_its_renames_is_rolled_forward(tmp_path: Path) -> None:
    commit = ShardCommit(tmp_path / "m" / "shard-00000.json", "k1")
    final = tmp_path / "out" / "shard-00000.parquet"
    pq.write_table(pa.table({"x": [1]}), commit.stage(final))
    body_files = list(commit.files)
    commit.files = []  # commit the marker but do none of the renames: a kill right after the commit point
    commit.commit({"n": 1})
    commit.files = body_files
    import json

    marker = json.loads((tmp_path / "m" / "shard-00000.json").read_text())
    marker["files"] = [[str(t), str(f)] for t, f in body_files]
    (tmp_path / "m" / "shard-00000.json").write_text(json.dumps(marker))
    assert not final.exists()
    assert recover(tmp_path / "m" / "shard-00000.json", "k1") == {"n": 1}
    assert pq.read_table(final)["x"].to_pylist() == [1]
    assert recover(tmp_path / "m" / "shard-00000.json", "other key") is None


KILLER = """
import os, signal, sys
sys.path[:0] = {paths!r}
from curaline.engine import LocalEngine
from curaline.project import Project
from curaline.shards.chain import record_chain
from curaline.shards.phase import source_tasks
from curaline.shards.runner import run_phase
from curaline.sources import load_manifests

project = Project.at({root!r})
(manifest,) = load_manifests(project.sources_dir)[0]
done = []
def progress(result):
    done.append(result)
    if len(done) == 2:
        os.kill(os.getpid(), signal.SIGKILL)
with LocalEngine(2) as engine:
    run_phase(engine, source_tasks(project, manifest, "killed", record_chain(manifest, project)), progress=progress)
"""


def test_kill_9_mid_phase_then_resume_is_byte_identical(sharded: tuple[Path, list[dict]], tmp_path: Path) -> None:
    reference, _ = sharded
    root = write_project(tmp_path / "p")
    log = tmp_path / "killed.log"
    with log.open("w") as err:  # a file, not a pipe: the test waits for the run, not for its workers
        proc = subprocess.run([sys.executable, "-c", KILLER.format(paths=sys.path, root=str(root))], stdout=err,
                              stderr=err, timeout=300)  # fmt: skip
    assert proc.returncode == -9, log.read_text()
    committed = len(list((root / ".curaline" / "shards" / "web").glob("shard-*.json")))
    assert 2 <= committed < 6
    project, manifest = load(root)
    first_round: list[dict] = []  # run_phase reports its first round only: the redo round below re-runs
    with LocalEngine(2) as engine:  # shards 1-5 of this source, told the ids earlier shards hold
        run_phase(engine, source_tasks(project, manifest, "resumed", record_chain(manifest, project)),
                  progress=first_round.append)  # fmt: skip
    # every shard the killed run committed is skipped (orphaned workers may have committed more since)
    assert sum(r["skipped"] for r in first_round) >= committed
    assert digests(root, "data") == digests(reference, "data")
    for stage in ("raw_records", "normalized", "language_checked", "quality_filtered", "pii_redacted", "toxicity_screened"):
        names = [p.name for p in (root / "lineage/ledger" / f"stage={stage}" / "partition=web").iterdir()]
        shards = sorted(n.split(".shard=")[1] for n in names)
        assert shards == [f"{i:05d}-of-00006.parquet" for i in range(6)], (stage, names)  # each shard exactly once
        assert ledger_rows(root, stage) == ledger_rows(reference, stage)


def _copy_ledger(src: Path, dst: Path, at: dt.datetime) -> None:
    """A copy of a ledger file that records another time (its footer; the name is the caller's)."""
    import json

    from curaline.ledger import SUMMARY_KEY

    table = pq.read_table(src)
    summary = json.loads(table.schema.metadata[SUMMARY_KEY.encode()])
    summary["recorded_at"] = at.isoformat()
    pq.write_table(table.replace_schema_metadata({SUMMARY_KEY: json.dumps(summary)}), dst)


def test_the_current_ledger_is_one_file_per_shard_of_the_newest_plan(sharded: tuple[Path, list[dict]], tmp_path: Path) -> None:
    import shutil

    from curaline.ledger import shard_ledger_file
    from curaline.lineage.views import ledger_file_name, ledger_files

    root, _ = sharded
    project = Project.at(shutil.copytree(root, tmp_path / "copy"))
    part = project.lineage_dir / "ledger" / "stage=normalized" / "partition=web"
    current = ledger_files(project, partition="web")
    ours = [p for p in current if p.parent == part]
    assert sorted(p.name.split("-", 1)[1] for p in ours) == [f"run=run-a.shard={i:05d}-of-00006.parquet" for i in range(6)]
    # an older whole-run file is history; a newer plan of 2 shards replaces the 6 (order: the
    # time each file records in its name, or for an unstamped name in its footer, never its mtime)
    long_ago = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    old = part / ledger_file_name("old", long_ago)
    legacy = part / "run=legacy.parquet"  # a name from before the time was in it: the footer's time
    for path in (old, legacy):
        _copy_ledger(current[0], path, long_ago)
        os.utime(path)  # the newest mtime, yet the oldest time
    assert {old, legacy}.isdisjoint(ledger_files(project, partition="web"))
    assert {old, legacy} <= set(ledger_files(project, partition="web", latest=False))
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    newer = [shard_ledger_file(part / f"run=later.shard={i:05d}-of-00002.parquet", later) for i in range(2)]
    for path in newer:
        _copy_ledger(current[0], path, later)
        os.utime(path, ns=(1, 1))  # the oldest mtime, yet the newest time
    assert [p for p in ledger_files(project, partition="web") if p.parent == part] == newer
    # a shard of that plan committed again later (a resumed run): its newer file replaces its older
    again = shard_ledger_file(part / "run=resumed.shard=00001-of-00002.parquet", later + dt.timedelta(hours=1))
    _copy_ledger(current[0], again, later + dt.timedelta(hours=1))
    assert [p for p in ledger_files(project, partition="web") if p.parent == part] == [newer[0], again]


def test_the_summary_adds_up_the_shards_and_checks_ids_across_them(sharded: tuple[Path, list[dict]], tmp_path: Path) -> None:
    import shutil

    from curaline.shards.summary import check_unique_doc_ids, summarize_ingest, summarize_stage

    root, results = sharded
    ingest = summarize_ingest(results)
    assert ingest.balanced and ingest.read == 240 and ingest.files == 1 and ingest.raw_validation.passed
    quality = summarize_stage(results, "quality_filtered")
    assert quality.balanced and quality.dropped_total > 0 and quality.validation.rows == quality.kept
    assert quality.signal_values().size == quality.rows_in
    folder = shard_dir(Project.at(root), RAW, "web")
    assert check_unique_doc_ids(folder, ingest.raw_validation).passed
    copy = shutil.copytree(folder, tmp_path / "raw")
    shutil.copy(copy / "shard-00000.parquet", copy / "shard-00009.parquet")  # every id of shard 0 twice
    report = check_unique_doc_ids(copy, summarize_ingest(results).raw_validation)
    assert not report.passed and report.by_check["doc_id: unique across shards"] == 2 * results[0]["ingest"]["ingested"]


def test_a_shard_sweeps_the_ledger_leftovers_of_any_killed_attempt(tmp_path: Path) -> None:
    """Ledger files are named when a shard commits, and a resumed run has another run id: the
    temporary files a killed attempt left are found by the shard, not by the run."""
    from curaline.shards.commit import sweep

    stamp = "20260101T000000000000Z"
    gone = [f".{stamp}-run=killed.shard=00002-of-00006.parquet.abc.tmp", f".{stamp}-run=x.shard=00002-of-00006.parquet.d.tmp"]
    kept = [f".{stamp}-run=killed.shard=00003-of-00006.parquet.abc.tmp",  # another shard's
            f"{stamp}-run=killed.shard=00002-of-00006.parquet"]  # a committed file  # fmt: skip
    for name in gone + kept:
        (tmp_path / name).write_bytes(b"")
    assert sweep(tmp_path, "shard=00002-of-00006.parquet", stamped=True) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(kept)
