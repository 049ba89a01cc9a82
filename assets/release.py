"""release (per release spec): the versioned dataset the training team consumes.

Thin wiring around `curaline.release`: build (select, gate, mix, split, shard), publish
(DVC, git tag, lineage history), ledger rows for what the release itself dropped, and
the checks an auditor asks for: the licence gate (blocking), split leakage, the schema.
"""

import json
import warnings

import dagster as dg

from assets.common import (
    OWNER,
    RELEASE,
    column_schema,
    counts_markdown,
    counts_table,
    release_partitions,
    schema_check_result,
)
from curaline import stages
from curaline.drift import DriftConfig, compare, previous_manifest
from curaline.ledger import write_ledger
from curaline.release.build import RELEASE_STAGE, build_release, gate_report, release_dir
from curaline.release.checks import split_leaks
from curaline.release.schema import RELEASE_MODELS, ReleaseDocument
from curaline.release.spec import load_spec, spec_digest
from curaline.release.versions import publish, record_blocked, signals_path
from curaline.reports.plots import SERIES_COLORS, grouped_bar_svg, svg_markdown
from curaline.schemas import validate_file
from curaline.store import release_unused_memory
from resources.lineage import LineageResource
from resources.project import ProjectResource

KEY = dg.AssetKey("release")


def _table(rows: list[dict], columns: list[tuple[str, str]]) -> dg.TableMetadataValue:
    schema = dg.TableSchema(columns=[dg.TableColumn(n, t) for n, t in columns])
    return dg.MetadataValue.table([dg.TableRecord({n: r.get(n) for n, _ in columns}) for r in rows], schema=schema)


