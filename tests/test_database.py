"""DuckDB connections stay inside the project's memory budget and spill to its data/.tmp."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from curaline.database import PER_THREAD, connect, size_bytes, spill_dir
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
        assert Path(con.execute("SELECT current_setting('temp_directory')").fetchone()[0]) == project.data_dir / ".tmp"
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
    the project's data/.tmp), with the same answer as without a budget."""
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
    assert not any((project.data_dir / ".tmp").iterdir())
    assert pa.array([spilled[1]]).type == pa.string()


def test_a_project_where_no_spill_folder_can_be_made_spills_to_the_system_temp_folder(tmp_path: Path) -> None:
    """Compliance staff query a read-only copy of a project: no data/.tmp can be made there (here:
    `data` is a file, which even root cannot make a folder in), and the query still runs."""
    (tmp_path / "data").write_text("not a folder")
    project = Project.at(tmp_path)
    with connect(project) as con:
        where = Path(con.execute("SELECT current_setting('temp_directory')").fetchone()[0])
        assert con.execute("SELECT 42").fetchone()[0] == 42
    assert where == spill_dir(None)
