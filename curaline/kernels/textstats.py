"""Compiled per-document text statistics for the quality rules (Gopher, C4, FineWeb).

The published filters (datatrove's GopherRepetitionFilter, GopherQualityFilter,
C4QualityFilter, FineWebQualityFilter) run a spaCy tokenizer and Python string
operations per document: about 5 ms each. Here one numba function walks the UTF-8
bytes of a whole Arrow string array once per document, with a spaCy-like tokenizer
(whitespace chunks, then prefix / suffix / infix punctuation splits as in spaCy's
English rules) and open-addressing hash tables for line, paragraph and n-gram
repeats, so the same signals cost microseconds. Definitions follow datatrove 0.10.1
exactly where it is cheap (line splitting, greedy duplicated n-gram count, top n-gram
tie-break); the tokenizer is an approximation of spaCy's, see the benchmark notes.
"""

from __future__ import annotations

import unicodedata
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numba import njit

# -- character classes --------------------------------------------------------------------
SPACE, ALPHA, DIGIT, LOWER, UPPER = 1, 2, 4, 8, 16
DT_PUNCT, TERMINAL, SENT_END, PREFIX, SUFFIX = 32, 64, 128, 256, 512
UPUNCT, HYPHEN, LINE_BREAK, INFIX_SYM, QUOTE, ICON = 1024, 2048, 4096, 8192, 16384, 32768

# datatrove.utils.text.PUNCTUATION (Apache-2.0), used for "symbol-only" words.
_DT_PUNCTUATION = (
    "!/\u2014\u201d:\uff05\uff11\u3008&(\u3001\u2501\\\u3010#%\u300c\u300d\uff0c\u3011\uff1b+^]~"
    "\u201c\u300a\u201e';\u2019{|\u2236\xb4[=-`*\uff0e\uff08\u2013\uff1f\uff01\uff1a$\uff5e\xab"
    '\u3009,><\u300b)?\uff09\u3002\u2026@_."}\u25ba\xbb'
    + "".join(chr(c) for a, b in ((0, 9), (11, 13), (13, 32), (127, 160)) for c in range(a, b))
)
# datatrove.utils.text.TERMINAL_PUNCTUATION (Apache-2.0): FineWeb's line-end marks.
_TERMINAL = (
    "!.?\u0589\u061d\u061e\u061f\u06d4\u0700\u0701\u0702\u07f9\u0837\u0839\u083d\u083e\u0964"
    "\u0965\u104a\u104b\u1362\u1367\u1368\u166e\u1735\u1736\u17d4\u17d5\u17d6\u17d9\u17da\u1803"
    "\u1809\u1944\u1945\u1aa8\u1aa9\u1aaa\u1aab\u1b5a\u1b5b\u1b5e\u1b5f\u1b7d\u1b7e\u1c3b\u1c3c"
    "\u1c7e\u1c7f\u203c\u203d\u2047\u2048\u2049\u2e2e\u2e3c\u2e53\u2e54\u3002\ua4ff\ua60e\ua60f"
    "\ua6f3\ua6f7\ua876\ua877\ua8ce\ua8cf\ua92f\ua9c8\ua9c9\uaa5d\uaa5e\uaa5f\uaaf0\uaaf1\uabeb"
    "\ufe52\ufe56\ufe57\uff01\uff0e\uff1f\uff61"
)
# spaCy Sentencizer.default_punct_chars (BMP part): C4's sentence count.
_SENT_END = (
    "!.?\u0589\u061f\u06d4\u0700\u0701\u0702\u07f9\u0964\u0965\u104a\u104b\u1362\u1367\u1368"
    "\u166e\u1735\u1736\u1803\u1809\u1944\u1945\u1aa8\u1aa9\u1aaa\u1aab\u1b5a\u1b5b\u1b5e\u1b5f"
    "\u1c3b\u1c3c\u1c7e\u1c7f\u203c\u203d\u2047\u2048\u2049\u2e2e\u2e3c\ua4ff\ua60e\ua60f\ua6f3"
    "\ua6f7\ua876\ua877\ua8ce\ua8cf\ua92f\ua9c8\ua9c9\uaa5d\uaa5e\uaa5f\uaaf0\uaaf1\uabeb\ufe52"
    "\ufe56\ufe57\uff01\uff0e\uff1f\uff61\u3002"
)
# spaCy English affixes (LIST_PUNCT, LIST_QUOTES, LIST_CURRENCY, extra prefixes).
_SPACY_PUNCT = "\u2026,:;!?\u00bf\u061f\u00a1()[]{}<>_#*&\u3002\uff1f\uff01\uff0c\u3001\uff1b\uff1a\uff5e\u00b7\u0964\u060c\u06d4\u061b\u066a"  # noqa: E501
_SPACY_QUOTES = "'\"\u201d\u201c`\u2018\u00b4\u2019\u201a,\u201e\u00bb\u00ab\u300c\u300d\u300e\u300f\uff08\uff09\u3014\u3015\u3010\u3011\u300a\u300b\u3008\u3009\u27e6\u27e7"  # noqa: E501
_SPACY_CURRENCY = "$\u00a3\u20ac\u00a5\u0e3f\u20bd\ufdfc\u20b4" + "".join(
    chr(c) for c in range(0x20A0, 0x20C0)
)
_PREFIX = _SPACY_PUNCT + _SPACY_QUOTES + _SPACY_CURRENCY + "\u00a7%=\u2014\u2013+"
_SUFFIX = _SPACY_PUNCT + _SPACY_QUOTES + "\u2014\u2013"
_HYPHENS = "-\u2013\u2014~"
_LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"

