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
                  "curaline.kernels.code_rules", "curaline.kernels.pii", "curaline.kernels.toxicity",
                  "curaline.web.urlfilter", "curaline.minhash_bands", "polars", "pandera.polars")  # fmt: skip


def _signals() -> dict[str, tuple[Callable[[str], Mapping[str, pa.DataType]], str]]:
    """stage -> (the signal columns it adds for a kind, its main signal: the report's histogram)."""
    from curaline.kernels import langid, normalize, pii, quality, toxicity
    from curaline.web import urlfilter

    return {
        "url_filtered": (lambda kind: urlfilter.SIGNAL_COLUMNS, "url_list_hits"),
        "normalized": (lambda kind: normalize.SIGNAL_COLUMNS, "normalize_changes"),
        "pii_redacted": (lambda kind: pii.SIGNAL_COLUMNS, "pii_total"),
        "language_checked": (lambda kind: langid.SIGNAL_COLUMNS, "lang_score"),
        "quality_filtered": (lambda kind: quality.SIGNALS_BY_KIND.get(kind, {}), "q_word_count"),
        "toxicity_screened": (lambda kind: toxicity.SIGNAL_COLUMNS, "toxicity"),
    }


def chain_stages() -> tuple[str, ...]:
    """The per-record stages after ingest, in flow order."""
    return tuple(s for s in stages.SHARDED_STAGES if s in stages.PER_SOURCE_STAGES and s != "raw_records")


def stage_settings(name: str, manifest: SourceManifest, project: Project) -> Any:
    """A stage's settings for one source: its profile and `stages:` laid over curaline.yaml's
    (`Project.for_source`); the source's declared languages are language_checked's keep-list,
    and the placeholders it skips are pii_redacted's;
    the quality stage's trained model path resolves against the project root; the URL filter's
    lists are read here, once, and travel to the workers compiled."""
    own = project.for_source(manifest)
    if name == "url_filtered":
        from curaline.web import urlfilter

        return urlfilter.load_filters(own.root, own.config.for_stage(name))
    if name == "language_checked":
        from curaline.stage_settings import language_overrides

        overrides: dict[str, Any] = language_overrides(own.config.stages)
        if manifest.languages:
            overrides["keep_languages"] = tuple(manifest.languages)
        return own.config.for_stage(name, **overrides)
    if name == "quality_filtered":
        from curaline.stage_settings import quality_config

        return quality_config(own)
    return own.config.for_stage(name)


def record_chain(manifest: SourceManifest, project: Project) -> tuple[ChainStage, ...]:
    """url_filtered -> normalized -> pii_redacted -> language_checked -> quality_filtered -> toxicity_screened."""
    signals = _signals()
    out = []
    for name in chain_stages():
        columns, main = signals[name]
        resolved = stage_signals(manifest.kind, columns(manifest.kind))
        out.append(ChainStage(name, stages.kernel_function(name), stage_settings(name, manifest, project), resolved,
                              main if main in resolved else None))  # fmt: skip
    return tuple(out)
