"""minhash_bands: each source's MinHash band buckets, one file per shard, written by the workers.

Near dedup joins documents on (band, bucket). Computing the signatures is per document, so
it belongs with the other per-record work: the shard worker (`curaline.shards.runner`)
bands the records the last per-source stage kept, batch by batch, and commits the part
file with the shard's other outputs. On a pool of N workers (or a Ray cluster) a source's
signatures then take 1/N of the time they took in the per-source step, which computed them
in one process after the phase.

The step (`ensure_source_bands`) keeps the folder true to its input: one part per input
shard, named as the shard is; a part is current when its footer names the same band
settings and the same document ids, in order, as the input shard holds. A missing or stale
part (a shard committed by an older curaline, band settings changed since, the step run
alone from the UI) is computed there, so the folder is right whoever wrote it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curaline import stages
from curaline.kernels.dedup import DedupConfig, band_table
from curaline.kernels.minhash import MinHashConfig, minhash_signatures
from curaline.project import Project
from curaline.records import NON_TEXT_KINDS, TEXT_COLUMNS
from curaline.sources import SourceManifest
from curaline.stage import BATCH_ROWS
from curaline.store import AtomicParquetWriter, parquet_files

SIGNATURE_STAGE = "minhash_bands"
#: the records banded: the last per-source stage's output
INPUT_STAGE = stages.records_input(SIGNATURE_STAGE)
#: footer keys of a part: the band settings and the digest of the input shard's doc ids
SETTINGS_KEY, INPUT_KEY = b"curaline.bands", b"curaline.input"
BAND_SCHEMA = pa.schema([("doc_id", pa.string()), ("band", pa.int16()), ("bucket", pa.int64())])


def banded(kind: str) -> bool:
    """Whether a source of this kind is deduplicated (evaluation items and annotations are not)."""
    return kind != "evaluation" and kind not in NON_TEXT_KINDS


def dedup_text(table: pa.Table, kind: str) -> pa.Array:
    """The text two records are compared on: their text fields joined (context aside)."""
    cols = [c for c in TEXT_COLUMNS[kind] if c in table.column_names and c not in ("context", "answer")]
    if not cols:  # a kind without text (annotations) has nothing to compare
        return pa.nulls(table.num_rows, pa.string())
    parts = [pc.fill_null(table[c], "") for c in cols]
    joined = parts[0] if len(parts) == 1 else pc.binary_join_element_wise(*parts, "\n")
    return joined.combine_chunks() if isinstance(joined, pa.ChunkedArray) else joined


def band_rows(table: pa.Table, kind: str, minhash: MinHashConfig, dedup: DedupConfig) -> pa.Table:
    """(doc_id, band, bucket) of a batch of records; documents without a token have none."""
    sigs = minhash_signatures(dedup_text(table, kind), config=minhash)
    return band_table(table["doc_id"].combine_chunks(), sigs, dedup).cast(BAND_SCHEMA)


def settings_digest(minhash: MinHashConfig, dedup: DedupConfig) -> str:
    """What a part's buckets depend on besides the text: the MinHash settings and the banding."""
    return hashlib.sha256(f"{minhash.fingerprint}\x1f{dedup.bands}x{dedup.rows}".encode()).hexdigest()[:32]


class IdsDigest:
    """A running digest of doc ids in order: the same ids in the same order, the same digest,
    however they were batched."""

    def __init__(self) -> None:
        self._h = hashlib.sha256()
        self.rows = 0

    def update(self, ids: pa.Array | pa.ChunkedArray) -> None:
        if isinstance(ids, pa.ChunkedArray):
            ids = ids.combine_chunks()
        if not len(ids):
            return
        # each id and a newline, as one buffer: the bytes of "".join(f"{id}\n" ...) without a Python loop
        lines = pc.binary_join_element_wise(ids.cast(pa.string()), pa.scalar("\n"), "")
        _, offsets, data = lines.buffers()
        ends = np.frombuffer(offsets, dtype=np.int32)[lines.offset : lines.offset + len(lines) + 1]
        self._h.update(memoryview(data)[int(ends[0]) : int(ends[-1])])
        self.rows += len(ids)

    def hexdigest(self) -> str:
        return f"{self.rows}:{self._h.hexdigest()[:32]}"


@dataclass(frozen=True)
class BandSpec:
    """What a shard worker needs to band its kept records (picklable: it travels in the task)."""

    path: str  # the part file, beside the shard's other outputs
    minhash: MinHashConfig
    dedup: DedupConfig

    @property
    def settings(self) -> str:
        return settings_digest(self.minhash, self.dedup)


