"""The demo project generator: determinism, manifest shape, and an honest ground truth.

The ground truth is checked against the files alone, read here with code independent of
the generator's, so a test failure means the truth file says something the data doesn't.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import ftfy
import pyarrow.parquet as pq
import pytest
import yaml

from curaline.demo import DemoSummary, generate_demo_project
from curaline.records import make_doc_id, own_key, position_key

#: minutes, not seconds: the fast set (`pytest -m "not slow"`) leaves them out, CI runs them
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]

MANIFEST_KEYS = {
    "id", "description", "location", "format", "kind", "fields", "license", "license_url",
    "obtained", "synthetic", "crawl", "legal_basis", "personal_data", "domain", "languages",
    "owner", "collected", "priority", "profile",
}
REQUIRED_KEYS = {"id", "location", "format", "kind", "license", "obtained"}
FIELDS_BY_KIND = {
    "document": {"id", "text", "url"},
    "evaluation": {"id", "text", "answer"},
    "instruction": {"id", "prompt", "response", "context"},
    "preference": {"id", "prompt", "chosen", "rejected", "margin", "group"},
}
TEXT_ORDER = ("text", "prompt", "context", "response", "chosen", "rejected")
RELEASE_KEYS = {"name", "description", "use", "sources", "languages", "quality", "dedup",
                "decontaminate", "mix", "splits"}
CASE_KINDS = {
    "exact_dup", "near_dup", "pii", "toxic", "sensitive_legit", "low_quality", "mojibake",
    "contaminated", "language", "malformed_json", "undecodable_bytes", "missing_field",
    "empty_text", "wrong_type", "oversize", "trivial_response", "echo_response",
    "truncated_response", "identical_pair", "contradicting_pair", "code_junk",
}
WORD = re.compile(r"\w+")


# --- fixtures and an independent reader -----------------------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DemoSummary, float]:
    root = tmp_path_factory.mktemp("demo")
    start = time.perf_counter()
    summary = generate_demo_project(root)
    return root, summary, time.perf_counter() - start


@pytest.fixture(scope="module")
def root(demo: tuple[Path, DemoSummary, float]) -> Path:
    return demo[0]


@pytest.fixture(scope="module")
def manifests(root: Path) -> dict[str, dict[str, Any]]:
    out = {}
    for path in sorted((root / "sources").glob("*.yaml")):
        out[path.stem] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return out


@pytest.fixture(scope="module")
def truth(root: Path) -> list[dict[str, Any]]:
    lines = (root / "ground_truth.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def raw_lines(path: Path) -> list[bytes]:
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        data = gzip.decompress(data)
    assert data.endswith(b"\n")
    return data[:-1].split(b"\n")


def mapped(record: dict[str, Any], spec: str | list[str]) -> Any:
    if isinstance(spec, list):
        return "\n".join(str(record[s]) for s in spec)
    return record.get(spec)


def record_text(record: dict[str, Any], fields: dict[str, Any]) -> str:
    return "\n".join(str(mapped(record, fields[c]) or "") for c in TEXT_ORDER if c in fields)


def read_source(root: Path, m: dict[str, Any]) -> list[dict[str, Any]]:
    """Every readable record of a source: doc_id, location, record and joined text."""
    base = (root / "corpus" / m["id"]).resolve()
    pattern = (root / "sources" / m["location"]).resolve()
    files = sorted(pattern.parent.glob(pattern.name))
    assert files, f"{m['id']}: location {m['location']} matches nothing"
    fields = m.get("fields", {})
    out = []
    for path in files:
        rel = path.relative_to(base).as_posix()
        if m["format"] == "text":
            try:
                text = path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                continue
            out.append({"doc_id": make_doc_id(m["id"], position_key(rel, 0)), "file": rel,
                        "record": {"text": text}, "text": text})
            continue
        if m["format"] in ("jsonl", "jsonl.gz"):
            rows = []
            for n, line in enumerate(raw_lines(path), start=1):
                try:
                    rows.append((n, json.loads(line)))
                except ValueError:
                    continue
        elif m["format"] == "csv":
            reader = csv.DictReader(io.StringIO(path.read_text(encoding="utf-8")))
            rows = [(n, r) for n, r in enumerate(reader, start=2)]
        elif m["format"] == "json":
            rows = list(enumerate(json.loads(path.read_text(encoding="utf-8"))))
        else:
            rows = list(enumerate(pq.read_table(path).to_pylist()))
        for pos, rec in rows:
            out.append({"doc_id": make_doc_id(m["id"], own_key(rec[fields["id"]])), "file": rel,
                        "pos": pos, "record": rec, "text": record_text(rec, fields)})
    return out


@pytest.fixture(scope="module")
def records(root: Path, manifests: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    by_id = {}
    for m in manifests.values():
        for rec in read_source(root, m):
            assert rec["doc_id"] not in by_id, f"doc id collision: {rec['doc_id']}"
            by_id[rec["doc_id"]] = rec
    return by_id


def shingles(text: str, n: int) -> set[tuple[str, ...]]:
    tokens = WORD.findall(text.lower())
    return {tuple(tokens[i : i + n]) for i in range(max(1, len(tokens) - n + 1))}


def line_at(root: Path, entry: dict[str, Any]) -> bytes:
    return raw_lines(root / entry["file"])[entry["line"] - 1]


# --- determinism ------------------------------------------------------------------------------


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_identical_bytes_in_another_process(root: Path, tmp_path: Path) -> None:
    code = ("import sys; from pathlib import Path; from curaline.demo import "
            "generate_demo_project as g; g(Path(sys.argv[1]))")
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "again")], check=True, env=env)
    first, second = tree(root), tree(tmp_path / "again")
    assert sorted(first) == sorted(second)
    different = [name for name in first if first[name] != second[name]]
    assert different == []


def test_rerun_over_an_existing_project_leaves_no_stale_files(tmp_path: Path) -> None:
    generate_demo_project(tmp_path / "a", scale=0.3)
    generate_demo_project(tmp_path / "a", scale=0.1)
    generate_demo_project(tmp_path / "b", scale=0.1)
    assert tree(tmp_path / "a") == tree(tmp_path / "b")


def test_another_seed_gives_another_corpus(tmp_path: Path) -> None:
    generate_demo_project(tmp_path / "s7", seed=7, scale=0.1)
    generate_demo_project(tmp_path / "s8", seed=8, scale=0.1)
    a, b = tree(tmp_path / "s7"), tree(tmp_path / "s8")
    assert a["corpus/encyclopedia/articles.jsonl"] != b["corpus/encyclopedia/articles.jsonl"]


def test_generation_is_fast_and_about_3000_records(demo: tuple[Path, DemoSummary, float]) -> None:
    _, summary, seconds = demo
    assert seconds < 10, f"scale 1.0 took {seconds:.1f} s (target < 3 s)"
    assert 2_700 <= sum(summary.records_written.values()) <= 3_300


# --- manifests and release specs --------------------------------------------------------------


def test_manifests_use_only_allowed_keys(manifests: dict[str, dict[str, Any]]) -> None:
    assert len(manifests) >= 8
    for sid, m in manifests.items():
        assert m["id"] == sid
        assert set(m) <= MANIFEST_KEYS, f"{sid}: unknown keys {set(m) - MANIFEST_KEYS}"
        assert REQUIRED_KEYS <= set(m), f"{sid}: missing {REQUIRED_KEYS - set(m)}"
        assert set(m.get("fields", {})) <= FIELDS_BY_KIND[m["kind"]]
        assert m["format"] in {"jsonl", "jsonl.gz", "json", "parquet", "csv", "text"}
        assert isinstance(m["collected"], dt.date)
        assert re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]+", m["owner"])
        if m["license"].startswith("LicenseRef-"):
            assert m["license_url"].startswith("https://")
        if m["obtained"] == "synthetic":
            assert set(m["synthetic"]) == {"generator", "terms_url"}
        if m["obtained"] == "web-crawl":
            crawl = m["crawl"]
            assert crawl["respects_robots_txt"] is True and crawl["tdm_opt_out"] == "honoured"
            assert crawl["period_start"] < crawl["period_end"]


def test_sources_cover_licences_kinds_and_languages(manifests: dict[str, dict[str, Any]]) -> None:
    assert len({m["license"] for m in manifests.values()}) >= 6
    assert {m["kind"] for m in manifests.values()} == set(FIELDS_BY_KIND)
    assert len({lang for m in manifests.values() for lang in m["languages"]}) >= 4
    assert manifests["synthetic-instruct"]["synthetic"]["generator"] == "gpt-4o-mini-2024-07-18"
    assert manifests["eval-benchmark"]["fields"]["text"] == ["question", "choices"]


def test_release_specs(root: Path) -> None:
    specs = {p.stem: yaml.safe_load(p.read_text()) for p in (root / "releases").glob("*.yaml")}
    assert {s["use"] for s in specs.values()} == {"research", "commercial"}
    from curaline.release.spec import load_specs

    assert {s.name for s in load_specs(root / "releases")} == set(specs)  # they pass the strict loader
    assert specs["research-all"]["sources"] == "all"
    # CC-BY-NC and OpenAI-generated data: the licence gate would block them
    assert not {"forum", "synthetic-instruct"} & set(specs["commercial"]["sources"])
    for spec in specs.values():
        assert set(spec) == RELEASE_KEYS
        assert spec["mix"]["by"] == "domain"
        assert sum(spec["mix"]["weights"].values()) == pytest.approx(1.0)
        splits = spec["splits"]
        assert splits["train"] + splits["validation"] + splits["test"] == pytest.approx(1.0)


# --- the ground truth is true of the files ---------------------------------------------------


def test_every_case_kind_is_planted(truth: list[dict[str, Any]],
                                    demo: tuple[Path, DemoSummary, float]) -> None:
    counts = Counter(e["case"] for e in truth)
    assert CASE_KINDS <= set(counts), f"missing: {CASE_KINDS - set(counts)}"
    assert demo[1].planted == dict(sorted(counts.items()))


def test_doc_ids_and_locations_match_the_files(
    root: Path, truth: list[dict[str, Any]], records: dict[str, dict[str, Any]]
) -> None:
    for e in truth:
        rel = e["file"].removeprefix(f"corpus/{e['source_id']}/")
        if e["record_id"] is not None:
            assert e["doc_id"] == make_doc_id(e["source_id"], own_key(e["record_id"]))
            rec = records[e["doc_id"]]
            pos = e["line"] if e["line"] is not None else e["index"]
            assert (rec["file"], rec["pos"]) == (rel, pos), e
        else:
            pos = e["line"] if e["line"] is not None else 0
            assert e["doc_id"] == make_doc_id(e["source_id"], position_key(rel, pos)), e
            assert (root / e["file"]).is_file()


def test_pii_values_occur_literally(truth: list[dict[str, Any]],
                                    records: dict[str, dict[str, Any]]) -> None:
    pii = [e for e in truth if e["case"] == "pii"]
    assert {e["pii_type"] for e in pii} >= {"email", "phone", "credit_card", "ipv4", "ipv6",
                                              "iban", "us_ssn", "api_key"}
    for e in pii:
        assert e["value"] in records[e["doc_id"]]["text"], e
    for e in pii:
        if e["pii_type"] == "credit_card":
            digits = [int(c) for c in re.sub(r"\D", "", e["value"])][::-1]
            total = sum(d if i % 2 == 0 else (2 * d - 9 if d > 4 else 2 * d)
                        for i, d in enumerate(digits))
            assert total % 10 == 0, f"{e['value']} fails Luhn"
        if e["pii_type"] == "iban":
            s = e["value"].replace(" ", "")
            assert int("".join(str(int(c, 36)) for c in s[4:] + s[:4])) % 97 == 1


def test_duplicates_are_what_they_claim(truth: list[dict[str, Any]],
                                        records: dict[str, dict[str, Any]]) -> None:
    near = [e for e in truth if e["case"] == "near_dup"]
    exact = [e for e in truth if e["case"] == "exact_dup"]
    assert near and exact
    for e in exact:
        assert records[e["doc_id"]]["text"] == records[e["dup_of"]]["text"]
    for e in near:
        a, b = shingles(records[e["doc_id"]]["text"], 5), shingles(records[e["dup_of"]]["text"], 5)
        assert len(a & b) / len(a | b) == pytest.approx(e["jaccard5"], abs=1e-6)
        assert 0.6 <= e["jaccard5"] < 1.0


def test_no_exact_duplicate_goes_unlisted(truth: list[dict[str, Any]],
                                         records: dict[str, dict[str, Any]]) -> None:
    listed = {e["doc_id"] for e in truth if e["case"] == "exact_dup"}
    groups: dict[str, list[str]] = {}
    for doc_id, rec in records.items():
        if rec["text"].strip():
            groups.setdefault(rec["text"], []).append(doc_id)
    for ids in groups.values():
        unlisted = [d for d in ids if d not in listed]
        assert len(unlisted) == 1, f"unplanted exact duplicates: {ids}"


def test_malformed_input_fails_where_stated(root: Path, truth: list[dict[str, Any]]) -> None:
    for e in truth:
        case = e["case"]
        if case == "malformed_json":
            with pytest.raises(ValueError):
                json.loads(line_at(root, e))
        elif case == "undecodable_bytes":
            data = line_at(root, e) if e["line"] else (root / e["file"]).read_bytes()
            with pytest.raises(UnicodeDecodeError):
                data.decode("utf-8")
        elif case in ("missing_field", "empty_text", "wrong_type", "oversize"):
            record = json.loads(line_at(root, e))
            field = e.get("source_field", "content" if e["source_id"] == "web-crawl" else e["field"])
            if case == "missing_field":
                assert field not in record
            elif case == "empty_text":
                assert record[field] == ""
            elif case == "wrong_type":
                assert isinstance(record[field], int)
            else:
                assert len(record[field]) > 1_000_000
    kinds = Counter((e["source_id"], e["case"]) for e in truth)
    for sid in ("web-crawl", "preferences"):
        for case in ("malformed_json", "undecodable_bytes", "missing_field", "empty_text",
                     "wrong_type", "oversize"):
            assert kinds[(sid, case)] >= 1, (sid, case)


def test_contamination_shares_13_grams_with_its_eval_item(
    truth: list[dict[str, Any]], records: dict[str, dict[str, Any]]
) -> None:
    cases = [e for e in truth if e["case"] == "contaminated"]
    assert {e["source_id"] for e in cases} == {"web-crawl", "synthetic-instruct", "preferences"}
    assert {e["mode"] for e in cases} == {"verbatim", "edited"}
    for e in cases:
        item = records[e["eval_doc_id"]]["text"]
        text = records[e["doc_id"]]["text"]
        assert len(WORD.findall(item)) >= 20
        assert len(shingles(item, 13) & shingles(text, 13)) == e["shared_13grams"] > 0
        assert (item in text) == (e["mode"] == "verbatim")


def test_eval_items_are_exam_length(records: dict[str, dict[str, Any]]) -> None:
    items = [r for d, r in records.items() if d.startswith("eval-benchmark:")]
    assert len(items) >= 100
    assert min(len(WORD.findall(r["record"]["question"])) for r in items) >= 20


def test_language_cases(truth: list[dict[str, Any]], manifests: dict[str, dict[str, Any]]) -> None:
    langs = [e for e in truth if e["case"] == "language"]
    for e in langs:
        assert e["declared"] == (e["lang"] in manifests[e["source_id"]]["languages"])
    web = {e["lang"] for e in langs if e["source_id"] == "web-crawl"}
    assert web == {"de", "fr", "es", "it", "nl", "pt"}


def test_mojibake_is_garbled_utf8_a_fixer_can_restore(
    truth: list[dict[str, Any]], records: dict[str, dict[str, Any]]
) -> None:
    for e in (e for e in truth if e["case"] == "mojibake"):
        assert e["garbled"] in records[e["doc_id"]]["text"]
        assert e["fixed"] not in records[e["doc_id"]]["text"]
        assert ftfy.fix_encoding(e["garbled"]) == e["fixed"]


def test_dialogue_cases(truth: list[dict[str, Any]], records: dict[str, dict[str, Any]]) -> None:
    def rec(doc_id: str) -> dict[str, Any]:
        return records[doc_id]["record"]

    for e in truth:
        if e["case"] == "trivial_response":
            assert rec(e["doc_id"])["output"] == e["response"] and len(e["response"]) < 10
        elif e["case"] == "echo_response":
            assert rec(e["doc_id"])["output"] == rec(e["doc_id"])["instruction"]
        elif e["case"] == "truncated_response":
            assert not rec(e["doc_id"])["output"].endswith((".", "!", "?"))
        elif e["case"] == "identical_pair":
            assert rec(e["doc_id"])["chosen"] == rec(e["doc_id"])["rejected"]
        elif e["case"] == "contradicting_pair":
            a, b = rec(e["doc_id"]), rec(e["pair_of"])
            assert a["prompt"] == b["prompt"] and a["chosen"] == b["rejected"] != a["rejected"]
        elif e["case"] == "toxic" and e.get("column"):
            assert e["column"] == "rejected" and rec(e["doc_id"])["rejected"]


def test_sensitive_pages_and_toxic_lines_are_planted_in_text(
    truth: list[dict[str, Any]], records: dict[str, dict[str, Any]]
) -> None:
    legit = [records[e["doc_id"]]["text"] for e in truth if e["case"] == "sensitive_legit"]
    assert any("breast cancer screening" in t.lower() for t in legit)
    assert any("suicide prevention hotline" in t.lower() for t in legit)
    toxic = Counter(e["category"] for e in truth if e["case"] == "toxic")
    assert set(toxic) == {"insult", "threat", "harassment"}
