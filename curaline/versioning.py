"""DVC versioning of a project: every stage output is a DVC `out`, every release a git tag.

The project root is a git repository and a DVC repository. `dvc.yaml` is generated
from the Dagster asset graph (`render_dvc_yaml`/`sync`, fed by `curaline.stage_outputs`),
so `dvc repro` reruns the same graph without Dagster. After an asset writes its files,
`track` records them in dvc.lock and the DVC cache; the hash it returns (`dvc_hash`) is
the asset's Dagster data version, so Dagster's staleness and DVC's agree.

DVC takes a repository lock and fails another process after ~3 s (LockError), so every
write goes through `project_lock`, an fcntl lock that makes concurrent Dagster steps
wait their turn instead of failing. Remotes: the default is a local folder
`<root>/.dvc-store` (git-ignored); any DVC remote works by configuration, e.g.
`dvc remote add -d store s3://bucket/path` in the project before the first run.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from curaline.project import Project

DVC_YAML = "dvc.yaml"
DVC_LOCK = "dvc.lock"
DEFAULT_REMOTE = "local"
DEFAULT_STORE = ".dvc-store"
#: what the project's .gitignore must hold: the default remote, the Dagster run state, and the
#: lineage store's machine-local caches (rebuilt from the versioned lineage on demand)
GITIGNORED = ("/.dvc-store/", "/.dagster/", "/lineage/index/", "/lineage/versions/", "/lineage/outbox/")
#: The compliance state in git: small, append-only files a reviewer reads in a diff
LINEAGE_GIT = ("lineage/takedowns/*.json", "lineage/releases/release=*/v*.json", "lineage/sources.lock")
#: ... and in DVC: folders that grow with every run (one `.dvc` file each), and each release
#: version's record list (one `.dvc` file per version, append-only like the versions)
LINEAGE_DVC_DIRS = ("lineage/ledger", "lineage/events", "lineage/release_signals")
LINEAGE_DVC_FILES = ("lineage/releases/release=*/v*.parquet",)
GIT_IDENTITY = ("-c", "user.name=curaline", "-c", "user.email=curaline@localhost")
HEADER = (
    "# Generated from the Dagster asset definitions by `curaline dvc sync`; do not edit by hand.\n"
    "# One stage per asset: per-source assets are `foreach` stages over the project's sources,\n"
    "# per-release assets over releases/*.yaml; each runs `curaline materialize` (dvc repro).\n"
)
_READY_MARK = "curaline-ready"
_VAR = re.compile(r"\$\{(key|item)(?:\.(\w+))?\}")


class VersioningError(RuntimeError):
    """A versioning step that cannot go on; the message says which file or stage and why."""


class RestoreError(VersioningError):
    """A file cannot be restored with the bytes that were recorded for it."""


# ---- dvc.yaml: rendering and syncing ------------------------------------------------------


@dataclass(frozen=True)
class StageSpec:
    """One dvc.yaml stage; with foreach, one stage per item (`name@key`).

    Paths are relative to the project root; in a foreach stage `${key}` is the item's key
    and `${item.<var>}` one of its variables (DVC's own templating).
    """

    name: str
    cmd: str
    deps: tuple[str, ...] = ()
    outs: tuple[str, ...] = ()
    params: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # params file -> keys
    foreach: Mapping[str, Mapping[str, str]] | None = None

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"cmd": self.cmd}
        if self.deps:
            body["deps"] = list(self.deps)
        if self.params:
            body["params"] = [{file: list(keys)} for file, keys in self.params.items()]
        if self.outs:
            body["outs"] = list(self.outs)
        return body


def render_dvc_yaml(specs: Sequence[StageSpec]) -> str:
    """The dvc.yaml text for these stages, byte-stable for the same input."""
    stages: dict[str, Any] = {}
    for spec in specs:
        if spec.name in stages:
            raise VersioningError(f"dvc.yaml: stage {spec.name!r} defined twice")
        if spec.foreach is None:
            stages[spec.name] = spec.body()
        else:
            items = {key: dict(values) for key, values in sorted(spec.foreach.items())}
            stages[spec.name] = {"foreach": items, "do": spec.body()}
    text = yaml.safe_dump({"stages": stages}, sort_keys=False, default_flow_style=False, width=1000,
                          allow_unicode=True)  # fmt: skip
    return HEADER + text


def expand_stages(document: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Every concrete stage of a parsed dvc.yaml of ours (foreach resolved), by name."""
    out: dict[str, dict[str, Any]] = {}
    for name, stage in (document.get("stages") or {}).items():
        if "foreach" not in stage:
            out[name] = dict(stage)
            continue
        for key, item in (stage["foreach"] or {}).items():

            def sub(m: re.Match[str], key: str = key, item: Any = item) -> str:
                if m.group(1) == "key":
                    return key
                return str(item[m.group(2)]) if m.group(2) else str(item)

            out[f"{name}@{key}"] = json.loads(_VAR.sub(lambda m: json.dumps(sub(m))[1:-1], json.dumps(stage["do"])))
    return out


def stage_name(stage: str, partition: str | None = None) -> str:
    """The dvc.yaml stage of an asset (partition): `raw_records@notes`, `deduplicated`."""
    return f"{stage}@{partition}" if partition else stage


def _read_stages(path: Path) -> dict[str, dict[str, Any]]:
    if not path.exists():
        return {}
    try:
        return expand_stages(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    except (yaml.YAMLError, AttributeError, KeyError, TypeError) as exc:
        raise VersioningError(f"{path}: not a dvc.yaml this generator can read: {exc}") from None


def sync_difference(project: Project, specs: Sequence[StageSpec]) -> str | None:
    """None when the project's dvc.yaml is what `specs` render to, else a one-line summary."""
    path = project.root / DVC_YAML
    wanted = render_dvc_yaml(specs)
    current = path.read_text(encoding="utf-8") if path.exists() else None
    if current == wanted:
        return None
    if current is None:
        return f"{path} is missing"
    have, want = _read_stages(path), expand_stages(yaml.safe_load(wanted))
    added = sorted(set(want) - set(have))
    removed = sorted(set(have) - set(want))
    changed = sorted(n for n in set(want) & set(have) if want[n] != have[n])

    def few(names: list[str]) -> str:
        return ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")

    if not (added or removed or changed):  # same concrete stages: compare the definitions (empty foreach...)
        raw_have = (yaml.safe_load(current) or {}).get("stages") or {}
        raw_want = yaml.safe_load(wanted)["stages"]
        added, removed = sorted(set(raw_want) - set(raw_have)), sorted(set(raw_have) - set(raw_want))
        changed = sorted(n for n in set(raw_want) & set(raw_have) if raw_want[n] != raw_have[n])
    parts = [f"{label} {few(names)}" for label, names in (("missing stages", added), ("extra stages", removed),
                                                         ("changed stages", changed)) if names]  # fmt: skip
    return f"{path} is out of date: " + ("; ".join(parts) or "formatting or comments differ")


def sync(project: Project, specs: Sequence[StageSpec]) -> bool:
    """Write the project's dvc.yaml when it differs from the rendering; True when it changed."""
    path = project.root / DVC_YAML
    text = render_dvc_yaml(specs)
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    _atomic_write(path, text)
    return True


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ---- hashes -------------------------------------------------------------------------------


def file_md5(path: Path) -> str:
    h = hashlib.md5()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


#: names DVC never descends into or lists inside a tracked directory
_DVC_SKIPPED = {".git", ".hg", ".dvc"}


def dvc_hash(path: Path) -> str:
    """The md5 DVC records for a file, or for a directory (`<md5 of its listing>.dir`).

    A directory's hash is the md5 of the JSON list of its files' `{"md5", "relpath"}`
    sorted by relpath (dvc_data's Tree.digest). `.dvcignore` patterns are not applied:
    curaline projects have none in their data folders.
    """
    path = Path(path)
    if path.is_file():
        return file_md5(path)
    if not path.is_dir():
        raise VersioningError(f"{path}: no such file or directory to hash")
    entries = []
    for folder, dirs, files in os.walk(path):
        dirs[:] = [d for d in dirs if d not in _DVC_SKIPPED]
        for name in files:
            if name in _DVC_SKIPPED:
                continue
            full = Path(folder) / name
            entries.append({"md5": file_md5(full), "relpath": full.relative_to(path).as_posix()})
    entries.sort(key=lambda e: e["relpath"])
    listing = json.dumps(entries, sort_keys=True).encode("utf-8")
    return hashlib.md5(listing).hexdigest() + ".dir"


# ---- the repository ------------------------------------------------------------------------


def _lock_path(root: Path) -> Path:
    key = hashlib.md5(str(root.resolve()).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"curaline-dvc-{key}.lock"


@contextlib.contextmanager
def project_lock(project: Project) -> Iterator[None]:
    """Serialize DVC/git writes on this project across processes of this machine.

    The lock file sits in the temp dir (keyed by the root) so it exists before the
    repository does. Not reentrant: never nest it.
    """
    with open(_lock_path(project.root), "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _git(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True)
    if check and res.returncode != 0:
        lock = _LOCK_IN_MESSAGE.search(res.stderr or "")
        if lock:
            raise VersioningError(_stale_lock_message(Path(lock.group(1)), root))
        raise VersioningError(f"git {' '.join(args)} failed in {root}: {(res.stderr or res.stdout).strip()}")
    return res


_LOCK_IN_MESSAGE = re.compile(r"'([^']*\.lock)': File exists")


def _stale_lock_message(lock: Path, root: Path) -> str:
    return (f"{lock} exists: another git process is working in {root}, or one crashed and left it behind; "
            f"if no git process is running there, delete {lock} and run again")  # fmt: skip


def check_git_unlocked(project: Project) -> None:
    """Refuse to start a release while git's index is locked (before anything is written).

    A leftover ``.git/index.lock`` made every release fail after its folder already claimed
    the new version; checking first keeps publishing all-or-nothing.
    """
    root = project.root
    if not (root / ".git").exists():
        return
    res = _git(root, "rev-parse", "--git-path", "index.lock", check=False)
    lock = Path(res.stdout.strip()) if res.returncode == 0 and res.stdout.strip() else root / ".git" / "index.lock"
    lock = lock if lock.is_absolute() else root / lock
    if lock.exists():
        raise VersioningError(_stale_lock_message(lock, root))


def _identity(root: Path) -> tuple[str, ...]:
    """Per-command identity flags when git has none configured (global config untouched)."""
    name = _git(root, "config", "user.name", check=False).stdout.strip()
    email = _git(root, "config", "user.email", check=False).stdout.strip()
    return () if name and email else GIT_IDENTITY


def _is_git_toplevel(root: Path) -> bool:
    res = _git(root, "rev-parse", "--show-toplevel", check=False)
    return res.returncode == 0 and Path(res.stdout.strip()).resolve() == root.resolve()


def ensure_repo(project: Project) -> None:
    """Make the project root a git + DVC repository with a default remote; cheap when done.

    A root inside another repository gets its own (`git init`); an existing repository
    is used as is. The default remote (`<root>/.dvc-store`, git-ignored) is added only
    when no DVC remote is configured at any level.
    """
    root = project.root
    mark = root / ".dvc" / "tmp" / _READY_MARK
    if mark.exists() and (root / ".git").exists():
        return
    with project_lock(project):
        if mark.exists() and (root / ".git").exists():
            return
        root.mkdir(parents=True, exist_ok=True)
        if not _is_git_toplevel(root):
            _git(root, "init", "-q")
        from dvc.config import Config
        from dvc.repo import Repo

        fresh = not (root / ".dvc").is_dir()
        if fresh:
            with _quiet_dvc():  # DVC's "Initialized DVC repository." banner
                Repo.init(str(root)).close()
        config = Config(dvc_dir=str(root / ".dvc"), validate=False)
        no_remote = not config["core"].get("remote") and not config.get("remote")
        if fresh or no_remote:
            with config.edit("repo") as conf:
                if fresh:
                    conf["core"]["analytics"] = False  # offline machines: DVC never phones home
                if no_remote:  # saved relative to .dvc/: a copy of the project pushes to its own store
                    from dvc.config_schema import RelPath

                    conf.setdefault("remote", {})[DEFAULT_REMOTE] = {"url": RelPath(str(root / DEFAULT_STORE))}
                    conf["core"]["remote"] = DEFAULT_REMOTE
        _ensure_gitignore(root)
        mark.parent.mkdir(parents=True, exist_ok=True)
        mark.touch()


def _ensure_gitignore(root: Path) -> None:
    path = root / ".gitignore"
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    have = {line.strip().strip("/") for line in lines}
    missing = [entry for entry in GITIGNORED if entry.strip("/") not in have]
    if missing:
        text = "\n".join([*lines, "# curaline: the default DVC remote and the Dagster run state", *missing]) + "\n"
        _atomic_write(path, text)


@contextlib.contextmanager
def _chdir(root: Path) -> Iterator[None]:
    # DVC resolves some paths (the run cache) against the process cwd: work from the root
    try:
        before: str | None = os.getcwd()
    except FileNotFoundError:  # the cwd was removed (a finished tmp dir): nothing to return to
        before = None
    os.chdir(root)
    try:
        yield
    finally:
        if before is not None:
            os.chdir(before)


@contextlib.contextmanager
def _open_repo(root: Path) -> Iterator[Any]:
    from dvc.repo import Repo

    with _chdir(root):
        repo = Repo(str(root))
        if not repo.config["core"].get("checksum_jobs"):  # the user's own setting is kept
            repo.fs.hash_jobs = hash_jobs()
        try:
            yield repo
        finally:
            repo.close()


#: at most this many threads hash a stage's files (md5 of big files releases the GIL)
MAX_HASH_JOBS = 8


def hash_jobs() -> int:
    """Threads for DVC's hashing: every core this process may use (up to MAX_HASH_JOBS).

    DVC's default is half the cores (max 4): one thread on 2 cores, where the first run's
    tracking of a 1M-document source (4 GB of stage outputs, hashed and copied into the cache)
    took 9.6-11.6 s, serial after the shards; on 2 threads 5.4-6.6 s (same window, alternated).
    The driver tracks a stage once its shards are done, when the workers' cores are free.
    """
    from curaline.engine.base import default_workers

    return min(default_workers(), MAX_HASH_JOBS)


def _retry_dvc_lock(action: Callable[[], Any], *, patience_s: float = 60.0) -> Any:
    """Run action, waiting out DVC's own lock held by a non-curaline process (a `dvc status`)."""
    from dvc.lock import LockError

    deadline = time.monotonic() + patience_s
    while True:
        try:
            return action()
        except LockError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


# ---- tracking -------------------------------------------------------------------------------


def track(
    project: Project, stage_names: Iterable[str], *, resync: Callable[[], object] | None = None
) -> dict[str, str]:
    """Record the stages' current outputs in dvc.lock and the cache: {out path: DVC hash}.

    Call after the asset wrote its files. Several names in one call share one Repo open.
    A stage missing from dvc.yaml (a new source or release) calls `resync` once to
    regenerate it. An out without a file suffix is a folder, created empty when missing.
    Under `dvc repro` (DVC_STAGE set) DVC records the outputs itself, so this only hashes them.
    """
    names = list(stage_names)
    root = project.root
    if os.environ.get("DVC_STAGE"):
        stages = _read_stages(root / DVC_YAML)
        outs = [out for name in names for out in _outs(stages, name, root)]
        for out in outs:  # DVC deleted the outputs before the run: a folder with nothing to hold is still one
            if not Path(out).suffix and not (root / out).exists():
                (root / out).mkdir(parents=True)
        return {out: dvc_hash(root / out) for out in outs}
    with project_lock(project):
        stages = _read_stages(root / DVC_YAML)
        if resync is not None and any(n not in stages for n in names):
            resync()
            stages = _read_stages(root / DVC_YAML)
        for name in names:
            for out in _outs(stages, name, root):  # a clear error before DVC's
                if not Path(out).suffix and not (root / out).exists():
                    (root / out).mkdir(parents=True)  # a folder out with nothing to hold still has a version

        def commit() -> dict[str, str]:
            with _open_repo(root) as repo:
                return _commit_stages(repo, names)

        return _retry_dvc_lock(commit)


def _commit_stages(repo: Any, names: Sequence[str]) -> dict[str, str]:
    """`dvc commit --force` of several stages, with DVC's hashing and caching but a fast lock write.

    DVC's own commit re-parses dvc.lock with its round-trip YAML parser three times per
    call (~0.4 s at 60 stages, growing with the project); here dvc.yaml and dvc.lock are
    read with libyaml and the lock entries DVC serializes are written back in one go.
    """
    from dvc.dvcfile import load_file
    from dvc.repo import lock_repo
    from dvc.stage.serialize import to_lockfile
    from dvc_data.hashfile.hash_info import HashInfo
    from dvc_data.hashfile.meta import Meta

    root = Path(repo.root_dir)
    lock_path = root / DVC_LOCK
    hashes: dict[str, str] = {}
    with lock_repo(repo), _quiet_dvc():
        lock_text = lock_path.read_text(encoding="utf-8") if lock_path.exists() else ""
        lock = (yaml.load(lock_text, Loader=_Loader) or {}) if lock_text else {}
        dvcfile = load_file(repo, DVC_YAML)
        dvcfile.__dict__["contents"] = yaml.load((root / DVC_YAML).read_text(encoding="utf-8"), Loader=_Loader)
        dvcfile.__dict__["lockfile_contents"] = lock
        stages = [dvcfile.stages[name] for name in names]
        entries: dict[str, Any] = {}
        for stage in stages:
            # Stage.save, but a missing input (its source failed upstream) is recorded as missing,
            # so DVC calls the stage stale, instead of failing the asset that did run
            unreadable = _save_deps(stage)
            missing = [dep for dep in stage.deps if dep in unreadable or not dep.exists]
            for dep in missing:  # not the hash of an earlier run
                dep.hash_info, dep.meta = HashInfo(), Meta()
            stage.save_outs()
            stage.md5 = stage.compute_md5()
            if not missing:
                repo.stage_cache.save(stage)  # the run cache: lets `dvc repro` restore instead of rerun
            stage.commit(relink=False)  # the workspace file is already the cached bytes
            hashes.update({str(out.def_path): str(out.hash_info.value) for out in stage.outs})
            entries.update(json.loads(json.dumps(to_lockfile(stage))))
        updated = {"schema": "2.0", **lock}
        updated["stages"] = {**(lock.get("stages") or {}), **entries}
        text = yaml.dump(updated, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True,
                         width=1 << 16)
        if text != lock_text:
            _atomic_write(lock_path, text)
    return hashes


def _save_deps(stage: Any) -> list[Any]:
    """Hash a stage's deps; return those that cannot be read.

    A missing dep is left to the caller (recorded as missing); so is an unreadable one: a
    source location that is a dangling symlink, or a folder holding one (ingest quarantined
    it as `unreadable_file`), must not fail the stage that read everything else.
    """
    from dvc.dependency.base import DependencyDoesNotExistError, DependencyIsNotFileOrDirError

    unreadable = []
    for dep in stage.deps:
        try:
            dep.save()
        except DependencyDoesNotExistError:
            pass
        except (DependencyIsNotFileOrDirError, OSError):
            unreadable.append(dep)
    return unreadable


_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


@contextlib.contextmanager
def _quiet_dvc() -> Iterator[None]:
    """DVC logs "Updating lock file", "'x' is empty": noise inside an asset's log."""
    import logging

    logger = logging.getLogger("dvc")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _outs(stages: Mapping[str, Mapping[str, Any]], name: str, root: Path) -> list[str]:
    if name not in stages:
        raise VersioningError(
            f"{root / DVC_YAML}: no stage {name!r}; regenerate it with `curaline dvc sync --project {root}`"
        )
    return [o if isinstance(o, str) else next(iter(o)) for o in stages[name].get("outs", [])]


#: projects whose pushes are deferred (see `deferred_pushes`): root -> whether one was asked for
_DEFERRED: dict[Path, bool] = {}


@contextlib.contextmanager
def deferred_pushes(project: Project) -> Iterator[None]:
    """Within, `push` only notes that a push is due; one push of everything shareable at the end.

    `curaline run` pushes after each release, its exports and the compliance state: each a
    DVC repository opened and the remote asked about every object (0.3 s each, a seventh of a
    small run). One push at the end sends the same objects. A nested use defers to the outer one.
    """
    root = project.root.resolve()
    if root in _DEFERRED:
        yield
        return
    _DEFERRED[root] = False
    try:
        yield
    finally:
        due = _DEFERRED.pop(root)
        if due:
            push(project)


def push(project: Project, targets: Sequence[str] | None = None) -> int:
    """Push cached outputs (all, or these stages/paths) to the default remote; objects sent.

    "All" leaves out the outputs that hold PII verbatim (curaline.pii_stages) when the
    remote is not a local folder, unless curaline.yaml says `pii_to_remote: true`.
    Inside `deferred_pushes` it sends nothing and returns 0: the push at its end sends all.
    """
    root = project.root.resolve()
    if root in _DEFERRED:
        _DEFERRED[root] = True
        return 0
    with project_lock(project):
        def run() -> int:
            with _open_repo(project.root) as repo:
                chosen = list(targets) if targets else shareable_outputs(project, repo)
                if chosen == []:
                    return 0  # nothing that may leave (an empty list would mean "everything" to DVC)
                return int(repo.push(targets=chosen))

        return int(_retry_dvc_lock(run))


def shareable_outputs(project: Project, repo: Any) -> list[str] | None:
    """What a plain push may send: None (every output) for a local remote or when the project
    allows PII on its remote; else the dvc.lock outputs of every stage that holds no PII, and the
    lineage store."""
    from curaline.pii_stages import holds_pii, is_local_remote

    name = repo.config["core"].get("remote")
    url = str((repo.config.get("remote") or {}).get(name, {}).get("url", "")) if name else ""
    if not url or is_local_remote(url) or project.config.pii_to_remote:
        return None
    lock_path = project.root / DVC_LOCK
    lock = (yaml.load(lock_path.read_text(encoding="utf-8"), Loader=_Loader) or {}) if lock_path.exists() else {}
    outs = [str(o["path"]) for stage in (lock.get("stages") or {}).values() for o in stage.get("outs") or []]
    # the lineage store is `dvc add`-ed (a `.dvc` file each), not a dvc.lock output, and holds no
    # PII (tests/test_pii_leak.py): without it a clone pulling from a service could not audit.
    # Source files inside the project are `dvc add`-ed too, and stay: they are PII as delivered.
    _, lineage = compliance_paths(project)
    outs += [p for p in lineage if (project.root / f"{p}.dvc").exists()]
    return sorted(p for p in set(outs) if not holds_pii(p))


# ---- restoring ------------------------------------------------------------------------------


def restore(
    project: Project,
    files: Sequence[tuple[str, str]],
    dest: Path,
    rev: str | None = None,
    *,
    strip: str | None = None,
) -> list[Path]:
    """Copy files (project-relative path, md5) from the DVC cache, else the remote, into dest.

    Objects are addressed by their md5, so any version still in the cache or the remote
    comes back; with rev, the remotes configured at that git revision are tried too.
    Each copy is verified; a missing object or a hash mismatch raises RestoreError naming
    the file. Files land at dest/<path>, or dest/<path without the folder prefix `strip`>.
    """
    dest = Path(dest)
    written: list[Path] = []
    with _open_repo(project.root) as repo:
        cache = repo.cache.local
        remotes: list[Any] | None = None
        for rel, md5 in files:
            target = dest / (Path(rel).relative_to(strip.rstrip("/")) if strip else Path(rel))
            cached = Path(cache.oid_to_path(md5))
            if cached.exists():
                _copy_verified(cached, target, md5, rel, f"the DVC cache ({cached})")
            else:
                if remotes is None:
                    remotes = _remote_odbs(repo)
                    if rev is not None:
                        remotes += _remotes_at(project.root, rev)
                _fetch_verified(remotes, target, md5, rel)
            written.append(target)
    return written


def locked_file(project: Project, stage: str, partition: str | None, out: str, relpath: str) -> bytes | None:
    """A file inside a tracked folder output as dvc.lock records it, read from the DVC cache.

    What a reproduction needs to put back a file it cannot rebuild byte for byte (a
    release's manifest.json); None when the lock, the stage, the output or the cached
    objects are missing.
    """
    lock_path = project.root / DVC_LOCK
    try:
        lock = yaml.load(lock_path.read_text(encoding="utf-8"), Loader=_Loader) or {}
        outs = lock["stages"][stage_name(stage, partition)]["outs"]
        folder_md5 = next(o["md5"] for o in outs if o["path"] == out)
    except (OSError, KeyError, TypeError, StopIteration):
        return None
    with _open_repo(project.root) as repo:
        cache = repo.cache.local
        try:
            listing = json.loads(Path(cache.oid_to_path(folder_md5)).read_text(encoding="utf-8"))
            md5 = next(e["md5"] for e in listing if e["relpath"] == relpath)
            return Path(cache.oid_to_path(md5)).read_bytes()
        except (OSError, ValueError, KeyError, TypeError, StopIteration):
            return None


def _remote_odbs(repo: Any) -> list[Any]:
    from dvc.config import NoRemoteError

    try:
        return [repo.cloud.get_remote_odb(None, "restore")]
    except NoRemoteError:
        return []


def _remotes_at(root: Path, rev: str) -> list[Any]:
    """The remote configured at a git revision (it may have moved since)."""
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    try:
        with Repo(str(root), rev=rev) as at_rev:
            return _remote_odbs(at_rev)
    except DvcException as exc:
        raise RestoreError(f"cannot read the DVC configuration at git revision {rev!r}: {exc}") from None


def _copy_verified(source: Path, target: Path, md5: str, rel: str, where: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        shutil.copyfile(source, tmp)
        got = file_md5(Path(tmp))
        if got != md5:
            raise RestoreError(f"{rel}: the copy in {where} is corrupt (md5 {got}, recorded {md5})")
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _fetch_verified(remotes: Sequence[Any], target: Path, md5: str, rel: str) -> None:
    tried = []
    for odb in remotes:
        rpath = odb.oid_to_path(md5)
        # the remote as its URL: an object store's odb.path is `bucket/prefix/files/md5`, which
        # reads like a folder here; `s3://bucket/...` says where to look (a local one stays a path)
        where = odb.fs.unstrip_protocol(odb.path)
        tried.append(where)
        if not odb.fs.exists(rpath):
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        os.close(fd)
        try:
            odb.fs.get_file(rpath, tmp)
            _copy_verified(Path(tmp), target, md5, rel, f"the DVC remote {where}")
        finally:
            Path(tmp).unlink(missing_ok=True)
        return
    where = ", ".join(tried) if tried else "no remote is configured"
    raise RestoreError(f"{rel}: object md5 {md5} is neither in the DVC cache nor in the remote ({where}); "
                       "was it pushed (`dvc push`)?")  # fmt: skip


# ---- the compliance state -------------------------------------------------------------------


def compliance_paths(project: Project) -> tuple[list[str], list[str]]:
    """(files for git, paths for DVC) of the lineage store as it is now, relative to the root."""
    root = project.root

    def found(patterns: Iterable[str]) -> list[str]:
        return sorted({p.relative_to(root).as_posix() for pat in patterns for p in root.glob(pat) if p.is_file()})

    dirs = [d for d in LINEAGE_DVC_DIRS if (root / d).is_dir() and any((root / d).rglob("*"))]
    return found(LINEAGE_GIT), dirs + found(LINEAGE_DVC_FILES)


def unpulled_lineage(project: Project) -> list[str]:
    """Lineage paths the project's `.dvc` files track but the working tree lacks (a clone before
    `dvc pull`): committing new lineage over them would drop their history from HEAD."""
    root = project.root
    pats = [f"{d}.dvc" for d in LINEAGE_DVC_DIRS] + [f"{p}.dvc" for p in LINEAGE_DVC_FILES]
    return sorted({p.relative_to(root).as_posix()[: -len(".dvc")] for pat in pats for p in root.glob(pat)
                   if not p.with_suffix("").exists()})  # fmt: skip


#: Where source files inside the project may not be DVC-tracked as sources: curaline's own folders
_NOT_SOURCE_DATA = ("data", "lineage", "sources", "releases", ".dvc", ".dagster", ".git", DEFAULT_STORE)


def source_data_paths(project: Project) -> tuple[list[str], dict[str, str]]:
    """(files or folders inside the project that the manifests name, to DVC-track; source id ->
    absolute location outside it, to pin by content hash in `lineage/sources.lock`)."""
    from curaline.stage_outputs import project_inputs

    inside: set[str] = set()
    outside: dict[str, str] = {}
    for sid, dep in project_inputs(project).sources.items():
        if Path(dep).is_absolute():
            outside[sid] = dep
        elif dep not in ("", ".") and Path(dep).parts[0] not in _NOT_SOURCE_DATA and (project.root / dep).exists():
            inside.add(dep)
    # a folder and a file inside it: track the folder once
    kept = [p for p in sorted(inside) if not any(p.startswith(f"{q}/") for q in inside if q != p)]
    kept = [f for p in kept for f in _trackable(project.root, p)]
    tracked = set(_git(project.root, "ls-files", "--", *kept, check=False).stdout.split()) if kept else set()
    return [p for p in kept if p not in tracked and not any(t.startswith(f"{p}/") for t in tracked)], outside


def _trackable(root: Path, rel: str) -> list[str]:
    """`rel`, or, for a folder holding a dangling symlink (which `dvc add` refuses, and ingest
    quarantines as unreadable), the files in it that can be read: one bad entry must not
    leave the good files of a source untracked."""
    path = root / rel
    if not path.is_dir():
        return [rel]
    entries = sorted(path.rglob("*"))
    if not any(e.is_symlink() and not e.exists() for e in entries):
        return [rel]
    return [e.relative_to(root).as_posix() for e in entries if e.is_file()]


SOURCES_LOCK = "lineage/sources.lock"


def pin_outside_sources(project: Project, outside: Mapping[str, str]) -> dict[str, Any]:
    """Record the content hash of each source read from outside the project (a JSON lock file
    in git), so a colleague knows exactly which bytes were read; returns the lock."""
    lock = {sid: {"path": path, "md5": dvc_hash(Path(path))} for sid, path in sorted(outside.items())
            if Path(path).exists()}  # fmt: skip
    path = project.root / SOURCES_LOCK
    text = json.dumps({"format": 1, "sources": lock}, indent=2, sort_keys=True) + "\n"
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(path, text)
    return lock


def changed_outside_sources(project: Project) -> dict[str, tuple[str, str]]:
    """Sources outside the project whose bytes differ from the lock: id -> (locked md5, now)."""
    path = project.root / SOURCES_LOCK
    if not path.is_file():
        return {}
    locked = (json.loads(path.read_text(encoding="utf-8")) or {}).get("sources") or {}
    _, outside = source_data_paths(project)
    out = {}
    for sid, entry in locked.items():
        where = outside.get(sid, entry.get("path"))
        now = dvc_hash(Path(where)) if where and Path(where).exists() else "missing"
        if now != entry.get("md5"):
            out[sid] = (str(entry.get("md5")), now)
    return out


def commit_compliance_state(project: Project, message: str, *, data: bool = True, push_data: bool = True) -> str | None:
    """Version the lineage store with the project: what a clone needs to answer every audit question.

    Takedown requests and release manifests are committed to git as they are (small,
    append-only); with `data`, the ledger, the events and each version's record list are
    `dvc add`-ed first (their `.dvc` files committed) and pushed to the default remote, so
    `git clone` + `dvc pull` restores them and a run there applies every takedown ever made.
    Returns the commit (None when the project is not a repository yet and `data` is off).
    The git paths are committed alone (`git commit --only`): the user's other work is untouched.
    """
    root = project.root
    if not data and not (root / ".git").exists():
        return None  # a takedown recorded before the first run: the first run commits it
    ensure_repo(project)
    _ensure_gitignore(root)
    missing = unpulled_lineage(project) if data else []
    if missing:
        raise VersioningError(f"{', '.join(missing)}: tracked by DVC but not in the working tree; "
                              f"run `dvc pull` in {root} first (else their history would be dropped)")  # fmt: skip
    git_files, dvc_paths = compliance_paths(project)
    if data:  # the source files too: inside the project in DVC, outside pinned by hash
        inside, outside = source_data_paths(project)
        dvc_paths += inside
        if outside:
            pin_outside_sources(project, outside)
            git_files.append(SOURCES_LOCK)
    meta: list[str] = []
    if data and dvc_paths:
        with project_lock(project):

            def add() -> None:
                with _open_repo(root) as repo, _quiet_dvc():
                    repo.add(dvc_paths)

            from dvc.exceptions import DvcException

            try:
                _retry_dvc_lock(add)
            except DvcException as exc:
                raise VersioningError(f"dvc add {' '.join(dvc_paths)} failed in {root}: {exc}") from exc
        meta = sorted({f"{p}.dvc" for p in dvc_paths} | {
            (Path(p).parent / ".gitignore").as_posix() for p in dvc_paths})  # fmt: skip
        meta = [m for m in meta if (root / m).exists()]
    # with the data state it belongs to (dvc.yaml, dvc.lock, DVC's config), so a clone pulls both
    project_files = [p for p in ("sources", "releases", "curaline.yaml") if (root / p).exists()]
    paths = [*git_files, *meta, ".gitignore", *(versioning_paths(project) + project_files if data else [])]
    commit = git_commit(project, sorted(set(paths)), message)
    if data and push_data:
        push(project)
    return commit


# ---- git ------------------------------------------------------------------------------------


def versioning_paths(project: Project) -> list[str]:
    """The files a commit of the project's data state needs: DVC's config, dvc.yaml, dvc.lock
    and the .gitignore files DVC writes beside its outputs (so a clone can `dvc pull`)."""
    root = project.root
    fixed = [".dvc/config", ".dvc/.gitignore", ".dvcignore", ".gitignore", DVC_YAML, DVC_LOCK]
    ignores = sorted(p.relative_to(root).as_posix() for p in project.data_dir.rglob(".gitignore")) \
        if project.data_dir.is_dir() else []  # fmt: skip
    return [p for p in fixed if (root / p).exists()] + ignores


def git_commit(project: Project, paths: Sequence[str | Path], message: str) -> str:
    """Commit exactly these paths (adds, changes, deletions); the new HEAD, or HEAD if unchanged."""
    root = project.root
    rels = [str(Path(p).relative_to(root)) if Path(p).is_absolute() else str(p) for p in paths]
    if not rels:
        raise VersioningError("git_commit: no paths given")
    with project_lock(project):
        _git(root, "add", "-A", "--", *rels)
        staged = _git(root, "diff", "--cached", "--name-only", "--", *rels).stdout.strip()
        if staged:
            _git(root, *_identity(root), "commit", "-q", "-m", message, "--only", "--", *rels)
        head = _git(root, "rev-parse", "--verify", "-q", "HEAD", check=False)
        if head.returncode != 0:
            raise VersioningError(f"git_commit: nothing to commit in {root} and no commit yet")
        return head.stdout.strip()


def git_tag(project: Project, tag: str, message: str) -> None:
    """Tag HEAD (annotated); an existing tag on HEAD is fine, one elsewhere is never moved."""
    root = project.root
    with project_lock(project):
        head = _git(root, "rev-parse", "HEAD").stdout.strip()
        existing = _git(root, "rev-parse", "-q", "--verify", f"refs/tags/{tag}^{{commit}}", check=False)
        if existing.returncode == 0:
            if existing.stdout.strip() != head:
                raise VersioningError(f"git tag {tag} already exists on {existing.stdout.strip()[:12]}; "
                                      "tags are never moved")  # fmt: skip
            return
        _git(root, *_identity(root), "tag", "-a", tag, "-m", message)
