"""Text normalization: mojibake repair, NFC, control characters, whitespace.

Runs first, so every later stage (language, quality, dedup) sees one canonical spelling
of the same text. All steps but mojibake repair are Arrow compute kernels over the whole
column; ftfy is per string in Python, so it only sees the strings that ftfy's own
mojibake heuristic (``ftfy.badness.BADNESS_RE``, run here vectorized with RE2) flags.

Signal column ``normalize_changes`` (int32) is a bitmask of what changed in the record,
over all its text columns: 1 mojibake, 2 nfc, 4 control_chars, 8 whitespace.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curaline.kernels.base import KernelResult, empty_events, make_events
from curaline.records import REQUIRED_TEXT, TEXT_COLUMNS

if TYPE_CHECKING:
    from ftfy import TextFixerConfig

MOJIBAKE = 1
NFC = 2
CONTROL_CHARS = 4
WHITESPACE = 8
#: Bit -> change name, most significant first (the order that picks an event's reason).
CHANGES: tuple[tuple[int, str], ...] = (
    (MOJIBAKE, "mojibake"),
    (CONTROL_CHARS, "control_chars"),
    (NFC, "nfc"),
    (WHITESPACE, "whitespace"),
)

SIGNAL_COLUMNS: dict[str, pa.DataType] = {"normalize_changes": pa.int32()}

EMPTY_REASON = "normalize_empty_text"

# Horizontal whitespace: Unicode Zs separators plus TAB (Unicode 15.1, ch. 6.2 and
# PropList White_Space); all of them read as one space.
_H = "\\t \\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{202f}\\x{205f}\\x{3000}"
_H_NOT_SPACE = "\\t\\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{202f}\\x{205f}\\x{3000}"
# Line separators folded to LF: CRLF, CR, VT, FF, NEL, LS, PS (UAX #14 mandatory breaks).
_LINE_BREAKS = "\\r\\n|[\\r\\x0b\\x0c\\x{85}\\x{2028}\\x{2029}]"
# Cc minus TAB/LF (and the breaks above), DEL, BOM/ZWNBSP, plus ANSI/VT100 escape
# sequences (ECMA-48 CSI) so no "[31m" is left behind when ESC goes.
_CONTROL = (
    "\\x1b\\[[0-?]*[ -/]*[@-~]|[\\x00-\\x08\\x0e-\\x1f\\x7f\\x{80}-\\x{84}\\x{86}-\\x{9f}\\x{feff}]"
)
_TRIM = "\t\n \u00a0\u1680\u202f\u205f\u3000" + "".join(map(chr, range(0x2000, 0x200B)))


@dataclass(frozen=True)
class NormalizeConfig:
    """Which normalizations run; every one is on by default."""

    # ftfy's encoding fixers only (ftfy docs, "fix_encoding"): quotes, ligatures and
    # character width are content, not damage, so they are left alone.
    fix_mojibake: bool = True
    # NFC: the W3C Character Model (charmod-norm, sec. 2.2) form for content.
    nfc: bool = True
    remove_control_chars: bool = True
    normalize_whitespace: bool = True
    # Leading indentation is meaning in code (Python, YAML, Makefiles in code-alpaca,
    # mbpp, humaneval), so runs are collapsed only after a line's first visible char.
    keep_indentation: bool = True
    # One blank line = paragraph break (CommonMark 0.31, sec. 4.9); more carries nothing.
    max_blank_lines: int = 1


# Only ftfy's encoding steps; the rest is done vectorized below or deliberately not done.
def _ftfy_config() -> TextFixerConfig:
    import ftfy

    return ftfy.TextFixerConfig(
        unescape_html=False,
        remove_terminal_escapes=False,
        fix_encoding=True,
        restore_byte_a0=True,
        replace_lossy_sequences=True,
        decode_inconsistent_utf8=True,
        fix_c1_controls=True,
        fix_latin_ligatures=False,
        fix_character_width=False,
        uncurl_quotes=False,
        fix_line_breaks=False,
        fix_surrogates=True,
        remove_control_chars=False,
        normalization=None,
        explain=False,
    )


@cache
def mojibake_regex() -> str:
    """ftfy's BADNESS_RE rewritten for RE2: verbose syntax removed, Unicode \\s and \\w."""
    from ftfy.badness import BADNESS_RE

    src = BADNESS_RE.pattern
    out: list[str] = []
    i, in_class = 0, False
    while i < len(src):
        ch = src[i]
        if ch == "\\":
            esc = src[i : i + 2]
            if not in_class and esc == "\\s":
                out.append("[\\s\\p{Z}\\x{85}]")
            elif not in_class and esc == "\\w":
                out.append("[\\p{L}\\p{N}_]")
            else:
                out.append(esc)
            i += 2
            continue
        if in_class:
            if ch == "]":
                in_class = False
            out.append(ch)
        elif ch == "[":
            in_class = True
            out.append(ch)
            if src[i + 1 : i + 2] == "]":  # a literal ] first in a class
                out.append("]")
                i += 1
        elif ch == "#":
            i = src.find("\n", i)
            if i < 0:
                break
            continue
        elif not ch.isspace():
            out.append(ch)
        i += 1
    return "".join(out)


def _changed(before: pa.Array, after: pa.Array) -> np.ndarray:
    return pc.fill_null(pc.not_equal(before, after), False).to_numpy(zero_copy_only=False)


