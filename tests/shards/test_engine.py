"""The local engine: every task once, in worker processes, failures named; its config."""

from __future__ import annotations

import os

import pytest
from engine_tasks import fail_on_three, square

from curaline.engine import EngineConfig, LocalEngine, TaskError, make_engine
from curaline.project import Project


def test_local_engine_runs_every_task_once_in_worker_processes() -> None:
    with LocalEngine(2, preload=["engine_tasks"]) as engine:
        results = dict(engine.map(square, list(range(20))))
    assert sorted(results) == list(range(20))
    assert all(results[i][0] == i * i for i in range(20))
    assert os.getpid() not in {pid for _, pid in results.values()}


def test_one_worker_runs_in_process() -> None:
    with LocalEngine(1) as engine:
        results = dict(engine.map(square, [1, 2, 3]))
    assert {pid for _, pid in results.values()} == {os.getpid()}


def test_one_worker_can_be_a_process_of_its_own_for_a_busy_caller() -> None:
    with LocalEngine(1, preload=["engine_tasks"], in_process=False) as engine:
        results = dict(engine.map(square, [1, 2, 3]))
    pids = {pid for _, pid in results.values()}
    assert len(pids) == 1 and os.getpid() not in pids
    with LocalEngine(1, in_process=False) as engine:  # one task: no pool to start for it
        assert {pid for _, (_, pid) in engine.map(square, [4])} == {os.getpid()}


@pytest.mark.parametrize("workers", [1, 2])
def test_a_failing_task_is_named_and_finished_tasks_are_still_returned(workers: int) -> None:
    seen = []
    with LocalEngine(workers) as engine, pytest.raises(TaskError, match="task-3: ValueError: three is not allowed"):
        for _, value in engine.map(fail_on_three, list(range(6)), describe=lambda x: f"task-{x}"):
            seen.append(value)
    assert 3 not in seen and {0, 1, 2} <= set(seen)


def test_engine_config_from_curaline_yaml_and_the_override(tmp_path) -> None:
    assert EngineConfig.parse(None).resolved_workers == len(os.sched_getaffinity(0))
    config = EngineConfig.parse({"kind": "local", "workers": 3})
    assert config.resolved_workers == 3 and config.with_workers(1).resolved_workers == 1
    assert config.with_workers(None) is config
    assert isinstance(make_engine(config), LocalEngine)
    (tmp_path / "curaline.yaml").write_text("engine:\n  kind: local\n  workers: 2\n")
    assert Project.at(tmp_path).config.engine.workers == 2


@pytest.mark.parametrize(("raw", "message"), [
    ({"kind": "spark"}, "engine.kind: 'spark' is not one of local"),
    ({"workers": 0}, "engine.workers: must be a positive integer, got 0"),
    ({"workers": "many"}, "engine.workers: must be a positive integer"),
    ({"cores": 2}, "engine: unknown key"),
    ({"duckdb_memory": "lots"}, "engine.duckdb_memory: 'lots' is not a memory size; write it like 512MiB"),
    ({"duckdb_memory": 512}, "engine.duckdb_memory: 512 is not a memory size"),
    ({"duckdb_memory": "0MiB"}, "engine.duckdb_memory: '0MiB' is below 128MiB, what one DuckDB thread needs"),
    ({"duckdb_memory": "64MB"}, "engine.duckdb_memory: '64MB' is below 128MiB"),
    ("local", "engine: must be a mapping"),
])  # fmt: skip
def test_engine_config_errors_name_the_key(raw: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EngineConfig.parse(raw)
