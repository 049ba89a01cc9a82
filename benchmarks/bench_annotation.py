"""Agreement and adjudication on real crowd data: majority vote vs Dawid-Skene.

No dataset in ../shared/data ships expert gold labels, so accuracy is measured against
held-out annotators (see `crowd_data.held_out_split`): for every item with >= 5
judgements, 3 random ones form the reference label and the rest the input; both
methods see only the input; repeated over 5 seeds. Agreement (Krippendorff's alpha,
Fleiss' kappa) is over all judgements, cross-checked against the `krippendorff` and
`statsmodels` packages.

    .venv/bin/python benchmarks/bench_annotation.py [--seeds 5] [--only rte,temp]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.crowd_data import LOADERS, SHARED_DATA, Crowd, held_out_split  # noqa: E402
from curaline.annotation import agreement, labels  # noqa: E402
from curaline.annotation.judgements import from_table  # noqa: E402

#: (dataset, input cap): the capped rows show the sparse regime, few labels per item
RUNS = [("rte", None), ("rte", 3), ("temp", None), ("temp", 3), ("md-agreement", None), ("hs-brexit", None),
        ("convabuse", None), ("armis", None), ("davidson", None)]  # fmt: skip


def reference_checks(crowd: Crowd) -> tuple[float | None, tuple[float, float, int] | None]:
    """alpha from `krippendorff`; (ours, statsmodels, items) Fleiss' kappa on the items with the modal rater count."""
    import krippendorff
    import pyarrow as pa
    import pyarrow.compute as pc
    from statsmodels.stats.inter_rater import fleiss_kappa

    j = from_table(crowd.table, "t", crowd.label_type, crowd.labels)
    alpha_ref = None
    if j.n_annotators * j.n_items <= 20_000_000:  # the package wants a dense coders x units matrix
        matrix = np.full((j.n_annotators, j.n_items), np.nan)
        matrix[j.annotator, j.item] = j.values[j.label]
        alpha_ref = float(krippendorff.alpha(reliability_data=matrix, level_of_measurement=crowd.label_type,
                                             value_domain=list(j.values)))  # fmt: skip
    m = j.per_item()
    modal = np.bincount(m).argmax()
    items = pa.array(j.items[m == modal].tolist(), pa.string())
    if len(items) < 2:
        return alpha_ref, None
    sub = from_table(crowd.table.filter(pc.is_in(crowd.table["item_id"], value_set=items)), "t", crowd.label_type,
                     crowd.labels)  # fmt: skip
    return alpha_ref, (agreement.fleiss_kappa(sub), float(fleiss_kappa(sub.counts())), len(items))


def accuracy_run(crowd: Crowd, seeds: int, cap: int | None) -> dict[str, float]:
    mv_acc, ds_acc, scored, input_per_item, seconds = [], [], [], [], []
    for seed in range(seeds):
        inputs, truth = held_out_split(crowd.table, seed, max_input=cap)
        j = from_table(inputs, "t", crowd.label_type, crowd.labels)
        t0 = time.perf_counter()
        mv, _ = labels.majority_vote(j)
        ds = labels.dawid_skene(j)
        seconds.append(time.perf_counter() - t0)
        idx = np.array([i for i, item in enumerate(j.items) if item in truth], dtype=np.int64)
        if not len(idx):
            return {"scored": 0.0}
        ref = np.array([crowd.labels.index(truth[item]) for item in j.items[idx]])
        mv_acc.append(float((mv[idx] == ref).mean()))
        ds_acc.append(float((ds.label[idx] == ref).mean()))
        scored.append(len(idx))
        input_per_item.append(float(j.per_item()[idx].mean()))
    mv_a, ds_a = np.array(mv_acc), np.array(ds_acc)
    return {"mv": mv_a.mean(), "mv_sd": mv_a.std(), "ds": ds_a.mean(), "ds_sd": ds_a.std(),
            "wins": int((ds_a > mv_a).sum()), "ties": int((ds_a == mv_a).sum()), "scored": float(np.mean(scored)),
            "input_per_item": float(np.mean(input_per_item)), "seconds": float(np.mean(seconds))}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--only", default="", help="comma-separated dataset keys: " + ", ".join(LOADERS))
    args = parser.parse_args()
    only = {x for x in args.only.split(",") if x}
    if not SHARED_DATA.is_dir():
        sys.exit(f"needs the shared datasets at {SHARED_DATA}")
    print("| dataset | items | judgements | annotators | alpha (ref pkg) | Fleiss kappa (statsmodels) | "
          "agreement s | scored items | input labels/item | MV acc | DS acc | DS - MV | DS wins/ties | MV+DS s |")
    print("|---|---:|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    cache: dict[str, Crowd] = {}
    for key, cap in RUNS:
        if only and key not in only:
            continue
        crowd = cache.setdefault(key, LOADERS[key](SHARED_DATA))
        j = from_table(crowd.table, "t", crowd.label_type, crowd.labels)
        t0 = time.perf_counter()
        result = agreement.measure(j, 0.667)
        measure_s = time.perf_counter() - t0
        alpha_ref, fleiss_ref = reference_checks(crowd) if cap is None else (None, None)
        ref_a = f" ({alpha_ref:.4f})" if alpha_ref is not None else ""
        ref_f = (f"; {fleiss_ref[2]} items with the modal rater count: {fleiss_ref[0]:.4f} "
                 f"(statsmodels {fleiss_ref[1]:.4f})") if fleiss_ref is not None else ""  # fmt: skip
        name = crowd.name + (f", input capped at {cap}" if cap else "")
        head = (f"| {name} | {j.n_items} | {len(j.item)} | {j.n_annotators if crowd.has_annotators else '-'} | "
                f"{result.alpha:.4f}{ref_a} | {result.fleiss_kappa:.4f}{ref_f} | {measure_s:.3f} |")  # fmt: skip
        if not crowd.has_annotators:
            print(head + " - | - | n/a (no annotator ids) | | | | |")
            continue
        acc = accuracy_run(crowd, args.seeds, cap)
        if not acc["scored"]:
            print(head + " 0 | - | n/a (too few judgements per item to hold 3 out) | | | | |")
            continue
        print(head + f" {acc['scored']:.0f} | {acc['input_per_item']:.1f} | {acc['mv']:.4f} ± {acc['mv_sd']:.4f} | "
              f"{acc['ds']:.4f} ± {acc['ds_sd']:.4f} | {100 * (acc['ds'] - acc['mv']):+.2f} pp | "
              f"{acc['wins']}/{acc['ties']} of {args.seeds} | {acc['seconds']:.3f} |")  # fmt: skip


if __name__ == "__main__":
    main()
