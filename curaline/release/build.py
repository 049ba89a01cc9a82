"""Build a release: select, gate, mix and split the curated records, write shards.

All per-record work is one DuckDB pass over the stages' parquet outputs: a metadata
table (ids, signals, token counts, no text) decides every record's fate, and the shards
are written by a final join back to the text, streamed in Arrow batches. Every decision
is deterministic in the spec's seed, so the same inputs give the same bytes.

The mix rule (documented in the manifest): with available tokens A_g per group and
target weights w_g (renormalised over the groups present), the release size is
T = min(sum A_g, min_g R * A_g / w_g) with R = MAX_REPEAT, so no group is repeated more
than R times (Muennighoff et al. 2023, "Scaling Data-Constrained Language Models": up to
4 epochs of repeated data are almost as good as unique data). Each group gets
r_g = w_g * T / A_g copies of its tokens: floor(r_g) copies of every record, plus one
more copy of records taken in a seeded hash order until the fractional part is filled.
r_g < 1 is downsampling (the rest is dropped, reason `mix_downsampled`); extra copies
only go to the train split (validation and test hold each record once).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curaline.database import connect, own_spill_dir
from curaline.kernels.base import EVENT_SCHEMA
from curaline.licenses import (
    ALLOWED_CLASSES,
    COMMERCIAL,
    GENERATOR_TERMS_BLOCK,
    RESTRICTED,
    SHARE_ALIKE,
    classify,
    generator_terms,
)
from curaline.lineage.views import ledger_sql
from curaline.project import Project
from curaline.records import TEXT_COLUMNS
from curaline.release.spec import SPLITS, ReleaseSpec
from curaline.sources import SourceManifest
from curaline.sql import literal, literal_list
from curaline.stages import PER_SOURCE_STAGES
from curaline.store import AtomicParquetWriter, file_digest, release_unused_memory

MAX_REPEAT = 4
SHARD_ROWS = 50_000
#: A release shard's rows are ordered ORDER_PART_ROWS at a time, one row group each (SHARD_ROWS
#: is a multiple of it, so row groups stay whole): the memory a shard's texts take to order
#: stays that of 10,000 records, whatever the release's size.
ORDER_PART_ROWS = 10_000
PART_ROW_GROUP = 2_048  # the part files' row groups: what each open part holds before it writes
PART_ROW_GROUP_BYTES = "4MB"  # and at most this many bytes (records of 16 KB: 32 MB for 2,048)
#: Pre-tokenizer tokens: runs of letters/digits/underscore, or one other non-space char
#: (RE2's \w is ASCII-only, so the Unicode classes are spelled out).
TOKEN_REGEX = r"[\pL\pN_]+|[^\pL\pN_\s]"
RELEASE_STAGE = "release"
#: validated preference pairs (curaline.preference.validate), read instead of decontaminated
PREFERENCE_STAGE = "preference_pairs"
MIX_RULE = (
    f"size T = min(sum A_g, min_g {MAX_REPEAT}*A_g/w_g) over available tokens A_g and target weights w_g; "
    f"each group gets r_g = w_g*T/A_g copies: floor(r_g) of every record plus one more for records in "
    "seeded hash order until the fraction is filled (r_g < 1 downsamples); extra copies only in train"
)
META_COLUMNS = ("doc_id", "source_id", "kind", "license", "license_class", "language", "domain", "url",
                "split", "n_tokens", "repeat")  # fmt: skip


class ReleaseError(ValueError):
    """A release cannot be built (missing stage output, bad spec against the data)."""


@dataclass
class ReleaseBuild:
    spec: ReleaseSpec
    manifest: dict[str, Any]
    records: pa.Table  # release_records without release/version (added when published)
    events: pa.Table  # EVENT_SCHEMA rows: records the release itself dropped
    folder: Path | None  # the staging folder with the shards (None when blocked)
    content_md5: str | None = None
    blocked: bool = False
    gate_report: str = ""
    gate: dict[str, Any] = field(default_factory=dict)
    files: list[dict[str, Any]] = field(default_factory=list)


def release_dir(project: Project, name: str) -> Path:
    return project.data_dir / "releases" / name


def input_stage(spec: ReleaseSpec) -> str:
    """The stage output a release reads: the last one its spec asks for."""
    if spec.dedup:
        return "decontaminated" if spec.decontaminate else "deduplicated"
    return PER_SOURCE_STAGES[-1]


def source_path(project: Project, stage: str, m: SourceManifest) -> Path:
    """A source's input file: preference pairs come from their own validation stage when it ran."""
    if m.kind == "preference" and stage == "decontaminated":
        pairs = project.stage_path(PREFERENCE_STAGE, m.id)
        if pairs.exists():
            return pairs
    return project.stage_path(stage, m.id)


_sql = literal


def _u(seed: int, salt: str, expr: str) -> str:
    """A uniform [0, 1) number from a seeded md5 of expr: stable across runs and machines."""
    return f"((md5_number_upper({_sql(f'{seed}/{salt}/')} || {expr}) >> 11)::DOUBLE / 9007199254740992.0)"


def _tokens_sql(columns: tuple[str, ...]) -> str:
    parts = [f"coalesce(len(regexp_extract_all({c}, {_sql(TOKEN_REGEX)})), 0)" for c in columns]
    return " + ".join(parts)