#: Indices of the float and integer signals in the arrays compute_signals returns.
F_NAMES = (
    "mean_word_length", "hash_ratio", "ellipsis_ratio", "bullet_line_frac",
    "ellipsis_line_frac", "alpha_word_frac", "dup_para_frac", "dup_para_char_frac",
    "dup_line_frac", "dup_line_char_frac", "top_2gram_frac", "top_3gram_frac",
    "top_4gram_frac", "dup_5gram_frac", "dup_6gram_frac", "dup_7gram_frac",
    "dup_8gram_frac", "dup_9gram_frac", "dup_10gram_frac", "c4_line_keep_frac",
    "fw_line_punct_frac", "fw_short_line_frac", "fw_dup_line_char_frac", "fw_newline_word_ratio",
)  # fmt: skip
I_NAMES = (
    "char_count", "token_count", "word_count", "stop_word_count", "c4_sentences",
    "c4_lorem_ipsum", "c4_curly_bracket", "c4_first_doc_rule",
)  # fmt: skip
F = {n: i for i, n in enumerate(F_NAMES)}
I = {n: i for i, n in enumerate(I_NAMES)}  # noqa: E741

_B = np.uint64(0x100000001B3)  # FNV prime: odd, so a polynomial hash base mod 2**64
_C4_POLICY = ("terms of use", "privacy policy", "cookie policy", "uses cookies",
              "use of cookies", "use cookies")  # fmt: skip


@lru_cache(maxsize=1)
def char_flags() -> np.ndarray:
    """Flags for every code point (built once, about 0.3 s)."""
    cps = np.arange(0x110000, dtype=np.uint32)
    cps[0xD800:0xE000] = 0xFFFD  # lone surrogates cannot be str'd into np.str_
    chars = cps.view("U1")
    flags = np.zeros(0x110000, dtype=np.uint16)
    flags[np.strings.isspace(chars)] |= SPACE
    flags[np.strings.isalpha(chars)] |= ALPHA
    flags[np.strings.islower(chars)] |= LOWER
    flags[np.strings.isupper(chars)] |= UPPER
    flags[ord("0") : ord("9") + 1] |= DIGIT
    for chars_, flag in (
        (_DT_PUNCTUATION + _TERMINAL, DT_PUNCT),
        (_TERMINAL, TERMINAL),
        (_SENT_END, SENT_END),
        (_PREFIX, PREFIX),
        (_SUFFIX, SUFFIX),
        (_HYPHENS, HYPHEN),
        (_LINE_BREAKS, LINE_BREAK),
        (":<>=/", INFIX_SYM),
        (_SPACY_QUOTES, QUOTE),
    ):
        for ch in chars_:
            flags[ord(ch)] |= flag
    for c in range(0x10000):
        cat = unicodedata.category(chr(c))
        if cat.startswith("P"):
            flags[c] |= UPUNCT
        elif cat == "So":
            flags[c] |= ICON | PREFIX | SUFFIX
    flags[0xD800:0xE000] = 0
    return flags


# -- compiled helpers ---------------------------------------------------------------------


@njit(cache=True, nogil=True)
def _mix(h: np.uint64) -> np.uint64:
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xFF51AFD7ED558CCD)
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xC4CEB9FE1A85EC53)
    h ^= h >> np.uint64(33)
    if h == np.uint64(0):
        h = np.uint64(1)
    return h


