"""decontaminated (global): training records that copy evaluation items removed."""

import dagster as dg

from assets.common import DEDUP, OWNER, counts_markdown, counts_table, per_source_schema_check, per_source_version
from curaline.decontamination import OUTPUT_STAGE, decontaminate_project
from curaline.kernels.decontam import DecontamConfig
from curaline.ledger import write_ledger
from curaline.store import file_digest
from resources.lineage import LineageResource
from resources.project import ProjectResource

KEY = dg.AssetKey(OUTPUT_STAGE)


@dg.asset(
    name=OUTPUT_STAGE,
    deps=["deduplicated", "normalized"],
    group_name=DEDUP,
    owners=[OWNER],
    kinds={"python", "parquet"},
    code_version="1",
    description=(
        "Deduplicated training records minus those that share a word 13-gram (GPT-3's method; "
        "short items use their own length, down to 8 tokens) with any item of a registered "
        "evaluation set: every source of kind `evaluation`. Prompts and both responses of "
        "SFT and preference records are checked. The ledger names the eval item and set."
    ),
    check_specs=[
        dg.AssetCheckSpec("decontaminated_balance", asset=KEY, blocking=True,
                          description="records in = kept + dropped, and the ledger agrees"),
        dg.AssetCheckSpec("decontaminated_schema", asset=KEY, blocking=True,
                          description="every source's output matches its kind's Pandera model"),
    ],  # fmt: skip
)
def decontaminated(context: dg.AssetExecutionContext, project: ProjectResource, lineage: LineageResource):
    proj = project.project
    config = proj.config.stage_config("decontaminate", DecontamConfig)
    manifests = project.manifests()
    with lineage.materialization(context) as run:  # inputs: deduplicated records, evaluation items
        stats, events = decontaminate_project(proj, manifests, config)
        write_ledger(proj, events, stage=OUTPUT_STAGE, partition=None, run_id=context.run_id)
        for source_id, (rows_in, kept) in sorted(stats.by_source.items()):
            path = proj.stage_path(OUTPUT_STAGE, source_id)
            removals = {"contaminated_eval_ngram": rows_in - kept} if rows_in > kept else {}
            run.output(path, asset_key=KEY, version=file_digest(path), rows=kept, rows_in=rows_in, removals=removals)
    dropped = stats.rows_in - stats.kept
    pairs = {f"{a} ← {b}": n for (a, b), n in stats.by_eval_set.items()}
    report = "\n\n".join([
        f"### Decontamination against {len(stats.eval_sets)} evaluation set(s): {', '.join(stats.eval_sets) or 'none'}",
        f"{stats.eval_items} eval items indexed ({stats.eval_items_too_short} too short to be evidence). "
        f"{stats.rows_in} training records in, **{stats.kept} kept**, **{dropped} contaminated**. Config: `{config}`",
        counts_markdown("Contaminated records by source ← eval set", pairs, key="sources"),
    ])  # fmt: skip
    yield dg.MaterializeResult(
        asset_key=KEY,
        data_version=per_source_version(proj, OUTPUT_STAGE, stats.by_source),
        metadata={
            "dagster/row_count": stats.kept, "rows_in": stats.rows_in, "rows_out": stats.kept,
            "dropped": dropped, "eval_sets": ", ".join(stats.eval_sets), "eval_items": stats.eval_items,
            "dropped_by_eval_set": counts_table(pairs, key="sources"),
            "path": dg.MetadataValue.path(str(proj.data_dir / OUTPUT_STAGE)),
            "report": dg.MetadataValue.md(report),
        },
    )  # fmt: skip
    yield dg.AssetCheckResult(
        check_name="decontaminated_balance", asset_key=KEY,
        passed=events.num_rows == dropped, metadata={"in": stats.rows_in, "kept": stats.kept, "ledger_rows": events.num_rows},
    )  # fmt: skip
    kinds = {m.id: m.kind for m in manifests if m.id in stats.by_source}
    yield per_source_schema_check(proj, OUTPUT_STAGE, kinds, "decontaminated_schema", KEY)
