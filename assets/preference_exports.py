"""preference_exports (per release): DPO, conversational and reward-model JSONL with a card."""

import dagster as dg

from assets.common import commit_release_outputs, counts_table, dvc_track, stage_asset_args
from curaline.preference.export import FORMAT_KEYS, KIND, SPLITS, ExportError, export_release, release_dir
from resources.lineage import LineageResource
from resources.project import ProjectResource

EXPORTS = "preference_exports"
EXPORTS_KEY = dg.AssetKey(EXPORTS)


@dg.asset(
    **stage_asset_args(EXPORTS),
    kinds={"python", "json"},
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
