"""Drift between two versions of a release: did the data change more than a release should?

One named statistic per dimension, each with a threshold from published practice:

- language, domain, source and licence-class mix (token shares from the manifests):
  **Jensen–Shannon distance**, base 2, in [0, 1]:
  ``JS(P, Q) = sqrt(½·KL(P‖M) + ½·KL(Q‖M))``, ``M = ½(P + Q)``, ``KL(P‖M) = Σ p·log2(p/m)``
  (Lin 1991, "Divergence measures based on the Shannon entropy", IEEE Trans. Inf. Theory
  37(1); the square root is a metric: Endres & Schindelin 2003, IEEE Trans. Inf. Theory
  49(7)). Same value as ``scipy.spatial.distance.jensenshannon(p, q, base=2)``.
- length (``n_tokens`` per record, from signals.parquet): **normed Wasserstein-1
  distance** on ``log(1 + n_tokens)``, divided by the old version's standard deviation
  (floored at 0.001) — Evidently's default drift test for numerical data of more than
  1000 rows, threshold 0.1 (evidentlyai/evidently v0.1.50 "Automatic Stattest Selection";
  docs.evidentlyai.com, data drift). In the log domain 0.1 std is a small shift of the
  whole length distribution, and it is insensitive to sample size, unlike a KS p-value.
- quality signals (each ``q_*`` column both versions have): **population stability index**
  over deciles of the old version, ``PSI = Σ (aᵢ − eᵢ)·ln(aᵢ/eᵢ)`` with shares floored at
  1e-4; < 0.1 no change, 0.1–0.25 moderate, > 0.25 a significant shift (Siddiqi 2006,
  "Credit Risk Scorecards", Wiley, ch. 8; Yurdakul 2018, "Statistical properties of the
  population stability index", Western Michigan Univ.). The dimension reports the largest.

A dimension is "exceeded" when its statistic is strictly above its threshold. Everything
is computed with NumPy over columns read from parquet; nothing is per record in Python.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from curaline.project import Project
from curaline.reports.plots import (
    BAR_COLOR,
    SERIES_COLORS,
    THRESHOLD_COLOR,
    bar_svg,
    grouped_bar_svg,
    steps_svg,
    svg_markdown,
)

#: Floor of the normed Wasserstein denominator (Evidently's choice), so identical lengths don't divide by 0.
WASSERSTEIN_STD_FLOOR = 0.001


@dataclass(frozen=True)
class DriftConfig:
    """Thresholds per dimension (statistic strictly above = drift) and how statistics are formed."""

    #: Jensen–Shannon distance (base 2) above which a mix has drifted; Evidently's default for
    #: categorical data of more than 1000 rows is 0.1 (see the module docstring)
    language_js: float = 0.1
    domain_js: float = 0.1
    source_js: float = 0.1
    license_js: float = 0.1
    #: normed Wasserstein distance on log(1 + n_tokens); Evidently's numerical default 0.1
    length_wasserstein: float = 0.1
    #: population stability index of the most-shifted q_* signal; 0.25 = "significant shift"
    #: in credit-risk practice (Siddiqi 2006)
    quality_psi: float = 0.25
    #: PSI bins: quantiles of the old version (deciles, the usual practice)
    psi_bins: int = 10
    #: floor of a bin share in PSI, so an empty bin gives a large, finite term
    psi_floor: float = 1e-4
    #: fewer non-null values than this in either version: a numeric dimension is not judged
    min_records: int = 100
    #: weigh the mixes by "tokens" (what a model trains on) or by "records"
    mix_weight: str = "tokens"
    #: numeric signal columns compared by PSI: those starting with this prefix
    signal_prefix: str = "q_"

    def __post_init__(self) -> None:
        if self.mix_weight not in ("tokens", "records"):
            raise ValueError(f"DriftConfig.mix_weight: {self.mix_weight!r}; allowed: tokens, records")
        if self.psi_bins < 2:
            raise ValueError("DriftConfig.psi_bins: at least 2")


@dataclass
class DimensionDrift:
    key: str  # language | domain | source | license | length | quality
    label: str
    statistic: str  # the statistic's name
    value: float | None  # None when the dimension could not be judged (see note)
    threshold: float
    note: str = ""
    #: what explains the value: shares old/new for a mix, per-signal PSI, medians for length
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def exceeded(self) -> bool:
        return self.value is not None and self.value > self.threshold


@dataclass
class DriftReport:
    release: str
    old_version: int | None
    new_version: int | None
    dimensions: list[DimensionDrift]

    @property
    def drifted(self) -> list[DimensionDrift]:
        return [d for d in self.dimensions if d.exceeded]

    @property
    def passed(self) -> bool:
        return not self.drifted

    def dimension(self, key: str) -> DimensionDrift:
        return next(d for d in self.dimensions if d.key == key)

    def to_dict(self) -> dict[str, Any]:
        return {"release": self.release, "old_version": self.old_version, "new_version": self.new_version,
                "drifted": [d.key for d in self.drifted],
                "dimensions": [{**asdict(d), "exceeded": d.exceeded} for d in self.dimensions]}  # fmt: skip

    def markdown(self, *, plots: bool = True) -> str:
        return _markdown(self, plots=plots)


# ---- statistics -----------------------------------------------------------------------------


def js_distance(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen–Shannon distance, base 2, of two (unnormalized) weight vectors over the same categories."""
    p = np.asarray(p, dtype=float)
    q = np.asarray(q, dtype=float)
    p = p / p.sum()
    q = q / q.sum()
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(p > 0, p * np.log2(p / m), 0.0).sum()
        kl_q = np.where(q > 0, q * np.log2(q / m), 0.0).sum()
    return float(np.sqrt(max((kl_p + kl_q) / 2, 0.0)))


