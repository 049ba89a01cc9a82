"""Release versions: publish a build as v<N>, list and show versions, restore their bytes.

The version history lives in the lineage store, append-only, one manifest (JSON) and
one record list (parquet) per version; the shards live in DVC (cache + remote) and the
git tag `release/<name>/v<N>` marks the commit whose dvc.lock names them. A build with
the same content as the latest version is not a new version, so reruns are idempotent.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from curaline.project import Project
from curaline.release.build import ReleaseBuild, release_dir
from curaline.store import file_digest, write_parquet

_VERSION_FILE = re.compile(r"^v(\d+)\.json$")
_REF = re.compile(r"^(?P<name>[a-z0-9][a-z0-9._-]*)(?:@v(?P<version>\d+))?$")


class ReleaseNotFound(LookupError):
    pass


def history_dir(project: Project, name: str) -> Path:
    return project.lineage_dir / "releases" / f"release={name}"


def signals_path(project: Project, name: str, version: int) -> Path:
    """Each version's per-record signals, kept for drift reports (outside the release_records glob)."""
    return project.lineage_dir / "release_signals" / f"release={name}" / f"v{version}.parquet"


def release_names(project: Project) -> list[str]:
    """Releases with a version: in the lineage history, or (a fresh clone) as a pulled release folder."""
    root = project.lineage_dir / "releases"
    names = {p.name.split("=", 1)[1] for p in root.glob("release=*") if p.is_dir()} if root.is_dir() else set()
    folders = project.data_dir / "releases"
    if folders.is_dir():
        names |= {p.parent.name for p in folders.glob("*/manifest.json") if _folder_version(p.parent) is not None}
    return sorted(names)


def versions(project: Project, name: str) -> list[dict[str, Any]]:
    """Every published version's manifest, oldest first, with its computed status."""
    folder = history_dir(project, name)
    found = []
    for path in folder.iterdir() if folder.is_dir() else []:
        m = _VERSION_FILE.match(path.name)
        if m:
            found.append((int(m.group(1)), path))
    out = []
    for i, (_, path) in enumerate(sorted(found)):
        manifest = json.loads(path.read_text(encoding="utf-8"))
        manifest["superseded"] = i < len(found) - 1
        out.append(manifest)
    if not out:
        # a fresh clone has no lineage history (it stays on the machine that ran the pipeline),
        # but `dvc pull` brought the release folder: its manifest is the version it holds, so
        # listing, reports and the numbering of the next version go on from it
        pulled = _folder_version(release_dir(project, name))
        if pulled is not None:
            out.append({**pulled, "superseded": False, "history": "release folder only: the lineage history "
                                                                  "of earlier versions is not on this machine"})  # fmt: skip
    return out


def _folder_version(folder: Path) -> dict[str, Any] | None:
    """The release folder's manifest, if it is a published version (not a reproduction)."""
    manifest = _current_manifest(folder)
    return manifest if manifest is not None and isinstance(manifest.get("version"), int) else None


def parse_ref(ref: str) -> tuple[str, int | None]:
    m = _REF.match(ref)
    if not m:
        raise ReleaseNotFound(f"{ref!r} is not a release reference: use NAME or NAME@vN")
    return m.group("name"), int(m.group("version")) if m.group("version") else None


def resolve(project: Project, ref: str) -> dict[str, Any]:
    """The manifest of NAME (latest version) or NAME@vN."""
    name, version = parse_ref(ref)
    found = versions(project, name)
    if not found:
        known = ", ".join(release_names(project)) or "none yet (run `curaline run`)"
        raise ReleaseNotFound(f"unknown release {name!r}; releases: {known}")
    if version is None:
        return found[-1]
    for manifest in found:
        if manifest["version"] == version:
            return manifest
    listed = ", ".join(f"v{m['version']}" for m in found)
    raise ReleaseNotFound(f"release {name!r} has no version v{version}; versions: {listed}")


def blocked_path(project: Project, name: str) -> Path:
    """The gate's verdict on a release's latest build when it blocked it (kept beside, never
    inside, the version history: a blocked build is not a version)."""
    return project.lineage_dir / "release_gate" / f"{name}.json"


