"""Dataset versions: the content hash of each output file, cached by size and mtime.

An event names the version (the MD5 that DVC also records) of every dataset it reads
or writes. Outputs are hashed once, when written; the hash is kept here under
``lineage/versions/`` with the file's size and mtime, so naming the version of an input,
or of the dataset holding a record in `lineage trace`, costs a stat, not a reread.
No pyarrow here: the CLI reads these on its fast path.
"""

from __future__ import annotations

import json
import os
from hashlib import blake2b
from pathlib import Path
from typing import Any

from curaline.project import Project


def versions_dir(project: Project) -> Path:
    return project.lineage_dir / "versions"


def _version_file(project: Project, path: Path) -> Path:
    key = blake2b(str(path).encode(), digest_size=10).hexdigest()
    return versions_dir(project) / f"{key}.json"


def record_version(project: Project, path: Path, version: str, **extra: Any) -> None:
    """Remember the version of a file as it is now (size and mtime identify the content)."""
    path = path.resolve()
    st = path.stat()
    entry = {"path": str(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns, "version": version, **extra}
    target = _version_file(project, path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(entry), encoding="utf-8")
    os.replace(tmp, target)


def cached_version(project: Project, path: Path) -> dict[str, Any] | None:
    """The recorded version entry of a file, if the file has not changed since."""
    path = path.resolve()
    try:
        entry = json.loads(_version_file(project, path).read_text(encoding="utf-8"))
        st = path.stat()
    except (OSError, ValueError):
        return None
    if entry.get("path") == str(path) and entry.get("size") == st.st_size and entry.get("mtime_ns") == st.st_mtime_ns:
        return entry
    return None


def dataset_version(project: Project, path: Path, version: str | None = None) -> str:
    """The content hash of a file: given (and recorded), cached, or computed (and recorded)."""
    if version is None:
        entry = cached_version(project, path)
        if entry is not None:
            return str(entry["version"])
        from curaline.store import file_digest, parquet_files

        if path.is_dir():  # a sharded stage's folder: a hash of its shards' hashes, in order
            h = blake2b(digest_size=16)
            for f in parquet_files(path):
                h.update(f"{f.name}\x1f{file_digest(f)}\n".encode())
            version = h.hexdigest()
        else:
            version = file_digest(path)
    record_version(project, path, version)
    return version
