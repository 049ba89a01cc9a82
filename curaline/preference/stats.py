"""What an alignment team checks in preference data before training on it.

- pairs per prompt: a few prompts with many pairs weigh more in DPO than their share of prompts;
- length bias: how often the chosen answer is the longer one (in the release contract's
  pre-tokenizer tokens), with a Wilson 95 % interval. Reward models learn length when the data
  prefers length (Singhal et al. 2023, "A Long Way to Go", arXiv 2310.03716); ties are left out
  of the share and counted apart;
- agreement: where one (prompt, response pair) was judged several times, how often the
  judgements agree. Counted on the judgements before dedup merged them (see validate.py);
- the margin distribution, where the source gives margins (e.g. OpenAssistant rank gaps);
- pairs by source and by domain.

Statistics stream over the validated files in batches; per pair only a few numbers are held.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curaline.preference.validate import STAGE, JudgementIndex, text_key, token_counts
from curaline.project import Project
from curaline.reports.plots import bar_svg, histogram_svg, svg_markdown
from curaline.sources import SourceManifest
from curaline.stage import BATCH_ROWS

#: two-sided 95 % normal quantile
Z95 = 1.959963984540054
UNSPECIFIED = "(unspecified)"


def wilson_interval(successes: int, trials: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (Wilson 1927); (nan, nan) for no trials.

    Preferred over the normal (Wald) interval, which collapses to zero width at 0 or n successes
    and undercovers for small n (Brown, Cai & DasGupta 2001).
    """
    if trials <= 0:
        return (math.nan, math.nan)
    p = successes / trials
    denom = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


@dataclass
class Agreement:
    """Agreement over (prompt, response pair)s judged more than once."""

    judgements: int = 0  # judgements read
    pairs: int = 0  # distinct (prompt, unordered response pair)
    multi_judged: int = 0  # pairs judged at least twice
    unanimous: int = 0  # of those, judged the same way every time
    contradicted: int = 0  # of those, judged both ways
    pairwise: float = math.nan  # share of agreeing judgement pairs (observed agreement)
    majority_share: float = math.nan  # mean share of judgements siding with the majority

    @classmethod
    def from_index(cls, index: JudgementIndex) -> Agreement:
        forward = np.asarray(index.multi["forward"].to_numpy(zero_copy_only=False), dtype=np.float64)
        n = np.asarray(index.multi["n"].to_numpy(zero_copy_only=False), dtype=np.float64)
        out = cls(judgements=index.judgements, pairs=index.pairs, multi_judged=len(n))
        if len(n):
            back = n - forward
            out.unanimous = int(((forward == 0) | (back == 0)).sum())
            out.contradicted = len(n) - out.unanimous
            agreeing = forward * (forward - 1) + back * (back - 1)
            out.pairwise = float(agreeing.sum() / (n * (n - 1)).sum())
            out.majority_share = float((np.maximum(forward, back) / n).mean())
        return out


