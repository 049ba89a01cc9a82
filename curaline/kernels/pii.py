"""PII redaction: find personal data and secrets in text columns, replace them with typed
placeholders, and log counts (never the matched text) to the ledger.

Records are never dropped here: a record with an e-mail address is still useful training
text once the address is gone. Detection is a list of `SpanDetector`s; the built-in one is
`RegexDetector` (e-mail, phone, IP, credit card, IBAN, US SSN, secrets), and an NER backend
(Presidio, spaCy) for names and addresses plugs in through the same protocol.

Speed comes from doing little in Python: RE2 (``pyarrow.compute.match_substring_regex``)
picks, over whole Arrow arrays, the rows that could hold each type; only those rows reach
the Python regexes and validators (Luhn, mod-97, octet ranges, SSN area rules, entropy).
"""

from __future__ import annotations

import ipaddress
import math
import re
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import NamedTuple, Protocol, runtime_checkable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curaline.kernels.base import KernelResult, empty_events, make_events
from curaline.kernels.card_schemes import CARD_CONTEXT, MAX_CARD_DIGITS, MIN_CARD_DIGITS, card_scheme
from curaline.kernels.card_schemes import luhn_ok as luhn_ok  # re-exported: callers check numbers with it
from curaline.records import TEXT_COLUMNS

#: Built-in PII types, most specific first: on equal-length overlaps the earlier one wins.
PII_TYPES = ("secret", "iban", "credit_card", "us_ssn", "email", "ip_address", "phone")

#: Fields of the ``pii_counts`` struct: the built-in types plus ``other`` for labels that
#: extra detectors (NER) report, e.g. ``person``.
COUNT_FIELDS = ("email", "phone", "ip_address", "credit_card", "iban", "us_ssn", "secret", "other")

SIGNAL_COLUMNS: dict[str, pa.DataType] = {
    "pii_counts": pa.struct([pa.field(name, pa.int32()) for name in COUNT_FIELDS]),
    "pii_total": pa.int32(),
}

REASON = "pii_redacted"


class Span(NamedTuple):
    """A half-open character range ``[start, end)`` of one PII ``label`` in one text."""

    start: int
    end: int
    label: str


@runtime_checkable
class SpanDetector(Protocol):
    """Anything that finds PII spans: the regex core, or an NER model (Presidio, spaCy).

    ``detect`` gets a batch of non-null texts and returns, per text, its spans in any
    order; spans may overlap (the kernel keeps the longest, then the most specific).
    """

    def detect(self, texts: Sequence[str]) -> list[list[Span]]: ...


@dataclass(frozen=True)
class PiiConfig:
    """Which PII to redact and how the placeholder looks.

    Defaults follow the usual training-data practice (BigCode StarCoder PII pipeline,
    arXiv 2305.06161 §5; Presidio's recognizers for phone/SSN/IBAN/credit-card rules):
    every type on, typed placeholders like ``<EMAIL>``.
    """

    #: Built-in types to detect (subset of PII_TYPES).
    types: tuple[str, ...] = PII_TYPES
    #: Placeholder; ``{label}`` becomes the upper-cased label (EMAIL, PHONE, IP_ADDRESS...).
    placeholder: str = "<{label}>"
    #: Keep values reserved for examples, which identify nobody: loopback, unspecified,
    #: link-local, multicast and documentation IPs (RFC 5737, RFC 3849), addresses at
    #: example.com/.test/.invalid (RFC 2606) and fictional NANP 555 numbers.
    keep_reserved_examples: bool = True
    #: Keep private-range IPs (10/8, 172.16/12, 192.168/16, fc00::/7), as BigCode does;
    #: off by default, like Presidio, since an intranet address can still point at someone.
    keep_private_ips: bool = False
    #: Generic ``api_key=VALUE`` assignments: minimum value length and Shannon entropy in
    #: bits per character (detect-secrets' base64 limit is 4.5, hex 3.0; 3.5 sits between).
    secret_min_length: int = 16
    secret_min_entropy: float = 3.5
    #: Detectors to run; None means the built-in regex core for ``types`` only.
    detectors: tuple[SpanDetector, ...] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        unknown = set(self.types) - set(PII_TYPES)
        if unknown:
            raise ValueError(f"unknown PII types {sorted(unknown)}; known: {PII_TYPES}")
        if "{label}" not in self.placeholder:
            raise ValueError("placeholder must contain '{label}'")
        self.placeholder.format(label="EMAIL")  # fails now on stray braces, not mid-run


# --------------------------------------------------------------------------- validators

_IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22,
    "BH": 22, "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24,
    "DE": 22, "DJ": 27, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18,
    "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27,
    "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27,
    "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20,
    "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20, "MR": 27,
    "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23, "PK": 24, "PL": 28,
    "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24, "SC": 31,
    "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip  # SWIFT IBAN Registry, release 99 (2024)

# SSNs published in advertising and by the SSA as examples: never anyone's.
_SSN_EXAMPLES = frozenset({"078051120", "219099999", "123456789"})


def _card_ok(digits: str) -> bool:
    return card_scheme(digits) is not None


def iban_ok(compact: str) -> bool:
    """ISO 13616: registered country, its exact length, and mod-97 of the rearranged code."""
    compact = compact.upper()
    if _IBAN_LENGTHS.get(compact[:2]) != len(compact) or not compact[2:4].isdigit():
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def ssn_ok(digits: str) -> bool:
    """SSA rules: area 001-899 but not 666, group 01-99, serial 0001-9999."""
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    return (
        area != "000"
        and area != "666"
        and area[0] != "9"
        and group != "00"
        and serial != "0000"
        and digits not in _SSN_EXAMPLES
    )


def shannon_entropy(value: str) -> float:
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values())


# ------------------------------------------------------------------------------ patterns


class _Rule(NamedTuple):
    """One detector rule: RE2 row prefilters, a Python pattern, and a validator that
    returns the span to redact (possibly moved or narrowed) or None."""

    label: str
    prefilter: tuple[str, ...]  # RE2 patterns a row must all match; the first is the cheap one
    pattern: re.Pattern[str]
    check: Callable[[re.Match[str], str], tuple[int, int] | None]


# Every pattern starts with a plain character or class, so `re` skips ahead in C to
# the next candidate; boundary lookbehinds come after that first character.

# The domain part from "@"; the local part is read backwards from there (_EMAIL_LOCAL).
_EMAIL = re.compile(
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+([A-Za-z]{2,24})(?![\w@-])"
)
_EMAIL_LOCAL = frozenset("._%+-")  # besides letters and digits
_FILE_TLDS = frozenset(["png", "jpg", "jpeg", "gif", "svg", "webp", "bmp", "ico", "css", "js"])

_IPV4 = re.compile(
    r"[0-9](?<![\w.:][0-9])[0-9]{0,2}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}(?![\w:]|\.[0-9])"
)
# A hex/colon token (with an IPv4 tail for ::ffff:1.2.3.4); ipaddress decides.
_IPV6 = re.compile(
    r"[0-9A-Fa-f:](?<![\w:.][0-9A-Fa-f:])(?:[0-9A-Fa-f]{0,4}:){1,8}[0-9A-Fa-f:.]*+(?!\w)"
)
# Dotted quads that are versions or section numbers: "v1.2.3.4", "==3.1.1.3", "Section
# 27.2.5.1", and headings "9.7.3.1. Regular Expressions" at the start of a line.
_NOT_IP_BEFORE = re.compile(
    r"(?i)(?:\b(?:v|version|release|kernel|ver\.?|section|sect\.|chapter|chap\.|figure|fig\."
    r"|table|step|part|appendix|clause|paragraph|rule|item|note)|==|§)\s*$"
)
_HEADING = re.compile(r"(?:^|\n)[ \t]*$")
_HEADING_AFTER = re.compile(r"\.[ \t]+[A-Z]")

# 12-19 digits, bare or in groups with one kind of separator (not in a URL path).
_CARD = re.compile(
    r"[0-9](?<![\w.,/-][0-9])(?:[0-9]{11,18}|[0-9]{2,5}(?:[ -][0-9]{1,6}){1,5})(?![\w-]|[.,][0-9])"
)
# Found at the check digits (two letters behind), so the scan stops only at digits.
_IBAN = re.compile(
    r"[0-9](?<=(?<![\w-])[A-Za-z]{2}[0-9])[0-9](?:[ ]?[A-Za-z0-9]{4}){2,7}(?:[ ]?[A-Za-z0-9]{1,4})?"
    r"(?![\w-])"
)
# 123-45-6789 stands alone; "123 45 6789" and "123456789" need a word like "SSN" before.
_SSN = re.compile(r"([0-9](?<![\w.,-][0-9])[0-9]{2})-([0-9]{2})-([0-9]{4})(?![\w-]|[.,][0-9])")
_SSN_WEAK = re.compile(
    r"([0-9](?<![\w.,-][0-9])[0-9]{2})( ?)([0-9]{2})\2([0-9]{4})(?![\w-]|[.,][0-9])"
)
_SSN_CONTEXT = re.compile(r"(?i)\b(?:ssn|ssns|social\s+security|tax\s?payer|itin)\b")

