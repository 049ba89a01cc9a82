"""DVC versioning on a real project: real git, real DVC, a real pipeline run, in tmp dirs.

One module-scoped project (two sources) is run once, tracked, committed and cloned; the
tests then check hashes against dvc.lock, concurrency, push/restore, `dvc repro` in the
clone, and the error paths. Order matters a little: the test that changes a source runs last.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from tests_support import make_project

from curaline.cli import materialize_asset, run_pipeline
from curaline.dvc_cli import sync_project, track_asset
from curaline.project import Project
from curaline.versioning import (
    DVC_LOCK,
    DVC_YAML,
    RestoreError,
    VersioningError,
    dvc_hash,
    ensure_repo,
    expand_stages,
    git_commit,
    git_tag,
    push,
    restore,
    track,
    versioning_paths,
)

BIN = Path(sys.executable).parent


def _env() -> dict[str, str]:
    """A subprocess environment that finds `curaline` and uses the clone's own DAGSTER_HOME."""
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "CURALINE_PROJECT")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["COLUMNS"] = "1000"  # DVC's output wraps at 80 columns off a terminal: a long tmp path would break in two
    return env


def _dvc(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "dvc"), *args], cwd=root, env=_env(), capture_output=True, text=True)


def _lock(project: Project) -> dict[str, dict]:
    return yaml.safe_load((project.root / DVC_LOCK).read_text())["stages"]


def _lock_outs(project: Project) -> dict[str, str]:
    return {o["path"]: o["md5"] for stage in _lock(project).values() for o in stage["outs"]}


def _stage_names(project: Project) -> list[str]:
    return list(expand_stages(yaml.safe_load((project.root / DVC_YAML).read_text())))


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    proj = make_project(tmp_path_factory.mktemp("versioned") / "project")
    assert run_pipeline(proj, echo=lambda _: None)
    ensure_repo(proj)
    sync_project(proj)
    track(proj, _stage_names(proj))
    return proj


@pytest.fixture(scope="module")
def committed(project: Project) -> Project:
    """The project's data state committed and pushed: what another machine can check out."""
    git_commit(project, [*versioning_paths(project), "sources", "corpus"], "data state")
    push(project)  # `curaline run` pushed what it tracked already: the store holds every output
    store = project.root / ".dvc-store" / "files" / "md5"
    assert all((store / md5[:2] / md5[2:]).exists() for md5 in _lock_outs(project).values())
    return project


def _clone(project: Project, target: Path) -> Project:
    """A git clone whose (relative) default remote is pointed at the original's store, as the README says."""
    subprocess.run(["git", "clone", "-q", str(project.root), str(target)], check=True)
    assert _dvc(target, "remote", "modify", "--local", "local", "url", str(project.root / ".dvc-store")).returncode == 0
    return Project.at(target)


@pytest.fixture(scope="module")
def clone(committed: Project, tmp_path_factory: pytest.TempPathFactory) -> Project:
    return _clone(committed, tmp_path_factory.mktemp("clone") / "project")


def test_every_stage_output_is_tracked_with_the_hash_dvc_computes(project: Project) -> None:
    lock = _lock(project)
    assert set(lock) == set(_stage_names(project))  # every declared out exists: the table matches the assets
    outs = {o["path"]: o["md5"] for stage in lock.values() for o in stage["outs"]}
    assert {"data/deduplicated", "data/decontaminated", "data/raw_records/notes"} <= set(outs)
    assert outs["data/raw_records/notes"].endswith(".dir")  # a sharded stage's folder
    assert outs["data/deduplicated"].endswith(".dir")
    for path, md5 in outs.items():
        assert dvc_hash(project.root / path) == md5, path
    status = _dvc(project.root, "status", "--json")
    assert status.returncode == 0 and status.stdout.strip() == "{}", status.stdout + status.stderr


def test_track_writes_the_lock_dvc_commit_writes(project: Project) -> None:
    ours = (project.root / DVC_LOCK).read_text()
    try:
        (project.root / DVC_LOCK).unlink()
        res = _dvc(project.root, "commit", "--force", "--quiet")
        assert res.returncode == 0, res.stderr
        theirs = yaml.safe_load((project.root / DVC_LOCK).read_text())
    finally:
        (project.root / DVC_LOCK).write_text(ours)
    assert yaml.safe_load(ours)["stages"] == theirs["stages"]


