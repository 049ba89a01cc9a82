"""Real preference data: Anthropic hh-rlhf harmless-base test split (MIT; ../shared/data, see its
SOURCE.txt), through the quality kernel (upstream), pair validation and statistics."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pytest

from curaline.kernels.quality import score_quality
from curaline.preference.stats import table_stats
from curaline.preference.validate import JudgementIndex, PreferenceConfig, validate_pairs

SEP = "\n\nAssistant:"


def hh_pairs(shared_data: Path) -> pa.Table:
    """Each record is two full transcripts; the prompt is the chosen one up to its last assistant turn."""
    path = shared_data / "hh-rlhf-harmless-test" / "test.jsonl.gz"
    if not path.exists():
        pytest.skip(f"needs {path}")
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    return pa.table({
        "doc_id": [f"hh:{i:016x}" for i in range(len(rows))], "source_id": ["hh-rlhf"] * len(rows),
        "prompt": [r["chosen"].rsplit(SEP, 1)[0] for r in rows],
        "chosen": [r["chosen"].rsplit(SEP, 1)[-1] for r in rows],
        "rejected": [r["rejected"].rsplit(SEP, 1)[-1] for r in rows],
    })  # fmt: skip


def test_hh_rlhf_harmless_validation_and_statistics(shared_data: Path) -> None:
    table = hh_pairs(shared_data)
    assert table.num_rows == 2312
    upstream = score_quality(table, kind="preference")  # the quality stage's preference rules
    assert upstream.events["reason"].to_pylist() == ["pref_trivial_chosen"] * 8
    pairs = upstream.table.filter(pa.array(upstream.keep))
    index = JudgementIndex.build([pairs])
    assert (index.judgements, index.pairs, index.contradicted) == (2304, 2304, 0)  # one judgement per pair

    result = validate_pairs(pairs, index=index)
    reasons = result.events["reason"].to_pylist()
    assert {r: reasons.count(r) for r in set(reasons)} == {"truncated_chosen": 168, "truncated_rejected": 58}
    kept = result.table.filter(pa.array(result.keep))
    assert kept.num_rows == 2078

    stats = table_stats([kept], index)
    assert (stats.pairs, stats.prompts, stats.pairs_per_prompt) == (2078, 2077, {1: 2076, 2: 1})
    assert (stats.chosen_longer, stats.rejected_longer, stats.same_length) == (847, 1191, 40)
    # harmless-base prefers the shorter answer (refusals are short): the CI lies below 50 %
    assert stats.length_bias == pytest.approx(847 / 2038)
    lo, hi = stats.length_bias_ci
    assert (round(lo, 4), round(hi, 4)) == (0.3944, 0.4371)
    assert "shorter more often than chance" in stats.markdown()

    # without the truncation rule the bias is weaker but still there
    loose = validate_pairs(pairs, index=index, config=PreferenceConfig(drop_truncated=()))
    all_stats = table_stats([loose.table.filter(pa.array(loose.keep))])
    assert (all_stats.pairs, all_stats.chosen_longer, all_stats.rejected_longer) == (2304, 1009, 1255)
