"""The Art. 10(2) data-governance record of one release version.

Points (a)-(h) of Art. 10(2), each answered from the manifest (spec, sources and their
declarations, distributions), the operations the records went through (parameters and
counts from the lineage) and checks computed here: coverage gaps and distribution skews
are measured, not asserted. Titles live in POINTS so they can be renamed freely.
"""

from __future__ import annotations

from typing import Any

from curaline.reports.eu_ai_act import blocked_markdown
from curaline.reports.operations import operations, parameters_text, source_parameters_text
from curaline.reports.release_data import NOT_KNOWN, ReleaseData, known, md_table, pct, share

POINTS: dict[str, str] = {
    "a": "Design choices",
    "b": "Data collection processes and origin of data",
    "c": "Data-preparation operations",
    "d": "Assumptions",
    "e": "Availability, quantity and suitability",
    "f": "Examination for possible biases",
    "g": "Measures to detect, prevent and mitigate biases",
    "h": "Data gaps and shortcomings",
}
#: A language or domain under this share of tokens is reported as thinly covered.
THIN_SHARE = 0.02
#: A mix group whose actual weight misses its target by more than this (absolute) is a skew.
MIX_TOLERANCE = 0.02
#: A source that lost more than this share of its records in the pipeline is reported.
HEAVY_LOSS = 0.5


def art10_record(data: ReleaseData) -> dict[str, Any]:
    m = data.manifest
    head = {"report": "art10-data-governance-record", "release": data.name, "version": data.version,
            "status": data.status, "created_at": m.get("created_at"), "use": m.get("use"),
            "git_tag": (m.get("git") or {}).get("tag"), "dvc_md5": (m.get("dvc") or {}).get("md5"),
            "gate": m.get("gate") if data.blocked else None}  # fmt: skip
    if data.blocked:
        return {**head, "points": {}}
    ops = operations(data)
    total = int(m.get("tokens") or 0)
    spec = data.spec
    points: dict[str, dict[str, Any]] = {}

    def put(key: str, fields: dict[str, Any]) -> None:
        points[key] = {"title": POINTS[key], "fields": fields}

    put("a", {"purpose": m.get("description") or NOT_KNOWN, "use": m.get("use"), "sources": spec.get("sources"),
              "languages": spec.get("languages"), "quality": spec.get("quality"), "dedup": spec.get("dedup"),
              "decontaminate": spec.get("decontaminate"), "mix": spec.get("mix"),
              "mix_rule": (m.get("mix") or {}).get("rule"), "splits": spec.get("splits"),
              "licence_gate": {k: (m.get("gate") or {}).get(k) for k in ("use", "allowed_classes", "passed")},
              "token_count_method": m.get("tokenizer") or NOT_KNOWN})  # fmt: skip
    put("b", {"sources": [_origin(s) for s in data.sources]})
    put("c", {"operations": [o.to_json() for o in ops]})
    put("d", {"intended_to_represent": m.get("description") or NOT_KNOWN,
              "per_source": {s["id"]: (s.get("declaration") or {}).get("description") or NOT_KNOWN for s in data.sources},
              "stated": ["each source's manifest is truthful about licence, origin and personal data (declared, "
                         "not verified by the pipeline)",
                         "token counts use a word/punctuation pre-tokenizer, not the model's tokenizer",
                         "a record's language is its detected majority language"]})  # fmt: skip
    put("e", {"records": m.get("records"), "rows": m.get("rows"), "tokens": total, "bytes": m.get("bytes"),
              "splits": m.get("splits"), "kinds": m.get("kinds"), "files": len(m.get("files") or []),
              "available_at": {"dvc_path": (m.get("dvc") or {}).get("path"), "dvc_md5": (m.get("dvc") or {}).get("md5"),
                               "git_tag": (m.get("git") or {}).get("tag"),
                               "restore": f"curaline release checkout {data.ref}"},
              "licence_classes": m.get("license_mix"), "licences": m.get("licenses")})  # fmt: skip
    put("f", _distributions(data, total, ops))
    put("g", {"measures": [{"stage": o.stage, "measure": o.purpose, "records_removed": sum(o.removed.values())}
                           for o in ops if o.stage in ("language_checked", "deduplicated", "decontaminated",
                                                       "toxicity_screened", "release")],
              "mix": {g: {k: e.get(k) for k in ("target_weight", "actual_weight", "sampling_rate", "available_tokens")}
                      for g, e in sorted(((m.get("mix") or {}).get("groups") or {}).items())},
              "drift_check": "each new version is compared with the previous one (release_drift asset check)"})  # fmt: skip
    put("h", {"gaps": _gaps(data, total, ops)})
    return {**head, "points": points}