def wasserstein_1d(a: np.ndarray, b: np.ndarray) -> float:
    """W1 between two empirical distributions: the area between their CDFs."""
    a = np.sort(np.asarray(a, dtype=float))
    b = np.sort(np.asarray(b, dtype=float))
    grid = np.concatenate([a, b])
    grid.sort(kind="mergesort")
    deltas = np.diff(grid)
    cdf_a = np.searchsorted(a, grid[:-1], side="right") / a.size
    cdf_b = np.searchsorted(b, grid[:-1], side="right") / b.size
    return float(np.sum(np.abs(cdf_a - cdf_b) * deltas))


def normed_wasserstein(old: np.ndarray, new: np.ndarray) -> float:
    return wasserstein_1d(old, new) / max(float(np.std(old)), WASSERSTEIN_STD_FLOOR)


def psi(old: np.ndarray, new: np.ndarray, *, bins: int = 10, floor: float = 1e-4) -> float:
    """Population stability index, bins at the old version's quantiles (ties merged)."""
    return _psi_bins(old, new, bins=bins, floor=floor)[0]


def _psi_bins(old: np.ndarray, new: np.ndarray, *, bins: int, floor: float) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """PSI, the inner bin edges, and the old and new share per bin (before flooring)."""
    old = np.asarray(old, dtype=float)
    new = np.asarray(new, dtype=float)
    edges = np.unique(np.quantile(old, np.linspace(0, 1, bins + 1)[1:-1]))
    n_bins = edges.size + 1
    e = np.bincount(np.searchsorted(edges, old, side="right"), minlength=n_bins) / old.size
    a = np.bincount(np.searchsorted(edges, new, side="right"), minlength=n_bins) / new.size
    ef, af = np.maximum(e, floor), np.maximum(a, floor)
    return float(np.sum((af - ef) * np.log(af / ef))), edges, e, a


# ---- reading the two versions ---------------------------------------------------------------


def _mixes(manifest: Mapping[str, Any], weight: str) -> dict[str, dict[str, float]]:
    """Weight per category for each mix dimension (missing sections give empty mixes)."""
    def section(name: str) -> dict[str, float]:
        return {str(k): float(v.get(weight, 0) or 0) for k, v in (manifest.get(name) or {}).items()}

    sources = manifest.get("sources") or []
    by_source = {str(s["id"]): float(s.get(weight, 0) or 0) for s in sources}
    by_class: dict[str, float] = {}
    for s in sources:
        cls = str(s.get("license_class") or "unknown")
        by_class[cls] = by_class.get(cls, 0.0) + float(s.get(weight, 0) or 0)
    if not by_class and manifest.get("license_mix"):  # only record counts there
        by_class = {str(k): float(v) for k, v in manifest["license_mix"].items()}
    return {"language": section("languages"), "domain": section("domains"), "source": by_source, "license": by_class}


