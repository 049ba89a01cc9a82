"""A stdlib-only index of the lineage by doc id: `lineage trace` answers without DuckDB or pyarrow.

Why: a trace is one record's story across a few dozen parquet files, and starting DuckDB or
pyarrow alone costs most of the 200 ms a compliance query may take. The parquet files stay
the truth; this SQLite file (``lineage/index/lineage.sqlite3``) is a cache of them, keyed by
each file's size, mtime and inode, refreshed on read for exactly the files a question needs,
and rebuilt when missing, of another format, or corrupt. It holds ids, rule names, numbers
and file positions only, like the ledger it mirrors.

Per indexed file: the doc keys (the 16 hex digits of ``<source>:<hex>`` as an unsigned 64-bit
integer), sorted, in one blob, and the columns a trace shows, in the same order, each encoded
once per file: a constant, dictionary codes, fixed-width numbers, or offsets + UTF-8 bytes.
A lookup is a binary search in the key blob (`sqlite3.Connection.blobopen`) and a few reads
at the hits, so a trace reads a few kilobytes whatever the ledger's size, and indexing a file
is a handful of vectorized array operations and one insert, not a row at a time.

Concurrency: WAL journal and a busy timeout. Every file is (re)indexed in its own short
transaction that first checks the entry is still stale, so any number of writers (the ledger
hook in `curaline.ledger.write_ledger`) and readers (which catch up on whatever is stale) can
run at once; a reader that cannot write (read-only folder, lock held too long) builds what it
needs in memory instead.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, NamedTuple

from curaline.project import Project

if TYPE_CHECKING:
    import pyarrow as pa

#: Bumped whenever what is stored changes: an index of another format is rebuilt.
FORMAT = "2"
DOC_ID = re.compile(r"^([A-Za-z0-9._-]+):([0-9a-f]{16})$")
_DOC_ID_PATTERN = r"^[A-Za-z0-9._-]+:[0-9a-f]{16}$"

#: What each role keeps per record besides its key and source (columns a file lacks are skipped).
ROLE_FIELDS: dict[str, tuple[str, ...]] = {
    "presence": (),  # a stage output: which records it holds
    "origin": ("source_file", "source_line", "source_row", "source_record_id", "license", "content_hash"),
    "ledger": ("stage", "partition", "run_id", "recorded_at", "action", "reason", "value", "threshold", "detail",
               "related_doc_id"),
    "release": ("split", "copies"),  # the rest of release_records is the source's, or the file's
}
#: Roles whose whole answer is one small JSON document (no per-record keys).
PAYLOAD_ROLES = ("catalog", "manifest")
CATALOG_COLUMNS = ("source_id", "kind", "format", "license", "obtained", "manifest", "declaration")
#: How long a reader waits for another process's write to the index before answering from memory.
BUSY_TIMEOUT_S = 5.0
#: Dictionary-encode a column with at most this many distinct values (the list is JSON in the row).
_DICT_MAX = 1024

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    file_id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,      -- relative to the project root where it lies under it
    role TEXT NOT NULL,
    size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, inode INTEGER NOT NULL,
    entries INTEGER NOT NULL,       -- keys in the key blob
    fields TEXT NOT NULL,           -- JSON: column -> encoding
    payload TEXT                    -- JSON, for the payload roles
);
CREATE TABLE IF NOT EXISTS blobs (
    blob_id INTEGER PRIMARY KEY,
    file_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    data BLOB NOT NULL,
    UNIQUE (file_id, name)
);
"""


class IndexedFileError(ValueError):
    """A lineage file that exists but cannot be read (not parquet, not JSON)."""


class Stat(NamedTuple):
    size: int
    mtime_ns: int
    inode: int


def stat_of(path: Path) -> Stat | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return Stat(st.st_size, st.st_mtime_ns, st.st_ino)


def index_path(project: Project) -> Path:
    return project.lineage_dir / "index" / "lineage.sqlite3"


def doc_key(doc_id: str) -> tuple[str, int]:
    """(source, key) of a doc id; ValueError for anything else."""
    m = DOC_ID.match(doc_id)
    if not m:
        raise ValueError(f"{doc_id!r} is not a curaline doc id (<source>:<16 hex digits>)")
    return m.group(1), int(m.group(2), 16)


@dataclass(frozen=True)
class Entry:
    """One indexed file as the index knows it."""

    file_id: int
    path: Path
    role: str
    stat: Stat
    entries: int
    fields: dict[str, dict[str, Any]]
    payload: Any


# ---- building an entry (pyarrow and NumPy, imported only when a file is stale) --------------


