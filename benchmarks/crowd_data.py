"""Real crowd judgements from ../shared/data as annotation-record tables (one row per judgement).

Each loader returns a `Crowd`: the judgements in the columns `curaline.annotation` reads
(task, item_id, target_doc_id, annotator_id, label, gold), the label type and label
set. Used by benchmarks/bench_annotation.py and tests/test_annotation_real.py; nothing
is copied out of ../shared.
"""

from __future__ import annotations

import ast
import csv
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
COLUMNS = ("task", "item_id", "target_doc_id", "annotator_id", "label", "gold")


@dataclass(frozen=True)
class Crowd:
    name: str
    table: pa.Table
    label_type: str
    labels: tuple[str, ...]
    #: False where the rows carry no annotator ids (vote counts): agreement only, no Dawid-Skene
    has_annotators: bool = True


def _table(task: str, items: list[str], annotators: list[str], labels: list[str]) -> pa.Table:
    n = len(items)
    return pa.table({
        "task": pa.array([task] * n, pa.string()), "item_id": pa.array(items, pa.string()),
        "target_doc_id": pa.nulls(n, pa.string()), "annotator_id": pa.array(annotators, pa.string()),
        "label": pa.array(labels, pa.string()), "gold": pa.nulls(n, pa.string()),
    })  # fmt: skip


def mace_matrix(name: str, data: Path) -> Crowd:
    """Snow et al. (2008) RTE / TEMP in MACE's matrix: rows = items, columns = workers, empty = none."""
    items, workers, labels = [], [], []
    with (data / "crowdtruth-annotations" / f"mace_{name}.standardized.csv").open(newline="") as fh:
        for row_no, row in enumerate(csv.reader(fh)):
            for col, value in enumerate(row):
                if value.strip():
                    items.append(f"{name}-{row_no}")
                    workers.append(f"w{col}")
                    labels.append(value.strip())
    labels_set = tuple(sorted(set(labels)))
    return Crowd(f"crowdtruth {name.upper()} (Snow 2008)", _table(name, items, workers, labels), "nominal", labels_set)


def lewidi(name: str, data: Path) -> Crowd:
    """A LeWiDi 2023 set (train+dev+test): every item's comma-separated annotators and labels."""
    items, annotators, labels = [], [], []
    for split in ("train", "dev", "test"):
        for key, item in json.loads((data / "lewidi-disagreement" / f"{name}_{split}.json").read_text()).items():
            anns, labs = item["annotators"].split(","), item["annotations"].split(",")
            items += [f"{split}-{key}"] * len(anns)
            annotators += [a.strip() for a in anns]
            labels += [x.strip() for x in labs]
    return Crowd(f"lewidi {name}", _table(name, items, annotators, labels), "nominal", tuple(sorted(set(labels))))


CONVABUSE_SEVERITY = ("-3", "-2", "-1", "0", "1")  # very strongly abusive .. not abusive


def convabuse(data: Path, *, binary: bool = True) -> Crowd:
    """ConvAbuse full file: one row per (utterance, annotator); intra-annotator repeats keep the first.

    binary: abusive (severity -1..-3) vs not (0 ambiguous, 1 not abusive), the paper's
    abuse-detection target; else the 5-point severity scale (ordinal).
    """
    key_cols = ("conv_id", "prev_agent", "prev_user", "agent", "user")
    seen: set[tuple[str, str]] = set()
    items, annotators, labels = [], [], []
    ids: dict[tuple[str, ...], str] = {}
    with (data / "convabuse" / "ConvAbuseEMNLPfull.csv").open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            key = tuple(row[c] for c in key_cols)
            item = ids.setdefault(key, f"u{len(ids)}")
            if (item, row["annotator_id"]) in seen:
                continue
            seen.add((item, row["annotator_id"]))
            severity = next((s for s in CONVABUSE_SEVERITY if row[f"is_abuse.{s}"] == "1"), None)
            if severity is None:
                continue
            items.append(item)
            annotators.append(row["annotator_id"])
            labels.append(("abusive" if int(severity) < 0 else "not_abusive") if binary else severity)
    if binary:
        return Crowd("convabuse (abusive?)", _table("abuse", items, annotators, labels), "nominal",
                     ("abusive", "not_abusive"))  # fmt: skip
    return Crowd("convabuse severity", _table("severity", items, annotators, labels), "ordinal", CONVABUSE_SEVERITY)