def _fix_mojibake(col: pa.Array) -> pa.Array:
    """ftfy on the strings its own heuristic flags; everything else never leaves Arrow."""
    flagged = pc.fill_null(pc.match_substring_regex(col, mojibake_regex()), False)
    if not pc.any(flagged).as_py():
        return col
    import ftfy

    config = _ftfy_config()
    fixed = [ftfy.fix_text(s, config) for s in pc.filter(col, flagged).to_pylist()]
    return pc.replace_with_mask(col, flagged, pa.array(fixed, type=col.type))


def _normalize_whitespace(col: pa.Array, config: NormalizeConfig) -> pa.Array:
    col = pc.replace_substring_regex(col, _LINE_BREAKS, "\n")
    if config.keep_indentation:
        # A run that follows a visible char: two or more blanks, or one that is not " ".
        col = pc.replace_substring_regex(
            col, f"([^\\n{_H}])(?:[{_H}]{{2,}}|[{_H_NOT_SPACE}])", "\\1 "
        )
    else:
        col = pc.replace_substring_regex(col, f"(?:[{_H}]{{2,}}|[{_H_NOT_SPACE}])", " ")
        col = pc.replace_substring_regex(col, "\n ", "\n")
    col = pc.replace_substring_regex(col, f"[{_H}]+\\n", "\n")
    keep = "\n" * (config.max_blank_lines + 1)
    col = pc.replace_substring_regex(col, f"\\n{{{config.max_blank_lines + 2},}}", keep)
    return pc.utf8_trim(col, _TRIM)


def normalize_column(col: pa.Array, config: NormalizeConfig) -> tuple[pa.Array, np.ndarray]:
    """Normalize one string column; returns it and the per-row change bitmask."""
    bits = np.zeros(len(col), dtype=np.int32)
    steps: list[tuple[int, bool]] = [
        (MOJIBAKE, config.fix_mojibake),
        (NFC, config.nfc),
        (CONTROL_CHARS, config.remove_control_chars),
        (WHITESPACE, config.normalize_whitespace),
    ]
    for bit, enabled in steps:
        if not enabled:
            continue
        if bit == MOJIBAKE:
            new = _fix_mojibake(col)
        elif bit == NFC:
            new = pc.utf8_normalize(col, "NFC")
        elif bit == CONTROL_CHARS:
            new = pc.replace_substring_regex(col, _CONTROL, "")
        else:
            new = _normalize_whitespace(col, config)
        bits |= np.where(_changed(col, new), bit, 0).astype(np.int32)
        col = new
    return col, bits


def _detail_lookup() -> np.ndarray:
    """Bitmask -> (reason, detail) strings for all 16 combinations."""
    reasons, details = [], []
    for mask in range(16):
        names = [name for bit, name in CHANGES if mask & bit]
        reasons.append(f"normalize_{names[0]}" if names else "")
        details.append(",".join(names))
    return np.array([reasons, details], dtype=object)


def normalize_text(
    table: pa.Table, *, kind: str, config: NormalizeConfig | None = None
) -> KernelResult:
    """Normalize the kind's text columns; drop records whose required text ends empty."""
    config = config or NormalizeConfig()
    n = table.num_rows
    bits = np.zeros(n, dtype=np.int32)
    delta = np.zeros(n, dtype=np.float64)
    empty_cols: list[np.ndarray] = []
    empty_names: list[str] = []
    for name in TEXT_COLUMNS[kind]:
        if name not in table.column_names:
            if name in REQUIRED_TEXT[kind]:
                raise KeyError(f"{kind} records need a {name!r} column")
            continue
        col = table.column(name).combine_chunks()
        new, col_bits = normalize_column(col, config)
        bits |= col_bits
        before = pc.fill_null(pc.utf8_length(col), 0).to_numpy(zero_copy_only=False)
        after = pc.fill_null(pc.utf8_length(new), 0).to_numpy(zero_copy_only=False)
        delta += before - after
        if name in REQUIRED_TEXT[kind]:
            empty_cols.append(after == 0)
            empty_names.append(name)
        table = table.set_column(table.column_names.index(name), name, new)

    signal = pa.array(bits, type=pa.int32())
    if "normalize_changes" in table.column_names:
        table = table.set_column(
            table.column_names.index("normalize_changes"), "normalize_changes", signal
        )
    else:
        table = table.append_column("normalize_changes", signal)

    empty = np.logical_or.reduce(empty_cols) if empty_cols else np.zeros(n, dtype=bool)
    keep = ~empty
    doc_ids = table.column("doc_id")
    events = [empty_events()]
    if empty.any():
        idx = np.flatnonzero(empty)
        which: list[str | None] = [
            ",".join(nm for nm, e in zip(empty_names, empty_cols, strict=True) if e[i]) for i in idx
        ]
        events.append(
            make_events(
                doc_ids.take(pa.array(idx)).combine_chunks(),
                "drop",
                EMPTY_REASON,
                value=delta[idx],
                detail=which,
            )
        )
    modified = keep & (bits != 0)
    if modified.any():
        idx = np.flatnonzero(modified)
        lookup = _detail_lookup()
        events.append(
            make_events(
                doc_ids.take(pa.array(idx)).combine_chunks(),
                "modify",
                lookup[0][bits[idx]].tolist(),
                value=delta[idx],
                detail=lookup[1][bits[idx]].tolist(),
            )
        )
    return KernelResult(table=table, keep=keep, events=pa.concat_tables(events))