# Strong phone shapes need no context: +CC..., (NNN) NNN-NNNN, NNN-NNN-NNNN, NNN.NNN.NNNN,
# with a 1 / 001 trunk prefix and an extension. The first character picks the branch.
_PHONE_STRONG = re.compile(
    r"[+(0-9](?<![\w+/.-][+(0-9])(?<![0-9],[+(0-9])(?:"
    r"(?<=\+)(?:[0-9]{1,3}[ .-]?(?:\([0-9]{1,4}\)[ .-]?)?[0-9]{1,4}(?:[ .-][0-9]{1,5}){1,5}"
    r"|[1-9][0-9]{9,14})"
    r"|(?<=\()[0-9]{3}\)[ ]?[0-9]{3}[ .-][0-9]{4}"
    r"|(?:(?<=0)01|(?<=1))[ .-]\([0-9]{3}\)[ ]?[0-9]{3}[ .-][0-9]{4}"
    r"|(?:(?<=0)01[.-][0-9]{3}|(?<=1)[.-][0-9]{3}|[0-9]{2})(?P<s>[.-])[0-9]{3}(?P=s)[0-9]{4}"
    r")(?:[ ]?(?:x|ext\.?|extension)[ ]?[0-9]{1,6})?(?![\w/]|[.,:-][0-9])"
)
# National shapes (06-10446904, 089 72 63 41, (11) 4706-6184 ...) count only near a word
# that says "phone": too many number lists look like them otherwise.
_PHONE_WEAK = re.compile(
    r"[(0-9](?<![\w+/.:-][(0-9])(?<![0-9],[(0-9])"
    r"(?:(?<=\()[0-9]{2,4}\)[ ]?[0-9]{2,12}|(?<=[0-9])[0-9]{1,11})"
    r"(?:[ .-][0-9]{2,8}){0,5}(?:x[0-9]{1,6})?(?![\w/]|[.,:-][0-9])"
)
_EXTENSION = re.compile(r"[ ]?(?:x|ext\.?|extension)[ ]?(?=[0-9])")
_PHONE_WORDS = (
    r"tel|telephone|phone|phones|ph|call|called|calling|calls|cell|cellphone|mobile|mob|fax"
    r"|ring|rang|phoned|texted|office|desk|whatsapp|sms|message|messages|contact|reach|dial|hotline|landline"
    r"|answering"
)
_PHONE_CONTEXT_BEFORE = re.compile(rf"(?i)\b(?:{_PHONE_WORDS})\b[^\n\d]{{0,25}}$|☎|📞")
_PHONE_LABEL_BEFORE = re.compile(
    rf"(?i)\b(?:{_PHONE_WORDS})\b(?:[ \t]*[:#.]?[ \t]*|[ \t]*:[ \t]*\n[ \t]*)$"
)
_PHONE_CONTEXT_AFTER = re.compile(rf"(?i)[ \t:,.()-]{{0,3}}(?:{_PHONE_WORDS})\b")
_DATE = re.compile(
    r"(?:(?:19|20)\d\d[-./ ](?:0?[1-9]|1[0-2])[-./ ](?:0?[1-9]|[12]\d|3[01])"
    r"|(?:0?[1-9]|[12]\d|3[01])[-./ ](?:0?[1-9]|[12]\d|3[01])[-./ ](?:\d\d|(?:19|20)\d\d))"
)
_DECIMAL = re.compile(r"[0-9]+\.[0-9]+")
_IPV4_LIKE = re.compile(r"\+?[0-9]{1,3}(?:\.[0-9]{1,3}){3}")