def _columns(con: duckdb.DuckDBPyConnection, path: Path) -> list[str]:
    return [r[0] for r in con.sql(f"DESCRIBE SELECT * FROM read_parquet({_sql(path)})").fetchall()]


def _current_ledger(project: Project, stage: str) -> list[Path]:
    from curaline.lineage.views import ledger_files

    return [p for p in ledger_files(project) if f"stage={stage}" in p.parts[-3]]


def build_release(project: Project, spec: ReleaseSpec, manifests: list[SourceManifest],
                  *, staging: Path | None = None) -> ReleaseBuild:  # fmt: skip
    """Decide every record's fate and write the shards into a staging folder."""
    sources = spec.select_sources(manifests)
    stage = input_stage(spec)
    missing = [m.id for m in sources if not source_path(project, stage, m).exists()]
    if missing:
        raise ReleaseError(f"release {spec.name}: no {stage} output for source(s) {', '.join(missing)}; "
                           "run the pipeline first (curaline run)")  # fmt: skip
    con = connect(project)  # within engine.duckdb_memory, spilling to .curaline/tmp past it
    try:
        return _build(con, project, spec, sources, stage, staging)
    finally:
        con.close()  # also on a failure: DuckDB removes its spill files when the connection closes


def _build(con: duckdb.DuckDBPyConnection, project: Project, spec: ReleaseSpec, sources: list[SourceManifest],
           stage: str, staging: Path | None) -> ReleaseBuild:  # fmt: skip
    con.execute("SET preserve_insertion_order = true")
    _load_meta(con, project, spec, sources, stage)
    _rights(con, spec)
    events = _filter(con, spec)
    if spec.semantic is not None:  # dedup: {semantic: COSINE}
        events = _semantic(con, project, spec)
    gate = _gate(con, project, spec, sources)
    build = ReleaseBuild(spec=spec, manifest={}, records=pa.table({}), events=events, folder=None, gate=gate)
    if not gate["passed"]:
        build.blocked = True
        build.gate_report = gate_report(spec, gate)
        build.manifest = {"name": spec.name, "status": "blocked", "use": spec.use, "spec": _spec_json(spec),
                          "gate": gate, "created_at": _now()}  # fmt: skip
        build.records = con.sql("SELECT doc_id FROM meta WHERE false").arrow().read_all()
        return build
    mix = _mix(con, spec)
    _split(con, spec)
    events = pa.concat_tables([events, _mix_events(con)])
    build.events = events
    folder = staging or release_dir(project, spec.name).with_name(f".{spec.name}.staging-{os.getpid()}")
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    files = _write_shards(con, spec, sources, stage, project, folder)
    files += _write_signals(con, folder)
    build.folder, build.files = folder, files
    build.content_md5 = content_md5(files)
    build.records = con.sql(
        "SELECT doc_id, source_id, kind, license, license_class, split, "
        "CAST(CASE WHEN split = 'train' THEN copies ELSE 1 END AS SMALLINT) AS copies "
        "FROM meta WHERE copies > 0 ORDER BY doc_id"
    ).arrow().read_all()
    build.manifest = _manifest(con, project, spec, sources, stage, gate, mix, files, build.content_md5)
    return build


