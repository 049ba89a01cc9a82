"""Adjudicated labels: majority vote, and Dawid-Skene EM with annotator confusion matrices.

Dawid & Skene (1979): each annotator j has a confusion matrix pi_j[k, l] = P(says l | truth
k); the true labels are latent with prior p_k. EM alternates
  E: T[i, k] proportional to p_k * prod over i's judgements (j, l) of pi_j[k, l]
  M: pi_j[k, l] proportional to (sum of T[i, k] over j's judgements l) + smoothing,
     p_k proportional to sum_i T[i, k] + smoothing
from vote shares as the first T, until T moves less than `tol`. Gold items (a `gold`
label in the source) keep T fixed at their gold label, so control questions calibrate
the confusion matrices. The posterior max T[i, k] is the label's confidence. Every step
is array arithmetic over judgements (bincount per class), never a loop over items.

Majority vote: the most frequent label; ties go to the label more frequent in the whole
task, then to the first declared; confidence = its share of the item's votes.
Interval tasks have no categories to vote on: their label is the mean ("mean" method).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from curaline.annotation.judgements import Judgements
from curaline.records import canonical_label


@dataclass(frozen=True)
class LabelConfig:
    #: EM stops after this many iterations ...
    max_iter: int = 200
    #: ... or when no posterior moves by more than this
    tol: float = 1e-6
    #: pseudo-count added to every confusion cell and class count (keeps log(0) out, and
    #: keeps an annotator with few judgements from looking perfect)
    smoothing: float = 0.01
    #: clamp gold items to their gold label during EM
    use_gold: bool = True


@dataclass
class DawidSkene:
    posterior: np.ndarray  # items x labels
    confusion: np.ndarray  # annotators x true label x given label
    prior: np.ndarray  # labels
    iterations: int
    converged: bool
    log_likelihood: float

    @property
    def label(self) -> np.ndarray:
        return self.posterior.argmax(axis=1)

    @property
    def confidence(self) -> np.ndarray:
        return self.posterior.max(axis=1)

    def mean_confusion(self, weights: np.ndarray) -> np.ndarray:
        """The confusion of a judgement drawn at random: annotators weighted by their judgements."""
        w = weights / weights.sum() if weights.sum() else np.full(len(weights), 1 / max(len(weights), 1))
        return np.einsum("j,jkl->kl", w, self.confusion)


def majority_vote(j: Judgements) -> tuple[np.ndarray, np.ndarray]:
    """(label code, vote share) per item."""
    counts = j.counts()
    k = j.n_labels
    overall = counts.sum(axis=0)
    # frequency rank (higher = more frequent; among equals, the earlier label wins)
    rank = np.empty(k, dtype=np.int64)
    rank[np.lexsort((-np.arange(k), overall))] = np.arange(k)
    label = np.argmax(counts * (k + 1) + rank[None, :], axis=1)
    n = counts.sum(axis=1)
    share = np.divide(counts[np.arange(j.n_items), label], n, out=np.zeros(j.n_items), where=n > 0)
    return label, share


def _log_normalize(log_t: np.ndarray) -> tuple[np.ndarray, float]:
    top = log_t.max(axis=1, keepdims=True)
    total = np.log(np.exp(log_t - top).sum(axis=1, keepdims=True)) + top
    return np.exp(log_t - total), float(total.sum())


def dawid_skene(j: Judgements, config: LabelConfig | None = None) -> DawidSkene:
    """Fit Dawid-Skene by EM; returns posteriors, confusion matrices and priors."""
    config = config or LabelConfig()
    k, size = j.n_labels, j.n_annotators
    counts = j.counts().astype(float)
    n = counts.sum(axis=1, keepdims=True)
    t = np.divide(counts, n, out=np.full_like(counts, 1.0 / k), where=n > 0)
    gold = (j.gold >= 0) if config.use_gold else np.zeros(j.n_items, dtype=bool)
    clamp = np.zeros((int(gold.sum()), k))
    clamp[np.arange(len(clamp)), j.gold[gold]] = 1.0
    t[gold] = clamp
    cell = j.annotator * k + j.label
    iterations, converged, log_lik = 0, False, float("nan")
    confusion, prior = np.zeros((size, k, k)), np.full(k, 1.0 / k)
    for iterations in range(1, config.max_iter + 1):  # noqa: B007 (the count is reported)
        # M-step: confusion[j, k, l] from soft counts, one bincount per true class k
        soft = np.stack([np.bincount(cell, weights=t[j.item, c], minlength=size * k).reshape(size, k) for c in range(k)],
                        axis=1) + config.smoothing  # fmt: skip
        confusion = soft / soft.sum(axis=2, keepdims=True)
        prior = (t.sum(axis=0) + config.smoothing) / (t.sum() + k * config.smoothing)
        # E-step: log T = log prior + sum of log confusion[j, :, l] over the item's judgements
        log_pi = np.log(confusion)[j.annotator, :, j.label]  # judgements x true class
        log_t = np.log(prior)[None, :] + np.stack(
            [np.bincount(j.item, weights=log_pi[:, c], minlength=j.n_items) for c in range(k)], axis=1
        )
        new_t, log_lik = _log_normalize(log_t)
        new_t[gold] = clamp
        delta = float(np.abs(new_t - t).max()) if new_t.size else 0.0
        t = new_t
        if delta < config.tol:
            converged = True
            break
    return DawidSkene(t, confusion, prior, iterations, converged, log_lik)


LABEL_SCHEMA = pa.schema([
    ("source_id", pa.string()), ("task", pa.string()), ("item_id", pa.string()), ("target_doc_id", pa.string()),
    ("label", pa.string()), ("confidence", pa.float64()), ("method", pa.string()), ("n_judgements", pa.int64()),
])  # fmt: skip


def _rows(source_id: str, j: Judgements, label: list[str], confidence: np.ndarray | None, method: str) -> pa.Table:
    n = j.n_items
    return pa.table({
        "source_id": pa.array([source_id] * n, pa.string()), "task": pa.array([j.task] * n, pa.string()),
        "item_id": pa.array(j.items.tolist(), pa.string()), "target_doc_id": pa.array(j.targets.tolist(), pa.string()),
        "label": pa.array(label, pa.string()),
        "confidence": pa.array(confidence, pa.float64()) if confidence is not None else pa.nulls(n, pa.float64()),
        "method": pa.array([method] * n, pa.string()), "n_judgements": pa.array(j.per_item(), pa.int64()),
    }, schema=LABEL_SCHEMA)  # fmt: skip


def item_means(j: Judgements) -> tuple[np.ndarray, np.ndarray]:
    """Interval tasks: (mean, sample variance; NaN for one judgement) per item."""
    v = j.values[j.label]
    n = j.per_item().astype(float)
    s1 = np.bincount(j.item, weights=v, minlength=j.n_items)
    s2 = np.bincount(j.item, weights=v * v, minlength=j.n_items)
    mean = s1 / n
    with np.errstate(invalid="ignore", divide="ignore"):
        var = np.where(n > 1, (s2 - n * mean**2) / (n - 1), np.nan)
    return mean, np.maximum(var, 0, where=np.isfinite(var), out=var)


@dataclass
class TaskLabels:
    """One task's adjudication: the label rows, and what the review queue needs."""

    judgements: Judgements
    table: pa.Table  # LABEL_SCHEMA rows, majority + dawid-skene (or mean)
    model: DawidSkene | None  # None for interval tasks
    majority: tuple[np.ndarray, np.ndarray] | None  # (label code, share)


def adjudicate(source_id: str, j: Judgements, config: LabelConfig | None = None) -> TaskLabels:
    """Label every item of a task by majority vote and by Dawid-Skene (or by its mean, for interval)."""
    if j.label_type == "interval":
        mean, _ = item_means(j)
        return TaskLabels(j, _rows(source_id, j, [canonical_label(round(float(m), 6)) for m in mean], None, "mean"),
                          None, None)  # fmt: skip
    mv_label, share = majority_vote(j)
    model = dawid_skene(j, config)
    labels = np.asarray(j.labels, dtype=object)
    table = pa.concat_tables([
        _rows(source_id, j, labels[mv_label].tolist(), share, "majority"),
        _rows(source_id, j, labels[model.label].tolist(), np.clip(model.confidence, 0, 1), "dawid-skene"),
    ])  # fmt: skip
    return TaskLabels(j, table, model, (mv_label, share))
