"""Heuristic quality rules: Gopher, C4 and FineWeb for documents; SFT / preference checks.

Every rule has a name, a configurable threshold that cites its source, and a per-record
signal column, so an operator can re-threshold from the stored signals without
recomputing. A dropped record gets one ledger event: the first failing rule, with the
measured value and the threshold. Rules run in datatrove's order (Gopher repetition,
Gopher quality, C4, FineWeb), so reasons line up with a datatrove pipeline of the same
filters. The per-document signals come from one compiled pass (textstats.py).

Differences from datatrove 0.10.1, by design:
- words come from a spaCy-like tokenizer, not spaCy itself (signals agree within ~0.5 %);
- C4 decides at document level only (lorem ipsum, curly bracket, too few sentences); it
  does not rewrite the text to its kept lines, and the FineWeb rules see the original text;
- FineWeb's duplicated-line character ratio defaults to the paper's 0.1, not datatrove's
  0.01.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curaline.kernels import code_rules as cr
from curaline.kernels import textstats as ts
from curaline.kernels.base import KernelResult, empty_events, make_events
from curaline.records import TEXT_COLUMNS

#: Gopher's stop words (Rae et al. 2021, App. A; datatrove STOP_WORDS).
GOPHER_STOP_WORDS = ("the", "be", "to", "of", "and", "that", "have", "with")
TOP_NGRAMS = (2, 3, 4)
DUP_NGRAMS = (5, 6, 7, 8, 9, 10)
#: Last characters that end a complete answer (terminal punctuation, closers, code fences).
_ANSWER_ENDS = sorted(set(ts._TERMINAL) | set("\"')]}`*>|\u201d\u2019\u00bb%0123456789"))

_F64, _I64, _BOOL = pa.float64(), pa.int64(), pa.bool_()

#: words an English sentence does not end on: an answer ending on one was cut off
_DANGLING_WORDS = (
    "the", "a", "an", "and", "or", "but", "so", "of", "to", "in", "on", "at", "for", "from", "with",
    "by", "as", "your", "my", "our", "their", "his", "her", "its", "this", "that", "these", "those",
    "is", "are", "was", "were", "be", "will", "would", "can", "could", "should", "if", "because",
    "than", "then", "which", "who", "whose", "when", "where", "while", "into", "about", "we", "i",
)  # fmt: skip

#: Signal columns added for kind "document" (name -> arrow type).
DOCUMENT_SIGNALS: dict[str, pa.DataType] = {
    "q_char_count": _I64,
    "q_token_count": _I64,  # spaCy-like tokens, punctuation included (Gopher's "words")
    "q_word_count": _I64,  # tokens with a non-punctuation character
    "q_mean_word_length": _F64,
    "q_hash_ratio": _F64,
    "q_ellipsis_ratio": _F64,
    "q_bullet_line_frac": _F64,
    "q_ellipsis_line_frac": _F64,
    "q_alpha_word_frac": _F64,
    "q_stop_word_count": _I64,
    "q_dup_para_frac": _F64,
    "q_dup_para_char_frac": _F64,
    "q_dup_line_frac": _F64,
    "q_dup_line_char_frac": _F64,
    **{f"q_top_{n}gram_frac": _F64 for n in TOP_NGRAMS},
    **{f"q_dup_{n}gram_frac": _F64 for n in DUP_NGRAMS},
    "q_c4_sentences": _I64,
    "q_c4_lorem_ipsum": _BOOL,
    "q_c4_curly_bracket": _BOOL,
    "q_c4_line_keep_frac": _F64,
    "q_fw_line_punct_frac": _F64,
    "q_fw_short_line_frac": _F64,
    "q_fw_dup_line_char_frac": _F64,
    "q_fw_list_ratio": _F64,
    **cr.CODE_SIGNALS,  # null unless code_rules is on
    "q_model_score": _F64,  # the learned classifier's P(reference-like); null when it is off
}
#: Signal columns added for kind "instruction".
INSTRUCTION_SIGNALS: dict[str, pa.DataType] = {
    "q_response_words": _I64,
    "q_response_echoes_prompt": _BOOL,
    "q_response_unterminated": _BOOL,
    "q_response_code_fences": _I64,
}
#: Signal columns added for kind "preference".
PREFERENCE_SIGNALS: dict[str, pa.DataType] = {
    "q_chosen_words": _I64,
    "q_rejected_words": _I64,
    "q_identical_responses": _BOOL,
}
SIGNALS_BY_KIND: dict[str, dict[str, pa.DataType]] = {
    "document": DOCUMENT_SIGNALS,
    "instruction": INSTRUCTION_SIGNALS,
    "preference": PREFERENCE_SIGNALS,
    "evaluation": {},
}
#: Every signal column this stage may add, over all kinds (name -> arrow type).
SIGNAL_COLUMNS: dict[str, pa.DataType] = {
    **DOCUMENT_SIGNALS,
    **INSTRUCTION_SIGNALS,
    **PREFERENCE_SIGNALS,
}

# signal column -> (array, index) in textstats' outputs
_FROM_KERNEL: dict[str, tuple[str, str]] = {
    "q_char_count": ("i", "char_count"),
    "q_token_count": ("i", "token_count"),
    "q_word_count": ("i", "word_count"),
    "q_stop_word_count": ("i", "stop_word_count"),
    "q_c4_sentences": ("i", "c4_sentences"),
    "q_c4_lorem_ipsum": ("i", "c4_lorem_ipsum"),
    "q_c4_curly_bracket": ("i", "c4_curly_bracket"),
    "q_fw_list_ratio": ("f", "fw_newline_word_ratio"),
}


@dataclass(frozen=True)
class QualityConfig:
    """Thresholds of the quality rules; None switches a rule off."""

    gopher_repetition: bool = True
    gopher_quality: bool = True
    c4: bool = True
    fineweb: bool = True
    #: The Stack / StarCoder file rules (code_rules.py), for code sources (profile "code")
    code_rules: bool = False

    # Learned classifier (quality_model.py): "builtin" = the model shipped in the package,
    # a path (relative to the project) = one trained with `curaline quality train`, None =
    # off. Documents scoring below quality_model_low are dropped (`quality_model_low`).
    # The default threshold only removes what the classifier is confident is not prose
    # like its reference text (DCLM keeps the top 10 %; a default must be far gentler).
    quality_model: str | None = "builtin"
    quality_model_low: float | None = 0.1

    # Gopher quality: Rae et al. 2021 (arXiv 2112.11446) App. A.1.1, as datatrove's
    # GopherQualityFilter. Words exclude punctuation-only tokens for count and length.
    min_doc_words: int | None = 50
    max_doc_words: int | None = 100_000
    min_avg_word_length: float | None = 3
    max_avg_word_length: float | None = 10
    max_symbol_word_ratio: float | None = 0.1  # "#" and "..." per token
    max_bullet_lines_ratio: float | None = 0.9
    max_ellipsis_lines_ratio: float | None = 0.3
    min_alpha_words_ratio: float | None = 0.8  # tokens holding an alphabetic character
    min_stop_words: int | None = 2
    stop_words: tuple[str, ...] = GOPHER_STOP_WORDS

    # Gopher repetition: Rae et al. 2021, Table A1 (datatrove GopherRepetitionFilter).
    dup_para_frac: float | None = 0.3
    dup_para_char_frac: float | None = 0.2
    dup_line_frac: float | None = 0.3
    dup_line_char_frac: float | None = 0.2
    top_ngram_char_frac: tuple[tuple[int, float], ...] = ((2, 0.20), (3, 0.18), (4, 0.16))
    dup_ngram_char_frac: tuple[tuple[int, float], ...] = (
        (5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10),
    )  # fmt: skip

    # C4: Raffel et al. 2020 (JMLR 21(140)) Sec. 2.2, as datatrove's C4QualityFilter.
    # Lines count towards the sentence total only if they end in terminal punctuation,
    # hold >= 3 words, no word > 1000 chars, no "javascript" and no policy phrase.
    c4_min_sentences: int | None = 5
    c4_min_words_per_line: int = 3
    c4_require_terminal_punct: bool = True  # FineWeb's pipeline sets this False
    c4_max_word_length: int = 1000
    c4_drop_lorem_ipsum: bool = True
    c4_drop_curly_bracket: bool = True

    # FineWeb: Penedo et al. 2024 (arXiv 2406.17557) Sec. 3.5 custom filters.
    fw_min_line_punct_ratio: float | None = 0.12
    fw_max_short_line_ratio: float | None = 0.67  # lines of <= 30 characters
    fw_max_dup_line_char_ratio: float | None = 0.1  # paper; datatrove's default is 0.01
    fw_max_list_ratio: float | None = 0.3  # newlines per word (datatrove new_line_ratio)

    # Instruction / preference records (Alpaca-cleaned and LIMA style curation checks).
    min_response_words: int = 1  # fewer letters-or-digits words: trivial
    # a stock acknowledgement ("OK.", "Sure.", "Thanks!") answering a real instruction (this
    # many prompt words or more) is trivial too, while "No" to "Yes or no?" stays
    trivial_prompt_words: int = 6
    stock_acknowledgements: tuple[str, ...] = (
        "ok", "okay", "yes", "no", "sure", "thanks", "thank you", "done", "noted", "got it",
        "n/a", "none", "i don't know", "sure thing", "of course", "will do",
    )  # fmt: skip
    truncation_min_words: int = 40  # long answers must end like a sentence or a block
    drop_prompt_echo: bool = True
    drop_identical_preference: bool = True

    # Code rules thresholds (code_rules.CodeRulesConfig; The Stack and StarCoder values).
    code_max_line_length: int | None = 1000
    code_max_mean_line_length: float | None = 100
    code_min_alnum_frac: float | None = 0.25
    code_autogenerated_lines: int | None = 5
    code_minified_line_length: int = 300
    code_minified_max_whitespace_frac: float = 0.05
    code_drop_minified: bool = True
    code_max_data_line_frac: float | None = 0.5
    code_drop_xml_data: bool = True

    threads: int = 1  # compiled kernel threads per batch (it releases the GIL)

    #: the Gopher stop-word rule counts English stop words, so it only applies to records
    #: the language stage labelled with one of these (or to all when there is no label)
    stop_word_languages: tuple[str, ...] = ("en",)

    def __post_init__(self) -> None:
        if tuple(n for n, _ in self.top_ngram_char_frac) != TOP_NGRAMS[: len(
            self.top_ngram_char_frac
        )] or tuple(n for n, _ in self.dup_ngram_char_frac) != DUP_NGRAMS[: len(
            self.dup_ngram_char_frac
        )]:  # fmt: skip
            raise ValueError("n-gram thresholds cover n = 2, 3, 4 (top) and 5..10 (duplicated)")
        if self.quality_model_low is not None and not 0 <= self.quality_model_low <= 1:
            raise ValueError(f"quality_model_low must be a probability in [0, 1], got {self.quality_model_low}")

    def code_config(self) -> cr.CodeRulesConfig:
        return cr.CodeRulesConfig(
            max_line_length=self.code_max_line_length, max_mean_line_length=self.code_max_mean_line_length,
            min_alnum_frac=self.code_min_alnum_frac, autogenerated_lines=self.code_autogenerated_lines,
            minified_line_length=self.code_minified_line_length,
            minified_max_whitespace_frac=self.code_minified_max_whitespace_frac,
            drop_minified=self.code_drop_minified, max_data_line_frac=self.code_max_data_line_frac,
            drop_xml_data=self.code_drop_xml_data,
        )  # fmt: skip


def _col(x: np.ndarray, typ: pa.DataType) -> pa.Array:
    if typ == _F64 or (typ == _I64 and x.dtype.kind == "f"):
        mask = np.isnan(x)
        return pa.array(np.where(mask, 0, x).astype(np.int64) if typ == _I64 else x, type=typ, mask=mask)
    return pa.array(x.astype(bool) if typ == _BOOL else x, type=typ)


def _attach(table: pa.Table, cols: dict[str, pa.Array]) -> pa.Table:
    for name, arr in cols.items():
        i = table.schema.get_field_index(name)
        table = table.set_column(i, name, arr) if i >= 0 else table.append_column(name, arr)
    return table


@dataclass
class _Rule:
    name: str
    fails: np.ndarray
    value: np.ndarray
    threshold: float


def _decide(table: pa.Table, rules: list[_Rule]) -> KernelResult:
    n = table.num_rows
    if not rules:
        return KernelResult(table, np.ones(n, dtype=bool), empty_events())
    fails = np.stack([r.fails for r in rules])
    keep: np.ndarray = np.asarray(~fails.any(axis=0))
    rows = np.flatnonzero(~keep)
    if rows.size == 0:
        return KernelResult(table, keep, empty_events())
    first: np.ndarray = np.asarray(fails[:, rows].argmax(axis=0))
    values = np.stack([r.value.astype(np.float64) for r in rules])[first, rows]
    names = np.array([r.name for r in rules], dtype=object)
    thresholds = np.array([r.threshold for r in rules], dtype=np.float64)
    boxed = values.astype(object)
    boxed[np.isnan(values)] = None  # null, not NaN, where a signal is undefined
    events = make_events(
        table["doc_id"].take(pa.array(rows)),
        "drop",
        np.take(names, first).tolist(),
        value=boxed.tolist(),
        threshold=thresholds[first].tolist(),
    )
    return KernelResult(table, keep, events)


def _document_rules(
    sig: dict[str, np.ndarray], empty: np.ndarray, c: QualityConfig, stop_word_lang: np.ndarray | None = None
) -> list[_Rule]:
    rules = [_Rule("empty_text", empty, sig["q_char_count"], 0)]
    ok = ~empty

    def below(name: str, col: str, thr: float | None) -> None:
        if thr is not None:
            rules.append(_Rule(name, ok & (sig[col] < thr), sig[col], thr))

    def above(name: str, col: str, thr: float | None) -> None:
        if thr is not None:
            rules.append(_Rule(name, ok & (sig[col] > thr), sig[col], thr))

    if c.gopher_repetition:
        above("gopher_rep_dup_para_frac", "q_dup_para_frac", c.dup_para_frac)
        above("gopher_rep_dup_para_char_frac", "q_dup_para_char_frac", c.dup_para_char_frac)
        above("gopher_rep_dup_line_frac", "q_dup_line_frac", c.dup_line_frac)
        above("gopher_rep_dup_line_char_frac", "q_dup_line_char_frac", c.dup_line_char_frac)
        for n, thr in c.top_ngram_char_frac:
            above(f"gopher_rep_top_{n}gram", f"q_top_{n}gram_frac", thr)
        for n, thr in c.dup_ngram_char_frac:
            above(f"gopher_rep_dup_{n}gram", f"q_dup_{n}gram_frac", thr)
    if c.gopher_quality:
        below("gopher_short_doc", "q_word_count", c.min_doc_words)
        above("gopher_long_doc", "q_word_count", c.max_doc_words)
        below("gopher_below_avg_threshold", "q_mean_word_length", c.min_avg_word_length)
        above("gopher_above_avg_threshold", "q_mean_word_length", c.max_avg_word_length)
        above("gopher_too_many_hashes", "q_hash_ratio", c.max_symbol_word_ratio)
        above("gopher_too_many_ellipsis", "q_ellipsis_ratio", c.max_symbol_word_ratio)
        above("gopher_too_many_bullets", "q_bullet_line_frac", c.max_bullet_lines_ratio)
        above("gopher_too_many_end_ellipsis", "q_ellipsis_line_frac", c.max_ellipsis_lines_ratio)
        below("gopher_below_alpha_threshold", "q_alpha_word_frac", c.min_alpha_words_ratio)
        if c.min_stop_words is not None:
            few = ok & (sig["q_stop_word_count"] < c.min_stop_words)
            if stop_word_lang is not None:
                few &= stop_word_lang
            rules.append(_Rule("gopher_too_few_stop_words", few, sig["q_stop_word_count"], c.min_stop_words))
    if c.c4:
        first = sig["_c4_first"]
        if c.c4_drop_lorem_ipsum:
            lorem = ok & sig["q_c4_lorem_ipsum"].astype(bool)
            if c.c4_drop_curly_bracket:
                lorem &= (first == 1) | ~sig["q_c4_curly_bracket"].astype(bool)
            rules.append(_Rule("c4_lorem_ipsum", lorem, sig["q_c4_lorem_ipsum"], 1))
        if c.c4_drop_curly_bracket:
            curly = ok & sig["q_c4_curly_bracket"].astype(bool)
            rules.append(_Rule("c4_curly_bracket", curly, sig["q_c4_curly_bracket"], 1))
        below("c4_too_few_sentences", "q_c4_sentences", c.c4_min_sentences)
    if c.fineweb:
        below("fineweb_line_punct_ratio", "q_fw_line_punct_frac", c.fw_min_line_punct_ratio)
        above("fineweb_short_line_ratio", "q_fw_short_line_frac", c.fw_max_short_line_ratio)
        above("fineweb_char_dup_ratio", "q_fw_dup_line_char_frac", c.fw_max_dup_line_char_ratio)
        above("fineweb_list_ratio", "q_fw_list_ratio", c.fw_max_list_ratio)
    return rules


def document_signals(
    texts: pa.Array | pa.ChunkedArray, config: QualityConfig
) -> dict[str, np.ndarray]:
    """Signal arrays by column name (plus the internal "_c4_first")."""
    f, i = ts.compute_signals(
        texts,
        stop_words=config.stop_words,
        c4_min_words_per_line=config.c4_min_words_per_line,
        c4_require_terminal_punct=config.c4_require_terminal_punct,
        c4_max_word_length=config.c4_max_word_length,
        threads=config.threads,
    )
    out: dict[str, np.ndarray] = {}
    for col in DOCUMENT_SIGNALS:
        if col in cr.CODE_SIGNALS or col == "q_model_score":
            continue  # not textstats' signals: score_quality adds them
        arr, key = _FROM_KERNEL.get(col, ("f", col.removeprefix("q_")))
        out[col] = i[:, ts.I[key]] if arr == "i" else f[:, ts.F[key]]
    out["_c4_first"] = i[:, ts.I["c4_first_doc_rule"]]
    return out


def _text(table: pa.Table, col: str) -> pa.ChunkedArray:
    return pc.fill_null(table[col], "")


def _norm(x: pa.ChunkedArray) -> pa.ChunkedArray:
    return pc.utf8_trim_whitespace(pc.replace_substring_regex(pc.utf8_lower(x), r"\s+", " "))


def _words(x: pa.ChunkedArray) -> np.ndarray:
    return pc.count_substring_regex(x, r"[\pL\pN]+").to_numpy(zero_copy_only=False)


def _np(x: pa.ChunkedArray) -> np.ndarray:
    return x.to_numpy(zero_copy_only=False)


def _instruction(table: pa.Table, c: QualityConfig) -> KernelResult:
    prompt, resp = _text(table, "prompt"), _text(table, "response")
    words = _words(resp)
    echo = _np(pc.equal(_norm(prompt), _norm(resp))) & (words > 0)
    trimmed = pc.utf8_rtrim_whitespace(resp)
    last = pc.utf8_slice_codeunits(trimmed, -1)
    unterminated = ~_np(pc.is_in(last, value_set=pa.array(_ANSWER_ENDS)))
    fences = _np(pc.count_substring(resp, "```"))
    # a list's last item ends without punctuation by nature: never call that truncated
    last_line = pc.utf8_trim_whitespace(pc.replace_substring_regex(trimmed, r"(?s)^.*\n", ""))
    list_item = _np(pc.match_substring_regex(last_line, r"^([-*•]|\d+[.)]|[a-zA-Z][.)])\s")).astype(bool)
    # cut mid-sentence: complete sentences before, none at the end, or a last word that
    # cannot end a sentence ("... so your", "... my train from")
    earlier_sentence = _np(pc.match_substring_regex(trimmed, r"[.!?][\"')\]]?\s+\S")).astype(bool)
    last_word = pc.utf8_lower(pc.struct_field(pc.extract_regex(trimmed, r"(?P<w>[\pL']+)\W*$"), "w"))
    dangling = _np(pc.fill_null(pc.is_in(last_word, value_set=pa.array(_DANGLING_WORDS)), False)).astype(bool)
    # a short last line of its own is a sign-off or a name ("Best regards,\nJorun"), not a cut
    signoff = _np(pc.match_substring(trimmed, "\n")).astype(bool) & (_words(last_line) <= 3)
    unfinished = unterminated & ~list_item & ~signoff & (
        (words >= c.truncation_min_words) | (earlier_sentence & (words >= 8)) | (dangling & (words >= 5))
    )
    truncated = unfinished | (fences % 2 == 1)
    table = _attach(
        table,
        {
            "q_response_words": _col(words, _I64),
            "q_response_echoes_prompt": _col(echo, _BOOL),
            "q_response_unterminated": _col(unterminated, _BOOL),
            "q_response_code_fences": _col(fences, _I64),
        },
    )
    stock = pc.utf8_trim(_norm(resp), " .!?,;:")
    acknowledgement = _np(pc.is_in(stock, value_set=pa.array(c.stock_acknowledgements))).astype(bool)
    trivial = (words < c.min_response_words) | (acknowledgement & (_words(prompt) >= c.trivial_prompt_words))
    rules = [_Rule("sft_trivial_response", trivial, words, c.min_response_words)]
    if c.drop_prompt_echo:
        rules.append(_Rule("sft_response_echoes_prompt", ~trivial & echo, echo, 1))
    rules.append(
        _Rule("sft_truncated_response", ~trivial & truncated, words, c.truncation_min_words)
    )
    return _decide(table, rules)


def _preference(table: pa.Table, c: QualityConfig) -> KernelResult:
    chosen, rejected = _text(table, "chosen"), _text(table, "rejected")
    cw, rw = _words(chosen), _words(rejected)
    same = _np(pc.equal(_norm(chosen), _norm(rejected)))
    table = _attach(
        table,
        {
            "q_chosen_words": _col(cw, _I64),
            "q_rejected_words": _col(rw, _I64),
            "q_identical_responses": _col(same, _BOOL),
        },
    )
    rules = [_Rule("pref_trivial_chosen", cw < c.min_response_words, cw, c.min_response_words)]
    if c.drop_identical_preference:
        rules.append(_Rule("pref_identical_responses", same, same, 1))
    return _decide(table, rules)


def score_quality(
    table: pa.Table, *, kind: str, config: QualityConfig | None = None
) -> KernelResult:
    """Add quality signals and drop the records that fail a rule (first failure logged).

    Documents get the Gopher / C4 / FineWeb web-text rules; instruction and preference
    records get answer checks (web rules would drop most good chat data); evaluation
    records pass through untouched, as benchmarks are not ours to filter.
    """
    if kind not in TEXT_COLUMNS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(TEXT_COLUMNS)}")
    c = config or QualityConfig()
    if kind == "instruction":
        return _instruction(table, c)
    if kind == "preference":
        return _preference(table, c)
    if kind == "evaluation":
        return KernelResult(table, np.ones(table.num_rows, dtype=bool), empty_events())
    text = table["text"]
    sig = document_signals(text, c)
    empty = _np(pc.equal(pc.utf8_trim_whitespace(pc.fill_null(text, "")), ""))
    lang_ok = None
    if "language" in table.column_names:
        lang = table["language"]
        lang_ok = _np(pc.or_kleene(pc.is_null(lang), pc.is_in(lang, value_set=pa.array(c.stop_word_languages))))
        lang_ok = lang_ok.astype(bool)
    rules = _document_rules(sig, empty, c, lang_ok)
    n = table.num_rows
    for col in cr.CODE_SIGNALS:
        sig[col] = np.full(n, np.nan)
    if c.code_rules:
        sig.update(cr.code_signals(text, c.code_config()))
        rules += [_Rule(name, fails, value, thr) for name, fails, value, thr in cr.code_rules(sig, ~empty, c.code_config())]
    sig["q_model_score"] = np.full(n, np.nan)
    if c.quality_model is not None:
        from curaline.kernels.quality_model import load_model

        sig["q_model_score"] = load_model(c.quality_model).score(text)
        if c.quality_model_low is not None:
            low = ~empty & (sig["q_model_score"] < c.quality_model_low)
            rules.append(_Rule("quality_model_low", low, sig["q_model_score"], c.quality_model_low))
    table = _attach(table, {k: _col(sig[k], t) for k, t in DOCUMENT_SIGNALS.items()})
    return _decide(table, rules)