@njit(cache=True, nogil=True)
def _poly(cp, a, b):
    h = np.uint64(0)
    for i in range(a, b):
        h = h * _B + np.uint64(cp[i] + 1)
    return h


@njit(cache=True, nogil=True)
def _decode(data, a, b, cp):
    """UTF-8 bytes -> code points (invalid sequences -> U+FFFD, as errors='replace')."""
    n = 0
    i = a
    while i < b:
        c = np.int32(data[i])
        if c < 0x80:
            cp[n] = c
            i += 1
        elif c >= 0xF0 and i + 3 < b:
            cp[n] = ((c & 7) << 18) | ((np.int32(data[i + 1]) & 63) << 12)
            cp[n] |= ((np.int32(data[i + 2]) & 63) << 6) | (np.int32(data[i + 3]) & 63)
            i += 4
        elif c >= 0xE0 and i + 2 < b:
            cp[n] = ((c & 15) << 12) | ((np.int32(data[i + 1]) & 63) << 6)
            cp[n] |= np.int32(data[i + 2]) & 63
            i += 3
        elif c >= 0xC0 and i + 1 < b:
            cp[n] = ((c & 31) << 6) | (np.int32(data[i + 1]) & 63)
            i += 2
        else:
            cp[n] = 0xFFFD
            i += 1
        if cp[n] > 0x10FFFF or cp[n] < 0:
            cp[n] = 0xFFFD
        n += 1
    return n


@njit(cache=True, nogil=True)
def _is_dot_run(cp, a, b):
    for i in range(a, b):
        if cp[i] != 46:
            return False
    return b - a >= 2


@njit(cache=True, nogil=True)
def _letters_with_dots(cp, fl, a, b):
    """'e.g.', 'U.S.', 'a.': spaCy keeps these abbreviations whole."""
    if b - a < 2 or (b - a) % 2 != 0:
        return False
    for i in range(a, b, 2):
        if not (fl[cp[i]] & ALPHA) or cp[i + 1] != 46:
            return False
    return True


@njit(cache=True, nogil=True)
def _is_cannot(cp, s):
    return (
        cp[s + 1] == 97
        and cp[s + 2] == 110
        and cp[s + 3] == 110
        and cp[s + 4] == 111
        and (cp[s + 5] == 116)
    )


@njit(cache=True, nogil=True)
def _is_url(cp, a, b):
    for i in range(a, b - 2):
        if cp[i] == 58 and cp[i + 1] == 47 and cp[i + 2] == 47:  # "://"
            return True
        if cp[i] == 64 and i > a:  # user@host.domain
            for j in range(i + 2, b - 1):
                if cp[j] == 46:
                    return True
    return b - a > 4 and cp[a] == 119 and cp[a + 1] == 119 and cp[a + 2] == 119 and cp[a + 3] == 46


@njit(cache=True, nogil=True)
def _suffix_len(cp, fl, a, b):
    """Length of the suffix spaCy's English rules would split off [a, b), or 0."""
    c = cp[b - 1]
    if c == 46:  # "."
        j = b - 1
        while j > a and cp[j - 1] == 46:
            j -= 1
        if b - j >= 2:
            return b - j  # ellipsis
        if b - a == 1:
            return 0
        if _letters_with_dots(cp, fl, a, b):
            return 0
        p = cp[b - 2]
        fp = fl[p]
        if (
            (fp & (LOWER | DIGIT | UPUNCT | QUOTE | SUFFIX))
            or p == 37
            or p == 178
            or p == 45
            or p == 43
        ):
            return 1
        if b - a >= 3 and (fp & UPPER) and (fl[cp[b - 3]] & UPPER):
            return 1
        return 0
    if b - a >= 3 and (c == 115 or c == 83) and (cp[b - 2] == 39 or cp[b - 2] == 0x2019):
        return 2  # 's
    if b - a >= 4 and c == 116 and cp[b - 2] == 39 and cp[b - 3] == 110:
        if fl[cp[b - 4]] & ALPHA:
            return 3  # n't
    if b - a >= 4 and cp[b - 3] == 39 and (fl[cp[b - 4]] & ALPHA):
        if (c == 101 and cp[b - 2] == 114) or (c == 108 and cp[b - 2] == 108):
            return 3  # 're, 'll
        if c == 101 and cp[b - 2] == 118:
            return 3  # 've
    if b - a >= 3 and cp[b - 2] == 39 and (c == 109 or c == 100) and (fl[cp[b - 3]] & ALPHA):
        return 2  # 'm, 'd
    if fl[c] & SUFFIX:
        return 1
    if c == 43 and b - a > 1 and (fl[cp[b - 2]] & DIGIT):
        return 1
    if c == 37 and b - a > 1 and (fl[cp[b - 2]] & DIGIT):
        return 1
    return 0


