"""The preparation operations a release's records went through: parameters and counts.

Art. 10(2)(c), the EU AI Act summary's section 3 and the dataset card all cite the same
facts, so they are gathered once here: which stages ran (the manifest), with which
settings (the kernel defaults overridden by curaline.yaml as committed with the version),
what each removed (the manifest's pipeline counts) and changed (the ledger), and the
stage's own documentation as the lineage events carry it.
"""

from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass
from typing import Any

from curaline import stages
from curaline.reports.release_data import NOT_KNOWN, ReleaseData

#: stage -> [(curaline.yaml stages key, "module:ConfigClass")]: where its parameters live (the registry's)
STAGE_CONFIGS: dict[str, list[tuple[str, str]]] = {
    s.name: [(k, path) for k in s.config_keys if (path := stages.config_class_path(k))]
    for s in stages.STAGES if s.records and s.config_keys
}  # fmt: skip
#: What a stage is for, in the words of the EU AI Act template's section 3 and Art. 10(2)(c).
PURPOSE: dict[str, str] = {s.name: s.purpose for s in stages.STAGES if s.purpose}
#: Stages that remove or flag harmful or unlawful content (the template's section 3.2).
CONTENT_SAFETY_STAGES = ("toxicity_screened", "pii_redacted")


@dataclass(frozen=True)
class Operation:
    stage: str
    purpose: str
    description: str | None  # the asset's documentation, as the lineage events carry it
    parameters: dict[str, Any]  # effective settings, or {} when the stage has none
    parameters_from: str
    removed: dict[str, int]  # records removed by reason (this release's sources)
    changed: int | str  # records changed (redacted, normalized); NOT_KNOWN without the ledger (a clone)
    changed_by_reason: dict[str, int]
    removed_by_source: dict[str, int]
    runs: int | None  # completed runs over these sources up to the build
    last_run: str | None
    #: source -> the effective parameters its own profile / `stages:` changed (manifest)
    parameters_by_source: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def stage_parameters(stage: str, settings: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The effective parameters of a stage: its kernel config's defaults < curaline.yaml."""
    out: dict[str, Any] = {}
    # settings committed before the keys were renamed to their stages' names read as the new keys
    settings = {stages.RENAMED_CONFIG_KEYS.get(k, k): v for k, v in settings.items()}
    for key, target in STAGE_CONFIGS.get(stage, []):
        module, _, name = target.partition(":")
        config_cls = getattr(importlib.import_module(module), name)
        given = {k: tuple(v) if isinstance(v, list) else v for k, v in settings.get(key, {}).items()}
        known = {f.name for f in dataclasses.fields(config_cls)}
        values = dataclasses.asdict(config_cls(**{k: v for k, v in given.items() if k in known}))
        values.update({k: v for k, v in given.items() if k not in known})  # shown as written, never dropped
        prefix = f"{key}." if len(STAGE_CONFIGS[stage]) > 1 else ""
        out.update({f"{prefix}{k}": _jsonable(v) for k, v in values.items()})
    if stage == "language_checked" and not settings.get("language_checked", {}).get("keep_languages"):
        out["keep_languages"] = "each source's declared languages"
    return out


def source_parameters(stage: str, settings: dict[str, dict[str, Any]], sources: list[dict[str, Any]],
                      project_params: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per source, the parameters of a stage its manifest's profile / `stages:` changed."""
    from curaline.stage_settings import merge_stage_settings, source_stage_settings

    out: dict[str, dict[str, Any]] = {}
    for s in sources:
        decl = s.get("declaration") or {}
        own = source_stage_settings(decl.get("profile"), decl.get("stages"))
        if not own:
            continue
        params = stage_parameters(stage, merge_stage_settings(settings, own))
        changed = {k: v for k, v in params.items() if project_params.get(k, object()) != v}
        if changed:
            out[str(s.get("id"))] = {**({"profile": decl["profile"]} if decl.get("profile") else {}), **changed}
    return out


def operations(data: ReleaseData) -> list[Operation]:
    """Every stage the release's records passed, in flow order, with parameters and counts."""
    stages = data.pipeline_stages
    settings, settings_from = data.stage_settings()
    ledger = data.ledger_counts()
    runs = data.stage_runs(stages)
    removed = data.pipeline_removed
    release_removed: dict[str, int] = {}
    for s in data.sources:
        for reason, n in (s.get("removed") or {}).items():
            release_removed[reason] = release_removed.get(reason, 0) + int(n)
    out = []
    for stage in stages:
        counts = ledger.get(stage, {})
        params: dict[str, Any]
        if stage == "release":
            spec = data.spec
            params = {k: spec.get(k) for k in ("use", "languages", "quality", "dedup", "decontaminate", "mix", "splits")}
            params["mix_rule"] = (data.manifest.get("mix") or {}).get("rule")
            frm = "the release spec (manifest)"
            stage_removed = release_removed
        else:
            params = stage_parameters(stage, settings)
            if stage == "semantic_deduplicated":  # the release spec's dedup.semantic wins
                params["threshold"] = (data.spec.get("dedup") or {}).get("semantic") if isinstance(data.spec.get("dedup"), dict) else None
            frm = settings_from if params else "no parameters"
            # ingest removes nothing from the ledger's point of view: what it could not read is quarantined
            stage_removed = data.quarantined() if stage == "raw_records" else dict(removed.get(stage, {}))
        run = runs.get(stage, {})
        by_source = source_parameters(stage, settings, data.sources, params) if stage != "release" else {}
        out.append(Operation(
            stage=stage, purpose=PURPOSE.get(stage, stage), description=run.get("description"),
            parameters=params, parameters_from=frm, removed=stage_removed,
            changed=int(counts.get("changed", 0)) if ledger else NOT_KNOWN,
            changed_by_reason=dict(counts.get("changed_by_reason", {})),
            removed_by_source={k: v for k, v in counts.get("removed_by_source", {}).items() if v},
            runs=run.get("runs"), last_run=run.get("last_run"), parameters_by_source=by_source,
        ))  # fmt: skip
    return out


def parameters_text(params: dict[str, Any], *, limit: int | None = None) -> str:
    """`k=v` pairs for a Markdown cell; the full set is in the JSON report."""
    items = [f"{k}={v}" for k, v in params.items()]
    if limit is not None and len(items) > limit:
        items = [*items[:limit], f"… {len(items) - limit} more (see --format json)"]
    return "; ".join(items) or "–"


def source_parameters_text(by_source: dict[str, dict[str, Any]], *, limit: int | None = None) -> str:
    """The per-source settings of a stage for a Markdown cell ("" when no source has any)."""
    return "".join(f"<br>**{sid}**: {parameters_text(p, limit=limit)}" for sid, p in by_source.items())