def _partitioned_checks(*specs: dg.AssetCheckSpec) -> list[dg.AssetCheckSpec]:
    """The checks with the release partitions, so each release has its own results (a blocked
    release's failed gate stays failed when another release passes). Dagster 1.13 marks
    partitioned checks as a preview; the warning is expected."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return [dg.AssetCheckSpec(s.name, asset=s.asset_key, blocking=s.blocking, description=s.description,
                                  partitions_def=release_partitions) for s in specs]  # fmt: skip


@dg.asset(
    name="release",
    partitions_def=release_partitions,
    deps=[
        "decontaminated",
        "deduplicated",
        "semantic_deduplicated",
        "preference_pairs",
        dg.AssetDep("toxicity_screened", partition_mapping=dg.AllPartitionMapping()),
    ],
    group_name=RELEASE,
    owners=[OWNER],
    kinds={"python", "parquet", "dvc"},
    code_version=stages.code_version("release"),
    description=(
        "One versioned release per spec in `releases/<name>.yaml`: the curated records of the spec's "
        "sources, filtered by its languages and quality profile, gated by licence for its use, mixed to "
        "its target weights (documented up/down-sampling rule) and split by a seeded hash of each "
        "record's duplicate cluster (no leakage). Parquet shards + manifest under `data/releases/<name>/`, "
        "tracked by DVC, tagged `release/<name>/v<N>` in git; restore any version with "
        "`curaline release checkout`."
    ),
    metadata={"dagster/column_schema": column_schema(ReleaseDocument)},
    check_specs=_partitioned_checks(
        dg.AssetCheckSpec("release_license_gate", asset=KEY, blocking=True,
                          description="no record whose licence (or generator terms) the release's use forbids"),
        dg.AssetCheckSpec("release_splits_disjoint", asset=KEY, blocking=True,
                          description="no record, duplicate cluster or prompt in two splits"),
        dg.AssetCheckSpec("release_schema", asset=KEY, blocking=True,
                          description="every shard matches its kind's release model"),
        dg.AssetCheckSpec("release_drift", asset=KEY, blocking=False,
                          description="language, domain, source, licence, length and quality-signal drift "
                                      "against the previous version, each under its threshold"),
    ),  # fmt: skip
)
def release(context: dg.AssetExecutionContext, project: ProjectResource, lineage: LineageResource):
    proj = project.project
    name = context.partition_key
    manifests = project.manifests()
    spec_path = proj.releases_dir / f"{name}.yaml"
    digest = spec_digest(spec_path)  # before loading: the sensor compares it with the file it sees
    spec = load_spec(spec_path, manifests)
    with lineage.materialization(context) as run:
        build = build_release(proj, spec, manifests)
        write_ledger(proj, build.events, stage=RELEASE_STAGE, partition=name, run_id=context.run_id)
        if build.blocked:
            # a blocked release is a failed partition, not a green one: the step fails with the
            # gate report as its failure (the run page leads with it), after the gate's check
            # result for this partition, and no materialization is recorded
            report = gate_report(spec, build.gate)
            record_blocked(proj, build, spec_digest=digest)
            context.log.error(report)
            violations = _table(build.gate["violations"], [("source", "string"), ("license", "string"),
                                                           ("class", "string"), ("records", "int"), ("why", "string")])  # fmt: skip
            fix = (f"edit {spec_path.name}: remove these sources from `sources`, or change `use`; the source sensor "
                   "rebuilds the release when the spec changes (re-executing this run cannot pass the gate)")  # fmt: skip
            yield dg.AssetCheckResult(check_name="release_license_gate", asset_key=KEY, passed=False,
                                      description=report.splitlines()[0],
                                      metadata={"report": dg.MetadataValue.md(f"```\n{report}\n```"),
                                                "violations": violations, "fix": fix})  # fmt: skip
            raise dg.Failure(description=report, allow_retries=False,
                             metadata={"status": "blocked", "spec": dg.MetadataValue.path(str(spec_path)),
                                       "spec_digest": digest, "violations": violations, "fix": fix})  # fmt: skip
        published = publish(proj, build)
        release_unused_memory()
        manifest = published.manifest
        folder = release_dir(proj, name)
        removals: dict[str, int] = {}
        for src in manifest["sources"]:
            for reason, n in src["removed"].items():
                removals[reason] = removals.get(reason, 0) + n
        for f in manifest["files"]:
            if f["kind"]:
                run.output(folder / f["path"], asset_key=KEY, version=f["md5"], rows=f["rows"],
                           removals=removals if f is manifest["files"][0] else None)  # fmt: skip
    leaks = split_leaks(folder, project=proj)
    schema_reports = [validate_file(folder / f["path"], RELEASE_MODELS[f["kind"]]) for f in manifest["files"] if f["kind"]]
    failing = [r for r in schema_reports if not r.passed]
    yield dg.MaterializeResult(
        asset_key=KEY,
        data_version=dg.DataVersion(manifest["content_md5"]),
        metadata={**_metadata(manifest, published.new, removals, folder), "spec_digest": digest},
    )
    yield dg.AssetCheckResult(check_name="release_license_gate", asset_key=KEY, passed=True,
                              metadata={"use": spec.use, "allowed_classes": ", ".join(build.gate["allowed_classes"]),
                                        "license_mix": counts_table(manifest["license_mix"], key="class")})  # fmt: skip
    yield dg.AssetCheckResult(check_name="release_splits_disjoint", asset_key=KEY, passed=not leaks,
                              metadata={"leaks": len(leaks), "examples": "\n".join(leaks[:10]) or "none"})  # fmt: skip
    if schema_reports:
        yield schema_check_result(failing[0] if failing else schema_reports[0], "release_schema", KEY)
    else:
        yield dg.AssetCheckResult(check_name="release_schema", asset_key=KEY, passed=True, metadata={"files": 0})
    yield _drift_check(proj, name, manifest)


def _drift_check(proj, name: str, manifest: dict) -> dg.AssetCheckResult:
    """Drift of this version against the previous one: a failed WARN check the operator sees."""
    previous = previous_manifest(proj, name, manifest["version"])
    if previous is None:
        return dg.AssetCheckResult(check_name="release_drift", asset_key=KEY, passed=True,
                                   severity=dg.AssetCheckSeverity.WARN,
                                   metadata={"note": f"v{manifest['version']} is the first version: nothing to compare"})  # fmt: skip
    old_version, old_manifest = previous
    report = compare(old_manifest, manifest, signals_path(proj, name, old_version),
                     signals_path(proj, name, manifest["version"]), proj.config.stage_config("drift", DriftConfig))  # fmt: skip
    drifted = ", ".join(d.label for d in report.drifted) or "none"
    return dg.AssetCheckResult(
        check_name="release_drift", asset_key=KEY, passed=report.passed, severity=dg.AssetCheckSeverity.WARN,
        description=f"v{old_version} → v{manifest['version']}: drifted dimensions: {drifted}",
        metadata={"compared_with": f"v{old_version}", "drifted": drifted,
                  "report": dg.MetadataValue.md(report.markdown())},
    )  # fmt: skip


def _metadata(manifest: dict, new: bool, removals: dict[str, int], folder) -> dict:
    mix = manifest["mix"]["groups"]
    mix_rows = [{"group": g, "available_tokens": e.get("available_tokens", 0), "target_weight": round(e.get("target_weight") or 0, 4),
                 "actual_weight": e.get("actual_weight", 0.0), "sampling_rate": round(e.get("rate", 0.0), 4)}
                for g, e in sorted(mix.items())]  # fmt: skip
    source_rows = [{"source": s["id"], "license": s["license"], "class": s["license_class"], "candidates": s["candidates"],
                    "records": s["records"], "rows": s["rows"], "tokens": s["tokens"]} for s in manifest["sources"]]  # fmt: skip
    split_rows = [{"split": k, **v} for k, v in manifest["splits"].items()]
    plot = svg_markdown(
        grouped_bar_svg([r["group"] for r in mix_rows],
                        [("target", [r["target_weight"] for r in mix_rows], SERIES_COLORS[0]),
                         ("actual", [r["actual_weight"] for r in mix_rows], SERIES_COLORS[1])],
                        title="mix: target vs actual token share (train)"),
        "mix weights",
    )  # fmt: skip
    obligations = "\n".join(f"- **{o['obligation']}** — {o['source']} ({o['license']}): {o['note']}"
                            for o in manifest["obligations"]) or "none"  # fmt: skip
    report = "\n\n".join([
        f"### Release {manifest['name']} v{manifest['version']} ({'new version' if new else 'unchanged'}) — {manifest['use']} use",
        manifest.get("description") or "",
        f"**{manifest['records']}** records, **{manifest['rows']}** rows, **{manifest['tokens']}** tokens in "
        f"{sum(1 for f in manifest['files'] if f['kind'])} shards. Git tag `{manifest['git']['tag']}`, "
        f"DVC hash `{manifest['dvc']['md5']}`.",
        f"**Mix** by {manifest['mix']['by']}: {manifest['mix']['rule']}",
        plot,
        counts_markdown("Records dropped by the release", removals),
        "**Licence obligations**\n\n" + obligations,
    ])  # fmt: skip
    return {
        "dagster/row_count": manifest["rows"], "records": manifest["records"], "tokens": manifest["tokens"],
        "version": manifest["version"], "new_version": new, "git_tag": manifest["git"]["tag"] or "",
        "git_commit": manifest["git"]["commit"] or "", "dvc_md5": manifest["dvc"]["md5"] or "",
        "license_mix": counts_table(manifest["license_mix"], key="class"),
        "sources": _table(source_rows, [("source", "string"), ("license", "string"), ("class", "string"),
                                        ("candidates", "int"), ("records", "int"), ("rows", "int"), ("tokens", "int")]),
        "splits": _table(split_rows, [("split", "string"), ("records", "int"), ("rows", "int"), ("tokens", "int")]),
        "mix": _table(mix_rows, [("group", "string"), ("available_tokens", "int"), ("target_weight", "float"),
                                 ("actual_weight", "float"), ("sampling_rate", "float")]),
        "removals_by_reason": counts_table(removals),
        "path": dg.MetadataValue.path(str(folder)),
        "manifest": dg.MetadataValue.json(json.loads(json.dumps({k: manifest[k] for k in
                                         ("name", "version", "records", "tokens", "license_mix", "gate", "git", "dvc")}))),
        "report": dg.MetadataValue.md(report),
    }  # fmt: skip
