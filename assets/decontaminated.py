"""decontaminated (global): training records that copy evaluation items removed."""

from assets.common import counts_markdown, counts_table
from assets.global_stage import GlobalOutcome, global_stage_asset
from curaline.decontamination import decontaminate_project, input_files, row_groups
from curaline.kernels.decontam import REASON


def _decontaminate(context, project, manifests) -> GlobalOutcome:
    config = project.config.for_stage("decontaminated")
    from assets.record_stage import engine_config
    from curaline.engine import make_engine

    engine = engine_config(project)
    groups = row_groups(project, manifests)
    if engine.kind == "ray" or (engine.resolved_workers > 1 and groups > 1):  # row groups as tasks, index shipped once
        context.log.info(f"decontaminated: {groups} row group(s) on the {engine.label} engine")
        with make_engine(engine) as running:
            stats, events = decontaminate_project(project, manifests, config, engine=running)
    else:
        stats, events = decontaminate_project(project, manifests, config)
    pairs = {f"{a} ← {b}": n for (a, b), n in stats.by_eval_set.items()}
    return GlobalOutcome(
        by_source=stats.by_source,
        events=events,
        dropped_by_source={s: {REASON: n - k} for s, (n, k) in stats.by_source.items() if n > k},
        sections=[
            f"Against {len(stats.eval_sets)} evaluation set(s): {', '.join(stats.eval_sets) or 'none'}; "
            f"{stats.eval_items} eval items indexed ({stats.eval_items_too_short} too short to be evidence). "
            f"Config: `{config}`",
            counts_markdown("Contaminated records by source ← eval set", pairs, key="sources"),
            *([f"On the engine: {stats.tasks} row group(s) as tasks; the evaluation index "
               f"({stats.index_bytes / 2**20:.1f} MiB) was read {stats.index_loads} time(s), once per worker "
               "process, not once per task."] if stats.tasks else []),
        ],
        metadata={"eval_sets": ", ".join(stats.eval_sets), "eval_items": stats.eval_items,
                  "engine": f"{engine.label}: {stats.tasks} task(s)" if stats.tasks else "driver",
                  "dropped_by_eval_set": counts_table(pairs, key="sources")},  # fmt: skip
    )


decontaminated = global_stage_asset(
    name="decontaminated",
    body=_decontaminate,
    inputs=input_files,  # the evaluation sets' files, not every source's: the reports name the sets from them
    description=(
        "Deduplicated training records minus those that share a word 13-gram (GPT-3's method; "
        "short items use their own length, down to 8 tokens) with any item of a registered "
        "evaluation set: every source of kind `evaluation`. Prompts and both responses of "
        "SFT and preference records are checked. The ledger names the eval item and set."
    ),
)
