"""Inter-annotator agreement of one task: Krippendorff's alpha, Fleiss' and Cohen's kappa.

Everything is computed from two arrays built once per task: the items x labels count
matrix (sparse) and the co-judgement pairs (two annotators, same item). The formulas:

* Krippendorff's alpha (Krippendorff 2004/2011, "Computing Krippendorff's alpha-reliability"):
  alpha = 1 - (n - 1) * sum_ck o_ck d2_ck / sum_ck n_c n_k d2_ck, over the coincidence
  matrix o (each unit with m >= 2 values adds N_uc N_uk / (m - 1), minus the diagonal self
  pairs), n_c its margins, n = sum n_c. Units with fewer than two values drop out: this
  is how missing judgements are handled. d2 is the metric: nominal (c != k), ordinal
  ((sum_{g=c..k} n_g - (n_c + n_k) / 2)^2) or interval ((v_c - v_k)^2, computed in closed
  form from per-unit sums, so a continuous scale costs O(judgements)).
* Fleiss' kappa with a varying number of raters per item: P_i = (sum_k N_ik^2 - m_i) /
  (m_i (m_i - 1)) averaged over items with m_i >= 2, against P_e = sum_k p_k^2; with a
  constant m it is Fleiss (1971) exactly.
* Cohen's kappa for every annotator pair sharing at least `min_overlap` items.
* Per annotator: the share of their co-judgements that agree with the other annotator,
  and `alpha_vs_others` = 1 - D_o(a) / D_e: their mean disagreement with the others
  (same metric d2) over the task's expected disagreement, so 1 is perfect, 0 is chance,
  below 0 is systematic disagreement; `kappa_vs_majority`: Cohen's kappa between their
  labels and the majority of the *other* judgements of the same item (items where the
  others are at least two and not tied), the robust signal for a spammer (near 0) or an
  adversary (below 0), as pairwise figures sink with every weak co-annotator; plus
  accuracy on gold items. An annotator is flagged when kappa_vs_majority (interval:
  alpha_vs_others) is below `annotator_floor` over at least `min_overlap` judgements,
  or gold accuracy is below `gold_floor` over at least `min_gold` gold judgements.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
from scipy import sparse

from curaline.annotation.judgements import Judgements

NAN = float("nan")


@dataclass(frozen=True)
class AgreementConfig:
    #: shared items a pair needs for its Cohen's kappa, and an annotator's co-judgements
    #: needed before a low agreement flags them
    min_overlap: int = 5
    #: flag an annotator whose kappa_vs_majority (interval: alpha_vs_others) is below
    #: this; 0 = chance level, 0.2 = the top of Landis & Koch's "slight" band
    annotator_floor: float = 0.2
    #: flag an annotator whose accuracy on gold items is below this ...
    gold_floor: float = 0.6
    #: ... once they judged at least this many gold items
    min_gold: int = 5


def count_matrix(j: Judgements) -> sparse.csr_matrix:
    """items x labels judgement counts, sparse (a task may have many items and labels)."""
    ones = np.ones(len(j.item), dtype=float)
    return sparse.csr_matrix((ones, (j.item, j.label)), shape=(j.n_items, j.n_labels))


def coincidences(j: Judgements) -> np.ndarray:
    """Krippendorff's coincidence matrix o (labels x labels) over pairable units."""
    counts = count_matrix(j)
    m = np.asarray(counts.sum(axis=1)).ravel()
    weight = np.where(m >= 2, 1.0 / np.maximum(m - 1, 1), 0.0)
    weighted = sparse.diags(weight) @ counts
    o = (weighted.T @ counts).toarray()
    return o - np.diag(np.asarray(weighted.sum(axis=0)).ravel())


def distances(label_type: str, values: np.ndarray, n_c: np.ndarray) -> np.ndarray:
    """Krippendorff's squared difference d2 between every two labels."""
    k = len(values)
    if label_type == "nominal":
        return 1.0 - np.eye(k)
    if label_type == "interval":
        return (values[:, None] - values[None, :]) ** 2
    cum = np.cumsum(n_c)  # ordinal: ranks by the marginal frequencies of the values between
    lo, hi = np.minimum.outer(np.arange(k), np.arange(k)), np.maximum.outer(np.arange(k), np.arange(k))
    between = cum[hi] - cum[lo] + n_c[lo]
    return (between - (n_c[lo] + n_c[hi]) / 2.0) ** 2


