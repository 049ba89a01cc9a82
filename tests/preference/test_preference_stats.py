"""Preference statistics on a crafted set, checked number by number."""

from __future__ import annotations

import math

import pyarrow as pa
import pytest
from scipy.stats import binomtest

from curaline.preference.stats import StatsBuilder, table_stats, wilson_interval
from curaline.preference.validate import JudgementIndex, validate_pairs

SCHEMA = pa.schema([("doc_id", pa.string()), ("source_id", pa.string()), ("prompt", pa.string()),
                    ("chosen", pa.string()), ("rejected", pa.string()), ("margin", pa.float64())])  # fmt: skip


def crafted() -> pa.Table:
    """Six pairs: prompts P1 x3, P2 x2, P3 x1; chosen longer in 4, shorter in 1, equal in 1."""
    rows = [
        ("P1", "a b c", "a b", 1.0),  # chosen longer (3 vs 2 tokens)
        ("P1", "a b c d", "a", 2.0),  # longer
        ("p1 ", "a b", "x y z", None),  # shorter; same prompt after folding
        ("P2", "one two", "three four", 3.0),  # equal
        ("P2", "a b c d e", "a b c", 1.0),  # longer
        ("P3", "x, y.", "z", 1.0),  # longer: 4 tokens vs 1
    ]
    return pa.table({
        "doc_id": [f"s:{i:016x}" for i in range(6)],
        "source_id": ["s", "s", "s", "t", "t", "t"],
        "prompt": [r[0] for r in rows], "chosen": [r[1] for r in rows], "rejected": [r[2] for r in rows],
        "margin": [r[3] for r in rows],
    }, schema=SCHEMA)  # fmt: skip


def test_numbers_of_a_crafted_set() -> None:
    stats = table_stats([crafted()])
    assert (stats.pairs, stats.prompts) == (6, 3)
    assert stats.pairs_per_prompt == {1: 1, 2: 1, 3: 1}
    assert stats.mean_pairs_per_prompt == 2.0
    assert (stats.chosen_longer, stats.rejected_longer, stats.same_length) == (4, 1, 1)
    assert stats.length_bias == 0.8
    assert stats.token_diff.tolist() == [1, 3, -1, 0, 2, 3]
    assert (stats.chosen_tokens, stats.rejected_tokens) == (3 + 4 + 2 + 2 + 5 + 4, 2 + 1 + 3 + 2 + 3 + 1)
    assert sorted(stats.margins.tolist()) == [1.0, 1.0, 1.0, 2.0, 3.0] and stats.margin_missing == 1
    assert stats.margin_summary()["median"] == 1.0 and stats.margin_summary()["mean"] == pytest.approx(1.6)
    assert dict(stats.by_source) == {"s": 3, "t": 3}
    assert stats.longer_by["source"] == {"s": [2, 1], "t": [2, 0]}  # chosen longer / rejected longer
    assert stats.group_bias("source", "s") == pytest.approx(2 / 3) and stats.group_bias("source", "t") == 1.0
    d = stats.as_dict()
    assert d["max_pairs_per_prompt"] == 3 and d["pairs_per_prompt"] == {"1": 1, "2": 1, "3": 1}


def test_wilson_interval_matches_scipy_and_the_closed_form() -> None:
    for k, n in [(4, 5), (0, 10), (10, 10), (1336, 2312), (1, 1)]:
        ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
        assert wilson_interval(k, n) == pytest.approx((ci.low, ci.high), abs=1e-12)
    lo, hi = wilson_interval(4, 5)  # hand-worked: (0.8 + z²/10 ± z·sqrt(0.032 + z²/100)) / (1 + z²/5)
    z2 = 1.959963984540054**2
    assert lo == pytest.approx((0.8 + z2 / 10 - math.sqrt(z2) * math.sqrt(0.16 / 5 + z2 / 100)) / (1 + z2 / 5))
    assert (round(lo, 4), round(hi, 4)) == (0.3755, 0.9638)
    assert all(math.isnan(x) for x in wilson_interval(0, 0))


def test_agreement_of_repeated_judgements() -> None:
    """Pair X judged 3 times (2 one way, 1 the other), pair Y twice the same way, Z once."""
    judged = pa.table({
        "prompt": ["X", "X", "X", "Y", "Y", "Z"],
        "chosen": ["good", "good", "bad", "fine", "fine", "ok"],
        "rejected": ["bad", "bad", "good", "poor", "poor", "meh"],
    })  # fmt: skip
    index = JudgementIndex.build([judged])
    builder = StatsBuilder()
    builder.add(crafted())
    a = builder.finish(index).agreement
    assert (a.judgements, a.pairs, a.multi_judged, a.unanimous, a.contradicted) == (6, 3, 2, 1, 1)
    assert a.pairwise == pytest.approx((2 * 1 + 1 * 0 + 2 * 1) / (3 * 2 + 2 * 1))  # agreeing judgement pairs
    assert a.majority_share == pytest.approx((2 / 3 + 1) / 2)


def test_stats_read_the_stored_pair_signals_and_handle_missing_margins() -> None:
    table = crafted().drop_columns(["margin"])
    validated = validate_pairs(table, index=JudgementIndex.build([table])).table
    stats = table_stats([validated])
    assert (stats.prompts, stats.chosen_longer, stats.rejected_longer) == (3, 4, 1)
    assert stats.margins.size == 0 and stats.margin_missing == 6 and stats.margin_summary() == {}


def test_report_has_the_numbers_and_inline_plots() -> None:
    builder = StatsBuilder()
    builder.add(crafted(), source="s", domain="chat")
    md = builder.finish().markdown()
    assert "**6 pairs** over **3 prompts**" in md
    assert "**80.0 %** (95 % CI 37.6 %–96.4 %, 4 of 5)" in md
    assert "No length bias detectable at 95 %" in md
    assert md.count("data:image/svg+xml;base64,") == 5  # pairs per prompt, length diff, margins, source, domain
    assert "| chat | 6 | 100.0 % | 80.0 % (37.6 %–96.4 %) |" in md


def test_empty_stats() -> None:
    stats = table_stats([])
    assert stats.pairs == 0 and math.isnan(stats.length_bias) and stats.pairs_per_prompt == {}
    assert "no pairs of different length" in stats.markdown()
