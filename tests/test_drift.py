"""Release drift: statistics checked against SciPy and by hand, planted shifts flag exactly their dimension."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import wasserstein_distance

from curaline.drift import DriftConfig, compare, js_distance, normed_wasserstein, previous_manifest, psi, wasserstein_1d
from curaline.project import Project

N = 3000


def manifest(version: int = 1, **overrides: Any) -> dict[str, Any]:
    m: dict[str, Any] = {
        "name": "main", "version": version,
        "languages": {"en": {"records": 2000, "tokens": 600_000}, "de": {"records": 1000, "tokens": 400_000}},
        "domains": {"web": {"records": 1500, "tokens": 600_000}, "code": {"records": 750, "tokens": 200_000},
                    "books": {"records": 750, "tokens": 200_000}},
        "sources": [
            {"id": "crawl", "license_class": "commercial", "records": 1500, "tokens": 500_000},
            {"id": "wiki", "license_class": "share-alike", "records": 1000, "tokens": 300_000},
            {"id": "papers", "license_class": "non-commercial", "records": 500, "tokens": 200_000},
        ],
        "license_mix": {"commercial": 1500, "share-alike": 1000, "non-commercial": 500, "academic-only": 0, "unknown": 0},
    }  # fmt: skip
    m.update(overrides)
    return m


def signals(path: Path, *, seed: int = 0, length_scale: float = 1.0, q_shift: float = 0.0, n: int = N,
            drop: tuple[str, ...] = ()) -> Path:  # fmt: skip
    rng = np.random.default_rng(seed)
    cols = {
        "doc_id": pa.array(np.arange(n)).cast(pa.string()),
        "n_tokens": pa.array(np.maximum(1, np.round(rng.lognormal(5.0, 1.0, n) * length_scale)).astype(np.int64)),
        "q_word_count": pa.array(rng.normal(300, 50, n)),
        "q_symbol_ratio": pa.array(np.clip(rng.beta(2, 20, n) + q_shift, 0, 1)),
        # a signal only some kinds have: null for the others
        "q_pairs_ok": pa.array((rng.random(n) < 0.9).astype(float), mask=np.arange(n) % 3 != 0),
        "toxicity": pa.array(rng.random(n)),
    }
    table = pa.table({k: v for k, v in cols.items() if k not in drop})
    pq.write_table(table, path)
    return path


@pytest.fixture
def base(tmp_path: Path) -> tuple[dict[str, Any], Path]:
    return manifest(), signals(tmp_path / "old.parquet")


def flagged(report) -> list[str]:
    return [d.key for d in report.drifted]


# ---- statistics against SciPy and by hand ------------------------------------------------


def test_js_distance_matches_scipy() -> None:
    rng = np.random.default_rng(1)
    for _ in range(20):
        p, q = rng.random(6), rng.random(6)
        p[rng.integers(6)] = 0  # categories present on one side only
        assert js_distance(p, q) == pytest.approx(jensenshannon(p, q, base=2), abs=1e-12)
    assert js_distance(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == 1.0
    assert js_distance(np.array([3.0, 1.0]), np.array([6.0, 2.0])) == 0.0
    # by hand: P=(1,0), Q=(1/2,1/2): M=(3/4,1/4); KL(P|M)=log2(4/3); KL(Q|M)=(log2(2/3)+log2 2)/2
    hand = math.sqrt((math.log2(4 / 3) + (math.log2(2 / 3) + 1) / 2) / 2)
    assert js_distance(np.array([1.0, 0.0]), np.array([1.0, 1.0])) == pytest.approx(hand, abs=1e-12)


def test_wasserstein_matches_scipy() -> None:
    rng = np.random.default_rng(2)
    a, b = rng.lognormal(5, 1, 5000), rng.lognormal(5.3, 0.8, 4000)
    assert wasserstein_1d(a, b) == pytest.approx(wasserstein_distance(a, b), rel=1e-9)
    la, lb = np.log1p(a), np.log1p(b)
    assert normed_wasserstein(la, lb) == pytest.approx(wasserstein_distance(la, lb) / np.std(la), rel=1e-9)
    assert wasserstein_1d(np.array([0.0, 1.0]), np.array([2.0, 3.0])) == 2.0


def test_psi_by_hand() -> None:
    old = np.arange(10, dtype=float)  # deciles -> 10 bins of one value each
    new = np.array([0.0] * 5 + [9.0] * 5)
    # bins 0 and 9 hold 1/2 each in new (1/10 in old); the other 8 hold 1e-4 (floor) vs 1/10
    hand = 2 * (0.5 - 0.1) * math.log(0.5 / 0.1) + 8 * (1e-4 - 0.1) * math.log(1e-4 / 0.1)
    assert psi(old, new) == pytest.approx(hand, rel=1e-12)
    assert psi(old, old) == 0.0
    # ties at a quantile merge bins: a signal that is mostly 0 still works
    zeros = np.array([0.0] * 80 + list(np.linspace(1, 2, 20)))
    assert psi(zeros, zeros) == 0.0 and psi(zeros, zeros + 5) > 1.0


# ---- compare -----------------------------------------------------------------------------------


def test_identical_versions_do_not_drift(base, tmp_path: Path) -> None:
    m, sig = base
    report = compare(m, manifest(version=2), sig, signals(tmp_path / "new.parquet"))
    assert flagged(report) == [] and report.passed
    assert {d.key: d.value for d in report.dimensions} == {
        "language": 0.0, "domain": 0.0, "source": 0.0, "license": 0.0, "length": 0.0, "quality": 0.0}
    assert report.dimension("quality").detail["psi"].keys() == {"q_word_count", "q_symbol_ratio", "q_pairs_ok"}
    md = report.markdown()
    assert "**No dimension drifted above its threshold.**" in md and "data:image/svg+xml;base64," in md


def test_a_new_language_flags_only_the_language_mix(base, tmp_path: Path) -> None:
    m, sig = base
    new = manifest(version=2)
    new["languages"]["fr"] = {"records": 300, "tokens": 60_000}  # ~5.7 % of tokens in a new language
    report = compare(m, new, sig, sig)
    assert flagged(report) == ["language"]
    lang = report.dimension("language")
    assert lang.value == pytest.approx(jensenshannon([600, 400, 0], [600, 400, 60], base=2), abs=1e-12)
    assert lang.note == "new: fr" and lang.detail["shares"]["fr"] == {"old": 0.0, "new": pytest.approx(60 / 1060)}
    md = report.markdown()
    assert "Drift above threshold in 1 of 6 dimensions: language mix" in md and "| fr | 0.0% | 5.7% | +5.7% |" in md


def test_a_domain_doubling_flags_only_the_domain_mix(base) -> None:
    m, sig = base
    new = manifest(version=2)
    new["domains"]["code"]["tokens"] = 400_000
    report = compare(m, new, sig, sig)
    assert flagged(report) == ["domain"]
    assert report.dimension("domain").value == pytest.approx(jensenshannon([600, 200, 200], [600, 400, 200], base=2))


def test_licence_and_source_mix(base) -> None:
    m, sig = base
    new = copy.deepcopy(m)
    new["sources"][2]["license_class"] = "commercial"  # relicensed papers: source mix unchanged, licence mix moved
    report = compare(m, new, sig, sig)
    assert flagged(report) == ["license"]
    new["sources"].append({"id": "forum", "license_class": "commercial", "records": 10, "tokens": 2_000})
    report = compare(m, new, sig, sig)
    assert report.dimension("source").value < 0.1 and report.dimension("source").note == "new: forum"
    assert report.dimension("license").detail["weight"] == "tokens"
    by_records = compare(m, new, sig, sig, DriftConfig(mix_weight="records"))
    assert by_records.dimension("license").detail["shares"]["commercial"]["new"] == pytest.approx(2010 / 3010)


def test_longer_records_flag_only_length(base, tmp_path: Path) -> None:
    m, sig = base
    report = compare(m, manifest(version=2), sig, signals(tmp_path / "long.parquet", length_scale=2.0))
    assert flagged(report) == ["length"]
    length = report.dimension("length")
    old = np.log1p(pq.read_table(sig)["n_tokens"].to_numpy())
    new = np.log1p(pq.read_table(tmp_path / "long.parquet")["n_tokens"].to_numpy())
    assert length.value == pytest.approx(wasserstein_distance(old, new) / old.std(), rel=1e-9)
    assert length.detail["median_new"] > 1.9 * length.detail["median_old"]


def test_a_shifted_quality_signal_flags_quality_and_names_it(base, tmp_path: Path) -> None:
    m, sig = base
    report = compare(m, manifest(version=2), sig, signals(tmp_path / "q.parquet", q_shift=0.05))
    assert flagged(report) == ["quality"]
    q = report.dimension("quality")
    assert q.detail["signal"] == "q_symbol_ratio" and q.note.startswith("largest: q_symbol_ratio")
    assert q.value == q.detail["psi"]["q_symbol_ratio"] > 0.25
    assert q.detail["psi"]["q_word_count"] == 0.0
    assert "| q_symbol_ratio |" in report.markdown()


def test_thresholds_are_strict_at_the_edge(base) -> None:
    m, sig = base
    new = manifest(version=2)
    new["domains"]["code"]["tokens"] = 400_000
    value = compare(m, new, sig, sig).dimension("domain").value
    assert value is not None
    assert not compare(m, new, sig, sig, DriftConfig(domain_js=value)).dimension("domain").exceeded
    assert compare(m, new, sig, sig, DriftConfig(domain_js=math.nextafter(value, 0))).dimension("domain").exceeded
    assert flagged(compare(m, m, sig, sig, DriftConfig(language_js=0.0))) == []  # 0 is not above 0


def test_dimensions_that_cannot_be_judged_say_why(base, tmp_path: Path) -> None:
    m, sig = base
    few = signals(tmp_path / "few.parquet", n=50)
    report = compare(m, manifest(version=2), sig, few)
    assert report.dimension("length").value is None and "too few records" in report.dimension("length").note
    assert report.dimension("quality").value is None
    no_signals = compare(m, manifest(version=2), None, None)
    assert [d.key for d in no_signals.dimensions if d.value is None] == ["length", "quality"]
    assert no_signals.passed and "not judged" in no_signals.markdown()
    partial = compare(m, manifest(version=2), sig, signals(tmp_path / "p.parquet", drop=("q_pairs_ok",)))
    assert "not in both versions: q_pairs_ok" in partial.dimension("quality").note
    empty = compare(m, manifest(version=2, languages={}), sig, sig)
    assert empty.dimension("language").value is None
    with pytest.raises(ValueError, match="mix_weight"):
        DriftConfig(mix_weight="bytes")


def test_reads_manifests_from_the_version_history(tmp_path: Path) -> None:
    project = Project(root=tmp_path)
    folder = tmp_path / "lineage" / "releases" / "release=main"
    folder.mkdir(parents=True)
    for v in (1, 2, 10):
        (folder / f"v{v}.json").write_text(json.dumps(manifest(version=v)))
    assert previous_manifest(project, "main", 10)[0] == 2
    assert previous_manifest(project, "main", 1) is None
    report = compare(folder / "v2.json", folder / "v10.json", None, None)
    assert (report.release, report.old_version, report.new_version) == ("main", 2, 10)
    assert json.loads(json.dumps(report.to_dict()))["drifted"] == []


def test_compare_is_fast_on_a_million_records(tmp_path: Path) -> None:
    import time

    old, new = signals(tmp_path / "o.parquet", n=1_000_000), signals(tmp_path / "n.parquet", n=1_000_000, seed=1)
    t0 = time.perf_counter()
    report = compare(manifest(), manifest(version=2), old, new)
    elapsed = time.perf_counter() - t0
    assert flagged(report) == [] and elapsed < 5.0, elapsed
