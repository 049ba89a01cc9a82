"""Measure the PII kernel: span accuracy on Presidio's synthetic gold data, and throughput
on the 100k benchmark corpus.

Matching rule (span level, overlap based, per type): a predicted span of type T is a true
positive when it overlaps (shares at least one character with) a gold span whose Presidio
entity maps to T; otherwise it is a false positive, including when it overlaps gold of
another entity (DATE_TIME, US_DRIVER_LICENSE, ADDRESS...). A gold span of type T is found
when some predicted span of type T overlaps it, else it is a false negative. Precision =
matched predictions / predictions; recall = found gold / gold.

The gold files were in view while the rules were tuned, so a second table holds out the
values: Presidio's own phone/e-mail templates (templates.txt) filled with the 3,000
FakeNameGenerator identities (their phone formats come from ~30 countries).

Usage: python benchmarks/measure_pii.py [--shards 2]
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from curaline.kernels.pii import PiiConfig, Span, find_pii, redact_pii

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
PRESIDIO = SHARED / "data" / "presidio-pii-synth"
CORPUS = SHARED / "bench" / "corpus-100k"

#: Presidio entity types -> ours. Secrets are absent from the Presidio data.
PRESIDIO_TYPES = {
    "EMAIL_ADDRESS": "email",
    "PHONE_NUMBER": "phone",
    "IP_ADDRESS": "ip_address",
    "CREDIT_CARD": "credit_card",
    "IBAN_CODE": "iban",
    "US_SSN": "us_ssn",
}


@dataclass
class TypeScore:
    support: int = 0  # gold spans
    found: int = 0  # gold spans overlapped by a same-type prediction (TP)
    predicted: int = 0
    matched: int = 0  # predictions overlapping same-type gold

    @property
    def fn(self) -> int:
        return self.support - self.found

    @property
    def fp(self) -> int:
        return self.predicted - self.matched

    @property
    def precision(self) -> float:
        return self.matched / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.found / self.support if self.support else 1.0


def load_presidio(data_dir: Path) -> list[dict[str, Any]]:
    """Both gold files, large then small (same format, ~2,200 texts)."""
    items: list[dict[str, Any]] = []
    for name in ("generated_large.json", "generated_small.json"):
        items.extend(json.loads((data_dir / name).read_text(encoding="utf-8")))
    return items


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def held_out(data_dir: Path, seed: int = 0) -> list[dict[str, Any]]:
    """Presidio templates with a phone or e-mail slot, filled from FakeNameGenerator rows,
    in the gold files' format (other slots get the row's own fields)."""
    with (data_dir / "FakeNameGenerator.com_3000.csv").open(encoding="utf-8-sig") as f:
        people = list(csv.DictReader(f))
    lines = (data_dir / "templates.txt").read_text(encoding="utf-8").splitlines()
    templates = [t for t in lines if "{{phone_number}}" in t or "{{email}}" in t]
    rng = random.Random(seed)
    items = []
    for person in people:
        template = rng.choice(templates).replace("\\n", "\n")
        slots = {
            "phone_number": ("PHONE_NUMBER", person["TelephoneNumber"]),
            "email": ("EMAIL_ADDRESS", person["EmailAddress"]),
        }
        fill = {
            "address": f"{person['StreetAddress']}\n{person['City']} {person['ZipCode']}",
            "organization": person["Company"],
            "url": f"http://{person['Domain']}",
            "date_time": person["Birthday"],
        }
        text, spans, pos = "", [], 0
        for m in re.finditer(r"\{\{(\w+)\}\}", template):
            text += template[pos : m.start()]
            entity, value = slots.get(m.group(1), ("", ""))
            if entity:
                spans.append(
                    {"entity_type": entity, "start_position": len(text),
                     "end_position": len(text) + len(value)}
                )  # fmt: skip
            else:
                value = fill.get(m.group(1), f"{person['GivenName']} {person['Surname']}")
            text += value
            pos = m.end()
        items.append({"full_text": text + template[pos:], "spans": spans})
    return items


def score(items: list[dict[str, Any]], config: PiiConfig | None = None) -> dict[str, TypeScore]:
    texts = pa.array([item["full_text"] for item in items], pa.string())
    found = find_pii(texts, config)
    scores = {ours: TypeScore() for ours in PRESIDIO_TYPES.values()}
    for row, item in enumerate(items):
        gold = [
            (PRESIDIO_TYPES.get(s["entity_type"]), (s["start_position"], s["end_position"]))
            for s in item["spans"]
        ]
        preds: list[Span] = found.get(row, [])
        for label, span in gold:
            if label is None:
                continue
            scores[label].support += 1
            if any(p.label == label and _overlaps((p.start, p.end), span) for p in preds):
                scores[label].found += 1
        for p in preds:
            if p.label not in scores:
                scores[p.label] = TypeScore()
            scores[p.label].predicted += 1
            if any(lab == p.label and _overlaps((p.start, p.end), s) for lab, s in gold):
                scores[p.label].matched += 1
    return scores


def format_table(scores: dict[str, TypeScore]) -> str:
    lines = [
        "| type | support | TP | FP | FN | precision | recall |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, s in scores.items():
        lines.append(
            f"| {label} | {s.support} | {s.found} | {s.fp} | {s.fn} "
            f"| {s.precision:.3f} | {s.recall:.3f} |"
        )
    return "\n".join(lines)


def corpus_tables(shards: Iterable[Path]) -> Iterable[pa.Table]:
    for shard in shards:
        raw = pj.read_json(shard, read_options=pj.ReadOptions(block_size=64 << 20))
        yield pa.table({"doc_id": raw["id"].cast(pa.string()), "text": raw["text"]})


def throughput(n_shards: int) -> dict[str, float]:
    docs = chars = redacted = 0
    seconds = cpu = 0.0
    for table in corpus_tables(sorted(CORPUS.glob("[0-9]*.jsonl.gz"))[:n_shards]):
        t0, c0 = time.perf_counter(), time.process_time()
        result = redact_pii(table, kind="document")
        seconds += time.perf_counter() - t0
        cpu += time.process_time() - c0
        docs += table.num_rows
        chars += pc.sum(pc.utf8_length(table["text"])).as_py()
        redacted += result.events.num_rows
    return {
        "docs": docs,
        "seconds": seconds,
        "docs_per_s": docs / seconds,
        "docs_per_cpu_s": docs / cpu,
        "mb_per_s": chars / seconds / 1e6,
        "mean_chars": chars / docs,
        "records_redacted": redacted,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shards", type=int, default=2, help="corpus-100k shards to time")
    args = parser.parse_args()

    items = load_presidio(PRESIDIO)
    print(f"Presidio synthetic PII gold: {len(items)} texts")
    print(format_table(score(items)))
    print()
    fresh = held_out(PRESIDIO)
    print(f"Held out: Presidio templates x FakeNameGenerator values, {len(fresh)} texts")
    print(format_table({k: v for k, v in score(fresh).items() if v.support or v.predicted}))
    print()
    t = throughput(args.shards)
    print(
        f"corpus-100k, {args.shards} shards: {t['docs']:.0f} docs "
        f"(mean {t['mean_chars']:.0f} chars) in {t['seconds']:.2f} s = "
        f"{t['docs_per_s']:,.0f} docs/s ({t['docs_per_cpu_s']:,.0f} per CPU-second), "
        f"{t['mb_per_s']:.1f} M chars/s; "
        f"{t['records_redacted']:.0f} records redacted"
    )


if __name__ == "__main__":
    main()
