"""Agreement, Dawid-Skene and the review queue: textbook values, reference packages, planted noise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from curaline.annotation import agreement as agr
from curaline.annotation.judgements import Judgements, by_task, from_table
from curaline.annotation.labels import adjudicate, dawid_skene, majority_vote
from curaline.annotation.review import ReviewConfig, expected_gain, review_queue

NAN = np.nan
#: Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", the 4 coders x 12 units example
TEXTBOOK = np.array([
    [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
    [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
])  # fmt: skip


def table(rows: list[tuple[str, str, str]], gold: dict[str, str] | None = None, task: str = "t") -> pa.Table:
    """(item, annotator, label) rows as annotation records."""
    gold = gold or {}
    return pa.table({
        "task": [task] * len(rows), "item_id": [r[0] for r in rows], "target_doc_id": pa.nulls(len(rows), pa.string()),
        "annotator_id": [r[1] for r in rows], "label": [r[2] for r in rows],
        "gold": pa.array([gold.get(r[0]) for r in rows], pa.string()),
    })  # fmt: skip


def from_matrix(matrix: np.ndarray) -> pa.Table:
    """A coders x units reliability matrix (NaN = missing) as judgement rows."""
    coders, units = np.nonzero(np.isfinite(matrix))
    return table([(f"u{u}", f"c{c}", f"{matrix[c, u]:g}") for c, u in zip(coders, units, strict=True)])


def judgements(matrix: np.ndarray, label_type: str, labels: tuple[str, ...] = ()) -> Judgements:
    return from_table(from_matrix(matrix), "t", label_type, labels)


@pytest.mark.parametrize(("label_type", "expected"), [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849)])
def test_krippendorff_textbook_example(label_type: str, expected: float) -> None:
    labels = ("1", "2", "3", "4", "5") if label_type != "interval" else ()
    assert round(agr.krippendorff_alpha(judgements(TEXTBOOK, label_type, labels)), 3) == expected


@pytest.mark.parametrize("label_type", ["nominal", "ordinal", "interval"])
def test_alpha_matches_the_krippendorff_package_with_missing_judgements(label_type: str) -> None:
    krippendorff = pytest.importorskip("krippendorff")
    rng = np.random.default_rng(7)
    for _ in range(5):
        truth = rng.integers(0, 5, 60)
        noisy = np.where(rng.random((6, 60)) < 0.7, truth, rng.integers(0, 5, (6, 60))).astype(float)
        noisy[rng.random((6, 60)) < 0.35] = NAN  # missing judgements, some units left with one value
        labels = tuple(str(i) for i in range(5)) if label_type != "interval" else ()
        ours = agr.krippendorff_alpha(judgements(noisy, label_type, labels))
        theirs = krippendorff.alpha(reliability_data=noisy, level_of_measurement=label_type, value_domain=list(range(5)))
        assert ours == pytest.approx(theirs, abs=1e-10)


def test_fleiss_and_cohen_match_statsmodels() -> None:
    sm = pytest.importorskip("statsmodels.stats.inter_rater")
    rng = np.random.default_rng(3)
    truth = rng.integers(0, 3, 80)
    full = np.where(rng.random((4, 80)) < 0.75, truth, rng.integers(0, 3, (4, 80))).astype(float)  # every rater rates all
    j = judgements(full, "nominal", ("0", "1", "2"))
    assert agr.fleiss_kappa(j) == pytest.approx(sm.fleiss_kappa(j.counts()), abs=1e-12)
    a, b = agr.co_judgements(j)
    pairs = agr.cohen_kappas(j, a, b, min_overlap=1).to_pylist()
    assert len(pairs) == 6
    for pair in pairs:
        x, y = int(pair["annotator_a"][1:]), int(pair["annotator_b"][1:])
        confusion = np.zeros((3, 3))
        np.add.at(confusion, (full[x].astype(int), full[y].astype(int)), 1)
        assert pair["overlap"] == 80
        assert pair["cohen_kappa"] == pytest.approx(sm.cohens_kappa(confusion).kappa, abs=1e-12)


def test_fleiss_with_varying_raters_follows_the_per_item_formula() -> None:
    j = judgements(TEXTBOOK, "nominal", ("1", "2", "3", "4", "5"))
    counts = j.counts().astype(float)
    m = counts.sum(1)
    ok = m >= 2
    p_i = ((counts[ok] ** 2).sum(1) - m[ok]) / (m[ok] * (m[ok] - 1))
    p_k = counts[ok].sum(0) / m[ok].sum()
    expected = (p_i.mean() - (p_k**2).sum()) / (1 - (p_k**2).sum())
    assert agr.fleiss_kappa(j) == pytest.approx(expected, abs=1e-12)


def planted(seed: int = 0, items: int = 300) -> tuple[pa.Table, dict[str, int]]:
    """A 3-class task: five honest annotators (accuracy 0.85 .. 0.65), a spammer, an adversary."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 3, items)
    rows = []
    for i, t in enumerate(truth):
        for name, acc in (("h1", 0.85), ("h2", 0.8), ("h3", 0.75), ("h4", 0.7), ("h5", 0.65)):
            if rng.random() < 0.8:
                wrong = (t + rng.integers(1, 3)) % 3
                rows.append((f"i{i:03d}", name, str(t if rng.random() < acc else wrong)))
        rows.append((f"i{i:03d}", "spammer", str(rng.integers(0, 3))))
        rows.append((f"i{i:03d}", "adversary", str((t + 1) % 3)))  # always the next class: never right
    return table(rows), {f"i{i:03d}": int(t) for i, t in enumerate(truth)}


