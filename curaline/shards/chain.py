"""The per-record stage chain of a source, as workers run it: kernel, resolved config, signals.

The same kernels and configs as the per-stage assets (`assets/normalized.py` ...): the
chain only bundles them, so one worker can run all of them on a batch in one pass.
"""

from __future__ import annotations

from typing import Any

from curaline.project import Project
from curaline.shards.runner import ChainStage
from curaline.sources import SourceManifest
from curaline.stage import stage_signals

#: what a worker imports once, in the forkserver, before its first shard
WORKER_MODULES = ("curaline.shards.runner", "curaline.shards.reader", "curaline.schemas", "curaline.kernels.normalize",
                  "curaline.kernels.langid", "curaline.kernels.quality", "curaline.kernels.pii",
                  "curaline.kernels.toxicity", "polars", "pandera.polars")  # fmt: skip


def language_config(manifest: SourceManifest, project: Project) -> Any:
    """The source's declared languages are its keep-list; the project config may set one for all."""
    from curaline.kernels import langid

    declared = {"keep_languages": tuple(manifest.languages)} if manifest.languages else {}
    return project.config.stage_config("language", langid.LangIdConfig, **declared)


def record_chain(manifest: SourceManifest, project: Project) -> tuple[ChainStage, ...]:
    """normalized -> language_checked -> quality_filtered -> pii_redacted -> toxicity_screened."""
    from curaline.kernels import langid, normalize, pii, quality, toxicity

    kind = manifest.kind
    cfg = project.config
    quality_signals = quality.SIGNALS_BY_KIND.get(kind, {})
    rows = [
        ("normalized", normalize.normalize_text, cfg.stage_config("normalize", normalize.NormalizeConfig),
         normalize.SIGNAL_COLUMNS, "normalize_changes"),
        ("language_checked", langid.detect_language, language_config(manifest, project),
         langid.SIGNAL_COLUMNS, "lang_score"),
        ("quality_filtered", quality.score_quality, cfg.stage_config("quality", quality.QualityConfig),
         quality_signals, "q_word_count"),
        ("pii_redacted", pii.redact_pii, cfg.stage_config("pii", pii.PiiConfig), pii.SIGNAL_COLUMNS, "pii_total"),
        ("toxicity_screened", toxicity.score_toxicity, cfg.stage_config("toxicity", toxicity.ToxicityConfig),
         toxicity.SIGNAL_COLUMNS, "toxicity"),
    ]  # fmt: skip
    out = []
    for name, kernel, config, signals, column in rows:
        resolved = stage_signals(kind, signals)
        out.append(ChainStage(name, kernel, config, resolved, column if column in resolved else None))
    return tuple(out)
