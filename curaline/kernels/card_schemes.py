"""Payment card numbers: the issuer ranges (IINs) and lengths of every network we know of.

Taken from the networks' public IIN tables (as summarized by ISO/IEC 7812 registries and
the "Payment card number" tables most validators use), not from any test generator: the
PII benchmark measures recall on Faker-generated numbers, which were never used to build
this table (see benchmarks/measure_cards.py). A number is a card when some scheme's
prefix range holds its first digits, its length is one that scheme issues, and its Luhn
check digit is right.

Left out on purpose: UATP (prefix 1, 15 digits: an airline-only scheme whose range would
make one in ten 15-digit numbers starting with 1 a "card"), and 9-prefixed national schemes
only where their real ranges are known (Prostir 9804, Humo 9860, Napas 9704, Troy 9792).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

#: (scheme, first prefix, last prefix, lengths): prefixes are compared as integers over
#: the first len(first prefix) digits.
CARD_SCHEMES: tuple[tuple[str, str, str, tuple[int, ...]], ...] = (
    ("visa", "4", "4", (13, 16, 19)),
    ("mastercard", "51", "55", (16,)),
    ("mastercard", "2221", "2720", (16,)),
    ("amex", "34", "34", (15,)),
    ("amex", "37", "37", (15,)),
    ("discover", "6011", "6011", (16, 17, 18, 19)),
    ("discover", "644", "649", (16, 17, 18, 19)),
    ("discover", "65", "65", (16, 17, 18, 19)),
    ("diners", "300", "305", (14, 15, 16, 17, 18, 19)),
    ("diners", "3095", "3095", (14, 15, 16, 17, 18, 19)),
    ("diners", "36", "36", (14, 15, 16, 17, 18, 19)),
    ("diners", "38", "39", (14, 15, 16, 17, 18, 19)),
    ("diners", "2014", "2014", (15,)),  # enRoute
    ("diners", "2149", "2149", (15,)),
    ("jcb", "35", "35", (16, 17, 18, 19)),  # 3528-3589 assigned; 35xx co-brands (RuPay, LankaPay)
    ("jcb", "1800", "1800", (15,)),
    ("jcb", "2131", "2131", (15,)),
    ("unionpay", "62", "62", (16, 17, 18, 19)),
    ("unionpay", "81", "81", (16, 17, 18, 19)),
    ("rupay", "60", "60", (16,)),
    ("rupay", "82", "82", (16,)),
    ("rupay", "508", "508", (16,)),
    ("maestro", "50", "50", (12, 13, 14, 15, 16, 17, 18, 19)),
    ("maestro", "56", "69", (12, 13, 14, 15, 16, 17, 18, 19)),
    ("mir", "2200", "2204", (16, 17, 18, 19)),
    ("borica", "2205", "2205", (16,)),
    ("gpn", "1946", "1946", (16, 18, 19)),
    ("t-union", "31", "31", (19,)),
    ("uzcard", "8600", "8600", (16,)),
    ("humo", "9860", "9860", (16,)),
    ("napas", "9704", "9704", (16, 19)),
    ("prostir", "9804", "9804", (16,)),
    ("troy", "9792", "9792", (16,)),
)  # fmt: skip

MIN_CARD_DIGITS = min(n for *_, lengths in CARD_SCHEMES for n in lengths)
MAX_CARD_DIGITS = max(n for *_, lengths in CARD_SCHEMES for n in lengths)

#: Words that say a bare 12-digit number (Maestro's shortest) is a card; without one, a
#: 12-digit number is far more often an order id or a phone number.
CARD_CONTEXT = re.compile(
    r"(?i)\b(?:cards?|maestro|debit|credit|cc|pan|payment|paid|pay|visa|mastercard|kart[ae]?|karte|carte|"
    r"tarjeta|cart[ãa]o|счет|карт[аыу]?)\b[^\n\d]{0,30}$"
)  # fmt: skip


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _schemes(digits: str) -> Iterator[str]:
    n = len(digits)
    for scheme, lo, hi, lengths in CARD_SCHEMES:
        if n in lengths and int(lo) <= int(digits[: len(lo)]) <= int(hi):
            yield scheme


def card_scheme(digits: str) -> str | None:
    """The first scheme that issues this number (prefix and length), if its Luhn digit is right."""
    scheme = next(_schemes(digits), None)
    return scheme if scheme is not None and luhn_ok(digits) else None
