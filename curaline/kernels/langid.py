"""Language identification with ELD-C (PyPI ``eldc``: C, model compiled in, no download).

Chosen over lingua, py3langid, CLD2, CLD3 and fastText lid.176.ftz by accuracy and
speed on the Lingua test sentences (benchmarks/measure_langid.py): 99 % on the 55 of 75
languages it knows, 50,000-90,000 docs/s on one core. It knows 60 languages; text in a
language it lacks gets the nearest one it knows, confidently for close kin (Indonesian
as ms, Bosnian as hr, Macedonian as sr, Afrikaans as nl), else mostly a score under
``min_score`` (Welsh, Swahili, Zulu...).

Signal columns: ``language`` (ISO 639-1, "und" when undetermined or under ``min_score``)
and ``lang_score`` (ELD's score of the best language, in [0, 1]; not a calibrated
probability).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curaline.kernels.base import KernelResult, empty_events, make_events
from curaline.records import TEXT_COLUMNS

SIGNAL_COLUMNS: dict[str, pa.DataType] = {"language": pa.string(), "lang_score": pa.float64()}

UNDETERMINED = "und"
NOT_ALLOWED = "language_not_allowed"
UNCERTAIN = "language_uncertain"

#: Per kind, the columns read together: the prompt with its answer (not the rejected one).
DETECT_COLUMNS: dict[str, tuple[str, ...]] = {
    "document": ("text",),
    "instruction": ("prompt", "response"),
    "preference": ("prompt", "chosen"),
    "evaluation": ("text",),
}

# Codes people write for the languages ELD reports under another ISO 639-1 code.
_ALIASES = {"nb": "no", "nn": "no", "iw": "he", "in": "id", "fil": "tl"}


@dataclass(frozen=True)
class LangIdConfig:
    """Which languages to keep and how sure the detector must be."""

    # Empty keeps every record and only labels them.
    keep_languages: tuple[str, ...] = ()
    # CCNet (Wenzek et al. 2020, sec. 3.3) labels a document when the top language
    # scores >= 0.5; on corpus-100k 0.55 % of English docs score below it.
    min_score: float = 0.5
    # ELD-C reads the first 1,000 bytes anyway (eldc README, "More info"); cutting in
    # Arrow first spares converting the rest to Python strings.
    max_chars: int = 1000


@cache
def _detector() -> Any:
    """One isolated ELD instance per process (global setters never touch it)."""
    import eldc

    eldc.init()
    inst = eldc.instance()
    inst.set_scores(1)
    return inst


@cache
def supported_languages() -> dict[str, str]:
    """ISO 639-1 and 639-3 (2/T) codes the detector knows -> the code it reports."""
    import eldc

    codes = {c: c for c in eldc.LANGUAGES}
    codes.update(dict(zip(eldc.LANGUAGES_ISO2T, eldc.LANGUAGES, strict=True)))
    return codes


def canonical_code(code: str) -> str:
    """Map a configured code (639-1, 639-3 or a common alias) to the detector's code."""
    code = code.strip().lower()
    code = _ALIASES.get(code, code)
    known = supported_languages()
    if code not in known:
        names = ", ".join(sorted(set(known.values())))
        raise ValueError(f"language {code!r} is not one the detector knows; known: {names}")
    return known[code]


def detection_text(table: pa.Table, kind: str, max_chars: int) -> pa.Array:
    """The kind's detect columns, each cut to an equal share of max_chars, LF-joined."""
    cols = [c for c in DETECT_COLUMNS[kind] if c in table.column_names]
    if not cols:
        raise KeyError(f"{kind} records need one of {DETECT_COLUMNS[kind]} for langid")
    share = max(1, max_chars // len(cols))
    parts = [pc.utf8_slice_codeunits(pc.fill_null(table.column(c), ""), 0, share) for c in cols]
    if len(parts) == 1:
        return parts[0]
    return pc.binary_join_element_wise(*parts, "\n")


def detect_strings(texts: list[str]) -> tuple[list[str], np.ndarray]:
    """Best language and its score per string; ELD is C, the loop costs ~10 us a doc."""
    det = _detector()
    langs: list[str] = []
    scores = np.zeros(len(texts), dtype=np.float64)
    for i, text in enumerate(texts):
        r = det.detect_details(text)
        langs.append(r.language)
        if r.scores:
            scores[i] = r.scores.get(r.language, 0.0)
    return langs, scores


def detect_language(
    table: pa.Table, *, kind: str, config: LangIdConfig | None = None
) -> KernelResult:
    """Label each record's language; with a keep-list, drop the others and the unsure."""
    config = config or LangIdConfig()
    if kind not in TEXT_COLUMNS:
        raise ValueError(f"unknown record kind {kind!r}")
    keep_codes = {canonical_code(c) for c in config.keep_languages}

    text = detection_text(table, kind, config.max_chars)
    detected, scores = detect_strings(text.to_pylist())
    detected_arr = np.array(detected, dtype=object)
    sure = (scores >= config.min_score) & (detected_arr != UNDETERMINED)
    language = np.where(sure, detected_arr, UNDETERMINED)

    for name, values in (
        ("language", pa.array(language.tolist(), type=pa.string())),
        ("lang_score", pa.array(scores, type=pa.float64())),
    ):
        if name in table.column_names:
            table = table.set_column(table.column_names.index(name), name, values)
        else:
            table = table.append_column(name, values)

    n = table.num_rows
    keep = np.ones(n, dtype=bool)
    events = [empty_events()]
    if keep_codes:
        allowed = np.isin(detected_arr, list(keep_codes))
        uncertain = ~sure
        not_allowed = sure & ~allowed
        keep = sure & allowed
        doc_ids = table.column("doc_id")
        for mask, reason, threshold in (
            (uncertain, UNCERTAIN, config.min_score),
            (not_allowed, NOT_ALLOWED, None),
        ):
            if mask.any():
                idx = np.flatnonzero(mask)
                events.append(
                    make_events(
                        doc_ids.take(pa.array(idx)).combine_chunks(),
                        "drop",
                        reason,
                        value=scores[idx],
                        threshold=threshold,
                        detail=detected_arr[idx].tolist(),
                    )
                )
    return KernelResult(table=table, keep=keep, events=pa.concat_tables(events))
