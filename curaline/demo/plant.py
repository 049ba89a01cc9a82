"""The defects the demo plants: PII values, garbled text, near copies, junk pages.

Each helper returns the text to write plus the facts the ground truth records about
it, computed from that very text (Jaccard, shared 13-grams), so the ground truth is
true of the files by construction.
"""

from __future__ import annotations

import random
import re

from curaline.demo import compose
from curaline.demo import textbank as tb

_WORD = re.compile(r"\w+")

# --- overlap measures (lower-cased \w+ tokens, as the brief and the tests define them)


def shingles(text: str, n: int) -> set[tuple[str, ...]]:
    tokens = _WORD.findall(text.lower())
    return {tuple(tokens[i : i + n]) for i in range(max(1, len(tokens) - n + 1))}


def jaccard(a: str, b: str, n: int = 5) -> float:
    sa, sb = shingles(a, n), shingles(b, n)
    return len(sa & sb) / len(sa | sb) if sa or sb else 1.0


def shared_ngrams(item: str, text: str, n: int = 13) -> int:
    """How many of the eval item's n-grams occur in the text."""
    return len(shingles(item, n) & shingles(text, n))


# --- PII values: fictional or documentation ranges wherever a range exists --------------

_EMAIL_DOMAINS = ["example.com", "example.org", "example.net", "mail.example.com"]
_BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def _digits(rng: random.Random, n: int) -> str:
    return "".join(str(rng.randint(0, 9)) for _ in range(n))


def luhn_check_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


def luhn_ok(number: str) -> bool:
    digits = re.sub(r"\D", "", number)
    return luhn_check_digit(digits[:-1]) == digits[-1]


