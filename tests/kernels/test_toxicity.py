"""Toxicity: crafted severe / moderate / legitimate cases with exact reasons, the policy,
the signal columns and ledger contract, and loose bounds on real labelled data.

Hateful sentences are stored ROT13-encoded (decoded at run time) so this file does not
display them; profanity appears only in obfuscated forms.
"""

from __future__ import annotations

import codecs
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.json as pj
import pytest

from curaline.demo.textbank import TOXIC_LINES
from curaline.kernels.base import EVENT_SCHEMA
from curaline.kernels.toxicity import (
    CATEGORIES,
    LEXICON_PATH,
    SIGNAL_COLUMNS,
    ToxicityConfig,
    score_toxicity,
    toxicity_scores,
)

SAFE = LEXICON_PATH.with_name("safe_usage.txt")


def rot(text: str) -> str:
    return codecs.decode(text, "rot13")


def docs(*texts: str | None) -> pa.Table:
    return pa.table(
        {"doc_id": [f"d{i}" for i in range(len(texts))], "text": pa.array(texts, type=pa.string())}
    )


def score(text: str) -> float:
    return float(toxicity_scores(pa.array([text])).max())


def tags(result_table: pa.Table) -> list[list[str]]:
    return result_table["toxicity_tags"].to_pylist()


def test_legitimate_sensitive_usage_is_never_dropped() -> None:
    lines = [
        ln
        for ln in SAFE.read_text(encoding="utf-8").splitlines()
        if ln.strip() and not ln.startswith("#")
    ]
    assert len(lines) >= 30
    res = score_toxicity(docs(*lines), kind="document")
    assert res.keep.all()
    assert res.events.num_rows == 0
    # only the museum sentence quoting Nazi propaganda is tagged (reporting frame)
    assert sum(bool(t) for t in tags(res.table)) <= 2


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("I will kill you if you come back here.", "toxicity_violence"),
        ("I'll kill you", "toxicity_violence"),
        ("Keep this up and I will find out where you live.", "toxicity_violence"),
        ("I swear I will come round and smash your stupid face in.", "toxicity_violence"),
        ("People like you deserve a beating.", "toxicity_violence"),
        ("We are going to hunt you down.", "toxicity_violence"),
        ("Someone should punch you in the face.", "toxicity_violence"),
        ("I will beat you senseless.", "toxicity_violence"),
        ("I know where you live.", "toxicity_violence"),
        ("he deserves to be punched", "toxicity_violence"),
        ("Nobody likes you, go kill yourself.", "toxicity_self_harm"),
        ("kys", "toxicity_self_harm"),
        (rot("Zhfyvzf ner irezva naq fubhyq yrnir."), "toxicity_identity_hate"),
        (rot("trg bhg bs urer lbh snttbg"), "toxicity_identity_hate"),
        (rot("Orvat tnl vf qvfthfgvat."), "toxicity_identity_hate"),
        (rot("fryyvat puvyq cbea urer"), "toxicity_sexual"),
    ],
)
def test_severe_records_are_dropped_with_category_reason(text: str, reason: str) -> None:
    res = score_toxicity(docs("A clean sentence about Arrow tables.", text), kind="document")
    assert res.keep.tolist() == [True, False]
    ev = res.events.to_pylist()
    assert [(e["doc_id"], e["action"], e["reason"]) for e in ev] == [("d1", "drop", reason)]
    assert ev[0]["value"] == pytest.approx(res.table["toxicity"][1].as_py())
    assert ev[0]["threshold"] == 0.8
    assert ev[0]["detail"] == "column=text"
    assert res.events.schema == EVENT_SCHEMA
    assert res.table["toxicity_category"][1].as_py() == reason.removeprefix("toxicity_")


@pytest.mark.parametrize(
    ("text", "tag"),
    [
        ("you are an idiot", "insult"),
        ("what a b1tch", "insult"),
        ("f*ck this build", "profanity"),
        ("f.u.c.k this build", "profanity"),
        ("fuuuuuck this build", "profanity"),
        ("f\u200buck this build", "profanity"),
        ("F**K THIS BUILD", "profanity"),
        ("sh!t happens", "profanity"),
        ("I want to die, honestly.", "self_harm"),
        # targeted insults with no profanity: copula, vocative, comma vocative
        ("You are a brainless clown.", "insult"),
        ("Shut up, you ignorant fool.", "insult"),
        ("you worthless creep", "insult"),
        ("You are a disgusting scientist.", "insult"),
        ("you're pathetic", "insult"),
        ("You are a waste of space.", "insult"),
        ("Thanks, idiot.", "insult"),
        # aimed at a third party or at what someone wrote
        ("This idiot keeps reverting my edits.", "insult"),
        ("Only a moron would believe that.", "insult"),
        ("What a pathetic loser.", "insult"),
        ("They are a disgusting creep.", "insult"),
        ("Your argument is worthless garbage.", "insult"),
        # harassment and direct abuse
        ("Nobody wants you here.", "insult"),
        ("No one asked for your opinion.", "insult"),
        ("Go crawl back under your rock.", "insult"),
        ("I am going to follow you around every thread.", "insult"),
        ("I hate you.", "insult"),
        ("you suck", "insult"),
        ("Watch your back.", "violence"),
    ],
)
def test_moderate_records_are_kept_and_tagged(text: str, tag: str) -> None:
    res = score_toxicity(docs(text), kind="document")
    assert res.keep.tolist() == [True]
    assert res.events.num_rows == 0
    assert tags(res.table)[0][0] == tag
    assert 0.4 <= res.table["toxicity"][0].as_py() < 0.8


