"""The Ray engine on a real local cluster (one head, two worker nodes), all on loopback.

The cluster is `ray.cluster_utils.Cluster` (never the `ray start` CLI, which binds the
machine's interface address, nor the CLI's stop command, which ends every Ray process on the machine);
`RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0` keeps every process on 127.0.0.1. Shards run as Ray
tasks and write the same bytes as the local engine; a worker node killed mid-map has its
tasks retried; the teardown leaves no process behind.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # before Ray is imported: read at import time
ray = pytest.importorskip("ray", reason="the Ray tests need the ray extra: pip install -e '.[ray]'")

import dagster as dg  # noqa: E402
import psutil  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
import yaml  # noqa: E402
from engine_tasks import fail_on_three  # noqa: E402
from ray.cluster_utils import Cluster  # noqa: E402
from ray_tasks import logged_work, where  # noqa: E402
from shard_project import dedup_project, write_project  # noqa: E402

from curaline.engine import EngineConfig, LocalEngine, TaskError, make_engine  # noqa: E402
from curaline.engine.ray import RayEngine, RayUnavailable  # noqa: E402
from curaline.project import Project  # noqa: E402
from curaline.shards.chain import record_chain  # noqa: E402
from curaline.shards.phase import source_tasks  # noqa: E402
from curaline.shards.runner import run_phase  # noqa: E402
from curaline.sources import load_manifests  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CURALINE = Path(sys.executable).parent / "curaline"


def cluster_processes(cluster: Cluster) -> list[psutil.Process]:
    """Every process of the cluster's nodes (GCS, raylets, agents) and their children (the workers)."""
    procs: dict[int, psutil.Process] = {}
    for node in cluster.list_all_nodes():
        for infos in node.all_processes.values():
            for info in infos:
                try:
                    proc = psutil.Process(info.process.pid)
                    procs.update({p.pid: p for p in [proc, *proc.children(recursive=True)]})
                except psutil.NoSuchProcess:
                    continue
    return list(procs.values())


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """Head (no CPUs: it schedules, it does not work) and two one-CPU worker nodes, dashboard off."""
    # the nodes' processes inherit this environment: workers import curaline and the test tasks
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(HERE), *filter(None, [saved])])
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
    started: list[psutil.Process] = []
    try:
        cluster.add_node(num_cpus=1)
        cluster.add_node(num_cpus=1)
        yield cluster
    finally:
        started = cluster_processes(cluster)
        if ray.is_initialized():
            ray.shutdown()
        cluster.shutdown()  # by its own handles: never the CLI's stop command, which ends every Ray process on the machine
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved
    assert len(started) >= 6  # GCS, raylets, agents, workers
    alive = [p for p in started if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not alive, f"processes left behind by the cluster: {alive}"


def _loopback(ip: str) -> bool:
    address = ipaddress.ip_address(ip.split("%")[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def test_every_socket_of_the_cluster_is_on_loopback(cluster: Cluster) -> None:
    with RayEngine(cluster.address) as engine:
        assert len(dict(engine.map(where, list(range(8))))) == 8  # workers started, so their sockets exist too
        procs = [psutil.Process(), *cluster_processes(cluster)]  # the driver (this process) and the cluster
        names, sockets, bad = set(), 0, []
        for proc in procs:
            try:
                conns = proc.net_connections(kind="inet")
                names.add(proc.name())
            except psutil.NoSuchProcess:
                continue
            for conn in conns:
                sockets += 1
                for addr in (conn.laddr, conn.raddr):
                    if addr and not _loopback(addr.ip):
                        bad.append(f"{proc.name()} pid {proc.pid}: {addr.ip}:{addr.port} ({conn.status})")
    assert {"gcs_server", "raylet"} <= names and sockets > 10
    assert not bad, "non-loopback sockets:\n" + "\n".join(bad)


def test_tasks_run_once_each_on_the_worker_nodes(cluster: Cluster) -> None:
    connected = ray.is_initialized()  # Cluster.add_node (after a node-kill test) may connect this process itself
    with RayEngine(cluster.address) as engine:
        results = dict(engine.map(where, list(range(20))))
        assert engine.workers >= 2  # the cluster's CPUs (a node removed by another test may count until declared dead)
    assert sorted(results) == list(range(20)) and all(results[i][0] == i * i for i in range(20))
    workers = {n.node_id for n in cluster.worker_nodes}
    assert {node for _, _, node in results.values()} <= workers
    assert os.getpid() not in {pid for _, pid, _ in results.values()}
    assert ray.is_initialized() == connected  # the engine disconnects what it connected, and only that


def test_a_failing_task_is_named_and_not_retried(cluster: Cluster) -> None:
    seen = []
    with RayEngine(cluster.address) as engine, pytest.raises(TaskError, match="task-3: ValueError: three is not allowed"):
        for _, value in engine.map(fail_on_three, list(range(6)), describe=lambda x: f"task-{x}"):
            seen.append(value)
    assert 3 not in seen and {0, 1, 2} <= set(seen)


def test_no_cluster_at_the_address_is_refused_clearly() -> None:
    with pytest.raises(RayUnavailable, match="no Ray cluster at '127.0.0.1:1'"), RayEngine("127.0.0.1:1") as engine:
        list(engine.map(where, [1]))


def test_a_process_connected_to_one_cluster_refuses_another_address(cluster: Cluster) -> None:
    # found by CI's second, reshuffled run: after a test left this process connected to the module's
    # cluster, the engine reused that connection for any address instead of refusing a dead one
    was = ray.is_initialized()
    if not was:
        ray.init(address=cluster.address, log_to_driver=False)
    try:
        with pytest.raises(RayUnavailable, match="no Ray cluster at '127.0.0.1:1'"), RayEngine("127.0.0.1:1") as engine:
            list(engine.map(where, [1]))
        with RayEngine(cluster.address) as engine:  # the cluster it is connected to: reused, left connected
            assert len(list(engine.map(where, [1, 2]))) == 2
        assert ray.is_initialized()
    finally:
        if not was:
            ray.shutdown()


def test_engine_config_names_a_ray_cluster(tmp_path: Path) -> None:
    (tmp_path / "curaline.yaml").write_text("engine:\n  kind: ray\n  address: ray://127.0.0.1:10001\n")
    config = Project.at(tmp_path).config.engine
    assert (config.kind, config.resolved_address) == ("ray", "ray://127.0.0.1:10001")
    assert isinstance(make_engine(config), RayEngine)
    assert EngineConfig.parse({"kind": "ray"}).resolved_address == "auto"
    assert EngineConfig().with_engine(None, "127.0.0.1:6379") == EngineConfig(kind="ray", address="127.0.0.1:6379")
    assert config.with_engine("local").kind == "local" and config.with_engine("local").address is None
    for raw, message in [({"kind": "ray", "address": "nowhere"}, "'nowhere' is not a Ray address"),
                         ({"kind": "local", "address": "auto"}, "only a ray engine has an address"),
                         ({"kind": "ray", "address": "ray://h:99999"}, "is not a Ray address")]:  # fmt: skip
        with pytest.raises(ValueError, match=message):
            EngineConfig.parse(raw)
    with pytest.raises(ValueError, match="--address: only the ray engine"):
        EngineConfig().with_engine("local", "127.0.0.1:6379")


# ---- the pipeline's shards on Ray -----------------------------------------------------------


def _phase(root: Path, engine: object, run_id: str = "run-a", progress: object = None) -> list[dict]:
    project = Project.at(root)
    (manifest,) = load_manifests(project.sources_dir)[0]
    return run_phase(engine, source_tasks(project, manifest, run_id, record_chain(manifest, project)),
                     progress=progress)  # type: ignore[arg-type]  # fmt: skip


def _digests(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.md5(p.read_bytes()).hexdigest()
            for p in sorted((root / "data").rglob("*.parquet"))}  # fmt: skip


def _ledger(root: Path) -> dict[str, list[dict]]:
    """Every ledger file by name less its commit time (run, stage, source, shard), its rows without `recorded_at`."""
    out = {}
    for path in sorted((root / "lineage" / "ledger").rglob("*.parquet")):
        table = pq.read_table(path)
        name = path.relative_to(root).with_name(path.name.partition("-")[2]).as_posix()  # <time>-run=...
        assert name not in out, f"two ledger files for one shard: {name}"
        out[name] = table.drop_columns(["recorded_at"]).to_pylist()
    return out


@pytest.fixture(scope="module")
def local_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict]]:
    root = write_project(tmp_path_factory.mktemp("local") / "p")
    with LocalEngine(2) as engine:
        return root, _phase(root, engine)


def _same_as_local(root: Path, results: list[dict], local_run: tuple[Path, list[dict]]) -> None:
    reference, expected = local_run
    assert _digests(root) == _digests(reference) and len(_digests(root)) == 6 * 9  # raw, quarantine, 6 stages, bands
    assert _ledger(root) == _ledger(reference)  # same files (run, stage, source, shard), same rows
    strip = ("outputs", "ledgers", "skipped")
    assert [{k: v for k, v in r.items() if k not in strip} for r in results] == \
        [{k: v for k, v in r.items() if k not in strip} for r in expected]  # fmt: skip


def test_shards_on_ray_write_the_local_engines_bytes(cluster: Cluster, local_run: tuple[Path, list[dict]],
                                                     tmp_path: Path) -> None:  # fmt: skip
    root = write_project(tmp_path / "p")
    with RayEngine(cluster.address) as engine:
        results = _phase(root, engine)
    assert not any(r["skipped"] for r in results)
    _same_as_local(root, results, local_run)
    with RayEngine(cluster.address) as engine:  # a rerun on the cluster skips every committed shard
        assert all(r["skipped"] for r in _phase(root, engine, "run-b"))
    _same_as_local(root, results, local_run)


def test_a_worker_node_killed_mid_map_has_its_tasks_retried(cluster: Cluster, tmp_path: Path) -> None:
    log = tmp_path / "attempts.log"
    tasks = [(x, str(log)) for x in range(12)]
    expected = {x: logged_work((x, str(tmp_path / "local.log"))) for x in range(12)}
    results: dict[int, str] = {}
    victim: int | None = None
    try:
        with RayEngine(cluster.address) as engine:
            for i, digest in engine.map(logged_work, tasks):
                results[i] = digest
                if victim is None:  # kill the node of a task that started and has not finished
                    lines = [line.split() for line in log.read_text().splitlines()]
                    ended = {int(x) for what, x, _, _ in lines if what == "end"}
                    running = [(int(x), node, int(pid)) for what, x, node, pid in lines
                               if what == "start" and int(x) not in ended]  # fmt: skip
                    if not running:  # the next tasks have not started yet: try at the next result
                        continue
                    victim, node_id, pid = running[0]
                    (node,) = [n for n in cluster.worker_nodes if n.node_id == node_id]
                    # the worker first (a worker outlives its raylet for a moment and could still finish), then its node
                    psutil.Process(pid).kill()
                    cluster.remove_node(node, allow_graceful=False)
    finally:
        if len(cluster.worker_nodes) < 2:
            cluster.add_node(num_cpus=1)  # the other tests' cluster
    assert victim is not None and results == expected
    attempts = [line.split()[1] for line in log.read_text().splitlines() if line.startswith("start")]
    assert attempts.count(str(victim)) == 2, attempts  # killed with its node, then run again elsewhere


@pytest.mark.slow
def test_a_worker_node_killed_mid_phase_leaves_the_local_engines_bytes(cluster: Cluster, local_run: tuple[Path, list[dict]],
                                                                        tmp_path: Path) -> None:  # fmt: skip
    root = write_project(tmp_path / "p")
    killed: list[str] = []

    def kill_one(result: dict) -> None:
        if not killed:
            node = sorted(cluster.worker_nodes, key=lambda n: n.node_id)[0]
            killed.append(node.node_id)
            cluster.remove_node(node, allow_graceful=False)

    try:
        with RayEngine(cluster.address) as engine:
            results = _phase(root, engine, progress=kill_one)
    finally:
        if len(cluster.worker_nodes) < 2:
            cluster.add_node(num_cpus=1)
    assert killed
    _same_as_local(root, results, local_run)


# ---- the whole pipeline through Dagster: curaline run --engine ray --address ADDR ---------------


def _pipeline_digests(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.md5(p.read_bytes()).hexdigest()
            for folder in ("data", "releases") if (root / folder).is_dir()
            for p in sorted((root / folder).rglob("*")) if p.is_file()}  # fmt: skip


def _dvc_outs(root: Path) -> dict[str, str]:
    lock = yaml.safe_load((root / "dvc.lock").read_text())["stages"]
    return {o["path"]: o["md5"] for s in lock.values() for o in s["outs"]}


def _ledger_rows(root: Path) -> list[tuple]:
    """The ledger's rows without what names the run (Dagster run ids differ between two runs) or its clock."""
    files = sorted((root / "lineage" / "ledger").rglob("*.parquet"))
    table = pa.concat_tables(pq.read_table(f).drop_columns(["run_id", "recorded_at"]) for f in files)
    return sorted(tuple(map(str, r.values())) for r in table.to_pylist())


@pytest.mark.slow
def test_curaline_run_on_ray_ends_with_the_local_runs_bytes(cluster: Cluster, tmp_path: Path) -> None:
    local, remote, small = (write_project(tmp_path / n) for n in ("local", "ray", "small"))
    for root in (local, remote):  # dedup as shuffles on the cluster however small the corpus (the same settings in both)
        config = yaml.safe_load((root / "curaline.yaml").read_text())
        (root / "curaline.yaml").write_text(yaml.safe_dump({**config, "stages": {"deduplicated": {"shuffle_min_records": 0}}}))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    env.pop("OPENLINEAGE_DISABLED", None)
    jobs_before = len(cluster.global_state.job_table())
    runs = {}
    ray_args = ["--engine", "ray", "--address", cluster.address]
    for root, args in ((local, ["--workers", "2"]), (remote, ray_args), (small, ray_args)):
        runs[root] = subprocess.run([str(CURALINE), "run", "--project", str(root), *args], capture_output=True, text=True,
                                    env={**env, "DAGSTER_HOME": str(root / ".dagster")}, timeout=540)  # fmt: skip
        assert runs[root].returncode == 0, runs[root].stdout + runs[root].stderr
    assert len(cluster.global_state.job_table()) >= jobs_before + 2  # the command's shard phase, then the step
    digests = _pipeline_digests(remote)
    assert any(p.startswith("data/deduplicated/") for p in digests)  # the global stages ran on the shards' output
    assert digests == _pipeline_digests(local)
    assert _dvc_outs(remote) == _dvc_outs(local)
    assert _ledger_rows(remote) == _ledger_rows(local)
    # the Dagster step of each source ran its shards on the cluster and said so in its logs
    with dg.DagsterInstance.from_config(str(remote / ".dagster")) as instance:
        logs = [e.user_message for run in instance.get_runs() for e in instance.all_logs(run.run_id)]
    assert f"web: 6 shard(s) on the ray at {cluster.address} engine" in logs
    assert f"deduplicated: shuffles on the ray at {cluster.address} engine" in logs
    # with the default shuffle_min_records (1M), a small corpus is deduplicated by the driver: the same bytes
    with dg.DagsterInstance.from_config(str(small / ".dagster")) as instance:
        small_logs = [e.user_message for run in instance.get_runs() for e in instance.all_logs(run.run_id)]
    assert any(m.startswith("deduplicated: ") and "under shuffle_min_records (1,000,000): in this process" in m
               for m in small_logs), [m for m in small_logs if m.startswith("deduplicated")]  # fmt: skip
    assert _pipeline_digests(small) == digests
    assert any(m.startswith("web: shards: 6/6") for m in logs), [m for m in logs if "shards" in m]
    # lineage came from the orchestrating process after the work: each stage's COMPLETE names its Dagster run
    from curaline.lineage.views import event_files

    events = pa.concat_tables(pq.read_table(f) for f in event_files(Project.at(remote))).to_pylist()
    dagster_runs = {run.run_id for run in dg.DagsterInstance.from_config(str(remote / ".dagster")).get_runs()}
    done = {(e["job"], e["partition"]): e for e in events if e["event_type"] == "COMPLETE"}
    for stage in ("raw_records", "normalized", "pii_redacted", "toxicity_screened", "deduplicated"):
        event = done[(stage, "web")] if (stage, "web") in done else done[(stage, None)]
        assert event["parent_run_id"] in dagster_runs, (stage, event["parent_run_id"])
    assert not any(e["event_type"] == "FAIL" for e in events)


@pytest.mark.parametrize(("address", "message"), [
    ("nowhere", "--address: 'nowhere' is not a Ray address"),  # refused by its form
    ("127.0.0.1:1", "no Ray cluster at '127.0.0.1:1'"),  # well formed, but nothing answers there
])  # fmt: skip
def test_curaline_run_refuses_a_bad_address_naming_it_before_any_shard(tmp_path: Path, address: str, message: str) -> None:
    root = write_project(tmp_path / "p")
    out = subprocess.run([str(CURALINE), "run", "--project", str(root), "--engine", "ray", "--address", address],
                         capture_output=True, text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
                         timeout=120)  # fmt: skip
    assert out.returncode != 0 and message in out.stderr + out.stdout
    assert not (root / "data").exists() or not any((root / "data").rglob("*.parquet"))


# ---- global stages as shuffles on Ray -------------------------------------------------------


def test_dedup_by_shuffles_on_ray_removes_what_the_local_stage_removes(cluster: Cluster, tmp_path: Path) -> None:
    from curaline.dedup import deduplicate, source_signatures
    from curaline.dedup_shuffle import shuffled_removals
    from curaline.kernels.dedup import merge_events

    project = Project.at(dedup_project(tmp_path / "p"))
    manifests, _ = load_manifests(project.sources_dir)
    minhash, dedup = project.config.for_stage("minhash_bands"), project.config.for_stage("deduplicated")
    with LocalEngine(1) as engine:
        run_phase(engine, [t for m in manifests
                           for t in source_tasks(project, m, "run-a", record_chain(m, project))])  # fmt: skip
    for m in manifests:
        source_signatures(project, m, minhash, dedup)
    stats, expected = deduplicate(project, manifests, minhash, dedup)
    assert stats.exact_removed >= 12 and stats.near_removed >= 10  # the corpus has both kinds
    local_bytes = _digests(project.root)
    with RayEngine(cluster.address) as engine:
        got = shuffled_removals(project, manifests, minhash, dedup, engine, partitions=4)
        # past the driver's edge limit: components and keep-policy as Ray tasks, the same removals
        spread = shuffled_removals(project, manifests, minhash, dedup, engine, partitions=4, driver_edge_limit=0)
        # the stage itself on the engine: the same ledger events and the same output bytes
        stats_ray, events_ray = deduplicate(project, manifests, minhash, dedup, engine=engine)
    assert events_ray.equals(expected) and stats_ray.by_source == stats.by_source
    # the driver read only ids on the engine path: the statistics it keeps from them are the local stage's
    assert (stats_ray.rows_in, stats_ray.source_pairs, stats_ray.removed_by, stats_ray.biggest) == \
        (stats.rows_in, stats.source_pairs, stats.removed_by, stats.biggest)  # fmt: skip
    assert _digests(project.root) == local_bytes and any("deduplicated" in p for p in local_bytes)
    web = [m for m in manifests if m.id == "web"]  # no duplicate at all: nothing removed, on both paths
    with RayEngine(cluster.address) as engine:
        none = shuffled_removals(project, web, minhash, dedup, engine, partitions=4)
    assert (none.exact.num_rows, none.near.num_rows, none.documents) == (0, 0, stats.by_source["web"][0])
    assert deduplicate(project, web, minhash, dedup)[1].num_rows == 0
    assert (got.exact.num_rows, got.near.num_rows) == (stats.exact_removed, stats.near_removed)
    assert merge_events(got.exact, got.near, dedup).equals(expected)  # same removals, clusters, kept docs, Jaccards
    assert spread.components is not None and got.components is None
    assert merge_events(spread.exact, spread.near, dedup).equals(expected) and spread.candidate_edges == got.candidate_edges
    assert got.documents == stats.rows_in and got.shuffle_bytes > 0 and got.candidate_edges >= stats.near_removed
    assert not (project.root / ".curaline" / "shuffle").exists() or not any((project.root / ".curaline" / "shuffle").iterdir())


def test_decontamination_on_ray_ships_the_index_once_per_worker(cluster: Cluster, tmp_path: Path) -> None:
    from shard_project import through_dedup

    from curaline.decontamination import OUTPUT_STAGE, decontaminate_project

    project, manifests = through_dedup(tmp_path / "p")
    config = project.config.for_stage(OUTPUT_STAGE)
    stats, events = decontaminate_project(project, manifests, config)
    local = _digests(project.root)
    with RayEngine(cluster.address) as engine:
        stats_ray, events_ray = decontaminate_project(project, manifests, config, engine=engine)
    assert _digests(project.root) == local and events_ray.equals(events) and events.num_rows >= 7
    assert stats_ray.by_source == stats.by_source
    # two 1-CPU worker nodes: the index was read at most once by each worker process Ray ran, never per task
    assert 1 <= stats_ray.index_loads < stats_ray.tasks and stats_ray.tasks >= 4


DRIVER_KILLER = """
import os, signal, sys
sys.path[:0] = {paths!r}
from curaline.engine.ray import RayEngine
from curaline.project import Project
from curaline.shards.chain import record_chain
from curaline.shards.phase import source_tasks
from curaline.shards.runner import run_phase
from curaline.sources import load_manifests

project = Project.at({root!r})
(manifest,) = load_manifests(project.sources_dir)[0]
def progress(result):
    os.kill(os.getpid(), signal.SIGKILL)  # the driver dies at its first committed shard, tasks in flight
with RayEngine({address!r}) as engine:
    run_phase(engine, source_tasks(project, manifest, "killed", record_chain(manifest, project)), progress=progress)
"""


def test_a_killed_driver_leaves_committed_shards_that_a_rerun_resumes_from(
    cluster: Cluster, local_run: tuple[Path, list[dict]], tmp_path: Path
) -> None:
    reference, _ = local_run
    root = write_project(tmp_path / "p")
    log = tmp_path / "killed.log"
    with log.open("w") as err:
        proc = subprocess.run([sys.executable, "-c", DRIVER_KILLER.format(paths=sys.path, root=str(root),
                                                                          address=cluster.address)],
                              stdout=err, stderr=err, timeout=300)  # fmt: skip
    assert proc.returncode == -9, log.read_text()
    committed = len(list((root / ".curaline" / "shards" / "web").glob("shard-*.json")))
    assert 1 <= committed < 6
    first_round: list[dict] = []
    with RayEngine(cluster.address) as engine:  # Ray ended the dead driver's tasks; a shard's lock outlives none
        project = Project.at(root)
        (manifest,) = load_manifests(project.sources_dir)[0]
        run_phase(engine, source_tasks(project, manifest, "resumed", record_chain(manifest, project)),
                  progress=first_round.append)  # fmt: skip
    assert sum(r["skipped"] for r in first_round) >= committed  # the committed shards were not redone
    assert _digests(root) == _digests(reference)
    assert _ledger_rows(root) == _ledger_rows(reference)  # each shard's rows once, whichever run committed it
