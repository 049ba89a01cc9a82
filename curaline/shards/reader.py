"""Ingest one shard: the same records, doc ids and quarantine rows as a whole-source read.

`ShardReader` is `SourceReader` limited to the shard's pieces: a slice of a JSON lines
file starts at its byte offset with its true line number, a slice of a parquet file
at its first row, so every position, and every doc id made from one, matches an
unsharded read. Duplicate source ids across shards are caught by handing a shard the
own ids that earlier shards hold (`seen_ids`), see `curaline.shards.runner`.
"""

from __future__ import annotations

import zlib
from collections import defaultdict, deque
from collections.abc import Iterable, Iterator
from pathlib import Path

import pyarrow as pa

from curaline.ingest import SourceReader, _Item
from curaline.project import IngestConfig
from curaline.shards.plan import Shard
from curaline.sources import SourceManifest


class ShardReader(SourceReader):
    def __init__(self, manifest: SourceManifest, shard: Shard, config: IngestConfig | None = None,
                 *, seen_ids: Iterable[str] = ()):  # fmt: skip
        super().__init__(manifest, config)
        self.shard = shard
        self._seen_ids.update(seen_ids)
        self._queue: dict[str, deque] = defaultdict(deque)
        for piece in shard.pieces:
            self._queue[piece.rel].append(piece)

    def files(self) -> list[Path]:
        root = self.m.root
        by_rel = {}
        for path in self.m.files():
            try:
                by_rel[path.relative_to(root).as_posix()] = path
            except ValueError:
                by_rel[path.name] = path
        # a planned file that is gone since planning is still read (and quarantined as unreadable)
        return [by_rel.get(p.rel, root / p.rel) for p in self.shard.pieces]

    def _items(self, path: Path, rel: str) -> Iterator[_Item]:
        piece = self._queue[rel].popleft()
        if piece.whole:
            yield from super()._items(path, rel)
            return
        if piece.start:
            self.stats.files -= 1  # the file was counted by the shard holding its first slice
        try:
            if self.m.format == "parquet":
                yield from self._parquet(path, rel, piece.start, piece.stop)
            else:
                yield from self._jsonl(path, rel, piece.start, piece.stop, piece.first_line)
        except (OSError, EOFError, zlib.error, pa.ArrowException) as exc:
            yield _Item(rel, None, None, reason="unreadable_file", detail=f"{type(exc).__name__}: {exc}")
