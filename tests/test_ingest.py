"""Ingestion: every reader on real public files, every quarantine reason on crafted ones."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from curaline.ingest import ANNOTATION_QUARANTINE_REASONS, QUARANTINE_REASONS, ingest_source, read_source
from curaline.project import IngestConfig
from curaline.records import make_doc_id, own_key, position_key
from curaline.schemas import RECORD_MODELS, QuarantineRow, validate_file
from curaline.sources import SourceManifest, parse_manifest


def manifest(tmp_path: Path, sid: str, **spec: object) -> SourceManifest:
    (tmp_path / "sources").mkdir(exist_ok=True)
    data = {"id": sid, "license": "MIT", "obtained": "public-dataset", **spec}
    path = tmp_path / "sources" / f"{sid}.yaml"
    path.write_text(yaml.safe_dump(data))
    return parse_manifest(path)


# ---- real files from ../shared/data ---------------------------------------------------


@pytest.mark.parametrize(
    ("location", "fmt", "kind", "fields", "expected_rows"),
    [
        ("llamafactory-demos/alpaca_en_demo.json", "json", "instruction",
         {"prompt": "instruction", "context": "input", "response": "output"}, 999),
        ("llamafactory-demos/dpo_en_demo.json", "json", "preference",
         {"prompt": "conversations.-1.value", "chosen": "chosen.value", "rejected": "rejected.value"}, 300),
        ("oasst-sample/en_100_message.jsonl", "jsonl", "document", {"id": "message_id", "text": "text"}, None),
        ("dolma-cc-2019-sample/*.jsonl.gz", "jsonl.gz", "document", {"id": "id", "text": "text"}, None),
        ("hh-rlhf-harmless-test/test.jsonl.gz", "jsonl.gz", "document", {"text": "chosen"}, 2312),
        ("mmlu-test/anatomy_test.csv", "csv", "evaluation",
         {"text": ["question", "choice0", "choice1", "choice2", "choice3"], "answer": "answer"}, None),
        ("wikitext-2/valid.txt", "text", "document", {}, 1),
    ],
)  # fmt: skip
def test_readers_on_real_files(
    tmp_path: Path, shared_data: Path, location: str, fmt: str, kind: str, fields: dict, expected_rows: int | None
) -> None:
    (tmp_path / "curaline.yaml").write_text(yaml.safe_dump({"ingest": {"allowed_roots": [str(shared_data)]}}))
    m = manifest(tmp_path, "real", location=str(shared_data / location), format=fmt, kind=kind, fields=fields)
    records, quarantine, stats = read_source(m, IngestConfig(max_record_chars=5_000_000))
    assert stats.balanced and stats.read == records.num_rows + quarantine.num_rows
    assert records.num_rows > 0
    if expected_rows is not None:
        assert records.num_rows == expected_rows
    assert records["doc_id"].null_count == 0 and len(set(records["doc_id"].to_pylist())) == records.num_rows
    assert set(records["license"].to_pylist()) == {"MIT"}
    out = tmp_path / "out.parquet"
    pq.write_table(records, out)
    assert validate_file(out, RECORD_MODELS[kind]).passed


def test_parquet_reader_on_real_rows(tmp_path: Path, shared_data: Path) -> None:
    rows = json.loads((shared_data / "llamafactory-demos/alpaca_en_demo.json").read_text())[:200]
    (tmp_path / "pq").mkdir()
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "pq" / "part-0.parquet")
    m = manifest(tmp_path, "alpaca", location="../pq/*.parquet", format="parquet", kind="instruction",
                 fields={"prompt": "instruction", "context": "input", "response": "output"})  # fmt: skip
    records, quarantine, stats = read_source(m, IngestConfig(batch_size=64))
    assert records.num_rows == 200 and quarantine.num_rows == 0
    assert records["source_row"].to_pylist()[:3] == [0, 1, 2]
    assert records["doc_id"][5].as_py() == make_doc_id("alpaca", position_key("part-0.parquet", 5))


# ---- every quarantine reason ------------------------------------------------------------


def test_every_quarantine_reason_is_caught_with_its_location(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    lines = [
        b'{"id": "a", "text": "fine text"}',
        b'{"id": "b", "text": "broken',  # 2 malformed_json
        b'["not", "an", "object"]',  # 3 not_an_object
        b'{"id": "c", "text": "caf\xe9 latin-1"}',  # 4 undecodable_bytes
        b'{"id": "d", "body": "no text field"}',  # 5 missing_field
        b'{"id": "e", "text": 42}',  # 6 wrong_type
        b'{"id": "f", "text": "   "}',  # 7 empty_text
        b'{"id": "g", "text": "' + b"x" * 200 + b'"}',  # 8 oversize_record
        b'{"id": "a", "text": "same id again"}',  # 9 duplicate_source_id
        b"",  # blank line: skipped, not a record
        b'{"id": "h", "text": "also fine"}',  # 11
    ]
    (corpus / "part.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    (corpus / "bad.jsonl.gz").write_bytes(b"this is not gzip")  # unreadable_file
    m = manifest(tmp_path, "crafted", location="../corpus/*", format="jsonl", kind="document", fields={"id": "id"})
    records, quarantine, stats = read_source(m, IngestConfig(max_record_chars=100))
    assert records["source_record_id"].to_pylist() == ["a", "h"]
    got = {(r["reason"], r["file"], r["line"]) for r in quarantine.to_pylist()}
    assert got == {
        ("unreadable_file", "bad.jsonl.gz", None),
        ("malformed_json", "part.jsonl", 2),
        ("not_an_object", "part.jsonl", 3),
        ("undecodable_bytes", "part.jsonl", 4),
        ("missing_field", "part.jsonl", 5),
        ("wrong_type", "part.jsonl", 6),
        ("empty_text", "part.jsonl", 7),
        ("oversize_record", "part.jsonl", 8),
        ("duplicate_source_id", "part.jsonl", 9),
    }
    assert {r for r, *_ in got} == set(QUARANTINE_REASONS) - {"malformed_csv", *ANNOTATION_QUARANTINE_REASONS}
    assert stats.read == 11 and stats.ingested == 2 and stats.quarantined_total == 9 and stats.blank_lines == 1
    bad_bytes = next(r for r in quarantine.to_pylist() if r["reason"] == "undecodable_bytes")
    assert bad_bytes["raw"] == lines[3] and bad_bytes["byte_offset"] == sum(len(x) + 1 for x in lines[:3]) + 24
    fields = {r["reason"]: r["field"] for r in quarantine.to_pylist()}
    assert fields["missing_field"] == "text" and fields["wrong_type"] == "text"


def test_csv_quarantine_and_headerless_columns(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "items.csv").write_bytes(b'What is 2+2?,4\n"multi\nline question",yes\n,empty\nbad \xff byte,x\n')
    m = manifest(tmp_path, "quiz", location="../corpus/items.csv", format="csv", kind="evaluation",
                 fields={"text": 0, "answer": 1})  # fmt: skip
    records, quarantine, stats = read_source(m)
    assert records["text"].to_pylist() == ["What is 2+2?", "multi\nline question"]
    assert records["source_line"].to_pylist() == [1, 2]
    assert [(r["reason"], r["line"]) for r in quarantine.to_pylist()] == [("empty_text", 4), ("undecodable_bytes", 5)]
    assert stats.balanced


def test_text_files_and_bad_encoding(tmp_path: Path) -> None:
    corpus = tmp_path / "docs"
    (corpus / "sub").mkdir(parents=True)
    (corpus / "a.txt").write_text("First document.\nSecond line.")
    (corpus / "sub" / "b.txt").write_bytes("Latin-1 caf\xe9".encode("latin-1"))
    m = manifest(tmp_path, "docs", location="../docs/**/*.txt", format="text", kind="document")
    records, quarantine, _ = read_source(m)
    assert records["source_record_id"].to_pylist() == ["a.txt"]
    assert records["doc_id"][0].as_py() == make_doc_id("docs", position_key("a.txt", 0))
    assert quarantine.to_pylist()[0]["reason"] == "undecodable_bytes"
    assert quarantine.to_pylist()[0]["file"] == "sub/b.txt"


def test_json_file_that_is_not_an_array(tmp_path: Path) -> None:
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "x.json").write_text('{"data": []}')
    m = manifest(tmp_path, "obj", location="../c/x.json", format="json", kind="document")
    _, quarantine, stats = read_source(m)
    assert quarantine.to_pylist()[0]["detail"] == "expected a JSON array of records, got dict"
    assert stats.balanced and stats.read == 1


def test_missing_location_is_quarantined_not_crashed(tmp_path: Path) -> None:
    m = manifest(tmp_path, "gone", location="../nowhere/*.jsonl", format="jsonl", kind="document")
    records, quarantine, stats = read_source(m)
    assert records.num_rows == 0 and quarantine.to_pylist()[0]["reason"] == "unreadable_file"
    assert "no file matches" in quarantine.to_pylist()[0]["detail"]


def test_truncated_gzip_keeps_what_was_read(tmp_path: Path) -> None:
    (tmp_path / "c").mkdir()
    payload = gzip.compress(b"".join(b'{"text": "line %d"}\n' % i for i in range(5000)))
    (tmp_path / "c" / "t.jsonl.gz").write_bytes(payload[: len(payload) // 2])
    m = manifest(tmp_path, "trunc", location="../c/t.jsonl.gz", format="jsonl.gz", kind="document")
    records, quarantine, stats = read_source(m)
    assert records.num_rows > 0 and quarantine.to_pylist()[-1]["reason"] == "unreadable_file"
    assert stats.balanced


# ---- ids, invariants, atomic writes -------------------------------------------------------


def test_doc_ids_are_stable_across_runs_and_machines(tmp_path: Path) -> None:
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "d.jsonl").write_text('{"text": "one"}\n{"id": 7, "text": "two"}\n')
    m1 = manifest(tmp_path, "s", location="../c/d.jsonl", format="jsonl", kind="document")
    first = read_source(m1)[0]["doc_id"].to_pylist()
    second = read_source(m1)[0]["doc_id"].to_pylist()
    assert first == second == [make_doc_id("s", position_key("d.jsonl", 1)), make_doc_id("s", position_key("d.jsonl", 2))]
    assert first[0] == "s:" + __import__("hashlib").blake2b(b"s\x1fpos:d.jsonl#1", digest_size=8).hexdigest()
    m2 = manifest(tmp_path, "s", location="../c/d.jsonl", format="jsonl", kind="document", fields={"id": "id"})
    records, quarantine, _ = read_source(m2)
    assert records["doc_id"].to_pylist() == [make_doc_id("s", own_key("7"))]  # line 1 has no id
    assert quarantine.to_pylist()[0]["reason"] == "missing_field" and quarantine.to_pylist()[0]["field"] == "id"


def test_ingest_writes_atomically_and_reruns_idempotently(tmp_path: Path) -> None:
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "d.jsonl").write_text("".join(f'{{"text": "doc {i}"}}\n' for i in range(50)) + "{oops\n")
    m = manifest(tmp_path, "s", location="../c/d.jsonl", format="jsonl", kind="document")
    out, qout = tmp_path / "data" / "raw.parquet", tmp_path / "data" / "q.parquet"
    stats = ingest_source(m, out, qout, IngestConfig(batch_size=7))
    first = out.read_bytes()
    assert stats.ingested == 50 and pq.read_table(qout).num_rows == 1
    ingest_source(m, out, qout, IngestConfig(batch_size=7))
    assert out.read_bytes() == first
    assert validate_file(qout, QuarantineRow).passed
    assert sorted(p.name for p in out.parent.iterdir()) == ["q.parquet", "raw.parquet"]  # no temp files left