def _numeric_columns(path: Path | None, prefix: str) -> dict[str, np.ndarray]:
    """n_tokens and the prefixed signal columns of signals.parquet, nulls dropped."""
    if path is None or not Path(path).exists():
        return {}
    schema = pq.read_schema(path)
    import pyarrow.types as pat

    wanted = [f.name for f in schema if (f.name == "n_tokens" or f.name.startswith(prefix))
              and (pat.is_integer(f.type) or pat.is_floating(f.type) or pat.is_boolean(f.type))]  # fmt: skip
    table = pq.read_table(path, columns=wanted)
    out = {}
    for name in wanted:
        col = table[name].drop_null()
        out[name] = col.to_numpy().astype(float) if len(col) else np.empty(0)
    return out


def load_manifest(path: Path | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(path, Mapping):
        return dict(path)
    return dict(json.loads(Path(path).read_text(encoding="utf-8")))


def previous_manifest(project: Project, release: str, version: int) -> tuple[int, dict[str, Any]] | None:
    """The manifest of the latest version before `version` (lineage/releases/release=<name>/v<N>.json)."""
    folder = project.lineage_dir / "releases" / f"release={release}"
    older = sorted((int(p.stem[1:]), p) for p in folder.glob("v*.json") if p.stem[1:].isdigit() and int(p.stem[1:]) < version)
    if not older:
        return None
    number, path = older[-1]
    return number, load_manifest(path)


# ---- comparing ------------------------------------------------------------------------------

_MIX_LABELS = {"language": "language mix", "domain": "domain mix", "source": "source mix", "license": "licence-class mix"}
JS_NAME = "Jensen–Shannon distance (base 2)"
W_NAME = "normed Wasserstein-1 on log(1+n_tokens)"
PSI_NAME = "population stability index (max over q_* signals)"


def _mix_dimension(key: str, old: dict[str, float], new: dict[str, float], threshold: float, weight: str) -> DimensionDrift:
    label = _MIX_LABELS[key]
    cats = sorted(set(old) | set(new))
    p = np.array([old.get(c, 0.0) for c in cats])
    q = np.array([new.get(c, 0.0) for c in cats])
    if not cats or p.sum() <= 0 or q.sum() <= 0:
        return DimensionDrift(key, label, JS_NAME, None, threshold, note=f"no {weight} in one of the versions")
    ps, qs = p / p.sum(), q / q.sum()
    shares = {c: {"old": float(a), "new": float(b)} for c, a, b in zip(cats, ps, qs, strict=True)}
    added = [c for c in cats if old.get(c, 0) == 0]
    removed = [c for c in cats if new.get(c, 0) == 0]
    note = "; ".join(x for x in (f"new: {', '.join(added)}" if added else "",
                                 f"gone: {', '.join(removed)}" if removed else "") if x)  # fmt: skip
    return DimensionDrift(key, label, JS_NAME, js_distance(p, q), threshold, note=note,
                          detail={"weight": weight, "shares": shares})  # fmt: skip


def compare(
    manifest_old: Path | Mapping[str, Any],
    manifest_new: Path | Mapping[str, Any],
    signals_old: Path | None,
    signals_new: Path | None,
    config: DriftConfig | None = None,
) -> DriftReport:
    """Drift of the new version against the old one, dimension by dimension."""
    cfg = config or DriftConfig()
    old_m, new_m = load_manifest(manifest_old), load_manifest(manifest_new)
    old_mix, new_mix = _mixes(old_m, cfg.mix_weight), _mixes(new_m, cfg.mix_weight)
    thresholds = {"language": cfg.language_js, "domain": cfg.domain_js, "source": cfg.source_js, "license": cfg.license_js}
    dims = [_mix_dimension(k, old_mix[k], new_mix[k], thresholds[k], cfg.mix_weight) for k in thresholds]

    old_s, new_s = _numeric_columns(signals_old, cfg.signal_prefix), _numeric_columns(signals_new, cfg.signal_prefix)
    dims.append(_length_dimension(old_s.get("n_tokens"), new_s.get("n_tokens"), cfg))
    dims.append(_quality_dimension(old_s, new_s, cfg))
    return DriftReport(release=str(new_m.get("name") or old_m.get("name") or ""), old_version=old_m.get("version"),
                       new_version=new_m.get("version"), dimensions=dims)  # fmt: skip


def _length_dimension(old: np.ndarray | None, new: np.ndarray | None, cfg: DriftConfig) -> DimensionDrift:
    base = ("length", "length (tokens per record)", W_NAME)
    if old is None or new is None:
        return DimensionDrift(*base, None, cfg.length_wasserstein, note="no n_tokens in signals.parquet of one version")
    if min(old.size, new.size) < cfg.min_records:
        return DimensionDrift(*base, None, cfg.length_wasserstein,
                              note=f"too few records to judge ({old.size} old, {new.size} new; min {cfg.min_records})")  # fmt: skip
    lo, ln = np.log1p(np.maximum(old, 0)), np.log1p(np.maximum(new, 0))
    detail: dict[str, Any] = {"median_old": float(np.median(old)), "median_new": float(np.median(new)),
              "p90_old": float(np.quantile(old, 0.9)), "p90_new": float(np.quantile(new, 0.9)),
              "records_old": int(old.size), "records_new": int(new.size)}  # fmt: skip
    top = max(float(old.max()), float(new.max()), 2.0)
    edges = np.geomspace(1.0, top + 1, 31)
    detail["hist"] = {"edges": edges.tolist(),
                      "old": (np.histogram(np.maximum(old, 1), edges)[0] / old.size).tolist(),
                      "new": (np.histogram(np.maximum(new, 1), edges)[0] / new.size).tolist()}  # fmt: skip
    return DimensionDrift(*base, normed_wasserstein(lo, ln), cfg.length_wasserstein, detail=detail)


def _quality_dimension(old: dict[str, np.ndarray], new: dict[str, np.ndarray], cfg: DriftConfig) -> DimensionDrift:
    base = ("quality", "quality-signal distributions", PSI_NAME)
    names = sorted(n for n in set(old) & set(new) if n.startswith(cfg.signal_prefix))
    per_signal: dict[str, float] = {}
    bins: dict[str, dict[str, list[float]]] = {}
    skipped: list[str] = []
    for name in names:
        if min(old[name].size, new[name].size) < cfg.min_records:
            skipped.append(name)
            continue
        value, edges, e, a = _psi_bins(old[name], new[name], bins=cfg.psi_bins, floor=cfg.psi_floor)
        per_signal[name] = value
        bins[name] = {"edges": edges.tolist(), "old": e.tolist(), "new": a.tolist()}
    only = sorted((set(old) ^ set(new)) - {"n_tokens"})
    notes = [f"not in both versions: {', '.join(only)}" if only else "",
             f"too few values: {', '.join(skipped)}" if skipped else ""]  # fmt: skip
    if not per_signal:
        return DimensionDrift(*base, None, cfg.quality_psi, note="; ".join(n for n in notes if n) or "no q_* signals")
    worst = max(per_signal, key=lambda k: per_signal[k])
    return DimensionDrift(*base, per_signal[worst], cfg.quality_psi,
                          note="; ".join(n for n in [f"largest: {worst}", *notes] if n),
                          detail={"signal": worst, "psi": dict(sorted(per_signal.items(), key=lambda kv: -kv[1])),
                                  "bins": bins[worst]})  # fmt: skip


# ---- the report -----------------------------------------------------------------------------


def _fmt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.4f}"