@dataclass
class _Built:
    stat: Stat
    entries: int
    fields: dict[str, dict[str, Any]]
    blobs: dict[str, bytes]
    payload: Any = None


def _hex_bytes(hexes: pa.Array, width: int) -> bytes:
    """The bytes of n lowercase hex strings (or binaries) of one even width, no nulls, back to back."""
    import pyarrow as pa
    import pyarrow.compute as pc

    fixed = pc.cast(hexes, pa.binary(width))
    return bytes.fromhex(fixed.buffers()[1].to_pybytes()[width * fixed.offset : width * (fixed.offset + len(fixed))].decode("ascii"))


def _keys(ids: pa.Array) -> Any:
    """uint64 keys of doc ids already known to match the pattern: their last 16 hex digits."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if not len(ids):
        return np.zeros(0, "<u8")
    tails = pc.binary_slice(pc.cast(ids, pa.binary()), -16)
    return np.frombuffer(_hex_bytes(tails, 16), ">u8").astype("<u8")


def _hex_width(arr: pa.Array) -> int:
    """The width of the strings when every one is lowercase hex of one even width (hashes), else 0."""
    import pyarrow.compute as pc

    if arr.null_count == len(arr):
        return 0
    lengths = pc.min_max(pc.binary_length(arr)).as_py()
    width = lengths["min"]
    if width != lengths["max"] or width % 2 or not 2 <= width <= 128:
        return 0
    ok = pc.fill_null(pc.match_substring_regex(arr, f"^[0-9a-f]{{{width}}}$"), True)
    return int(width) if pc.all(ok).as_py() else 0


def _encode(name: str, arr: pa.Array) -> tuple[dict[str, Any], dict[str, bytes]]:
    """One column, already in key order: the cheapest of constant, dictionary, numbers, hex, strings."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if pa.types.is_timestamp(arr.type):
        arr = pc.cast(arr, pa.timestamp("us", tz=arr.type.tz)).view(pa.int64())
    elif pa.types.is_boolean(arr.type):
        arr = pc.cast(arr, pa.int8())
    elif not (pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type) or pa.types.is_string(arr.type)):
        arr = pc.cast(arr, pa.string())
    n = len(arr)
    distinct = pc.unique(arr)
    if len(distinct) <= 1:
        return {"enc": "const", "value": distinct[0].as_py() if len(distinct) else None}, {}
    numeric = pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type)
    if len(distinct) <= _DICT_MAX and (not numeric or 4 * len(distinct) <= n):
        codes = pc.index_in(arr, value_set=distinct, skip_nulls=False).to_numpy(zero_copy_only=False)
        width = 1 if len(distinct) <= 0xFF else 2
        return ({"enc": "dict", "width": width, "values": distinct.to_pylist()},
                {name: codes.astype(f"<u{width}").tobytes()})  # fmt: skip
    nullable = bool(arr.null_count)
    blobs: dict[str, bytes] = {}
    if nullable:
        blobs[f"{name}.valid"] = arr.is_valid().to_numpy(zero_copy_only=False).astype(np.uint8).tobytes()
    if numeric:
        if pa.types.is_floating(arr.type):
            fmt = "<f8"
        else:
            bounds = pc.min_max(arr).as_py()
            fmt = "<i4" if -(2**31) <= bounds["min"] and bounds["max"] < 2**31 else "<i8"
        blobs[name] = pc.fill_null(arr, 0).to_numpy(zero_copy_only=False).astype(fmt).tobytes()
        return {"enc": fmt[1:], "nullable": nullable}, blobs
    width = _hex_width(arr)
    if width:  # content hashes: half the bytes, no offsets
        blobs[name] = _hex_bytes(pc.fill_null(arr, "0" * width), width)
        return {"enc": "hex", "width": width // 2, "nullable": nullable}, blobs
    filled = pc.fill_null(arr, "")
    offsets = np.frombuffer(filled.buffers()[1], np.int32, count=n + 1, offset=4 * filled.offset).astype(np.int64)
    offsets -= offsets[0]
    data = filled.buffers()[2]
    start = int(np.frombuffer(filled.buffers()[1], np.int32, count=1, offset=4 * filled.offset)[0])
    blobs[name] = data.to_pybytes()[start : start + int(offsets[-1])] if data is not None else b""
    ofmt = "<u4" if offsets[-1] < 2**32 else "<u8"
    blobs[f"{name}.offsets"] = offsets.astype(ofmt).tobytes()
    return {"enc": "str", "offsets": int(ofmt[-1]), "nullable": nullable}, blobs


def _build_records(table: pa.Table, role: str, st: Stat) -> _Built:
    """Keys, sources and the role's columns of a table holding a doc_id column."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    ids = table["doc_id"].combine_chunks()
    if pa.types.is_dictionary(ids.type):
        ids = ids.dictionary_decode()
    if not pa.types.is_string(ids.type):
        ids = pc.cast(ids, pa.string())
    valid = pc.fill_null(pc.match_substring_regex(ids, _DOC_ID_PATTERN), False)
    if not pc.all(valid).as_py():  # rows no doc id can name are of no use to a lookup
        table, ids = table.filter(valid), ids.filter(valid)
    keys = _keys(ids)
    sources = pc.utf8_slice_codeunits(ids, 0, -17)
    source_values = pc.unique(sources)
    source_codes = pc.index_in(sources, value_set=source_values).to_numpy(zero_copy_only=False)
    order = np.lexsort((source_codes, keys))  # stable: a record's rows keep their order
    if not ROLE_FIELDS[role]:  # presence: one entry per (key, source)
        k, s = keys[order], source_codes[order]
        first = np.ones(len(k), bool)
        first[1:] = (k[1:] != k[:-1]) | (s[1:] != s[:-1])
        order = order[first]
    fields: dict[str, dict[str, Any]] = {}
    blobs: dict[str, bytes] = {"keys": keys[order].tobytes()}
    take = pa.array(order, pa.int64())
    columns = {"source": sources} | {c: table[c].combine_chunks() for c in ROLE_FIELDS[role] if c in table.column_names}
    for name, column in columns.items():
        fields[name], extra = _encode(name, column.take(take))
        blobs.update(extra)
    return _Built(st, len(order), fields, blobs)


def _build(path: Path, role: str) -> _Built | None:
    """Read one file through one descriptor, so the stat stored is that of the bytes read."""
    try:
        fh = open(path, "rb")
    except FileNotFoundError:
        return None
    with fh:
        raw = os.fstat(fh.fileno())
        st = Stat(raw.st_size, raw.st_mtime_ns, raw.st_ino)
        if role == "manifest":
            try:
                return _Built(st, 0, {}, {}, manifest_summary(json.load(fh)))
            except (ValueError, UnicodeDecodeError) as exc:
                raise IndexedFileError(f"{path}: not a JSON release manifest ({exc})") from None
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            pf = pq.ParquetFile(fh)
            names = pf.schema_arrow.names
            if role == "catalog":
                cols = [c for c in CATALOG_COLUMNS if c in names]
                return _Built(st, 0, {}, {}, pf.read(columns=cols).to_pylist())
            if "doc_id" not in names:  # e.g. quarantined input: no record of it can be traced
                return _Built(st, 0, {}, {})
            table = pf.read(columns=["doc_id", *[c for c in ROLE_FIELDS[role] if c in names]])
        except (pa.ArrowInvalid, OSError) as exc:
            raise IndexedFileError(f"{path}: not a readable parquet file ({exc})") from None
    return _build_records(table, role, st)


def manifest_summary(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """What lineage shows of a release version: the manifest's header, never its file list."""
    dvc, git = manifest.get("dvc") or {}, manifest.get("git") or {}
    keep = ("name", "version", "created_at", "status", "use", "records", "rows", "tokens")
    return {**{k: manifest.get(k) for k in keep}, "dvc_md5": dvc.get("md5"), "git_tag": git.get("tag"),
            "git_commit": git.get("commit")}  # fmt: skip


# ---- reading an entry (stdlib only) ----------------------------------------------------------

_UNPACK = {"f8": struct.Struct("<d"), "i8": struct.Struct("<q"), "i4": struct.Struct("<i")}


class _BlobReader:
    """Random reads in one file's blobs; handles stay open for the length of one lookup."""

    def __init__(self, con: sqlite3.Connection, file_id: int):
        self.con = con
        self.ids = dict(con.execute("SELECT name, blob_id FROM blobs WHERE file_id = ?", (file_id,)).fetchall())
        self.open: dict[str, sqlite3.Blob] = {}

    def read(self, name: str, offset: int, size: int) -> bytes:
        blob = self.open.get(name)
        if blob is None:
            blob = self.open[name] = self.con.blobopen("blobs", "data", self.ids[name], readonly=True)
        blob.seek(offset)
        return blob.read(size)

    def close(self) -> None:
        for blob in self.open.values():
            blob.close()

    def value(self, name: str, enc: dict[str, Any], i: int) -> Any:
        kind = enc["enc"]
        if kind == "const":
            return enc["value"]
        if kind == "dict":
            w = enc["width"]
            return enc["values"][int.from_bytes(self.read(name, i * w, w), "little")]
        if enc.get("nullable") and not self.read(f"{name}.valid", i, 1)[0]:
            return None
        if kind == "str":
            w = enc["offsets"]
            pair = self.read(f"{name}.offsets", i * w, 2 * w)
            start, end = int.from_bytes(pair[:w], "little"), int.from_bytes(pair[w:], "little")
            return self.read(name, start, end - start).decode("utf-8")
        if kind == "hex":
            w = enc["width"]
            return self.read(name, i * w, w).hex()
        unpack = _UNPACK[kind]
        return unpack.unpack(self.read(name, i * unpack.size, unpack.size))[0]

    def key_range(self, n: int, key: int) -> range:
        """Positions of `key` in the sorted key blob of n keys."""
        lo, hi = 0, n
        while lo < hi:
            mid = (lo + hi) // 2
            if int.from_bytes(self.read("keys", mid * 8, 8), "little") < key:
                lo = mid + 1
            else:
                hi = mid
        end = lo
        while end < n and int.from_bytes(self.read("keys", end * 8, 8), "little") == key:
            end += 1
        return range(lo, end)


# ---- the index ---------------------------------------------------------------------------------


def discard(path: Path) -> None:
    """Move a corrupt or outdated index out of the way; a new one is built from the parquet files."""
    for suffix in ("", "-wal", "-shm"):
        p = path.with_name(path.name + suffix)
        try:
            os.replace(p, p.with_name(f"{p.name}.discarded-{os.getpid()}"))
            os.unlink(p.with_name(f"{p.name}.discarded-{os.getpid()}"))
        except FileNotFoundError:
            pass


def _connect(path: Path | None, timeout_s: float) -> sqlite3.Connection:
    con = sqlite3.connect(":memory:" if path is None else str(path), timeout=timeout_s, isolation_level=None)
    try:
        if path is not None:
            con.execute("PRAGMA journal_mode = WAL")
            con.execute("PRAGMA synchronous = NORMAL")  # a cache: losing the last commit on power loss is fine
        found = None
        if con.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone():
            found = con.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
        if found is None:
            con.execute("BEGIN IMMEDIATE")
            for stmt in _SCHEMA.split(";"):
                if stmt.strip():
                    con.execute(stmt)
            con.execute("INSERT OR IGNORE INTO meta VALUES ('format', ?)", (FORMAT,))
            con.execute("COMMIT")
            found = con.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
        if found[0] != FORMAT:
            raise sqlite3.DatabaseError(f"index format {found[0]}, expected {FORMAT}")
        con.execute("SELECT count(*) FROM files").fetchone()
    except BaseException:
        con.close()
        raise
    return con


def is_damaged(exc: sqlite3.Error) -> bool:
    """True for an index file that is damaged (or of another format), not merely busy or read-only."""
    msg = str(exc).lower()
    transient = ("locked", "busy", "readonly", "read-only", "unable to open", "disk i/o")
    return not any(t in msg for t in transient)


class LineageIndex:
    """The index of one project; use as a context manager, one per question."""

    def __init__(self, project: Project, *, timeout_s: float | None = None, in_memory: bool = False):
        self.project = project
        self.path = index_path(project)
        self.in_memory = in_memory
        self.con = self._open(BUSY_TIMEOUT_S if timeout_s is None else timeout_s)

    def _open(self, timeout_s: float) -> sqlite3.Connection:
        if self.in_memory:
            return _connect(None, timeout_s)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError:
            self.in_memory = True
            return _connect(None, timeout_s)
        for attempt in range(2):
            try:
                return _connect(self.path, timeout_s)
            except sqlite3.Error as exc:
                if attempt == 0 and is_damaged(exc):
                    discard(self.path)
                    continue
                break
        self.in_memory = True  # cannot use the file now: answer from an index of this question alone
        return _connect(None, timeout_s)

    def __enter__(self) -> LineageIndex:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:  # fmt: skip
        self.close()

    def close(self) -> None:
        self.con.close()

    def _key(self, path: Path) -> str:
        try:
            return path.relative_to(self.project.root).as_posix()
        except ValueError:
            return str(path)

    def _rows(self, keys: list[str]) -> dict[str, tuple[Any, ...]]:
        out: dict[str, tuple[Any, ...]] = {}
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            q = ("SELECT path, file_id, role, size, mtime_ns, inode, entries, fields, payload FROM files "
                 f"WHERE path IN ({', '.join('?' * len(chunk))})")  # fmt: skip
            out.update({r[0]: r for r in self.con.execute(q, chunk).fetchall()})
        return out

    def entries(self, wanted: Mapping[Path, str]) -> dict[Path, Entry]:
        """The entries of these files (path -> role), (re)indexing first those that changed.

        A file that vanished meanwhile has no entry; one that changed again while being read
        is returned as read (its entry's stat says which version that was).
        """
        stats = {p: stat_of(p) for p in wanted}
        keys = {p: self._key(p) for p in wanted}
        rows = self._rows([keys[p] for p, st in stats.items() if st is not None])
        stale = [p for p, st in stats.items() if st is not None and
                 ((r := rows.get(keys[p])) is None or Stat(*r[3:6]) != st or r[2] != wanted[p])]  # fmt: skip
        for p in stale:
            self.refresh(p, wanted[p])
        if stale:
            rows.update(self._rows([keys[p] for p in stale]))
            self.prune()  # writing anyway: forget files deleted since
        out = {}
        for p in wanted:
            r = rows.get(keys[p])
            if stats[p] is not None and r is not None and r[2] == wanted[p]:
                out[p] = Entry(r[1], p, r[2], Stat(*r[3:6]), r[6], json.loads(r[7]),
                               None if r[8] is None else json.loads(r[8]))  # fmt: skip
        return out

    def refresh(self, path: Path, role: str) -> bool:
        """(Re)index one file from its bytes on disk; False when it vanished."""
        built = _build(path, role)
        key = self._key(path)
        con = self.con
        con.execute("BEGIN IMMEDIATE")
        try:
            if built is None:
                self._forget(key)
            else:
                row = con.execute("SELECT role, size, mtime_ns, inode FROM files WHERE path = ?", (key,)).fetchone()
                if row is None or row[0] != role or Stat(*row[1:]) != built.stat:  # nobody did it meanwhile
                    self._forget(key)
                    cur = con.execute(
                        "INSERT INTO files (path, role, size, mtime_ns, inode, entries, fields, payload) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (key, role, *built.stat, built.entries, json.dumps(built.fields),
                         None if built.payload is None else json.dumps(built.payload, default=str)))  # fmt: skip
                    con.executemany("INSERT INTO blobs (file_id, name, data) VALUES (?, ?, ?)",
                                    [(cur.lastrowid, n, b) for n, b in built.blobs.items()])  # fmt: skip
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return built is not None

    def _forget(self, key: str) -> None:
        row = self.con.execute("SELECT file_id FROM files WHERE path = ?", (key,)).fetchone()
        if row:
            self.con.execute("DELETE FROM blobs WHERE file_id = ?", row)
            self.con.execute("DELETE FROM files WHERE file_id = ?", row)

    def prune(self) -> int:
        """Forget the files that are no longer on disk (their entries are never used, only kept)."""
        gone = [k for (k,) in self.con.execute("SELECT path FROM files").fetchall()
                if not (self.project.root / k).exists()]  # fmt: skip
        if gone:
            self.con.execute("BEGIN IMMEDIATE")
            try:
                for k in gone:
                    self._forget(k)
                self.con.execute("COMMIT")
            except BaseException:
                self.con.execute("ROLLBACK")
                raise
        return len(gone)

    def lookup(self, entry: Entry, source: str, key: int) -> list[dict[str, Any]]:
        """The rows of one indexed file for one record, in file order ({} per hit for presence)."""
        if not entry.entries:
            return []
        reader = _BlobReader(self.con, entry.file_id)
        try:
            hits = reader.key_range(entry.entries, key)
            out = []
            for i in hits:
                if reader.value("source", entry.fields["source"], i) != source:
                    continue
                out.append({n: reader.value(n, enc, i) for n, enc in entry.fields.items() if n != "source"})
            return out
        finally:
            reader.close()


def record_file(project: Project, path: Path, role: str) -> bool:
    """Index a file its writer just wrote; False when the index was busy or unusable.

    A cache must never fail a curation run, so any error only means that readers index
    the file themselves on their next question.
    """
    try:
        with LineageIndex(project, timeout_s=2.0) as index:
            return not index.in_memory and index.refresh(path, role)
    except Exception:  # noqa: BLE001 (see the docstring: the parquet file is the truth, this is a cache)
        return False


def record_ledger_file(project: Project, path: Path) -> bool:
    """Called by `curaline.ledger.write_ledger` for every ledger file."""
    return record_file(project, path, "ledger")


def record_release_file(project: Project, path: Path) -> bool:
    """For the release writer, after ``v<N>.parquet`` (release_records): the first trace after a new
    version then does not index a million-row file."""
    return record_file(project, path, "release")
