"""The release builder on crafted stage outputs: spec errors, licence gate, mix, splits, versions."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from click.testing import CliRunner

from curaline.cli import main
from curaline.kernels.base import make_events
from curaline.ledger import write_ledger
from curaline.project import Project
from curaline.records import make_doc_id, own_key
from curaline.release.build import MAX_REPEAT, build_release, release_dir
from curaline.release.checks import split_leaks
from curaline.release.spec import load_spec, load_specs
from curaline.release.versions import checkout, publish, versions
from curaline.sources import ManifestError, load_manifests

WORDS = "river stone garden bridge market lantern harbour meadow orchard valley".split()


def _text(i: int, n: int) -> str:
    return " ".join(f"{WORDS[(i + k) % len(WORDS)]}{i}" for k in range(n)) + "."


def _source(root: Path, sid: str, *, kind: str = "document", license: str = "CC-BY-4.0", domain: str = "web",
            n: int = 20, words: int = 10, extra: dict | None = None, texts: list[str] | None = None) -> list[str]:
    """A manifest plus a crafted `decontaminated` output (what the pipeline would have written)."""
    manifest = {"id": sid, "location": f"../corpus/{sid}.jsonl", "format": "jsonl", "kind": kind,
                "license": license, "obtained": "public-dataset", "domain": domain, **(extra or {})}
    if kind == "instruction":
        manifest["fields"] = {"id": "id", "prompt": "q", "response": "a"}
    else:
        manifest["fields"] = {"id": "id"}
    (root / "sources").mkdir(parents=True, exist_ok=True)
    (root / "corpus").mkdir(exist_ok=True)
    (root / "corpus" / f"{sid}.jsonl").write_text("")
    (root / "sources" / f"{sid}.yaml").write_text(yaml.safe_dump(manifest))
    ids = [make_doc_id(sid, own_key(f"r{i}")) for i in range(n)]
    cols: dict[str, list] = {
        "doc_id": ids, "source_id": [sid] * n, "license": [license] * n, "content_hash": ["0" * 32] * n,
        "language": ["en"] * n, "lang_score": [0.95] * n, "toxicity": [0.0] * n, "pii_total": [0] * n,
    }  # fmt: skip
    if kind == "document":
        cols["text"] = texts or [_text(i, words) for i in range(n)]
        cols["q_word_count"] = [float(words)] * n
    else:
        cols["prompt"] = [f"Question {i % max(1, n // 2)} about {sid}?" for i in range(n)]
        cols["context"] = [None] * n
        cols["response"] = [_text(i, words) for i in range(n)]
    path = root / "data" / "decontaminated" / f"{sid}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(cols), path)
    return ids


def _spec(root: Path, name: str, **over) -> Path:
    spec = {"name": name, "description": "test", "use": "research", "sources": "all", "languages": ["en"],
            "quality": "default", "dedup": True, "decontaminate": True,
            "splits": {"train": 0.8, "validation": 0.1, "test": 0.1, "seed": 1}, **over}  # fmt: skip
    if "mix" not in over:
        spec["mix"] = {"by": "domain", "weights": {"web": 1.0}}
    (root / "releases").mkdir(exist_ok=True)
    path = root / "releases" / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def _manifests(root: Path):
    manifests, problems = load_manifests(root / "sources", strict=False)
    assert not problems, problems
    return manifests


def test_spec_problems_are_all_reported_with_file_and_field(tmp_path: Path) -> None:
    _source(tmp_path, "web")
    _source(tmp_path, "exam", kind="document")
    (tmp_path / "sources" / "exam.yaml").write_text(yaml.safe_dump({
        "id": "exam", "location": "../corpus/exam.jsonl", "format": "jsonl", "kind": "evaluation",
        "license": "MIT", "obtained": "public-dataset"}))  # fmt: skip
    path = _spec(tmp_path, "bad", use="production", sources=["web", "exam", "nope"], colour="blue",
                 quality="gold", splits={"train": 0.9, "validation": 0.2, "test": 0.1, "seed": "x"},
                 mix={"by": "topic", "weights": {"web": -1}})  # fmt: skip
    with pytest.raises(ManifestError) as err:
        load_spec(path, _manifests(tmp_path))
    text = str(err.value)
    for expected in [
        "bad.yaml: colour: unknown key",
        "bad.yaml: use: 'production' is not allowed; allowed: commercial, internal, research",
        "bad.yaml: sources: 'exam' is of kind 'evaluation'",
        "bad.yaml: sources: unknown source 'nope'",
        "bad.yaml: quality: unknown profile 'gold'",
        "bad.yaml: mix.by: 'topic' is not allowed",
        "bad.yaml: mix.weights.web: must be a non-negative number, got -1",
        "bad.yaml: splits.seed: must be an integer",
    ]:
        assert expected in text, text
    path = _spec(tmp_path, "sum", splits={"train": 0.9, "validation": 0.2, "test": 0.1, "seed": 1})
    with pytest.raises(ManifestError, match="sum.yaml: splits: fractions must sum to 1, got 1.2"):
        load_spec(path)
    (tmp_path / "releases" / "other.yaml").write_text("name: wrong\n")
    with pytest.raises(ManifestError, match="other.yaml: name: 'wrong' must equal the file name 'other'"):
        load_specs(tmp_path / "releases")


def test_the_licence_gate_blocks_with_sources_licences_and_reasons(tmp_path: Path) -> None:
    _source(tmp_path, "web", license="ODC-By-1.0")
    _source(tmp_path, "forum", license="CC-BY-NC-4.0")
    _source(tmp_path, "partner", license="LicenseRef-Partner", extra={"license_url": "https://example.com/p.pdf"})
    _source(tmp_path, "synth", kind="instruction", license="Apache-2.0", extra={
        "obtained": "synthetic", "synthetic": {"generator": "gpt-4o-2024-08-06", "terms_url": "https://openai.com/policies/terms-of-use"}})  # fmt: skip
    project = Project.at(tmp_path)
    spec = load_spec(_spec(tmp_path, "shop", use="commercial"), _manifests(tmp_path))
    build = build_release(project, spec, _manifests(tmp_path))
    assert build.blocked and build.folder is None
    got = {(v["source"], v["class"]) for v in build.gate["violations"]}
    assert got == {("forum", "non-commercial"), ("partner", "unknown"), ("synth", "generator-terms")}
    assert "source forum: CC-BY-NC-4.0 -> non-commercial (20 records)" in build.gate_report
    assert "map a LicenseRef-* id to its class in curaline.yaml license_classes" in build.gate_report
    assert "gpt-4o-2024-08-06, whose terms forbid using outputs to build competing models" in build.gate_report
    assert not release_dir(project, "shop").exists()
    # research may use non-commercial and generator-restricted data once the partner licence is classed
    (tmp_path / "curaline.yaml").write_text("license_classes:\n  LicenseRef-Partner: academic-only\n")
    project = Project.at(tmp_path)
    spec = load_spec(_spec(tmp_path, "lab", mix={"by": "source", "weights": {"web": 1, "forum": 1, "partner": 1, "synth": 1}}))
    build = build_release(project, spec, _manifests(tmp_path))
    assert not build.blocked
    mix = build.manifest["license_mix"]
    assert mix["unknown"] == 0 and mix["academic-only"] > 0 and mix["non-commercial"] > 0 and mix["commercial"] > 0
    assert sum(mix.values()) == build.manifest["records"]


def test_mix_follows_the_documented_rule_and_copies_stay_in_train(tmp_path: Path) -> None:
    big = _source(tmp_path, "big", domain="web", n=100, words=20)
    small = _source(tmp_path, "small", domain="forum", n=10, words=20)
    project = Project.at(tmp_path)
    spec = load_spec(_spec(tmp_path, "mix", mix={"by": "domain", "weights": {"web": 0.5, "forum": 0.5}}))
    build = build_release(project, spec, _manifests(tmp_path))
    groups = build.manifest["mix"]["groups"]
    a_web, a_forum = groups["web"]["available_tokens"], groups["forum"]["available_tokens"]
    size = min(a_web + a_forum, MAX_REPEAT * a_forum / 0.5, MAX_REPEAT * a_web / 0.5)
    assert groups["forum"]["rate"] == pytest.approx(0.5 * size / a_forum) == pytest.approx(MAX_REPEAT)
    assert groups["web"]["rate"] == pytest.approx(0.5 * size / a_web)
    records = build.records.to_pylist()
    copies = {r["doc_id"]: (r["split"], r["copies"]) for r in records}
    assert all(copies[d][1] == (MAX_REPEAT if copies[d][0] == "train" else 1) for d in small)
    kept_web = [d for d in big if d in copies]
    assert 0 < len(kept_web) < len(big)
    dropped = {e["doc_id"]: e["reason"] for e in build.events.to_pylist()}
    assert {dropped[d] for d in big if d not in copies} == {"mix_downsampled"}
    # train token shares hit the targets within one record's tokens
    assert groups["forum"]["actual_weight"] == pytest.approx(0.5, abs=0.05)
    # the shards hold the copies, with a repeat index
    t = pq.read_table(build.folder / "document" / "train-00000.parquet", columns=["doc_id", "repeat"])
    reps = [r for d, r in zip(t["doc_id"].to_pylist(), t["repeat"].to_pylist(), strict=True) if d == small[0]]
    assert sorted(reps) == (list(range(MAX_REPEAT)) if copies[small[0]][0] == "train" else [])


def test_quality_and_language_filters_drop_with_ledger_reasons(tmp_path: Path) -> None:
    ids = _source(tmp_path, "web", n=10, words=30)
    path = tmp_path / "data" / "decontaminated" / "web.parquet"
    t = pq.read_table(path)
    t = t.set_column(t.schema.get_field_index("language"), "language", pa.array(["en"] * 9 + ["de"]))
    t = t.set_column(t.schema.get_field_index("toxicity"), "toxicity", pa.array([0.0] * 8 + [0.7, 0.0]))
    pq.write_table(t, path)
    spec = load_spec(_spec(tmp_path, "strict", quality="strict"))
    build = build_release(Project.at(tmp_path), spec, _manifests(tmp_path))
    events = {e["doc_id"]: e for e in build.events.to_pylist()}
    assert events[ids[9]]["reason"] == "release_language" and events[ids[9]]["detail"] == "language=de"
    assert events[ids[8]]["reason"] == "release_quality" and events[ids[8]]["detail"] == "toxicity max"
    assert events[ids[8]]["value"] == pytest.approx(0.7) and events[ids[8]]["threshold"] == pytest.approx(0.5)
    # strict asks for 100 words: 30-word documents all go
    assert {e["reason"] for e in events.values()} == {"release_language", "release_quality"}
    spec = load_spec(_spec(tmp_path, "typo", quality={"q_words": {"min": 3}}))
    with pytest.raises(ValueError, match="typo.yaml: quality.q_words: no such signal"):
        build_release(Project.at(tmp_path), spec, _manifests(tmp_path))


@pytest.mark.parametrize(("ledger_format", "folder"), [("related_doc_id", "p"), ("legacy detail", "p"),
                                                      ("related_doc_id", "o'brien's data")])  # a quote in every path
def test_duplicate_clusters_and_prompts_never_straddle_splits(tmp_path: Path, ledger_format: str, folder: str) -> None:
    tmp_path = tmp_path / folder
    texts = [_text(i % 30, 12) for i in range(120)]  # every text 4 times
    ids = _source(tmp_path, "web", n=120, texts=texts)
    _source(tmp_path, "qa", kind="instruction", domain="web", n=60)
    project = Project.at(tmp_path)
    # the dedup stage's ledger: copies 30.. merge into the first record with the same text
    kept = [ids[i % 30] for i in range(30, 120)]
    if ledger_format == "related_doc_id":
        events = make_events(pa.array(ids[30:]), "merge-into", "exact_duplicate", value=[1.0] * 90, threshold=1.0,
                             related_doc_id=kept)  # fmt: skip
        write_ledger(project, events, stage="deduplicated", partition=None, run_id="r1")
    else:  # a file written before the ledger had related_doc_id: the kept doc only in `detail`
        events = make_events(pa.array(ids[30:]), "merge-into", "exact_duplicate", value=[1.0] * 90, threshold=1.0,
                             detail=[f"into={k}" for k in kept])  # fmt: skip
        path = write_ledger(project, events, stage="deduplicated", partition=None, run_id="r1")
        old = pq.read_table(path)
        pq.write_table(old.drop_columns(["related_doc_id"]), path)
    for sid in ("web", "qa"):  # toxicity_screened is a folder of shards per source
        (tmp_path / "data" / "toxicity_screened" / sid).mkdir(parents=True)
        (tmp_path / "data" / "decontaminated" / f"{sid}.parquet").rename(
            tmp_path / "data" / "toxicity_screened" / sid / "shard-00000.parquet")
    spec = load_spec(_spec(tmp_path, "dups", dedup=False, decontaminate=False,
                           splits={"train": 0.4, "validation": 0.3, "test": 0.3, "seed": 3}))  # fmt: skip
    build = build_release(project, spec, _manifests(tmp_path))
    split = {r["doc_id"]: r["split"] for r in build.records.to_pylist()}
    assert len(split) == 180
    for i in range(30, 120):
        assert split[ids[i]] == split[ids[i % 30]]
    assert len(set(split.values())) == 3
    assert split_leaks(build.folder) == []
    # a shard edited by hand to move one copy is caught from the shards alone
    path = build.folder / "document" / "train-00000.parquet"
    t = pq.read_table(path)
    moved = t.slice(0, 1).set_column(t.schema.get_field_index("split"), "split", pa.array(["test"]))
    test_path = build.folder / "document" / "test-00000.parquet"
    pq.write_table(pa.concat_tables([pq.read_table(test_path), moved]), test_path)
    assert any(leak.startswith("doc_id ") for leak in split_leaks(build.folder))


def test_versions_are_idempotent_and_old_bytes_restorable(tmp_path: Path) -> None:
    _source(tmp_path, "web", n=30)
    project = Project.at(tmp_path)
    spec = load_spec(_spec(tmp_path, "r"))
    first = publish(project, build_release(project, spec, _manifests(tmp_path)), versioning=False)
    again = publish(project, build_release(project, spec, _manifests(tmp_path)), versioning=False)
    assert first.new and not again.new and again.manifest["version"] == 1
    v1_files = {f["path"]: f["md5"] for f in first.manifest["files"]}
    _source(tmp_path, "web", n=40)  # the source grew
    second = publish(project, build_release(project, spec, _manifests(tmp_path)), versioning=False)
    assert second.new and second.manifest["version"] == 2 and second.manifest["records"] == 40
    listed = versions(project, "r")
    assert [(m["version"], m["superseded"]) for m in listed] == [(1, True), (2, False)]
    assert pq.read_table(project.lineage_dir / "releases" / "release=r" / "v1.parquet").num_rows == 30
    # v1's shards are no longer in the working folder, but every file was kept in v1's history:
    # restoring from the current folder must refuse files whose md5 differs
    dest = tmp_path / "out"
    with pytest.raises(Exception, match="cannot restore r@v1"):
        checkout(project, "r@v1", dest)
    manifest = checkout(project, "r@v2", tmp_path / "v2")
    assert json.loads((tmp_path / "v2" / "manifest.json").read_text())["version"] == 2
    assert manifest["version"] == 2
    assert set(v1_files) <= {f["path"] for f in listed[0]["files"]}


def test_release_cli_errors_are_one_line(tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(main, ["release", "list", "--project", str(tmp_path)])
    assert res.exit_code == 2 and "no releases yet" in res.output
    res = runner.invoke(main, ["release", "show", "nope", "--project", str(tmp_path)])
    assert res.exit_code == 2 and "unknown release 'nope'" in res.output
    res = runner.invoke(main, ["release", "show", "Bad Name", "--project", str(tmp_path)])
    assert res.exit_code == 2 and "is not a release reference" in res.output


def test_a_reproduction_without_a_lock_publishes_nothing_and_says_so(tmp_path: Path, monkeypatch) -> None:
    """Under `dvc repro` (DVC_STAGE) with no dvc.lock entry to compare with, the folder is rebuilt
    and marked unpublished: no version in the history, and no release a clone would list."""
    import shutil

    _source(tmp_path, "web", n=30)
    project = Project.at(tmp_path)
    spec = load_spec(_spec(tmp_path, "r"))
    published = publish(project, build_release(project, spec, _manifests(tmp_path)), versioning=False)
    shutil.rmtree(project.lineage_dir / "releases")  # a clone: the history stayed behind
    assert [m["version"] for m in versions(project, "r")] == [1]  # read from the release folder
    monkeypatch.setenv("DVC_STAGE", "release@r")
    again = publish(project, build_release(project, spec, _manifests(tmp_path)), versioning=False)
    assert not again.new and again.manifest["version"] is None
    assert again.manifest["status"] == "reproduced, not published"
    folder = json.loads((release_dir(project, "r") / "manifest.json").read_text())
    assert folder["content_md5"] == published.manifest["content_md5"]  # the same shards
    assert versions(project, "r") == [] and not (project.lineage_dir / "releases").exists()


def test_a_release_larger_than_the_duckdb_budget_builds_within_it_in_the_seeded_order(tmp_path: Path) -> None:
    """12,000 documents of 16 KB (190 MB of text) under a 256 MiB DuckDB budget (2 threads).
    Sorting these texts in DuckDB, as the builder did, runs out of memory there on 2 threads
    (DuckDB 2, checked by hand; on 1 thread it spilled); ordering the keys, then each
    10,000-record part in Arrow, does not. The order is the seeded one, row groups whole."""
    import duckdb

    from curaline.release.build import ORDER_PART_ROWS, _u

    block = " ".join(WORDS) * 230  # about 16 KB
    texts = [f"document {i} {block} {i}" for i in range(12_000)]
    ids = _source(tmp_path, "big", n=len(texts), texts=texts)
    stage_file = tmp_path / "data" / "decontaminated" / "big.parquet"
    pq.write_table(pq.read_table(stage_file), stage_file, row_group_size=1_000)  # as the stages write: small groups
    (tmp_path / "curaline.yaml").write_text("engine:\n  duckdb_memory: 256MiB\n")
    project = Project.at(tmp_path)
    spec = load_spec(_spec(tmp_path, "big",
                           splits={"train": 0.98, "validation": 0.01, "test": 0.01, "seed": 7}))  # fmt: skip
    build = build_release(project, spec, _manifests(tmp_path))
    train = pq.ParquetFile(build.folder / "document" / "train-00000.parquet")
    got = train.read(columns=["doc_id", "text"])
    assert ORDER_PART_ROWS < got.num_rows  # two parts at least
    in_train = set(got["doc_id"].to_pylist())
    key = _u(7, "order", "m.doc_id || '#' || 0")  # the builder's order: seeded md5 of (doc id, copy)
    expected = [d for (d,) in duckdb.sql(
        "SELECT doc_id FROM (SELECT unnest($ids) AS doc_id) m WHERE doc_id IN (SELECT unnest($train)) "
        f"ORDER BY {key}, doc_id",
        params={"ids": ids, "train": sorted(in_train)}).fetchall()]  # fmt: skip
    assert got["doc_id"].to_pylist() == expected
    by_id = dict(zip(ids, texts, strict=True))
    assert all(by_id[d] == t for d, t in zip(got["doc_id"].to_pylist(), got["text"].to_pylist(), strict=True))
    sizes = [train.metadata.row_group(i).num_rows for i in range(train.metadata.num_row_groups)]
    assert all(s == 10_000 for s in sizes[:-1]) and sum(sizes) == got.num_rows
    # the part files are gone: only this process's spill folder and its lock are left
    assert [p.name for p in (project.root / ".curaline" / "tmp").rglob("*") if p.is_file()] == [".lock"]
