"""The review queue: items whose label is uncertain, best use of the next judgement first.

Ordering is by the expected value of one more judgement (myopic value of information,
0-1 loss). With T_i the item's Dawid-Skene posterior and pi the confusion matrix of a
judgement drawn from the annotator pool (annotators weighted by how much they judge),
the next judgement says l with probability P(l) = sum_k T_i[k] pi[k, l], after which the
best label is right with probability max_k T_i[k] pi[k, l] / P(l). So

    expected_gain_i = sum_l max_k T_i[k] pi[k, l]  -  max_k T_i[k]

the expected rise in the probability that the adjudicated label is correct (>= 0, and 0
when no single answer could change the decision). Ties (e.g. all zero) fall back to
lower confidence first, then fewer judgements.

Interval tasks: the label is the item mean, so the gain is the expected fall of its
squared standard error, s_i^2/n_i - s_i^2/(n_i + 1) = s_i^2 / (n_i (n_i + 1)), with the
item variance s_i^2 shrunk toward the task's pooled within-item variance (one pseudo
judgement), so a single judgement still has a spread.

An item enters the queue when its posterior is below `max_confidence`, its majority is
narrower than `min_majority_share`, or the two methods disagree (interval: every item
whose gain is positive); `max_items` caps the queue.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from curaline.annotation.labels import TaskLabels, item_means


@dataclass(frozen=True)
class ReviewConfig:
    max_confidence: float = 0.9
    min_majority_share: float = 2 / 3
    max_items: int = 10_000


def expected_gain(posterior: np.ndarray, confusion: np.ndarray) -> np.ndarray:
    """Expected rise in P(correct label) from one more judgement, per item (0-1 loss)."""
    after = (posterior[:, :, None] * confusion[None, :, :]).max(axis=1).sum(axis=1)
    gain = after - posterior.max(axis=1)
    return np.where(gain > 1e-12, gain, 0.0)  # rounding noise is no gain


def interval_gain(means_var: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Fall of the squared standard error of each item mean from one more judgement."""
    known = np.isfinite(means_var) & (n > 1)
    pooled = float(np.average(means_var[known], weights=n[known] - 1)) if known.any() else 0.0
    shrunk = (np.where(known, means_var * (n - 1), 0.0) + pooled) / (np.where(known, n - 1, 0) + 1)
    return shrunk / (n * (n + 1))


REVIEW_SCHEMA = pa.schema([
    ("priority", pa.int64()), ("source_id", pa.string()), ("task", pa.string()), ("item_id", pa.string()),
    ("target_doc_id", pa.string()), ("label", pa.string()), ("confidence", pa.float64()),
    ("majority_label", pa.string()), ("majority_share", pa.float64()), ("n_judgements", pa.int64()),
    ("expected_gain", pa.float64()), ("reason", pa.string()),
])  # fmt: skip


def task_queue(source_id: str, task: TaskLabels, config: ReviewConfig | None = None) -> pa.Table:
    """The queued items of one task, without priorities (see `review_queue`)."""
    config = config or ReviewConfig()
    j = task.judgements
    n = j.per_item()
    if task.model is None:  # interval
        mean, var = item_means(j)
        gain = interval_gain(var, n.astype(float))
        queued = gain > 0
        label = task.table["label"].to_numpy(zero_copy_only=False)
        conf = np.full(j.n_items, np.nan)
        mv_label, share = np.full(j.n_items, None, dtype=object), np.full(j.n_items, np.nan)
        reason = np.full(j.n_items, "spread", dtype=object)
    else:
        assert task.majority is not None
        weights = np.bincount(j.annotator, minlength=j.n_annotators).astype(float)
        gain = expected_gain(task.model.posterior, task.model.mean_confusion(weights))
        labels = np.asarray(j.labels, dtype=object)
        ds, conf = task.model.label, task.model.confidence
        mv, share = task.majority
        disagree, low, split = ds != mv, conf < config.max_confidence, share < config.min_majority_share
        queued = (disagree | low | split) & (j.gold < 0)  # gold items are settled
        reason = np.where(disagree, "methods_disagree", np.where(low, "low_confidence", "split_vote")).astype(object)
        label, mv_label = labels[ds], labels[mv]
    idx = np.flatnonzero(queued)
    return pa.table({
        "source_id": pa.array([source_id] * len(idx), pa.string()), "task": pa.array([j.task] * len(idx), pa.string()),
        "item_id": pa.array(j.items[idx].tolist(), pa.string()),
        "target_doc_id": pa.array(j.targets[idx].tolist(), pa.string()),
        "label": pa.array(np.asarray(label, dtype=object)[idx].tolist(), pa.string()),
        "confidence": pa.array(conf[idx], pa.float64(), from_pandas=True),
        "majority_label": pa.array(np.asarray(mv_label, dtype=object)[idx].tolist(), pa.string()),
        "majority_share": pa.array(share[idx], pa.float64(), from_pandas=True),
        "n_judgements": pa.array(n[idx], pa.int64()),
        "expected_gain": pa.array(gain[idx], pa.float64()),
        "reason": pa.array(reason[idx].tolist(), pa.string()),
    })  # fmt: skip


def review_queue(source_id: str, tasks: list[TaskLabels], config: ReviewConfig | None = None) -> pa.Table:
    """Every task's queued items, highest expected gain first, numbered from 1."""
    config = config or ReviewConfig()
    parts = [task_queue(source_id, t, config) for t in tasks]
    table = pa.concat_tables(parts) if parts else REVIEW_SCHEMA.remove(0).empty_table()
    gain = table["expected_gain"].to_numpy()
    conf = np.nan_to_num(table["confidence"].to_numpy(zero_copy_only=False), nan=0.0)
    n = table["n_judgements"].to_numpy()
    order = np.lexsort((np.arange(table.num_rows), n, conf, -gain))[: config.max_items]
    table = table.take(pa.array(order, pa.int64()))
    return table.add_column(0, "priority", pa.array(np.arange(1, table.num_rows + 1), pa.int64())).cast(REVIEW_SCHEMA)
