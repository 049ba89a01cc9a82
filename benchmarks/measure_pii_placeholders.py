"""Language ID on redacted text: does a PII placeholder (`<EMAIL>`) change the label?

Usage: python benchmarks/measure_pii_placeholders.py [--per-lang 300]

Since pii_redacted runs before language_checked, the language stage reads `<EMAIL>`,
`<PHONE>` where the source had an address or a number. Each Lingua sentence
(../shared/data/lingua-langid-75lang, every language; nb/nn are `no`) gets a contact
tail made by Faker in the sentence's locale where Faker has one ("<sentence> <email>",
"<sentence> Tel. <phone>, <email>"), then runs normalize -> redact -> language ID three
ways: on the text with the PII (the stage before the move), on the redacted text read
whole (placeholders as words), and on the redacted text with the placeholders skipped
(`LangIdConfig.placeholder_pattern`, the default); the sentence alone is the reference. A sentence is right when `language`
is its language ("und" counts wrong); the table gives accuracy per condition, over all
languages and over the short sentences (< 60 characters) where a placeholder weighs most.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import numpy as np
import pyarrow as pa
from faker import Faker
from faker.config import AVAILABLE_LOCALES

from curaline.kernels.langcodes import canonical
from curaline.kernels.langid import LangIdConfig, detect_language
from curaline.kernels.normalize import normalize_text
from curaline.kernels.pii import PiiConfig, redact_pii

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "lingua-langid-75lang"


def _faker(iso: str) -> Faker:
    for locale in sorted(loc for loc in AVAILABLE_LOCALES if loc.split("_")[0] == iso):
        fake = Faker(locale)
        try:  # some locales lack a provider
            fake.email(), fake.phone_number()
        except AttributeError:
            continue
        return fake
    return Faker("en_US")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-lang", type=int, default=300)
    args = parser.parse_args()
    rng = random.Random(17)
    texts: list[str] = []
    alone: list[str] = []
    gold: list[str] = []
    short: list[bool] = []
    for path in sorted(DATA.glob("*.txt")):
        fake = _faker(path.stem)
        fake.seed_instance(17)
        lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        for line in lines[: args.per_lang]:
            tail = fake.email() if rng.random() < 0.5 else f"Tel. {fake.phone_number()}, {fake.email()}"
            texts.append(f"{line} {tail}")
            alone.append(line)
            gold.append(canonical(path.stem))
            short.append(len(line) < 60)
    table = pa.table({"doc_id": [str(i) for i in range(len(texts))], "text": texts})
    table = normalize_text(table, kind="document").table
    redacted = redact_pii(table, kind="document", config=PiiConfig(keep_reserved_examples=False)).table
    hit = np.array(redacted["pii_total"].to_pylist()) > 0
    gold_a = np.array(gold, dtype=object)
    short_a = np.array(short)
    sentences = normalize_text(pa.table({"doc_id": table["doc_id"], "text": alone}), kind="document").table
    runs = {
        "the sentence alone (no contact tail)": (sentences, LangIdConfig()),
        "with the PII (before the move)": (table, LangIdConfig()),
        "redacted, placeholders read": (redacted, LangIdConfig(placeholder_pattern=None)),
        "redacted, placeholders skipped (default)": (redacted, LangIdConfig()),
    }
    print(f"{len(texts)} sentences, {len(set(gold))} languages, {int(hit.sum())} with a span redacted, "
          f"{int(short_a.sum())} short (< 60 chars)\n")  # fmt: skip
    print("| condition | accuracy, all | accuracy, short | labels changed vs. with-PII |")
    print("|---|---|---|---|")
    base = None
    for name, (t, config) in runs.items():
        lang = np.array(detect_language(t, kind="document", config=config).table["language"].to_pylist(), dtype=object)
        ok = lang == gold_a
        changed = "–" if base is None or name.startswith("with") else str(int((lang != base).sum()))
        base = lang if name.startswith("with") else base
        print(f"| {name} | {ok.mean():.4f} | {ok[short_a].mean():.4f} | {changed} |")


if __name__ == "__main__":
    main()
