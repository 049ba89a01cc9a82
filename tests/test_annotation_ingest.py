"""Ingest for issue #8: annotation sources, document urls, preference margin/group, OASST trees."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest
import yaml

from curaline.ingest import ANNOTATION_QUARANTINE_REASONS, read_source
from curaline.records import make_doc_id, own_key
from curaline.schemas import RECORD_MODELS, QuarantineRow, validate_file
from curaline.sources import ManifestError, load_manifests, parse_manifest
from curaline.store import write_parquet

BASE = {"license": "MIT", "obtained": "public-dataset"}
ANNOTATION = {
    "location": "../corpus/judgements.jsonl", "format": "jsonl", "kind": "annotation", "label_type": "nominal",
    "fields": {"item_id": "item", "annotator_id": "who", "label": "label"},
}  # fmt: skip


def write_manifest(root: Path, sid: str, **spec: object) -> Path:
    (root / "sources").mkdir(parents=True, exist_ok=True)
    path = root / "sources" / f"{sid}.yaml"
    path.write_text(yaml.safe_dump({"id": sid, **BASE, **spec}))
    return path


def problems(root: Path, sid: str = "judged", **spec: object) -> list[tuple[str, str]]:
    with pytest.raises(ManifestError) as err:
        parse_manifest(write_manifest(root, sid, **spec))
    return [(p.field, p.message) for p in err.value.problems]


def write_jsonl(path: Path, rows: list[object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))


# ---- manifests -------------------------------------------------------------------------


def test_annotation_manifest_parses_with_its_keys(tmp_path: Path) -> None:
    m = parse_manifest(write_manifest(tmp_path, "judged", **{**ANNOTATION, "label_type": "ordinal",
                                                            "labels": [1, 2, 3], "alpha_floor": 0.8}))  # fmt: skip
    assert (m.kind, m.label_type, m.labels, m.alpha_floor, m.target_source) == ("annotation", "ordinal", ("1", "2", "3"), 0.8, None)
    assert m.declaration()["labels"] == ["1", "2", "3"]
    assert parse_manifest(write_manifest(tmp_path, "plain", **ANNOTATION)).alpha_floor == 0.667


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"label_type": None}, "label_type", "is required for kind 'annotation'"),
        ({"label_type": "ratio"}, "label_type", "'ratio' is not allowed; allowed: nominal, ordinal, interval"),
        ({"label_type": "ordinal"}, "labels", "is required for label_type 'ordinal'"),
        ({"labels": ["yes"]}, "labels", "must be a list of at least two labels"),
        ({"labels": [True, False]}, "labels", "quote yes/no"),
        ({"labels": ["a", "b", "a"]}, "labels", "lists 'a' more than once"),
        ({"label_type": "interval", "labels": ["low", "high"]}, "labels", "must be numbers for label_type 'interval'"),
        ({"alpha_floor": 1.5}, "alpha_floor", "must be a number from 0 to 1"),
        ({"alpha_floor": "high"}, "alpha_floor", "must be a number from 0 to 1"),
        ({"target_source": "judged"}, "target_source", "must name another source"),
        ({"format": "text"}, "format", "an annotation source needs a record format"),
        ({"fields": {"item_id": "item", "label": "label"}}, "fields.annotator_id", "is required for kind 'annotation'"),
        ({"fields": {"item_id": "i", "annotator_id": "a", "label": "l", "text": "t"}}, "fields.text",
         "is not a field of kind 'annotation'"),
    ],
)  # fmt: skip
def test_annotation_manifest_mistakes_name_the_field(tmp_path: Path, changes: dict, field: str, message: str) -> None:
    spec = {k: v for k, v in {**ANNOTATION, **changes}.items() if v is not None}
    found = problems(tmp_path, **spec)
    assert any(f == field and message in msg for f, msg in found), found


def test_annotation_keys_are_refused_on_other_kinds(tmp_path: Path) -> None:
    found = problems(tmp_path, "docs", location="x.jsonl", format="jsonl", kind="document", label_type="nominal",
                     alpha_floor=0.5)  # fmt: skip
    assert ("label_type", "is only for kind 'annotation', not 'document'") in found
    assert ("alpha_floor", "is only for kind 'annotation', not 'document'") in found


def test_target_source_must_exist_and_hold_records(tmp_path: Path) -> None:
    write_manifest(tmp_path, "judged", **ANNOTATION, target_source="nowhere")
    write_manifest(tmp_path, "second", **{**ANNOTATION, "target_source": "judged"})
    _, found = load_manifests(tmp_path / "sources", strict=False)
    messages = {(Path(p.file).name, p.field): p.message for p in found}
    assert messages[("judged.yaml", "target_source")].startswith("'nowhere' is not a source of this project")
    assert messages[("second.yaml", "target_source")] == "'judged' is an annotation source: labels describe records"


def test_oasst_format_has_a_fixed_layout_and_kind(tmp_path: Path) -> None:
    assert ("fields", "format 'oasst' has a fixed layout: leave fields out") in problems(
        tmp_path, "trees", location="t.jsonl", format="oasst", kind="preference", fields={"prompt": "text"})
    assert ("format", "format 'oasst' yields 'preference' records, not kind 'document'") in problems(
        tmp_path, "trees", location="t.jsonl", format="oasst", kind="document")


# ---- annotation records ---------------------------------------------------------------


def test_annotation_rows_become_judgements_and_bad_rows_are_quarantined(tmp_path: Path) -> None:
    rows = [
        {"item": "d1", "who": "ann1", "label": "pos", "gold": "pos", "conf": 0.9, "at": "2026-01-02T10:00:00Z"},
        {"item": "d1", "who": "ann2", "label": "neg", "conf": "0.5"},
        {"item": "d2", "who": "ann1", "label": "maybe"},  # 3 label_not_in_set
        {"item": "d2", "label": "pos"},  # 4 missing_field annotator_id
        {"item": "d1", "who": "ann1", "label": "neg"},  # 5 duplicate_judgement
        {"item": 7, "who": "ann3", "label": "neg", "conf": "high"},  # 6 wrong_type confidence
        {"item": "d3", "who": "ann2", "label": ""},  # 7 missing_field label (empty)
        {"item": "d3", "who": "ann2", "label": "pos", "gold": "unsure"},  # 8 label_not_in_set on gold
        {"item": 7, "who": "ann1", "label": "pos", "task": "second"},
    ]
    write_jsonl(tmp_path / "corpus" / "judgements.jsonl", rows)
    spec = {**ANNOTATION, "labels": ["pos", "neg"], "target_source": "docs",
            "fields": {"item_id": "item", "annotator_id": "who", "label": "label", "gold": "gold",
                       "confidence": "conf", "annotated_at": "at", "task": "task"}}  # fmt: skip
    m = parse_manifest(write_manifest(tmp_path, "judged", **spec))
    records, quarantine, stats = read_source(m)
    assert stats.read == 9 and stats.ingested == 3 and stats.balanced
    got = {(q["line"], q["reason"], q["field"]) for q in quarantine.to_pylist()}
    assert got == {
        (3, "label_not_in_set", "label"), (4, "missing_field", "annotator_id"), (5, "duplicate_judgement", "annotator_id"),
        (6, "wrong_type", "confidence"), (7, "missing_field", "label"), (8, "label_not_in_set", "gold"),
    }  # fmt: skip
    dup = next(q for q in quarantine.to_pylist() if q["reason"] == "duplicate_judgement")
    assert dup["detail"] == "annotator 'ann1' already judged item 'd1' of task 'judged' (at judgements.jsonl line 1)"
    out = records.select(["task", "item_id", "annotator_id", "label", "label_value", "gold", "confidence",
                          "annotated_at", "target_doc_id"]).to_pylist()  # fmt: skip
    assert out == [
        {"task": "judged", "item_id": "d1", "annotator_id": "ann1", "label": "pos", "label_value": 0.0, "gold": "pos",
         "confidence": 0.9, "annotated_at": "2026-01-02T10:00:00Z", "target_doc_id": make_doc_id("docs", own_key("d1"))},
        {"task": "judged", "item_id": "d1", "annotator_id": "ann2", "label": "neg", "label_value": 1.0, "gold": None,
         "confidence": 0.5, "annotated_at": None, "target_doc_id": make_doc_id("docs", own_key("d1"))},
        {"task": "second", "item_id": "7", "annotator_id": "ann1", "label": "pos", "label_value": 0.0, "gold": None,
         "confidence": None, "annotated_at": None, "target_doc_id": make_doc_id("docs", own_key("7"))},
    ]  # fmt: skip
    assert {r for _, r, _ in got} >= {"label_not_in_set", "duplicate_judgement"}
    path = tmp_path / "out.parquet"
    write_parquet(path, records)
    assert validate_file(path, RECORD_MODELS["annotation"]).passed
    write_parquet(tmp_path / "q.parquet", quarantine)
    assert validate_file(tmp_path / "q.parquet", QuarantineRow).passed


def test_interval_labels_must_be_numbers_and_csv_numbers_match_declared_labels(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "scores.csv").write_text("item,who,score\na,u1,3.5\na,u2,4\nb,u1,high\nb,u2,\n")
    m = parse_manifest(write_manifest(tmp_path, "scores", location="../corpus/scores.csv", format="csv",
                                      kind="annotation", label_type="interval",
                                      fields={"item_id": "item", "annotator_id": "who", "label": "score"}))  # fmt: skip
    records, quarantine, _ = read_source(m)
    assert records.select(["label", "label_value"]).to_pylist() == [{"label": "3.5", "label_value": 3.5},
                                                                     {"label": "4", "label_value": 4.0}]  # fmt: skip
    assert [(q["line"], q["reason"], q["field"]) for q in quarantine.to_pylist()] == [
        (4, "non_numeric_label", "label"), (5, "missing_field", "label")]
    (corpus / "likert.csv").write_text("item,who,score\na,u1,1.0\na,u2,2\nb,u1,6\n")
    m = parse_manifest(write_manifest(tmp_path, "likert", location="../corpus/likert.csv", format="csv",
                                      kind="annotation", label_type="ordinal", labels=[1, 2, 3, 4, 5],
                                      fields={"item_id": "item", "annotator_id": "who", "label": "score"}))  # fmt: skip
    records, quarantine, _ = read_source(m)
    assert records["label"].to_pylist() == ["1", "2"] and records["label_value"].to_pylist() == [0.0, 1.0]
    assert quarantine["detail"].to_pylist() == ["'6' is not a declared label; allowed: 1, 2, 3, 4, 5"]
    assert set(ANNOTATION_QUARANTINE_REASONS) == {"label_not_in_set", "non_numeric_label", "duplicate_judgement"}


# ---- document url, preference margin/group --------------------------------------------


def test_document_url_is_a_nullable_column_of_every_document_source(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "corpus" / "pages.jsonl", [
        {"id": "p1", "text": "A page.", "url": "https://example.org/a"}, {"id": "p2", "text": "No url here."},
        {"id": "p3", "text": "Bad url.", "url": ["x"]},
    ])  # fmt: skip
    mapped = parse_manifest(write_manifest(tmp_path, "pages", location="../corpus/pages.jsonl", format="jsonl",
                                           kind="document", fields={"id": "id", "url": "url"}))  # fmt: skip
    records, quarantine, _ = read_source(mapped)
    assert records["url"].to_pylist() == ["https://example.org/a", None]
    assert [(q["reason"], q["field"]) for q in quarantine.to_pylist()] == [("wrong_type", "url")]
    unmapped = parse_manifest(write_manifest(tmp_path, "plain", location="../corpus/pages.jsonl", format="jsonl",
                                             kind="document", fields={"id": "id"}))  # fmt: skip
    records, _, _ = read_source(unmapped)
    assert records["url"].to_pylist() == [None, None, None] and records.schema.field("url").type == pa.string()
    write_parquet(tmp_path / "d.parquet", records)
    assert validate_file(tmp_path / "d.parquet", RECORD_MODELS["document"]).passed


def test_preference_margin_and_group(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "corpus" / "pairs.jsonl", [
        {"q": "Hi?", "good": "Hello!", "bad": "Go away.", "gap": 2, "conv": 17},
        {"q": "Sum?", "good": "4", "bad": "5", "gap": "0.5"},
        {"q": "Why?", "good": "Because.", "bad": "No.", "gap": "lots"},
    ])  # fmt: skip
    m = parse_manifest(write_manifest(tmp_path, "pairs", location="../corpus/pairs.jsonl", format="jsonl",
                                      kind="preference", fields={"prompt": "q", "chosen": "good", "rejected": "bad",
                                                                 "margin": "gap", "group": "conv"}))  # fmt: skip
    records, quarantine, _ = read_source(m)
    assert records.select(["margin", "group"]).to_pylist() == [{"margin": 2.0, "group": "17"}, {"margin": 0.5, "group": None}]
    assert [(q["line"], q["reason"], q["field"]) for q in quarantine.to_pylist()] == [(3, "wrong_type", "margin")]
    write_parquet(tmp_path / "p.parquet", records)
    assert validate_file(tmp_path / "p.parquet", RECORD_MODELS["preference"]).passed


# ---- OpenAssistant trees ------------------------------------------------------------------


def msg(mid: str, role: str, text: str, rank: int | None = None, replies: list | None = None, **extra: object) -> dict:
    return {"message_id": mid, "role": role, "text": text, "rank": rank, "replies": replies or [], **extra}


def test_oasst_ranks_give_every_implied_pair(tmp_path: Path) -> None:
    tree1 = {"message_tree_id": "t1", "prompt": msg("p", "prompter", "Question?", replies=[
        msg("a", "assistant", "Second best.", 1),
        msg("b", "assistant", "Best.", 0, replies=[msg("f", "prompter", "Follow-up?", replies=[
            msg("x", "assistant", "Worse follow.", 2), msg("y", "assistant", "Better follow.", 0),
            msg("z", "assistant", "Also ranked 2.", 2)])]),
        msg("c", "assistant", "Worst.", 2),
        msg("d", "assistant", "Unranked."),
        msg("e", "assistant", "Deleted.", 3, deleted=True),
    ])}  # fmt: skip
    tree2 = {"message_tree_id": "t2", "prompt": msg("q", "prompter", "Lonely?", replies=[msg("r", "assistant", "Yes.", 0)])}
    tree3 = {"message_tree_id": "t3", "prompt": msg("s", "prompter", "Prompter ranks?", replies=[
        msg("u", "assistant", "Only one ranked reply.", 0, replies=[
            msg("v", "prompter", "Ask A", 0), msg("w", "prompter", "Ask B", 1)])])}  # fmt: skip
    write_jsonl(tmp_path / "corpus" / "trees.jsonl", [tree1, "{broken", tree2, {"no": "prompt"}, tree3])
    m = parse_manifest(write_manifest(tmp_path, "trees", location="../corpus/trees.jsonl", format="oasst", kind="preference"))
    records, quarantine, stats = read_source(m)
    got = records.select(["source_record_id", "chosen", "rejected", "margin", "group", "source_line"]).to_pylist()
    assert [(r["source_record_id"], r["margin"]) for r in got] == [
        ("p/b>a", 1.0), ("p/b>c", 2.0), ("p/a>c", 1.0),  # ranks 0 < 1 < 2 among p's replies
        ("f/y>x", 2.0), ("f/y>z", 2.0),  # x and z tie at 2: no pair between them
    ]
    assert got[0]["chosen"] == "Best." and got[0]["rejected"] == "Second best." and got[0]["group"] == "p"
    assert {r["source_line"] for r in got} == {1}
    follow = records.filter(pa.compute.equal(records["group"], "f"))["prompt"][0].as_py()
    assert follow == "User: Question?\n\nAssistant: Best.\n\nUser: Follow-up?"
    assert records["prompt"][0].as_py() == "Question?"
    assert records["doc_id"][0].as_py() == make_doc_id("trees", own_key("p/b>a"))
    assert [(q["line"], q["reason"]) for q in quarantine.to_pylist()] == [(2, "malformed_json"), (4, "not_an_object")]
    assert (stats.trees, stats.trees_without_pairs, stats.read, stats.balanced) == (3, 2, 7, True)


def test_oasst_real_sample_pairs_match_an_independent_count(tmp_path: Path, shared_data: Path) -> None:
    path = shared_data / "oasst-sample" / "en_100_tree.jsonl"
    expected: dict[str, float] = {}

    def walk(node: dict) -> None:  # the plain nested-loop definition, to check the self-join against
        ranked = [r for r in node.get("replies", []) if r.get("rank") is not None and r["role"] == "assistant"]
        for a in ranked:
            for b in ranked:
                if a["rank"] < b["rank"]:
                    expected[f"{node['message_id']}/{a['message_id']}>{b['message_id']}"] = float(b["rank"] - a["rank"])
        for r in node.get("replies", []):
            walk(r)

    for line in path.read_text().splitlines():
        walk(json.loads(line)["prompt"])
    m = parse_manifest(write_manifest(tmp_path, "oasst", location=str(path), format="oasst", kind="preference",
                                      license="Apache-2.0"), roots=[path.parent])  # fmt: skip
    records, quarantine, stats = read_source(m)
    assert len(expected) == 754 and quarantine.num_rows == 0 and stats.trees == 100
    assert dict(zip(records["source_record_id"].to_pylist(), records["margin"].to_pylist(), strict=True)) == expected
    write_parquet(tmp_path / "o.parquet", records)
    assert validate_file(tmp_path / "o.parquet", RECORD_MODELS["preference"]).passed
