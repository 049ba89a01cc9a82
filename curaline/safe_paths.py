"""Where curaline may read from and write to: guards for paths a user or a manifest names.

Two rules, both checked on resolved paths (symlinks and ``..`` followed):

- a release checkout never writes over what is there (unless forced) and never into
  ``/``, the project or its own folders, nor a folder that holds the project;
- a source manifest may only point inside the ingest roots (`ingest.allowed_roots` in
  curaline.yaml, plus the project folder), so a manifest cannot make the pipeline copy
  ``/etc/shadow`` into the data folder and the DVC cache.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

#: The project's own folders: a checkout into (or under) one would mix a release into them.
PROJECT_FOLDERS = ("sources", "releases", "data", "lineage", ".dvc", ".git", ".dagster", "assets", "resources",
                   "sensors", "curaline", "tests")  # fmt: skip


def is_within(path: Path, root: Path) -> bool:
    """Whether resolved `path` is `root` or below it."""
    return path == root or root in path.parents


def checkout_target_problem(project_root: Path, dest: Path, *, force: bool) -> str | None:
    """Why `dest` must not receive a release checkout (None when it may)."""
    target = dest.expanduser().resolve()
    root = project_root.resolve()
    if target == Path(target.anchor):
        return f"refusing to restore into the filesystem root {target}"
    if is_within(root, target):
        return f"refusing to restore into {target}: it holds the project {root}"
    for name in PROJECT_FOLDERS:
        if is_within(target, root / name):
            return f"refusing to restore into {target}: it is the project's own {name}/ folder"
    if target.exists() and not target.is_dir():
        return f"{target} exists and is not a folder"
    if target.is_dir() and any(target.iterdir()) and not force:
        return f"{target} is not empty: choose an empty or new folder, or pass --force to overwrite its files"
    return None


def outside_roots(path: Path, roots: Iterable[Path]) -> bool:
    """Whether resolved `path` lies outside every one of `roots`."""
    resolved = path.resolve()
    return not any(is_within(resolved, Path(r).resolve()) for r in roots)


def source_file_problem(path: Path, roots: Iterable[Path]) -> str | None:
    """Why a source file must not be read (None when it may): a dangling symlink, or a file
    that resolves outside the ingest roots (a symlink inside the project pointing out)."""
    if path.is_symlink() and not path.exists():
        return f"dangling symlink: {path} points to {path.readlink()}, which does not exist"
    roots = tuple(roots)
    if roots and outside_roots(path, roots):
        return f"{path} resolves to {path.resolve()}, outside the allowed ingest roots"
    return None