def test_dawid_skene_recovers_planted_spammer_and_adversary() -> None:
    rows, truth = planted()
    j = from_table(rows, "t", "nominal", ("0", "1", "2"))
    reference = np.array([truth[i] for i in j.items])
    mv, _ = majority_vote(j)
    ds = dawid_skene(j)
    assert ds.converged
    mv_acc, ds_acc = float((mv == reference).mean()), float((ds.label == reference).mean())
    assert ds_acc >= 0.98 and ds_acc - mv_acc >= 0.1  # measured: MV 0.763, DS 1.000
    who = list(j.annotators)
    adversary = ds.confusion[who.index("adversary")]
    assert np.allclose(np.diag(np.roll(adversary, -1, axis=1)), 1, atol=0.05)  # learnt: says k+1 for k
    spammer = ds.confusion[who.index("spammer")]
    assert np.abs(spammer - 1 / 3).max() < 0.12  # learnt: says anything, whatever the truth
    result = agr.measure(j, 0.667)
    flags = dict(zip(result.per_annotator["annotator_id"].to_pylist(), result.per_annotator["flag_reason"].to_pylist(), strict=True))
    assert flags == {"h1": None, "h2": None, "h3": None, "h4": None, "h5": None,
                     "spammer": "kappa_vs_majority", "adversary": "kappa_vs_majority"}  # fmt: skip
    assert sorted(result.flagged) == ["adversary", "spammer"]


def test_gold_items_flag_and_calibrate() -> None:
    rows = [(f"g{i}", "careless", "b") for i in range(6)] + [(f"g{i}", "careful", "a") for i in range(6)]
    rows += [(f"g{i}", "third", "a") for i in range(6)]
    j = from_table(table(rows, gold={f"g{i}": "a" for i in range(6)}), "t", "nominal", ("a", "b"))
    result = agr.measure(j, 0.667)
    by = {r["annotator_id"]: r for r in result.per_annotator.to_pylist()}
    assert by["careless"]["gold_accuracy"] == 0.0 and by["careless"]["gold_judgements"] == 6
    assert by["careless"]["flag_reason"] == "kappa_vs_majority+gold_accuracy"  # and the others outvote it
    assert by["careful"]["gold_accuracy"] == 1.0 and not by["careful"]["flagged"]
    assert result.gold_items == 6


def test_review_queue_orders_by_expected_gain_then_uncertainty() -> None:
    rows = []
    votes = {"split": "aabb", "lean": "aaab", "sure": "aaaa", "lone": "a", "pair": "ab"}
    for item, labels in votes.items():
        rows += [(item, f"r{k}", lab) for k, lab in enumerate(labels)]
    rng = np.random.default_rng(1)  # background items calibrate the raters: each wrong 15% of the time
    for i in range(200):
        truth = "ab"[i % 2]
        rows += [(f"bg{i:03d}", f"r{k}", truth if rng.random() < 0.85 else "ab"[1 - i % 2]) for k in range(4)]
    task = adjudicate("src", from_table(table(rows), "t", "nominal", ("a", "b")))
    queue = review_queue("src", [task], ReviewConfig(min_majority_share=0.8)).to_pylist()
    order = [r["item_id"] for r in queue]
    assert "sure" not in order and {"split", "pair", "lean", "lone"} <= set(order)
    assert order.index("split") < order.index("lean") and order.index("pair") < order.index("lean")
    gains = [r["expected_gain"] for r in queue]
    assert gains == sorted(gains, reverse=True) and [r["priority"] for r in queue] == list(range(1, len(queue) + 1))
    # the formula on a hand case: a 50/50 item and a symmetric 0.8-accurate annotator gain 0.3
    assert expected_gain(np.array([[0.5, 0.5]]), np.array([[0.8, 0.2], [0.2, 0.8]]))[0] == pytest.approx(0.3)
    assert expected_gain(np.array([[0.95, 0.05]]), np.array([[0.8, 0.2], [0.2, 0.8]]))[0] == 0.0  # one vote can't flip it


