"""Per-source stage settings: a manifest's `stages:` and named profiles.

`curaline.yaml`'s `stages:` sets a stage for the whole project. A source whose text is
not web prose (chat turns, code, math) needs other thresholds: Gopher's 50-word and
stop-word rules drop nearly every short record, its 80 % alphabetic-words rule every
code file. So a manifest may pick a named `profile` and override `stages:` itself, with
the same shape as `curaline.yaml`'s. The effective settings of a stage for a source are

    kernel defaults < curaline.yaml stages < the source's profile < the source's stages

and they are validated as strictly as the manifest: an unknown stage or setting names
the file and the field.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Mapping
from typing import Any

from curaline import stages as _registry

#: Per-record stages a source may configure (the registry's per-source record stages with
#: settings): curaline.yaml stages key (the stage's name) -> "module:ConfigClass". The global
#: stages (dedup, decontamination) compare sources with each other: one setting for all.
PER_SOURCE_STAGES: dict[str, str] = {
    s.name: s.config for s in _registry.STAGES if s.scope == "source" and s.records and s.config
}

#: Named profiles a manifest picks with `profile:`; each is a `stages:` mapping.
PROFILES: dict[str, dict[str, dict[str, Any]]] = {
    # Chat turns, titles, single-sentence records: Gopher's length, stop-word and n-gram
    # repetition rules and C4's five-sentence rule measure documents, not records like these
    # (a 10-word sentence's top bigram is 20 % of it; RefinedWeb and FineWeb apply them to
    # web pages only). The learned classifier stays.
    "short-text": {
        "quality_filtered": {
            "gopher_repetition": False,
            "min_doc_words": 3,
            "min_alpha_words_ratio": 0.6,  # Gopher counts "," and "." as words: 2 of 9 is 22 %
            "min_stop_words": None,
            "c4": False,
            "fw_min_line_punct_ratio": None,
            "fw_max_short_line_ratio": None,
        },
    },
    # Source code and technical docs: the StarCoder / The Stack filters instead of the web
    # rules (code_rules.py); the web-text classifier would rate code as junk.
    "code": {
        "quality_filtered": {
            "gopher_repetition": False,
            "gopher_quality": False,
            "c4": False,
            "fineweb": False,
            "code_rules": True,
            "quality_model": None,
        },
    },
    # LaTeX and formulas: braces are markup, not JavaScript, and symbol-heavy lines are
    # content (OpenWebMath, Paster et al. 2023, keeps them). Gopher repetition stays.
    "math": {
        "quality_filtered": {
            "min_alpha_words_ratio": 0.5,
            "max_symbol_word_ratio": None,
            "c4_drop_curly_bracket": False,
            "c4_min_sentences": None,
            "fw_min_line_punct_ratio": None,
            "fw_max_short_line_ratio": None,
            "quality_model": None,
        },
    },
}


def config_class(stage: str) -> type[Any]:
    module, _, name = PER_SOURCE_STAGES[stage].partition(":")
    cls: type[Any] = getattr(importlib.import_module(module), name)
    return cls


def check_stage_settings(raw: object, *, where: str = "stages") -> list[tuple[str, str]]:
    """Problems of a `stages:` mapping as (field, message): unknown stages and settings."""
    if raw is None:
        return []
    if not isinstance(raw, Mapping):
        return [(where, "must map a stage name to its settings")]
    problems: list[tuple[str, str]] = []
    for stage, settings in raw.items():
        fld = f"{where}.{stage}"
        if stage not in PER_SOURCE_STAGES:
            renamed = _registry.RENAMED_CONFIG_KEYS.get(str(stage))
            hint = f"now {where}.{renamed} (settings are keyed by stage name); " if renamed in PER_SOURCE_STAGES else ""
            problems.append((fld, f"{hint}not a per-source stage; allowed: {', '.join(PER_SOURCE_STAGES)}"))
            continue
        if not isinstance(settings, Mapping):
            problems.append((fld, "must be a mapping of settings"))
            continue
        cls = config_class(str(stage))
        known = {f.name for f in dataclasses.fields(cls)}
        for key in settings:
            if key not in known:
                problems.append((f"{fld}.{key}", f"unknown setting; allowed: {', '.join(sorted(known))}"))
        if any(key not in known for key in settings):
            continue
        try:
            cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in settings.items()})
        except (TypeError, ValueError) as exc:
            problems.append((fld, f"invalid settings: {exc}"))
    return problems


def merge_stage_settings(*layers: Mapping[str, Mapping[str, Any]] | None) -> dict[str, dict[str, Any]]:
    """Stage settings laid over each other, later layers winning setting by setting."""
    out: dict[str, dict[str, Any]] = {}
    for layer in layers:
        for stage, settings in (layer or {}).items():
            out.setdefault(str(stage), {}).update(dict(settings))
    return out


def source_stage_settings(profile: str | None, stages: Mapping[str, Mapping[str, Any]] | None) -> dict[str, dict[str, Any]]:
    """What a source lays over curaline.yaml: its profile, then its own `stages:`."""
    return merge_stage_settings(PROFILES.get(profile or "", {}), stages)


def quality_config(project: Any) -> Any:
    """The quality stage's config for a project (already laid over by a source's settings),
    with a trained model's path resolved against the project root."""
    from pathlib import Path

    from curaline.kernels.quality import QualityConfig
    from curaline.kernels.quality_model import BUILTIN

    config = project.config.stage_config("quality_filtered", QualityConfig)
    ref = config.quality_model
    if ref is not None and ref != BUILTIN and not Path(ref).expanduser().is_absolute():
        config = dataclasses.replace(config, quality_model=str(project.root / ref))
    return config