def _origin(s: dict[str, Any]) -> dict[str, Any]:
    d = s.get("declaration") or {}
    return {"id": s["id"], "obtained": s.get("obtained"), "kind": s["kind"], "license": s["license"],
            "license_class": s.get("license_class"), "license_url": d.get("license_url") or NOT_KNOWN,
            "location": d.get("location") or NOT_KNOWN, "format": d.get("format") or NOT_KNOWN,
            "collected": d.get("collected") or NOT_KNOWN, "owner": d.get("owner") or NOT_KNOWN,
            "crawl": d.get("crawl"), "synthetic": d.get("synthetic"),
            "personal_data": d.get("personal_data") or NOT_KNOWN,
            "original_purpose_and_legal_basis": d.get("legal_basis") or NOT_KNOWN,
            "candidates": s.get("candidates"), "records": s.get("records"), "tokens": s.get("tokens")}  # fmt: skip


def _distributions(data: ReleaseData, total: int, ops: list[Any]) -> dict[str, Any]:
    m = data.manifest
    removed_by_source: dict[str, int] = {}
    for o in ops:
        if o.stage == "release":
            continue
        for sid, n in o.removed_by_source.items():
            removed_by_source[sid] = removed_by_source.get(sid, 0) + n
    sources = []
    for s in data.sources:
        before = int(s.get("candidates") or 0) + removed_by_source.get(s["id"], 0)
        lost = before - int(s.get("records") or 0)
        sources.append({"source": s["id"], "records": s.get("records"), "tokens": s.get("tokens"),
                        "token_share": round(share(s.get("tokens") or 0, total), 6),
                        "records_before_pipeline": before, "share_removed": round(share(lost, before), 6)})  # fmt: skip
    return {
        "languages": {k: {"records": v["records"], "tokens": v["tokens"], "token_share": round(share(v["tokens"], total), 6)}
                      for k, v in sorted((m.get("languages") or {}).items())},
        "domains": {k: {"records": v["records"], "tokens": v["tokens"], "token_share": round(share(v["tokens"], total), 6),
                        "target_weight": v.get("target_weight"), "actual_weight": v.get("actual_weight")}
                    for k, v in sorted((m.get("domains") or {}).items())},
        "sources": sources,
        "licence_classes": m.get("license_mix"),
    }  # fmt: skip


def _gaps(data: ReleaseData, total: int, ops: list[Any]) -> list[str]:
    """Shortcomings measured on this version, each with the number behind it."""
    m = data.manifest
    gaps = []
    spec_langs = list(data.spec.get("languages") or [])
    langs = m.get("languages") or {}
    for lang in spec_langs:
        if lang not in langs:
            gaps.append(f"language {lang}: asked for by the spec, no record in the release")
        elif share(langs[lang]["tokens"], total) < THIN_SHARE:
            gaps.append(f"language {lang}: thinly covered, {pct(share(langs[lang]['tokens'], total))} of tokens")
    asked = ((data.spec.get("mix") or {}).get("weights") or {})
    for g, e in sorted(((m.get("mix") or {}).get("groups") or {}).items()):
        target, actual = e.get("target_weight"), e.get("actual_weight")
        if asked.get(g) and not e.get("available_tokens"):
            gaps.append(f"mix group {g}: the spec asks for weight {asked[g]} but no data is available "
                        "(the other groups' weights were renormalized)")  # fmt: skip
        elif target is not None and actual is not None and abs(actual - target) > MIX_TOLERANCE:
            gaps.append(f"mix group {g}: actual weight {pct(actual)} misses its target {pct(target)}")
    for row in _distributions(data, total, ops)["sources"]:
        if not row["records"]:
            gaps.append(f"source {row['source']}: selected, but no record left after the pipeline "
                        f"({row['records_before_pipeline']} before it)")  # fmt: skip
        elif row["share_removed"] > HEAVY_LOSS:
            gaps.append(f"source {row['source']}: the pipeline removed {pct(row['share_removed'])} of its records; "
                        "what remains may not represent it")  # fmt: skip
    for s in data.sources:
        d = s.get("declaration") or {}
        missing = [k for k in ("license_url", "collected", "legal_basis", "owner") if not d.get(k)]
        if d.get("personal_data") in (None, "unknown"):
            missing.append("personal_data")
        if missing and s.get("records"):
            gaps.append(f"source {s['id']}: the manifest does not declare {', '.join(missing)}")
    return gaps or ["none found by the checks above"]


