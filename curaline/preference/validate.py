"""Pair-level checks on preference records, after the per-record and the global stages.

Already done upstream, and left there (the tests assert it):
- an empty prompt, chosen or rejected text: quarantined at ingest (`empty_text`);
- identical responses: the quality stage (`pref_identical_responses`);
- exact and near duplicate pairs: the dedup stage (prompt, chosen and rejected hashed together);
- a prompt or response copying an evaluation item: decontamination;
- PII and toxicity: their stages, on the prompt and both responses.

Only a pair-level view sees the rest, done here:
- truncated responses: the quality kernel's truncation rule for SFT answers (cut mid-sentence,
  unclosed code fence), applied to the chosen and to the rejected answer;
- contradicting pairs: one prompt judged A > B and B > A. Judgements are counted on the dedup
  stage's input, not its output: "p A B" and "p B A" share almost every shingle, so dedup keeps
  one of them as the other's near duplicate and the contradiction vanishes from view, with one
  arbitrary side surviving. Every surviving record of a contradicted pair is dropped;
- empty or identical responses once more, as a safety net: PII redaction can make two answers
  equal ("write to a@x.org" and "write to b@y.org" both become "write to <EMAIL>"), and the
  quality rule can be switched off.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curaline import stages
from curaline.dedup import INPUT_STAGE as DEDUP_INPUT_STAGE
from curaline.kernels.base import EVENT_SCHEMA, KernelResult, empty_events, make_events
from curaline.kernels.minhash import string_hashes
from curaline.kernels.quality import QualityConfig, score_quality
from curaline.project import Project
from curaline.sources import SourceManifest
from curaline.stage import BATCH_ROWS, run_record_stage

STAGE = "preference_pairs"
#: the validated pairs come from here: deduplicated and decontaminated records
INPUT_STAGE = stages.records_input(STAGE)
#: every judgement, before dedup merged repeated and reversed ones (see the module docstring)
JUDGEMENT_STAGE = DEDUP_INPUT_STAGE

#: Reasons, in the order they are tried: a record is logged under the first one it fails.
REASONS = (
    "empty_chosen",
    "empty_rejected",
    "identical_responses",
    "truncated_chosen",
    "truncated_rejected",
    "contradicting_pair",
)
#: The release contract's pre-tokenizer token (`n_tokens`), used for lengths.
TOKEN_PATTERN = r"\w+|[^\w\s]"

#: Columns this stage adds to every kept record.
SIGNAL_COLUMNS: dict[str, pa.DataType] = {
    "pref_prompt_key": pa.int64(),  # 64-bit hash of the normalized prompt: pairs of one prompt share it
    "pref_chosen_tokens": pa.int64(),
    "pref_rejected_tokens": pa.int64(),
    "pref_chosen_truncated": pa.bool_(),
    "pref_rejected_truncated": pa.bool_(),
    "pref_judgements": pa.int64(),  # judgements of this prompt and response pair, either way
    "pref_agreement": pa.float64(),  # share of them that prefer what this record prefers
}

_SIDES = ("chosen", "rejected")


@dataclass(frozen=True)
class PreferenceConfig:
    """Settings of the preference_pairs stage (curaline.yaml `stages.preference_pairs`)."""

    #: sides whose truncation drops the pair: a cut chosen answer teaches cutting off, a cut
    #: rejected one teaches "complete beats cut" instead of what the annotator judged
    drop_truncated: tuple[str, ...] = _SIDES
    drop_contradicting: bool = True

    def __post_init__(self) -> None:
        bad = sorted(set(self.drop_truncated) - set(_SIDES))
        if bad:
            raise ValueError(f"drop_truncated: unknown side(s) {', '.join(bad)}; allowed: chosen, rejected")


def normalized(texts: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Case and whitespace do not make two texts different (as in dedup's exact key)."""
    lowered = pc.utf8_lower(pc.fill_null(texts, ""))
    return pc.utf8_trim_whitespace(pc.replace_substring_regex(lowered, r"\s+", " "))


def text_key(texts: pa.Array | pa.ChunkedArray, *, folded: bool = False) -> np.ndarray:
    """64-bit content hash of the normalized text (folded=True: already normalized), as int64."""
    return string_hashes(texts if folded else normalized(texts)).astype(np.uint64).view(np.int64)


