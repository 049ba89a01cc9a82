"""Quality rules: each rule on a crafted record, exact signals, real web and chat data."""

from __future__ import annotations

import gzip
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from curaline.kernels.base import EVENT_SCHEMA
from curaline.kernels.quality import (
    DOCUMENT_SIGNALS,
    INSTRUCTION_SIGNALS,
    PREFERENCE_SIGNALS,
    SIGNAL_COLUMNS,
    QualityConfig,
    score_quality,
)

GOOD = "\n".join(
    [
        "The harbour town wakes early, long before the first ferry leaves the pier.",
        "Fishermen unload their catch while gulls circle above the wooden crates.",
        "A baker on the main street sells warm bread to workers heading to the docks.",
        "By noon, tourists arrive with cameras and questions about the old lighthouse.",
        "Local guides explain that the tower was rebuilt after a storm in 1897.",
        "In the evening, families gather at the square to share news and music.",
        "Children chase each other between the stalls until the lamps are lit.",
        "Later, the town grows quiet again, and only the sea can be heard.",
    ]
)
ONLY = {
    "gopher_quality": dict(gopher_repetition=False, c4=False, fineweb=False),
    "gopher_repetition": dict(gopher_quality=False, c4=False, fineweb=False),
    "c4": dict(gopher_repetition=False, gopher_quality=False, fineweb=False),
    "fineweb": dict(gopher_repetition=False, gopher_quality=False, c4=False),
}
DISTINCT = " ".join(f"word{chr(97 + i % 26)}{chr(97 + i // 26)}" for i in range(80))
LONG_LINE = "This sentence is long enough to count as a real line of prose in a page."


def docs(*texts: str | None) -> pa.Table:
    return pa.table({"doc_id": [f"d{i}" for i in range(len(texts))], "text": list(texts)})


def reasons(res) -> dict[str, str]:  # noqa: ANN001
    return dict(
        zip(res.events["doc_id"].to_pylist(), res.events["reason"].to_pylist(), strict=True)
    )


def only(family: str, **kw: object) -> QualityConfig:
    return QualityConfig(**ONLY[family], **kw)  # type: ignore[arg-type]


def relax_ngrams(top: int | None = None, dup: int | None = None) -> dict[str, object]:
    """All n-gram thresholds at 1.0 except the one under test."""
    d = QualityConfig()
    return {
        "top_ngram_char_frac": tuple((n, t if n == top else 1.0) for n, t in d.top_ngram_char_frac),
        "dup_ngram_char_frac": tuple((n, t if n == dup else 1.0) for n, t in d.dup_ngram_char_frac),
    }