def krippendorff_alpha(j: Judgements) -> float:
    """Alpha for the task's label type; NaN when undefined (fewer than 2 pairable values, or 1 value used)."""
    if j.label_type == "interval":
        v = j.values[j.label]
        m = np.bincount(j.item, minlength=j.n_items).astype(float)
        s1 = np.bincount(j.item, weights=v, minlength=j.n_items)
        s2 = np.bincount(j.item, weights=v * v, minlength=j.n_items)
        ok = m >= 2
        n, t1, t2 = m[ok].sum(), s1[ok].sum(), s2[ok].sum()
        observed = np.sum((2 * m[ok] * s2[ok] - 2 * s1[ok] ** 2) / (m[ok] - 1))
        expected = 2 * n * t2 - 2 * t1**2
    else:
        o = coincidences(j)
        n_c = o.sum(axis=1)
        n = n_c.sum()
        d2 = distances(j.label_type, j.values, n_c)
        observed = float((o * d2).sum())
        expected = float((np.outer(n_c, n_c) * d2).sum())
    if n < 2 or expected <= 0:
        return NAN
    return float(1.0 - (n - 1) * observed / expected)


def expected_disagreement(j: Judgements) -> float:
    """D_e: the mean d2 between two pairable values drawn without replacement."""
    m = np.bincount(j.item, minlength=j.n_items)
    keep = m[j.item] >= 2
    if j.label_type == "interval":
        v = j.values[j.label[keep]]
        n = len(v)
        return float((2 * n * (v * v).sum() - 2 * v.sum() ** 2) / (n * (n - 1))) if n >= 2 else NAN
    n_c = np.bincount(j.label[keep], minlength=j.n_labels).astype(float)
    n = n_c.sum()
    d2 = distances(j.label_type, j.values, n_c)
    return float((np.outer(n_c, n_c) * d2).sum() / (n * (n - 1))) if n >= 2 else NAN


def fleiss_kappa(j: Judgements) -> float:
    """Fleiss' kappa, generalized to items with different numbers of raters (m >= 2 only)."""
    counts = count_matrix(j)
    m = np.asarray(counts.sum(axis=1)).ravel()
    ok = m >= 2
    if not ok.any():
        return NAN
    sub = counts[ok]
    p_i = (np.asarray(sub.multiply(sub).sum(axis=1)).ravel() - m[ok]) / (m[ok] * (m[ok] - 1))
    p_k = np.asarray(sub.sum(axis=0)).ravel() / m[ok].sum()
    p_e = float((p_k**2).sum())
    return NAN if p_e >= 1 else float((p_i.mean() - p_e) / (1 - p_e))


def co_judgements(j: Judgements) -> tuple[np.ndarray, np.ndarray]:
    """Every unordered pair of judgements of the same item (rows into the judgement arrays)."""
    order = np.argsort(j.item, kind="stable")
    sizes = np.bincount(j.item, minlength=j.n_items)
    starts = np.repeat(np.cumsum(sizes) - sizes, sizes)  # group start of each sorted row
    position = np.arange(len(order)) - starts
    after = np.repeat(sizes, sizes) - position - 1  # rows after this one in its item
    first = np.repeat(np.arange(len(order)), after)
    offsets = np.arange(len(first)) - np.repeat(np.cumsum(after) - after, after) + 1
    return order[first], order[first + offsets]


