"""Card-number recall per scheme, on numbers the detector was never tuned on.

The numbers come from Faker's credit-card providers (every locale that has one: en_US,
ru_RU, zh_CN, pt_PT, fa_IR, uk_UA), seeded; the detector's IIN table
(curaline/kernels/card_schemes.py) was written from the networks' public ranges, not
from these. Each number is written four ways (bare, grouped by 4 with spaces, with
dashes, and the scheme's printed grouping: Amex 4-6-5, Diners 4-6-4) into a sentence
that says it is a card, and the bare form also into one that does not.

A number counts as found when its redacted text no longer holds any of its digits in a
run (the whole span became <CREDIT_CARD>). False positives are counted on the same
numbers with a wrong check digit (Luhn fails: never a card) and on uniformly random
digit strings of 12-19 digits (10 % of which pass Luhn by chance).

Usage: PYTHONPATH=. python benchmarks/measure_cards.py [--per-type 300] [--seed 17]
"""

from __future__ import annotations

import argparse
import random
from collections import defaultdict

import pyarrow as pa

from curaline.kernels.pii import find_pii

LOCALES = ("en_US", "ru_RU", "zh_CN", "pt_PT", "fa_IR", "uk_UA")
WITH_CONTEXT = ("Card number: {n}.", "Please charge my card {n} for the order.", "Paid with {n} yesterday.")
WITHOUT_CONTEXT = ("Reference {n} was logged.", "{n}", "Ticket {n} closed after review.")


def _grouped(n: str, sizes: tuple[int, ...], sep: str) -> str:
    out, i = [], 0
    for s in sizes:
        if i >= len(n):
            break
        out.append(n[i : i + s])
        i += s
    if i < len(n):
        out.append(n[i:])
    return sep.join(out)


def _forms(n: str, scheme: str) -> dict[str, str]:
    fours = (4,) * 5
    printed = (4, 6, 5) if len(n) == 15 else (4, 6, 4) if len(n) == 14 else fours
    return {"bare": n, "spaces": _grouped(n, fours, " "), "dashes": _grouped(n, fours, "-"),
            "printed": _grouped(n, printed, " ")}  # fmt: skip


def _bad_check_digit(n: str) -> str:
    return n[:-1] + str((int(n[-1]) + 1) % 10)


def _card_spans(texts: list[str]) -> list[bool]:
    found = find_pii(pa.array(texts, pa.string()))
    return [any(s.label == "credit_card" for s in found.get(i, [])) for i in range(len(texts))]


def _covered(texts: list[str], numbers: list[str]) -> list[bool]:
    found = find_pii(pa.array(texts, pa.string()))
    out = []
    for i, (text, n) in enumerate(zip(texts, numbers, strict=True)):
        start = text.index(n)
        spans = [s for s in found.get(i, []) if s.label == "credit_card"]
        out.append(any(s.start <= start and s.end >= start + len(n) for s in spans))
    return out


def main() -> None:
    from faker import Faker

    ap = argparse.ArgumentParser()
    ap.add_argument("--per-type", type=int, default=300)
    ap.add_argument("--seed", type=int, default=17)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    samples: dict[str, set[str]] = defaultdict(set)
    for locale in LOCALES:
        fake = Faker(locale)
        fake.seed_instance(args.seed)
        for card_type, spec in fake.provider("faker.providers.credit_card").credit_card_types.items():
            name = f"{spec.name} ({locale}, {spec.length})" if locale != "en_US" else f"{spec.name} ({spec.length})"
            for _ in range(args.per_type):
                samples[name].add(fake.credit_card_number(card_type=card_type))
    print("| scheme (Faker provider, length) | numbers | bare, card context | spaces | dashes | printed grouping "
          "| bare, no context | bad check digit flagged |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for name in sorted(samples):
        numbers = sorted(samples[name])
        cells = []
        for form in ("bare", "spaces", "dashes", "printed"):
            texts, shown = [], []
            for n in numbers:
                value = _forms(n, name)[form]
                texts.append(rng.choice(WITH_CONTEXT).format(n=value))
                shown.append(value)
            hits = _covered(texts, shown)
            cells.append(f"{sum(hits) / len(hits):.3f}")
            totals[form][0] += sum(hits)
            totals[form][1] += len(hits)
        plain = [rng.choice(WITHOUT_CONTEXT).format(n=n) for n in numbers]
        hits = _covered(plain, numbers)
        cells.append(f"{sum(hits) / len(hits):.3f}")
        totals["no context"][0] += sum(hits)
        totals["no context"][1] += len(hits)
        wrong = _card_spans([rng.choice(WITH_CONTEXT).format(n=_bad_check_digit(n)) for n in numbers])
        cells.append(f"{sum(wrong)}/{len(wrong)}")
        totals["bad"][0] += sum(wrong)
        totals["bad"][1] += len(wrong)
        print(f"| {name} | {len(numbers)} | " + " | ".join(cells) + " |")
    print("| **all** | " + f"{totals['bare'][1]} | "
          + " | ".join(f"{totals[f][0] / totals[f][1]:.3f}" for f in ("bare", "spaces", "dashes", "printed", "no context"))
          + f" | {totals['bad'][0]}/{totals['bad'][1]} |")  # fmt: skip
    random_numbers = ["".join(rng.choice("0123456789") for _ in range(rng.randint(12, 19))) for _ in range(20_000)]
    flagged = _card_spans([rng.choice(WITHOUT_CONTEXT).format(n=n) for n in random_numbers])
    print(f"\nrandom 12-19 digit strings, no card context: {sum(flagged)}/{len(flagged)} flagged as cards "
          f"({sum(flagged) / len(flagged):.3%})")  # fmt: skip


if __name__ == "__main__":
    main()