def token_counts(texts: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return _np(pc.count_substring_regex(pc.fill_null(texts, ""), TOKEN_PATTERN)).astype(np.int64)


def _np(x: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(x.to_numpy(zero_copy_only=False))


_GROUP_KEYS = ["prompt_key", "lo", "hi"]


def judgement_keys(table: pa.Table) -> pa.Table:
    """(prompt_key, lo, hi, forward) per judgement: the unordered response pair and its direction.

    forward is 1 when the chosen answer is the one with the smaller hash; a record whose two
    answers are equal judges nothing and is left out.
    """
    pk, ck, rk = (text_key(table[c]) for c in ("prompt", "chosen", "rejected"))
    real = ck != rk
    return pa.table({
        "prompt_key": pk[real], "lo": np.minimum(ck, rk)[real], "hi": np.maximum(ck, rk)[real],
        "forward": (ck < rk)[real].astype(np.int64),
    })  # fmt: skip


def _group(keys: pa.Table) -> pa.Table:
    grouped = keys.group_by(_GROUP_KEYS).aggregate([("forward", "sum"), ("forward", "count")])
    return grouped.rename_columns({"forward_sum": "forward", "forward_count": "n"})


@dataclass
class JudgementIndex:
    """How often each (prompt, unordered response pair) was judged, and which way.

    Only pairs judged more than once are kept (a single judgement agrees with itself), so the
    index stays small; keys are 64-bit hashes of the normalized texts.
    """

    multi: pa.Table  # prompt_key, lo, hi, forward (judgements preferring `lo`), n (all judgements)
    judgements: int = 0  # judgements read (records with two different answers)
    pairs: int = 0  # distinct (prompt, unordered pair)

    @classmethod
    def build(cls, tables: Iterable[pa.Table]) -> JudgementIndex:
        parts, total = [], 0
        for table in tables:
            keys = judgement_keys(table)
            total += keys.num_rows
            parts.append(_group(keys))  # per batch: memory grows with distinct pairs, not records
        if not parts:
            empty = pa.table({k: pa.array([], pa.int64()) for k in [*_GROUP_KEYS, "forward", "n"]})
            return cls(multi=empty)
        merged = pa.concat_tables(parts).group_by(_GROUP_KEYS).aggregate([("forward", "sum"), ("n", "sum")])
        merged = merged.rename_columns({"forward_sum": "forward", "n_sum": "n"})
        multi = merged.filter(pc.greater(merged["n"], 1))
        return cls(multi=multi, judgements=total, pairs=merged.num_rows)

    @classmethod
    def from_files(cls, paths: Iterable[Path], batch_rows: int = BATCH_ROWS) -> JudgementIndex:
        def batches() -> Iterable[pa.Table]:
            from curaline.store import parquet_files

            for path in (f for p in paths for f in parquet_files(Path(p))):  # a file, or a folder of shards
                for batch in pq.ParquetFile(path).iter_batches(
                    batch_size=batch_rows, columns=["prompt", "chosen", "rejected"]
                ):
                    yield pa.Table.from_batches([batch])

        return cls.build(batches())

    @property
    def contradicted(self) -> int:
        """Pairs judged both ways."""
        f, n = _np(self.multi["forward"]), _np(self.multi["n"])
        return int(((f > 0) & (f < n)).sum())

    def lookup(
        self, prompt_key: np.ndarray, chosen_key: np.ndarray, rejected_key: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(judgements of the pair, of which agreeing with this direction) per record."""
        rows = len(prompt_key)
        n, agree = np.ones(rows, dtype=np.int64), np.ones(rows, dtype=np.int64)
        if not self.multi.num_rows or not rows:
            return n, agree
        probe = pa.table({
            "prompt_key": prompt_key, "lo": np.minimum(chosen_key, rejected_key),
            "hi": np.maximum(chosen_key, rejected_key), "row": np.arange(rows, dtype=np.int64),
        })  # fmt: skip
        hit = probe.join(self.multi, keys=_GROUP_KEYS, join_type="inner")
        at = _np(hit["row"])
        total, forward = _np(hit["n"]), _np(hit["forward"])
        is_forward = chosen_key[at] < rejected_key[at]
        n[at] = total
        agree[at] = np.where(is_forward, forward, total - forward)
        same = chosen_key == rejected_key  # not a judgement: agrees with nothing else
        n[same], agree[same] = 1, 1
        return n, agree


def truncated(table: pa.Table, side: str, quality: QualityConfig) -> np.ndarray:
    """The quality kernel's truncation rule on one answer: its `q_<side>_truncated` signal when
    the quality stage stored one, else its SFT rule run on (prompt, that answer)."""
    stored = f"q_{side}_truncated"
    if stored in table.column_names:
        return _np(pc.fill_null(table[stored], False)).astype(bool)
    # the prompt only feeds the echo rule (off here) and the stock-acknowledgement test, which
    # never marks a cut answer: an empty prompt gives the same truncation flags, faster
    rows = table.num_rows
    probe = pa.table({
        "doc_id": table["doc_id"], "prompt": pa.array([""] * rows, pa.string()),
        "context": pa.nulls(rows, pa.string()), "response": table[side],
    })  # fmt: skip
    result = score_quality(probe, kind="instruction", config=replace(quality, drop_prompt_echo=False))
    cut = result.events.filter(pc.equal(result.events["reason"], "sft_truncated_response"))["doc_id"]
    return _np(pc.is_in(table["doc_id"], value_set=cut.combine_chunks())).astype(bool)


def _attach(table: pa.Table, cols: dict[str, pa.Array]) -> pa.Table:
    for name, arr in cols.items():
        i = table.schema.get_field_index(name)
        table = table.set_column(i, name, arr) if i >= 0 else table.append_column(name, arr)
    return table


def validate_pairs(
    table: pa.Table,
    *,
    kind: str = "preference",
    config: PreferenceConfig | None = None,
    index: JudgementIndex | None = None,
    quality: QualityConfig | None = None,
) -> KernelResult:
    """Add the pair signals and drop the pairs that fail a check (first failure logged)."""
    if kind != "preference":
        raise ValueError(f"preference validation needs kind 'preference', got {kind!r}")
    missing = [c for c in ("doc_id", "prompt", "chosen", "rejected") if c not in table.column_names]
    if missing:
        raise ValueError(f"preference records need column(s) {', '.join(missing)}")
    config = config or PreferenceConfig()
    quality = quality or QualityConfig()
    rows = table.num_rows
    chosen, rejected = table["chosen"], table["rejected"]
    empty = {s: _np(pc.equal(pc.utf8_trim_whitespace(pc.fill_null(table[s], "")), "")).astype(bool) for s in _SIDES}
    folded_chosen, folded_rejected = normalized(chosen), normalized(rejected)
    same = _np(pc.equal(folded_chosen, folded_rejected)).astype(bool)
    cut = {s: truncated(table, s, quality) for s in _SIDES}
    pk = text_key(table["prompt"])
    ck, rk = text_key(folded_chosen, folded=True), text_key(folded_rejected, folded=True)
    n, agree = (index or JudgementIndex.build([])).lookup(pk, ck, rk)
    tokens = {s: token_counts(table[s]) for s in _SIDES}
    out = _attach(table, {
        "pref_prompt_key": pa.array(pk, pa.int64()),
        "pref_chosen_tokens": pa.array(tokens["chosen"], pa.int64()),
        "pref_rejected_tokens": pa.array(tokens["rejected"], pa.int64()),
        "pref_chosen_truncated": pa.array(cut["chosen"], pa.bool_()),
        "pref_rejected_truncated": pa.array(cut["rejected"], pa.bool_()),
        "pref_judgements": pa.array(n, pa.int64()),
        "pref_agreement": pa.array(agree / n, pa.float64()),
    })  # fmt: skip
    not_empty = ~empty["chosen"] & ~empty["rejected"]
    fails = {
        "empty_chosen": empty["chosen"],
        "empty_rejected": empty["rejected"],
        "identical_responses": same & not_empty,
        "truncated_chosen": cut["chosen"] & ("chosen" in config.drop_truncated),
        "truncated_rejected": cut["rejected"] & ("rejected" in config.drop_truncated),
        "contradicting_pair": (agree < n) & config.drop_contradicting,
    }
    stacked = np.stack([fails[r] for r in REASONS]) if rows else np.zeros((len(REASONS), 0), dtype=bool)
    keep: np.ndarray = np.asarray(~stacked.any(axis=0))
    first = stacked.argmax(axis=0)
    events = [empty_events()]
    doc_ids = table["doc_id"].combine_chunks() if rows else pa.array([], pa.string())
    for i, reason in enumerate(REASONS):
        at = np.flatnonzero(~keep & (first == i))
        if not at.size:
            continue
        ids = doc_ids.take(pa.array(at))
        if reason.startswith("empty"):
            events.append(
                make_events(ids, "drop", reason, value=np.zeros(at.size), threshold=1.0, detail="chars after trimming")
            )
        elif reason == "identical_responses":
            events.append(
                make_events(ids, "drop", reason, value=np.ones(at.size), detail="equal after case/space folding")
            )
        elif reason.startswith("truncated"):
            words = _np(pc.count_substring_regex(table[reason.split("_")[1]].take(pa.array(at)), r"[\pL\pN]+"))
            events.append(make_events(ids, "drop", reason, value=words.astype(float), threshold=float(quality.truncation_min_words),
                                      detail="quality kernel sft_truncated_response rule"))  # fmt: skip
        else:
            details = [f"judgements={t} agree={a} disagree={t - a}" for t, a in zip(n[at], agree[at], strict=True)]
            events.append(
                make_events(ids, "drop", reason, value=(agree[at] / n[at]).tolist(), threshold=1.0, detail=details)
            )
    return KernelResult(out, keep, pa.concat_tables(events))


@dataclass
class PairValidation:
    """What the stage did over the project: counts per source and reason, ledger events."""

    rows_in: int = 0
    kept: int = 0
    by_source: dict[str, tuple[int, int]] = field(default_factory=dict)  # source -> (in, kept)
    dropped: dict[str, Counter[str]] = field(default_factory=dict)  # source -> reason -> records
    events: pa.Table = field(default_factory=empty_events)
    index: JudgementIndex = field(default_factory=lambda: JudgementIndex.build([]))

    @property
    def dropped_by_reason(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for counts in self.dropped.values():
            total.update(counts)
        return total

    @property
    def balanced(self) -> bool:
        return self.rows_in == self.kept + sum(self.dropped_by_reason.values())


def preference_sources(project: Project, manifests: list[SourceManifest]) -> list[SourceManifest]:
    """Sources of kind preference that reached decontamination."""
    return [m for m in manifests if m.kind == "preference" and project.stage_path(INPUT_STAGE, m.id).exists()]


def validate_project(
    project: Project,
    manifests: list[SourceManifest],
    config: PreferenceConfig | None = None,
    quality: QualityConfig | None = None,
) -> PairValidation:
    """Validate every preference source's decontaminated records into `data/preference_pairs/`."""
    config = config or PreferenceConfig()
    sources = preference_sources(project, manifests)
    judged = [project.stage_path(JUDGEMENT_STAGE, m.id) for m in sources]
    index = JudgementIndex.from_files([p for p in judged if p.exists()])
    kernel = functools.partial(validate_pairs, index=index, quality=quality or QualityConfig())
    result = PairValidation(index=index)
    events = [EVENT_SCHEMA.empty_table()]
    for m in sources:
        stats, source_events = run_record_stage(
            kernel, kind="preference", config=config, input_path=project.stage_path(INPUT_STAGE, m.id),
            output_path=project.stage_path(STAGE, m.id), signal_columns=SIGNAL_COLUMNS,
        )  # fmt: skip
        result.rows_in += stats.rows_in
        result.kept += stats.kept
        result.by_source[m.id] = (stats.rows_in, stats.kept)
        result.dropped[m.id] = stats.dropped
        events.append(source_events)
    result.events = pa.concat_tables(events)
    folder = project.data_dir / STAGE
    for stale in folder.glob("*.parquet") if folder.is_dir() else []:
        if stale.stem not in result.by_source:  # a source that is gone, or no longer preference
            stale.unlink()
    return result
