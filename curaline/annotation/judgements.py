"""One annotation task's judgements as integer codes: the input every measure shares.

Items, annotators and labels become dense codes (Arrow dictionary work, no Python loop
per judgement), so agreement, Dawid-Skene and the review queue are array arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: the columns of an annotation record the measures read
COLUMNS = ("task", "item_id", "target_doc_id", "annotator_id", "label", "gold")


@dataclass(frozen=True)
class Judgements:
    """One task: per-judgement codes plus the id each code stands for."""

    task: str
    label_type: str  # nominal | ordinal | interval
    items: np.ndarray  # item id per item code (object array of str)
    targets: np.ndarray  # target doc_id per item code (object array; None where unknown)
    annotators: np.ndarray  # annotator id per annotator code
    labels: tuple[str, ...]  # label per label code; declared order when declared
    values: np.ndarray  # float per label code: the number (interval) or the code
    item: np.ndarray  # int64 per judgement
    annotator: np.ndarray  # int64 per judgement
    label: np.ndarray  # int64 per judgement
    gold: np.ndarray  # int64 per item: gold label code, -1 where none

    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def n_annotators(self) -> int:
        return len(self.annotators)

    @property
    def n_labels(self) -> int:
        return len(self.labels)

    def counts(self) -> np.ndarray:
        """items x labels: how many judgements gave each label to each item."""
        k = self.n_labels
        return np.bincount(self.item * k + self.label, minlength=self.n_items * k).reshape(self.n_items, k)

    def per_item(self) -> np.ndarray:
        return np.bincount(self.item, minlength=self.n_items)


def _codes(values: pa.Array, dictionary: pa.Array) -> np.ndarray:
    """Code of each value in dictionary; -1 where absent (or null)."""
    found = pc.fill_null(pc.index_in(values, value_set=dictionary), -1)
    return np.asarray(found.to_numpy(zero_copy_only=False), dtype=np.int64)


def _label_set(table: pa.Table, label_type: str, declared: tuple[str, ...]) -> tuple[tuple[str, ...], np.ndarray]:
    if declared:
        labels = declared
    else:
        seen = pc.unique(pa.concat_arrays([table["label"].combine_chunks(), pc.drop_null(table["gold"]).combine_chunks()]))
        labels = tuple(str(v) for v in seen.to_pylist())
        labels = tuple(sorted(labels, key=float)) if label_type == "interval" else tuple(sorted(labels))
    if label_type == "interval":
        return labels, np.array([float(v) for v in labels], dtype=float)
    return labels, np.arange(len(labels), dtype=float)


def from_table(table: pa.Table, task: str, label_type: str, declared: tuple[str, ...] = ()) -> Judgements:
    """Codes for one task's rows (annotation records of one task, any order)."""
    labels, values = _label_set(table, label_type, declared)
    items = pc.unique(table["item_id"])
    annotators = pc.unique(table["annotator_id"])
    item = _codes(table["item_id"], items)
    label_dict = pa.array(labels, pa.string())
    gold_rows = _codes(table["gold"], label_dict)
    gold = np.full(len(items), -1, dtype=np.int64)
    has = gold_rows >= 0
    gold[item[has]] = gold_rows[has]  # an item's gold: the one its rows give
    first = np.full(len(items), -1, dtype=np.int64)
    first[item[::-1]] = np.arange(len(item))[::-1]  # a row of each item: for its target doc id
    targets = np.asarray(table["target_doc_id"].to_numpy(zero_copy_only=False), dtype=object)[first] if len(items) else np.array([], dtype=object)
    return Judgements(
        task=task, label_type=label_type,
        items=np.asarray(items.to_pylist(), dtype=object), targets=targets,
        annotators=np.asarray(annotators.to_pylist(), dtype=object),
        labels=labels, values=values, item=item, annotator=_codes(table["annotator_id"], annotators),
        label=_codes(table["label"], label_dict), gold=gold,
    )  # fmt: skip


def by_task(table: pa.Table, label_type: str, declared: tuple[str, ...] = ()) -> list[Judgements]:
    """Split an annotation source's records by task, each into codes; tasks in name order."""
    table = table.select(list(COLUMNS))
    tasks = sorted(pc.unique(table["task"]).to_pylist())
    return [from_table(table.filter(pc.equal(table["task"], t)), t, label_type, declared) for t in tasks]