REPEAT = "one two three four five six seven eight nine ten eleven twelve"
CASES = [
    ("empty_text", "", QualityConfig()),
    ("empty_text", None, QualityConfig()),
    ("empty_text", " \n\t ", QualityConfig()),
    # Gopher quality
    ("gopher_short_doc", "The cat sat on the mat with the hat.", only("gopher_quality")),
    ("gopher_long_doc", GOOD + "\n" + GOOD, only("gopher_quality", max_doc_words=150)),
    ("gopher_below_avg_threshold", "I am " * 30, only("gopher_quality")),
    ("gopher_above_avg_threshold", " ".join(["internationalization"] * 60), only("gopher_quality")),
    ("gopher_too_many_hashes", GOOD + " #x" * 20, only("gopher_quality")),
    ("gopher_too_many_ellipsis", GOOD + " and then..." * 20, only("gopher_quality")),
    (
        "gopher_too_many_bullets",
        "\n".join(f"- the quick brown fox number {i} runs" for i in range(20)),
        only("gopher_quality"),
    ),
    (
        "gopher_too_many_end_ellipsis",
        GOOD
        + "\n"
        + "\n".join(f"and the story of line {i} goes on and on with the wind..." for i in range(8)),
        only("gopher_quality"),
    ),
    (
        "gopher_below_alpha_threshold",
        GOOD + " " + " ".join(map(str, range(150))),
        only("gopher_quality"),
    ),
    ("gopher_too_few_stop_words", DISTINCT, only("gopher_quality")),
    # Gopher repetition (Table A1)
    (
        "gopher_rep_dup_para_frac",
        "alpha para\n\nbeta para\n\nalpha para\n\nalpha para",
        only("gopher_repetition"),
    ),
    (
        "gopher_rep_dup_para_char_frac",
        "\n\n".join([LONG_LINE, "short a", "short b", "short c", LONG_LINE]),
        only("gopher_repetition"),
    ),
    (
        "gopher_rep_dup_line_frac",
        "alpha line\nbeta line\nalpha line\nalpha line",
        only("gopher_repetition"),
    ),
    (
        "gopher_rep_dup_line_char_frac",
        "\n".join([LONG_LINE, "short a", "short b", "short c", LONG_LINE]),
        only("gopher_repetition"),
    ),
    (
        "gopher_rep_top_2gram",
        " ".join(f"the cat {w}" for w in DISTINCT.split()[:30]),
        only("gopher_repetition"),
    ),
    *[
        (
            f"gopher_rep_top_{n}gram",
            " ".join(f"the big old cat {w}" for w in DISTINCT.split()[:30]),
            only("gopher_repetition", **relax_ngrams(top=n)),
        )
        for n in (3, 4)
    ],
    *[
        (
            f"gopher_rep_dup_{n}gram",
            " ".join([*DISTINCT.split()[:20], REPEAT, "mid", REPEAT, "end", REPEAT]),
            only("gopher_repetition", **relax_ngrams(dup=n)),
        )
        for n in range(5, 11)
    ],
    # C4
    (
        "c4_lorem_ipsum",
        GOOD + "\nLorem ipsum dolor sit amet, consectetur adipiscing elit.",
        only("c4"),
    ),
    ("c4_curly_bracket", GOOD + "\nThe body is written inside {braces} like this.", only("c4")),
    ("c4_too_few_sentences", "\n".join(GOOD.splitlines()[:4]), only("c4")),
    ("c4_too_few_sentences", GOOD.replace(".", ""), only("c4")),
    # FineWeb
    ("fineweb_line_punct_ratio", GOOD.replace(".", ""), only("fineweb")),
    (
        "fineweb_short_line_ratio",
        "\n".join(f"Short line number {i}." for i in range(20)),
        only("fineweb"),
    ),
    ("fineweb_char_dup_ratio", GOOD + "\n" + GOOD.splitlines()[0], only("fineweb")),
    (
        "fineweb_list_ratio",
        "\n".join(f"Pneumonoultramicroscopicsilicovolcanoconiosis{i}." for i in range(10)),
        only("fineweb"),
    ),
]


def test_good_document_is_kept_under_all_rules() -> None:
    res = score_quality(docs(GOOD), kind="document")
    assert res.keep.tolist() == [True]
    assert res.events.num_rows == 0