# Vendor token shapes; each branch starts with a literal so the scan is a C prefix search.
_SECRET_TOKENS = re.compile(
    r"(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[0-9A-Z]{16}(?![\w-])"
    r"|gh[pousr]_[A-Za-z0-9]{36,255}(?![\w-])"
    r"|github_pat_[A-Za-z0-9_]{22,255}(?![\w-])"
    r"|xox[bpoas]-[0-9A-Za-z-]{10,250}(?![\w-])"
    r"|sk_(?:live|test)_[0-9A-Za-z]{16,247}(?![\w-])"
    r"|pk_(?:live|test)_[0-9A-Za-z]{16,247}(?![\w-])"
    r"|rk_(?:live|test)_[0-9A-Za-z]{16,247}(?![\w-])"
    r"|AIza[0-9A-Za-z_-]{35}(?![\w-])"
    r"|sk-(?:proj-|svcacct-|admin-|ant-api\d\d-)?[A-Za-z0-9_-]{20,200}(?![\w-])"
    r"|eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*(?![\w-])"
    r"|-----BEGIN[A-Z0-9 ]{0,30} PRIVATE KEY(?: BLOCK)?-----(?:[\s\S]{16,8192}?"
    r"-----END[A-Z0-9 ]{0,30} PRIVATE KEY(?: BLOCK)?-----|(?:\s+[A-Za-z0-9+/=]{16,}+)+)"
)  # a PEM block without its END line (a truncated document) loses its base64 lines
# Generic assignments, found at the operator: the name before it must say key/secret/...
_SECRET_ASSIGN = re.compile(r"""[:=][=>]?[ \t]{0,3}(?:["'`]|b')?([A-Za-z0-9+/=_.~-]{8,256})""")
_TOKEN_CHAR = re.compile(r"[\w/+]")
_SECRET_NAME = re.compile(
    r"(?i)(?:api[_-]?key|apikey|secret|access[_-]?key|token|passw(?:or)?d|pwd|private[_-]?key"
    r"|credentials?)[\w.-]{0,30}['\"]?[ \t]{0,3}:?$"
)


_EXAMPLE_DOMAIN = re.compile(
    r"(?i)@(?:[\w-]+\.)*example\.(?:com|org|net)$|\.(?:test|invalid|example|localhost)$"
)


def _make_email_check(
    keep_examples: bool,
) -> Callable[[re.Match[str], str], tuple[int, int] | None]:
    def check(m: re.Match[str], text: str) -> tuple[int, int] | None:
        at = start = m.start()
        floor = max(0, at - 64)
        while start > floor and (text[start - 1].isalnum() or text[start - 1] in _EMAIL_LOCAL):
            start -= 1
        if start == floor and floor and (text[floor - 1].isalnum() or text[floor - 1] in "._"):
            return None  # a 64+ character run before "@" is no mailbox
        while start < at and not text[start].isalnum():
            start += 1  # the local part starts with a letter or digit
        if start == at or m.group(1).lower() in _FILE_TLDS:
            return None  # "@user" handles, icon@2x.png
        if keep_examples and _EXAMPLE_DOMAIN.search(m.group()):
            return None
        return start, m.end()

    return check


# RFC 5737 / RFC 3849 documentation ranges: the addresses every manual uses.
_DOC_NETS = tuple(
    ipaddress.ip_network(net)
    for net in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
)


