"""preference_pairs (global): validated preference pairs; preference_exports (per release):
DPO, conversational and reward-model JSONL with a card."""


import dagster as dg
import pyarrow.compute as pc

from assets.common import (
    OWNER,
    PREFERENCE,
    column_schema,
    commit_release_outputs,
    counts_markdown,
    counts_table,
    dvc_track,
    per_source_version,
    release_partitions,
    schema_check_result,
)
from curaline.kernels.quality import QualityConfig
from curaline.ledger import write_ledger
from curaline.preference.export import FORMAT_KEYS, KIND, SPLITS, ExportError, export_release, release_dir
from curaline.preference.stats import project_stats
from curaline.preference.validate import (
    INPUT_STAGE,
    JUDGEMENT_STAGE,
    REASONS,
    SIGNAL_COLUMNS,
    STAGE,
    PreferenceConfig,
    preference_sources,
    validate_project,
)
from curaline.schemas import stage_schema, validate_file
from curaline.store import file_digest
from resources.lineage import LineageResource
from resources.project import ProjectResource

PAIRS_KEY = dg.AssetKey(STAGE)
EXPORTS = "preference_exports"
EXPORTS_KEY = dg.AssetKey(EXPORTS)


@dg.asset(
    name=STAGE,
    deps=["decontaminated"],
    group_name=PREFERENCE,
    owners=[OWNER],
    kinds={"python", "parquet"},
    code_version="1",
    description=(
        "Preference pairs (prompt, chosen, rejected) that passed every stage, checked as pairs: "
        "empty or identical answers, truncated answers (the quality kernel's SFT truncation rule on "
        "both answers), and contradicting pairs (the same prompt judged A > B and B > A, counted on "
        "the judgements before dedup merged them: every side is dropped). Duplicates, contaminated "
        "prompts, PII and toxicity are handled by their stages upstream. The report gives pairs per "
        "prompt, length bias with a 95 % CI, agreement of repeated judgements, margins, sources and domains."
    ),
    check_specs=[
        dg.AssetCheckSpec(
            "preference_pairs_balance",
            asset=PAIRS_KEY,
            blocking=True,
            description="pairs in = kept + dropped, and the ledger has one drop row per dropped pair",
        ),
        dg.AssetCheckSpec(
            "preference_pairs_schema",
            asset=PAIRS_KEY,
            blocking=True,
            description="every source's pairs match the preference Pandera model plus the pair signals",
        ),
    ],  # fmt: skip
)
def preference_pairs(context: dg.AssetExecutionContext, project: ProjectResource, lineage: LineageResource):
    proj = project.project
    config = proj.config.stage_config(STAGE, PreferenceConfig)
    quality = proj.config.stage_config("quality", QualityConfig)
    manifests = project.manifests()
    sources = preference_sources(proj, manifests)
    inputs = [proj.stage_path(INPUT_STAGE, m.id) for m in sources]
    inputs += [p for m in sources if (p := proj.stage_path(JUDGEMENT_STAGE, m.id)).exists()]
    schema = stage_schema("preference", SIGNAL_COLUMNS)
    with lineage.materialization(context, inputs=inputs) as run:
        result = validate_project(proj, manifests, config, quality)
        write_ledger(proj, result.events, stage=STAGE, partition=None, run_id=context.run_id)
        for source_id, (rows_in, kept) in sorted(result.by_source.items()):
            path = proj.stage_path(STAGE, source_id)
            run.output(path, asset_key=PAIRS_KEY, model=schema, version=file_digest(path), rows=kept, rows_in=rows_in,
                       removals=dict(result.dropped[source_id]))  # fmt: skip
        stats = project_stats(proj, manifests, result.index)
    dropped = result.rows_in - result.kept
    by_reason = {r: n for r in REASONS if (n := result.dropped_by_reason[r])}
    numbers = stats.as_dict()
    report = "\n\n".join([
        f"### Preference pairs of {len(sources)} source(s): {', '.join(m.id for m in sources) or 'none'}",
        f"{result.rows_in} pairs in, **{result.kept} kept**, **{dropped} dropped**. Config: `{config}`",
        counts_markdown("Dropped by reason", by_reason),
        stats.markdown("Statistics of the kept pairs"),
    ])  # fmt: skip
    lo, hi = numbers["length_bias_ci95"]
    yield dg.MaterializeResult(
        asset_key=PAIRS_KEY,
        data_version=per_source_version(proj, STAGE, result.by_source),
        metadata={
            "dagster/row_count": result.kept, "dagster/column_schema": column_schema(schema),
            "rows_in": result.rows_in, "rows_out": result.kept, "dropped": dropped,
            "dropped_by_reason": counts_table(by_reason),
            "prompts": stats.prompts, "mean_pairs_per_prompt": _finite(stats.mean_pairs_per_prompt),
            "length_bias": _finite(stats.length_bias), "length_bias_ci95": f"{lo:.4f}–{hi:.4f}",
            "multi_judged_pairs": stats.agreement.multi_judged, "contradicted_pairs": stats.agreement.contradicted,
            "pairwise_agreement": _finite(stats.agreement.pairwise),
            "pairs_by_source": counts_table(dict(stats.by_source), key="source"),
            "pairs_by_domain": counts_table(dict(stats.by_domain), key="domain"),
            "statistics": dg.MetadataValue.json(_jsonable(numbers)),
            "path": dg.MetadataValue.path(str(proj.data_dir / STAGE)),
            "report": dg.MetadataValue.md(report),
        },
    )  # fmt: skip
    ledger_drops = int(pc.sum(pc.equal(result.events["action"], "drop")).as_py() or 0)
    yield dg.AssetCheckResult(
        check_name="preference_pairs_balance", asset_key=PAIRS_KEY,
        passed=result.balanced and ledger_drops == dropped,
        metadata={"in": result.rows_in, "kept": result.kept, "dropped": dropped, "ledger_drop_rows": ledger_drops},
    )  # fmt: skip
    reports = [validate_file(proj.stage_path(STAGE, s), schema) for s in sorted(result.by_source)]
    failing = [r for r in reports if not r.passed]
    if reports:
        yield schema_check_result(failing[0] if failing else reports[0], "preference_pairs_schema", PAIRS_KEY)
    else:
        yield dg.AssetCheckResult(
            check_name="preference_pairs_schema", asset_key=PAIRS_KEY, passed=True, metadata={"files": 0}
        )


