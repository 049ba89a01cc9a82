"""normalize_text: ftfy's own mojibake cases, crafted control/whitespace/NFC cases, drops."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from curaline.kernels.normalize import (
    CONTROL_CHARS,
    MOJIBAKE,
    NFC,
    SIGNAL_COLUMNS,
    WHITESPACE,
    NormalizeConfig,
    _ftfy_config,
    mojibake_regex,
    normalize_column,
    normalize_text,
)


def _cases(shared_data: Path, name: str) -> list[dict[str, str]]:
    return json.loads((shared_data / "ftfy-mojibake-cases" / f"{name}.json").read_text())


def _docs(texts: list[str | None]) -> pa.Table:
    return pa.table({"doc_id": [f"d{i}" for i in range(len(texts))], "text": texts})


def _run(texts: list[str | None], **cfg: object) -> tuple[list[str | None], list[int]]:
    res = normalize_text(_docs(texts), kind="document", config=NormalizeConfig(**cfg))  # type: ignore[arg-type]
    return res.table.column("text").to_pylist(), res.table.column("normalize_changes").to_pylist()


def test_signal_column_declared() -> None:
    res = normalize_text(_docs(["a"]), kind="document")
    for name, typ in SIGNAL_COLUMNS.items():
        assert res.table.schema.field(name).type == typ


@pytest.mark.parametrize("name", ["in-the-wild", "language-names"])
def test_mojibake_cases_fixed(shared_data: Path, name: str) -> None:
    """Kernel text == ftfy's expected text, once ftfy's non-encoding extras (quote
    uncurling, ligatures, HTML entities), which the kernel skips on purpose, fold both."""
    import ftfy

    extras = ftfy.TextFixerConfig(fix_encoding=False, explain=False)
    cases = _cases(shared_data, name)
    out, bits = _run([c["original"] for c in cases])
    expected, _ = normalize_column(
        pa.array([c["fixed"] for c in cases]), NormalizeConfig(fix_mojibake=False)
    )
    wrong = [
        c["label"]
        for c, o, e in zip(cases, out, expected.to_pylist(), strict=True)
        if ftfy.fix_text(o, extras) != ftfy.fix_text(e, extras)
    ]
    # The one miss needs HTML unescaping first, which HTML source text must not get.
    assert wrong in ([], ["HTML entity on top of UTF-8 / Latin-1"])
    repaired = [ftfy.fix_encoding(c["original"]) != c["original"] for c in cases]
    assert [bool(b & MOJIBAKE) for b in bits] == repaired


def test_negative_cases_left_alone(shared_data: Path) -> None:
    cases = [c for c in _cases(shared_data, "negative") if c["fixed"] == c["original"]]
    out, bits = _run([c["original"] for c in cases], normalize_whitespace=False)
    assert out == [c["original"] for c in cases]
    assert bits == [0] * len(cases)


def test_precheck_flags_everything_ftfy_would_fix(shared_data: Path) -> None:
    import ftfy

    cfg = _ftfy_config()
    texts = [
        c["original"]
        for name in ("in-the-wild", "synthetic", "language-names", "negative", "known-failures")
        for c in _cases(shared_data, name)
    ]
    flagged = pc.match_substring_regex(pa.array(texts), mojibake_regex()).to_pylist()
    missed = [
        t for t, f in zip(texts, flagged, strict=True) if not f and ftfy.fix_text(t, cfg) != t
    ]
    assert missed == []
    assert not pc.any(
        pc.match_substring_regex(pa.array(["plain ASCII", "naïve café"]), mojibake_regex())
    ).as_py()


def test_control_chars_and_ansi_removed() -> None:
    out, bits = _run(
        ["bell\x07 and \x1b[31mred\x1b[0m text\ufeff", "tab\tand\nnewline"],
        normalize_whitespace=False,
    )
    assert out == ["bell and red text", "tab\tand\nnewline"]
    assert bits == [CONTROL_CHARS, 0]


def test_nfc() -> None:
    out, bits = _run(["cafe\u0301", "caf\u00e9"])
    assert out == ["caf\u00e9", "caf\u00e9"]
    assert bits == [NFC, 0]


def test_whitespace_rules_keep_indentation() -> None:
    text = "  intro  text\t here  \r\n\n\n\ndef f():\n    return  1\u00a0\n\n"
    out, bits = _run([text])
    assert out == ["intro text here\n\ndef f():\n    return 1"]
    assert bits == [WHITESPACE]


def test_whitespace_rules_strip_lines() -> None:
    out, _ = _run(["a\n    b  c\n\t d"], keep_indentation=False)
    assert out == ["a\nb c\nd"]


def test_one_event_per_changed_record_with_most_significant_reason() -> None:
    res = normalize_text(_docs(["sÃ³  bad\x00", "fine", "two  spaces"]), kind="document")
    events = res.events.to_pylist()
    assert [(e["doc_id"], e["action"], e["reason"], e["detail"]) for e in events] == [
        ("d0", "modify", "normalize_mojibake", "mojibake,control_chars,whitespace"),
        ("d2", "modify", "normalize_whitespace", "whitespace"),
    ]
    assert res.table.column("text").to_pylist() == ["só bad", "fine", "two spaces"]
    assert res.keep.tolist() == [True, True, True]


def test_empty_required_text_dropped_with_column_named() -> None:
    table = pa.table(
        {
            "doc_id": ["i0", "i1", "i2"],
            "prompt": ["  \n\t", "Sum two numbers.", "Say hi."],
            "context": [None, None, "   "],
            "response": ["x", "\x00\x01", "hi"],
        }
    )
    res = normalize_text(table, kind="instruction")
    assert res.keep.tolist() == [False, False, True]
    drops = res.events.filter(pc.equal(res.events["action"], "drop")).to_pylist()
    assert [(e["doc_id"], e["reason"], e["detail"]) for e in drops] == [
        ("i0", "normalize_empty_text", "prompt"),
        ("i1", "normalize_empty_text", "response"),
    ]
    # An optional column may end empty without dropping its record.
    assert res.table.column("context").to_pylist() == [None, None, ""]
    assert res.table.num_rows == 3 and res.table.column("doc_id").to_pylist() == ["i0", "i1", "i2"]


def test_null_required_text_dropped_and_chunked_input_ok() -> None:
    chunked = pa.table({"doc_id": ["a", "b"], "text": pa.chunked_array([["x  y"], [None]])})
    res = normalize_text(chunked, kind="document")
    assert res.keep.tolist() == [True, False]
    assert res.table.column("text").to_pylist() == ["x y", None]


def test_real_web_mojibake_repaired(shared_data: Path) -> None:
    """Lingua's fr/de web sentences hold real mojibake (C1 apostrophes, UTF-8 as Latin-1)."""
    folder = shared_data / "lingua-langid-75lang"
    lines = [s for iso in ("fr", "de") for s in (folder / f"{iso}.txt").read_text().splitlines()]
    out, bits = _run(lines)
    assert sum(b & MOJIBAKE > 0 for b in bits) >= 100
    # One fr line is lossy garble (bytes already lost) that ftfy rightly leaves alone.
    still_flagged = pc.match_substring_regex(pa.array(out), mojibake_regex())
    assert pc.sum(still_flagged).as_py() == 1