def _markdown(report: DriftReport, *, plots: bool) -> str:
    old = f"v{report.old_version}" if report.old_version is not None else "previous"
    new = f"v{report.new_version}" if report.new_version is not None else "new"
    drifted = report.drifted
    head = (f"**Drift above threshold in {len(drifted)} of {len(report.dimensions)} dimensions: "
            f"{', '.join(d.label for d in drifted)}.**" if drifted else
            "**No dimension drifted above its threshold.**")  # fmt: skip
    lines = [f"### Drift of release `{report.release}`: {old} → {new}", head, "",
             "| dimension | statistic | value | threshold | drift | note |", "|---|---|---:|---:|---|---|"]  # fmt: skip
    for d in report.dimensions:
        flag = "**YES**" if d.exceeded else ("not judged" if d.value is None else "no")
        lines.append(f"| {d.label} | {d.statistic} | {_fmt(d.value)} | {d.threshold:g} | {flag} | {d.note} |")
    for d in report.dimensions:
        shares = d.detail.get("shares")
        if shares and (d.exceeded or d.value):
            moved = sorted(shares.items(), key=lambda kv: -abs(kv[1]["new"] - kv[1]["old"]))[:8]
            lines += ["", f"**{d.label}** (share of {d.detail['weight']}, largest changes)", "",
                      f"| {d.key} | {old} | {new} | change |", "|---|---:|---:|---:|"]  # fmt: skip
            lines += [f"| {c} | {s['old']:.1%} | {s['new']:.1%} | {s['new'] - s['old']:+.1%} |" for c, s in moved]
    quality = report.dimension("quality")
    if quality.detail.get("psi"):
        lines += ["", "**Quality signals** (PSI: < 0.1 stable, 0.1–0.25 moderate, > 0.25 significant)", "",
                  "| signal | PSI |", "|---|---:|"]  # fmt: skip
        lines += [f"| {k} | {v:.4f} |" for k, v in list(quality.detail["psi"].items())[:12]]
    length = report.dimension("length")
    if length.detail:
        ld = length.detail
        lines += ["", f"**Length:** median {ld['median_old']:g} → {ld['median_new']:g} tokens, "
                      f"90th percentile {ld['p90_old']:g} → {ld['p90_new']:g}."]  # fmt: skip
    if plots:
        lines += _plots(report, old, new)
    lines += ["", "How to read: a mix is compared by its Jensen–Shannon distance (0 = same shares, 1 = disjoint), "
              "length by the Wasserstein distance of log lengths in units of the old spread, quality signals by the "
              "population stability index over the old version's deciles. Thresholds are set in DriftConfig."]  # fmt: skip
    return "\n".join(lines)