def _load_meta(con: duckdb.DuckDBPyConnection, project: Project, spec: ReleaseSpec,
               sources: list[SourceManifest], stage: str) -> None:  # fmt: skip
    custom = project.config.license_classes
    selects = []
    for m in sources:
        path = source_path(project, stage, m)
        cols = set(_columns(con, path))
        text = TEXT_COLUMNS[m.kind]
        signals = sorted(c for c in cols if c.startswith("q_") and c != "q_tokens")
        numeric = [c for c in ("lang_score", "toxicity", "pii_total") if c in cols]
        prompt_key = "md5(lower(trim(prompt)))" if "prompt" in cols else "NULL"
        # web pages: a TDM rights reservation (curaline.web.rights), and whether the source honours it
        honoured = (m.crawl or {}).get("tdm_opt_out") == "honoured"
        rights = (f"coalesce(tdm_reserved, false) AS tdm_reserved, tdm_evidence, {honoured} AS tdm_honoured"
                  if "tdm_reserved" in cols else
                  f"false AS tdm_reserved, CAST(NULL AS VARCHAR) AS tdm_evidence, {honoured} AS tdm_honoured")  # fmt: skip
        selects.append(
            f"SELECT doc_id, source_id, {_sql(m.kind)} AS kind, license, language, "
            f"{_sql(m.domain or 'unspecified')} AS domain, {'url' if 'url' in cols else 'CAST(NULL AS VARCHAR)'} AS url, "
            f"CAST({' + '.join(f'coalesce(len({c}), 0)' for c in text)} AS BIGINT) AS n_chars, "
            f"CAST({_tokens_sql(text)} AS BIGINT) AS n_tokens, "
            f"{prompt_key} AS prompt_key, {rights}, "
            + ", ".join([*numeric, *signals] or ["NULL AS _none"])
            + f" FROM read_parquet({_sql(path)})"
        )  # fmt: skip
    if not selects:
        raise ReleaseError(f"release {spec.name}: selects no training source")
    con.execute("CREATE TEMP TABLE meta AS " + " UNION ALL BY NAME ".join(selects))
    names = [r[0] for r in con.sql("DESCRIBE meta").fetchall()]
    if "_none" in names:
        con.execute("ALTER TABLE meta DROP COLUMN _none")
    for col in ("lang_score", "toxicity", "pii_total"):
        if col not in names:
            con.execute(f"ALTER TABLE meta ADD COLUMN {col} DOUBLE")
    classes = {lic: classify(lic, custom) for (lic,) in con.sql("SELECT DISTINCT license FROM meta").fetchall()}
    con.execute("CREATE TEMP TABLE lic (license VARCHAR, license_class VARCHAR)")
    if classes:
        con.executemany("INSERT INTO lic VALUES (?, ?)", list(classes.items()))
    con.execute("ALTER TABLE meta ADD COLUMN license_class VARCHAR")
    con.execute("UPDATE meta SET license_class = lic.license_class FROM lic WHERE meta.license = lic.license")
    # dup clusters (only when duplicates stay in: then all members share the split)
    con.execute("ALTER TABLE meta ADD COLUMN cluster VARCHAR")
    if not spec.dedup:
        files = _current_ledger(project, "deduplicated")
        if files:
            con.execute(
                f"CREATE TEMP TABLE reps AS SELECT doc_id, related_doc_id AS rep FROM {ledger_sql('$files')} "
                "WHERE action = 'merge-into'", {"files": [str(f) for f in files]},
            )
            con.execute("UPDATE meta SET cluster = reps.rep FROM reps WHERE meta.doc_id = reps.doc_id")
            con.execute("UPDATE meta SET cluster = doc_id WHERE doc_id IN (SELECT rep FROM reps)")
    # fate columns
    con.execute("ALTER TABLE meta ADD COLUMN drop_reason VARCHAR")
    con.execute("ALTER TABLE meta ADD COLUMN drop_value DOUBLE")
    con.execute("ALTER TABLE meta ADD COLUMN drop_threshold DOUBLE")
    con.execute("ALTER TABLE meta ADD COLUMN drop_detail VARCHAR")
    if spec.decontaminate and not spec.dedup:
        # duplicates were never checked against eval sets: a cluster whose kept
        # representative is contaminated is contaminated as a whole
        files = _current_ledger(project, "decontaminated")
        if files:
            con.execute(
                "UPDATE meta SET drop_reason = 'contaminated_cluster', drop_detail = 'rep=' || cluster "
                f"WHERE cluster IN (SELECT doc_id FROM {ledger_sql('$files')} WHERE action = 'drop') "
                f"OR doc_id IN (SELECT doc_id FROM {ledger_sql('$files')} WHERE action = 'drop')",
                {"files": [str(f) for f in files]},
            )  # fmt: skip


#: Uses whose releases never hold a page whose rights holder reserved text and data mining:
#: DSM Directive Art. 4(3) (the exception AI Act Art. 53(1)(c) points to) does not cover them.
#: Research releases keep them (Art. 3) unless the source's crawl says `tdm_opt_out: honoured`.
TDM_ALWAYS_HONOURED = ("commercial", "internal")
_HOST_SQL = "lower(regexp_extract(coalesce(url, ''), '^[a-zA-Z][a-zA-Z0-9+.-]*://(?:[^@/]*@)?([^/:?#]+)', 1))"


def _rights(con: duckdb.DuckDBPyConnection, spec: ReleaseSpec) -> None:
    """Drop records carrying a TDM reservation where the release must honour it (fills drop_*)."""
    con.execute("ALTER TABLE meta ADD COLUMN host VARCHAR DEFAULT NULL")
    con.execute(f"UPDATE meta SET host = nullif({_HOST_SQL}, '') WHERE tdm_reserved")
    always = spec.use in TDM_ALWAYS_HONOURED
    con.execute(
        "UPDATE meta SET drop_reason = 'tdm_reserved', "
        "drop_detail = 'host=' || coalesce(host, 'none') || '; ' || coalesce(tdm_evidence, 'reserved') "
        f"WHERE drop_reason IS NULL AND tdm_reserved AND ({always} OR tdm_honoured)"
    )  # fmt: skip


