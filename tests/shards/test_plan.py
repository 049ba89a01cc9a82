"""Shard planning and shard reading: bounded slices whose union is exactly the whole-source read."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from curaline.ingest import read_source
from curaline.project import IngestConfig
from curaline.shards.plan import Piece, balanced_groups, gzip_input_bytes, line_slices, plan_source
from curaline.shards.reader import ShardReader
from curaline.sources import SourceManifest, parse_manifest


def manifest(root: Path, sid: str, **spec: object) -> SourceManifest:
    (root / "sources").mkdir(exist_ok=True)
    data = {"id": sid, "license": "MIT", "obtained": "public-dataset", "kind": "document", **spec}
    path = root / "sources" / f"{sid}.yaml"
    path.write_text(yaml.safe_dump(data))
    return parse_manifest(path)


def read_shards(m: SourceManifest, shards, config: IngestConfig | None = None) -> tuple[pa.Table, pa.Table, int, int]:
    """Read shard by shard, each knowing the source ids of the shards before it (as the runner does)."""
    records, quarantine, read, files = [], [], 0, 0
    seen: set[str] = set()
    for shard in shards:
        reader = ShardReader(m, shard, config, seen_ids=seen)
        for batch in reader.batches():
            seen.update(i for i in batch.records["source_record_id"].to_pylist() if i is not None)
            records.append(batch.records)
            quarantine.append(batch.quarantine)
        read += reader.stats.read
        files += reader.stats.files
        assert reader.stats.balanced
    return pa.concat_tables(records), pa.concat_tables(quarantine), read, files


def jsonl_lines(n: int, bad_every: int = 0) -> bytes:
    out = []
    for i in range(n):
        if bad_every and i % bad_every == 3:
            out.append(b'{"id": "broken' + str(i).encode())  # malformed: quarantined with its true line
        else:
            out.append(json.dumps({"id": f"r{i}", "text": f"record number {i} " + "x" * (i % 50)}).encode())
    return b"\n".join(out) + b"\n"


def test_line_slices_cover_the_file_exactly_at_line_boundaries(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    data = jsonl_lines(1000)
    path.write_bytes(data)
    for max_records, max_bytes in [(1, 10**9), (7, 10**9), (10**9, 100), (333, 5_000), (10**9, 10**9)]:
        pieces = list(line_slices(path, "a.jsonl", max_records=max_records, max_bytes=max_bytes))
        assert pieces[0].start == 0 and pieces[0].first_line == 1
        ends = [p.stop if p.stop is not None else len(data) for p in pieces]
        assert [p.start for p in pieces[1:]] == ends[:-1] and ends[-1] == len(data)
        assert all(data[e - 1 : e] == b"\n" for e in ends)
        assert sum(p.records or 0 for p in pieces) == 1000
        assert all((p.records or 0) <= max_records for p in pieces)
        # each slice's first line number is the count of lines before it, plus one
        assert all(p.first_line == data[: p.start].count(b"\n") + 1 for p in pieces)


def test_line_slices_of_a_file_without_final_newline_and_of_an_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(b'{"a":1}\n{"a":2}\n{"a":3}')
    pieces = list(line_slices(path, "a.jsonl", max_records=2, max_bytes=10**9))
    assert [(p.start, p.stop, p.first_line, p.records) for p in pieces] == [(0, 16, 1, 2), (16, 23, 3, 1)]
    empty = tmp_path / "e.jsonl"
    empty.write_bytes(b"")
    assert [(p.whole, p.records) for p in line_slices(empty, "e.jsonl", max_records=2, max_bytes=10)] == [(True, 0)]


@pytest.mark.parametrize(("shard_records", "shard_bytes"), [(50, 10**9), (1, 10**9), (10**9, 2_000), (10**9, 10**9)])
def test_sharded_read_equals_whole_read_ids_lines_and_quarantine(tmp_path: Path, shard_records: int, shard_bytes: int) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "big.jsonl").write_bytes(jsonl_lines(400, bad_every=37))
    (data_dir / "small1.jsonl").write_bytes(jsonl_lines(3))
    (data_dir / "small2.jsonl").write_bytes(b'{"text": "no id here"}\n\n{"id": "dup", "text": "t"}\n')
    m = manifest(tmp_path, "src", location="../data/*.jsonl", format="jsonl", fields={"id": "id", "text": "text"})
    whole_records, whole_quarantine, stats = read_source(m)
    shards = plan_source(m, shard_records=shard_records, shard_bytes=shard_bytes)
    assert [s.index for s in shards] == list(range(len(shards)))
    if shard_records == 50:
        assert len(shards) > 8 and all(s.records <= 50 for s in shards)
    records, quarantine, read, files = read_shards(m, shards)
    assert records.equals(whole_records)
    assert quarantine.equals(whole_quarantine)
    assert (read, files) == (stats.read, stats.files)


def test_duplicate_ids_across_shards_are_caught_with_the_earlier_shards_ids(tmp_path: Path) -> None:
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"id": i % 5, "text": f"t{i}"}) + "\n" for i in range(10)))
    m = manifest(tmp_path, "dup", location="../d.jsonl", format="jsonl", fields={"id": "id", "text": "text"})
    first, second = plan_source(m, shard_records=5, shard_bytes=10**9)
    seen = ShardReader(m, first)
    ids = [r for b in seen.batches() for r in b.records["source_record_id"].to_pylist()]
    later = ShardReader(m, second, seen_ids=ids)
    quarantined = [q for b in later.batches() for q in b.quarantine.to_pylist()]
    assert [(q["line"], q["reason"]) for q in quarantined] == [(i, "duplicate_source_id") for i in range(6, 11)]


def test_parquet_is_cut_at_row_groups_with_true_row_numbers(tmp_path: Path) -> None:
    table = pa.table({"text": [f"doc {i}" for i in range(1000)]})
    pq.write_table(table, tmp_path / "p.parquet", row_group_size=100)
    m = manifest(tmp_path, "pq", location="../p.parquet", format="parquet")
    shards = plan_source(m, shard_records=250, shard_bytes=10**9)
    assert [s.records for s in shards] == [200, 200, 200, 200, 200]
    records, _, read, files = read_shards(m, shards)
    assert records.equals(read_source(m)[0]) and (read, files) == (1000, 1)
    assert records["source_row"].to_pylist() == list(range(1000))


def test_unsplittable_formats_and_annotation_sources_are_whole(tmp_path: Path) -> None:
    import gzip

    with gzip.open(tmp_path / "g.jsonl.gz", "wb") as fh:
        fh.write(jsonl_lines(100))
    m = manifest(tmp_path, "gz", location="../g.jsonl.gz", format="jsonl.gz", fields={"id": "id", "text": "text"})
    assert [len(s.pieces) for s in plan_source(m, shard_records=10, shard_bytes=10**9)] == [1]
    (tmp_path / "ann").mkdir()
    for i in range(3):
        (tmp_path / "ann" / f"{i}.jsonl").write_text(
            "".join(json.dumps({"item": f"i{j}", "who": f"a{i}", "label": "yes"}) + "\n" for j in range(20)))
    ann = manifest(tmp_path, "ann", location="../ann/*.jsonl", format="jsonl", kind="annotation", labels=["yes", "no"],
                   label_type="nominal", fields={"item_id": "item", "annotator_id": "who", "label": "label"})
    shards = plan_source(ann, shard_records=5, shard_bytes=10)
    assert len(shards) == 1 and len(shards[0].pieces) == 3 and all(p.whole for p in shards[0].pieces)


def test_gzip_files_count_their_uncompressed_size_toward_a_shard(tmp_path: Path) -> None:
    import gzip

    (tmp_path / "gz").mkdir()
    raw = jsonl_lines(2000)  # compresses about 10x: counted on disk, all six files would be one shard
    for i in range(6):
        with gzip.open(tmp_path / "gz" / f"{i}.jsonl.gz", "wb") as fh:
            fh.write(raw)
    on_disk = (tmp_path / "gz" / "0.jsonl.gz").stat().st_size
    assert gzip_input_bytes(tmp_path / "gz" / "0.jsonl.gz", on_disk) == len(raw) > 5 * on_disk
    m = manifest(tmp_path, "gz", location="../gz/*.jsonl.gz", format="jsonl.gz", fields={"id": "id", "text": "text"})
    shards = plan_source(m, shard_records=10**9, shard_bytes=2 * len(raw) + 1)
    assert [len(s.pieces) for s in shards] == [2, 2, 2]
    # doc ids do not depend on the grouping: the same records as one shard
    whole = plan_source(m, shard_records=10**9, shard_bytes=10**12)
    assert len(whole) == 1
    assert read_shards(m, shards)[0].column("doc_id").to_pylist() == read_shards(m, whole)[0].column("doc_id").to_pylist()


def test_shards_are_as_few_as_the_bounds_allow_and_even(tmp_path: Path) -> None:
    import gzip

    (tmp_path / "gz").mkdir()
    raw = jsonl_lines(2000)
    for i in range(6):
        with gzip.open(tmp_path / "gz" / f"{i}.jsonl.gz", "wb") as fh:
            fh.write(raw)
    m = manifest(tmp_path, "gz", location="../gz/*.jsonl.gz", format="jsonl.gz", fields={"id": "id", "text": "text"})
    # four files fit under the bound: filled greedily that is 4 + 2; evened out, 3 + 3
    shards = plan_source(m, shard_records=10**9, shard_bytes=4 * len(raw) + 1)
    assert [len(s.pieces) for s in shards] == [3, 3]
    assert [p.rel for s in shards for p in s.pieces] == [f"{i}.jsonl.gz" for i in range(6)]  # file order kept
    assert all(s.size == 3 * len(raw) for s in shards)
    # the record bound still holds, and still gives as few shards as it allows
    sizes = [Piece(f"{i}", records=r, size=s) for i, (r, s) in enumerate([(5, 10), (5, 10), (1, 50), (5, 10), (5, 10)])]
    for max_records, max_bytes in [(10, 10**6), (10**6, 60), (6, 60), (10**6, 10**6), (1, 1)]:
        groups = balanced_groups(sizes, max_records, max_bytes)
        assert [p for g in groups for p in g] == sizes
        assert all(sum(p.records or 0 for p in g) <= max_records or len(g) == 1 for g in groups)
        assert all(sum(p.size for p in g) <= max_bytes or len(g) == 1 for g in groups)
    assert balanced_groups(sizes, 10**6, 10**6) == [sizes]
    assert [len(g) for g in balanced_groups(sizes, 1, 1)] == [1] * 5
    # filled up to 60 bytes: 20 | 50 + 10 | 10; evened out: 20 | 50 | 20 (the same 3 groups, the largest 50)
    assert [len(g) for g in balanced_groups(sizes, 10**6, 60)] == [2, 1, 2]


def test_a_large_line_file_is_cut_into_equal_slices(tmp_path: Path) -> None:
    path = tmp_path / "big" / "a.jsonl"
    path.parent.mkdir()
    data = jsonl_lines(5000)
    path.write_bytes(data)
    m = manifest(tmp_path, "big", location="../big/a.jsonl", format="jsonl", fields={"id": "id", "text": "text"})
    shards = plan_source(m, shard_records=10**9, shard_bytes=len(data) * 2 // 5)  # 3 slices are needed
    assert len(shards) == 3
    sizes = [s.size for s in shards]
    assert sum(sizes) == len(data) and max(sizes) - min(sizes) < len(data) // 100  # a few lines apart, not 40 % + 40 % + 20 %
    whole = plan_source(m, shard_records=10**9, shard_bytes=10**12)
    assert read_shards(m, shards)[0].column("doc_id").to_pylist() == read_shards(m, whole)[0].column("doc_id").to_pylist()


def test_gzip_size_estimate_survives_wraparound_and_damage(tmp_path: Path) -> None:
    big = tmp_path / "big.gz"
    big.write_bytes(b"\0" * 996 + (10).to_bytes(4, "little"))  # ISIZE 10 under 1,000 bytes on disk: 2**32 + 10
    assert gzip_input_bytes(big, 1000) == (1 << 32) + 10
    short = tmp_path / "short.gz"
    short.write_bytes(b"\x1f\x8b")
    assert gzip_input_bytes(short, 2) == 2
    assert gzip_input_bytes(tmp_path / "missing.gz", 123) == 123


def test_a_source_without_files_is_one_shard_that_quarantines_the_location(tmp_path: Path) -> None:
    m = manifest(tmp_path, "none", location="../nothing/*.jsonl", format="jsonl", fields={"text": "text"})
    (shard,) = plan_source(m, shard_records=10, shard_bytes=10)
    _, quarantine, read, _ = read_shards(m, [shard])
    assert read == 1 and quarantine["reason"].to_pylist() == ["unreadable_file"]


def test_the_shard_key_changes_with_the_input_file(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_bytes(jsonl_lines(10))
    m = manifest(tmp_path, "k", location="../a.jsonl", format="jsonl", fields={"id": "id", "text": "text"})
    before = plan_source(m, shard_records=100, shard_bytes=10**9)[0].key()
    assert plan_source(m, shard_records=100, shard_bytes=10**9)[0].key() == before
    (tmp_path / "a.jsonl").write_bytes(jsonl_lines(11))
    assert plan_source(m, shard_records=100, shard_bytes=10**9)[0].key() != before