def test_targeting_raises_insult_severity() -> None:
    assert score("He made an idiot mistake again.") < 0.4
    assert score("you are an idiot") >= 0.6
    assert score("you are a f*cking idiot") > score("you are an idiot")


def test_demo_toxic_lines_are_tagged_and_threats_dropped() -> None:
    lines = [(cat, line) for cat, ls in TOXIC_LINES.items() for line in ls]
    res = score_toxicity(docs(*(line for _, line in lines)), kind="document")
    cats = res.table["toxicity_category"].to_pylist()
    for (kind, _), s, c, keep in zip(
        lines, res.table["toxicity"].to_pylist(), cats, res.keep.tolist(), strict=True
    ):
        if kind == "threat":
            assert (c, keep) == ("violence", False) and s >= 0.8
        else:
            assert (c, keep) == ("insult", True) and 0.4 <= s < 0.8


@pytest.mark.parametrize(
    "text",
    [
        "I'll beat you to it.",
        "I will beat you at chess.",
        "We will destroy you in the finals.",
        "I'll cut you some slack.",
        "I will hit you up later.",
        "I will find you a seat.",
        "If you skip backups you will regret it.",
        "Nobody wants you to fail.",
        "I'll follow you on Twitter.",
        "This freak accident stopped the line.",
        "That fool's errand took a week.",
        "The creep of those alloys keeps rising.",
        "She is a clown in the circus.",
        "The garbage collector frees this garbage early.",
        "Watch your step on the wet floor.",
        "Sinners go to hell in the sermon.",
        "you are not stupid",
        "I'd kill for a coffee.",
    ],
)
def test_idioms_near_threat_and_insult_frames_are_not_tagged(text: str) -> None:
    assert score(text) < 0.4


def test_violence_needs_a_person_as_object() -> None:
    assert score("Use kill -9 to kill the process, then kill them all if they hang.") == 0
    assert score("The watchdog will kill the daemon.") == 0
    assert score("I will kill you") >= 0.8
    assert score("Don't kill yourself over this bug; it can wait.") == 0


def test_medical_context_damps_clinical_words() -> None:
    plain = score("He showed her his penis.")
    clinical = score("The urologist examined the penis for signs of infection.")
    assert 0 < clinical < plain < 0.4
    assert score("Breast cancer screening saves lives.") == 0
    assert score("The suicide prevention hotline is open all night.") < 0.4


def test_quoted_or_reported_slur_is_tagged_not_dropped() -> None:
    slur = rot("snttbg")
    direct = score_toxicity(docs(f"get out {slur}"), kind="document")
    quoted = score_toxicity(
        docs(f"The report said he was called a '{slur}' at school."), kind="document"
    )
    assert direct.keep.tolist() == [False]
    assert quoted.keep.tolist() == [True]
    assert tags(quoted.table) == [["identity_hate"]]


def test_identity_terms_alone_score_zero() -> None:
    texts = [
        "I am a gay Muslim woman.",
        "Being transgender is wonderful.",
        "Black and white photographs of Jewish and Mexican families.",
        "The old version of the straight line algorithm.",
    ]
    assert toxicity_scores(pa.array(texts)).max() == 0


def test_per_category_drop_threshold() -> None:
    config = ToxicityConfig(category_drop_severity=(("insult", 0.6),))
    res = score_toxicity(
        docs("you are an idiot", "f*ck this build"), kind="document", config=config
    )
    assert res.keep.tolist() == [False, True]
    (ev,) = res.events.to_pylist()
    assert (ev["reason"], ev["threshold"]) == ("toxicity_insult", 0.6)
    strict = score_toxicity(
        docs("f*ck this build"), kind="document", config=ToxicityConfig(tag_severity=0.9)
    )
    assert tags(strict.table) == [[]]


def test_signal_columns_nulls_and_rerun() -> None:
    res = score_toxicity(docs(None, "", "fine text", "you are an idiot"), kind="document")
    for name, typ in SIGNAL_COLUMNS.items():
        assert res.table.schema.field(name).type == typ
    assert res.table["toxicity"].to_pylist()[:3] == [0.0, 0.0, 0.0]
    assert res.table["toxicity_category"].to_pylist() == [None, None, None, "insult"]
    assert tags(res.table) == [[], [], [], ["insult"]]
    again = score_toxicity(res.table, kind="document")
    assert again.table.column_names == res.table.column_names
    assert again.table.equals(res.table)