def record_blocked(project: Project, build: ReleaseBuild, *, spec_digest: str | None = None) -> dict[str, Any]:
    """Remember that the licence gate blocked this build, so `release list|show` can say so."""
    assert build.blocked
    record = {**build.manifest, "gate_report": build.gate_report, "spec_digest": spec_digest,
              "spec_path": str(build.spec.path.name)}  # fmt: skip
    path = blocked_path(project, build.spec.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_text(path, json.dumps(record, indent=2, ensure_ascii=False, default=str) + "\n")
    return record


def blocked(project: Project, name: str) -> dict[str, Any] | None:
    """The blocked verdict on `name`'s latest build, or None (not blocked, or its spec is gone)."""
    path = blocked_path(project, name)
    if not path.is_file() or not (project.releases_dir / f"{name}.yaml").is_file():
        return None
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return None


def held_release(project: Project, name: str) -> tuple[bool, str] | None:
    """Why a wave whose release run for `name` failed should wait or go on (a sensor asks).

    None: not a licence block (re-executing the run is the fix). (False, note): blocked by
    the licence gate and the spec unchanged since: the note says what to change in the spec.
    (True, note): the spec changed since the block or is gone: the wave goes on without it
    (a changed spec starts its own build).
    """
    from curaline.release.spec import spec_digest

    spec = project.releases_dir / f"{name}.yaml"
    if not spec.is_file():
        return True, f"release {name}: its spec releases/{name}.yaml is gone, so the wave goes on without it"
    path = blocked_path(project, name)
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if record.get("spec_digest") and record["spec_digest"] != spec_digest(spec):
        return True, (f"release {name}: blocked by the licence gate, but releases/{name}.yaml changed since: "
                      "the wave goes on and the new spec's build takes over")  # fmt: skip
    violations = record.get("gate", {}).get("violations", [])
    offending = ", ".join(f"{v['source']} ({v['license']}, {v['class']})" for v in violations) or "see its gate report"
    return False, (f"release {name} is blocked by the licence gate for {record.get('use')} use: {offending}. "
                   f"Re-executing cannot pass the gate: remove these sources from releases/{name}.yaml `sources` or "
                   "change its `use`; the wave goes on when the spec changes or is removed")  # fmt: skip


def blocked_names(project: Project) -> list[str]:
    folder = project.lineage_dir / "release_gate"
    names = [p.stem for p in folder.glob("*.json")] if folder.is_dir() else []
    return sorted(n for n in names if blocked(project, n) is not None)


@dataclass
class Published:
    manifest: dict[str, Any]
    new: bool


def publish(project: Project, build: ReleaseBuild, *, versioning: bool = True) -> Published:
    """Make a build the current release folder and, if its content is new, version N+1."""
    assert build.folder is not None and not build.blocked
    if os.environ.get("DVC_STAGE"):
        return _reproduce(project, build)
    name = build.spec.name
    blocked_path(project, name).unlink(missing_ok=True)  # the gate passes again: the block is over
    found = versions(project, name)
    latest = found[-1] if found else None
    target = release_dir(project, name)
    if latest and latest.get("content_md5") == build.content_md5:
        # same bytes as the latest version: keep its manifest, so the folder stays exactly v<N>
        current = _current_manifest(target)
        if current is None or current.get("version") != latest["version"] or not _files_intact(target, latest):
            _write_manifest(build.folder, _folder_manifest(latest))
            _swap(build.folder, target)
        else:
            shutil.rmtree(build.folder)
        latest = {k: v for k, v in latest.items() if k != "superseded"}
        return Published(manifest=latest, new=False)
    version = (latest["version"] + 1) if latest else 1
    manifest = dict(build.manifest)
    manifest["version"] = version
    manifest["dvc"] = {"path": f"data/releases/{name}", "md5": build.content_md5}
    manifest["git"] = {"commit": None, "tag": f"release/{name}/v{version}"}
    if versioning:  # a stale git lock: say so before the folder claims a version it cannot get
        from curaline.versioning import check_git_unlocked

        check_git_unlocked(project)
    _write_manifest(build.folder, manifest)
    previous = _swap_keeping_previous(build.folder, target)
    try:
        if versioning:
            manifest = _version_control(project, name, manifest)
        _record(project, name, version, build.records, manifest)
    except BaseException:
        _put_back(target, previous)  # no folder may claim a version that was not released
        raise
    if previous is not None:
        shutil.rmtree(previous)
    return Published(manifest=manifest, new=True)


def _swap_keeping_previous(staging: Path, target: Path) -> Path | None:
    """Like `_swap`, but the replaced folder is kept aside (returned) until publishing succeeds."""
    previous = target.with_name(f".{target.name}.previous-{os.getpid()}")
    if previous.exists():
        shutil.rmtree(previous)
    had = target.exists()
    if had:
        os.replace(target, previous)
    os.replace(staging, target)
    return previous if had else None


def _put_back(target: Path, previous: Path | None) -> None:
    """Undo `_swap_keeping_previous`: the folder as it was before this publish."""
    failed = target.with_name(f".{target.name}.failed-{os.getpid()}")
    if target.exists():
        os.replace(target, failed)
        shutil.rmtree(failed)
    if previous is not None:
        os.replace(previous, target)


def _reproduce(project: Project, build: ReleaseBuild) -> Published:
    """Under `dvc repro`: rebuild the folder, publish nothing.

    A reproduction checks that the inputs give the released bytes; it is not a new
    version (no history entry, commit or tag, which a fresh clone would also clash
    with). When the shards match the version dvc.lock records, that version's
    manifest.json is copied back verbatim from the DVC cache, so the folder hashes as
    released and `dvc status` is clean; when they differ the folder gets the build's own
    manifest marked unpublished, and DVC reports the change.
    """
    assert build.folder is not None
    from curaline.versioning import locked_file

    name = build.spec.name
    raw = locked_file(project, "release", name, f"data/releases/{name}", "manifest.json")
    locked: dict[str, Any] = json.loads(raw) if raw else {}
    if raw and locked.get("content_md5") == build.content_md5:
        (build.folder / "manifest.json").write_bytes(raw)  # verbatim: the folder hashes as released
        _swap(build.folder, release_dir(project, name))
        return Published(manifest=locked, new=False)
    manifest = {**build.manifest, "version": None, "status": "reproduced, not published",
                "dvc": {"path": f"data/releases/{name}", "md5": build.content_md5}, "git": {"commit": None, "tag": None}}
    _write_manifest(build.folder, manifest)
    _swap(build.folder, release_dir(project, name))
    return Published(manifest=manifest, new=False)


def _version_control(project: Project, name: str, manifest: dict[str, Any]) -> dict[str, Any]:
    """DVC-track the release folder, commit dvc.lock, tag the commit, push the data."""
    from curaline import versioning
    from curaline.dvc_cli import track_asset

    hashes = track_asset(project, "release", name)
    folder_hash = hashes.get(f"data/releases/{name}")
    paths = [*versioning.versioning_paths(project),
             *[p for p in (f"releases/{name}.yaml", "sources", "curaline.yaml") if (project.root / p).exists()]]  # fmt: skip
    commit = versioning.git_commit(project, paths, f"release {name} v{manifest['version']}")
    tag = manifest["git"]["tag"]
    versioning.git_tag(project, tag, f"{name} v{manifest['version']}: {manifest['records']} records")
    versioning.push(project)
    return {**manifest, "git": {"commit": commit, "tag": tag}, "dvc": {**manifest["dvc"], "folder_md5": folder_hash}}


def _record(project: Project, name: str, version: int, records: pa.Table, manifest: dict[str, Any]) -> None:
    folder = history_dir(project, name)
    folder.mkdir(parents=True, exist_ok=True)
    n = records.num_rows
    table = pa.table({
        "release": pa.array([name] * n, pa.string()),
        "version": pa.array([version] * n, pa.int32()),
        **{c: records[c] for c in ("doc_id", "source_id", "kind", "license", "license_class", "split", "copies")},
    })  # fmt: skip
    write_parquet(folder / f"v{version}.parquet", table)
    try:  # index it now, so the first `lineage trace` after a new version stays fast
        from curaline.lineage.index import record_release_file

        record_release_file(project, folder / f"v{version}.parquet")
    except Exception:  # noqa: BLE001 - the index is a cache: readers catch up on their own
        pass
    signals = release_dir(project, name) / "signals.parquet"
    if signals.exists():
        target = signals_path(project, name, version)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(signals, target)
    _atomic_text(folder / f"v{version}.json", json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=False))


