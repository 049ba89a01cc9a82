"""Shard planning: split a source into bounded, independent slices of its input.

A shard is a list of pieces; a piece is one whole file or a range of one large file
(byte range at line boundaries for JSON lines, row-group range for parquet). Small
files are grouped until a shard reaches `ingest.shard_records` records or
`ingest.shard_bytes` bytes (uncompressed: a gzip file counts what its trailer says it
holds), into as few shards as that allows, evened out so the workers finish together;
a large file is cut into equal slices of at most that size. Every piece
knows its first line (or row) in its file, so positions, and the doc ids made from
them, are the same whatever the sharding. Formats whose records cannot be found
without reading from the start (gzip, a JSON array, CSV with quoted newlines, oasst
trees) are never split, and an annotation source is one shard, because duplicate
judgements are found across all of its files.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from curaline.sources import SourceManifest

#: bytes read at a time while finding line boundaries
SCAN_CHUNK = 8 << 20
#: formats whose files can be cut at line boundaries (uncompressed only)
LINE_FORMATS = ("jsonl",)


@dataclass(frozen=True)
class Piece:
    """A whole file (start=0, stop=None) or a slice: bytes [start, stop) or rows [start, stop)."""

    rel: str  # relative to the source root, as in source_file
    start: int = 0
    stop: int | None = None
    first_line: int = 1  # 1-based line number of the slice's first line (line formats)
    records: int | None = None  # lines or rows in the piece, where known without parsing
    size: int = 0  # bytes of the piece (or of the whole file)

    @property
    def whole(self) -> bool:
        return self.start == 0 and self.stop is None


@dataclass(frozen=True)
class Shard:
    source_id: str
    index: int
    pieces: tuple[Piece, ...] = ()
    #: what the source's files looked like when planned: (rel, size, mtime_ns) each; a change changes every key
    stamp: tuple[tuple[str, int, int], ...] = field(default=(), compare=False)

    @property
    def name(self) -> str:
        return f"shard-{self.index:05d}"

    @property
    def label(self) -> str:
        return f"{self.source_id}/{self.name}"

    @property
    def records(self) -> int:
        return sum(p.records or 0 for p in self.pieces)

    @property
    def size(self) -> int:
        """Bytes a worker reads for this shard (uncompressed, where known): its share of the work."""
        return sum(p.size for p in self.pieces)

    def key(self) -> str:
        """The input of this shard: which slices of which files, at which size and mtime."""
        h = hashlib.sha256(self.source_id.encode())
        for p in self.pieces:
            h.update(f"\x1e{p.rel}\x1f{p.start}\x1f{p.stop}\x1f{p.first_line}".encode())
        for s in self.stamp:
            h.update(f"\x1d{s[0]}\x1f{s[1]}\x1f{s[2]}".encode())
        return h.hexdigest()


def _rel(manifest: SourceManifest, path: Path) -> str:
    try:
        return path.relative_to(manifest.root).as_posix()
    except ValueError:
        return path.name


def line_slices(path: Path, rel: str, *, max_records: int, max_bytes: int) -> Iterator[Piece]:
    """Cut a line file into slices of at most max_records lines or about max_bytes bytes.

    One sequential read with NumPy finding newlines; a slice ends just after a newline,
    so no line is split and each slice knows the number of its first line.
    """
    size = path.stat().st_size
    start, first_line, lines, offset = 0, 1, 0, 0
    with path.open("rb") as fh:
        while True:
            chunk = fh.read(SCAN_CHUNK)
            if not chunk:
                break
            ends = np.flatnonzero(np.frombuffer(chunk, dtype=np.uint8) == 10) + offset + 1  # byte after each \n
            i = 0
            while i < len(ends):
                # the line index (within this chunk) at which either limit is reached
                by_records = i + (max_records - lines) - 1
                by_bytes = int(np.searchsorted(ends, start + max_bytes, side="left"))
                cut = min(by_records, max(by_bytes, i))
                if cut >= len(ends):
                    lines += len(ends) - i
                    break
                stop = int(ends[cut])
                n = lines + (cut - i + 1)
                yield Piece(rel, start, stop, first_line, n, stop - start)
                start, first_line, lines = stop, first_line + n, 0
                i = cut + 1
            offset += len(chunk)
    if start < size or start == 0:
        tail = lines + (1 if size > start and not _ends_with_newline(path, size) else 0)
        yield Piece(rel, start, None if start == 0 else size, first_line, tail, size - start)


def _ends_with_newline(path: Path, size: int) -> bool:
    with path.open("rb") as fh:
        fh.seek(size - 1)
        return fh.read(1) == b"\n"


def row_slices(path: Path, rel: str, *, max_records: int) -> Iterator[Piece]:
    """Cut a parquet file into runs of whole row groups of at most max_records rows (at least one group)."""
    meta = pq.ParquetFile(path).metadata
    start = rows = size = 0
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        if rows and rows + group.num_rows > max_records:
            yield Piece(rel, start, start + rows, 1, rows, size)
            start, rows, size = start + rows, 0, 0
        rows += group.num_rows
        size += group.total_byte_size
    if rows or start == 0:
        whole = start == 0
        yield Piece(rel, start, None if whole else start + rows, 1, rows, size)


def gzip_input_bytes(path: Path, size: int) -> int:
    """About how many bytes a gzip file holds uncompressed: its trailer's ISIZE (the size mod 2**32,
    of the last member), lifted by 2**32 until it is at least the compressed size.

    Shards are bounded by the bytes the workers read, not the bytes on disk: a 2.6 MB .jsonl.gz
    holds 8 MB of JSON, and counted compressed, a source of seven such files was one shard
    (one core busy while the other waited, see benchmarks/RESULTS.md). A damaged trailer gives
    the compressed size.
    """
    try:
        with path.open("rb") as fh:
            fh.seek(max(size - 4, 0))
            tail = fh.read(4)
    except OSError:
        return size
    if len(tail) < 4:
        return size
    isize = int.from_bytes(tail, "little")
    if isize < size:
        isize += ((size - isize + (1 << 32) - 1) >> 32) << 32
    return isize


def _pieces(manifest: SourceManifest, path: Path, *, max_records: int, max_bytes: int) -> list[Piece]:
    rel = _rel(manifest, path)
    try:
        size = path.stat().st_size
    except OSError:  # missing or unreadable: one piece, quarantined as unreadable_file when read
        return [Piece(rel)]
    splittable = manifest.kind != "annotation"
    try:
        if splittable and manifest.format in LINE_FORMATS and path.suffix != ".gz":
            # equal slices (a 40 MiB file under 32 MiB: 20 + 20, not 32 + 8)
            even = -(-size // max(-(-size // max_bytes), 1))
            return list(line_slices(path, rel, max_records=max_records, max_bytes=max(even, 1)))
        if splittable and manifest.format == "parquet":
            return list(row_slices(path, rel, max_records=max_records))
    except (OSError, ValueError, pq.lib.ArrowException):
        pass  # a damaged file is read whole, and quarantined where it fails
    if path.suffix == ".gz":
        size = gzip_input_bytes(path, size)
    return [Piece(rel, records=1 if manifest.format == "text" else None, size=size)]


def _group(pieces: list[Piece], max_records: int, max_bytes: int) -> list[list[Piece]]:
    """Consecutive pieces, a new group when the next would pass either bound."""
    groups: list[list[Piece]] = [[]]
    records = size = 0
    for piece in pieces:
        n = piece.records or 0
        if groups[-1] and (records + n > max_records or size + piece.size > max_bytes):
            groups.append([])
            records = size = 0
        groups[-1].append(piece)
        records += n
        size += piece.size
    return groups


def balanced_groups(pieces: list[Piece], max_records: int, max_bytes: int) -> list[list[Piece]]:
    """As few groups as the bounds allow, with the largest as small as it can be.

    Filling each group up to the bound leaves a runt at the end (six 8 MiB files under
    32 MiB: 32 + 16); the workers then finish unevenly. The smallest byte bound that still
    needs no more groups (found by bisection) gives 24 + 24. Pieces stay in file order.
    """
    fewest = len(_group(pieces, max_records, max_bytes))
    if fewest == 1:
        return [pieces]
    total = sum(p.size for p in pieces)
    low = max(max((p.size for p in pieces), default=0), -(-total // fewest)) - 1  # too small (or the answer - 1)
    high = max_bytes  # enough
    while high - low > 1:
        mid = (low + high) // 2
        if len(_group(pieces, max_records, mid)) <= fewest:
            high = mid
        else:
            low = mid
    return _group(pieces, max_records, high)


def plan_source(manifest: SourceManifest, *, shard_records: int, shard_bytes: int) -> list[Shard]:
    """The shards of a source, in file and position order; never empty (a source without files is one shard)."""
    if shard_records < 1 or shard_bytes < 1:
        raise ValueError("ingest.shard_records and ingest.shard_bytes must be positive")
    files = manifest.files()
    stamp: list[tuple[str, int, int]] = []
    pieces: list[Piece] = []
    for path in files:
        try:
            st = path.stat()
            stamp.append((_rel(manifest, path), st.st_size, st.st_mtime_ns))
        except OSError:
            stamp.append((_rel(manifest, path), -1, -1))
        pieces += _pieces(manifest, path, max_records=shard_records, max_bytes=shard_bytes)
    groups = [pieces] if manifest.kind == "annotation" else balanced_groups(pieces, shard_records, shard_bytes)
    # every shard's key covers every file of the source: a changed source reruns all of its shards
    # (which ids earlier shards hold, see curaline.shards.runner, depends on all of them)
    return [Shard(manifest.id, i, tuple(pieces), tuple(stamp)) for i, pieces in enumerate(groups)]