@dg.asset(
    name=EXPORTS,
    deps=["release"],
    partitions_def=release_partitions,
    group_name=PREFERENCE,
    owners=[OWNER],
    kinds={"python", "json"},
    code_version="1",
    description=(
        "The release's preference pairs in training formats, one JSONL per split: `dpo/` "
        "(prompt, chosen, rejected: TRL DPOTrainer's standard format), `conversational/` (the same as "
        "role/content message lists) and `reward/` (chosen and rejected conversations plus `margin`: "
        "TRL RewardTrainer), with a card listing counts, sources and licences. Under `data/exports/<release>/`."
    ),
    check_specs=[
        dg.AssetCheckSpec(
            "preference_exports_complete",
            asset=EXPORTS_KEY,
            blocking=True,
            description="every format holds exactly the release's preference rows, split by split",
        ),
    ],  # fmt: skip
)
def preference_exports(context: dg.AssetExecutionContext, project: ProjectResource, lineage: LineageResource):
    proj = project.project
    name = context.partition_key
    shards = sorted((release_dir(proj, name) / KIND).glob("*.parquet"))
    with lineage.materialization(context, inputs=shards) as run:
        try:
            result = export_release(proj, name)
        except ExportError as err:
            raise dg.Failure(description=str(err)) from None
        for f in result.files:
            run.document(result.folder / f.path, file_format="jsonl", version=f.md5, rows=f.rows)
        run.document(result.folder / "README.md", file_format="markdown")
    expected = result.expected_rows() or result.rows
    mismatches = [f"{f.path}: {f.rows} rows, release has {expected[f.split]}"
                  for f in result.files if f.rows != expected[f.split]]  # fmt: skip
    mismatches += [f"{fmt}/{s}.jsonl missing, release has {expected[s]} rows"
                   for s in SPLITS if expected[s] and result.rows[s] == 0 for fmt in FORMAT_KEYS]  # fmt: skip
    digest = dvc_track(proj, "preference_exports", name)[f"data/exports/{name}"]
    commit_release_outputs(proj, name, [f"data/exports/{name}"], "preference exports")
    files = dg.MetadataValue.table(
        [dg.TableRecord({"file": f.path, "rows": f.rows, "bytes": f.bytes, "md5": f.md5}) for f in result.files],
        schema=dg.TableSchema(columns=[dg.TableColumn("file", "string"), dg.TableColumn("rows", "int"),
                                       dg.TableColumn("bytes", "int"), dg.TableColumn("md5", "string")]),
    )  # fmt: skip
    card = (result.folder / "README.md").read_text(encoding="utf-8")
    yield dg.MaterializeResult(
        asset_key=EXPORTS_KEY,
        data_version=dg.DataVersion(digest),
        metadata={
            "dagster/row_count": result.total_rows,
            **{f"rows_{s}": result.rows[s] for s in SPLITS},
            "sources": len(result.sources), "rows_with_margin": result.with_margin,
            "licences": counts_table(dict(result.licences), key="licence"),
            "files": files, "path": dg.MetadataValue.path(str(result.folder)),
            "card": dg.MetadataValue.md(card),
        },
    )  # fmt: skip
    yield dg.AssetCheckResult(
        check_name="preference_exports_complete", asset_key=EXPORTS_KEY, passed=not mismatches,
        metadata={"expected": dg.MetadataValue.json(expected), "exported": dg.MetadataValue.json(result.rows),
                  "problems": "\n".join(mismatches) or "none"},
    )  # fmt: skip


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


#: What definitions.py wires in: the global pair validation and the per-release exports.
PREFERENCE_ASSETS = [preference_pairs, preference_exports]
