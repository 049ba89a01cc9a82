"""The dataset card of one release version: datasheet sections in Markdown, and Croissant 1.1.

The Markdown follows "Datasheets for Datasets" (Gebru et al., 2021): motivation,
composition, collection, preprocessing, uses, distribution, maintenance. The Croissant
JSON-LD describes the same version for tools: every shard as a FileObject with its md5,
one RecordSet per record kind, and the Responsible-AI (RAI) fields filled from the same
facts. mlcroissant validates its structure but not the licence nor what an auditor needs,
so `croissant_problems` checks those.
"""

from __future__ import annotations

from typing import Any

from curaline.reports.art10 import art10_record
from curaline.reports.eu_ai_act import blocked_markdown, eu_ai_act_summary
from curaline.reports.operations import operations
from curaline.reports.release_data import NOT_KNOWN, ReleaseData, collected, known, md_table, pct, share

CROISSANT_VERSION = "http://mlcommons.org/croissant/1.1"
#: The @context of Croissant 1.1, as mlcroissant 1.1.1 writes it.
CROISSANT_CONTEXT: dict[str, Any] = {
    "@language": "en", "@vocab": "https://schema.org/", "arrayShape": "cr:arrayShape", "citeAs": "cr:citeAs",
    "column": "cr:column", "conformsTo": "dct:conformsTo", "containedIn": "cr:containedIn",
    "cr": "http://mlcommons.org/croissant/", "rai": "http://mlcommons.org/croissant/RAI/",
    "data": {"@id": "cr:data", "@type": "@json"}, "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/", "description": {"@container": "@language"},
    "equivalentProperty": "cr:equivalentProperty", "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract", "field": "cr:field", "fileProperty": "cr:fileProperty", "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet", "format": "cr:format", "includes": "cr:includes", "isArray": "cr:isArray",
    "isLiveDataset": "cr:isLiveDataset", "jsonPath": "cr:jsonPath", "key": "cr:key", "md5": "cr:md5",
    "name": {"@container": "@language"}, "parentField": "cr:parentField", "path": "cr:path",
    "recordSet": "cr:recordSet", "references": "cr:references", "regex": "cr:regex", "repeated": "cr:repeated",
    "replace": "cr:replace", "samplingRate": "cr:samplingRate", "sc": "https://schema.org/",
    "separator": "cr:separator", "source": "cr:source", "subField": "cr:subField", "transform": "cr:transform",
}  # fmt: skip
#: The RAI properties this card fills (Croissant RAI 1.0); any other stays absent.
RAI_FIELDS = (
    "rai:dataCollection", "rai:dataCollectionType", "rai:dataCollectionMissingData", "rai:dataCollectionRawData",
    "rai:dataCollectionTimeframe", "rai:dataPreprocessingProtocol", "rai:dataManipulationProtocol",
    "rai:dataImputationProtocol", "rai:dataAnnotationProtocol", "rai:personalSensitiveInformation",
    "rai:dataBiases", "rai:dataLimitations", "rai:dataUseCases", "rai:dataSocialImpact",
    "rai:dataReleaseMaintenancePlan", "rai:machineAnnotationTools",
)  # fmt: skip
#: The machine labels a release ships, by the stage that computes them (for rai:machineAnnotationTools)
MACHINE_LABELS = {
    "language_checked": "language, lang_score: curaline.kernels.langid (character n-gram language identification)",
    "quality_filtered": "q_* quality signals: curaline.kernels.quality (Gopher, C4 and FineWeb heuristic rules)",
    "pii_redacted": "pii_counts, pii_total: curaline.kernels.pii (pattern and checksum detectors of personal data)",
    "toxicity_screened": "toxicity: curaline.kernels.toxicity (per-category lexicon classifier with context rules)",
    "deduplicated": "dup_cluster: curaline.kernels.minhash and curaline.kernels.dedup (MinHash LSH, Jaccard)",
}
#: Fields a published card must have (Croissant's required and recommended dataset fields).
REQUIRED_FIELDS = ("name", "description", "license", "url", "conformsTo", "version", "datePublished",
                   "distribution", "recordSet", "creator", "citeAs")  # fmt: skip