@njit(cache=True, nogil=True)
def _infix_len(cp, fl, a, b, i):
    """Length of an infix starting at i in core [a, b), or 0 (spaCy English infixes)."""
    c = cp[i]
    if c == 46:
        j = i
        while j < b and cp[j] == 46:
            j += 1
        if j - i >= 2:
            return j - i
        if i > a and j < b and (fl[cp[i - 1]] & (LOWER | QUOTE)) and (fl[cp[j]] & (UPPER | QUOTE)):
            return 1
        return 0
    if c == 0x2026 or (fl[c] & ICON):
        return 1
    if i == a or i >= b - 1:
        return 0
    fp = fl[cp[i - 1]]
    if fl[c] & HYPHEN:
        j = i
        while j < b and j - i < 3 and cp[j] == c:
            j += 1
        if j < b and (fp & (ALPHA | DIGIT)) and (fl[cp[j]] & ALPHA):
            return j - i
        if c == 45 and (fp & DIGIT) and ((fl[cp[i + 1]] & DIGIT) or cp[i + 1] == 45):
            return 1
        return 0
    if (fl[c] & INFIX_SYM) and (fp & (ALPHA | DIGIT)) and (fl[cp[i + 1]] & ALPHA):
        return 1
    if c == 44 and (fp & ALPHA) and (fl[cp[i + 1]] & ALPHA):
        return 1
    if (c == 43 or c == 42 or c == 94) and (fp & DIGIT):
        if (fl[cp[i + 1]] & DIGIT) or cp[i + 1] == 45:
            return 1
    return 0


@njit(cache=True, nogil=True)
def _tokenize(cp, n, fl, ts, te, sfx):
    """spaCy-like English tokens of cp[0:n] into (ts, te); returns the count."""
    nt = 0
    i = 0
    while i < n:
        while i < n and (fl[cp[i]] & SPACE):
            i += 1
        if i >= n:
            break
        a = i
        while i < n and not (fl[cp[i]] & SPACE):
            i += 1
        b = i
        # prefixes
        while a < b:
            c = cp[a]
            if c == 46 and _is_dot_run(cp, a, min(b, a + 2)):
                j = a
                while j < b and cp[j] == 46:
                    j += 1
                if j == b:
                    break
                ts[nt] = a
                te[nt] = j
                nt += 1
                a = j
            elif (fl[c] & PREFIX) and b - a > 1 and not (c == 43 and (fl[cp[a + 1]] & DIGIT)):
                ts[nt] = a
                te[nt] = a + 1
                nt += 1
                a += 1
            else:
                break
        # suffixes (collected backwards)
        ns = 0
        while b - a > 1:
            k = _suffix_len(cp, fl, a, b)
            if k == 0 or k >= b - a:
                break
            sfx[ns] = b - k
            ns += 1
            b -= k
        # infixes in the core [a, b)
        if not _is_url(cp, a, b):
            j = a
            s = a
            while j < b:
                k = _infix_len(cp, fl, a, b, j)
                if k > 0:
                    if j > s:
                        ts[nt] = s
                        te[nt] = j
                        nt += 1
                    ts[nt] = j
                    te[nt] = j + k
                    nt += 1
                    j += k
                    s = j
                else:
                    j += 1
            if b - s == 6 and (cp[s] == 99 or cp[s] == 67) and _is_cannot(cp, s):
                ts[nt] = s
                te[nt] = s + 3
                nt += 1
                s += 3
            if b > s:
                ts[nt] = s
                te[nt] = b
                nt += 1
        elif b > a:
            ts[nt] = a
            te[nt] = b
            nt += 1
        for q in range(ns - 1, -1, -1):
            ts[nt] = sfx[q]
            te[nt] = i if q == 0 else sfx[q - 1]
            nt += 1
    return nt


@njit(cache=True, nogil=True)
def _table_insert(keys, cnt, mask, h):
    """Count h; returns its count after insertion (1 = first time seen)."""
    j = h & mask
    while True:
        k = keys[j]
        if k == h:
            cnt[j] += 1
            return cnt[j]
        if k == 0:
            keys[j] = h
            cnt[j] = 1
            return 1
        j = (j + np.uint64(1)) & mask


@njit(cache=True, nogil=True)
def _table_get(keys, cnt, mask, h):
    j = h & mask
    while True:
        k = keys[j]
        if k == h:
            return cnt[j]
        if k == 0:
            return 0
        j = (j + np.uint64(1)) & mask