@dataclass
class PreferenceStats:
    pairs: int = 0
    prompts: int = 0
    pairs_per_prompt: dict[int, int] = field(default_factory=dict)  # k -> prompts with k pairs
    chosen_longer: int = 0
    rejected_longer: int = 0
    same_length: int = 0
    chosen_tokens: int = 0
    rejected_tokens: int = 0
    token_diff: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.int64))  # chosen - rejected
    margins: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.float64))
    margin_missing: int = 0  # pairs without a margin (no column, or null)
    by_source: Counter[str] = field(default_factory=Counter)
    by_domain: Counter[str] = field(default_factory=Counter)
    #: "source"/"domain" -> group -> [chosen longer, rejected longer]: length bias per group
    longer_by: dict[str, dict[str, list[int]]] = field(default_factory=lambda: {"source": {}, "domain": {}})
    agreement: Agreement = field(default_factory=Agreement)

    @property
    def length_bias(self) -> float:
        """Share of pairs, ties aside, whose chosen answer is the longer one."""
        decided = self.chosen_longer + self.rejected_longer
        return self.chosen_longer / decided if decided else math.nan

    @property
    def length_bias_ci(self) -> tuple[float, float]:
        return wilson_interval(self.chosen_longer, self.chosen_longer + self.rejected_longer)

    @property
    def mean_pairs_per_prompt(self) -> float:
        return self.pairs / self.prompts if self.prompts else math.nan

    def group_bias(self, what: str, group: str) -> float:
        chosen, rejected = self.longer_by[what].get(group, [0, 0])
        return chosen / (chosen + rejected) if chosen + rejected else math.nan

    def margin_summary(self) -> dict[str, float]:
        if not self.margins.size:
            return {}
        q = np.quantile(self.margins, [0.0, 0.25, 0.5, 0.75, 1.0])
        return {"min": float(q[0]), "p25": float(q[1]), "median": float(q[2]), "p75": float(q[3]),
                "max": float(q[4]), "mean": float(self.margins.mean())}  # fmt: skip

    def as_dict(self) -> dict[str, Any]:
        """Plain numbers for metadata and JSON."""
        lo, hi = self.length_bias_ci
        a = self.agreement
        return {
            "pairs": self.pairs, "prompts": self.prompts, "mean_pairs_per_prompt": self.mean_pairs_per_prompt,
            "max_pairs_per_prompt": max(self.pairs_per_prompt, default=0),
            "pairs_per_prompt": {str(k): v for k, v in sorted(self.pairs_per_prompt.items())},
            "chosen_longer": self.chosen_longer, "rejected_longer": self.rejected_longer,
            "same_length": self.same_length, "length_bias": self.length_bias,
            "length_bias_ci95": [lo, hi],
            "mean_chosen_tokens": self.chosen_tokens / self.pairs if self.pairs else math.nan,
            "mean_rejected_tokens": self.rejected_tokens / self.pairs if self.pairs else math.nan,
            "judgements": a.judgements, "multi_judged_pairs": a.multi_judged, "unanimous_pairs": a.unanimous,
            "contradicted_pairs": a.contradicted, "pairwise_agreement": a.pairwise,
            "majority_share": a.majority_share,
            "margins": int(self.margins.size), "margin_missing": self.margin_missing,
            "margin": self.margin_summary(),
            "by_source": dict(self.by_source), "by_domain": dict(self.by_domain),
            "length_bias_by_source": {k: self.group_bias("source", k) for k in self.by_source},
        }  # fmt: skip

    def markdown(self, title: str = "Preference pairs") -> str:
        """The report: numbers first, then the plots (inline PNG)."""
        lo, hi = self.length_bias_ci
        a = self.agreement
        decided = self.chosen_longer + self.rejected_longer
        lines = [
            f"### {title}",
            "",
            f"**{self.pairs} pairs** over **{self.prompts} prompts** "
            f"({self.mean_pairs_per_prompt:.2f} pairs per prompt, at most {max(self.pairs_per_prompt, default=0)}).",
            "",
            "| statistic | value |", "|---|---:|",
            f"| length bias: chosen is the longer answer | **{_pct(self.length_bias)}** (95 % CI {_pct(lo)}–{_pct(hi)}, "
            f"{self.chosen_longer} of {decided}) |",
            f"| pairs of equal length (left out of the share) | {self.same_length} |",
            f"| mean tokens: chosen / rejected | {_num(self.chosen_tokens, self.pairs)} / {_num(self.rejected_tokens, self.pairs)} |",
            f"| judgements read (before dedup) | {a.judgements} |",
            f"| (prompt, pair)s judged more than once | {a.multi_judged} |",
            f"| ... unanimous / judged both ways | {a.unanimous} / {a.contradicted} |",
            f"| pairwise agreement of repeated judgements | {_pct(a.pairwise)} |",
            f"| mean majority share | {_pct(a.majority_share)} |",
            f"| pairs with a margin / without | {self.margins.size} / {self.margin_missing} |",
        ]  # fmt: skip
        if self.margins.size:
            m = self.margin_summary()
            lines.append(
                f"| margin min / median / mean / max | {m['min']:g} / {m['median']:g} / {m['mean']:.3g} / {m['max']:g} |"
            )
        verdict = _bias_verdict(self.length_bias, lo, hi)
        lines += ["", verdict, ""]
        plots: list[str] = []
        if self.pairs_per_prompt:
            ks = sorted(self.pairs_per_prompt)
            plots.append(svg_markdown(bar_svg([f"{k} pair(s)" for k in ks], [self.pairs_per_prompt[k] for k in ks],
                                              title="Prompts by number of pairs"), "pairs per prompt"))  # fmt: skip
        if self.token_diff.size:
            plots.append(svg_markdown(histogram_svg(self.token_diff, title="Chosen minus rejected length (tokens)",
                                                    xlabel="tokens (>0: chosen longer)", threshold=0.0), "length difference"))  # fmt: skip
        if self.margins.size:
            plots.append(svg_markdown(histogram_svg(self.margins, title="Margin", xlabel="margin", bins=20), "margins"))
        for name, counts in (("source", self.by_source), ("domain", self.by_domain)):
            if counts:
                rows = counts.most_common()
                lines += [f"| {name} | pairs | share | chosen is longer (95 % CI) |", "|---|---:|---:|---:|"]
                for k, v in rows:
                    c, r = self.longer_by[name].get(k, [0, 0])
                    lo, hi = wilson_interval(c, c + r)
                    lines.append(f"| {k} | {v} | {_pct(v / self.pairs)} | {_pct(self.group_bias(name, k))} "
                                 f"({_pct(lo)}–{_pct(hi)}) |")  # fmt: skip
                lines.append("")
                plots.append(
                    svg_markdown(bar_svg([k for k, _ in rows], [v for _, v in rows], title=f"Pairs by {name}"), name)
                )
        return "\n".join(lines + plots)


def _pct(x: float) -> str:
    return "n/a" if x is None or math.isnan(x) else f"{100 * x:.1f} %"


