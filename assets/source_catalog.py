"""source_catalog: every validated source manifest of the project, as a table."""


from collections import Counter

import dagster as dg

from assets.common import column_schema, counts_table, dvc_track, schema_check_result, stage_asset_args
from curaline.schemas import SourceCatalogRow, validate_file
from curaline.sources import catalog_table, load_manifests
from curaline.store import write_parquet
from resources.lineage import LineageResource
from resources.project import ProjectResource

CATALOG_KEY = dg.AssetKey("source_catalog")


@dg.asset(
    **stage_asset_args("source_catalog"),
    kinds={"python", "parquet"},
    description=(
        "Every source manifest in sources/, validated: licence (SPDX), how the data was "
        "obtained, crawl or synthetic details, legal basis, owner. Invalid manifests are "
        "listed in the metadata and their sources are not ingested."
    ),
    check_specs=[
        dg.AssetCheckSpec("catalog_schema", asset=CATALOG_KEY, blocking=True,
                          description="the catalog matches the SourceCatalogRow Pandera model"),
        dg.AssetCheckSpec("manifests_valid", asset=CATALOG_KEY,
                          description="every manifest in sources/ is valid"),
    ],  # fmt: skip
)
def source_catalog(context: dg.AssetExecutionContext, project: ProjectResource, lineage: LineageResource):
    proj = project.project
    manifests, problems = load_manifests(proj.sources_dir, strict=False)
    table = catalog_table(manifests, proj.root)
    path = proj.stage_path("source_catalog")
    with lineage.materialization(context, inputs=[m.path for m in manifests]) as run:
        write_parquet(path, table)
        version = dvc_track(proj, "source_catalog")["data/source_catalog.parquet"]
        schema_check = schema_check_result(validate_file(path, SourceCatalogRow), "catalog_schema", CATALOG_KEY)
        run.output(path, asset_key=CATALOG_KEY, model=SourceCatalogRow, version=version, rows=table.num_rows,
                   licence_mix=False)  # fmt: skip
        run.checks(path, [schema_check])
    for p in problems:
        context.log.error(str(p))
    licences = Counter(m.license for m in manifests)
    problems_md = "\n".join(f"- `{p.file}`: **{p.field}**: {p.message}" for p in problems) or "none"
    yield dg.MaterializeResult(
        asset_key=CATALOG_KEY,
        data_version=dg.DataVersion(version),
        metadata={
            "dagster/row_count": table.num_rows,
            "dagster/column_schema": column_schema(SourceCatalogRow),
            "path": dg.MetadataValue.path(str(path)),
            "sources": dg.MetadataValue.md(
                "| source | kind | licence | obtained | domain |\n|---|---|---|---|---|\n"
                + "\n".join(f"| {m.id} | {m.kind} | {m.license} | {m.obtained} | {m.domain or ''} |" for m in manifests)
            ),
            "licence_mix": counts_table(licences, "license"),
            "invalid_manifests": len({p.file for p in problems}),
            "problems": dg.MetadataValue.md(problems_md),
        },
    )
    yield schema_check
    yield dg.AssetCheckResult(
        check_name="manifests_valid",
        asset_key=CATALOG_KEY,
        passed=not problems,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"problems": dg.MetadataValue.md(problems_md)},
    )
