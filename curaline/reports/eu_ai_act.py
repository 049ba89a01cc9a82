"""The EU AI Act public summary of training content (Art. 53(1)(d)) of one release version.

Sections follow the AI Office template of 24 July 2025; titles live in SECTIONS only,
so a renamed section changes no fact. Every fact comes from the version's manifest
(sources, declarations, counts), its shards (crawled domains), the lineage (what the
pipeline did) or the project's `provider:` config; whatever none of them holds is
NOT_KNOWN, never filled in.
"""

from __future__ import annotations

from typing import Any

from curaline.licenses import generator_terms
from curaline.reports.operations import CONTENT_SAFETY_STAGES, operations
from curaline.reports.release_data import NOT_KNOWN, ReleaseData, known, md_table, pct, share, top_domain_count

TEMPLATE = "AI Office template for the public summary of training content, 24 July 2025 (AI Act Art. 53(1)(d))"
SECTIONS: dict[str, str] = {
    "1.1": "Provider identification",
    "1.2": "Model identification",
    "1.3": "Modalities, overall training data size and other characteristics",
    "2.1": "Publicly available datasets",
    "2.2": "Private non-publicly available datasets obtained from third parties",
    "2.3": "Data crawled and scraped from online sources",
    "2.4": "User data",
    "2.5": "Synthetic data",
    "2.6": "Other sources of data",
    "3.1": "Respect of reservation of rights from text and data mining exception or limitation",
    "3.2": "Removal of illegal content",
    "3.3": "Other information",
}
#: Text size bins of the template, by tokens: (upper bound exclusive, label).
TEXT_SIZE_BINS: list[tuple[float, str]] = [(1e9, "less than 1 billion tokens"),
                                            (1e13, "1 billion to 10 trillion tokens"),
                                            (float("inf"), "more than 10 trillion tokens")]  # fmt: skip
CONTENT_TYPES = {"document": "documents (web pages, articles, posts)", "instruction": "instruction-response pairs",
                 "preference": "preference pairs (prompt, chosen and rejected response)"}  # fmt: skip
#: obtained (source manifest) -> the template's category
CATEGORY = {"public-dataset": "2.1", "licensed": "2.2.1", "private": "2.2.2", "web-crawl": "2.3",
            "user-data": "2.4", "synthetic": "2.5"}  # fmt: skip


