"""Decontamination kernel: 13-gram overlap, short-item mode, fields never joined."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from curaline.kernels.decontam import DecontamConfig, EvalIndex, decontaminate

ITEM = "Which planet in the solar system has the longest day measured in Earth hours and why is that so"


def index(*texts: str, config: DecontamConfig | None = None) -> EvalIndex:
    n = len(texts)
    return EvalIndex.build(pa.table({"doc_id": pa.array([f"ev:{i:016x}" for i in range(n)], pa.string()),
                                     "source_id": pa.array(["ev"] * n, pa.string()),
                                     "text": pa.array(list(texts), pa.string())}), config)  # fmt: skip


def test_verbatim_and_lightly_edited_copies_are_dropped_with_the_item_named() -> None:
    idx = index(ITEM, "Name two primes.")
    docs = pa.table({"doc_id": ["a", "b", "c"], "text": [
        f"Trivia night! {ITEM.upper()}? Answer: Venus.",
        ITEM.replace("so", "true"),  # last word changed: the earlier 13-grams still match
        "A text about planets that shares no long run of words with any test item at all.",
    ]})  # fmt: skip
    result = decontaminate(docs, kind="document", index=idx)
    assert result.keep.tolist() == [False, False, True]
    assert set(result.events["reason"].to_pylist()) == {"contaminated_eval_ngram"}
    assert result.events["related_doc_id"][0].as_py() == "ev:0000000000000000"
    assert result.events["detail"][0].as_py() == "eval_source=ev"
    assert result.table["contaminated_by"].to_pylist()[:2] == ["ev:0000000000000000"] * 2
    assert idx.too_short == 1  # "Name two primes." is too generic to be evidence


def test_short_items_use_their_own_length() -> None:
    idx = index("What is the boiling point of water at sea level", config=DecontamConfig(min_item_tokens=8))
    docs = pa.table({"doc_id": ["a", "b"], "text": ["Q: what is the boiling point of water at sea level?",
                                                     "what is the boiling point of oil"]})  # fmt: skip
    assert decontaminate(docs, kind="document", index=idx).keep.tolist() == [False, True]


def test_ngrams_never_span_two_fields() -> None:
    words = ITEM.split()
    idx = index(ITEM)
    def sft(prompt: str, response: str) -> pa.Table:
        return pa.table({"doc_id": ["a"], "prompt": [prompt], "context": pa.array([None], pa.string()),
                         "response": [response]})  # fmt: skip

    assert decontaminate(sft(" ".join(words[:7]), " ".join(words[7:])), kind="instruction", index=idx).keep.tolist() == [True]
    sft2 = sft("hello", ITEM)
    assert decontaminate(sft2, kind="instruction", index=idx).keep.tolist() == [False]


def test_real_eval_sets_catch_planted_copies(shared_data: Path) -> None:
    import json

    lines = (shared_data / "mt-bench" / "mt_bench_question.jsonl").read_text().splitlines()
    items = [" ".join(json.loads(line)["turns"]) for line in lines]
    idx = index(*items)
    planted = [f"Here is a task for you. {items[3]}", items[10][: len(items[10]) // 2 + 80], "Unrelated prose " * 20]
    docs = pa.table({"doc_id": ["x", "y", "z"], "text": planted})
    assert decontaminate(docs, kind="document", index=idx).keep.tolist() == [False, False, True]


def test_no_evaluation_sets_keeps_everything() -> None:
    docs = pa.table({"doc_id": ["a"], "text": [ITEM]})
    result = decontaminate(docs, kind="document", index=index())
    assert result.keep.tolist() == [True] and result.table["contaminated_by"].to_pylist() == [None]
