"""preference_pairs (global): validated preference pairs with their statistics."""

import dagster as dg

from assets.common import counts_table
from assets.global_stage import GlobalOutcome, global_stage_asset
from curaline.preference.stats import project_stats
from curaline.preference.validate import (
    INPUT_STAGE,
    JUDGEMENT_STAGE,
    SIGNAL_COLUMNS,
    STAGE,
    preference_sources,
    validate_project,
)


def _inputs(project, manifests):
    sources = preference_sources(project, manifests)
    inputs = [project.stage_path(INPUT_STAGE, m.id) for m in sources]
    return inputs + [p for m in sources if (p := project.stage_path(JUDGEMENT_STAGE, m.id)).exists()]


def _validate(context, project, manifests) -> GlobalOutcome:
    config = project.config.for_stage(STAGE)
    result = validate_project(project, manifests, config, project.config.for_stage("quality_filtered"))
    stats = project_stats(project, manifests, result.index)
    sources = preference_sources(project, manifests)
    numbers = stats.as_dict()
    lo, hi = numbers["length_bias_ci95"]
    return GlobalOutcome(
        by_source=result.by_source,
        events=result.events,
        dropped_by_source={s: {r: n for r, n in d.items() if n} for s, d in result.dropped.items()},
        balanced=result.balanced,
        sections=[
            f"Preference sources: {', '.join(m.id for m in sources) or 'none'}. Config: `{config}`",
            stats.markdown("Statistics of the kept pairs"),
        ],
        metadata={
            "prompts": stats.prompts, "mean_pairs_per_prompt": _finite(stats.mean_pairs_per_prompt),
            "length_bias": _finite(stats.length_bias), "length_bias_ci95": f"{lo:.4f}–{hi:.4f}",
            "multi_judged_pairs": stats.agreement.multi_judged, "contradicted_pairs": stats.agreement.contradicted,
            "pairwise_agreement": _finite(stats.agreement.pairwise),
            "pairs_by_source": counts_table(dict(stats.by_source), key="source"),
            "pairs_by_domain": counts_table(dict(stats.by_domain), key="domain"),
            "statistics": dg.MetadataValue.json(_jsonable(numbers)),
        },
    )  # fmt: skip


preference_pairs = global_stage_asset(
    name=STAGE,
    body=_validate,
    inputs=_inputs,
    signal_columns=SIGNAL_COLUMNS,
    description=(
        "Preference pairs (prompt, chosen, rejected) that passed every stage, checked as pairs: "
        "empty or identical answers, truncated answers (the quality kernel's SFT truncation rule on "
        "both answers), and contradicting pairs (the same prompt judged A > B and B > A, counted on "
        "the judgements before dedup merged them: every side is dropped). Duplicates, contaminated "
        "prompts, PII and toxicity are handled by their stages upstream. The report gives pairs per "
        "prompt, length bias with a 95 % CI, agreement of repeated judgements, margins, sources and domains."
    ),
)


def _finite(x: float) -> float:
    return x if x == x else 0.0  # NaN (no data) reads as 0 in the UI's plots


def _jsonable(value):
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value
