"""PII redaction: accuracy on Presidio's gold spans, crafted positives and negatives per
type, and the ledger contract (counts only, never the matched text)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from curaline.kernels.base import EVENT_SCHEMA
from curaline.kernels.pii import (
    COUNT_FIELDS,
    SIGNAL_COLUMNS,
    PiiConfig,
    RegexDetector,
    Span,
    SpanDetector,
    find_pii,
    iban_ok,
    luhn_ok,
    redact_pii,
    resolve_overlaps,
)

# Token prefixes are split so that secret scanners do not flag this file.
AWS_KEY = "AK" + "IA" + "IOSFODNN7EXAMPLE"  # AWS's documentation example
GITHUB_TOKEN = "gh" + "p_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
SLACK_TOKEN = "xo" + "xb-" + "123456789012-aBcDeFgHiJkLmNoP"
STRIPE_KEY = "sk" + "_live_" + "4eC39HqLyjWDarjtT1zdp7dc"
GOOGLE_KEY = "AI" + "za" + "SyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q"
OPENAI_KEY = "sk" + "-proj-" + "Xy7Qw3Er5Ty9Ui1Op3As5Df7Gh9Jk1Lz"
JWT = (
    "ey"
    + "JhbGciOiJIUzI1NiJ9.ey"
    + "JzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
)
PEM = (
    "-----BEGIN RSA " + "PRIVATE KEY-----\nMIIEowIBAAKCAQEAx7Qw3Er5Ty9Ui1Op3As5Df7Gh9\n"
    "Jk1Lz2Xc4Vb6Nm8Qa0Ws2Ed4Rf6Tg8Yh0Uj2Ik4Ol6P\n-----END RSA " + "PRIVATE KEY-----"
)

# (text, the substring that must be redacted, its placeholder). Values are synthetic:
# card and IBAN numbers are the networks' and registries' published test numbers, phone
# numbers have an exchange no NANP number can have (0xx) or sit in Ofcom's drama range.
POSITIVES = [
    ("Write to alice_smith@mailhost.net today.", "alice_smith@mailhost.net", "<EMAIL>"),
    (
        "Cc: Jörg.Brandt+lists@post.example-mail.de",
        "Jörg.Brandt+lists@post.example-mail.de",
        "<EMAIL>",
    ),
    ("Call 415-017-4321 after six.", "415-017-4321", "<PHONE>"),
    ("Office: (415) 017-4321 ext. 22", "(415) 017-4321 ext. 22", "<PHONE>"),
    ("London desk +44 20 7946 0958, ask for Sam.", "+44 20 7946 0958", "<PHONE>"),
    ("Mobile: 07700 900123", "07700 900123", "<PHONE>"),
    ("You can call 089 72 63 41 in the evening.", "089 72 63 41", "<PHONE>"),
    ("Server at 10.20.30.40 is down.", "10.20.30.40", "<IP_ADDRESS>"),
    ("CGNAT peer 100.64.1.2, port 22", "100.64.1.2", "<IP_ADDRESS>"),
    ("Route via fd12:3456:789a:1::1 now.", "fd12:3456:789a:1::1", "<IP_ADDRESS>"),
    ("Card 4111 1111 1111 1111 expires soon.", "4111 1111 1111 1111", "<CREDIT_CARD>"),
    ("MC 5555-5555-5555-4444 on file", "5555-5555-5555-4444", "<CREDIT_CARD>"),
    ("Amex 378282246310005 charged", "378282246310005", "<CREDIT_CARD>"),
    ("Pay to GB82 WEST 1234 5698 7654 32 by Friday", "GB82 WEST 1234 5698 7654 32", "<IBAN>"),
    ("IBAN DE89370400440532013000.", "DE89370400440532013000", "<IBAN>"),
    ("SSN 321-54-9876 on the form", "321-54-9876", "<US_SSN>"),
    ("social security number: 321 54 9876", "321 54 9876", "<US_SSN>"),
    (f"aws_access_key_id = {AWS_KEY}", AWS_KEY, "<SECRET>"),
    (f"export GH_TOKEN={GITHUB_TOKEN}", GITHUB_TOKEN, "<SECRET>"),
    (f"slack: {SLACK_TOKEN}", SLACK_TOKEN, "<SECRET>"),
    (f"stripe.api_key = '{STRIPE_KEY}'", STRIPE_KEY, "<SECRET>"),
    (f"key={GOOGLE_KEY}&q=x", GOOGLE_KEY, "<SECRET>"),
    (f"OPENAI={OPENAI_KEY}", OPENAI_KEY, "<SECRET>"),
    (f"Authorization: Bearer {JWT}", JWT, "<SECRET>"),
    (f"key file:\n{PEM}\ndone", PEM, "<SECRET>"),
    ('config = {"api_key": "Zx9Qm2Lp8Rt4Vw6Yb1Nc3"}', "Zx9Qm2Lp8Rt4Vw6Yb1Nc3", "<SECRET>"),
    ("DB_PASSWORD=q8W#", None, None),  # too short for a secret: stays (checked below)
]

NEGATIVES = [
    "Luhn fails: 4111 1111 1111 1112 is no card.",
    "Bad checksum: GB82 WEST 1234 5698 7654 33.",
    "Bad checksum: DE89370400440532013001.",
    "Areas never issued: 666-12-3456, 000-12-3456, 912-34-5678, 123-00-4567, 123-45-0000.",
    "Call me on 2023-04-12 or 12/04/2023 or 12.04.2023.",
    "Upgrade to version 1.2.3.4 or v2.6.32.1; Python 3.11.4 and release 10.0.19041.1.",
    "999.1.1.1 and 256.1.1.1 and 1.2.3 are not addresses.",
    "See Section 27.2.5.1 and chapter 13.15.2.3 for details.",
    "MAC 00:1a:2b:3c:4d:5e at 12:30:45, C++ std::vector and Perl File::Spec.",
    "order 12345678901234 shipped; id 4294967295; total 1,234,567.89",
    "Reach the docs at 127.0.0.1, ::1, 192.0.2.10 and 2001:db8::1.",
    "Write to someone@example.com or admin@host.test.",
    "Retina icon@2x.png and npm pkg@1.2.3.",
    "Tutorial numbers 555-123-4567 and 123-456-7890 are invented.",
    'api_key = "YOUR_API_KEY_HERE" and token: <redacted>',
    "The range is -2147483648 to +2147483647 for int32.",
    "sk-learn-compatible estimators, ghp_short and AKIA alone.",
]


def _redact(text: str, config: PiiConfig | None = None) -> str:
    table = pa.table({"doc_id": ["d0"], "text": [text]})
    return str(redact_pii(table, kind="document", config=config).table["text"][0].as_py())


@pytest.mark.parametrize(("text", "value", "placeholder"), POSITIVES)
def test_each_type_is_redacted_to_its_placeholder(
    text: str, value: str | None, placeholder: str | None
) -> None:
    out = _redact(text)
    if value is None:
        assert out == text
        return
    assert placeholder is not None
    assert out == text.replace(value, placeholder)


@pytest.mark.parametrize("text", NEGATIVES)
def test_lookalikes_are_left_alone(text: str) -> None:
    assert _redact(text) == text


def test_validators_agree_with_published_test_numbers() -> None:
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert iban_ok("GB82WEST12345698765432") and not iban_ok("GB82WEST12345698765433")
    assert not iban_ok("GB82WEST1234569876543")  # one character short for GB
    # Luhn-valid but no network issues cards starting with 1: not a card.
    assert luhn_ok("1234567812345670")
    assert _redact("ref 1234 5678 1234 5670") == "ref 1234 5678 1234 5670"


def test_reserved_examples_and_private_ips_are_configurable() -> None:
    text = "mail admin@example.com from 192.0.2.10 or 10.12.3.4, tel 555-123-4567"
    assert _redact(text) == (
        "mail admin@example.com from 192.0.2.10 or <IP_ADDRESS>, tel 555-123-4567"
    )
    everything = PiiConfig(keep_reserved_examples=False)
    assert _redact(text, everything) == (
        "mail <EMAIL> from <IP_ADDRESS> or <IP_ADDRESS>, tel <PHONE>"
    )
    assert _redact(text, PiiConfig(keep_private_ips=True)) == text


def test_types_and_placeholder_come_from_config() -> None:
    text = "alice_smith@mailhost.net, 10.20.30.40"
    config = PiiConfig(types=("email",), placeholder="[{label}]")
    assert _redact(text, config) == "[EMAIL], 10.20.30.40"
    with pytest.raises(ValueError, match="unknown PII types"):
        PiiConfig(types=("email", "passport"))
    with pytest.raises(ValueError, match="placeholder"):
        PiiConfig(placeholder="<PII>")


def test_overlaps_keep_the_longest_then_the_most_specific() -> None:
    spans = [
        Span(0, 10, "phone"),
        Span(0, 10, "us_ssn"),  # same length: the validated SSN wins
        Span(5, 30, "email"),  # longer than both: wins over them
        Span(40, 45, "phone"),
        Span(42, 44, "person"),
    ]
    assert resolve_overlaps(spans) == [Span(5, 30, "email"), Span(40, 45, "phone")]
    assert resolve_overlaps([Span(0, 10, "phone"), Span(0, 10, "us_ssn")]) == [
        Span(0, 10, "us_ssn")
    ]


class NameListDetector:
    """A real (if tiny) gazetteer detector: what an NER backend plugs in as."""

    def __init__(self, names: Sequence[str]) -> None:
        self.pattern = re.compile("|".join(re.escape(name) for name in names))

    def detect(self, texts: Sequence[str]) -> list[list[Span]]:
        return [[Span(*m.span(), "person") for m in self.pattern.finditer(t)] for t in texts]


def test_extra_detectors_plug_in_through_the_protocol() -> None:
    names = NameListDetector(["Ada Lovelace"])
    assert isinstance(names, SpanDetector)
    config = PiiConfig(detectors=(RegexDetector(), names))
    table = pa.table(
        {"doc_id": ["a", "b"], "text": ["Ada Lovelace <ada@analytical.org>", "nothing here"]}
    )
    result = redact_pii(table, kind="document", config=config)
    assert result.table["text"].to_pylist() == ["<PERSON> <<EMAIL>>", "nothing here"]
    assert result.table["pii_counts"][0].as_py()["other"] == 1
    assert result.events["detail"].to_pylist() == ["email=1,person=1"]


def test_instruction_columns_nulls_signals_and_events() -> None:
    table = pa.table(
        {
            "doc_id": ["i0", "i1", "i2"],
            "prompt": ["Email bob.k@mailhost.net please", "What is 2+2?", "Call 415-017-4321"],
            "context": [None, "Server 10.20.30.40", None],
            "response": ["Sent to bob.k@mailhost.net.", "4", "OK"],
        }
    )
    result = redact_pii(table, kind="instruction")
    out = result.table
    assert out.column_names == [*table.column_names, *SIGNAL_COLUMNS]
    for name, typ in SIGNAL_COLUMNS.items():
        assert out.schema.field(name).type == typ
    assert out["context"].to_pylist() == [None, "Server <IP_ADDRESS>", None]
    assert out["response"].to_pylist() == ["Sent to <EMAIL>.", "4", "OK"]
    assert out["pii_total"].to_pylist() == [2, 1, 1]
    assert out["pii_counts"][0].as_py() == dict.fromkeys(COUNT_FIELDS, 0) | {"email": 2}
    assert result.keep.tolist() == [True, True, True]  # PII redaction never drops
    assert result.events.schema == EVENT_SCHEMA
    assert result.events.to_pylist() == [
        {"doc_id": "i0", "action": "redact", "reason": "pii_redacted", "value": 2.0,
         "threshold": None, "detail": "email=2", "related_doc_id": None},
        {"doc_id": "i1", "action": "redact", "reason": "pii_redacted", "value": 1.0,
         "threshold": None, "detail": "ip_address=1", "related_doc_id": None},
        {"doc_id": "i2", "action": "redact", "reason": "pii_redacted", "value": 1.0,
         "threshold": None, "detail": "phone=1", "related_doc_id": None},
    ]  # fmt: skip


def test_redaction_is_idempotent_and_rejects_unknown_kinds() -> None:
    table = pa.table({"doc_id": ["d0"], "text": [" ".join(t for t, _, _ in POSITIVES)]})
    once = redact_pii(table, kind="document")
    twice = redact_pii(once.table, kind="document")
    assert twice.table["text"].equals(once.table["text"])
    assert twice.events.num_rows == 0 and twice.table["pii_total"].to_pylist() == [0]
    assert redact_pii(table.slice(0, 0), kind="document").table.num_rows == 0
    with pytest.raises(ValueError, match="unknown record kind 'tweet'"):
        redact_pii(table, kind="tweet")


def _gold(shared_data: Path) -> list[dict[str, Any]]:
    folder = shared_data / "presidio-pii-synth"
    items: list[dict[str, Any]] = []
    for name in ("generated_large.json", "generated_small.json"):
        items.extend(json.loads((folder / name).read_text(encoding="utf-8")))
    return items


def test_no_matched_value_reaches_the_ledger(shared_data: Path) -> None:
    items = _gold(shared_data)
    texts = [item["full_text"] for item in items] + [t for t, _, _ in POSITIVES]
    table = pa.table({"doc_id": [f"doc{i}" for i in range(len(texts))], "text": texts})
    result = redact_pii(table, kind="document")
    found = find_pii(table["text"].combine_chunks())
    matched = {texts[row][s.start : s.end] for row, spans in found.items() for s in spans}
    assert len(matched) > 400 and result.events.num_rows == len(found)
    cells = [str(v) for col in result.events.columns for v in col.to_pylist() if v is not None]
    assert all(
        re.fullmatch(r"[a-z_]+=\d+(,[a-z_]+=\d+)*", d) for d in result.events["detail"].to_pylist()
    )
    assert not [value for value in matched for cell in cells if value in cell]
    redacted = "\n".join(result.table["text"].to_pylist())
    assert not [value for value in matched if len(value) > 6 and value in redacted]


# Presidio entity -> our type; matching is span overlap within the same type.
PRESIDIO_TYPES = {
    "EMAIL_ADDRESS": "email",
    "PHONE_NUMBER": "phone",
    "IP_ADDRESS": "ip_address",
    "CREDIT_CARD": "credit_card",
    "IBAN_CODE": "iban",
    "US_SSN": "us_ssn",
}


def test_presidio_gold_precision_and_recall_per_type(shared_data: Path) -> None:
    items = _gold(shared_data)
    found = find_pii(pa.array([item["full_text"] for item in items], pa.string()))
    support = dict.fromkeys(PRESIDIO_TYPES.values(), 0)
    hit = dict.fromkeys(PRESIDIO_TYPES.values(), 0)
    predicted = dict.fromkeys(PRESIDIO_TYPES.values(), 0)
    correct = dict.fromkeys(PRESIDIO_TYPES.values(), 0)
    for row, item in enumerate(items):
        gold = [
            (PRESIDIO_TYPES.get(s["entity_type"]), s["start_position"], s["end_position"])
            for s in item["spans"]
        ]
        preds = found.get(row, [])
        for label, start, end in gold:
            if label:
                support[label] += 1
                hit[label] += any(p.label == label and p.start < end and start < p.end
                                  for p in preds)  # fmt: skip
        for p in preds:
            predicted[p.label] = predicted.get(p.label, 0) + 1
            correct[p.label] = correct.get(p.label, 0) + any(
                label == p.label and p.start < end and start < p.end for label, start, end in gold
            )
    assert predicted.keys() == support.keys()  # no secrets invented in plain prose
    for label in support:
        assert support[label] >= 10, label
        assert hit[label] / support[label] >= 0.90, (label, hit[label], support[label])
        assert correct[label] / predicted[label] >= 0.90, (label, correct[label], predicted[label])


def test_a_page_address_is_redacted_too_and_an_ordinary_one_is_left_alone() -> None:
    """The url travels into releases beside the text: an e-mail in its query string must not."""
    import pyarrow as pa

    from curaline.kernels.pii import redact_pii

    table = pa.table({"doc_id": ["a", "b", "c"], "text": ["hello there", "write to ann@acme-mail.de", "x"],
                      "url": ["https://shop.example.com/unsubscribe?email=bob.smith@acme-mail.de", None,
                              "https://news.example.com/2019/12/31/story-1234567890.html"]})  # fmt: skip
    result = redact_pii(table, kind="document")
    assert result.table["url"].to_pylist() == ["https://shop.example.com/unsubscribe?email=<EMAIL>", None,
                                               "https://news.example.com/2019/12/31/story-1234567890.html"]  # fmt: skip
    assert result.table["text"].to_pylist() == ["hello there", "write to <EMAIL>", "x"]
    assert result.table["pii_total"].to_pylist() == [1, 1, 0]
    assert result.events["doc_id"].to_pylist() == ["a", "b"]
