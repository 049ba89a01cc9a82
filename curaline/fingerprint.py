"""Content fingerprints of sources: what tells a sensor that a source really changed.

A file's mtime alone lies both ways (a touch changes it, a copy with preserved times
does not), so each file is identified by its content hash; the hash is recomputed only
when size or mtime moved, which keeps a sensor tick cheap on unchanged sources.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from curaline.sources import SourceManifest
from curaline.store import file_digest

#: path -> [size, mtime_ns, md5]
FileCache = dict[str, list[Any]]


def source_fingerprint(manifest: SourceManifest, cache: FileCache) -> tuple[str, FileCache]:
    """A hash over the manifest's bytes and every file's content; returns the updated cache."""
    h = hashlib.sha256(manifest.path.read_bytes())
    new_cache: FileCache = {}
    for path in manifest.files():
        key = str(path)
        try:
            st = path.stat()
        except OSError:
            continue
        cached = cache.get(key)
        if cached and cached[0] == st.st_size and cached[1] == st.st_mtime_ns:
            digest = cached[2]
        else:
            digest = file_digest(path)
        new_cache[key] = [st.st_size, st.st_mtime_ns, digest]
        h.update(f"{Path(key).name}\x1f{digest}\n".encode())
    return h.hexdigest(), new_cache