#: Croissant field -> the curaline.yaml `provider:` key that supplies it
PROVIDER_KEYS = {"url": "dataset_url", "citeAs": "citation", "creator": "name"}
META_COLUMNS = [("doc_id", "sc:Text"), ("source_id", "sc:Text"), ("kind", "sc:Text"), ("license", "sc:Text"),
                ("license_class", "sc:Text"), ("language", "sc:Text"), ("domain", "sc:Text"), ("url", "sc:Text"),
                ("split", "sc:Text"), ("n_tokens", "sc:Integer"), ("repeat", "sc:Integer")]  # fmt: skip
TEXT_COLUMNS = {"document": ["text"], "instruction": ["prompt", "context", "response"],
                "preference": ["prompt", "chosen", "rejected"]}  # fmt: skip


def license_url(spdx: str, declared: str | None) -> str:
    """A licence as a URL: the SPDX page of a listed id, else the manifest's license_url."""
    if spdx.startswith("LicenseRef-") or " " in spdx:
        return declared or NOT_KNOWN
    return f"https://spdx.org/licenses/{spdx}.html"


def licences(data: ReleaseData) -> list[dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for s in data.sources:
        if not s.get("records"):
            continue
        entry = out.setdefault(s["license"], {"license": s["license"], "class": s.get("license_class"),
                                              "url": license_url(s["license"], (s.get("declaration") or {}).get("license_url")),
                                              "sources": [], "records": 0})  # fmt: skip
        entry["sources"].append(s["id"])
        entry["records"] += int(s["records"])
    return sorted(out.values(), key=lambda e: -e["records"])


def _timeframe(data: ReleaseData) -> str:
    dates = []
    for s in data.sources:
        if not s.get("records"):
            continue
        d = s.get("declaration") or {}
        crawl = d.get("crawl") or {}
        dates += [str(x)[:10] for x in (d.get("collected"), crawl.get("period_start"), crawl.get("period_end")) if x]
    return f"{min(dates)}/{max(dates)}" if dates else NOT_KNOWN


def card_facts(data: ReleaseData) -> dict[str, Any]:
    """What both the Markdown card and the Croissant file say, gathered once per ReleaseData
    (the dataset_card asset writes both from one)."""
    if "card_facts" not in data._cache:
        data._cache["card_facts"] = _gather_card_facts(data)
    return data._cache["card_facts"]


def _gather_card_facts(data: ReleaseData) -> dict[str, Any]:
    m = data.manifest
    provider = data.project.config.provider
    summary = eu_ai_act_summary(data)
    record = art10_record(data)
    ops = operations(data)
    used = [s for s in data.sources if s.get("records")]
    personal = sorted({s["id"] for s in used if (s.get("declaration") or {}).get("personal_data") == "expected"})
    unknown_personal = sorted({s["id"] for s in used if (s.get("declaration") or {}).get("personal_data") in (None, "unknown")})
    pii = next((o for o in ops if o.stage == "pii_redacted"), None)
    return {
        "summary": summary, "art10": record, "operations": ops, "licences": licences(data),
        "obligations": list(m.get("obligations") or []), "timeframe": _timeframe(data),
        "provider": provider, "used": used,
        "personal": {"expected_in": personal, "unknown_in": unknown_personal,
                     "redacted_records": pii.changed if pii else 0,
                     "redaction": (pii.parameters.get("types") if pii else None)},
        "gaps": record["points"]["h"]["fields"]["gaps"],
        "quality_models": quality_models(data, ops),
    }  # fmt: skip


def quality_models(data: ReleaseData, ops: list[Any]) -> list[dict[str, Any]]:
    """The learned quality classifiers the release's records went through, with what each was
    trained on (sources and licences, from the model file's own record)."""
    from curaline.kernels.quality_model import load_model
    from curaline.lineage.models import model_description

    quality = next((o for o in ops if o.stage == "quality_filtered"), None)
    if quality is None:
        return []
    refs: dict[str, list[str]] = {}
    default = quality.parameters.get("quality_model")
    by_source = quality.parameters_by_source
    for s in data.sources:
        if not s.get("records") or s.get("kind") != "document":
            continue
        ref = (by_source.get(str(s["id"])) or {}).get("quality_model", default)
        if ref is not None:
            refs.setdefault(str(ref), []).append(str(s["id"]))
    out = []
    for ref, sources in refs.items():
        try:
            model = load_model(ref, data.project.root)
            out.append({"model": ref, "digest": model.digest, "sources": sources, "trained_on": model_description(model.meta),
                        "licenses": model.meta.get("licenses") or []})  # fmt: skip
        except (OSError, ValueError, KeyError) as exc:
            out.append({"model": ref, "digest": None, "sources": sources, "trained_on": f"{NOT_KNOWN} ({exc})", "licenses": []})
    return out


# ---- Markdown -------------------------------------------------------------------------------


def card_markdown(data: ReleaseData) -> str:
    title = "Dataset card"
    if data.blocked:
        return blocked_markdown(title, {}, data)
    f = card_facts(data)
    m = data.manifest
    provider = f["provider"]
    ops = f["operations"]
    total = int(m.get("tokens") or 0)
    sec = f["summary"]["sections"]
    out = [
        f"# {title}: {data.ref}",
        f"{m.get('description') or NOT_KNOWN}\n\n"
        f"Version {data.version} ({data.status}), built {m.get('created_at')}; git tag `{(m.get('git') or {}).get('tag')}`, "
        f"DVC `{(m.get('dvc') or {}).get('md5')}`. Restore the exact bytes: `curaline release checkout {data.ref}`.",
        "## Motivation",
        f"- **Purpose:** {m.get('description') or NOT_KNOWN}\n- **Intended use:** {m.get('use')} "
        f"(licence gate: {', '.join((m.get('gate') or {}).get('allowed_classes') or []) or NOT_KNOWN} licence classes allowed)\n"
        f"- **Created by:** {known(provider.name)} (contact: {known(provider.contact)})\n"
        f"- **Model it trains:** {known(provider.model_name)}",
        "## Composition",
        f"{m.get('records', 0):,} unique records ({m.get('rows', 0):,} rows with upsampled copies, {total:,} tokens "
        f"counting the copies, {_count(m.get('unique_tokens'))} counting each record once; tokens in the tables below "
        "count the copies too; "
        f"size bin: {sec['1.3']['fields']['modalities']['text']['size_bin']}), text only.",
        md_table(["kind", "records", "tokens"], [[k, v["records"], v["tokens"]] for k, v in (m.get("kinds") or {}).items()]),
        md_table(["split", "records", "rows", "tokens"],
                 [[k, v["records"], v["rows"], v["tokens"]] for k, v in (m.get("splits") or {}).items()]),
        "**Languages:** " + ", ".join(f"{k} {pct(share(v['tokens'], total))}" for k, v in sorted((m.get("languages") or {}).items())),
        "**Sources**\n\n" + md_table(
            ["source", "obtained", "kind", "licence", "class", "records", "tokens"],
            [[s["id"], s.get("obtained"), s["kind"], s["license"], s.get("license_class"), s["records"], s["tokens"]]
             for s in data.sources]),
        "Each row carries doc_id, source_id, kind, license, license_class, language, domain, url, split, n_tokens "
        "and repeat (0 for the first copy), then the kind's text columns.",
        "## Collection process",
        md_table(["source", "how obtained", "collected", "crawler / generator", "legal basis"],
                 [[s["id"], s.get("obtained"), collected(s),
                   _how(s), (s.get("declaration") or {}).get("legal_basis") or NOT_KNOWN] for s in f["used"]]),
        f"Collection timeframe: {f['timeframe']}. Crawled domains: "
        + ((", ".join(d["domain"] for d in sec["2.3"]["fields"]["top_domains"]) or NOT_KNOWN)
           if isinstance(sec["2.3"]["fields"]["top_domains"], list) and sec["2.3"]["fields"]["used"]
           else ("none" if not sec["2.3"]["fields"]["used"] else str(sec["2.3"]["fields"]["top_domains"]))) + ".",
        "## Preprocessing, cleaning, labelling",
        md_table(["stage", "operation", "records removed", "records changed"],
                 [[o.stage, o.purpose, sum(o.removed.values()), o.changed] for o in ops]),
        "Parameters of every stage: `curaline report art10 " + data.ref + " --format json`.",
        "**Quality classifier:** " + ("; ".join(
            f"`{q['model']}` (sha256 {q['digest']}) on {', '.join(q['sources'])}: {q['trained_on']}"
            for q in f["quality_models"]) or "none (rules only)"),
        "## Uses",
        f"Allowed by its licences for **{m.get('use')}** use."
        + (" Its records were decontaminated against the project's evaluation sets, so those sets stay valid for "
           "evaluating a model trained on it." if "decontaminated" in data.pipeline_stages else ""),
        "**Personal data:** " + _personal_text(f["personal"]),
        "**Known gaps and limitations**\n\n" + "\n".join(f"- {g}" for g in f["gaps"]),
        "## Distribution",
        "**Licences**\n\n" + md_table(["licence", "class", "records", "sources", "URL"],
                                     [[x["license"], x["class"], x["records"], ", ".join(x["sources"]), x["url"]]
                                      for x in f["licences"]]),
        "**Obligations (share-alike, attribution, use restrictions)**\n\n"
        + ("\n".join(f"- **{o['obligation']}** — {o['source']} ({o['license']}): {o['note']}" for o in f["obligations"])
           or "none"),
        "## Maintenance",
        _maintenance(data),
    ]  # fmt: skip
    return "\n\n".join(out) + "\n"


def _how(s: dict[str, Any]) -> str:
    d = s.get("declaration") or {}
    if d.get("crawl"):
        return str(d["crawl"].get("crawler") or NOT_KNOWN)
    if d.get("synthetic"):
        return str(d["synthetic"].get("generator") or NOT_KNOWN)
    return "–"


def _personal_text(p: dict[str, Any]) -> str:
    parts = [f"expected in {', '.join(p['expected_in'])}" if p["expected_in"] else "no source declares personal data",
             f"not known for {', '.join(p['unknown_in'])} (declared unknown, or not declared)" if p["unknown_in"] else "",
             f"{p['redacted_records']} records had personal data redacted"
             + (f" (types: {', '.join(p['redaction'])})" if p["redaction"] else "")]  # fmt: skip
    return "; ".join(x for x in parts if x) + "."


def _maintenance(data: ReleaseData) -> str:
    m = data.manifest
    provider = data.project.config.provider
    return (f"Versions are append-only (`curaline release list`); this is v{data.version} of {len(data.versions)}. "
            "A changed source, a takedown or an erasure request rebuilds the release as a new version; every "
            "version stays restorable byte for byte. Published at: "
            f"{known(provider.dataset_url)}. Owner: {known(provider.contact)}. "
            f"Built from git commit {(m.get('git') or {}).get('commit') or NOT_KNOWN}.")  # fmt: skip


# ---- Croissant --------------------------------------------------------------------------------


def croissant(data: ReleaseData) -> dict[str, Any]:
    """Croissant 1.1 JSON-LD with the RAI fields; contentUrl paths are relative to the release folder."""
    if data.blocked:
        raise ValueError(f"release {data.name} is blocked by the licence gate: it has no content to describe")
    f = card_facts(data)
    m = data.manifest
    provider = f["provider"]
    ops = f["operations"]
    name = data.name
    files = [x for x in m.get("files") or [] if x.get("kind")]
    distribution: list[dict[str, Any]] = [
        {"@type": "cr:FileObject", "@id": x["path"], "name": x["path"], "contentUrl": x["path"],
         "encodingFormat": "application/x-parquet", "md5": x["md5"], "contentSize": f"{x['bytes']} B"}
        for x in files
    ]  # fmt: skip
    kinds = sorted({x["kind"] for x in files})
    distribution += [{"@type": "cr:FileSet", "@id": f"{k}-shards", "name": f"{k}-shards",
                      "description": f"the {k} shards of every split", "encodingFormat": "application/x-parquet",
                      "includes": f"{k}/*.parquet"} for k in kinds]  # fmt: skip
    record_sets = []
    for k in kinds:
        fields = [*META_COLUMNS, *[(c, "sc:Text") for c in TEXT_COLUMNS.get(k, [])]]
        record_sets.append({
            "@type": "cr:RecordSet", "@id": k, "name": k, "description": f"{k} records, one row per record copy",
            # an upsampled record appears once per copy: the key is the doc id and the copy's index
            "key": [{"@id": f"{k}/doc_id"}, {"@id": f"{k}/repeat"}],
            "field": [{"@type": "cr:Field", "@id": f"{k}/{col}", "name": col, "dataType": dtype,
                       "source": {"fileSet": {"@id": f"{k}-shards"}, "extract": {"column": col}}}
                      for col, dtype in fields],
        })  # fmt: skip
    crawl = f["summary"]["sections"]["2.3"]["fields"]
    doc: dict[str, Any] = {
        "@context": CROISSANT_CONTEXT,
        "@type": "sc:Dataset",
        "conformsTo": CROISSANT_VERSION,
        "name": name,
        "description": m.get("description") or NOT_KNOWN,
        "version": f"{data.version}.0.0",
        "datePublished": m.get("created_at"),
        "license": [x["url"] for x in f["licences"]],
        # what the project does not know is left out (never a made-up value); croissant_problems names it
        **({"url": provider.dataset_url} if provider.dataset_url else {}),
        "citeAs": provider.citation or _cite(data),
        **({"creator": {"@type": "sc:Organization", "name": provider.name,
                        **({"email": provider.contact} if provider.contact else {})}} if provider.name else {}),
        "inLanguage": sorted(m.get("languages") or {}),
        "keywords": sorted({str(s.get("domain")) for s in f["used"] if s.get("domain")}),
        "distribution": distribution,
        "recordSet": record_sets,
        "rai:dataCollection": "; ".join(f"{s['id']}: {s.get('obtained')}"
                                        + (f" ({_how(s)})" if _how(s) != "–" else "") for s in f["used"]),
        "rai:dataCollectionType": sorted({_collection_type(str(s.get("obtained"))) for s in f["used"]}),
        "rai:dataCollectionMissingData": "input that could not be read is quarantined with its reason, not imputed: "
                                         + (", ".join(f"{k}={v}" for k, v in ops[0].removed.items())
                                            if ops and ops[0].stage == "raw_records" and ops[0].removed else "none"),
        # never a local path (it means nothing to a reader): what the raw data is and where it is kept
        "rai:dataCollectionRawData": "; ".join(
            f"{s['id']}: {s.get('obtained')} {s['kind']} data under {s['license']}, raw files versioned with the "
            "project (DVC, or pinned by md5 in lineage/sources.lock), not distributed" for s in f["used"]),
        "rai:machineAnnotationTools": [MACHINE_LABELS[st] for st in data.pipeline_stages if st in MACHINE_LABELS],
        "rai:dataCollectionTimeframe": f["timeframe"],
        "rai:dataPreprocessingProtocol": [f"{o.stage}: {o.purpose}; removed {sum(o.removed.values())}, "
                                          f"changed {o.changed}" for o in ops],
        "rai:dataManipulationProtocol": f"mix by {(m.get('mix') or {}).get('by')}: {(m.get('mix') or {}).get('rule')}",
        "rai:dataImputationProtocol": "none: no value is imputed",
        "rai:dataAnnotationProtocol": "no annotation in this release" if "preference" not in kinds
        else "preference pairs as the source declares them; no curaline-side annotation",
        "rai:personalSensitiveInformation": _personal_text(f["personal"]),
        "rai:dataBiases": ["languages by tokens: " + ", ".join(
            f"{k} {pct(share(v['tokens'], m.get('tokens') or 0))}" for k, v in sorted((m.get("languages") or {}).items())),
                           *[g for g in f["gaps"] if g.startswith(("language", "mix group", "source"))]],
        "rai:dataLimitations": f["gaps"],
        "rai:dataUseCases": f"{m.get('use')} use (licence classes allowed: "
                            f"{', '.join((m.get('gate') or {}).get('allowed_classes') or [])})",
        "rai:dataSocialImpact": NOT_KNOWN,
        "rai:dataReleaseMaintenancePlan": _maintenance(data),
    }  # fmt: skip
    if crawl["used"] and isinstance(crawl["top_domains"], list):
        doc["rai:dataCollection"] += "; crawled domains (largest): " + ", ".join(d["domain"] for d in crawl["top_domains"])
    return doc


def _count(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else NOT_KNOWN


def _cite(data: ReleaseData) -> str:
    """A citation from what is recorded, when the provider gives none: who, what, which exact bytes."""
    m = data.manifest
    who = data.project.config.provider.name or f"curaline project {data.project.config.name}"
    year = str(m.get("created_at") or "")[:4] or NOT_KNOWN
    return (f"{who} ({year}). {data.name} dataset, version {data.version}. git tag "
            f"{(m.get('git') or {}).get('tag') or NOT_KNOWN}, DVC {(m.get('dvc') or {}).get('md5') or NOT_KNOWN}.")


def _collection_type(obtained: str) -> str:
    return {"web-crawl": "Web Scraping", "synthetic": "Synthetic Data", "user-data": "User Data",
            "licensed": "Licensed data", "private": "Private data", "public-dataset": "Existing datasets"}.get(obtained, obtained)  # fmt: skip


def croissant_problems(doc: dict[str, Any], data: ReleaseData) -> list[str]:
    """What mlcroissant does not check: a licence per licence in the release, the fields a
    published card needs, and every shard listed with its md5. Empty when all is there."""
    problems = []
    for key in REQUIRED_FIELDS:
        value = doc.get(key)
        if value in (None, "", [], {}, NOT_KNOWN):
            hint = PROVIDER_KEYS.get(key)
            problems.append(f"{key}: {NOT_KNOWN}" + (f" (set provider.{hint} in curaline.yaml)" if hint else ""))
    listed_licences = doc.get("license") or []
    wanted = {lic["url"] for lic in licences(data)}
    if set(listed_licences) != wanted:
        problems.append(f"license: lists {sorted(listed_licences)}, the release holds {sorted(wanted)}")
    if NOT_KNOWN in listed_licences:
        problems.append("license: a custom LicenseRef-* licence has no license_url in its source manifest")
    listed = {d.get("contentUrl"): d.get("md5") for d in doc.get("distribution") or [] if d.get("@type") == "cr:FileObject"}
    for f in data.manifest.get("files") or []:
        if f.get("kind") and listed.get(f["path"]) != f["md5"]:
            problems.append(f"distribution: {f['path']} missing or without its md5")
    missing_rai = [k for k in RAI_FIELDS if k not in doc]
    if missing_rai:
        problems.append(f"RAI fields missing: {', '.join(missing_rai)}")
    return problems