def test_instruction_and_preference_columns() -> None:
    instr = pa.table(
        {
            "doc_id": ["a", "b"],
            "prompt": ["Summarise this.", "Write a reply."],
            "context": pa.array([None, None], type=pa.string()),
            "response": ["Sure, here it is.", "I will kill you."],
        }
    )
    res = score_toxicity(instr, kind="instruction")
    assert res.keep.tolist() == [True, False]
    assert res.events["detail"].to_pylist() == ["column=response"]
    # the rejected answer of a harmlessness pair is toxic by design: not scored by default
    pref = pa.table(
        {
            "doc_id": ["p"],
            "prompt": ["Say something."],
            "chosen": ["I'd rather not."],
            "rejected": ["I will kill you."],
        }
    )
    assert score_toxicity(pref, kind="preference").keep.tolist() == [True]
    strict = ToxicityConfig(exempt_columns=())
    assert score_toxicity(pref, kind="preference", config=strict).keep.tolist() == [False]


def test_bad_arguments_raise() -> None:
    with pytest.raises(ValueError, match="unknown record kind"):
        score_toxicity(docs("x"), kind="tweet")
    with pytest.raises(ValueError, match="unknown toxicity categories"):
        score_toxicity(
            docs("x"),
            kind="document",
            config=ToxicityConfig(category_drop_severity=(("rude", 0.5),)),
        )
    with pytest.raises(ValueError, match="need text columns"):
        score_toxicity(pa.table({"doc_id": ["a"]}), kind="document")
    assert set(CATEGORIES) >= {
        "insult",
        "identity_hate",
        "sexual",
        "violence",
        "self_harm",
        "profanity",
    }


# ------------------------------------------------------------------ real data, loose bounds


def test_madlib_identity_sentences_no_false_positives(shared_data: Path) -> None:
    """Dixon et al. 2018 madlibs: measured FPR 0.000 flagged, 0.000 dropped; TPR 0.77+."""
    m = pcsv.read_csv(shared_data / "wiki-toxicity-bias" / "bias_madlibs_77k.csv")
    bad = np.asarray(m["Label"].to_pylist()) == "BAD"
    template = np.asarray(m["Template"].to_pylist())
    s = toxicity_scores(m["Text"]).max(axis=1)
    assert (s[~bad] >= 0.4).mean() < 0.005
    assert (s[~bad] >= 0.8).sum() == 0
    for t in set(template):
        assert (s[~bad & (template == t)] >= 0.4).mean() < 0.01, t
    assert (s[bad] >= 0.4).mean() > 0.6


def test_davidson_precision_recall(shared_data: Path) -> None:
    """Measured: flagged vs offensive∪hate P 0.988 R 0.929; dropped vs hate P 0.38 R 0.41."""
    d = pcsv.read_csv(shared_data / "davidson-hate-offensive" / "labeled_data.csv")
    cls = d["class"].to_numpy()
    s = toxicity_scores(d["tweet"]).max(axis=1)
    flag, drop = s >= 0.4, s >= 0.8

    def pr(pred: np.ndarray, gold: np.ndarray) -> tuple[float, float]:
        tp = (pred & gold).sum()
        return tp / pred.sum(), tp / gold.sum()

    p, r = pr(flag, cls < 2)
    assert p > 0.95 and r > 0.85
    p, r = pr(drop, cls == 0)
    assert p > 0.3 and r > 0.3
    assert flag[cls == 2].mean() < 0.08


def test_wiki_talk_comments_held_out(shared_data: Path) -> None:
    """Held out (never tuned on): flagged measured P 0.75 R 0.51 (R 0.48 before the
    insult/threat/harassment frames)."""
    base = shared_data / "wiki-toxicity-bias"
    real = pcsv.read_csv(base / "toxicity_nonfuzzed_testset.csv")
    gold = np.asarray(real["toxic"].to_pylist(), dtype=bool)
    flag = toxicity_scores(real["comment"]).max(axis=1) >= 0.4
    tp = (flag & gold).sum()
    assert tp / flag.sum() > 0.7
    assert tp / gold.sum() > 0.49


def test_technical_prose_is_not_dropped(shared_dir: Path) -> None:
    """corpus-100k shard 0 (5,000 docs of man pages, kernel docs...): measured 0 drops."""
    raw = pj.read_json(shared_dir / "bench" / "corpus-100k" / "00000.jsonl.gz")
    res = score_toxicity(pa.table({"doc_id": raw["id"], "text": raw["text"]}), kind="document")
    assert (~res.keep).sum() <= 2
    tagged = pc.sum(pc.greater(pc.list_value_length(res.table["toxicity_tags"]), 0)).as_py()
    assert tagged <= 25