def test_interval_task_labels_are_means_and_queue_by_spread() -> None:
    rows = [("a", "r1", "1"), ("a", "r2", "1"), ("a", "r3", "1.5"), ("b", "r1", "1"), ("b", "r2", "5"), ("c", "r1", "3")]
    task = adjudicate("src", from_table(table(rows), "t", "interval"))
    got = {r["item_id"]: (r["label"], r["method"], r["confidence"], r["n_judgements"]) for r in task.table.to_pylist()}
    assert got == {"a": ("1.166667", "mean", None, 3), "b": ("3", "mean", None, 2), "c": ("3", "mean", None, 1)}
    order = [r["item_id"] for r in review_queue("src", [task]).to_pylist()]
    assert order[0] in ("b", "c") and order[-1] == "a"


def test_tasks_are_measured_separately_and_empty_pairs_give_nan() -> None:
    rows = table([("x", "u1", "a"), ("x", "u2", "a"), ("y", "u1", "b"), ("y", "u2", "b")], task="one")
    lone = table([("z", "u1", "a"), ("w", "u2", "b")], task="two")
    tasks = by_task(pa.concat_tables([rows, lone]), "nominal", ("a", "b"))
    assert [t.task for t in tasks] == ["one", "two"]
    one, two = (agr.measure(t, 0.667) for t in tasks)
    assert one.alpha == 1.0 and one.passed
    assert np.isnan(two.alpha) and not two.passed and two.pairable_items == 0


def test_dawid_skene_beats_majority_vote_on_snow_rte_and_temp(shared_data: Path) -> None:
    """Where the literature reports DS ahead of MV (Snow et al. 2008's RTE and TEMP), against held-out annotators."""
    from benchmarks.crowd_data import LOADERS, held_out_split

    for key in ("rte", "temp"):
        crowd = LOADERS[key](shared_data)
        diffs = []
        for seed in range(3):
            inputs, truth = held_out_split(crowd.table, seed)
            j = from_table(inputs, "t", crowd.label_type, crowd.labels)
            idx = np.array([i for i, item in enumerate(j.items) if item in truth])
            reference = np.array([crowd.labels.index(truth[item]) for item in j.items[idx]])
            mv, _ = majority_vote(j)
            diffs.append(float((dawid_skene(j).label[idx] == reference).mean() - (mv[idx] == reference).mean()))
        assert min(diffs) > 0, (key, diffs)  # measured: +1.4 .. +3 points per seed


def test_the_posterior_plot_takes_values_one_ulp_apart() -> None:
    """Unanimous items give Dawid-Skene posteriors equal up to float rounding; numpy refuses to
    cut so narrow a range into 25 bins, which failed `adjudicated_labels` (found when a Label
    Studio pull withdrew the only split item)."""
    import xml.etree.ElementTree as ET

    from curaline.reports.plots import histogram_svg

    values = np.array([0.1 + 0.2, 0.3, 0.3])
    assert 0 < np.ptp(values) < 1e-15
    with pytest.raises(ValueError, match="Too many bins"):
        np.histogram(values, bins=25)
    one_bar = ET.fromstring(histogram_svg(values, title="posterior", xlabel="posterior", bins=25))
    assert [r.findtext("{http://www.w3.org/2000/svg}title") for r in one_bar.iter("{http://www.w3.org/2000/svg}rect")
            if r.find("{http://www.w3.org/2000/svg}title") is not None] == ["-0.2 – 0.8: 3"]  # fmt: skip
    assert ET.fromstring(histogram_svg(np.array([0.2, 0.9]), title="t", xlabel="x", bins=25)).tag.endswith("svg")