@pytest.mark.parametrize(
    ("reason", "text", "config"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_rule_fires_with_exact_reason(reason: str, text: str | None, config: QualityConfig) -> None:
    res = score_quality(docs(GOOD, text), kind="document", config=config)
    assert res.keep.tolist() == [True, False]
    assert reasons(res) == {"d1": reason}
    ev = res.events.to_pylist()[0]
    assert ev["action"] == "drop"
    if reason != "empty_text":
        assert ev["threshold"] is not None and ev["value"] is not None


def test_event_value_and_threshold_are_the_rule_signal() -> None:
    res = score_quality(
        docs("The cat sat on the mat with the hat."), kind="document", config=only("gopher_quality")
    )
    ev = res.events.to_pylist()[0]
    assert (ev["reason"], ev["value"], ev["threshold"]) == ("gopher_short_doc", 9.0, 50.0)
    assert res.table["q_word_count"].to_pylist() == [9]


def test_first_failing_rule_follows_datatrove_order() -> None:
    # repeated lines (repetition filter runs first) in a doc that is also short (quality)
    res = score_quality(docs("same line\nsame line\nsame line"), kind="document")
    assert reasons(res) == {"d0": "gopher_rep_dup_line_frac"}


def test_rule_switched_off_by_none() -> None:
    cfg = only("gopher_quality", min_doc_words=None)
    res = score_quality(docs("The cat sat on the mat with the hat."), kind="document", config=cfg)
    assert reasons(res).get("d0") != "gopher_short_doc"


def signals(text: str) -> dict[str, object]:
    res = score_quality(docs(text), kind="document")
    return {k: res.table[k][0].as_py() for k in DOCUMENT_SIGNALS}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Hello, world!",
            {
                "q_char_count": 13,
                "q_token_count": 4,
                "q_word_count": 2,
                "q_mean_word_length": 5.0,
                "q_alpha_word_frac": 0.5,
            },
        ),
        ("#a #b", {"q_token_count": 4, "q_hash_ratio": 0.5}),
        ("the and The to", {"q_stop_word_count": 3}),
        ("- a\n- b\nc...\nd", {"q_bullet_line_frac": 0.5, "q_ellipsis_line_frac": 0.25}),
        ("a b\n\na b", {"q_dup_para_frac": 0.5, "q_dup_para_char_frac": 3 / 8}),
        ("x\ny\nx", {"q_dup_line_frac": 1 / 3, "q_dup_line_char_frac": 1 / 5}),
        ("\nx\n\ny\n", {"q_dup_line_frac": 1 / 4, "q_dup_line_char_frac": 0.0}),
        ("the cat the cat", {"q_top_2gram_frac": 14 / 15, "q_top_3gram_frac": 11 / 15}),
        ("a b c d e a b c d e", {"q_dup_5gram_frac": 5 / 19, "q_dup_6gram_frac": 0.0}),
        ("a b c d e a b c d e a b c d e", {"q_dup_5gram_frac": 10 / 29}),
        (
            "The first line ends right here, after many words.\nsecond line no stop\n\nshort one.",
            {
                "q_fw_line_punct_frac": 2 / 3,
                "q_fw_short_line_frac": 2 / 3,
                "q_fw_list_ratio": 3 / 18,
            },
        ),
        (
            "Done. Next one! And a third? Yes.\nno end here",
            {"q_c4_sentences": 4, "q_c4_line_keep_frac": 0.5},
        ),
        (
            "Enable javascript in your browser now.\nRead our privacy policy for details.\n"
            "A plain line is kept here.",
            {"q_c4_sentences": 1},
        ),
        ("Real text here [1]\nCited fact here.[12]", {"q_c4_sentences": 1}),
        ("Some words go here {x}.", {"q_c4_curly_bracket": True, "q_c4_lorem_ipsum": False}),
    ],
)
def test_signals_exact(text: str, expected: dict[str, object]) -> None:
    got = signals(text)
    for k, v in expected.items():
        assert got[k] == pytest.approx(v), k


def test_signal_columns_present_typed_and_rows_kept_in_order() -> None:
    table = docs(GOOD, "", None, "short text")
    table = table.append_column("license", pa.array(["MIT"] * 4))
    res = score_quality(table, kind="document")
    assert res.table.column_names[:3] == ["doc_id", "text", "license"]
    assert res.table["doc_id"].to_pylist() == ["d0", "d1", "d2", "d3"]
    for name, typ in DOCUMENT_SIGNALS.items():
        assert res.table.schema.field(name).type == typ, name
    assert set(DOCUMENT_SIGNALS) | set(INSTRUCTION_SIGNALS) | set(PREFERENCE_SIGNALS) == set(
        SIGNAL_COLUMNS
    )
    assert res.events.schema.equals(EVENT_SCHEMA)
    assert res.table["q_mean_word_length"][1].as_py() is None  # empty text: no words, null not NaN
    # rerunning on its own output replaces the signal columns instead of duplicating them
    again = score_quality(res.table, kind="document")
    assert again.table.column_names == res.table.column_names