def _ip_identifies(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return not (
        addr.is_loopback
        or addr.is_unspecified
        or addr.is_link_local
        or addr.is_multicast
        or (addr.version == 4 and addr.is_reserved)  # v6 "reserved" is most of the space
        or any(addr.version == net.version and addr in net for net in _DOC_NETS)
    )


def _make_ip_checks(
    keep_examples: bool, keep_private: bool
) -> tuple[
    Callable[[re.Match[str], str], tuple[int, int] | None],
    Callable[[re.Match[str], str], tuple[int, int] | None],
]:
    def redact(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        if keep_examples and not _ip_identifies(addr):
            return False
        return not (keep_private and addr.is_private)

    def check_v4(m: re.Match[str], text: str) -> tuple[int, int] | None:
        value = m.group()
        octets = value.split(".")
        if octets[0] == "0" or any(int(o) > 255 or (len(o) > 1 and o[0] == "0") for o in octets):
            return None  # 999.1.1.1, 01.02.03.04, 0.4.1.2: not a host address
        if sum(len(o) == 1 for o in octets) >= 3:
            # Reads as a version or section (3.7.15.2, 1.4.1.19); the addresses this skips
            # are public resolvers and examples (8.8.8.8, 1.1.1.1, 10.0.0.2), not people.
            return None
        start, end = m.span()
        if _NOT_IP_BEFORE.search(text, max(0, start - 12), start):
            return None
        if _HEADING_AFTER.match(text, end) and _HEADING.search(text, max(0, start - 80), start):
            return None
        return m.span() if redact(ipaddress.IPv4Address(value)) else None

    def check_v6(m: re.Match[str], text: str) -> tuple[int, int] | None:
        value = m.group().rstrip(".")  # a sentence's full stop
        if value.endswith(":") and not value.endswith("::"):
            value = value[:-1]  # "address fe80::1:" -> a label's colon
        if value.count(":") < 2:
            return None  # 12:30, a:b
        groups = [g for g in value.split(":") if g]
        if "." in value:
            groups.append("v4")  # ::ffff:1.2.3.4 -- the IPv4 tail is two hextets
        # Require a digit and three hextets (or the full eight): "dead::beef" in prose and
        # Perl/C++ "a::b" are not worth the risk; MACs and clock times fail the parse.
        if len(groups) < 3 or not any(ch.isdigit() for ch in value):
            return None
        if all(len(g) <= 2 for g in groups):
            return None  # EUI-64 / MAC (0a:00:2b:ff:fe:01:02:03) and toys (1:2:3:4:5:6:7:8)
        try:
            addr = ipaddress.IPv6Address(value)
        except ValueError:
            return None
        return (m.start(), m.start() + len(value)) if redact(addr) else None

    return check_v4, check_v6


def _card_groups_ok(sizes: list[int]) -> bool:
    """Cards print as 4-4-4-4(-3), 4-6-5, 4-6-4, 4-3-3-3 or 4-4-4-2; "390 391 392 393" is a list."""
    first, *middle, last = sizes
    return first == 4 and all(3 <= g <= 6 for g in middle) and 1 <= last <= 6


def _check_card(m: re.Match[str], text: str) -> tuple[int, int] | None:
    value = m.group()
    seps = {ch for ch in value if not ch.isdigit()}
    if len(seps) > 1:
        return None
    if not seps:
        if not _card_ok(value):
            return None
        if len(value) == 12 and not CARD_CONTEXT.search(text, max(0, m.start() - 60), m.start()):
            return None  # Maestro's 12 digits, bare: only where the text says it is a card
        return m.span()
    groups = value.split(seps.pop())
    # all the groups, or without a trailing group of 1-2 digits: "4111 1111 1111 1111 5 times"
    # ends before the 5, but "1514 1514 1514 1514 1514" is a run of numbers, not a card in it
    for k in (len(groups), len(groups) - 1):
        digits = "".join(groups[:k])
        if MIN_CARD_DIGITS <= len(digits) <= MAX_CARD_DIGITS and _card_groups_ok([len(g) for g in groups[:k]]) \
                and _card_ok(digits):  # fmt: skip
            return m.start(), m.start() + len(value) - sum(len(g) + 1 for g in groups[k:])
        if k < 3 or len(groups[k - 1]) > 2:
            break
    return None


def _check_iban(m: re.Match[str], text: str) -> tuple[int, int] | None:
    start = m.start() - 2  # the pattern is found at the check digits
    value = text[start : m.end()]
    need = _IBAN_LENGTHS.get(value[:2].upper())
    if need is None:
        return None
    count = 0
    for i, ch in enumerate(value):
        if ch != " ":
            count += 1
            if count == need:
                end = i + 1
                if end < len(value) and value[end] != " ":
                    return None  # a longer token, not this country's IBAN
                ok = iban_ok(value[:end].replace(" ", ""))
                return (start, start + end) if ok else None
    return None


def _check_ssn(m: re.Match[str], text: str) -> tuple[int, int] | None:
    return m.span() if ssn_ok(m.group(1) + m.group(2) + m.group(3)) else None


def _check_ssn_weak(m: re.Match[str], text: str) -> tuple[int, int] | None:
    if not ssn_ok(m.group(1) + m.group(3) + m.group(4)):
        return None
    before = text[max(0, m.start() - 40) : m.start()]
    return m.span() if _SSN_CONTEXT.search(before) else None


def _is_dummy_number(digits: str) -> bool:
    """123-456-7890, 098-765-4321, 111-222-3333: the numbers tutorials invent."""
    return (
        digits in "01234567890123456789"
        or digits in "98765432109876543210"
        or (len(set(digits[:3])) == 1 and len(set(digits[3:6])) == 1 and len(set(digits[6:])) == 1)
    )


def _is_example_phone(digits: str) -> bool:
    """NANP numbers in the 555 area or exchange (fiction, directory help) or invented."""
    nanp = digits[3:] if digits.startswith("001") else digits
    nanp = nanp[1:] if len(nanp) == 11 and nanp[0] == "1" else nanp
    return len(nanp) == 10 and ("555" in (nanp[:3], nanp[3:6]) or _is_dummy_number(nanp))


def _make_phone_strong_check(
    keep_examples: bool,
) -> Callable[[re.Match[str], str], tuple[int, int] | None]:
    def check(m: re.Match[str], text: str) -> tuple[int, int] | None:
        core = _EXTENSION.split(m.group(), maxsplit=1)[0]
        digits = "".join(ch for ch in core if ch.isdigit())
        if not 8 <= len(digits) <= 15 or _IPV4_LIKE.fullmatch(core):
            return None  # "+192.168.0.101" is an address being added
        if core[1:].isdigit() and any(
            ch.isdigit() for ch in text[max(0, m.start() - 12) : m.start()]
        ):
            return None  # "-2147483648 to +2147483647": a bare +number in a numeric range
        if keep_examples and _is_example_phone(digits):
            return None
        return m.span()

    return check


def _make_phone_weak_check(
    keep_examples: bool,
) -> Callable[[re.Match[str], str], tuple[int, int] | None]:
    def check(m: re.Match[str], text: str) -> tuple[int, int] | None:
        core = m.group().split("x", 1)[0]
        digits = "".join(ch for ch in core if ch.isdigit())
        n = len(digits)
        separated = n != len(core)
        if not (6 <= n <= 13 if separated else 7 <= n <= 12):
            return None
        if _DATE.fullmatch(core) or _DECIMAL.fullmatch(core):
            return None  # 2019-04-12, 12.34567
        if len(set(digits)) < 3 or (keep_examples and _is_example_phone(digits)):
            return None  # 00000000, 10 10 10, 555-0100
        start, end = m.span()
        if _PHONE_CONTEXT_AFTER.match(text[end : end + 16]):
            return m.span()
        # Six digits ("03 2657") are often a house number after "call a taxi to", and a
        # bare run ("semget(5440126") an id after "system call": only a label right before
        # ("Phone: ", "call ") or a keyword after vouches for them.
        before = _PHONE_LABEL_BEFORE if n == 6 or not separated else _PHONE_CONTEXT_BEFORE
        return m.span() if before.search(text, max(0, start - 40), start) else None

    return check


def _check_secret_token(m: re.Match[str], text: str) -> tuple[int, int] | None:
    value = m.group()
    if m.start() and not value.startswith("-") and _TOKEN_CHAR.match(text, m.start() - 1):
        return None  # inside a longer word or base64 run
    if value.startswith("sk-") and not (
        any(ch.isdigit() for ch in value) and shannon_entropy(value) >= 3.5
    ):
        return None  # "sk-learn-compatible-estimators" and other slugs
    return m.span()


def _make_assign_check(
    min_length: int, min_entropy: float
) -> Callable[[re.Match[str], str], tuple[int, int] | None]:
    def check(m: re.Match[str], text: str) -> tuple[int, int] | None:
        value = m.group(1).rstrip(".")
        if not _SECRET_NAME.search(text, max(0, m.start() - 60), m.start()):
            return None
        if (
            len(value) < min_length
            or not any(ch.isdigit() for ch in value)
            or not any(ch.isalpha() for ch in value)
            or shannon_entropy(value) < min_entropy
        ):
            return None
        return m.start(1), m.start(1) + len(value)

    return check


def _rules(config: PiiConfig) -> list[_Rule]:
    check_v4, check_v6 = _make_ip_checks(config.keep_reserved_examples, config.keep_private_ips)
    check_email = _make_email_check(config.keep_reserved_examples)
    check_phone = _make_phone_strong_check(config.keep_reserved_examples)
    check_phone_weak = _make_phone_weak_check(config.keep_reserved_examples)
    assign = _make_assign_check(config.secret_min_length, config.secret_min_entropy)
    rules = {
        "email": [
            _Rule(
                "email",
                (r"[\w.%+-]@[A-Za-z0-9-]+\.[A-Za-z0-9.-]*[A-Za-z]{2}",),
                _EMAIL,
                check_email,
            ),
        ],
        "ip_address": [
            _Rule("ip_address", (r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}",), _IPV4, check_v4),
            _Rule(
                "ip_address",
                (r"(?i)[0-9a-f]{0,4}:[0-9a-f]{0,4}:[0-9a-f]{0,4}:?[0-9a-f]",),
                _IPV6,
                check_v6,
            ),
        ],
        "credit_card": [
            _Rule("credit_card", (r"\d(?:[ -]?\d){11}",), _CARD, _check_card),
        ],
        "iban": [
            _Rule("iban", (r"(?i)\b[a-z]{2}\d{2} ?[a-z0-9]{4} ?[a-z0-9]{4}",), _IBAN, _check_iban),
        ],
        "us_ssn": [
            _Rule("us_ssn", (r"\d{3}[ -]\d{2}[ -]\d{4}",), _SSN, _check_ssn),
            _Rule(
                "us_ssn",
                (r"\d{3} ?\d\d ?\d{4}", r"(?i)ssn|social security|taxpayer|itin"),
                _SSN_WEAK,
                _check_ssn_weak,
            ),
        ],
        "phone": [
            _Rule(
                "phone",
                (r"\+\d|\(\d{3}\) ?\d{3}[ .-]\d{4}|\d{3}[.-]\d{3}[.-]\d{4}",),
                _PHONE_STRONG,
                check_phone,
            ),
            _Rule(
                "phone",
                (r"\d{2}[ .-]\d{2}|\(\d{2,4}\)|\d{7}", rf"(?i)\b(?:{_PHONE_WORDS})\b"),
                _PHONE_WEAK,
                check_phone_weak,
            ),
        ],
        "secret": [
            _Rule(
                "secret",
                (
                    r"AKIA|ASIA|AGPA|AIDA|AROA|ANPA|gh[pousr]_|github_pat_|xox[bpoas]-"
                    r"|_live_|_test_|AIza|sk-|-----BEGIN|eyJ",
                ),
                _SECRET_TOKENS,
                _check_secret_token,
            ),
            _Rule(
                "secret",
                (r"(?i)(key|secret|token|passw|pwd|credential)[\w.'\"-]*\s*[:=]",),
                _SECRET_ASSIGN,
                assign,
            ),
        ],
    }
    return [rule for name in config.types for rule in rules[name]]


def _scoped(pattern: str) -> str:
    """Wrap an RE2 pattern for an alternation, keeping a leading (?i) to its branch."""
    return f"(?i:{pattern[4:]})" if pattern.startswith("(?i)") else f"(?:{pattern})"


def _prefilter(array: pa.Array, patterns: tuple[str, ...]) -> np.ndarray:
    """Rows that may match: RE2 over the whole Arrow array, each pattern on the survivors."""
    mask: np.ndarray = pc.is_valid(array).to_numpy(zero_copy_only=False)
    for pattern in patterns:
        rows = np.flatnonzero(mask)
        if rows.size == 0:
            break
        sub = array if rows.size == len(array) else array.take(pa.array(rows))
        hit = pc.fill_null(pc.match_substring_regex(sub, pattern), False)
        mask = np.zeros(len(array), dtype=bool)
        mask[rows] = hit.to_numpy(zero_copy_only=False)
    return mask


class RegexDetector:
    """The built-in detector: precise patterns plus validators, RE2-prefiltered."""

    def __init__(self, config: PiiConfig | None = None) -> None:
        self.config = config or PiiConfig()
        self.rules = _rules(self.config)
        self.any_trigger = "|".join(_scoped(rule.prefilter[0]) for rule in self.rules)

    def detect(self, texts: Sequence[str]) -> list[list[Span]]:
        found = self.detect_arrow(pa.array(texts, type=pa.string()))
        return [found.get(i, []) for i in range(len(texts))]

    def detect_arrow(self, array: pa.Array) -> dict[int, list[Span]]:
        """Spans for the rows of a string array that have any, keyed by row index.

        One RE2 pass with every rule's first trigger keeps the candidate rows (a fifth of
        technical prose); each rule's own triggers then run on those rows only.
        """
        if not self.rules:
            return {}
        candidates = np.flatnonzero(_prefilter(array, (self.any_trigger,)))
        if candidates.size == 0:
            return {}
        sub = array.take(pa.array(candidates))
        masks = [_prefilter(sub, rule.prefilter) for rule in self.rules]
        rows = np.flatnonzero(np.logical_or.reduce(masks))
        texts = dict(zip(rows.tolist(), sub.take(pa.array(rows)).to_pylist(), strict=True))
        out: dict[int, list[Span]] = {}
        for rule, mask in zip(self.rules, masks, strict=True):
            for row in np.flatnonzero(mask).tolist():
                text = texts[row]
                for m in rule.pattern.finditer(text):
                    span = rule.check(m, text)
                    if span is not None:
                        key = int(candidates[row])
                        out.setdefault(key, []).append(Span(span[0], span[1], rule.label))
        return out


# --------------------------------------------------------------------------------- kernel

_RANK = {label: i for i, label in enumerate(PII_TYPES)}


def resolve_overlaps(spans: Sequence[Span]) -> list[Span]:
    """Keep non-overlapping spans: longest first, then the most specific type."""
    unknown = len(_RANK)  # labels of extra detectors yield to the validated built-ins
    ordered = sorted(spans, key=lambda s: (s.start - s.end, _RANK.get(s.label, unknown), s.start))
    starts: list[int] = []
    kept: list[Span] = []
    for span in ordered:
        i = bisect_left(starts, span.start)
        if i > 0 and kept[i - 1].end > span.start:
            continue
        if i < len(kept) and kept[i].start < span.end:
            continue
        starts.insert(i, span.start)
        kept.insert(i, span)
    return kept


def find_pii(array: pa.Array, config: PiiConfig | None = None) -> dict[int, list[Span]]:
    """Resolved spans of every detector, for the rows of ``array`` that have any."""
    config = config or PiiConfig()
    detectors = config.detectors if config.detectors is not None else (RegexDetector(config),)
    merged: dict[int, list[Span]] = {}
    for detector in detectors:
        detect_arrow = getattr(detector, "detect_arrow", None)
        if detect_arrow is not None:
            found: dict[int, list[Span]] = detect_arrow(array)
        else:
            valid = np.flatnonzero(pc.is_valid(array).to_numpy(zero_copy_only=False))
            texts = array.take(pa.array(valid)).to_pylist()
            found = {
                int(row): spans
                for row, spans in zip(valid, detector.detect(texts), strict=True)
                if spans
            }
        for row, spans in found.items():
            merged.setdefault(row, []).extend(spans)
    return {row: resolve_overlaps(spans) for row, spans in merged.items()}


def redact_text(text: str, spans: Sequence[Span], placeholder: str = "<{label}>") -> str:
    """Replace resolved (sorted, non-overlapping) spans by their placeholders."""
    parts: list[str] = []
    pos = 0
    for span in spans:
        parts.append(text[pos : span.start])
        parts.append(placeholder.format(label=span.label.upper()))
        pos = span.end
    parts.append(text[pos:])
    return "".join(parts)


def redact_pii(table: pa.Table, *, kind: str, config: PiiConfig | None = None) -> KernelResult:
    """Redact PII in the kind's text columns; keep every record, log counts per record."""
    config = config or PiiConfig()
    if kind not in TEXT_COLUMNS:
        raise ValueError(f"unknown record kind {kind!r}; known: {', '.join(TEXT_COLUMNS)}")
    if config.detectors is None:  # build the regex core once, not per column
        config = replace(config, detectors=(RegexDetector(config),))
    n = table.num_rows
    counts = {name: np.zeros(n, dtype=np.int32) for name in COUNT_FIELDS}
    extra: dict[int, Counter[str]] = {}
    for column in TEXT_COLUMNS[kind]:
        if column not in table.column_names:
            raise ValueError(f"{kind} table lacks text column {column!r}")
        array = table[column].combine_chunks()
        found = find_pii(array, config)
        if not found:
            continue
        rows = sorted(found)
        originals = array.take(pa.array(rows)).to_pylist()
        redacted = []
        for row, text in zip(rows, originals, strict=True):
            spans = found[row]
            redacted.append(redact_text(text, spans, config.placeholder))
            for span in spans:
                if span.label in counts:
                    counts[span.label][row] += 1
                else:
                    counts["other"][row] += 1
                    extra.setdefault(row, Counter())[span.label] += 1
        mask = np.zeros(n, dtype=bool)
        mask[rows] = True
        new = pc.replace_with_mask(array, pa.array(mask), pa.array(redacted, type=array.type))
        table = table.set_column(table.schema.get_field_index(column), column, new)

    total = np.stack([counts[name] for name in COUNT_FIELDS]).sum(axis=0, dtype=np.int32)
    struct = pa.StructArray.from_arrays(
        [pa.array(counts[name], pa.int32()) for name in COUNT_FIELDS], names=list(COUNT_FIELDS)
    )
    for name, values in (("pii_counts", struct), ("pii_total", pa.array(total, pa.int32()))):
        if name in table.column_names:
            table = table.set_column(table.schema.get_field_index(name), name, values)
        else:
            table = table.append_column(name, values)

    changed = np.flatnonzero(total > 0)
    if changed.size == 0:
        events = empty_events()
    else:
        details: list[str | None] = []
        for row in changed.tolist():
            parts = [
                f"{name}={counts[name][row]}" for name in COUNT_FIELDS[:-1] if counts[name][row]
            ]
            parts += [f"{label}={c}" for label, c in sorted(extra.get(row, {}).items())]
            details.append(",".join(parts))
        events = make_events(
            table["doc_id"].take(pa.array(changed)).combine_chunks(),
            "redact",
            REASON,
            value=total[changed].astype(np.float64),
            detail=details,
        )
    return KernelResult(table=table, keep=np.ones(n, dtype=bool), events=events)
