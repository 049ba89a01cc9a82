"""DuckDB connections stay inside the project's memory budget and spill to its .curaline/tmp."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa

from curaline.database import PER_THREAD, connect, process_spill_dir, size_bytes, spill_dir, sweep_spill_folders
from curaline.engine import EngineConfig
from curaline.project import Project


def _mib(con) -> float:
    text = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]  # e.g. "488.2 MiB"
    number, unit = text.split()
    return float(number) * {"KiB": 1 / 1024, "MiB": 1, "GiB": 1024}[unit]


def test_the_budget_comes_from_curaline_yaml_and_survives_the_overrides(tmp_path: Path) -> None:
    (tmp_path / "curaline.yaml").write_text("engine:\n  workers: 2\n  duckdb_memory: 192MiB\n")
    project = Project.at(tmp_path)
    assert project.config.engine.duckdb_memory == "192MiB"
    config = project.config.engine
    assert config.with_workers(1).duckdb_memory == "192MiB"  # --workers / --engine keep it
    assert config.with_engine("ray", "127.0.0.1:6379").duckdb_memory == "192MiB"
    with connect(project) as con:
        assert _mib(con) == 192
        folder = Path(con.execute("SELECT current_setting('temp_directory')").fetchone()[0])
        assert folder.parent == spill_dir(project) and folder.name.startswith(f"duckdb-{os.getpid()}-")
    with connect(project, memory="32MiB") as con:
        assert _mib(con) <= 32
    assert EngineConfig.parse({}).duckdb_memory is None
    with connect() as con:  # no project: the default budget (at least PER_THREAD a thread)
        threads = int(con.execute("SELECT current_setting('threads')").fetchone()[0])
        assert _mib(con) == max(1024, threads * PER_THREAD / 2**20)
    with connect(project, memory="200MiB") as con:  # a named budget is kept; the threads fit it
        assert _mib(con) == 200
        assert int(con.execute("SELECT current_setting('threads')").fetchone()[0]) == 1
    assert size_bytes("1GB") == 10**9 and size_bytes("1.5GiB") == 3 * 2**29


def test_a_query_past_the_budget_spills_and_leaves_no_file(tmp_path: Path) -> None:
    """A distinct sort of ~230 MB of strings under a 160 MiB budget completes (DuckDB spills to
    the project's .curaline/tmp), with the same answer as without a budget."""
    (tmp_path / "curaline.yaml").write_text("engine:\n  duckdb_memory: 160MiB\n")
    project = Project.at(tmp_path)
    sql = ("SELECT count(*), min(k), max(k) FROM (SELECT DISTINCT md5(i::VARCHAR) || repeat('x', 60) AS k "
           "FROM range(2500000) t(i) ORDER BY k)")  # fmt: skip
    with connect(project) as con:
        spilled = con.execute(sql).fetchone()
        assert con.execute("SELECT count(*) FROM duckdb_temporary_files()").fetchone()[0] == 0  # removed when done
    with connect(project, memory="4GiB") as con:
        assert con.execute(sql).fetchone() == spilled
    assert spilled[0] == 2_500_000
    assert [p.name for p in (spill_dir(project)).rglob("*") if p.is_file()] == [".lock"]
    assert pa.array([spilled[1]]).type == pa.string()


def test_a_project_where_no_spill_folder_can_be_made_spills_to_the_system_temp_folder(tmp_path: Path) -> None:
    """Compliance staff query a read-only copy of a project: no .curaline/tmp can be made there (here:
    `.curaline` is a file, which even root cannot make a folder in), and the query still runs."""
    (tmp_path / ".curaline").write_text("not a folder")
    project = Project.at(tmp_path)
    with connect(project) as con:
        where = Path(con.execute("SELECT current_setting('temp_directory')").fetchone()[0])
        assert con.execute("SELECT 42").fetchone()[0] == 42
    assert where.parent == spill_dir(None)


# a process that spills (a sort of ~230 MB of strings under 160 MiB) and prints its spill folder
SPILLER = """
import sys
from curaline.database import connect
from curaline.project import Project
con = connect(Project.at(sys.argv[1]), memory="160MiB")
print(con.execute("SELECT current_setting('temp_directory')").fetchall()[0][0], flush=True)
while True:
    con.execute("SELECT count(*) FROM (SELECT DISTINCT md5(i::VARCHAR) || repeat('x', 60) AS k "
                "FROM range(2500000) t(i) ORDER BY k)").fetchall()
"""


def test_a_killed_process_s_spill_files_are_deleted_by_the_next_one_and_a_live_one_s_kept(tmp_path: Path) -> None:
    """kill -9 while DuckDB spills leaves its temporary files; the next process to connect deletes
    them (nobody holds that folder's lock), and leaves the folder of a process still running."""
    project = Project.at(tmp_path)
    killed = subprocess.Popen([sys.executable, "-c", SPILLER, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    alive = subprocess.Popen([sys.executable, "-c", SPILLER, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        dead_folder = Path(killed.stdout.readline().strip())
        live_folder = Path(alive.stdout.readline().strip())
        deadline = time.monotonic() + 120
        while not [p for p in dead_folder.iterdir() if p.name != ".lock"]:  # DuckDB has spilled
            assert time.monotonic() < deadline and killed.poll() is None, "the spilling process never spilled"
            time.sleep(0.05)
        killed.kill()
        killed.wait(30)
        assert [p for p in dead_folder.iterdir() if p.name != ".lock"]  # what the kill left behind
        with connect(project) as con:  # the next process (here: this one) to connect sweeps
            assert con.execute("SELECT 1").fetchall() == [(1,)]
        assert not dead_folder.exists()
        assert live_folder.is_dir() and alive.poll() is None  # held: untouched, its query still runs
        assert sweep_spill_folders(spill_dir(project)) == []
    finally:
        for proc in (killed, alive):
            proc.kill()
            proc.wait(30)
    # the live one is gone now too: its folder is swept, this process's own is never
    own = process_spill_dir(spill_dir(project))
    assert sweep_spill_folders(spill_dir(project)) == [live_folder]
    assert own.is_dir() and (own / ".lock").exists()


def test_the_spill_folder_goes_when_its_process_exits(tmp_path: Path) -> None:
    code = ("import sys\nfrom curaline.database import connect\nfrom curaline.project import Project\n"
            "con = connect(Project.at(sys.argv[1]))\ncon.close()\n")  # fmt: skip
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True, timeout=120)
    assert list((tmp_path / ".curaline" / "tmp").iterdir()) == []


def _spill_folder_of_this_worker(root: str) -> str:
    with connect(Project.at(root)) as con:
        return str(con.execute("SELECT current_setting('temp_directory')").fetchall()[0][0])


def test_a_pool_worker_s_spill_folder_goes_with_the_pool(tmp_path: Path) -> None:
    """Pool workers end with os._exit (no atexit): multiprocessing's finalizers remove their folder,
    and the parent's, which a forked worker inherits, stays."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    mine = process_spill_dir(spill_dir(Project.at(tmp_path)))
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
        theirs = Path(pool.submit(_spill_folder_of_this_worker, str(tmp_path)).result(timeout=120))
        assert theirs != mine and theirs.is_dir()
    assert not theirs.exists()
    assert mine.is_dir()
