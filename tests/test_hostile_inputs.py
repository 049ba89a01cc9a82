"""Hostile and careless input: every case ends with exit 2 and one line, or a quarantine row.

Each case is a reproduction from issue 17 (or one added while fixing it); the good input
beside the bad one is still read.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from curaline.cli import main
from curaline.ingest import read_source
from curaline.project import Project
from curaline.sources import ManifestError, load_manifests, parse_manifest

BASE = {"format": "jsonl", "kind": "document", "fields": {"id": "id"}, "license": "CC-BY-4.0",
        "obtained": "public-dataset"}  # fmt: skip
BILLION_LAUGHS = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{n}: &{n} [" + ",".join([f"*{p}"] * 9) + "]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True)
)


def _project(root: Path) -> Path:
    (root / "sources").mkdir(parents=True)
    (root / "corpus").mkdir()
    (root / "corpus" / "good.jsonl").write_text("".join(f'{{"id": "g{i}", "text": "Good record {i}."}}\n' for i in range(5)))
    _manifest(root, "good", location="../corpus/good.jsonl")
    return root


def _manifest(root: Path, sid: str, file: str | None = None, **spec: object) -> Path:
    path = root / "sources" / (file or f"{sid}.yaml")
    path.write_text(yaml.safe_dump({"id": sid, **BASE, **spec}))
    return path


def _cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def _check(root: Path) -> dict[str, object]:
    res = _cli("sources", "check", "--project", str(root), "--json")
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    return json.loads(res.stdout)


# ---- where a manifest may read from -----------------------------------------------------


def test_a_location_outside_the_project_is_refused_naming_file_and_field(tmp_path: Path) -> None:
    root = _project(tmp_path / "proj")
    _manifest(root, "shadow", location="/etc/passwd", format="text", fields={})
    _manifest(root, "climb", location="../../outside/*.jsonl")
    report = _check(root)
    assert report["valid"] == ["good"]
    problems = {(Path(p["file"]).name, p["field"]) for p in report["problems"]}  # type: ignore[index, union-attr]
    assert problems == {("shadow.yaml", "location"), ("climb.yaml", "location")}
    assert all("outside the allowed ingest roots" in p["message"] for p in report["problems"])  # type: ignore[index, union-attr]


def test_allowed_roots_in_curaline_yaml_admit_a_folder(tmp_path: Path) -> None:
    outside = tmp_path / "shared"
    outside.mkdir()
    (outside / "x.jsonl").write_text('{"id": "1", "text": "shared text"}\n')
    root = _project(tmp_path / "proj")
    _manifest(root, "shared", location=str(outside / "x.jsonl"))
    with pytest.raises(ManifestError, match="location"):
        load_manifests(root / "sources")
    (root / "curaline.yaml").write_text(yaml.safe_dump({"ingest": {"allowed_roots": ["../shared"]}}))
    manifests, problems = load_manifests(root / "sources")
    assert not problems and sorted(m.id for m in manifests) == ["good", "shared"]


def test_a_symlink_inside_the_project_pointing_out_is_quarantined_not_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.jsonl"
    secret.write_text('{"id": "s", "text": "password=hunter2"}\n')
    root = _project(tmp_path / "proj")
    (root / "corpus" / "many").mkdir()
    (root / "corpus" / "many" / "a.jsonl").write_text('{"id": "a", "text": "fine"}\n')
    (root / "corpus" / "many" / "b.jsonl").symlink_to(secret)
    records, quarantine, stats = read_source(parse_manifest(_manifest(root, "many", location="../corpus/many/*.jsonl")))
    assert records["source_record_id"].to_pylist() == ["a"]
    [row] = quarantine.to_pylist()
    assert row["reason"] == "unreadable_file" and row["file"] == "b.jsonl" and "outside the allowed ingest roots" in row["detail"]
    assert stats.balanced


@pytest.mark.parametrize(("file", "sid"), [("..yaml", "."), ("...yaml", ".."), (".hidden.yaml", ".hidden")])
def test_dot_source_ids_are_refused(tmp_path: Path, file: str, sid: str) -> None:
    root = _project(tmp_path / "proj")
    _manifest(root, sid, file=file, location="../corpus/good.jsonl")
    report = _check(root)
    [problem] = report["problems"]  # type: ignore[misc]
    assert problem["field"] == "id" and "must start with" in problem["message"]


# ---- bounded YAML -------------------------------------------------------------------------


def test_a_billion_laughs_manifest_is_refused_fast_in_one_line(tmp_path: Path) -> None:
    root = _project(tmp_path / "proj")
    (root / "sources" / "bomb.yaml").write_text(BILLION_LAUGHS)
    start = time.perf_counter()
    report = _check(root)
    assert time.perf_counter() - start < 5
    [problem] = report["problems"]  # type: ignore[misc]
    assert Path(problem["file"]).name == "bomb.yaml" and "aliases are expanded" in problem["message"]
    assert report["valid"] == ["good"]


def test_an_oversized_or_recursive_manifest_is_refused(tmp_path: Path) -> None:
    root = _project(tmp_path / "proj")
    (root / "sources" / "huge.yaml").write_text("description: " + "x" * (2 << 20) + "\n")
    (root / "sources" / "loop.yaml").write_text("id: loop\nfields: &f {a: *f}\n")
    (root / "sources" / "deep.yaml").write_text("id: deep\nfields: " + "[" * 20_000 + "]" * 20_000 + "\n")
    messages = {Path(p["file"]).name: p["message"] for p in _check(root)["problems"]}  # type: ignore[union-attr, index]
    assert "larger than" in messages["huge.yaml"]
    assert "recursive" in messages["loop.yaml"]
    assert "nest" in messages["deep.yaml"]


@pytest.mark.parametrize("config", ["name: [unclosed\n", BILLION_LAUGHS, "ingest:\n  allowed_roots: 3\n",
                                    "ingest: {batch_size: 10, nope: 1}\n", "- a list\n"])  # fmt: skip
@pytest.mark.parametrize("command", [["sources", "check"], ["sources", "list"], ["lineage", "sources"],
                                     ["release", "list"]])  # fmt: skip
def test_a_broken_curaline_yaml_is_one_line_and_exit_2_in_every_command(tmp_path: Path, config: str,
                                                                         command: list[str]) -> None:  # fmt: skip
    root = _project(tmp_path / "proj")
    (root / "curaline.yaml").write_text(config)
    res = _cli(*command, "--project", str(root))
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output and res.exception is None or isinstance(res.exception, SystemExit)
    [line] = res.stderr.splitlines()
    assert line.startswith("curaline: error: ") and "curaline.yaml" in line


def test_the_project_config_error_is_a_value_error_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "curaline.yaml").write_text(BILLION_LAUGHS)
    with pytest.raises(ValueError, match=r"curaline\.yaml: -: too large"):
        Project.at(tmp_path)


# ---- bad files never stop the good ones -------------------------------------------------


def test_a_location_matching_no_file_is_a_problem_and_an_empty_file_a_warning(tmp_path: Path) -> None:
    root = _project(tmp_path / "proj")
    _manifest(root, "typo", location="../corpus/goood.jsonl")
    _manifest(root, "nomatch", location="../corpus/none/*.jsonl")
    (root / "corpus" / "empty.jsonl").write_text("")
    _manifest(root, "empty", location="../corpus/empty.jsonl")
    report = _check(root)
    assert sorted(report["valid"]) == ["empty", "good"]  # type: ignore[arg-type]
    assert {(Path(p["file"]).stem, p["field"]) for p in report["problems"]} == {("typo", "location"), ("nomatch", "location")}  # type: ignore[index, union-attr]
    assert all("matches no file" in p["message"] for p in report["problems"])  # type: ignore[index, union-attr]
    [warning] = report["warnings"]  # type: ignore[misc]
    assert Path(warning["file"]).stem == "empty" and "is empty" in warning["message"]


def test_dangling_symlinks_are_quarantined_as_a_location_and_inside_a_glob(tmp_path: Path) -> None:
    root = _project(tmp_path / "proj")
    (root / "corpus" / "many").mkdir()
    (root / "corpus" / "many" / "a.jsonl").write_text('{"id": "a", "text": "fine"}\n')
    (root / "corpus" / "many" / "b.jsonl").symlink_to(root / "corpus" / "gone.jsonl")
    (root / "corpus" / "alone.jsonl").symlink_to(root / "corpus" / "nowhere.jsonl")
    for sid, location, kept in (("many", "../corpus/many/*.jsonl", ["a"]), ("alone", "../corpus/alone.jsonl", []),
                                ("folder", "../corpus/many", ["a"])):  # fmt: skip
        records, quarantine, stats = read_source(parse_manifest(_manifest(root, sid, location=location)))
        assert records["source_record_id"].to_pylist() == kept
        [row] = quarantine.to_pylist()
        assert row["reason"] == "unreadable_file" and "dangling symlink" in row["detail"], row
        assert stats.balanced
    report = CliRunner().invoke(main, ["sources", "check", "--project", str(root), "--json"])
    assert report.exit_code == 0, report.output
    warnings = {Path(w["file"]).stem for w in json.loads(report.stdout)["warnings"]}
    assert warnings == {"many", "alone", "folder"}


def test_csv_rows_whose_cell_count_is_not_the_headers_are_quarantined_with_the_row(tmp_path: Path) -> None:
    root = _project(tmp_path / "proj")
    (root / "corpus" / "rows.csv").write_text(
        "id,text,url\n"
        '1,"fine text",https://a.example\n'
        "2,text with, an unquoted comma,https://b.example\n"
        "3,short\n"
        '4,"also fine",https://d.example\n'
    )
    m = parse_manifest(_manifest(root, "rows", location="../corpus/rows.csv", format="csv",
                                 fields={"id": "id", "text": "text", "url": "url"}))  # fmt: skip
    records, quarantine, stats = read_source(m)
    assert records["source_record_id"].to_pylist() == ["1", "4"]
    assert records["url"].to_pylist() == ["https://a.example", "https://d.example"]
    rows = quarantine.to_pylist()
    assert [(r["line"], r["reason"]) for r in rows] == [(3, "malformed_csv"), (4, "malformed_csv")]
    assert "4 cells where the header has 3" in rows[0]["detail"] and b"unquoted comma" in rows[0]["raw"]
    assert stats.balanced


def test_an_oversize_line_is_quarantined_without_being_read_whole(tmp_path: Path) -> None:
    from curaline.project import IngestConfig

    root = _project(tmp_path / "proj")
    big = b'{"id": "big", "text": "' + b"x" * 300_000 + b'"}\n'
    (root / "corpus" / "lines.jsonl").write_bytes(b'{"id": "1", "text": "one"}\n' + big + b'{"id": "3", "text": "three"}\n')
    (root / "corpus" / "book.txt").write_bytes(b"y" * 300_000)
    config = IngestConfig(max_line_bytes=100_000)
    records, quarantine, stats = read_source(parse_manifest(_manifest(root, "lines", location="../corpus/lines.jsonl")), config)
    assert records["source_record_id"].to_pylist() == ["1", "3"]
    [row] = quarantine.to_pylist()
    assert (row["line"], row["reason"], row["byte_offset"]) == (2, "oversize_record", 27)
    assert f"a line of {len(big)} bytes" in row["detail"] and len(row["raw"]) <= 64 * 1024
    text = parse_manifest(_manifest(root, "book", location="../corpus/book.txt", format="text", fields={}))
    records, quarantine, _ = read_source(text, config)
    assert records.num_rows == 0 and quarantine["reason"].to_pylist() == ["oversize_record"]


# ---- takedowns that match nothing ----------------------------------------------------------


@pytest.mark.parametrize("selector", [{"url_pattern": r"never\.example/"},
                                      {"doc_ids": ["ghost:0123456789abcdef"]}])  # fmt: skip
def test_a_takedown_matching_nothing_becomes_no_match_after_the_next_ingest(tmp_path: Path,
                                                                            selector: dict[str, object]) -> None:  # fmt: skip
    import datetime as dt

    import pyarrow as pa
    import pyarrow.parquet as pq

    from curaline.kernels.base import EVENT_SCHEMA
    from curaline.ledger import write_ledger
    from curaline.takedown import new_request, pending_requests, record_request, request_status

    project = Project.at(_project(tmp_path / "proj"))
    raw = project.stage_path("raw_records", "good") / "shard-00000.parquet"  # the folder of the source's shards
    raw.parent.mkdir(parents=True)
    pq.write_table(pa.table({"doc_id": ["good:0000000000000001"], "source_id": ["good"],
                             "url": pa.array(["https://ok.example/1"], pa.string())}), raw)  # fmt: skip
    req = new_request(project, reason="r", requested_by="a", now=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5),
                      **selector)  # type: ignore[arg-type]
    record_request(project, req)
    assert request_status(project, req) == "pending"  # no ingest since: it may still match
    write_ledger(project, EVENT_SCHEMA.empty_table(), stage="raw_records", partition="good", run_id="run-1")
    assert request_status(project, req) == "no-match"
    assert pending_requests(project) == []  # the sensor stops re-running for it


# ---- a whole run with bad input beside good (Dagster in-process, real DVC) -------------------


def test_a_run_with_bad_manifests_and_files_completes_the_good_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One invalid manifest, a dangling symlink as a location and inside a glob, a CSV with shifted
    cells: every valid source runs (DVC tracking included), the bad input is quarantined, the
    command fails at the end naming the invalid manifest."""
    import pyarrow.parquet as pq

    from curaline.cli import run_pipeline

    root = _project(tmp_path / "proj")
    (root / "corpus" / "many").mkdir()
    (root / "corpus" / "many" / "a.jsonl").write_text('{"id": "a", "text": "A fine record about gardens."}\n')
    (root / "corpus" / "many" / "b.jsonl").symlink_to(root / "corpus" / "gone.jsonl")
    (root / "corpus" / "alone.jsonl").symlink_to(root / "corpus" / "nowhere.jsonl")
    (root / "corpus" / "rows.csv").write_text('id,text\n1,"fine text about rivers"\n2,text, with a comma\n')
    _manifest(root, "many", location="../corpus/many/*.jsonl")
    _manifest(root, "alone", location="../corpus/alone.jsonl")
    _manifest(root, "rows", location="../corpus/rows.csv", format="csv", fields={"id": "id", "text": "text"})
    (root / "sources" / "broken.yaml").write_text("id: broken\nlicense: [unclosed\n")
    monkeypatch.setenv("DAGSTER_HOME", str(root / ".dagster"))
    lines: list[str] = []
    assert run_pipeline(Project.at(root), echo=lines.append) is False
    out = "\n".join(lines)
    assert "broken.yaml: line 3: not valid YAML" in out and "FAILED" not in out
    for sid in ("good", "many", "alone", "rows"):
        assert f"{sid:<24} ok" in out
    project = Project.at(root)
    quarantined = {sid: pq.read_table(project.stage_path("quarantined_records", sid), columns=["reason"])["reason"].to_pylist()
                   for sid in ("good", "many", "alone", "rows")}  # fmt: skip
    assert quarantined == {"good": [], "many": ["unreadable_file"], "alone": ["unreadable_file"], "rows": ["malformed_csv"]}
    assert pq.read_table(project.stage_path("raw_records", "good")).num_rows == 5
    assert "source_records@many" in (root / "dvc.lock").read_text()  # tracked, with the dangling link recorded as missing