def _n(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def text_size_bin(tokens: int) -> str:
    return next(label for bound, label in TEXT_SIZE_BINS if tokens < bound)


def _mm_yyyy(date: Any) -> str:
    return date.strftime("%m/%Y") if date else NOT_KNOWN


def _source_row(s: dict[str, Any], total_tokens: int) -> dict[str, Any]:
    d = s.get("declaration") or {}
    return {"id": s["id"], "description": d.get("description") or NOT_KNOWN, "kind": s["kind"],
            "modality": "text", "license": s["license"], "records": s["records"], "tokens": s["tokens"],
            "share_of_tokens": round(share(s["tokens"], total_tokens), 6),
            "collected": d.get("collected") or NOT_KNOWN}  # fmt: skip


def eu_ai_act_summary(data: ReleaseData) -> dict[str, Any]:
    """The summary as data: {section id: {"title", "fields"}} plus the release it documents."""
    provider = data.project.config.provider
    head = _head(data)
    if data.blocked:
        return {**head, "sections": {}}
    m = data.manifest
    used = [s for s in data.sources if s.get("records")]
    total = int(m.get("tokens") or 0)
    by_cat: dict[str, list[dict[str, Any]]] = {c: [] for c in ("2.1", "2.2.1", "2.2.2", "2.3", "2.4", "2.5", "2.6")}
    for s in used:
        by_cat[CATEGORY.get(str(s.get("obtained")), "2.6")].append(s)
    langs = m.get("languages") or {}
    sections: dict[str, dict[str, Any]] = {}

    def put(sid: str, fields: dict[str, Any]) -> None:
        sections[sid] = {"title": SECTIONS[sid], "fields": fields}

    put("1.1", {"provider_name": known(provider.name), "contact": known(provider.contact),
                "authorised_representative": known(provider.authorised_representative)})  # fmt: skip
    put("1.2", {"model_name": known(provider.model_name), "model_versions": known(list(provider.model_versions)),
                "base_model": known(provider.base_model),
                "base_model_summary": known(provider.base_model_summary_url),
                "placed_on_market": known(provider.placed_on_market.isoformat() if provider.placed_on_market else None)})  # fmt: skip
    put("1.3", {
        "modalities": {
            "text": {"tokens": total, "tokens_counting": "every upsampled copy in the train split",
                     "unique_tokens": m.get("unique_tokens") if isinstance(m.get("unique_tokens"), int) else NOT_KNOWN,
                     "size_bin": text_size_bin(total), "records": m.get("records"),
                     "content_types": [CONTENT_TYPES.get(k, k) for k in sorted(m.get("kinds") or {})],
                     "token_count_method": m.get("tokenizer") or NOT_KNOWN},
            **{other: "not present (a curaline release holds text only)" for other in ("image", "audio", "video", "other")},
        },
        "latest_collection": _mm_yyyy(data.latest_collection()),
        "collection_ongoing": known(provider.collection_ongoing),
        "languages": {lang: round(share(v["tokens"], total), 6) for lang, v in sorted(langs.items())},
        "domains": {d: round(share(v["tokens"], total), 6) for d, v in sorted((m.get("domains") or {}).items())},
        "splits": {k: v.get("tokens") for k, v in (m.get("splits") or {}).items()},
    })  # fmt: skip
    put("2.1", {"used": bool(by_cat["2.1"]), "modalities": ["text"] if by_cat["2.1"] else [],
                "datasets": [_source_row(s, total) for s in by_cat["2.1"]]})  # fmt: skip
    put("2.2", {"licensed": {"used": bool(by_cat["2.2.1"]), "modalities": ["text"] if by_cat["2.2.1"] else [],
                             "datasets": [_source_row(s, total) for s in by_cat["2.2.1"]]},
                "other_private": {"used": bool(by_cat["2.2.2"]), "modalities": ["text"] if by_cat["2.2.2"] else [],
                                  "datasets": [_source_row(s, total) for s in by_cat["2.2.2"]]}})  # fmt: skip
    put("2.3", _crawled(data, by_cat["2.3"], total, provider.sme))
    put("2.4", {"used": bool(by_cat["2.4"]), "modalities": ["text"] if by_cat["2.4"] else [],
                "datasets": [_source_row(s, total) for s in by_cat["2.4"]],
                "services": [(s.get("declaration") or {}).get("description") or NOT_KNOWN for s in by_cat["2.4"]]})  # fmt: skip
    put("2.5", {"used": bool(by_cat["2.5"]), "modalities": ["text"] if by_cat["2.5"] else [],
                "datasets": [{**_source_row(s, total), **_generator(data, s)} for s in by_cat["2.5"]]})  # fmt: skip
    put("2.6", {"used": bool(by_cat["2.6"]), "datasets": [_source_row(s, total) for s in by_cat["2.6"]]})
    ops = operations(data)
    put("3.1", _tdm(data, used, provider.code_of_practice_signatory))
    safety = [o for o in ops if o.stage in CONTENT_SAFETY_STAGES]
    put("3.2", {
        "measures": [{"stage": o.stage, "measure": o.purpose, "parameters": _safety_params(o.parameters),
                      "records_removed": sum(o.removed.values()), "removed_by_reason": o.removed,
                      "records_changed": o.changed} for o in safety],
        "not_recorded": "no URL blocklist, hash-matching against known illegal material, or other illegal-content "
                        "filter is recorded in this release's lineage" if len(safety) < 3 else None,
    })  # fmt: skip
    put("3.3", {
        "pipeline": [{"stage": o.stage, "measure": o.purpose, "records_removed": sum(o.removed.values()),
                      "records_changed": o.changed} for o in ops],
        "licence_gate": {"use": (m.get("gate") or {}).get("use"), "passed": (m.get("gate") or {}).get("passed"),
                         "allowed_classes": (m.get("gate") or {}).get("allowed_classes")},
        "selected_sources_without_records": [s["id"] for s in data.sources if not s.get("records")],
    })  # fmt: skip
    return {**head, "sections": sections}


def _head(data: ReleaseData) -> dict[str, Any]:
    m = data.manifest
    return {"report": "eu-ai-act-public-summary", "template": TEMPLATE, "release": data.name,
            "version": data.version, "status": data.status, "created_at": m.get("created_at"), "use": m.get("use"),
            "git_tag": (m.get("git") or {}).get("tag"), "dvc_md5": (m.get("dvc") or {}).get("md5"),
            "gate": m.get("gate") if data.blocked else None}  # fmt: skip


def _crawled(data: ReleaseData, crawled: list[dict[str, Any]], total: int, sme: bool | None) -> dict[str, Any]:
    crawls = [(s, (s.get("declaration") or {}).get("crawl") or {}) for s in crawled]
    starts = sorted(str(c["period_start"]) for _, c in crawls if c.get("period_start"))
    ends = sorted(str(c["period_end"]) for _, c in crawls if c.get("period_end"))
    sizes = data.domains_by_size([s["id"] for s in crawled]) if crawled else None
    rule = ("SME rule: top 5 % of domains by size or 1,000, whichever is lower" if sme
            else "top 10 % of domains by size" + ("" if sme is False else " (provider.sme not known: the general rule)"))  # fmt: skip
    if sizes is None:
        top: Any = NOT_KNOWN + (" (this version's shards are not in the working tree: "
                                f"`curaline release checkout {data.ref}`)" if crawled else "")  # fmt: skip
        n_domains: Any = NOT_KNOWN
    elif not sizes.domains:  # no record holds a URL: the domains are not known, not zero
        top = NOT_KNOWN + f" (no record of the crawled sources has a URL: {sizes.rows_without_url:,} without one)"
        n_domains = NOT_KNOWN
    else:
        n = top_domain_count(len(sizes.domains), sme=bool(sme))
        top = [{"domain": d, "tokens": t, "records": r} for d, t, r in sizes.domains[:n]]
        n_domains = len(sizes.domains)
    return {
        "used": bool(crawled), "modalities": ["text"] if crawled else [],
        "crawlers": [{"source": s["id"], "crawler": c.get("crawler") or NOT_KNOWN,
                      "user_agent": c.get("user_agent") or NOT_KNOWN,
                      "respects_robots_txt": known(c.get("respects_robots_txt")),
                      "tdm_opt_out": c.get("tdm_opt_out") or NOT_KNOWN,
                      "period": f"{c.get('period_start') or NOT_KNOWN} to {c.get('period_end') or NOT_KNOWN}",
                      "purpose": (s.get("declaration") or {}).get("description") or NOT_KNOWN,
                      "tokens": s["tokens"], "records": s["records"]} for s, c in crawls],
        "collection_period": f"{starts[0]} to {ends[-1]}" if starts and ends else (NOT_KNOWN if crawled else None),
        "kinds_of_sources": sorted({str(s.get("domain") or NOT_KNOWN) for s in crawled}),
        "domains": n_domains, "top_domains_rule": rule, "top_domains": top,
        "records_without_url": sizes.rows_without_url if sizes is not None else (NOT_KNOWN if crawled else None),
        "paywalls": _paywalls(crawls) if crawled else None,
    }  # fmt: skip


def _paywalls(crawls: list[tuple[dict[str, Any], dict[str, Any]]]) -> str:
    """How each crawl treated paywalls (crawl.paywalls); "not known ..." while any crawl does not say."""
    declared = "; ".join(f"{s['id']}: {c['paywalls']}" for s, c in crawls if c.get("paywalls"))
    silent = [s["id"] for s, c in crawls if not c.get("paywalls")]
    if not silent:
        return declared
    return f"{NOT_KNOWN} for {', '.join(silent)}" + (f" ({declared})" if declared else "")


def _generator(data: ReleaseData, s: dict[str, Any]) -> dict[str, Any]:
    syn = (s.get("declaration") or {}).get("synthetic") or {}
    gen = syn.get("generator")
    return {"generator": gen or NOT_KNOWN, "generator_terms": syn.get("terms_url") or NOT_KNOWN,
            "terms_verdict": generator_terms(gen, data.project.config.generator_terms) if gen else NOT_KNOWN}  # fmt: skip


def _tdm(data: ReleaseData, used: list[dict[str, Any]], signatory: bool | None) -> dict[str, Any]:
    rows = []
    for s in used:
        d = s.get("declaration") or {}
        crawl = d.get("crawl") or {}
        if s.get("obtained") == "web-crawl":
            own = crawl.get("own_crawler")
            whose = ("own crawler" if own is True else "third-party crawler" if own is False
                     else "crawler (own or third-party: not known)")
            measure = (f"{whose} {crawl.get('crawler') or NOT_KNOWN}: robots.txt "
                       f"{'respected' if crawl.get('respects_robots_txt') else 'not respected' if crawl.get('respects_robots_txt') is False else NOT_KNOWN}; "
                       f"TDM opt-outs {crawl.get('tdm_opt_out') or NOT_KNOWN}")  # fmt: skip
        else:
            measure = f"obtained as {s.get('obtained')} under {s['license']}; supplier's opt-out handling {NOT_KNOWN}"
        rows.append({"source": s["id"], "obtained": s.get("obtained"), "measure": measure,
                     "legal_basis": d.get("legal_basis") or NOT_KNOWN,
                     **({"own_crawler": known(crawl.get("own_crawler"))} if s.get("obtained") == "web-crawl" else {})})  # fmt: skip
    return {"code_of_practice_signatory": known(signatory), "measures": rows,
            "reservations": reservations(data)}  # fmt: skip


#: Hosts listed per source in the reservation table (the busiest first).
TOP_HOSTS = 10


def reservations(data: ReleaseData) -> dict[str, Any] | str:
    """Pages carrying a TDM reservation (TDMRep, noai) found in the release's web sources and what
    became of them (removed by its gate, removed by another filter, not removed), per source and
    top host, from the ledger (`ReleaseData.tdm_reservations`). NOT_KNOWN when the ledger cannot say."""
    found = data.tdm_reservations()
    if not isinstance(found, dict):
        return found
    rows = [{**{k: v for k, v in e.items() if k != "hosts"}, "top_hosts": e["hosts"][:TOP_HOSTS]}
            for e in found["by_source"]]  # fmt: skip
    return {**{k: v for k, v in found.items() if k != "by_source"}, "by_source": rows}


def _safety_params(params: dict[str, Any]) -> dict[str, Any]:
    keys = ("drop_severity", "tag_severity", "category_drop_severity", "types", "placeholder")
    return {k: v for k, v in params.items() if k in keys}


# ---- Markdown -------------------------------------------------------------------------------


def reservations_md(res: dict[str, Any] | str) -> str:
    if not isinstance(res, dict):
        return f"**Pages with a rights reservation (TDMRep, noai):** {res}."
    head = (f"**Pages with a rights reservation (TDMRep `tdm-reservation`, `noai`/`noimageai`):** {res['found']} "
            f"found in the release's web sources, {res['removed']} removed by the release's gate, "
            f"{res['removed_otherwise']} removed by another filter first, {res['not_removed']} not removed "
            f"(counted from the ledger: the ingest's reservation flags and the removals of this version's run).")  # fmt: skip
    parts = [head]
    if res["by_source"]:
        parts.append(md_table(
            ["source", "found", "removed (gate)", "removed otherwise", "not removed",
             "top hosts (found/removed by the gate)"],
            [[r["source"], r["found"], r["removed"], r["removed_otherwise"], r["not_removed"],
              ", ".join(f"{h['host']} ({h['found']}/{h['removed']})" for h in r["top_hosts"]) or "none"]
             for r in res["by_source"]]))  # fmt: skip
    if res.get("not_checked"):
        parts.append("Not checked for reservations: "
                     + "; ".join(f"{r['source']} ({r['why']})" for r in res["not_checked"]) + ".")  # fmt: skip
    return "\n\n".join(parts)


def blocked_markdown(title: str, summary: dict[str, Any], data: ReleaseData) -> str:
    gate = data.manifest.get("gate") or {}
    rows = [[v["source"], v["license"], v["class"], v["records"], v["why"]] for v in gate.get("violations", [])]
    return "\n\n".join([
        f"# {title}: {data.name}",
        f"**Status: BLOCKED.** The licence gate refuses release `{data.name}` for {gate.get('use', NOT_KNOWN)} use, "
        "so no version of it exists and no training content is released under this name. "
        "Nothing below documents training content.",
        md_table(["source", "licence", "class", "records", "why"], rows),
        "Fix: remove these sources from the spec's `sources`, or change its `use`; then `curaline run`.",
    ])  # fmt: skip


def _rows(datasets: list[dict[str, Any]]) -> str:
    return md_table(["source", "description", "licence", "records", "tokens", "share of tokens", "collected"],
                    [[d["id"], d["description"], d["license"], d["records"], d["tokens"], pct(d["share_of_tokens"]),
                      d["collected"]] for d in datasets])  # fmt: skip


def eu_ai_act_markdown(summary: dict[str, Any], data: ReleaseData) -> str:
    title = "EU AI Act public summary of training content"
    if data.blocked:
        return blocked_markdown(title, summary, data)
    s = {k: v["fields"] for k, v in summary["sections"].items()}
    t = {k: f"### {k} {v['title']}" for k, v in summary["sections"].items()}
    text = s["1.3"]["modalities"]["text"]
    out = [
        f"# {title}: {data.ref}",
        f"_{TEMPLATE}._ Release `{data.ref}` ({summary['status']}, {summary['use']} use), built "
        f"{summary['created_at']}, git tag `{summary['git_tag']}`, DVC `{summary['dvc_md5']}`. "
        f"Every field comes from the release manifest, its shards and the lineage; \"{NOT_KNOWN}\" marks what "
        "none of them records.",
        "## 1. General information",
        t["1.1"], md_table(["field", "value"], [[k.replace("_", " "), v] for k, v in s["1.1"].items()]),
        t["1.2"], md_table(["field", "value"], [[k.replace("_", " "), v] for k, v in s["1.2"].items()]),
        t["1.3"],
        md_table(["modality", "size", "size bin", "content types"],
                 [["text", f"{text['tokens']:,} tokens counting upsampled copies ({_n(text['unique_tokens'])} counting "
                           f"each record once; {text['records']:,} records)", text["size_bin"],
                   ", ".join(text["content_types"])],
                  *[[k, "–", v, "–"] for k, v in s["1.3"]["modalities"].items() if k != "text"]]),
        f"Tokens are counted as: {text['token_count_method']}.",
        f"- **Latest collection date:** {s['1.3']['latest_collection']}\n"
        f"- **Collection ongoing:** {s['1.3']['collection_ongoing']}\n"
        f"- **Languages (share of tokens):** {', '.join(f'{k} {pct(v)}' for k, v in s['1.3']['languages'].items())}\n"
        f"- **Domains (share of tokens):** {', '.join(f'{k} {pct(v)}' for k, v in s['1.3']['domains'].items())}",
        "## 2. List of data sources",
        t["2.1"], f"**Used:** {known(s['2.1']['used'])}. Modalities: {known(s['2.1']['modalities']) if s['2.1']['used'] else '–'}.",
        _rows(s["2.1"]["datasets"]),
        t["2.2"],
        f"**2.2.1 Licensed from rightsholders — used:** {known(s['2.2']['licensed']['used'])}.",
        _rows(s["2.2"]["licensed"]["datasets"]),
        f"**2.2.2 Other private datasets — used:** {known(s['2.2']['other_private']['used'])}.",
        _rows(s["2.2"]["other_private"]["datasets"]),
        t["2.3"], _crawl_md(s["2.3"]),
        t["2.4"], f"**Used:** {known(s['2.4']['used'])}.", _rows(s["2.4"]["datasets"]),
        t["2.5"], f"**Used:** {known(s['2.5']['used'])}.",
        md_table(["source", "generator", "generator terms", "terms verdict", "records", "tokens"],
                 [[d["id"], d["generator"], d["generator_terms"], d["terms_verdict"], d["records"], d["tokens"]]
                  for d in s["2.5"]["datasets"]]),
        t["2.6"], f"**Used:** {known(s['2.6']['used'])}.", _rows(s["2.6"]["datasets"]),
        "## 3. Data processing aspects",
        t["3.1"], f"**Signatory of the GPAI Code of Practice:** {s['3.1']['code_of_practice_signatory']}.",
        md_table(["source", "obtained", "measure", "legal basis"],
                 [[r["source"], r["obtained"], r["measure"], r["legal_basis"]] for r in s["3.1"]["measures"]]),
        reservations_md(s["3.1"]["reservations"]),
        t["3.2"],
        md_table(["stage", "measure", "parameters", "records removed", "records changed"],
                 [[r["stage"], r["measure"], ", ".join(f"{k}={v}" for k, v in r["parameters"].items()) or "–",
                   r["records_removed"], r["records_changed"]] for r in s["3.2"]["measures"]]),
        *([f"_Not recorded:_ {s['3.2']['not_recorded']}."] if s["3.2"]["not_recorded"] else []),
        t["3.3"],
        md_table(["stage", "operation", "records removed", "records changed"],
                 [[r["stage"], r["measure"], r["records_removed"], r["records_changed"]] for r in s["3.3"]["pipeline"]]),
        f"Licence gate for {s['3.3']['licence_gate']['use']} use: "
        f"{'passed' if s['3.3']['licence_gate']['passed'] else 'failed'} "
        f"(allowed classes: {known(s['3.3']['licence_gate']['allowed_classes'])}).",
    ]  # fmt: skip
    if s["3.3"]["selected_sources_without_records"]:
        out.append("Selected by the spec but left with no records after the pipeline: "
                   + ", ".join(s["3.3"]["selected_sources_without_records"]) + ".")  # fmt: skip
    return "\n\n".join(out) + "\n"


def _crawl_md(c: dict[str, Any]) -> str:
    if not c["used"]:
        return "**Used:** no."
    parts = [
        f"**Used:** yes. Modalities: text. Collection period: {c['collection_period']}. "
        f"Kinds of sources: {', '.join(c['kinds_of_sources'])}. Paywalls: {c['paywalls']}.",
        md_table(["source", "crawler", "user agent", "robots.txt respected", "TDM opt-outs", "period", "purpose"],
                 [[r["source"], r["crawler"], r["user_agent"], r["respects_robots_txt"], r["tdm_opt_out"],
                   r["period"], r["purpose"]] for r in c["crawlers"]]),
    ]  # fmt: skip
    if isinstance(c["top_domains"], list):
        without = f"; {c['records_without_url']:,} records without a URL" if c.get("records_without_url") else ""
        parts.append(f"**Most relevant domains** ({c['top_domains_rule']}; {c['domains']} domains in all{without}):")
        parts.append(md_table(["domain", "tokens", "records"],
                              [[d["domain"], d["tokens"], d["records"]] for d in c["top_domains"]]))  # fmt: skip
    else:
        parts.append(f"**Most relevant domains:** {c['top_domains']}.")
    return "\n\n".join(parts)