def test_threads_give_identical_signals() -> None:
    texts = [GOOD + f" extra {i}" * (i % 7) for i in range(300)]
    one = score_quality(docs(*texts), kind="document", config=QualityConfig(threads=1))
    two = score_quality(docs(*texts), kind="document", config=QualityConfig(threads=2))
    assert one.table.equals(two.table)


# -- instruction and preference records --------------------------------------------------------


def sft(*rows: tuple[str | None, str | None]) -> pa.Table:
    return pa.table(
        {
            "doc_id": [f"s{i}" for i in range(len(rows))],
            "prompt": [p for p, _ in rows],
            "context": [None] * len(rows),
            "response": [r for _, r in rows],
        }
    )


LONG_ANSWER = " ".join(["The answer explains each step in plain words"] * 6)


@pytest.mark.parametrize(
    ("reason", "prompt", "response"),
    [
        ("sft_trivial_response", "Name a colour.", ""),
        ("sft_trivial_response", "Name a colour.", None),
        ("sft_trivial_response", "Name a colour.", "  ...  "),
        (
            "sft_response_echoes_prompt",
            "Repeat after me: hello there.",
            "repeat after me:   Hello there.",
        ),
        ("sft_truncated_response", "Explain the method.", LONG_ANSWER + " and then the"),
        ("sft_truncated_response", "List the steps.", LONG_ANSWER + ", as follows:"),
        ("sft_truncated_response", "Write code.", "Here it is:\n```python\nprint('hi')\n"),
        ("sft_trivial_response", "Write a short poem about the sea at night.", "Sure!"),
        ("sft_trivial_response", "Summarize the following article in three sentences.", "OK."),
    ],
)
def test_instruction_rules(reason: str, prompt: str, response: str | None) -> None:
    table = sft(("Name a colour.", "Blue"), (prompt, response))
    res = score_quality(table, kind="instruction")
    assert res.keep.tolist() == [True, False]
    assert reasons(res) == {"s1": reason}


def test_instruction_good_answers_kept_and_signals() -> None:
    code = "Use this:\n```python\nprint('hi')\n```"
    res = score_quality(
        sft(("Explain.", LONG_ANSWER + "."), ("Code?", code), ("Yes or no?", "No")),
        kind="instruction",
    )
    assert res.keep.tolist() == [True, True, True]
    assert res.table["q_response_code_fences"].to_pylist() == [0, 2, 0]
    assert res.table["q_response_words"].to_pylist()[2] == 1
    for name, typ in INSTRUCTION_SIGNALS.items():
        assert res.table.schema.field(name).type == typ


def test_preference_rules() -> None:
    table = pa.table(
        {
            "doc_id": ["p0", "p1", "p2"],
            "prompt": ["Q?", "Q?", "Q?"],
            "chosen": ["A good answer.", "Same answer.", ""],
            "rejected": ["A bad answer.", "same   ANSWER.", "Something."],
        }
    )
    res = score_quality(table, kind="preference")
    assert res.keep.tolist() == [True, False, False]
    assert reasons(res) == {"p1": "pref_identical_responses", "p2": "pref_trivial_chosen"}
    assert res.table["q_identical_responses"].to_pylist() == [False, True, False]


def test_evaluation_records_pass_through() -> None:
    table = pa.table({"doc_id": ["e0"], "text": [""], "answer": [None]})
    res = score_quality(table, kind="evaluation")
    assert res.keep.tolist() == [True] and res.events.num_rows == 0 and res.table.equals(table)


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown kind 'tweets'"):
        score_quality(docs(GOOD), kind="tweets")


def test_bad_ngram_config_is_refused() -> None:
    with pytest.raises(ValueError, match="n-gram thresholds"):
        replace(QualityConfig(), top_ngram_char_frac=((5, 0.1),))


# -- real data ---------------------------------------------------------------------------------


def read_jsonl_gz(path: Path, limit: int) -> list[dict]:
    with gzip.open(path, "rt") as f:
        return [json.loads(line) for _, line in zip(range(limit), f, strict=False)]


