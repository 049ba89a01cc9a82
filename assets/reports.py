"""Compliance documents per release: the EU AI Act summary, the Art. 10 record, the dataset card.

Thin wiring around `curaline.reports`: each asset reads the release version the `release`
asset just published (its manifest in the lineage history, its shards, the ledger and the
OpenLineage events) and writes Markdown + JSON under data/reports/<name>/, beside the
release folder and never inside it, so the release's DVC content hash stays its shards'.
The same documents come from `curaline report eu-ai-act | art10 | card R`.
"""

import json
from collections.abc import Callable
from pathlib import Path

import dagster as dg

from assets.common import commit_release_outputs, dvc_track, stage_asset_args
from curaline.reports import art10 as art10_report
from curaline.reports import card as card_report
from curaline.reports import eu_ai_act as eu_report
from curaline.reports.plots import bar_svg, svg_markdown
from curaline.reports.release_data import ReleaseData, load_release, share, unknown_fields
from resources.lineage import LineageResource
from resources.project import ProjectResource


def reports_dir(project, name: str) -> Path:
    return project.data_dir / "reports" / name


def _inputs(data: ReleaseData) -> list[Path]:
    """The version's manifest in the lineage history: what every fact here is read from."""
    return [data.manifest_path] if data.version is not None and data.manifest_path.is_file() else []


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def _format(fname: str) -> str:
    """The file format an OpenLineage storage facet names: Croissant is JSON-LD."""
    return "json-ld" if fname == "croissant.json" else {".md": "markdown", ".json": "json"}[Path(fname).suffix]


def _materialize(
    context: dg.AssetExecutionContext,
    project: ProjectResource,
    lineage: LineageResource,
    build: Callable[[ReleaseData], tuple[dict[str, str], dict, list[str]]],
) -> dg.MaterializeResult:
    """Load the release version, write the stage's files, DVC-track them, report them.

    `build` also returns what the document could not fill: the asset's check (a WARN, so it
    never blocks) fails with that list, the provider's to-do before publishing it.
    """
    proj = project.project
    name = context.partition_key
    stage = context.asset_key.to_user_string()  # also its dvc.yaml stage
    data = load_release(proj, name)
    with lineage.materialization(context, inputs=_inputs(data)) as run:
        files, figures, missing = build(data)
        folder = reports_dir(proj, name)
        paths = {fname: _write(folder / fname, text) for fname, text in files.items()}
        rels = {fname: path.relative_to(proj.root).as_posix() for fname, path in paths.items()}
        hashes = dvc_track(proj, stage, name)
        commit_release_outputs(proj, name, list(rels.values()), stage.replace("_", " "))
        for fname, path in paths.items():
            run.document(path, file_format=_format(fname), version=hashes.get(rels[fname]))
    markdown = next((files[f] for f in files if f.endswith(".md")), "")
    version = hashes.get(next(iter(rels.values())))
    return dg.MaterializeResult(
        data_version=dg.DataVersion(version) if version else None,
        metadata={
            "release": data.ref, "status": data.status,
            **{f"path_{Path(f).suffix.lstrip('.')}": dg.MetadataValue.path(str(p)) for f, p in paths.items()},
            **figures,
            "report": dg.MetadataValue.md(markdown),
        },
        check_results=[dg.AssetCheckResult(
            check_name=next(iter(context.assets_def.check_keys)).name, passed=not missing,
            severity=dg.AssetCheckSeverity.WARN,
            description=(f"{len(missing)} field(s) to declare or fix: {', '.join(missing[:3])}"
                         + (", ..." if len(missing) > 3 else "") if missing else "every field known")
            + (" (blocked release: the document reports the licence gate)" if data.blocked else ""),
            metadata={"missing": len(missing), "fields": dg.MetadataValue.md("\n".join(f"- `{f}`" for f in missing) or "none")},
        )],
    )  # fmt: skip


def _report_asset(name: str, check: str, *, check_description: str, description: str):
    """What every compliance document shares: per release, after it, with one WARN check."""
    return dg.asset(
        **stage_asset_args(name), kinds={"python", "markdown", "json"}, description=description,
        check_specs=[dg.AssetCheckSpec(check, asset=name, blocking=False,
                                       description=f"{check_description} (non-blocking: a failure lists what to declare)")],
    )  # fmt: skip


def _blocked_figures(data: ReleaseData) -> dict:
    gate = data.manifest.get("gate") or {}
    return {"blocked": True, "violations": len(gate.get("violations") or [])}