def art10_markdown(record: dict[str, Any], data: ReleaseData) -> str:
    title = "Art. 10(2) data-governance record"
    if data.blocked:
        return blocked_markdown(title, record, data)
    p = {k: v["fields"] for k, v in record["points"].items()}
    t = {k: f"## ({k}) {v['title']}" for k, v in record["points"].items()}
    a, e, f = p["a"], p["e"], p["f"]
    out = [
        f"# {title}: {data.ref}",
        f"Release `{data.ref}` ({record['status']}, {record['use']} use), built {record['created_at']}, git tag "
        f"`{record['git_tag']}`, DVC `{record['dvc_md5']}`. Facts come from the release manifest and the lineage; "
        f"\"{NOT_KNOWN}\" marks what they do not record.",
        t["a"],
        md_table(["choice", "value"], [[k.replace("_", " "), _short(v)] for k, v in a.items()]),
        t["b"],
        md_table(["source", "obtained", "licence", "collected", "owner", "personal data", "original purpose / legal basis"],
                 [[s["id"], s["obtained"], s["license"], s["collected"], s["owner"], s["personal_data"],
                   s["original_purpose_and_legal_basis"]] for s in p["b"]["sources"]]),
        t["c"],
        md_table(["stage", "operation", "parameters", "removed (by reason)", "changed"],
                 [[o["stage"], o["purpose"], parameters_text(o["parameters"], limit=8)
                   + source_parameters_text(o.get("parameters_by_source") or {}, limit=8),
                   ", ".join(f"{k}={v}" for k, v in o["removed"].items()) or "0",
                   ", ".join(f"{k}={v}" for k, v in o["changed_by_reason"].items()) or o["changed"]]
                  for o in p["c"]["operations"]]),
        t["d"],
        f"The release is meant to represent: {p['d']['intended_to_represent']}",
        "\n".join(f"- {x}" for x in p["d"]["stated"]),
        t["e"],
        f"{e['records']:,} records, {e['rows']:,} rows (with upsampled copies), {e['tokens']:,} tokens, "
        f"{e['bytes']:,} bytes in {e['files']} files. Restore: `{e['available_at']['restore']}`.",
        md_table(["split", "records", "rows", "tokens"],
                 [[k, v["records"], v["rows"], v["tokens"]] for k, v in (e["splits"] or {}).items()]),
        t["f"],
        "**Languages**\n\n" + md_table(["language", "records", "tokens", "share of tokens"],
                                       [[k, v["records"], v["tokens"], pct(v["token_share"])] for k, v in f["languages"].items()]),
        "**Domains**\n\n" + md_table(["domain", "records", "tokens", "share of tokens", "target weight", "actual weight"],
                                     [[k, v["records"], v["tokens"], pct(v["token_share"]),
                                       None if v["target_weight"] is None else pct(v["target_weight"]),
                                       None if v["actual_weight"] is None else pct(v["actual_weight"])]
                                      for k, v in f["domains"].items()]),
        "**Sources**\n\n" + md_table(["source", "records", "tokens", "share of tokens", "records before the pipeline",
                                      "share removed (pipeline and release)"],
                                     [[r["source"], r["records"], r["tokens"], pct(r["token_share"]),
                                       r["records_before_pipeline"], pct(r["share_removed"])] for r in f["sources"]]),
        "**Licence classes (records):** " + ", ".join(f"{k} {v}" for k, v in (f["licence_classes"] or {}).items()),
        t["g"],
        md_table(["stage", "measure", "records removed"],
                 [[x["stage"], x["measure"], x["records_removed"]] for x in p["g"]["measures"]]),
        f"Mix rule: {a['mix_rule']}. Drift: {p['g']['drift_check']}.",
        t["h"],
        "\n".join(f"- {g}" for g in p["h"]["gaps"]),
    ]  # fmt: skip
    return "\n\n".join(out) + "\n"


def _short(value: Any) -> str:
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_short(v)}" for k, v in value.items())
    return known(value) if not isinstance(value, bool | int | float) else str(value)