def rights_summary(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Reserved records found among the release's candidates and removed, per source and host."""
    rows = con.sql(
        "SELECT source_id, coalesce(host, 'none'), count(*), count(*) FILTER (WHERE drop_reason = 'tdm_reserved') "
        "FROM meta WHERE tdm_reserved GROUP BY ALL ORDER BY 1, 3 DESC, 2"
    ).fetchall()
    out: dict[str, Any] = {"found": 0, "removed": 0, "by_source": {}}
    for sid, host, found, removed in rows:
        entry = out["by_source"].setdefault(sid, {"found": 0, "removed": 0, "hosts": {}})
        entry["found"] += int(found)
        entry["removed"] += int(removed)
        entry["hosts"][host] = {"found": int(found), "removed": int(removed)}
        out["found"] += int(found)
        out["removed"] += int(removed)
    return out


def _filter(con: duckdb.DuckDBPyConnection, spec: ReleaseSpec) -> pa.Table:
    """Release-level language and quality filters; returns nothing (fills drop_*)."""
    langs = ", ".join(_sql(x) for x in spec.languages)
    con.execute(
        "UPDATE meta SET drop_reason = 'release_language', drop_detail = 'language=' || coalesce(language, 'none') "
        f"WHERE drop_reason IS NULL AND (language IS NULL OR language NOT IN ({langs}))"
    )  # fmt: skip
    names = {r[0] for r in con.sql("DESCRIBE meta").fetchall()}
    for signal, bounds in spec.quality.items():
        if signal not in names and spec.quality_profile is not None:
            continue  # a named profile covers every kind; this release has none with the signal
        if signal not in names:
            allowed = sorted(n for n in names if n.startswith("q_") or n in ("lang_score", "toxicity", "pii_total"))
            raise ReleaseError(f"{spec.path.name}: quality.{signal}: no such signal in the release's records; "
                               f"signals: {', '.join(allowed)}")  # fmt: skip
        for side, op in (("min", "<"), ("max", ">")):
            if side in bounds:
                con.execute(
                    f"UPDATE meta SET drop_reason = 'release_quality', drop_value = {signal}, "
                    f"drop_threshold = {bounds[side]!r}, drop_detail = {_sql(f'{signal} {side}')} "
                    f"WHERE drop_reason IS NULL AND {signal} IS NOT NULL AND {signal} {op} {bounds[side]!r}"
                )
    return _events(con, "drop_reason IS NOT NULL")


def _semantic(con: duckdb.DuckDBPyConnection, project: Project, spec: ReleaseSpec) -> pa.Table:
    """Drop the semantic duplicates the `semantic_deduplicated` stage found for this release,
    where the record each duplicates is still in it; returns every drop event so far."""
    from curaline.semantic_dedup import output_path

    path = output_path(project, spec.name)
    if not path.exists():
        raise ReleaseError(f"release {spec.name}: dedup.semantic is set but {path} is missing; "
                           "materialize semantic_deduplicated for this release first (curaline run)")  # fmt: skip
    con.execute(
        "UPDATE meta SET drop_reason = 'semantic_duplicate', drop_value = s.similarity, "
        f"drop_threshold = {float(spec.semantic or 0.0)!r}, drop_detail = 'into=' || s.duplicate_of || ';cluster=' || s.cluster_id "
        f"FROM read_parquet({_sql(path)}) AS s WHERE meta.doc_id = s.doc_id AND meta.drop_reason IS NULL "
        "AND s.duplicate_of IN (SELECT doc_id FROM meta WHERE drop_reason IS NULL)"
    )  # fmt: skip
    return _events(con, "drop_reason IS NOT NULL")


def _events(con: duckdb.DuckDBPyConnection, where: str) -> pa.Table:
    t = con.sql(
        "SELECT doc_id, 'drop' AS action, drop_reason AS reason, drop_value AS value, "
        f"drop_threshold AS threshold, drop_detail AS detail, NULL::VARCHAR AS related_doc_id FROM meta "
        f"WHERE {where} ORDER BY doc_id"
    ).arrow().read_all()
    return pa.table({n: t[n].cast(EVENT_SCHEMA.field(n).type) for n in EVENT_SCHEMA.names}, schema=EVENT_SCHEMA)


def _gate(con: duckdb.DuckDBPyConnection, project: Project, spec: ReleaseSpec,
          sources: list[SourceManifest]) -> dict[str, Any]:  # fmt: skip
    allowed = ALLOWED_CLASSES[spec.use]
    by_id = {m.id: m for m in sources}
    violations = []
    rows = con.sql(
        "SELECT source_id, license, license_class, count(*) FROM meta WHERE drop_reason IS NULL "
        "GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    for sid, lic, cls, n in rows:
        if cls not in allowed:
            why = (f"licence class {cls} is not allowed in a {spec.use} release "
                   f"(allowed: {', '.join(allowed)})")  # fmt: skip
            if cls == "unknown":
                why += "; map a LicenseRef-* id to its class in curaline.yaml license_classes"
            violations.append({"source": sid, "license": lic, "class": cls, "records": n, "why": why})
        m = by_id[sid]
        gen = (m.synthetic or {}).get("generator")
        if spec.use in GENERATOR_TERMS_BLOCK and generator_terms(gen, project.config.generator_terms) == RESTRICTED:
            violations.append({"source": sid, "license": lic, "class": "generator-terms", "records": n,
                               "why": f"synthetic data from {gen}, whose terms forbid using outputs to build "
                                      f"competing models ({(m.synthetic or {}).get('terms_url')})"})  # fmt: skip
    return {"use": spec.use, "passed": not violations, "allowed_classes": list(allowed), "violations": violations}


def gate_report(spec: ReleaseSpec, gate: dict[str, Any]) -> str:
    """The licence gate's verdict as an operator reads it: which sources, which licences, why."""
    if gate["passed"]:
        return f"Licence gate passed for {spec.use} release {spec.name}."
    lines = [f"Licence gate BLOCKED {spec.use} release {spec.name} ({spec.path.name}): "
             f"{len(gate['violations'])} violation(s)"]  # fmt: skip
    for v in gate["violations"]:
        lines.append(f"  - source {v['source']}: {v['license']} -> {v['class']} ({v['records']} records): {v['why']}")
    lines.append("  Fix: remove these sources from the spec's `sources`, or change its `use`.")
    return "\n".join(lines)


def _mix(con: duckdb.DuckDBPyConnection, spec: ReleaseSpec) -> dict[str, Any]:
    """Fill `copies` per record from the mix rule (module docstring)."""
    by = spec.mix.by if spec.mix else "domain"
    group = "domain" if by == "domain" else "source_id"
    con.execute(f"ALTER TABLE meta ADD COLUMN grp VARCHAR; UPDATE meta SET grp = {group}")
    con.execute("ALTER TABLE meta ADD COLUMN copies INTEGER DEFAULT 0")
    avail = dict(con.sql("SELECT grp, sum(n_tokens)::BIGINT FROM meta WHERE drop_reason IS NULL GROUP BY 1").fetchall())
    if spec.mix is None:
        con.execute("UPDATE meta SET copies = 1 WHERE drop_reason IS NULL")
        return {"by": by, "rule": "no mix: every record once", "groups": {
            g: {"available_tokens": int(a), "target_weight": None, "tokens": int(a), "rate": 1.0} for g, a in avail.items()}}
    weights = {g: w for g, w in spec.mix.weights.items() if w > 0 and avail.get(g, 0) > 0}
    unweighted = sorted(g for g in avail if g not in weights)
    if unweighted:
        con.execute(
            "UPDATE meta SET drop_reason = 'mix_unweighted', drop_detail = 'group=' || grp "
            f"WHERE drop_reason IS NULL AND grp IN ({', '.join(_sql(g) for g in unweighted)})"
        )
    total_w = sum(weights.values())
    norm = {g: w / total_w for g, w in weights.items()}
    size = min([sum(avail[g] for g in norm), *(MAX_REPEAT * avail[g] / w for g, w in norm.items())]) if norm else 0
    rates = {g: (w * size / avail[g]) for g, w in norm.items()}
    con.execute("CREATE TEMP TABLE rates (grp VARCHAR, rate DOUBLE, avail DOUBLE)")
    if rates:
        con.executemany("INSERT INTO rates VALUES (?, ?, ?)", [(g, r, float(avail[g])) for g, r in rates.items()])
    seed = spec.splits.seed
    con.execute(f"""
        UPDATE meta SET copies = s.copies FROM (
            SELECT m.doc_id, CAST(floor(r.rate) + CASE WHEN
                sum(m.n_tokens) OVER (PARTITION BY m.grp ORDER BY {_u(seed, 'mix', 'm.doc_id')}, m.doc_id
                                      ROWS UNBOUNDED PRECEDING) - m.n_tokens
                < (r.rate - floor(r.rate)) * r.avail THEN 1 ELSE 0 END AS INTEGER) AS copies
            FROM meta m JOIN rates r USING (grp) WHERE m.drop_reason IS NULL
        ) s WHERE meta.doc_id = s.doc_id""")  # fmt: skip
    con.execute(
        "UPDATE meta SET drop_reason = 'mix_downsampled', drop_value = rates.rate, drop_detail = 'group=' || meta.grp "
        "FROM rates WHERE meta.grp = rates.grp AND meta.drop_reason IS NULL AND meta.copies = 0"
    )
    groups = {}
    for g in sorted(set(avail) | set(spec.mix.weights)):
        groups[g] = {"available_tokens": int(avail.get(g, 0)), "target_weight": norm.get(g, 0.0),
                     "rate": rates.get(g, 0.0)}  # fmt: skip
    return {"by": by, "rule": MIX_RULE, "max_repeat": MAX_REPEAT, "size_tokens": int(size),
            "unweighted_groups": unweighted, "groups": groups}  # fmt: skip


def _mix_events(con: duckdb.DuckDBPyConnection) -> pa.Table:
    return _events(con, "drop_reason IN ('mix_downsampled', 'mix_unweighted')")


def _split(con: duckdb.DuckDBPyConnection, spec: ReleaseSpec) -> None:
    """Assign splits by a seeded hash of the record's cluster: duplicates never straddle splits."""
    f = spec.splits.fractions()
    u = _u(spec.splits.seed, "split", "coalesce(cluster, prompt_key, doc_id)")
    con.execute("ALTER TABLE meta ADD COLUMN split VARCHAR")
    con.execute(
        f"UPDATE meta SET split = CASE WHEN {u} < {f['train']!r} THEN 'train' "
        f"WHEN {u} < {f['train'] + f['validation']!r} THEN 'validation' ELSE 'test' END WHERE copies > 0"
    )


def _write_shards(con: duckdb.DuckDBPyConnection, spec: ReleaseSpec, sources: list[SourceManifest], stage: str,
                  project: Project, folder: Path) -> list[dict[str, Any]]:  # fmt: skip
    """Each split's records with their texts, in the seeded shuffle order, SHARD_ROWS a shard.

    The texts are never sorted by DuckDB: a sort with the texts as payload could not spill
    (out of memory under a 256 MiB budget at 1M documents, where 96 MiB did at 100k). The
    order is decided on the keys alone; one join (keys on the build side) writes each row to
    the part file of its ORDER_PART_ROWS positions, and each part is ordered in Arrow.
    """
    files: list[dict[str, Any]] = []
    seed = spec.splits.seed
    for kind in ("document", "instruction", "preference"):
        paths = [source_path(project, stage, m) for m in sources if m.kind == kind]
        if not paths:
            continue
        text = TEXT_COLUMNS[kind]
        cols = ", ".join(f"t.{c}" for c in text)
        if kind == "preference":
            present = set().union(*(_columns(con, p) for p in paths))
            cols += ", " + ("CAST(t.margin AS DOUBLE)" if "margin" in present else "CAST(NULL AS DOUBLE)") + " AS margin"
            cols += ", " + ('CAST(t."group" AS VARCHAR)' if "group" in present else "CAST(NULL AS VARCHAR)") + ' AS "group"'
        for split in SPLITS:
            copies = "m.copies" if split == "train" else "1"
            con.execute(f"""
                CREATE OR REPLACE TEMP TABLE release_order AS
                SELECT m.doc_id, m.source_id, m.kind, m.license, m.license_class, m.language, m.domain, m.url,
                       m.split, m.n_tokens, CAST(r.repeat AS SMALLINT) AS repeat,
                       row_number() OVER (ORDER BY {_u(seed, 'order', "m.doc_id || '#' || r.repeat")}, m.doc_id, r.repeat)
                           - 1 AS pos
                FROM meta m CROSS JOIN LATERAL (SELECT unnest(range({copies})) AS repeat) r
                WHERE m.kind = {_sql(kind)} AND m.split = {_sql(split)} AND m.copies > 0""")  # fmt: skip
            rows = con.execute("SELECT count(*) FROM release_order").fetchone()[0]  # type: ignore[index]
            if rows:
                files += _write_split(_ordered_batches(con, project, paths, cols), folder, kind, split)
    con.execute("DROP TABLE IF EXISTS release_order")
    return files


def _ordered_batches(con: duckdb.DuckDBPyConnection, project: Project, paths: list[Path],
                     cols: str) -> Iterator[pa.RecordBatch]:  # fmt: skip
    """release_order's rows with their texts, in `pos` order, one batch per part (ORDER_PART_ROWS rows)."""
    parts = Path(tempfile.mkdtemp(prefix="release-parts-", dir=own_spill_dir(project)))
    try:
        # keys on the hash join's build side, texts streamed past them: DuckDB's optimizer put
        # the texts there (the two sides have about as many rows), +450 MiB at 1M documents
        # against +240. Each part file flushes small row groups: DuckDB's defaults held every
        # open part's texts (524,288 rows, then 122,880 a row group) in memory.
        con.execute("SET disabled_optimizers = 'build_side_probe_side,join_order'")
        con.execute(f"SET partitioned_write_flush_threshold = {PART_ROW_GROUP}")
        con.execute("SET preserve_insertion_order = false")  # parts are ordered after; needed for a byte bound
        con.execute(f"""
            COPY (SELECT o.*, o.pos // {ORDER_PART_ROWS} AS part, {cols}
                  FROM read_parquet({literal_list(paths)}, union_by_name = true) t JOIN release_order o USING (doc_id))
            TO {_sql(parts)} (FORMAT parquet, PARTITION_BY (part), WRITE_PARTITION_COLUMNS false,
                               ROW_GROUP_SIZE {PART_ROW_GROUP}, ROW_GROUP_SIZE_BYTES '{PART_ROW_GROUP_BYTES}')""")  # fmt: skip
        for setting in ("disabled_optimizers", "partitioned_write_flush_threshold"):
            con.execute(f"RESET {setting}")
        con.execute("SET preserve_insertion_order = true")
        for part in sorted(parts.glob("part=*"), key=lambda p: int(p.name.removeprefix("part="))):
            table = pq.read_table(part, use_threads=False)
            yield from table.take(pc.sort_indices(table["pos"])).drop_columns(["pos"]).combine_chunks().to_batches()
            del table
            release_unused_memory()  # else Arrow's pool keeps each part's pages: +250 MiB over 13 parts at 1M
    finally:
        shutil.rmtree(parts, ignore_errors=True)


def _write_split(reader: Iterable[pa.RecordBatch], folder: Path, kind: str, split: str) -> list[dict[str, Any]]:
    schema = pa.schema([
        *[pa.field(n, pa.string()) for n in META_COLUMNS[:8]],
        pa.field("split", pa.string()), pa.field("n_tokens", pa.int64()), pa.field("repeat", pa.int16()),
        *[pa.field(c, pa.string()) for c in TEXT_COLUMNS[kind]],
        *([pa.field("margin", pa.float64()), pa.field("group", pa.string())] if kind == "preference" else []),
    ])  # fmt: skip
    files: list[dict[str, Any]] = []
    shard, writer, rows = 0, None, 0

    def close() -> None:
        nonlocal writer
        if writer is not None:
            writer.__exit__(None, None, None)
            rel = f"{kind}/{split}-{shard:05d}.parquet"
            files.append({"path": rel, "kind": kind, "split": split, "rows": writer.rows,
                          "md5": file_digest(folder / rel), "bytes": (folder / rel).stat().st_size})  # fmt: skip
            writer = None

    for batch in reader:
        start = 0
        while start < batch.num_rows:
            if writer is None:
                writer = AtomicParquetWriter(folder / kind / f"{split}-{shard:05d}.parquet", schema,
                                             row_group_size=ORDER_PART_ROWS).__enter__()  # fmt: skip
            take = min(batch.num_rows - start, SHARD_ROWS - writer.rows)
            writer.write(batch.slice(start, take))
            start += take
            rows += take
            if writer.rows >= SHARD_ROWS:
                close()
                shard += 1
    close()
    return files


def _write_signals(con: duckdb.DuckDBPyConnection, folder: Path) -> list[dict[str, Any]]:
    names = [r[0] for r in con.sql("DESCRIBE meta").fetchall()]
    signals = sorted(n for n in names if n.startswith("q_"))
    cols = ["doc_id", "source_id", "kind", "language", "domain", "split", "n_chars", "n_tokens",
            "CAST(lang_score AS DOUBLE) AS lang_score", "CAST(toxicity AS DOUBLE) AS toxicity",
            "CAST(pii_total AS BIGINT) AS pii_total", *signals]  # fmt: skip
    t = con.sql(f"SELECT {', '.join(cols)} FROM meta WHERE copies > 0 ORDER BY doc_id").arrow().read_all()
    path = folder / "signals.parquet"
    with AtomicParquetWriter(path, t.schema, row_group_size=50_000) as w:
        w.write(t)
    return [{"path": "signals.parquet", "kind": None, "split": None, "rows": t.num_rows,
             "md5": file_digest(path), "bytes": path.stat().st_size}]  # fmt: skip


def content_md5(files: list[dict[str, Any]]) -> str:
    """The release's content identity: DVC's directory-listing md5 over the data files."""
    listing = [{"md5": f["md5"], "relpath": f["path"]} for f in sorted(files, key=lambda f: f["path"])]
    return hashlib.md5(json.dumps(listing, sort_keys=True).encode()).hexdigest() + ".dir"


def _spec_json(spec: ReleaseSpec) -> dict[str, Any]:
    return json.loads(json.dumps(spec.raw, default=str))


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _manifest(con: duckdb.DuckDBPyConnection, project: Project, spec: ReleaseSpec, sources: list[SourceManifest],
              stage: str, gate: dict[str, Any], mix: dict[str, Any], files: list[dict[str, Any]],
              content: str) -> dict[str, Any]:  # fmt: skip
    rows_expr = "CASE WHEN split = 'train' THEN copies ELSE 1 END"
    live = "copies > 0"

    def agg(key: str) -> dict[str, dict[str, int]]:
        q = (f"SELECT {key}, count(*), sum({rows_expr})::BIGINT, sum(n_tokens * {rows_expr})::BIGINT "
             f"FROM meta WHERE {live} GROUP BY 1 ORDER BY 1")  # fmt: skip
        return {str(k): {"records": int(n), "rows": int(r), "tokens": int(t)} for k, n, r, t in con.sql(q).fetchall()}

    total = con.sql(f"SELECT count(*), coalesce(sum({rows_expr}), 0)::BIGINT, "
                    f"coalesce(sum(n_tokens * {rows_expr}), 0)::BIGINT, coalesce(sum(n_tokens), 0)::BIGINT "
                    f"FROM meta WHERE {live}").fetchall()[0]  # fmt: skip
    train_tokens = con.sql(f"SELECT grp, sum(n_tokens * copies)::BIGINT FROM meta WHERE {live} AND split = 'train' "
                           "GROUP BY 1").fetchall()  # fmt: skip
    train_total = sum(t for _, t in train_tokens) or 1
    for g, t in train_tokens:
        mix["groups"].setdefault(g, {})["train_tokens"] = int(t)
    for entry in mix["groups"].values():
        entry["actual_weight"] = round(entry.get("train_tokens", 0) / train_total, 6)
    by_source = agg("source_id")
    candidates = dict(con.sql("SELECT source_id, count(*) FROM meta GROUP BY 1").fetchall())
    removed: dict[str, dict[str, int]] = {}
    for sid, reason, n in con.sql("SELECT source_id, drop_reason, count(*) FROM meta WHERE drop_reason IS NOT NULL "
                                  "GROUP BY ALL ORDER BY ALL").fetchall():  # fmt: skip
        removed.setdefault(sid, {})[reason] = int(n)
    custom = project.config.license_classes
    src_entries, obligations = [], []
    for m in sources:
        cls = classify(m.license, custom)
        stats = by_source.get(m.id, {"records": 0, "rows": 0, "tokens": 0})
        src_entries.append({
            "id": m.id, "kind": m.kind, "license": m.license, "license_class": cls, "obtained": m.obtained,
            "domain": m.domain, **stats, "candidates": int(candidates.get(m.id, 0)),
            "removed": removed.get(m.id, {}), "declaration": m.declaration(),
        })  # fmt: skip
        if stats["records"]:
            obligations += _obligations(m, cls, project)
    domains = agg("domain")
    for g, d in domains.items():
        if mix["by"] == "domain" and g in mix["groups"]:
            grp = mix["groups"][g]
            d.update(target_weight=grp.get("target_weight"), actual_weight=grp.get("actual_weight"),
                     sampling_rate=grp.get("rate"))  # fmt: skip
    license_mix = {c: 0 for c in ("commercial", "share-alike", "non-commercial", "academic-only", "unknown")}
    for cls, n in con.sql(f"SELECT license_class, count(*) FROM meta WHERE {live} GROUP BY 1").fetchall():
        license_mix[cls] = int(n)
    licenses = {lic: int(n) for lic, n in con.sql(f"SELECT license, count(*) FROM meta WHERE {live} GROUP BY 1 ORDER BY 1").fetchall()}
    return {
        "name": spec.name, "version": None, "created_at": _now(), "description": spec.description, "use": spec.use,
        "spec": _spec_json(spec), "status": "released",
        "records": int(total[0]), "rows": int(total[1]), "tokens": int(total[2]),
        "unique_tokens": int(total[3]),  # "tokens" counts every upsampled copy; this, each record once
        "bytes": sum(f["bytes"] for f in files if f["kind"]),
        "splits": {s: agg("split").get(s, {"records": 0, "rows": 0, "tokens": 0}) for s in SPLITS},
        "kinds": agg("kind"), "languages": agg("language"), "domains": domains, "mix": mix,
        "sources": src_entries, "license_mix": license_mix, "licenses": licenses, "obligations": obligations,
        "gate": gate, "files": files, "content_md5": content, "tdm_reservations": rights_summary(con),
        "dvc": {"path": f"data/releases/{spec.name}", "md5": None},
        "git": {"commit": None, "tag": None},
        "pipeline": {"input_stage": stage, "stages": _stages(spec, sources), "removed": _removed_by_stage(project, sources)},
        "tokenizer": f"pre-tokenizer regex {TOKEN_REGEX} (counts words and punctuation, not subword units)",
    }  # fmt: skip


def _stages(spec: ReleaseSpec, sources: list[SourceManifest]) -> list[str]:
    stages = list(PER_SOURCE_STAGES)
    if spec.dedup:
        stages.append("deduplicated")
    if spec.decontaminate:
        stages.append("decontaminated")
    if spec.semantic is not None:
        stages.append("semantic_deduplicated")  # over the release's input stage
    if any(m.kind == "preference" for m in sources):
        stages.append("preference_pairs")  # preference records enter a release only through it
    return [*stages, RELEASE_STAGE]


def _obligations(m: SourceManifest, cls: str, project: Project) -> list[dict[str, Any]]:
    out = []
    if cls == SHARE_ALIKE:
        out.append({"source": m.id, "license": m.license, "obligation": "share-alike",
                    "note": "derivatives of this data must be shared under the same terms"})  # fmt: skip
    # every CC-BY* licence (NC and ND ones too) requires credit, whatever class it falls in
    cc_by = m.license.upper().startswith("CC-BY")
    if cc_by or (cls in (COMMERCIAL, SHARE_ALIKE) and not m.license.upper().startswith(("CC0", "PDDL", "UNLICENSE"))):
        out.append({"source": m.id, "license": m.license, "obligation": "attribution",
                    "note": f"credit the source ({m.license_url or m.license})"})  # fmt: skip
    if cls in ("non-commercial", "academic-only"):
        out.append({"source": m.id, "license": m.license, "obligation": "non-commercial",
                    "note": f"{cls} use only"})  # fmt: skip
    gen = (m.synthetic or {}).get("generator")
    if gen:
        verdict = generator_terms(gen, project.config.generator_terms)
        out.append({"source": m.id, "license": m.license, "obligation": "generator-terms",
                    "note": f"generated by {gen} ({verdict}); terms: {(m.synthetic or {}).get('terms_url')}"})  # fmt: skip
    return out


def _removed_by_stage(project: Project, sources: list[SourceManifest]) -> dict[str, dict[str, int]]:
    """Distinct records removed per stage and reason over these sources (ledger footers)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from curaline.ledger import SUMMARY_KEY
    from curaline.lineage.views import ledger_files

    ids = {m.id for m in sources}
    out: dict[str, dict[str, int]] = {}
    for path in ledger_files(project):
        meta = pq.read_schema(path).metadata or {}
        raw = meta.get(SUMMARY_KEY.encode())
        if not raw:
            continue
        summary = json.loads(raw)
        stage = summary["stage"]
        if stage == RELEASE_STAGE:
            continue
        if summary["partition"] != "__all__" and summary["partition"] not in ids:
            continue
        if summary["partition"] == "__all__":
            # global stages: count this release's sources only (doc ids start with the source id)
            t = pq.read_table(path, columns=["doc_id", "action", "reason"])
            src = pc.list_element(pc.split_pattern(t["doc_id"], ":", max_splits=1), 0)
            mask = pc.and_(pc.is_in(src, value_set=pa.array(sorted(ids))),
                           pc.is_in(t["action"], value_set=pa.array(["drop", "merge-into", "takedown"])))
            for row in t.filter(mask).group_by("reason").aggregate([("doc_id", "count_distinct")]).to_pylist():
                out.setdefault(stage, {})[row["reason"]] = int(row["doc_id_count_distinct"])
            continue
        for action, reasons in summary["reasons"].items():
            if action in ("drop", "merge-into", "takedown"):
                for r, n in reasons.items():
                    out.setdefault(stage, {})[r] = out.get(stage, {}).get(r, 0) + int(n)
    return dict(sorted(out.items()))