def test_track_is_cheap_and_batched_is_cheaper(project: Project) -> None:
    names = _stage_names(project)
    started = time.perf_counter()
    hashes = track(project, ["source_records@notes"])
    single = time.perf_counter() - started
    started = time.perf_counter()
    everything = track(project, names)
    batched = time.perf_counter() - started
    assert hashes["data/normalized/notes"] == dvc_hash(project.root / "data/normalized/notes") and len(hashes) == 8
    declared = expand_stages(yaml.safe_load((project.root / DVC_YAML).read_text()))
    assert set(everything) == {o for stage in declared.values() for o in stage["outs"]}
    assert len(everything) >= 19  # the catalog, 2 sources x (raw, quarantine + 6 stage folders, bands), 2 global folders, ...
    assert single < 1.0 and batched < 3.0, (single, batched)


def test_concurrent_track_from_two_processes_waits_instead_of_failing(project: Project) -> None:
    script = (
        "import sys\nfrom curaline.project import Project\nfrom curaline.versioning import track\n"
        "p = Project.at(sys.argv[1])\nfor _ in range(8):\n    track(p, sys.argv[2:])\n"
    )
    groups = [["source_records@notes", "minhash_bands@notes", "deduplicated"],
              ["source_records@chat", "minhash_bands@chat", "decontaminated"]]  # fmt: skip
    procs = [subprocess.Popen([sys.executable, "-c", script, str(project.root), *g], env=_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for g in groups]  # fmt: skip
    results = [p.communicate(timeout=120) for p in procs]
    for proc, (_, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
    status = _dvc(project.root, "status", "--json")
    assert status.stdout.strip() == "{}", status.stdout


def test_track_names_a_stage_missing_from_dvc_yaml_and_resyncs(project: Project) -> None:
    with pytest.raises(VersioningError, match=r"no stage 'source_records@nope'.*curaline dvc sync"):
        track(project, ["source_records@nope"])
    text = (project.root / DVC_YAML).read_text()
    try:
        (project.root / DVC_YAML).write_text(text.replace("      notes: {}\n", ""))  # notes dropped from a foreach
        assert "minhash_bands@notes" not in _stage_names(project)
        hashes = track_asset(project, "minhash_bands", "notes")  # regenerates dvc.yaml first
        assert list(hashes) == ["data/minhash_bands/notes"]  # a folder: one part per shard
        assert (project.root / DVC_YAML).read_text() == text
    finally:
        (project.root / DVC_YAML).write_text(text)


def test_a_missing_input_is_recorded_as_missing_not_a_failure(project: Project, tmp_path: Path) -> None:
    dep = project.root / "data" / "toxicity_screened" / "chat"  # as if chat failed upstream
    dep.rename(tmp_path / "chat")
    try:
        hashes = track(project, ["deduplicated"])
        assert hashes == {"data/deduplicated": dvc_hash(project.root / "data" / "deduplicated")}
        deps = {d["path"]: d for d in _lock(project)["deduplicated"]["deps"]}
        assert deps["data/toxicity_screened/chat"] == {"path": "data/toxicity_screened/chat", "hash": "md5"}
        assert "deleted:            data/toxicity_screened/chat" in _dvc(project.root, "status").stdout
    finally:
        (tmp_path / "chat").rename(dep)
    track(project, ["deduplicated"])
    # the stage's own status: other tests may have added lineage files (lineage/*.dvc) meanwhile
    assert _dvc(project.root, "status", "--json", "deduplicated").stdout.strip() == "{}"


def test_under_dvc_repro_track_only_hashes(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    before = (project.root / DVC_LOCK).stat().st_mtime_ns
    monkeypatch.setenv("DVC_STAGE", "source_records@chat")
    hashes = track(project, ["source_records@chat"])
    assert hashes == {o["path"]: o["md5"] for o in _lock(project)["source_records@chat"]["outs"]}
    assert (project.root / DVC_LOCK).stat().st_mtime_ns == before


def test_restore_from_the_cache(project: Project, tmp_path: Path) -> None:
    rel = "data/normalized/notes/shard-00000.parquet"  # a shard inside the stage's folder out
    md5 = dvc_hash(project.root / rel)
    (written,) = restore(project, [(rel, md5)], tmp_path, strip="data")
    assert written == tmp_path / "normalized" / "notes" / "shard-00000.parquet"
    assert written.read_bytes() == (project.root / rel).read_bytes()


def test_restore_from_the_remote_in_a_fresh_clone(project: Project, clone: Project, tmp_path: Path) -> None:
    assert not (clone.root / ".dvc" / "cache").exists()
    files = ["data/normalized/chat/shard-00000.parquet", "data/deduplicated/notes.parquet"]  # both inside a folder out
    wanted = [(f, dvc_hash(project.root / f)) for f in files]
    restore(clone, wanted, tmp_path)
    for f in files:
        assert (tmp_path / f).read_bytes() == (project.root / f).read_bytes()
    with pytest.raises(RestoreError, match=r"data/x.parquet: object md5 0{32} is neither in the DVC cache nor"):
        restore(clone, [("data/x.parquet", "0" * 32)], tmp_path)


@pytest.mark.slow
def test_dvc_repro_in_a_fresh_clone_reproduces_the_bytes(project: Project, committed: Project, tmp_path: Path) -> None:
    """`dvc repro` of one source's first two stages in a fresh clone: each stage is a `curaline
    materialize` process (~6 s of imports and a Dagster run); the whole per-source chain of one
    source reproduces the same way, in ~35 s, too slow for this suite."""
    clone = _clone(committed, tmp_path / "project")
    script = (f"{BIN / 'dvc'} pull --quiet source_catalog corpus/notes.jsonl.dvc lineage/ledger.dvc lineage/events.dvc "
              f"&& {BIN / 'dvc'} repro source_records@notes")
    proc = subprocess.run(["bash", "-c", script], cwd=clone.root, env=_env(), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=300)  # fmt: skip
    output = proc.stdout
    assert proc.returncode == 0, output
    assert "Running stage 'source_records@notes'" in output
    for rel in ("data/raw_records/notes", "data/quarantined_records/notes", "data/normalized/notes"):
        assert dvc_hash(clone.root / rel) == _lock_outs(project)[rel], rel
    assert _dvc(clone.root, "status", "--json", "source_records@notes").stdout.strip() == "{}"


def test_corrupted_cache_object_is_a_clear_error(project: Project, tmp_path: Path) -> None:
    rel = "data/normalized/chat/shard-00000.parquet"
    md5 = dvc_hash(project.root / rel)
    obj = project.root / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]
    original = obj.read_bytes()
    mode = obj.stat().st_mode
    try:
        obj.chmod(0o644)
        obj.write_bytes(original[:-10] + b"x" * 10)
        with pytest.raises(RestoreError, match=rf"{rel}: the copy in the DVC cache .* is corrupt \(md5 \w+, recorded {md5}\)"):
            restore(project, [(rel, md5)], tmp_path)
        assert not (tmp_path / rel).exists()
    finally:
        obj.write_bytes(original)
        obj.chmod(mode)


def test_git_commit_takes_only_the_given_paths_and_tags_never_move(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")  # its own: a release spec here would change the shared dvc.yaml
    ensure_repo(project)
    (project.root / "notes.txt").write_text("scratch\n")
    (project.root / "releases").mkdir(exist_ok=True)
    (project.root / "releases" / "r.yaml").write_text("name: r\n")
    sha = git_commit(project, ["releases/r.yaml"], "add r")
    assert git_commit(project, ["releases/r.yaml"], "nothing new") == sha
    untracked = subprocess.run(["git", "-C", str(project.root), "status", "--porcelain", "notes.txt"],
                               capture_output=True, text=True).stdout  # fmt: skip
    assert untracked.startswith("??")
    git_tag(project, "release/r/v1", "r v1")
    git_tag(project, "release/r/v1", "r v1")  # same commit: fine
    (project.root / "releases" / "r.yaml").write_text("name: r\ndescription: two\n")
    git_commit(project, ["releases/r.yaml"], "change r")
    with pytest.raises(VersioningError, match=r"release/r/v1 already exists on .*never moved"):
        git_tag(project, "release/r/v1", "r v1 again")


def test_ensure_repo_is_idempotent_cheap_and_keeps_a_configured_remote(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    nested = Project.at(tmp_path / "inner")  # inside another repository: gets its own
    ensure_repo(nested)
    top = subprocess.run(["git", "-C", str(nested.root), "rev-parse", "--show-toplevel"], capture_output=True, text=True)
    assert Path(top.stdout.strip()) == nested.root
    config = (nested.root / ".dvc" / "config").read_text()
    # relative to .dvc/: a copy of the project (cp -r, a clone) uses its own store, never this one's
    assert "url = ../.dvc-store" in config and "remote = local" in config
    assert _dvc(nested.root, "remote", "list").stdout.split()[:2] == ["local", str(nested.root / ".dvc-store")]
    assert {"/.dvc-store/", "/.dagster/"} <= set((nested.root / ".gitignore").read_text().splitlines())
    started = time.perf_counter()
    ensure_repo(nested)
    assert time.perf_counter() - started < 0.05

    other = tmp_path / "other"
    other.mkdir()
    subprocess.run(["git", "init", "-q", str(other)], check=True)
    assert _dvc(other, "init", "-q").returncode == 0
    assert _dvc(other, "remote", "add", "-d", "s3store", "s3://bucket/path").returncode == 0
    ensure_repo(Project.at(other))
    config = (other / ".dvc" / "config").read_text()
    assert "s3://bucket/path" in config and ".dvc-store" not in config


def test_dvc_hashes_on_every_core_unless_the_project_says_otherwise(tmp_path: Path) -> None:
    """DVC's default is half the cores (one thread on 2); a project's own core.checksum_jobs is kept."""
    from curaline.versioning import _open_repo, hash_jobs

    project = Project.at(tmp_path / "p")
    ensure_repo(project)
    cores = len(os.sched_getaffinity(0))
    assert hash_jobs() == max(1, min(cores, 8))
    with _open_repo(project.root) as repo:
        assert repo.fs.hash_jobs == hash_jobs()
    assert _dvc(project.root, "config", "core.checksum_jobs", "1").returncode == 0
    with _open_repo(project.root) as repo:
        assert repo.fs.hash_jobs == 1


@pytest.mark.last_in_module  # it materializes raw_records@chat: new lineage files the status checks above would see
def test_track_after_a_change_updates_the_lock_and_the_dagster_data_version(project: Project) -> None:
    import dagster as dg

    old = _lock(project)["source_records@chat"]["outs"]
    corpus = project.root / "corpus" / "chat.jsonl"
    original = corpus.read_bytes()
    corpus.write_bytes(original + b'{"q": "one more?", "a": "Sure."}\n')
    try:
        assert materialize_asset(project, "raw_records", "chat")
        hashes = track(project, ["source_records@chat"])
        new = {o["path"]: o["md5"] for o in _lock(project)["source_records@chat"]["outs"]}
        assert hashes == new and new["data/raw_records/chat"] != {o["path"]: o["md5"] for o in old}["data/raw_records/chat"]
        with dg.DagsterInstance.get() as instance:
            event = instance.get_latest_materialization_event(dg.AssetKey("raw_records"))
        assert event is not None and event.asset_materialization is not None
        assert event.asset_materialization.partition == "chat"
        assert (event.asset_materialization.tags or {})["dagster/data_version"] == new["data/raw_records/chat"]
        status = _dvc(project.root, "status", "minhash_bands@chat")
        assert "modified:           data/toxicity_screened/chat" in status.stdout  # DVC sees downstream stale too
    finally:  # the module's other tests share this project: the same bytes again, the same hashes
        corpus.write_bytes(original)
        assert materialize_asset(project, "raw_records", "chat")
        track(project, ["source_records@chat"])
    assert _lock(project)["source_records@chat"]["outs"] == old
