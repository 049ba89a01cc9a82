"""The per-record stage chain of a source, as workers run it: kernel, resolved config, signals.

The stages and their kernels and settings come from the stage registry
(`curaline.stages`: the rows made by the `source_records` step, after ingest); this
module adds what a worker needs besides: the signal columns each kernel adds, and the
settings that come from the source itself (its profile and `stages:`, its declared languages).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pyarrow as pa

from curaline import stages
from curaline.project import Project
from curaline.shards.runner import ChainStage
from curaline.sources import SourceManifest
from curaline.stage import stage_signals

#: what a worker imports once, in the forkserver, before its first shard
WORKER_MODULES = ("curaline.shards.runner", "curaline.shards.reader", "curaline.schemas", "curaline.kernels.normalize",
                  "curaline.kernels.langid", "curaline.kernels.quality", "curaline.kernels.quality_model",
                  "curaline.kernels.code_rules", "curaline.kernels.pii", "curaline.kernels.toxicity", "polars",
                  "pandera.polars")  # fmt: skip


def _signals() -> dict[str, tuple[Callable[[str], Mapping[str, pa.DataType]], str]]:
    """stage -> (the signal columns it adds for a kind, its main signal: the report's histogram)."""
    from curaline.kernels import langid, normalize, pii, quality, toxicity

    return {
        "normalized": (lambda kind: normalize.SIGNAL_COLUMNS, "normalize_changes"),
        "language_checked": (lambda kind: langid.SIGNAL_COLUMNS, "lang_score"),
        "quality_filtered": (lambda kind: quality.SIGNALS_BY_KIND.get(kind, {}), "q_word_count"),
        "pii_redacted": (lambda kind: pii.SIGNAL_COLUMNS, "pii_total"),
        "toxicity_screened": (lambda kind: toxicity.SIGNAL_COLUMNS, "toxicity"),
    }


def chain_stages() -> tuple[str, ...]:
    """The per-record stages after ingest, in flow order."""
    return tuple(s for s in stages.SHARDED_STAGES if s in stages.PER_SOURCE_STAGES and s != "raw_records")


def stage_settings(name: str, manifest: SourceManifest, project: Project) -> Any:
    """A stage's settings for one source: its profile and `stages:` laid over curaline.yaml's
    (`Project.for_source`); the source's declared languages are language_checked's keep-list;
    the quality stage's trained model path resolves against the project root."""
    own = project.for_source(manifest)
    if name == "language_checked" and manifest.languages:
        return own.config.for_stage(name, keep_languages=tuple(manifest.languages))
    if name == "quality_filtered":
        from curaline.stage_settings import quality_config

        return quality_config(own)
    return own.config.for_stage(name)


def record_chain(manifest: SourceManifest, project: Project) -> tuple[ChainStage, ...]:
    """normalized -> language_checked -> quality_filtered -> pii_redacted -> toxicity_screened."""
    signals = _signals()
    out = []
    for name in chain_stages():
        columns, main = signals[name]
        resolved = stage_signals(manifest.kind, columns(manifest.kind))
        out.append(ChainStage(name, stages.kernel_function(name), stage_settings(name, manifest, project), resolved,
                              main if main in resolved else None))  # fmt: skip
    return tuple(out)