def _plots(report: DriftReport, old: str, new: str) -> list[str]:
    """The ratio chart, then one chart per drifted dimension (the length one when none drifted)."""
    judged = [d for d in report.dimensions if d.value is not None]
    if not judged:
        return []
    out = ["", svg_markdown(_ratio_svg(judged), "drift per dimension")]
    shown = report.drifted[:3] or [d for d in judged if d.key == "length"]
    for d in shown:
        if d.detail.get("shares"):
            out += ["", svg_markdown(_shares_svg(d, old, new), f"{d.label}: shares")]
        elif d.key == "length":
            out += ["", svg_markdown(_length_svg(d, old, new), "length distribution")]
        elif d.key == "quality":
            out += ["", svg_markdown(_bins_svg(d, old, new), f"{d.detail['signal']} by bin")]
    return out


def _ratio_svg(dims: list[DimensionDrift]) -> str:
    """Each statistic as a multiple of its threshold; red past the line at 1."""
    ratios = [d.value / d.threshold if d.threshold else (float("inf") if d.value else 0.0) for d in dims]  # type: ignore[operator]
    return bar_svg([d.label for d in dims], [min(r, 10.0) for r in ratios], reference=1.0,
                   colors=[THRESHOLD_COLOR if d.exceeded else BAR_COLOR for d in dims],
                   xlabel="statistic / threshold (capped at 10)",
                   title="drift per dimension (> 1 = above threshold)")  # fmt: skip


def _shares_svg(dim: DimensionDrift, old: str, new: str) -> str:
    """Old vs new shares of one mix, side by side (the largest 10 categories)."""
    shares = sorted(dim.detail["shares"].items(), key=lambda kv: -max(kv[1]["old"], kv[1]["new"]))[:10]
    return grouped_bar_svg([c for c, _ in shares],
                           [(old, [s["old"] for _, s in shares], SERIES_COLORS[0]),
                            (new, [s["new"] for _, s in shares], SERIES_COLORS[1])],
                           title=f"{dim.label}: share of {dim.detail['weight']}")  # fmt: skip


def _length_svg(dim: DimensionDrift, old: str, new: str) -> str:
    hist = dim.detail["hist"]
    return steps_svg(hist["edges"], [(old, hist["old"], SERIES_COLORS[0]), (new, hist["new"], SERIES_COLORS[1])],
                     title=f"length: normed Wasserstein {dim.value:.3f} (threshold {dim.threshold:g})",
                     xlabel="tokens per record", ylabel="share of records", log_x=True)  # fmt: skip


def _bins_svg(dim: DimensionDrift, old: str, new: str) -> str:
    """The most-shifted signal's shares in the old version's quantile bins: what its PSI sums over."""
    bins = dim.detail["bins"]
    edges = [f"{e:.3g}" for e in bins["edges"]]
    labels = [f"< {edges[0]}"] + [f"{a}–{b}" for a, b in zip(edges, edges[1:], strict=False)] + [f"≥ {edges[-1]}"] if edges else ["all"]
    return grouped_bar_svg(labels, [(old, bins["old"], SERIES_COLORS[0]), (new, bins["new"], SERIES_COLORS[1])],
                           xlabel="share of records",
                           title=f"{dim.detail['signal']}: PSI {dim.value:.3f} over {old}'s quantile bins")  # fmt: skip