@_report_asset(
    "eu_ai_act_summary", "eu_ai_act_facts_known",
    check_description="every field of the template is filled from the lineage or curaline.yaml `provider:`",
    description=(
        "The EU AI Act public summary of training content (Art. 53(1)(d), AI Office template) of the release's "
        "latest version: provider and model (curaline.yaml `provider:`), modalities and size bin from its token "
        "count, latest collection date, sources per category (public, licensed/private, crawled with crawler, "
        "period and top domains, user data, synthetic with generators), TDM opt-outs and the pipeline's "
        "content filters with counts. Whatever the lineage does not record reads 'not known'. "
        "Files: `data/reports/<release>/eu-ai-act.{md,json}`."
    ),
)
def eu_ai_act_summary(context: dg.AssetExecutionContext, project: ProjectResource, lineage: LineageResource):
    def build(data: ReleaseData):
        summary = eu_report.eu_ai_act_summary(data)
        markdown = eu_report.eu_ai_act_markdown(summary, data)
        files = {"eu-ai-act.md": markdown, "eu-ai-act.json": json.dumps(summary, indent=2, ensure_ascii=False, default=str)}
        missing = unknown_fields(summary["sections"])
        if data.blocked:
            return files, _blocked_figures(data), missing
        s = summary["sections"]
        text = s["1.3"]["fields"]["modalities"]["text"]
        categories = {"public datasets": s["2.1"]["fields"]["datasets"],
                      "licensed": s["2.2"]["fields"]["licensed"]["datasets"],
                      "other private": s["2.2"]["fields"]["other_private"]["datasets"],
                      "crawled": s["2.3"]["fields"]["crawlers"],
                      "user data": s["2.4"]["fields"]["datasets"], "synthetic": s["2.5"]["fields"]["datasets"],
                      "other": s["2.6"]["fields"]["datasets"]}  # fmt: skip
        tokens = {k: sum(int(d["tokens"]) for d in v) for k, v in categories.items() if v}
        plot = svg_markdown(bar_svg(list(tokens), list(tokens.values()), title="tokens by source category"),
                            "tokens by source category")  # fmt: skip
        figures = {"tokens": text["tokens"], "size_bin": text["size_bin"],
                   "latest_collection": s["1.3"]["fields"]["latest_collection"],
                   "sources_by_category": dg.MetadataValue.json({k: [d.get("id") or d.get("source") for d in v]
                                                                 for k, v in categories.items()}),
                   "plot": dg.MetadataValue.md(plot)}  # fmt: skip
        return files, figures, missing

    return _materialize(context, project, lineage, build)


@_report_asset(
    "art10_record", "art10_facts_known",
    check_description="every point (a)-(h) is filled: no source or operation fact reads 'not known'",
    description=(
        "The Art. 10(2) data-governance record of the release's latest version, points (a)-(h): design "
        "choices, collection and origin, preparation operations with their parameters and counts, "
        "assumptions, quantity, the bias examination (language, domain and source distributions) and the "
        "gaps measured on it. Files: `data/reports/<release>/art10.{md,json}`."
    ),
)
def art10_record(context: dg.AssetExecutionContext, project: ProjectResource, lineage: LineageResource):
    def build(data: ReleaseData):
        record = art10_report.art10_record(data)
        markdown = art10_report.art10_markdown(record, data)
        files = {"art10.md": markdown, "art10.json": json.dumps(record, indent=2, ensure_ascii=False, default=str)}
        missing = unknown_fields(record.get("points") or {})
        if data.blocked:
            return files, _blocked_figures(data), missing
        f = record["points"]["f"]["fields"]
        langs = {k: v["token_share"] for k, v in f["languages"].items()}
        srcs = {r["source"]: r["token_share"] for r in f["sources"]}
        plot = "\n\n".join([
            svg_markdown(bar_svg(list(langs), list(langs.values()), title="share of tokens by language"), "languages"),
            svg_markdown(bar_svg(list(srcs), list(srcs.values()), title="share of tokens by source"), "sources"),
        ])  # fmt: skip
        gaps = record["points"]["h"]["fields"]["gaps"]
        figures = {"operations": len(record["points"]["c"]["fields"]["operations"]), "gaps": len(gaps),
                   "gap_list": dg.MetadataValue.md("\n".join(f"- {g}" for g in gaps)),
                   "distributions": dg.MetadataValue.md(plot)}  # fmt: skip
        return files, figures, missing

    return _materialize(context, project, lineage, build)


@_report_asset(
    "dataset_card", "croissant_complete",
    check_description=("the Croissant file names every licence and shard and has url, creator and citeAs, "
                       "which mlcroissant does not check"),
    description=(
        "The dataset card of the release's latest version: datasheet sections (motivation, composition, "
        "collection, preprocessing, uses, distribution with licences and share-alike/attribution obligations, "
        "maintenance) in Markdown, and a Croissant 1.1 JSON-LD with every shard's md5 and the RAI fields. "
        "Files: `data/reports/<release>/card.md` and `croissant.json`."
    ),
)
def dataset_card(context: dg.AssetExecutionContext, project: ProjectResource, lineage: LineageResource):
    def build(data: ReleaseData):
        markdown = card_report.card_markdown(data)
        if data.blocked:
            gate = {"status": "blocked", "gate": data.manifest.get("gate")}
            return {"card.md": markdown, "croissant.json": json.dumps(gate, indent=2)}, _blocked_figures(data), []
        doc = card_report.croissant(data)
        problems = card_report.croissant_problems(doc, data)
        for problem in problems:
            context.log.warning(f"croissant: {problem}")
        m = data.manifest
        files = {"card.md": markdown, "croissant.json": json.dumps(doc, indent=2, ensure_ascii=False)}
        figures = {"records": m.get("records"), "tokens": m.get("tokens"),
                   "licences": ", ".join(x["license"] for x in card_report.licences(data)),
                   "obligations": len(m.get("obligations") or []),
                   "croissant_problems": dg.MetadataValue.md("\n".join(f"- {p}" for p in problems) or "none"),
                   "share_alike_share": round(share((m.get("license_mix") or {}).get("share-alike", 0),
                                                    m.get("records") or 0), 4)}  # fmt: skip
        return files, figures, problems

    return _materialize(context, project, lineage, build)


REPORT_ASSETS = [eu_ai_act_summary, art10_record, dataset_card]
