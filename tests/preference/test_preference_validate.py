"""Each pair-level rejection reason on crafted pairs, the signals of kept pairs, and the ledger."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curaline.ledger import GLOBAL_PARTITION, run_ledger_file, write_ledger
from curaline.preference.validate import (
    REASONS,
    STAGE,
    JudgementIndex,
    PreferenceConfig,
    validate_pairs,
)
from curaline.project import Project

GOOD = "Boil the water first, then pour it over the leaves and wait three minutes."
BAD = "Just use cold water, it is the same thing."
#: 51 words and no end: the quality kernel's SFT truncation rule calls this cut off
CUT = " ".join(["The river runs past the old mill and the village green"] * 4) + " and then the road turns toward the"


def pairs(rows: list[tuple[str, str, str]], prefix: str = "p") -> pa.Table:
    return pa.table({
        "doc_id": [f"{prefix}:{i:016x}" for i in range(len(rows))],
        "prompt": [r[0] for r in rows], "chosen": [r[1] for r in rows], "rejected": [r[2] for r in rows],
    }, schema=pa.schema([(c, pa.string()) for c in ("doc_id", "prompt", "chosen", "rejected")]))  # fmt: skip


def run(table: pa.Table, config: PreferenceConfig | None = None, judgements: list[pa.Table] | None = None):
    index = JudgementIndex.build(judgements if judgements is not None else [table])
    result = validate_pairs(table, config=config, index=index)
    reasons = dict(zip(result.events["doc_id"].to_pylist(), result.events["reason"].to_pylist(), strict=True))
    return result, [reasons.get(d) for d in table["doc_id"].to_pylist()]


def test_each_reason_on_crafted_pairs() -> None:
    table = pairs([
        ("How do I make tea?", GOOD, BAD),  # clean
        ("How do I make tea?", "   \n ", BAD),  # empty chosen
        ("Make coffee?", GOOD, "\t"),  # empty rejected
        ("Make cocoa?", "Heat the  MILK slowly.", "heat the milk slowly."),  # identical after folding
        ("Tell me about the river.", CUT, GOOD),  # truncated chosen
        ("Tell me about the mill.", GOOD, CUT),  # truncated rejected
        ("Show code.", "Here:\n```python\nprint(1)\n", "Here:\n```python\nprint(2)\n```"),  # open fence
    ])  # fmt: skip
    result, reasons = run(table)
    assert reasons == [None, "empty_chosen", "empty_rejected", "identical_responses",
                       "truncated_chosen", "truncated_rejected", "truncated_chosen"]  # fmt: skip
    assert result.keep.tolist() == [True] + [False] * 6
    events = result.events.to_pylist()
    cut = next(e for e in events if e["reason"] == "truncated_chosen" and e["doc_id"] == "p:0000000000000004")
    assert cut["value"] == 51 and cut["threshold"] == 40  # words of the cut answer, the rule's word floor
    assert {e["reason"] for e in events} <= set(REASONS)


def test_truncated_rejected_kept_when_configured() -> None:
    table = pairs([("Tell me about the mill.", GOOD, CUT), ("Tell me about the river.", CUT, GOOD)])
    result, reasons = run(table, PreferenceConfig(drop_truncated=("chosen",)))
    assert reasons == [None, "truncated_chosen"]
    assert result.table["pref_rejected_truncated"].to_pylist() == [True, False]
    with pytest.raises(ValueError, match="drop_truncated: unknown side"):
        PreferenceConfig(drop_truncated=("prompt",))


def test_stored_truncation_signal_is_reused() -> None:
    """A quality stage that stores q_<side>_truncated is trusted over recomputing."""
    table = pairs([("Q?", GOOD, BAD)]).append_column("q_chosen_truncated", pa.array([True]))
    _, reasons = run(table)
    assert reasons == ["truncated_chosen"]


def test_contradicting_pairs_are_all_dropped_with_the_counts() -> None:
    table = pairs([
        ("Which is better?", GOOD, BAD),
        ("which is  better?", BAD.upper(), GOOD),  # the same pair judged the other way (case, spaces)
        ("Which is better?", GOOD, BAD),  # a third judgement: 2 one way, 1 the other
        ("Another prompt?", GOOD, BAD),  # the same answers under another prompt: no conflict
        ("Repeated?", GOOD, BAD),
        ("Repeated?", GOOD, BAD),  # judged twice the same way: kept, agreement 1
    ])  # fmt: skip
    result, reasons = run(table)
    assert reasons == ["contradicting_pair"] * 3 + [None, None, None]
    events = {e["doc_id"]: e for e in result.events.to_pylist()}
    assert events["p:0000000000000000"]["detail"] == "judgements=3 agree=2 disagree=1"
    assert events["p:0000000000000001"]["detail"] == "judgements=3 agree=1 disagree=2"
    assert events["p:0000000000000001"]["value"] == pytest.approx(1 / 3)
    assert result.table["pref_judgements"].to_pylist() == [3, 3, 3, 1, 2, 2]
    assert result.table["pref_agreement"].to_pylist()[3:] == [1.0, 1.0, 1.0]
    index = JudgementIndex.build([table])
    assert (index.judgements, index.pairs, index.multi.num_rows, index.contradicted) == (6, 3, 2, 1)
    _, kept = run(table, PreferenceConfig(drop_contradicting=False))
    assert kept == [None] * 6


def test_contradiction_is_seen_across_batches_and_sources() -> None:
    """The index is built over every judgement (all sources, before dedup), the check per batch."""
    one, other = pairs([("Which is better?", GOOD, BAD)], "a"), pairs([("Which is better?", BAD, GOOD)], "b")
    _, reasons = run(one, judgements=[one, other])
    assert reasons == ["contradicting_pair"]
    _, alone = run(one, judgements=[one])
    assert alone == [None]


def test_signals_of_kept_pairs() -> None:
    result, _ = run(pairs([("How do I make tea?", GOOD, BAD)]))
    row = result.table.to_pylist()[0]
    # `\w+|[^\w\s]`: 14 words + 2 punctuation marks; 9 words + 2 marks
    assert (row["pref_chosen_tokens"], row["pref_rejected_tokens"]) == (16, 11)
    assert (row["pref_chosen_truncated"], row["pref_rejected_truncated"]) == (False, False)
    assert (row["pref_judgements"], row["pref_agreement"]) == (1, 1.0)
    same_prompt, _ = run(pairs([("how do I   make TEA?", BAD, GOOD)], "z"), judgements=[])
    assert same_prompt.table["pref_prompt_key"].to_pylist() == result.table["pref_prompt_key"].to_pylist()


def test_bad_input_is_refused_with_the_column() -> None:
    with pytest.raises(ValueError, match="need column\\(s\\) rejected"):
        validate_pairs(pa.table({"doc_id": ["a:1"], "prompt": ["p"], "chosen": ["c"]}))
    with pytest.raises(ValueError, match="kind 'preference'"):
        validate_pairs(pairs([("p", "c", "r")]), kind="instruction")


def test_empty_batch() -> None:
    result, reasons = run(pairs([]))
    assert reasons == [] and result.table.num_rows == 0 and result.events.num_rows == 0


def test_reasons_land_in_the_global_ledger(tmp_path: Path) -> None:
    project = Project.at(tmp_path)
    result, _ = run(pairs([("Q?", GOOD, BAD), ("Q2?", "", BAD), ("Q?", BAD, GOOD)]))
    path = write_ledger(project, result.events, stage=STAGE, partition=None, run_id="r1")
    assert path == run_ledger_file(project, STAGE, None, "r1") and f"partition={GLOBAL_PARTITION}" in str(path)
    rows = pq.read_table(path).to_pylist()
    assert [(r["doc_id"], r["stage"], r["partition"], r["action"], r["reason"]) for r in rows] == [
        ("p:0000000000000000", STAGE, GLOBAL_PARTITION, "drop", "contradicting_pair"),
        ("p:0000000000000001", STAGE, GLOBAL_PARTITION, "drop", "empty_chosen"),
        ("p:0000000000000002", STAGE, GLOBAL_PARTITION, "drop", "contradicting_pair"),
    ]