@njit(cache=True, nogil=True)
def _table_clear(keys, cnt, size):
    for j in range(size):
        keys[j] = 0
        cnt[j] = 0


@njit(cache=True, nogil=True)
def _cap(m):
    c = 16
    while c < 2 * m + 2:
        c *= 2
    return c


@njit(cache=True, nogil=True)
def _find_dups(cp, sa, se, m, keys, cnt, salt):
    """datatrove find_duplicates over segments [sa, se): (#repeats, repeated chars)."""
    size = _cap(m)
    _table_clear(keys, cnt, size)
    mask = np.uint64(size - 1)
    dups = 0
    dchars = 0
    for s in range(m):
        h = _mix(_poly(cp, sa[s], se[s]) ^ salt)
        if _table_insert(keys, cnt, mask, h) > 1:
            dups += 1
            dchars += se[s] - sa[s]
    return dups, dchars


@njit(cache=True, nogil=True)
def _contains_ci(cp, a, b, pat):
    m = len(pat)
    for i in range(a, b - m + 1):
        ok = True
        for k in range(m):
            c = cp[i + k]
            if 65 <= c <= 90:
                c += 32
            if c != pat[k]:
                ok = False
                break
        if ok:
            return True
    return False


@njit(cache=True, nogil=True)
def _doc(cp, n, fl, stop_hashes, lorem, jscript, policy, policy_len, c4opt, scratch, outf, outi):
    ts, te, sfx, sa, se, keys, cnt, wpre, spre, cpre, powb, tflag = scratch
    nan = np.nan
    outi[I_CHAR] = n
    nt = _tokenize(cp, n, fl, ts, te, sfx)
    outi[I_TOK] = nt
    # per-token properties and prefix hashes (concatenated / space-joined) ------------------
    n_ns = 0
    ns_len = 0
    n_alpha = 0
    stop_mask = np.uint64(0)
    wpre[0] = 0
    spre[0] = np.uint64(0)
    cpre[0] = np.uint64(0)
    for t in range(nt):
        a = ts[t]
        b = te[t]
        nonsym = False
        alpha = False
        allp = True
        for i in range(a, b):
            f = fl[cp[i]]
            if not (f & DT_PUNCT):
                nonsym = True
            if f & ALPHA:
                alpha = True
            if not (f & UPUNCT):
                allp = False
        fl_t = 0
        if allp:
            fl_t |= 1
        if b - a == 1 and (fl[cp[a]] & SENT_END):
            fl_t |= 2
        tflag[t] = fl_t
        if nonsym:
            n_ns += 1
            ns_len += b - a
        if alpha:
            n_alpha += 1
        h = _poly(cp, a, b)
        for k in range(len(stop_hashes)):
            if h == stop_hashes[k]:
                stop_mask |= np.uint64(1) << np.uint64(k)
        wpre[t + 1] = wpre[t] + (b - a)
        cpre[t + 1] = cpre[t] * powb[b - a] + h
        spre[t + 1] = (spre[t] * powb[b - a] + h) * _B + np.uint64(33)
    outi[I_WORDS] = n_ns
    n_stop = 0
    while stop_mask:
        n_stop += int(stop_mask & np.uint64(1))
        stop_mask >>= np.uint64(1)
    outi[I_STOP] = n_stop
    outf[F_MWL] = ns_len / n_ns if n_ns > 0 else nan
    outf[F_ALPHA] = n_alpha / nt if nt > 0 else nan
    # "#" and "..." / "…" counts (str.count is non-overlapping) ---------------------------
    n_hash = 0
    n_ell = 0
    i = 0
    while i < n:
        c = cp[i]
        if c == 35:
            n_hash += 1
        elif c == 0x2026:
            n_ell += 1
        elif c == 46:
            j = i
            while j < n and cp[j] == 46:
                j += 1
            n_ell += (j - i) // 3
            i = j
            continue
        i += 1
    outf[F_HASH] = n_hash / nt if nt > 0 else nan
    outf[F_ELL] = n_ell / nt if nt > 0 else nan
    # str.splitlines(): bullets, end ellipsis (Gopher) and C4 lines ------------------------
    n_lines = 0
    n_bullet = 0
    n_endell = 0
    c4_kept = 0
    c4_sent = 0
    c4_first = 0
    c4_lorem = 0
    c4_curly = 0
    tp = 0  # token pointer for the C4 sentence count
    i = 0
    while i < n:
        a = i
        while i < n and not (fl[cp[i]] & LINE_BREAK):
            i += 1
        b = i
        if i < n:
            if cp[i] == 13 and i + 1 < n and cp[i + 1] == 10:
                i += 1
            i += 1
        n_lines += 1
        sa_ = a
        while sa_ < b and (fl[cp[sa_]] & SPACE):
            sa_ += 1
        sb = b
        while sb > sa_ and (fl[cp[sb - 1]] & SPACE):
            sb -= 1
        if sb > sa_ and (cp[sa_] == 0x2022 or cp[sa_] == 45):
            n_bullet += 1
        if sb > sa_ and (
            cp[sb - 1] == 0x2026
            or (sb - sa_ >= 3 and cp[sb - 1] == 46 and cp[sb - 2] == 46 and cp[sb - 3] == 46)
        ):
            n_endell += 1
        # C4 (datatrove C4QualityFilter, split_paragraph=True): words are str.split()
        nw = 0
        longw = False
        j = sa_
        while j < sb:
            while j < sb and (fl[cp[j]] & SPACE):
                j += 1
            if j >= sb:
                break
            k = j
            while k < sb and not (fl[cp[k]] & SPACE):
                k += 1
            nw += 1
            if c4opt[2] >= 0 and k - j > c4opt[2]:
                longw = True
            j = k
        while tp < nt and ts[tp] < sa_:
            tp += 1
        if longw:
            continue
        e = sb  # drop trailing citations: [12], [], [edit], [citation needed]
        while e > sa_ and cp[e - 1] == 93:
            k = e - 2
            while k >= sa_ and cp[k] != 91 and cp[k] != 93:
                k -= 1
            if k < sa_ or cp[k] != 91:
                break
            inner = e - 1 - (k + 1)
            ok = True
            for q in range(k + 1, e - 1):
                if not (48 <= cp[q] <= 57):
                    ok = False
                    break
            if not ok:
                ok = (
                    inner == 4
                    and cp[k + 1] == 101
                    and cp[k + 2] == 100
                    and cp[k + 3] == 105
                    and cp[k + 4] == 116
                )
            if not ok and inner == 15:
                ok = _contains_ci(cp, k + 1, e - 1, policy[6, :15])
            if not ok:
                break
            e = k
        if e <= sa_ and c4opt[1]:
            continue
        if c4opt[1]:
            last = cp[e - 1]
            if not (last == 46 or last == 63 or last == 33 or last == 34 or last == 39):
                continue
            if e - sa_ >= 3 and last == 46 and cp[e - 2] == 46 and cp[e - 3] == 46:
                continue
        if nw < c4opt[0]:
            continue
        if _contains_ci(cp, sa_, sb, lorem):
            c4_lorem = 1
            if c4_first == 0:
                c4_first = 1
        if _contains_ci(cp, sa_, sb, jscript):
            continue
        has_curly = False
        for q in range(sa_, sb):
            if cp[q] == 123:
                has_curly = True
                break
        if has_curly:
            c4_curly = 1
            if c4_first == 0:
                c4_first = 2
        pol = False
        for p in range(6):
            if _contains_ci(cp, sa_, sb, policy[p, : policy_len[p]]):
                pol = True
                break
        if pol:
            continue
        c4_kept += 1
        # spaCy Sentencizer over the line's tokens
        sents = 1
        seen = False
        first = True
        q = tp
        while q < nt and ts[q] < sb:
            if not first and seen and not (tflag[q] & 3):
                sents += 1
                seen = False
            elif tflag[q] & 2:
                seen = True
            first = False
            q += 1
        c4_sent += sents
    outf[F_BULLET] = n_bullet / n_lines if n_lines > 0 else nan
    outf[F_ENDELL] = n_endell / n_lines if n_lines > 0 else nan
    outf[F_C4KEEP] = c4_kept / n_lines if n_lines > 0 else nan
    outi[I_C4SENT] = c4_sent
    outi[I_LOREM] = c4_lorem
    outi[I_CURLY] = c4_curly
    outi[I_C4FIRST] = c4_first
    # Gopher repetition: paragraphs = re.split(r"\n{2,}", text.strip()) --------------------
    a = 0
    while a < n and (fl[cp[a]] & SPACE):
        a += 1
    b = n
    while b > a and (fl[cp[b - 1]] & SPACE):
        b -= 1
    m = 0
    s = a
    i = a
    while i < b:
        if cp[i] == 10 and i + 1 < b and cp[i + 1] == 10:
            sa[m] = s
            se[m] = i
            m += 1
            while i < b and cp[i] == 10:
                i += 1
            s = i
        else:
            i += 1
    sa[m] = s
    se[m] = b
    m += 1
    d, dc = _find_dups(cp, sa, se, m, keys, cnt, np.uint64(1))
    outf[F_DPARA] = d / m
    outf[F_DPARAC] = dc / n if n > 0 else nan
    # lines = re.split("\n+", text) ---------------------------------------------------------
    m = 0
    s = 0
    i = 0
    while i < n:
        if cp[i] == 10:
            sa[m] = s
            se[m] = i
            m += 1
            while i < n and cp[i] == 10:
                i += 1
            s = i
        else:
            i += 1
    sa[m] = s
    se[m] = n
    m += 1
    d, dc = _find_dups(cp, sa, se, m, keys, cnt, np.uint64(2))
    outf[F_DLINE] = d / m
    outf[F_DLINEC] = dc / n if n > 0 else nan
    # top n-gram character fraction, n = 2, 3, 4 (Counter.most_common tie-break) ------------
    for gi in range(3):
        g = gi + 2
        ng = nt - g + 1
        if ng <= 0:
            outf[F_TOP + gi] = nan if n == 0 else 0.0
            continue
        size = _cap(ng)
        _table_clear(keys, cnt, size)
        mask = np.uint64(size - 1)
        best = 0
        for t in range(ng):
            L = wpre[t + g] - wpre[t] + g
            h = _mix((spre[t + g] - spre[t] * powb[L]) ^ np.uint64(g))
            c = _table_insert(keys, cnt, mask, h)
            if c > best:
                best = c
        for t in range(ng):
            L = wpre[t + g] - wpre[t] + g
            h = _mix((spre[t + g] - spre[t] * powb[L]) ^ np.uint64(g))
            if _table_get(keys, cnt, mask, h) == best:
                outf[F_TOP + gi] = (L - 1) * best / n
                break
    # duplicated n-gram character fraction, n = 5..10 (datatrove's greedy skip) -------------
    for gi in range(6):
        g = gi + 5
        size = _cap(max(nt - g + 1, 1))
        _table_clear(keys, cnt, size)
        mask = np.uint64(size - 1)
        rep = 0
        t = 0
        while t < nt - g + 1:
            L = wpre[t + g] - wpre[t]
            h = _mix((cpre[t + g] - cpre[t] * powb[L]) ^ np.uint64(100 + g))
            if _table_get(keys, cnt, mask, h) > 0:
                rep += L
                t += g
            else:
                _table_insert(keys, cnt, mask, h)
                t += 1
        outf[F_DUP + gi] = rep / n if n > 0 else nan
    # FineWeb: lines = text.split("\n") without blank lines ---------------------------------
    m = 0
    n_punct = 0
    n_short = 0
    n_nl = 0
    i = 0
    s = 0
    while i <= n:
        if i == n or cp[i] == 10:
            if i < n:
                n_nl += 1
            blank = True
            for q in range(s, i):
                if not (fl[cp[q]] & SPACE):
                    blank = False
                    break
            if not blank:
                sa[m] = s
                se[m] = i
                m += 1
                if fl[cp[i - 1]] & TERMINAL:
                    n_punct += 1
                if i - s <= 30:
                    n_short += 1
            s = i + 1
        i += 1
    if m > 0:
        d, dc = _find_dups(cp, sa, se, m, keys, cnt, np.uint64(3))
        outf[F_FWPUNCT] = n_punct / m
        outf[F_FWSHORT] = n_short / m
        outf[F_FWDUP] = dc / (n - n_nl) if n - n_nl > 0 else nan
        outf[F_FWLIST] = n_nl / nt if nt > 0 else nan
    else:
        outf[F_FWPUNCT] = nan
        outf[F_FWSHORT] = nan
        outf[F_FWDUP] = nan
        outf[F_FWLIST] = nan


