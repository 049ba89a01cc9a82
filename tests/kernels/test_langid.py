"""detect_language: accuracy on Lingua's test sentences, drop reasons, kinds, codes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from curaline.kernels.langid import (
    NOT_ALLOWED,
    SIGNAL_COLUMNS,
    UNCERTAIN,
    LangIdConfig,
    canonical_code,
    detect_language,
)

MAIN = "ar de en es fa fr he hi it ja ko nl pl pt ru sv tr uk vi zh".split()

EN = "The committee published its annual report on water quality in the northern districts."
FR = "Le comité a publié hier son rapport annuel sur la qualité de l'eau dans les districts."
DE = "Der Ausschuss hat gestern seinen Jahresbericht über die Wasserqualität veröffentlicht."


def _docs(texts: list[str | None]) -> pa.Table:
    return pa.table({"doc_id": [f"d{i}" for i in range(len(texts))], "text": texts})


def test_accuracy_on_lingua_sentences(shared_data: Path) -> None:
    folder = shared_data / "lingua-langid-75lang"
    texts, truth = [], []
    for iso in MAIN:
        lines = (folder / f"{iso}.txt").read_text(encoding="utf-8").splitlines()[:100]
        texts += lines
        truth += [iso] * len(lines)
    res = detect_language(_docs(texts), kind="document", config=LangIdConfig(min_score=0.0))
    got = np.array(res.table.column("language").to_pylist())
    assert (got == np.array(truth)).mean() >= 0.95
    assert res.keep.all() and res.events.num_rows == 0


def test_signal_columns_and_scores() -> None:
    res = detect_language(_docs([EN, FR, "", None]), kind="document")
    for name, typ in SIGNAL_COLUMNS.items():
        assert res.table.schema.field(name).type == typ
    assert res.table.column("language").to_pylist() == ["en", "fr", "und", "und"]
    scores = res.table.column("lang_score").to_numpy()
    assert ((scores >= 0) & (scores <= 1)).all() and scores[0] > 0.5 and scores[2] == 0.0


def test_drop_reasons_with_keep_list() -> None:
    config = LangIdConfig(keep_languages=("en", "de"))
    res = detect_language(_docs([EN, FR, DE, "12345 67 890", ""]), kind="document", config=config)
    assert res.keep.tolist() == [True, False, True, False, False]
    events = res.events.to_pylist()
    assert [(e["doc_id"], e["action"], e["reason"], e["detail"]) for e in events] == [
        ("d3", "drop", UNCERTAIN, "und"),
        ("d4", "drop", UNCERTAIN, "und"),
        ("d1", "drop", NOT_ALLOWED, "fr"),
    ]
    assert events[0]["threshold"] == 0.5 and events[2]["threshold"] is None
    assert events[2]["value"] == pytest.approx(res.table.column("lang_score")[1].as_py())


def test_low_score_is_uncertain_not_wrong() -> None:
    config = LangIdConfig(keep_languages=("en",), min_score=0.99, models="eld")  # no second opinion
    res = detect_language(_docs([EN]), kind="document", config=config)
    assert res.table.column("language").to_pylist() == ["und"]
    assert res.events.to_pylist()[0]["reason"] == UNCERTAIN
    assert res.events.to_pylist()[0]["detail"] == "en"


def test_no_keep_list_keeps_everything() -> None:
    res = detect_language(_docs([FR, "", "%%%"]), kind="document")
    assert res.keep.all() and res.events.num_rows == 0


def test_instruction_reads_prompt_and_response_not_context() -> None:
    table = pa.table(
        {
            "doc_id": ["i0", "i1"],
            "prompt": ["Summarise this.", "Résume ce texte, s'il te plaît."],
            "context": [FR + " " + FR, None],
            "response": [EN, FR],
        }
    )
    res = detect_language(table, kind="instruction", config=LangIdConfig(keep_languages=("en",)))
    assert res.table.column("language").to_pylist() == ["en", "fr"]
    assert res.keep.tolist() == [True, False]


def test_preference_reads_prompt_and_chosen_not_rejected() -> None:
    table = pa.table({"doc_id": ["p0"], "prompt": [EN], "chosen": [EN], "rejected": [DE * 3]})
    res = detect_language(table, kind="preference")
    assert res.table.column("language").to_pylist() == ["en"]


def test_max_chars_reads_the_start() -> None:
    text = (EN + " ") * 12 + (FR + " ") * 40
    res = detect_language(_docs([text]), kind="document", config=LangIdConfig(max_chars=500))
    assert res.table.column("language").to_pylist() == ["en"]


def test_codes() -> None:
    assert canonical_code("eng") == "en"
    assert canonical_code("nb") == "no"
    assert canonical_code("DE") == "de"
    assert canonical_code("swh") == "sw"  # lid.176 knows Swahili
    with pytest.raises(ValueError, match="not one the detector knows"):
        canonical_code("sw", models="eld")
    with pytest.raises(ValueError, match="not one the detector knows"):
        canonical_code("ha")  # Hausa: none of the models