def davidson(data: Path) -> Crowd:
    """Davidson et al. (2017): per-class vote counts only, so each vote gets a placeholder annotator."""
    items, annotators, labels = [], [], []
    with (data / "davidson-hate-offensive" / "labeled_data.csv").open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            votes = [cls for cls in ("hate_speech", "offensive_language", "neither") for _ in range(int(row[cls]))]
            items += [row[""]] * len(votes)
            annotators += [f"vote{i}" for i in range(len(votes))]  # one placeholder per vote of the item
            labels += votes
    return Crowd("davidson hate/offensive (vote counts)", _table("class", items, annotators, labels), "nominal",
                 ("hate_speech", "offensive_language", "neither"), has_annotators=False)  # fmt: skip


def lewidi_paraphrase(data: Path) -> Crowd:
    """LeWiDi 2025 Paraphrase: 4 annotators' Likert -5..+5 per question pair (interval)."""
    items, annotators, labels = [], [], []
    for split in ("train", "dev", "test"):
        for key, item in json.loads((data / "lewidi-disagreement" / f"Paraphrase_{split}.json").read_text()).items():
            for ann, value in ast.literal_eval(item["annotations"]).items():
                items.append(f"{split}-{key}")
                annotators.append(ann)
                labels.append(str(int(value)))
    return Crowd("lewidi Paraphrase (Likert)", _table("paraphrase", items, annotators, labels), "interval", ())


LOADERS: dict[str, Callable[[Path], Crowd]] = {
    "rte": lambda d: mace_matrix("rte", d),
    "temp": lambda d: mace_matrix("temp", d),
    "md-agreement": lambda d: lewidi("MD-Agreement", d),
    "hs-brexit": lambda d: lewidi("HS-Brexit", d),
    "armis": lambda d: lewidi("ArMIS", d),
    "convabuse": convabuse,
    "davidson": davidson,
}


def held_out_split(table: pa.Table, seed: int, reference_size: int = 3, max_input: int | None = None) -> tuple[pa.Table, dict[str, str]]:
    """Split each item's judgements: `reference_size` random ones become its reference label
    (their strict majority; ties give none), the rest (at least 2, at most max_input) the input.

    Items with fewer than reference_size + 2 judgements stay whole in the input, unscored.
    The reference is independent of the input given the true label, so agreement with it
    is an increasing affine function of true accuracy (binary tasks): the method that
    agrees more with held-out annotators is the more accurate one.
    """
    rng = np.random.default_rng(seed)
    item = pc.index_in(table["item_id"], value_set=pc.unique(table["item_id"])).to_numpy()
    order = np.lexsort((rng.random(len(item)), item))
    sizes = np.bincount(item)
    position = np.empty(len(item), dtype=np.int64)
    position[order] = np.arange(len(item)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    splittable = sizes[item] >= reference_size + 2
    reference = splittable & (position < reference_size)
    keep = ~reference
    if max_input is not None:
        keep &= ~splittable | (position < reference_size + max_input)
    ref = table.filter(pa.array(reference))
    votes: dict[str, dict[str, int]] = {}
    for it, lab in zip(ref["item_id"].to_pylist(), ref["label"].to_pylist(), strict=True):
        votes.setdefault(it, {}).setdefault(lab, 0)
        votes[it][lab] += 1
    truth = {}
    for it, counts in votes.items():
        ranked = sorted(counts.values(), reverse=True)
        if len(ranked) == 1 or ranked[0] > ranked[1]:
            truth[it] = max(counts, key=lambda k: counts[k])
    return table.filter(pa.array(keep)), truth