F_MWL, F_HASH, F_ELL, F_BULLET, F_ENDELL, F_ALPHA = range(6)
F_DPARA, F_DPARAC, F_DLINE, F_DLINEC, F_TOP, F_DUP = 6, 7, 8, 9, 10, 13
F_C4KEEP, F_FWPUNCT, F_FWSHORT, F_FWDUP, F_FWLIST = 19, 20, 21, 22, 23
I_CHAR, I_TOK, I_WORDS, I_STOP, I_C4SENT, I_LOREM, I_CURLY, I_C4FIRST = range(8)


@njit(cache=True, nogil=True)
def _range(data, offsets, lo, hi, fl, stop_hashes, lorem, jscript, policy, policy_len, c4opt, outf,
           outi):  # fmt: skip
    maxb = 1
    for d in range(lo, hi):
        maxb = max(maxb, offsets[d + 1] - offsets[d])
    cap = 16
    while cap < 2 * maxb + 2:
        cap *= 2
    cp = np.empty(maxb + 1, np.int32)
    powb = np.empty(2 * maxb + 4, np.uint64)
    powb[0] = np.uint64(1)
    for k in range(1, 2 * maxb + 4):
        powb[k] = powb[k - 1] * _B
    scratch = (
        np.empty(maxb + 1, np.int64),  # ts
        np.empty(maxb + 1, np.int64),  # te
        np.empty(maxb + 1, np.int64),  # sfx
        np.empty(maxb + 2, np.int64),  # sa
        np.empty(maxb + 2, np.int64),  # se
        np.zeros(cap, np.uint64),  # keys
        np.zeros(cap, np.int32),  # cnt
        np.empty(maxb + 2, np.int64),  # wpre
        np.empty(maxb + 2, np.uint64),  # spre
        np.empty(maxb + 2, np.uint64),  # cpre
        powb,
        np.empty(maxb + 1, np.uint8),  # tflag
    )
    for d in range(lo, hi):
        n = _decode(data, offsets[d], offsets[d + 1], cp)
        _doc(cp, n, fl, stop_hashes, lorem, jscript, policy, policy_len, c4opt, scratch,
             outf[d], outi[d])  # fmt: skip