def iban_ok(iban: str) -> bool:
    s = iban.replace(" ", "")
    moved = s[4:] + s[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def email(rng: random.Random) -> str:
    user = compose.invent_core(rng).lower() + rng.choice([".", "_", ""]) + str(rng.randint(1, 99))
    return f"{rng.choice(tb.GIVEN_NAMES).lower()}.{user}@{rng.choice(_EMAIL_DOMAINS)}"


def phone(rng: random.Random) -> str:
    """Fictional ranges: US 555-01xx, UK 020 7946 0xxx; others in several layouts."""
    style = rng.randrange(6)
    if style == 0:
        return f"({rng.randint(201, 989)}) 555-01{rng.randint(0, 99):02d}"
    if style == 1:
        return f"+1 {rng.randint(201, 989)}-555-01{rng.randint(0, 99):02d}"
    if style == 2:
        return f"+44 20 7946 0{rng.randint(0, 999):03d}"
    if style == 3:
        return f"+49 30 {_digits(rng, 4)} {_digits(rng, 4)}"
    if style == 4:
        return f"06 {_digits(rng, 2)} {_digits(rng, 2)} {_digits(rng, 2)} {_digits(rng, 2)}"
    return f"+33 6 {_digits(rng, 2)} {_digits(rng, 2)} {_digits(rng, 2)} {_digits(rng, 2)}"


def credit_card(rng: random.Random) -> str:
    body = "4" + _digits(rng, 14)
    number = body + luhn_check_digit(body)
    sep = rng.choice([" ", "-", ""])
    return sep.join(number[i : i + 4] for i in range(0, 16, 4))


def ipv4(rng: random.Random) -> str:
    net = rng.choice(["192.0.2", "198.51.100", "203.0.113"])  # RFC 5737 documentation nets
    return f"{net}.{rng.randint(1, 254)}"


def ipv6(rng: random.Random) -> str:
    groups = [f"{rng.randint(1, 0xFFFF):x}" for _ in range(4)]
    return "2001:db8:" + ":".join(groups[:2]) + "::" + ":".join(groups[2:])  # RFC 3849


def iban(rng: random.Random) -> str:
    bban = _digits(rng, 8) + _digits(rng, 10)
    check = 98 - int("".join(str(int(c, 36)) for c in bban + "DE00")) % 97
    raw = f"DE{check:02d}{bban}"
    return " ".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def us_ssn(rng: random.Random) -> str:
    area = rng.choice([a for a in range(101, 666) if a != 666])
    return f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"


def api_key(rng: random.Random) -> str:
    return "AKIA" + "".join(rng.choice(_BASE32) for _ in range(16))


PII_MAKERS = {
    "email": email, "phone": phone, "credit_card": credit_card, "ipv4": ipv4,
    "ipv6": ipv6, "iban": iban, "us_ssn": us_ssn, "api_key": api_key,
}

#: How each PII type shows up inside an otherwise ordinary page.
PII_SENTENCES = {
    "email": [
        "For bookings, write to {v} and we will answer within two days.",
        "Questions about the event can be sent to {v} at any time.",
    ],
    "phone": [
        "Call us on {v} between nine and five, Monday to Friday.",
        "If the gate is locked, ring the warden at {v}.",
    ],
    "credit_card": [
        "I was charged twice on my card {v} last week, has this happened to anyone else?",
        "Order confirmation: paid with card number {v}, expiry 09/27.",
    ],
    "ipv4": ["Server log: login from {v} blocked after five failed attempts."],
    "ipv6": ["The printer keeps the address {v} even after a factory reset."],
    "iban": ["Please transfer the deposit to IBAN {v} with your booking number as reference."],
    "us_ssn": ["The form asks for my social security number, {v}, but keeps rejecting it."],
    "api_key": ["My config file has aws_access_key_id = {v} and the upload still fails."],
}


def pii_sentence(rng: random.Random, pii_type: str) -> tuple[str, str]:
    value = PII_MAKERS[pii_type](rng)
    return rng.choice(PII_SENTENCES[pii_type]).format(v=value), value


# --- garbled text ---------------------------------------------------------------------


def mojibake(text: str) -> str:
    """UTF-8 bytes read as Windows-1252; bytes 1252 leaves undefined pass through (as ftfy's
    "sloppy" decoder assumes), which is what real broken pages look like."""
    out = []
    for byte in text.encode("utf-8"):
        try:
            out.append(bytes([byte]).decode("cp1252"))
        except UnicodeDecodeError:
            out.append(chr(byte))
    return "".join(out)


ODD_CHARS = {
    "\u00a0": "U+00A0", "\u200b": "U+200B", "\ufeff": "U+FEFF", "\t": "U+0009",
    "\x0c": "U+000C", "\x0b": "U+000B", "\u2028": "U+2028", "\r": "U+000D",
}


def odd_whitespace(rng: random.Random, text: str) -> tuple[str, list[str]]:
    """Sprinkle invisible and control characters; returns the text and what was used."""
    words = text.split(" ")
    for _ in range(max(3, len(words) // 15)):
        i = rng.randrange(len(words))
        ch = rng.choice(["\u00a0", "\u200b", "\t", "  "])
        j = rng.randrange(len(words[i]) + 1) if ch == "\u200b" else len(words[i])
        words[i] = words[i][:j] + ch + words[i][j:]
    out = "\ufeff" + " ".join(words).replace("\n\n", "\r\n\x0c\r\n", 1)
    out = out.replace(". ", ".\x0b", 1).replace(". ", ".\u2028", 1) + "   \t"
    return out, sorted({code for ch, code in ODD_CHARS.items() if ch in out})


# --- near copies ----------------------------------------------------------------------

_SWAPS = {
    "the": "a", "and": "&", "about": "around", "large": "big", "small": "little",
    "built": "constructed", "town": "city", "river": "stream", "first": "earliest",
    "many": "numerous", "since": "from", "began": "started", "known": "famous",
}


def perturb(rng: random.Random, text: str, rate: float) -> str:
    """Edit about `rate` of the words: typos, synonyms, deletions, small insertions."""
    parts = re.split(r"( +)", text)
    word_idx = [i for i, p in enumerate(parts) if p.strip() and "\n" not in p]
    for i in rng.sample(word_idx, k=max(1, round(rate * len(word_idx)))):
        w = parts[i]
        op = rng.randrange(4)
        if op == 0 and w.lower() in _SWAPS:
            parts[i] = _SWAPS[w.lower()]
        elif op == 1 and len(w) > 4:
            j = rng.randrange(1, len(w) - 2)
            parts[i] = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
        elif op == 2:
            parts[i] = ""
        else:
            parts[i] = w + " " + rng.choice(["also", "really", "still", "quite", "very"])
    return re.sub(r"  +", " ", "".join(parts))


def with_header_footer(rng: random.Random, title: str, text: str) -> str:
    site = rng.choice(tb.WEBSITES)
    header = f"{site}.example > Wiki > {title}"
    footer = rng.choice([
        f"Retrieved from {site}.example. Text available under CC BY-SA 4.0.",
        "Share this article: Facebook | Twitter | Email",
        f"Last edited {rng.randint(2, 28)} {rng.choice(tb.MONTHS)} 2023. Report an error.",
    ])
    return f"{header}\n\n{text}\n\n{footer}"


# --- junk pages -------------------------------------------------------------------------

LOW_QUALITY_FAMILIES = (
    "navigation_menu", "cookie_banner", "keyword_spam", "lorem_ipsum", "too_short",
    "repeated_lines",
)


def low_quality_page(rng: random.Random, family: str) -> str:
    site = rng.choice(tb.WEBSITES).capitalize()
    if family == "navigation_menu":
        items = rng.sample(tb.NAV_ITEMS, k=rng.randint(10, 18))
        sep = rng.choice(["\n", " | ", " · "])
        return sep.join(items) + f"\n© 2024 {site}. All rights reserved."
    if family == "cookie_banner":
        lines = rng.sample(tb.COOKIE_LINES, k=rng.randint(3, 6))
        lines.insert(rng.randrange(len(lines) + 1), f"{site} and its {rng.randint(3, 240)} "
                     "partners process your data.")
        return "\n".join(lines)
    if family == "keyword_spam":
        product = rng.choice(tb.PRODUCT_KINDS).split()[-1]
        words = [product if rng.random() < 0.4 else rng.choice(tb.SPAM_KEYWORDS)
                 for _ in range(rng.randint(60, 140))]
        return " ".join(words)
    if family == "lorem_ipsum":
        words = [rng.choice(tb.LOREM_WORDS) for _ in range(rng.randint(80, 200))]
        return "Lorem ipsum " + " ".join(words) + "."
    if family == "too_short":
        return f"{rng.choice(tb.SHORT_PAGES)} {site.lower()}.example/p/{rng.randint(100, 99999)}"
    line = rng.choice(tb.REPEATED_LINES)
    intro = compose.Slots(rng).fill(rng.choice(tb.WEB_GENERIC))
    return f"{site}\n{intro}\n" + "\n".join([line] * rng.randint(12, 30))


def toxic_line(rng: random.Random, category: str | None = None) -> tuple[str, str]:
    category = category or rng.choice(sorted(tb.TOXIC_LINES))
    return rng.choice(tb.TOXIC_LINES[category]), category