def _folder_manifest(manifest: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in manifest.items() if k != "superseded"}


def _current_manifest(folder: Path) -> dict[str, Any] | None:
    path = folder / "manifest.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _files_intact(folder: Path, manifest: dict[str, Any]) -> bool:
    expected = {f["path"] for f in manifest["files"]} | {"manifest.json"}
    present = {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}
    if present != expected:
        return False
    return all(file_digest(folder / f["path"]) == f["md5"] for f in manifest["files"])


def _write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    _atomic_text(folder / "manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False))


def _atomic_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _swap(staging: Path, target: Path) -> None:
    """Replace the release folder by the staging one (readers see old or new, briefly none)."""
    old = target.with_name(f".{target.name}.old-{os.getpid()}")
    if target.exists():
        os.replace(target, old)
    os.replace(staging, target)
    if old.exists():
        shutil.rmtree(old)


class RestoreError(RuntimeError):
    pass


def checkout(project: Project, ref: str, dest: Path) -> dict[str, Any]:
    """Restore exactly the released bytes of a version into dest (each file's md5 verified)."""
    manifest = resolve(project, ref)
    name, version = manifest["name"], manifest["version"]
    dest.mkdir(parents=True, exist_ok=True)
    current = release_dir(project, name)
    pending = []
    for f in manifest["files"]:
        src, out = current / f["path"], dest / f["path"]
        out.parent.mkdir(parents=True, exist_ok=True)
        if src.exists() and src.resolve() != out.resolve() and file_digest(src) == f["md5"]:
            shutil.copyfile(src, out)
        elif not (out.exists() and file_digest(out) == f["md5"]):
            pending.append(f)
    if pending:
        from curaline import versioning

        try:
            versioning.restore(project, [(f"data/releases/{name}/{f['path']}", f["md5"]) for f in pending],
                               dest, rev=manifest["git"]["tag"], strip=f"data/releases/{name}/")  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - any DVC/git failure is reported the same way
            raise RestoreError(f"cannot restore {name}@v{version}: {exc}") from exc
    for f in manifest["files"]:
        if file_digest(dest / f["path"]) != f["md5"]:
            raise RestoreError(f"{name}@v{version}: {f['path']} does not match its md5 {f['md5']}")
    _write_manifest(dest, _folder_manifest(manifest))
    return manifest