def _num(total: int, n: int) -> str:
    return f"{total / n:.1f}" if n else "n/a"


def _bias_verdict(share: float, lo: float, hi: float) -> str:
    if math.isnan(share):
        return "Length bias: no pairs of different length."
    if lo > 0.5:
        return (
            "The chosen answer is **longer more often than chance** (CI above 50 %): a reward model may learn length."
        )
    if hi < 0.5:
        return "The chosen answer is **shorter more often than chance** (CI below 50 %)."
    return "No length bias detectable at 95 % (the CI holds 50 %)."


class StatsBuilder:
    """Accumulates statistics batch by batch; `finish` gives the PreferenceStats."""

    def __init__(self) -> None:
        self.stats = PreferenceStats()
        self._prompt_keys: list[np.ndarray] = []
        self._diffs: list[np.ndarray] = []
        self._margins: list[np.ndarray] = []

    def add(self, table: pa.Table, *, source: str | None = None, domain: str | None = None) -> None:
        s = self.stats
        n = table.num_rows
        if not n:
            return
        names = table.column_names
        pk = (
            np.asarray(table["pref_prompt_key"].to_numpy(zero_copy_only=False))
            if "pref_prompt_key" in names
            else text_key(table["prompt"])
        )
        ct = _tokens(table, "chosen")
        rt = _tokens(table, "rejected")
        diff = ct - rt
        s.pairs += n
        s.chosen_longer += int((diff > 0).sum())
        s.rejected_longer += int((diff < 0).sum())
        s.same_length += int((diff == 0).sum())
        s.chosen_tokens += int(ct.sum())
        s.rejected_tokens += int(rt.sum())
        self._prompt_keys.append(pk.astype(np.int64, copy=False))
        self._diffs.append(diff)
        if "margin" in names:
            col = table["margin"]
            values = np.asarray(pc.drop_null(col).to_numpy(zero_copy_only=False), dtype=np.float64)
            self._margins.append(values[np.isfinite(values)])
            s.margin_missing += n - len(self._margins[-1])
        else:
            s.margin_missing += n
        sources = pa.array([source] * n, pa.string()) if source is not None else table["source_id"]
        domains = pa.array([domain or UNSPECIFIED] * n, pa.string())
        for what, keys, counts in (("source", sources, s.by_source), ("domain", domains, s.by_domain)):
            tally = pa.table({"key": keys, "c": (diff > 0).astype(np.int64), "r": (diff < 0).astype(np.int64)})
            grouped = tally.group_by("key").aggregate([("c", "sum"), ("r", "sum"), ("c", "count")])
            for row in grouped.to_pylist():
                counts[row["key"]] += row["c_count"]
                pair = s.longer_by[what].setdefault(row["key"], [0, 0])
                pair[0] += row["c_sum"]
                pair[1] += row["r_sum"]

    def finish(self, index: JudgementIndex | None = None) -> PreferenceStats:
        s = self.stats
        if self._prompt_keys:
            _, counts = np.unique(np.concatenate(self._prompt_keys), return_counts=True)
            s.prompts = len(counts)
            ks, prompts = np.unique(counts, return_counts=True)
            s.pairs_per_prompt = {int(k): int(v) for k, v in zip(ks, prompts, strict=True)}
            s.token_diff = np.concatenate(self._diffs)
        if self._margins:
            s.margins = np.concatenate(self._margins)
        if index is not None:
            s.agreement = Agreement.from_index(index)
        return s


def _tokens(table: pa.Table, side: str) -> np.ndarray:
    stored = f"pref_{side}_tokens"
    if stored in table.column_names:
        return np.asarray(table[stored].to_numpy(zero_copy_only=False), dtype=np.int64)
    return token_counts(table[side])


def table_stats(tables: Iterable[pa.Table], index: JudgementIndex | None = None) -> PreferenceStats:
    """Statistics of in-memory tables (source taken from each row's `source_id`)."""
    builder = StatsBuilder()
    for table in tables:
        builder.add(table)
    return builder.finish(index)


def project_stats(
    project: Project,
    manifests: list[SourceManifest],
    index: JudgementIndex | None = None,
    *,
    stage: str = STAGE,
    batch_rows: int = BATCH_ROWS,
) -> PreferenceStats:
    """Statistics of the validated pairs of every preference source (domain from its manifest)."""
    builder = StatsBuilder()
    for m in manifests:
        path = project.stage_path(stage, m.id)
        if m.kind != "preference" or not path.exists():
            continue
        pf = pq.ParquetFile(path)
        names = pf.schema_arrow.names
        texts = () if all(c in names for c in _STORED) else ("prompt", "chosen", "rejected")
        wanted = [c for c in (*texts, "margin", *_STORED) if c in names]
        for batch in pf.iter_batches(batch_size=batch_rows, columns=wanted):
            builder.add(pa.Table.from_batches([batch]), source=m.id, domain=m.domain)
    return builder.finish(index)


_STORED = ("pref_prompt_key", "pref_chosen_tokens", "pref_rejected_tokens")