def _codes(s: str) -> np.ndarray:
    return np.array([ord(c) for c in s], dtype=np.int32)


@lru_cache(maxsize=16)
def _stop_hashes(stop_words: tuple[str, ...]) -> np.ndarray:
    if len(stop_words) > 64:
        raise ValueError("at most 64 stop words")
    return np.array([_poly(_codes(w), 0, len(w)) for w in stop_words], dtype=np.uint64)


@lru_cache(maxsize=1)
def _patterns() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    policy = np.zeros((7, 16), dtype=np.int32)
    plen = np.zeros(7, dtype=np.int64)
    for i, p in enumerate((*_C4_POLICY, "citation needed")):
        policy[i, : len(p)] = _codes(p)
        plen[i] = len(p)
    return _codes("lorem ipsum"), _codes("javascript"), policy, plen


def compute_signals(
    strings: pa.Array | pa.ChunkedArray,
    *,
    stop_words: tuple[str, ...],
    c4_min_words_per_line: int = 3,
    c4_require_terminal_punct: bool = True,
    c4_max_word_length: int = 1000,
    threads: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Float signals (rows x F_NAMES) and integer signals (rows x I_NAMES); nulls as "".

    The C4 options shape which lines count towards the sentence total, as in datatrove's
    C4QualityFilter(min_words_per_line, filter_no_terminal_punct, max_word_length).
    """
    if isinstance(strings, pa.ChunkedArray):
        parts = [
            compute_signals(
                c,
                stop_words=stop_words,
                c4_min_words_per_line=c4_min_words_per_line,
                c4_require_terminal_punct=c4_require_terminal_punct,
                c4_max_word_length=c4_max_word_length,
                threads=threads,
            )
            for c in strings.chunks
        ]
        if not parts:
            return np.zeros((0, len(F_NAMES))), np.zeros((0, len(I_NAMES)), dtype=np.int64)
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    arr = strings
    if not pa.types.is_large_string(arr.type):
        arr = arr.cast(pa.large_string())
    if arr.null_count:
        arr = pc.fill_null(arr, "")
    n = len(arr)
    outf = np.full((n, len(F_NAMES)), np.nan)
    outi = np.zeros((n, len(I_NAMES)), dtype=np.int64)
    if n == 0:
        return outf, outi
    bufs = arr.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int64, count=n + 1, offset=arr.offset * 8)
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(1, np.uint8)
    c4opt = np.array(
        [c4_min_words_per_line, int(c4_require_terminal_punct), c4_max_word_length], np.int64
    )
    args = (char_flags(), _stop_hashes(tuple(stop_words)), *_patterns(), c4opt, outf, outi)
    threads = max(1, min(threads, n // 64 or 1))
    if threads == 1:
        _range(data, offsets, 0, n, *args)
    else:
        bounds = np.linspace(0, n, threads + 1).astype(int)
        with ThreadPoolExecutor(threads) as ex:
            futs = [
                ex.submit(_range, data, offsets, int(lo), int(hi), *args)
                for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)
            ]
            for f in futs:
                f.result()
    return outf, outi