def test_real_web_documents(shared_data: Path) -> None:
    rows = read_jsonl_gz(next((shared_data / "dolma-cc-2019-sample").glob("*.jsonl.gz")), 400)
    table = pa.table({"doc_id": [r["id"] for r in rows], "text": [r["text"] for r in rows]})
    res = score_quality(table, kind="document")
    kept = res.keep.mean()
    # raw Common Crawl, some of it empty or not English: Gopher + C4 + FineWeb keep ~15 %
    assert 0.05 < kept < 0.5, kept
    dropped = set(np.asarray(table["doc_id"])[~res.keep].tolist())
    assert set(res.events["doc_id"].to_pylist()) == dropped and res.events.num_rows == len(dropped)
    assert all(
        r.startswith(("gopher_", "c4_", "fineweb_", "empty_text", "quality_model_low"))
        for r in res.events["reason"].to_pylist()
    )
    assert not np.isnan(np.asarray(res.events["threshold"], dtype=float)).any()
    words = np.asarray(res.table["q_word_count"])
    assert words.min() >= 0 and np.median(words) > 100


def test_real_instruction_data(shared_data: Path) -> None:
    rows = json.loads((shared_data / "code-alpaca" / "code_alpaca_2k.json").read_text())[:500]
    table = pa.table(
        {
            "doc_id": [f"c{i}" for i in range(len(rows))],
            "prompt": [r["instruction"] for r in rows],
            "context": [r["input"] or None for r in rows],
            "response": [r["output"] for r in rows],
        }
    )
    res = score_quality(table, kind="instruction")
    assert res.keep.mean() > 0.9, reasons(res)
    assert set(res.events["doc_id"].to_pylist()) == set(
        np.asarray(table["doc_id"])[~res.keep].tolist()
    )


def test_real_preference_data(shared_data: Path) -> None:
    rows = read_jsonl_gz(shared_data / "hh-rlhf-harmless-test" / "test.jsonl.gz", 500)
    sep = "\n\nAssistant:"
    prompts = [r["chosen"].rsplit(sep, 1)[0] for r in rows]
    table = pa.table(
        {
            "doc_id": [f"h{i}" for i in range(len(rows))],
            "prompt": prompts,
            "chosen": [r["chosen"].rsplit(sep, 1)[-1] for r in rows],
            "rejected": [r["rejected"].rsplit(sep, 1)[-1] for r in rows],
        }
    )
    res = score_quality(table, kind="preference")
    same = [r["chosen"] == r["rejected"] for r in rows]
    flagged = res.table["q_identical_responses"].to_pylist()
    assert all(f for f, s in zip(flagged, same, strict=True) if s)  # exact copies are flagged
    assert 0.8 < res.keep.mean() <= 1.0


def test_stop_word_rule_only_for_languages_it_knows() -> None:
    """Gopher's stop words are English: a German page must not fail for lacking them."""
    german = " ".join([
        "Die Stadt liegt am Fluss und hat eine lange Geschichte.", "Im Sommer kommen viele Besucher.",
        "Der Markt findet jeden Samstag statt.", "Die Kirche wurde im zwölften Jahrhundert gebaut.",
        "Ein Museum zeigt Funde aus der Römerzeit.", "Die Brücke verbindet zwei Stadtteile.",
        "Im Winter ist es ruhig, aber der Weihnachtsmarkt lockt viele Familien.",
        "Die Schule am Rathaus feiert bald ihr hundertjähriges Bestehen.",
        "Radwege führen entlang des Ufers bis zum nächsten Dorf.",
        "Eine Fähre bringt Pendler morgens über den Strom.",
    ])  # fmt: skip
    table = pa.table({"doc_id": ["de", "en?"], "text": [german, german], "language": ["de", "en"]})
    res = score_quality(table, kind="document")
    assert res.keep.tolist() == [True, False]
    assert reasons(res) == {"en?": "gopher_too_few_stop_words"}