class BandWriter:
    """Band rows streamed to a writer (the shard's staged file, or an AtomicParquetWriter); `finish`
    puts the settings and the digest of the ids it saw in the footer, before the writer closes."""

    def __init__(self, sink: Any, spec: BandSpec, kind: str):
        self.sink, self.spec, self.kind = sink, spec, kind
        self.ids = IdsDigest()

    def write(self, table: pa.Table) -> None:
        self.ids.update(table["doc_id"])
        if table.num_rows:
            self.sink.write(band_rows(table, self.kind, self.spec.minhash, self.spec.dedup))

    def finish(self) -> None:
        self.sink.add_key_value_metadata({SETTINGS_KEY: self.spec.settings, INPUT_KEY: self.ids.hexdigest()})


def part_name(input_file: Path) -> str:
    """A part is named as its input shard (a parquet file, whatever the input file is called)."""
    return input_file.name if input_file.suffix == ".parquet" else f"{input_file.name}.parquet"


def part_is_current(part: Path, settings: str, input_file: Path) -> bool:
    """The part was banded with these settings from the ids the input shard holds now."""
    if not part.exists():
        return False
    try:
        meta = pq.ParquetFile(part).metadata.metadata or {}
    except (OSError, pa.ArrowInvalid):
        return False  # a damaged part is computed again
    if meta.get(SETTINGS_KEY) != settings.encode():
        return False
    digest = IdsDigest()
    digest.update(pq.read_table(input_file, columns=["doc_id"])["doc_id"])
    return meta.get(INPUT_KEY) == digest.hexdigest().encode()


@dataclass
class BandsSummary:
    documents: int = 0
    parts: int = 0
    computed: int = 0  # parts the step had to band itself (the rest came from the shard workers)
    rows: int = 0


def ensure_source_bands(project: Project, manifest: SourceManifest, minhash: MinHashConfig,
                        dedup: DedupConfig) -> BandsSummary:  # fmt: skip
    """Make the source's band folder match its input: one current part per input shard.

    Batch by batch: memory is one batch's text and signatures, whatever the source's size.
    """
    folder = project.stage_path(SIGNATURE_STAGE, manifest.id)
    folder.mkdir(parents=True, exist_ok=True)
    legacy = folder.with_suffix(".parquet")  # one file per source before the parts
    legacy.unlink(missing_ok=True)
    summary = BandsSummary()
    source = project.stage_path(INPUT_STAGE, manifest.id)
    if banded(manifest.kind) and not source.exists():
        raise FileNotFoundError(f"{SIGNATURE_STAGE}@{manifest.id} reads {INPUT_STAGE}@{manifest.id}, which is not "
                                f"there ({source}): materialize source_records for {manifest.id} first")  # fmt: skip
    inputs = parquet_files(source) if banded(manifest.kind) else []
    wanted = {part_name(f) for f in inputs} or {"shard-00000.parquet"}
    for part in folder.glob("*.parquet"):
        if part.name not in wanted:  # an older plan's shard, or the empty part of a source that now has shards
            part.unlink()
    settings = settings_digest(minhash, dedup)
    if not inputs:  # eval items, annotations, a source without records: an empty part, one dataset to readers
        with AtomicParquetWriter(folder / "shard-00000.parquet", BAND_SCHEMA):
            pass
        summary.parts = 1
        return summary
    spec = BandSpec(path="", minhash=minhash, dedup=dedup)
    for input_file in inputs:
        part = folder / part_name(input_file)
        if not part_is_current(part, settings, input_file):
            _band_file(input_file, part, spec, manifest.kind)
            summary.computed += 1
        meta = pq.ParquetFile(part).metadata
        summary.rows += meta.num_rows
        summary.documents += int(meta.metadata[INPUT_KEY].split(b":", 1)[0])
        summary.parts += 1
    return summary


def _band_file(input_file: Path, part: Path, spec: BandSpec, kind: str) -> None:
    with AtomicParquetWriter(part, BAND_SCHEMA, row_group_size=500_000) as sink:
        bands = BandWriter(sink, spec, kind)
        for batch in pq.ParquetFile(input_file).iter_batches(batch_size=BATCH_ROWS):
            bands.write(pa.Table.from_batches([batch]))
        bands.finish()


def source_signatures(project: Project, manifest: SourceManifest, minhash: MinHashConfig, dedup: DedupConfig) -> int:
    """The source's band folder made current; returns the documents banded."""
    return ensure_source_bands(project, manifest, minhash, dedup).documents


def band_files(project: Project, source_ids: list[str]) -> list[str]:
    """Every part of these sources' band folders (what the near-dedup join reads)."""
    return [str(f) for sid in source_ids for f in parquet_files(project.stage_path(SIGNATURE_STAGE, sid))]