def cohen_kappas(j: Judgements, a: np.ndarray, b: np.ndarray, min_overlap: int) -> pa.Table:
    """Cohen's kappa of each annotator pair with at least min_overlap shared items."""
    k = j.n_labels
    ann_a, ann_b, lab_a, lab_b = j.annotator[a], j.annotator[b], j.label[a], j.label[b]
    swap = ann_a > ann_b
    ann_a, ann_b = np.where(swap, ann_b, ann_a), np.where(swap, ann_a, ann_b)
    lab_a, lab_b = np.where(swap, lab_b, lab_a), np.where(swap, lab_a, lab_b)
    keys, pair = np.unique(ann_a * j.n_annotators + ann_b, return_inverse=True)
    overlap = np.bincount(pair, minlength=len(keys))
    big = overlap >= min_overlap
    remap = np.cumsum(big) - 1
    rows = big[pair]
    tables = np.bincount(remap[pair[rows]] * k * k + lab_a[rows] * k + lab_b[rows],
                         minlength=int(big.sum()) * k * k).reshape(-1, k, k).astype(float)  # fmt: skip
    n = tables.sum(axis=(1, 2))
    p_o = np.trace(tables, axis1=1, axis2=2) / n
    p_e = (tables.sum(axis=2) * tables.sum(axis=1)).sum(axis=1) / n**2
    with np.errstate(invalid="ignore", divide="ignore"):
        kappa = np.where(p_e < 1, (p_o - p_e) / (1 - p_e), np.nan)
    kept = keys[big]
    return pa.table({
        "annotator_a": pa.array(j.annotators[kept // j.n_annotators].tolist(), pa.string()),
        "annotator_b": pa.array(j.annotators[kept % j.n_annotators].tolist(), pa.string()),
        "overlap": pa.array(overlap[big], pa.int64()),
        "cohen_kappa": pa.array(kappa, pa.float64(), from_pandas=True),
    })  # fmt: skip


@dataclass
class TaskAgreement:
    """The agreement of one task, and who drags it down."""

    task: str
    label_type: str
    labels: tuple[str, ...]
    items: int
    annotators: int
    judgements: int
    pairable_items: int  # items with at least two judgements: what alpha can use
    alpha: float
    alpha_floor: float
    fleiss_kappa: float
    cohen_kappa_mean: float  # mean over annotator pairs with min_overlap shared items
    cohen_pairs: pa.Table
    coincidence: np.ndarray  # labels x labels; empty for interval tasks with many values
    label_agreement: dict[str, float]  # P(another judgement of the item agrees | this label)
    per_annotator: pa.Table
    gold_items: int = 0
    flagged: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Alpha at or above the floor; an undefined alpha (no pairable item) does not pass."""
        return bool(np.isfinite(self.alpha) and self.alpha >= self.alpha_floor)


def kappa_vs_majority(j: Judgements) -> tuple[np.ndarray, np.ndarray]:
    """(kappa, judgements compared) per annotator against the leave-one-out majority of the others."""
    k, size = j.n_labels, j.n_annotators
    others = j.counts()[j.item]
    others[np.arange(len(j.label)), j.label] -= 1
    top = others.max(axis=1)
    consensus = others.argmax(axis=1)
    usable = (others.sum(axis=1) >= 2) & ((others == top[:, None]).sum(axis=1) == 1)
    ann, mine, cons = j.annotator[usable], j.label[usable], consensus[usable]
    n = np.bincount(ann, minlength=size).astype(float)
    agree = np.bincount(ann, weights=(mine == cons).astype(float), minlength=size)
    p_mine = np.bincount(ann * k + mine, minlength=size * k).reshape(size, k)
    p_cons = np.bincount(ann * k + cons, minlength=size * k).reshape(size, k)
    with np.errstate(invalid="ignore", divide="ignore"):
        p_o = agree / n
        p_e = (p_mine * p_cons).sum(axis=1) / n**2
        kappa = np.where(p_e < 1, (p_o - p_e) / (1 - p_e), np.nan)
    return kappa, n.astype(np.int64)


def per_annotator(j: Judgements, a: np.ndarray, b: np.ndarray, config: AgreementConfig) -> pa.Table:
    """Each annotator: judgements, agreement with the others, alpha vs the others, gold accuracy, flag."""
    ann = np.concatenate([j.annotator[a], j.annotator[b]])  # both directions of every pair
    mine = np.concatenate([j.label[a], j.label[b]])
    theirs = np.concatenate([j.label[b], j.label[a]])
    size = j.n_annotators
    pairs = np.bincount(ann, minlength=size)
    agree = np.bincount(ann, weights=(mine == theirs).astype(float), minlength=size)
    if j.label_type == "interval":
        d2 = (j.values[mine] - j.values[theirs]) ** 2
    else:
        m = np.bincount(j.item, minlength=j.n_items)
        n_c = np.bincount(j.label[m[j.item] >= 2], minlength=j.n_labels).astype(float)
        d2 = distances(j.label_type, j.values, n_c)[mine, theirs]
    d_e = expected_disagreement(j)
    with np.errstate(invalid="ignore", divide="ignore"):
        d_o = np.bincount(ann, weights=d2, minlength=size) / pairs
        alpha_vs = 1 - d_o / d_e if d_e and np.isfinite(d_e) else np.full(size, np.nan)
        agreement = agree / pairs
    gold_of = j.gold[j.item]
    on_gold = gold_of >= 0
    gold_n = np.bincount(j.annotator[on_gold], minlength=size)
    gold_ok = np.bincount(j.annotator[on_gold], weights=(j.label[on_gold] == gold_of[on_gold]).astype(float), minlength=size)
    with np.errstate(invalid="ignore", divide="ignore"):
        gold_acc = gold_ok / gold_n
    if j.label_type == "interval":
        vs_majority, compared = np.full(size, np.nan), np.zeros(size, dtype=np.int64)
        low_alpha = (pairs >= config.min_overlap) & (alpha_vs < config.annotator_floor)
    else:
        vs_majority, compared = kappa_vs_majority(j)
        low_alpha = (compared >= config.min_overlap) & (vs_majority < config.annotator_floor)
    low_gold = (gold_n >= config.min_gold) & (gold_acc < config.gold_floor)
    agreement_flag = "alpha_vs_others" if j.label_type == "interval" else "kappa_vs_majority"
    reason = np.where(low_alpha & low_gold, f"{agreement_flag}+gold_accuracy",
                      np.where(low_alpha, agreement_flag, np.where(low_gold, "gold_accuracy", "")))  # fmt: skip
    return pa.table({
        "annotator_id": pa.array(j.annotators.tolist(), pa.string()),
        "judgements": pa.array(np.bincount(j.annotator, minlength=size), pa.int64()),
        "co_judgements": pa.array(pairs, pa.int64()),
        "agreement_with_others": pa.array(agreement, pa.float64(), from_pandas=True),
        "alpha_vs_others": pa.array(alpha_vs, pa.float64(), from_pandas=True),
        "kappa_vs_majority": pa.array(vs_majority, pa.float64(), from_pandas=True),
        "majority_compared": pa.array(compared, pa.int64()),
        "gold_judgements": pa.array(gold_n, pa.int64()),
        "gold_accuracy": pa.array(gold_acc, pa.float64(), from_pandas=True),
        "flagged": pa.array(low_alpha | low_gold, pa.bool_()),
        "flag_reason": pa.array([r or None for r in reason.tolist()], pa.string()),
    })  # fmt: skip


def measure(j: Judgements, alpha_floor: float, config: AgreementConfig | None = None) -> TaskAgreement:
    """Every agreement figure of one task."""
    config = config or AgreementConfig()
    a, b = co_judgements(j)
    categorical = j.label_type != "interval"
    pairs = cohen_kappas(j, a, b, config.min_overlap) if categorical else cohen_kappas(j, a[:0], b[:0], 1)
    kappas = pairs["cohen_kappa"].to_numpy(zero_copy_only=False)
    coincidence = coincidences(j) if categorical or j.n_labels <= 20 else np.zeros((0, 0))
    n_c = coincidence.sum(axis=1) if coincidence.size else np.zeros(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        specific = np.diag(coincidence) / n_c if coincidence.size else np.zeros(0)
    annotators = per_annotator(j, a, b, config)
    flagged = [x for x, f in zip(annotators["annotator_id"].to_pylist(), annotators["flagged"].to_pylist(), strict=True) if f]
    per_item = j.per_item()
    return TaskAgreement(
        task=j.task, label_type=j.label_type, labels=j.labels, items=j.n_items, annotators=j.n_annotators,
        judgements=len(j.item), pairable_items=int((per_item >= 2).sum()),
        alpha=krippendorff_alpha(j), alpha_floor=alpha_floor,
        fleiss_kappa=fleiss_kappa(j) if categorical else NAN,
        cohen_kappa_mean=float(np.nanmean(kappas)) if np.isfinite(kappas).any() else NAN,
        cohen_pairs=pairs, coincidence=coincidence,
        label_agreement={lab: float(s) for lab, s in zip(j.labels, specific, strict=False) if np.isfinite(s)},
        per_annotator=annotators, gold_items=int((j.gold >= 0).sum()), flagged=flagged,
    )  # fmt: skip


def _num(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


TASK_SCHEMA = pa.schema([
    ("task", pa.string()), ("label_type", pa.string()), ("items", pa.int64()), ("annotators", pa.int64()),
    ("judgements", pa.int64()), ("pairable_items", pa.int64()), ("krippendorff_alpha", pa.float64()),
    ("alpha_floor", pa.float64()), ("passed", pa.bool_()), ("fleiss_kappa", pa.float64()),
    ("cohen_kappa_mean", pa.float64()), ("cohen_pairs", pa.int64()), ("gold_items", pa.int64()),
    ("flagged_annotators", pa.list_(pa.string())),
])  # fmt: skip


def tasks_table(results: list[TaskAgreement]) -> pa.Table:
    """One row per task: what the agreement asset stores and the floor check reads."""
    return pa.Table.from_pylist([{
        "task": r.task, "label_type": r.label_type, "items": r.items, "annotators": r.annotators,
        "judgements": r.judgements, "pairable_items": r.pairable_items, "krippendorff_alpha": _num(r.alpha),
        "alpha_floor": r.alpha_floor, "passed": r.passed, "fleiss_kappa": _num(r.fleiss_kappa),
        "cohen_kappa_mean": _num(r.cohen_kappa_mean), "cohen_pairs": r.cohen_pairs.num_rows,
        "gold_items": r.gold_items, "flagged_annotators": r.flagged,
    } for r in results], schema=TASK_SCHEMA)  # fmt: skip


ANNOTATOR_SCHEMA = pa.schema([
    ("task", pa.string()), ("annotator_id", pa.string()), ("judgements", pa.int64()), ("co_judgements", pa.int64()),
    ("agreement_with_others", pa.float64()), ("alpha_vs_others", pa.float64()), ("kappa_vs_majority", pa.float64()),
    ("majority_compared", pa.int64()), ("gold_judgements", pa.int64()),
    ("gold_accuracy", pa.float64()), ("flagged", pa.bool_()), ("flag_reason", pa.string()),
])  # fmt: skip


def annotators_table(results: list[TaskAgreement]) -> pa.Table:
    """Every task's per-annotator rows, with the task."""
    parts = [r.per_annotator.add_column(0, "task", pa.array([r.task] * r.per_annotator.num_rows, pa.string()))
             for r in results]  # fmt: skip
    return pa.concat_tables(parts) if parts else ANNOTATOR_SCHEMA.empty_table()


def confusion_markdown(r: TaskAgreement, max_labels: int = 12) -> str:
    """The coincidence matrix as a Markdown table (rows: a label; columns: the label paired with it)."""
    if not r.coincidence.size:
        return f"_No confusion table for task `{r.task}`: {r.label_type} scale with {len(r.labels)} values._"
    labels = r.labels[:max_labels]
    head = "| label | " + " | ".join(labels) + " | agree |\n|---|" + "---:|" * (len(labels) + 1)
    rows = []
    for i, lab in enumerate(labels):
        cells = " | ".join(f"{r.coincidence[i, k]:.1f}" for k in range(len(labels)))
        share = r.label_agreement.get(lab)
        rows.append(f"| {lab} | {cells} | {'-' if share is None else f'{share:.2f}'} |")
    return "\n".join([head, *rows])
