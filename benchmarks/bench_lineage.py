"""Benchmark lineage: CLI answers on a ledger of over 1M rows, and the cost of emission.

1. Synthesizes a project: 20 sources x 60,000 documents (1.2M records), four cleaning
   stages per source (normalized: 60 % modified, quality_filtered: 20 % dropped,
   pii_redacted: 10 % redacted, deduped: 5 % merged), each run twice so the ledger holds
   a current run and a history (about 1.1M current rows, 2.2M in all), and the
   OpenLineage events of every materialization, emitted by the real emitter; then a
   release ("bench", the release contract's files) of every surviving record as v1, a
   takedown of 100 records (ledger rows), and v2 without them.
2. Times `curaline lineage trace`, `sources` and `sources --release` as a user runs them:
   a new process each call, Python start included; medians of repeated calls. A trace
   answers from the lineage index (SQLite, kept current by `write_ledger`); the cold
   rows time the first trace after the index was deleted.
3. Measures what emission adds to a stage: the 100k benchmark corpus (../shared/bench)
   ingested with and without lineage, in the library and as a Dagster materialization;
   and what indexing adds to writing a ledger file.

Usage: python benchmarks/bench_lineage.py [--sources 20] [--per-source 60000] [--keep DIR]
Writes benchmarks/RESULTS_lineage.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import yaml

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CORPUS = SHARED / "bench" / "corpus-100k"
sys.path.insert(0, str(REPO))

from curaline.ingest import ingest_source, record_schema  # noqa: E402
from curaline.kernels.base import make_events  # noqa: E402
from curaline.ledger import write_ledger  # noqa: E402
from curaline.lineage.emitter import Assertion, LineageEmitter  # noqa: E402
from curaline.project import Project  # noqa: E402
from curaline.records import make_doc_id, own_key  # noqa: E402
from curaline.schemas import RECORD_MODELS  # noqa: E402
from curaline.sources import catalog_table, load_manifests  # noqa: E402
from curaline.store import file_digest, write_parquet  # noqa: E402
from resources.lineage import LineageResource  # noqa: E402 (module level: Dagster resolves the annotations)
from resources.project import ProjectResource  # noqa: E402

LICENSES = ["CC-BY-4.0", "CC-BY-SA-4.0", "MIT", "CC-BY-NC-4.0", "Apache-2.0", "LicenseRef-vendor-terms"]
#: stage -> (action, reason, share of the stage's input)
STAGES = [
    ("normalized", "modify", "unicode_nfc", 0.60),
    ("quality_filtered", "drop", "gopher_short_doc", 0.20),
    ("pii_redacted", "redact", "email", 0.10),
    ("deduped", "merge-into", "near_duplicate", 0.05),
]
RUN_OLD, RUN_NEW = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"
RUN_TAKEDOWN = "33333333-3333-4333-8333-333333333333"
RELEASE = "bench"
TAKEN_DOWN = 100  # records of src03 taken down between v1 and v2


def write_release_version(project: Project, version: int, records: pa.Table, created_at: str) -> None:
    """One version as the release contract lays it out: v<N>.parquet (release_records) + v<N>.json."""
    n = records.num_rows
    folder = project.lineage_dir / "releases" / f"release={RELEASE}"
    table = pa.table({"release": pa.array([RELEASE] * n), "version": pa.array([version] * n, pa.int32()),
                      **{c: records[c] for c in ("doc_id", "source_id", "kind", "license", "license_class", "split",
                                                 "copies")}})  # fmt: skip
    write_parquet(folder / f"v{version}.parquet", table)
    rows = int(pc.sum(records["copies"]).as_py())
    manifest = {"name": RELEASE, "version": version, "created_at": created_at, "description": "benchmark release",
                "use": "research", "spec": {"name": RELEASE, "sources": "all"}, "status": "released",
                "records": n, "rows": rows, "tokens": 12 * rows, "bytes": 0, "splits": {}, "kinds": {}, "languages": {},
                "domains": {}, "mix": {}, "sources": [], "license_mix": {}, "licenses": {}, "obligations": [],
                "gate": {"use": "research", "passed": True, "allowed_classes": [], "violations": []}, "files": [],
                "dvc": {"path": f"data/releases/{RELEASE}", "md5": f"{version:032x}.dir"},
                "git": {"commit": None, "tag": f"release/{RELEASE}/v{version}"}, "pipeline": {"stages": [], "removed": {}}}  # fmt: skip
    (folder / f"v{version}.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")


def build_releases(project: Project, kept: list[pa.Table], samples: dict[str, str]) -> None:
    """v1: every record that survived the stages; a takedown of some of src03's; v2 without them."""
    import datetime as dt

    from curaline.licenses import classify

    table = pa.concat_tables(kept)
    n = table.num_rows
    rng = np.random.default_rng(11)
    split = np.array(["train", "validation", "test"])[rng.choice(3, n, p=[0.9, 0.05, 0.05])]
    classes = {lic: classify(lic) for lic in pc.unique(table["license"]).to_pylist()}
    records = pa.table({
        "doc_id": table["doc_id"], "source_id": table["source_id"], "kind": pa.array(["document"] * n),
        "license": table["license"], "license_class": pa.array([classes[x] for x in table["license"].to_pylist()]),
        "split": pa.array(split), "copies": pa.array(np.where(rng.random(n) < 0.1, 2, 1), pa.int16()),
    })  # fmt: skip
    write_release_version(project, 1, records, "2024-01-01T00:00:00+00:00")
    src03 = records.filter(pc.equal(records["source_id"], "src03"))["doc_id"][:TAKEN_DOWN]
    events = make_events(src03, "takedown", "takedown_request", detail="td-20240102T000000Z-00000000")
    write_ledger(project, events, stage="raw_records", partition="src03", run_id=RUN_TAKEDOWN)
    keep = pc.invert(pc.is_in(records["doc_id"], value_set=src03.combine_chunks()))
    write_release_version(project, 2, records.filter(keep), dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    samples["taken down after release v1"] = src03[0].as_py()


def build_project(root: Path, n_sources: int, per_source: int) -> tuple[Project, dict[str, str], float, int]:
    """The synthetic project; returns it, sample doc ids, emission seconds and materializations."""
    (root / "sources").mkdir(parents=True)
    (root / "corpus").mkdir()
    for s in range(n_sources):
        sid = f"src{s:02d}"
        (root / "corpus" / f"{sid}.jsonl").write_text('{"id": "x", "text": "placeholder"}\n')
        lic = LICENSES[s % len(LICENSES)]
        manifest = {"id": sid, "location": f"../corpus/{sid}.jsonl", "format": "jsonl", "kind": "document",
                    "fields": {"id": "id"}, "license": lic, "obtained": "public-dataset", "owner": "data@example.com"}  # fmt: skip
        if lic.startswith("LicenseRef"):
            manifest["license_url"] = "https://example.org/terms"
        (root / "sources" / f"{sid}.yaml").write_text(yaml.safe_dump(manifest))
    project = Project.at(root)
    manifests, problems = load_manifests(project.sources_dir)
    assert not problems, problems
    write_parquet(project.stage_path("source_catalog"), catalog_table(manifests))
    emitter = LineageEmitter(project)
    schema = record_schema("document")
    rng = np.random.default_rng(7)
    samples: dict[str, str] = {}
    emit_s, emitted = 0.0, 0
    kept: list[pa.Table] = []
    for m in manifests:
        ids = [make_doc_id(m.id, own_key(f"d{i}")) for i in range(per_source)]
        columns = {
            "doc_id": ids, "source_id": [m.id] * per_source, "license": [m.license] * per_source,
            "content_hash": [hashlib.md5(i.encode()).hexdigest() for i in ids],
            "source_record_id": [f"d{i}" for i in range(per_source)], "source_file": [f"{m.id}.jsonl"] * per_source,
            "source_line": np.arange(1, per_source + 1), "source_row": pa.nulls(per_source, pa.int64()),
            "text": [f"Document {i} of {m.id}: some technical prose about curation." for i in range(per_source)],
        }
        table = pa.table({**columns, **{f.name: pa.nulls(per_source, f.type) for f in schema if f.name not in columns}},
                         schema=schema)  # fmt: skip  (columns other stages may add, e.g. url, stay null)
        raw = project.stage_path("raw_records", m.id)
        write_parquet(raw, table)
        write_parquet(project.stage_path("quarantined_records", m.id), pa.table({"source_id": pa.array([], pa.string())}))
        t = time.perf_counter()
        with emitter.materialization("raw_records", parent_run_id=RUN_NEW, parent_job="per_source_job",
                                     partition=m.id, engine_version="bench") as run:  # fmt: skip
            run.source(m)
            run.output(raw, model=RECORD_MODELS["document"], quarantined={}, rows_in=per_source, source=m,
                       assertions=[Assertion("read_balance", True)])  # fmt: skip
        emit_s += time.perf_counter() - t
        emitted += 1
        current, upstream = table, raw
        for stage, action, reason, share in STAGES:
            hit = rng.random(current.num_rows) < share
            hit_ids = current["doc_id"].filter(pa.array(hit))
            events = make_events(hit_ids, action, reason, value=0.5, threshold=1.0, detail="n=1")
            for run_id in (RUN_OLD, RUN_NEW):  # a history run, then the current one
                write_ledger(project, events, stage=stage, partition=m.id, run_id=run_id)
            if action in ("drop", "merge-into"):
                current = current.filter(pa.array(~hit))
            out = project.stage_path(stage, m.id)
            write_parquet(out, current)
            t = time.perf_counter()
            with emitter.materialization(stage, parent_run_id=RUN_NEW, parent_job="per_source_job",
                                         partition=m.id, inputs=[upstream]) as run:  # fmt: skip
                kind = "removals" if action in ("drop", "merge-into") else "changes"
                run.output(out, **{kind: {reason: len(hit_ids)}}, rows_in=len(hit))
            emit_s += time.perf_counter() - t
            emitted += 1
            upstream = out
            if m.id == "src03":
                if stage == "quality_filtered":
                    samples["dropped at quality_filtered"] = hit_ids[0].as_py()
                if stage == "pii_redacted":
                    samples["redacted at pii_redacted"] = hit_ids[0].as_py()
        if m.id == "src03":
            samples["kept through every stage"] = current["doc_id"][current.num_rows // 2].as_py()
        kept.append(current.select(["doc_id", "source_id", "license"]))
    build_releases(project, kept, samples)
    return project, samples, emit_s, emitted


def command() -> tuple[list[str], str]:
    """`curaline lineage` when the lead has wired this group in, else the module itself."""
    curaline = Path(sys.executable).parent / "curaline"
    probe = subprocess.run([str(curaline), "lineage", "trace", "--help"], capture_output=True, text=True)
    if probe.returncode == 0 and "DOC_ID" in probe.stdout:
        return [str(curaline), "lineage"], "curaline lineage"
    return [sys.executable, "-m", "curaline.lineage.cli"], "python -m curaline.lineage.cli"


def time_calls(argv: list[str], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        proc = subprocess.run(argv, capture_output=True, text=True)
        out.append(time.perf_counter() - t)
        assert proc.returncode == 0, proc.stderr
    return out


def ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.0f}"


def overhead(tmp: Path) -> list[tuple[str, str, str, str]]:
    """The 100k corpus as one source: ingest alone, and ingest plus lineage."""
    if not CORPUS.is_dir():
        return [("(skipped: ../shared/bench/corpus-100k absent)", "", "", "")]
    rows = []
    root = tmp / "overhead"
    (root / "sources").mkdir(parents=True)
    (root / "sources" / "corpus.yaml").write_text(yaml.safe_dump({
        "id": "corpus", "location": str(CORPUS / "*.jsonl.gz"), "format": "jsonl.gz", "kind": "document",
        "fields": {"id": "id"}, "license": "GPL-2.0-or-later", "obtained": "public-dataset"}))  # fmt: skip
    (root / "curaline.yaml").write_text(yaml.safe_dump({"ingest": {"allowed_roots": [str(CORPUS)]}}))
    project = Project.at(root)
    (m,), _ = load_manifests(project.sources_dir)
    raw, quarantine = project.stage_path("raw_records", "corpus"), project.stage_path("quarantined_records", "corpus")
    ingest_s, lineage_s, lineage_nover_s = [], [], []
    emitter = LineageEmitter(project)
    for _ in range(3):
        t = time.perf_counter()
        stats = ingest_source(m, raw, quarantine, project.config.ingest)
        version = file_digest(raw)  # the asset computes it anyway: its Dagster data version
        ingest_s.append(time.perf_counter() - t)
        for with_version, sink in ((True, lineage_s), (False, lineage_nover_s)):
            (project.lineage_dir / "versions").exists() and shutil.rmtree(project.lineage_dir / "versions")
            t = time.perf_counter()
            with emitter.materialization("raw_records", parent_run_id=RUN_NEW, partition="corpus") as run:
                run.source(m)
                run.output(raw, model=RECORD_MODELS["document"], version=version if with_version else None,
                           quarantined=dict(stats.quarantined), rows_in=stats.read, source=m)  # fmt: skip
                run.output(quarantine, licence_mix=False)
            sink.append(time.perf_counter() - t)
    base = statistics.median(ingest_s)
    for label, values in (("digest passed in (as the usage example does)", lineage_s),
                          ("digest computed by lineage", lineage_nover_s)):  # fmt: skip
        rows.append((f"ingest 100k docs + lineage, {label}", f"{base:.2f}", f"{statistics.median(values):.3f}",
                     f"{statistics.median(values) / base * 100:.1f} %"))  # fmt: skip
    return rows


def dagster_run(root: Path, enabled: bool) -> None:
    """One process: materialize the catalog and the raw asset of the corpus project, as `curaline run` would."""
    import dagster as dg

    from curaline.schemas import QuarantineRow

    raw_key, quarantine_key = dg.AssetKey("raw_records"), dg.AssetKey("quarantined_records")
    partitions = dg.DynamicPartitionsDefinition(name="sources")

    @dg.asset(name="source_catalog")
    def catalog(context, project: ProjectResource, lineage: LineageResource):  # noqa: ANN001, ANN202
        proj = project.project
        path = proj.stage_path("source_catalog")
        with lineage.materialization(context) as run:
            manifests, _ = load_manifests(proj.sources_dir, strict=False)
            write_parquet(path, catalog_table(manifests))
            run.output(path, asset_key=context.asset_key, licence_mix=False)
        return dg.MaterializeResult(data_version=dg.DataVersion(file_digest(path)))

    @dg.multi_asset(specs=[dg.AssetSpec(raw_key, deps=["source_catalog"]), dg.AssetSpec(quarantine_key, deps=["source_catalog"])],
                    partitions_def=partitions)  # fmt: skip
    def raw(context, project: ProjectResource, lineage: LineageResource):  # noqa: ANN001, ANN202
        proj = project.project
        manifest = project.manifest(context.partition_key)
        records, quarantine = proj.stage_path("raw_records", manifest.id), proj.stage_path("quarantined_records", manifest.id)
        with lineage.materialization(context) as run:
            run.source(manifest)
            stats = ingest_source(manifest, records, quarantine, proj.config.ingest)
            rv, qv = file_digest(records), file_digest(quarantine)
            run.output(records, asset_key=raw_key, model=RECORD_MODELS[manifest.kind], version=rv, rows=stats.ingested,
                       rows_in=stats.read, quarantined=dict(stats.quarantined), source=manifest)  # fmt: skip
            run.output(quarantine, asset_key=quarantine_key, model=QuarantineRow, version=qv, licence_mix=False)
        yield dg.MaterializeResult(asset_key=raw_key, data_version=dg.DataVersion(rv))
        yield dg.MaterializeResult(asset_key=quarantine_key, data_version=dg.DataVersion(qv))

    proj = ProjectResource(root=str(root))
    resources = {"project": proj, "lineage": LineageResource(project=proj, enabled=enabled)}
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("sources", ["corpus"])
    assert dg.materialize([catalog], resources=resources, instance=instance).success
    assert dg.materialize([raw], partition_key="corpus", resources=resources, instance=instance,
                          selection=[raw_key, quarantine_key]).success  # fmt: skip


def dagster_overhead(tmp: Path, rounds: int = 3) -> list[tuple[str, str, str, str]]:
    """Whole processes (imports included): the corpus project with lineage on and off, alternating."""
    if not CORPUS.is_dir():
        return []
    root = tmp / "overhead"
    times: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(rounds):
        for enabled in (False, True):
            t = time.perf_counter()
            subprocess.run([sys.executable, __file__, "--dagster-run", str(root), "--lineage", "on" if enabled else "off"],
                           check=True, capture_output=True)  # fmt: skip
            times[enabled].append(time.perf_counter() - t)
    off, on = statistics.median(times[False]), statistics.median(times[True])
    spread = max(max(v) - min(v) for v in times.values())
    return [(f"`dagster` materialization of catalog + raw for the corpus, whole process ({rounds} runs each; "
             f"run-to-run spread {spread:.2f} s)", f"{off:.2f}", f"{on - off:+.2f}", f"{(on - off) / off * 100:+.1f} %")]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=20)
    parser.add_argument("--per-source", type=int, default=60_000)
    parser.add_argument("--calls", type=int, default=15)
    parser.add_argument("--keep", type=Path, default=None, help="build the project here and keep it")
    parser.add_argument("--reuse", action="store_true", help="with --keep: time the project built there before")
    parser.add_argument("--no-overhead", action="store_true", help="skip measuring what emission adds (part 3)")
    parser.add_argument("--dagster-run", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--lineage", choices=("on", "off"), default="on", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.dagster_run:
        dagster_run(args.dagster_run, args.lineage == "on")
        return
    for key in [k for k in os.environ if k.startswith("OPENLINEAGE")]:
        del os.environ[key]
    tmp = Path(tempfile.mkdtemp(prefix="bench-lineage-"))
    root = args.keep or tmp / "proj"
    state = root / "bench_state.json"
    if args.reuse and state.exists():
        saved = json.loads(state.read_text())
        project, samples, emit_s, emitted, build_s = (Project.at(root), saved["samples"], saved["emit_s"],
                                                      saved["emitted"], saved["build_s"])  # fmt: skip
    else:
        if root.exists():
            shutil.rmtree(root)
        t = time.perf_counter()
        project, samples, emit_s, emitted = build_project(root, args.sources, args.per_source)
        build_s = time.perf_counter() - t
        state.write_text(json.dumps({"samples": samples, "emit_s": emit_s, "emitted": emitted, "build_s": build_s}))
    import duckdb

    from curaline.lineage.index import LineageIndex, index_path
    from curaline.lineage.views import ledger_files

    con = duckdb.connect()
    glob = str(project.lineage_dir / "ledger" / "**" / "*.parquet")
    ledger_all = con.sql(f"SELECT count(*) FROM read_parquet('{glob}')").fetchall()[0][0]
    current = ledger_files(project)
    ledger_now = con.sql(f"SELECT count(*) FROM read_parquet({[str(p) for p in current]})").fetchall()[0][0]
    release_rows = con.sql(f"SELECT version, count(*) FROM read_parquet('{project.lineage_dir}/releases/*/*.parquet', "
                           "hive_partitioning = false) GROUP BY 1 ORDER BY 1").fetchall()  # fmt: skip
    print(f"built in {build_s:.0f} s: ledger {ledger_now:,} current rows, {ledger_all:,} in all; release {release_rows}")

    base, how = command()
    p = ["--project", str(project.root)]
    traced = {f"trace: record {label}": [*base, "trace", doc, *p, "--json"] for label, doc in samples.items()}
    # warm the index as any earlier question would (write_ledger kept the ledger part current)
    for argv in traced.values():
        time_calls(argv, 1)
    # interleaved rounds: the machine is shared, so every call kind sees the same load
    calls: dict[str, list[float]] = {}
    plan = [("python", [sys.executable, "-c", "pass"]), ("floor", [sys.executable, "-c", "import curaline.cli"])]
    plan += list(traced.items())
    plan += [("sources", [*base, "sources", *p, "--json"]),
             ("sources --release", [*base, "sources", "--release", RELEASE, *p, "--json"]),
             ("sources --release @v1", [*base, "sources", "--release", f"{RELEASE}@v1", *p, "--json"])]  # fmt: skip
    for _ in range(args.calls):
        for name, argv in plan:
            calls.setdefault(name, []).extend(time_calls(argv, 1))

    def row(name: str, values: list[float], note: str = "") -> tuple[str, str, str, str]:
        median = f"**{ms(values)}**" if name.startswith("**") else ms(values)
        return (name, median, f"{min(values) * 1000:.0f}", note or f"{max(values) * 1000:.0f}")

    results = [row("Python start alone", calls["python"]),
               row("Python start + `import curaline.cli` (the floor of any `curaline` command)", calls["floor"])]  # fmt: skip
    traces = [v for k, vs in calls.items() if k.startswith("trace") for v in vs]
    results += [row(name, values) for name, values in calls.items() if name.startswith("trace")]
    results.append(row("**trace, all records**", traces, "target < 200"))
    results.append(row("**sources**", calls["sources"], "target < 500"))
    results.append(row(f"**sources --release {RELEASE}** (latest, v2)", calls["sources --release"], "target < 500"))
    results.append(row(f"sources --release {RELEASE}@v1", calls["sources --release @v1"]))
    cold = []
    for _ in range(3):  # the first trace after the index was deleted: indexes what the question needs
        shutil.rmtree(index_path(project).parent)
        cold += time_calls(traced["trace: record dropped at quality_filtered"], 1)
    results.append(row("trace, index deleted first (builds the index of src03's files and the release)", cold))
    from curaline.lineage import queries

    for name, fn in (("in-process `queries.trace` (no process start)", lambda: [queries.trace(project, d) for d in samples.values()]),
                     ("in-process `queries.sources_report`", lambda: [queries.sources_report(project)])):  # fmt: skip
        values = []
        for _ in range(args.calls):
            t = time.perf_counter()
            n = len(fn())
            values.append((time.perf_counter() - t) / n)
        results.append((name, ms(values), f"{min(values) * 1000:.0f}", ""))
    for name, argv in (("impact src03", ["impact", "src03"]), ("runs --asset deduped", ["runs", "--asset", "deduped"]),
                       ("sql: count ledger by stage", ["sql", "SELECT stage, count(*) FROM ledger GROUP BY 1"]),
                       ("sql: releases view", ["sql", "SELECT * FROM releases"])):  # fmt: skip
        values = time_calls([*base, *argv, *p, "--json"], max(5, args.calls // 3))
        results.append(row(name, values))
    for r in results:
        print(" | ".join(r))

    # the whole index, built from nothing (every ledger file, every output, the release), and its size
    shutil.rmtree(index_path(project).parent)
    everything: dict[Path, str] = {f: "ledger" for f in ledger_files(project, latest=False)}
    everything |= {f: "origin" if f.parent.name == "raw_records" else "presence"
                   for f in project.data_dir.glob("*/*.parquet") if f.parent.name != "quarantined_records"}  # fmt: skip
    everything |= {f: "release" for f in (project.lineage_dir / "releases").glob("*/*.parquet")}
    t = time.perf_counter()
    with LineageIndex(project) as index:
        index.entries(everything)
    full_s = time.perf_counter() - t
    size_mb = sum(f.stat().st_size for f in index_path(project).parent.iterdir()) / 1e6
    # what the index adds to writing a ledger file of 100k rows (write_ledger's hook)
    ids = [make_doc_id("src00", own_key(f"x{i}")) for i in range(100_000)]
    events = make_events(ids, "drop", "bench_rule", value=0.5, threshold=1.0, detail="n=1")
    hook_s, write_s = [], []
    scratch = Project.at(tmp / "hook")
    for i in range(5):
        t = time.perf_counter()
        path = write_ledger(scratch, events, stage="bench_hook", partition="src00", run_id=f"hook-{i}")
        write_s.append(time.perf_counter() - t)
        with LineageIndex(scratch) as index:
            t = time.perf_counter()
            index.refresh(path, "ledger")
            hook_s.append(time.perf_counter() - t)
    index_lines = [
        f"- Index of everything ({len(everything)} files: {ledger_all:,} ledger rows, every stage output, both release "
        f"versions) built from nothing in {full_s:.1f} s; {size_mb:.0f} MB on disk.",
        f"- `write_ledger` of 100k rows: {statistics.median(write_s) * 1000:.0f} ms, of which indexing the file "
        f"{statistics.median(hook_s) * 1000:.0f} ms (median of 5).",
    ]
    print("\n".join(index_lines))
    cost = overhead(tmp) + dagster_overhead(tmp, rounds=5) if not args.no_overhead else [
        ("(not measured in this run: --no-overhead)", "", "", "")]  # fmt: skip
    for r in cost:
        print(" | ".join(r))
    load = os.getloadavg()
    med = {k: statistics.median(v) * 1000 for k, v in calls.items()}
    trace_ms = statistics.median(traces) * 1000
    lines = [
        "# Lineage benchmark",
        "",
        f"`python benchmarks/bench_lineage.py --sources {args.sources} --per-source {args.per_source}` on "
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, DuckDB {duckdb.__version__}; "
        f"load average at the end {load[0]:.1f} (other jobs share the machine).",
        "",
        f"Synthetic project: {args.sources} sources x {args.per_source:,} documents = "
        f"{args.sources * args.per_source:,} records; four cleaning stages per source, each run twice. "
        f"Ledger: **{ledger_now:,} rows in the current runs**, {ledger_all:,} with history, in "
        f"{len(list((project.lineage_dir / 'ledger').rglob('*.parquet')))} files. "
        f"Release `{RELEASE}`: v1 {release_rows[0][1]:,} records, then {TAKEN_DOWN} of src03's taken down, "
        f"v2 {release_rows[1][1]:,}. "
        f"{emitted} materializations emitted by the real emitter in {emit_s:.1f} s "
        f"({emit_s / emitted * 1000:.0f} ms each, digests included).",
        "",
        f"## CLI calls, a new process each (`{how} ...  --json`), {args.calls} interleaved rounds",
        "",
        "| call | median ms | min ms | max ms / target |",
        "|---|---:|---:|---:|",
        *[f"| {a} | {b} | {c} | {d} |" for a, b, c, d in results],
        "",
        f"Targets: trace < 200 ms **{'met' if trace_ms < 200 else 'not met'}** ({trace_ms:.0f} ms), sources < 500 ms "
        f"**{'met' if med['sources'] < 500 else 'not met'}** ({med['sources']:.0f} ms), sources --release < 500 ms "
        f"**{'met' if med['sources --release'] < 500 else 'not met'}** ({med['sources --release']:.0f} ms).",
        "",
        f"A trace costs the floor plus {trace_ms - med['floor']:.0f} ms. It answers from the lineage index",
        "(`curaline/lineage/index.py`, `lineage/index/lineage.sqlite3`): per parquet file, its doc keys sorted in one",
        "SQLite blob and the columns a trace shows, encoded per column; a lookup is a binary search in each blob of the",
        "files that can hold the record (its source's outputs and ledger files, global ones, the release versions),",
        "after a `stat` of each to catch any file changed since it was indexed. Neither DuckDB nor pyarrow is imported",
        "(`import duckdb` alone costs ~120 ms here); the `curaline` entry point imports other commands' modules only",
        "when they run. The parquet files stay the truth: a stale, missing or corrupt index is rebuilt from them.",
        "Before the index (DuckDB on the trace path, same benchmark): trace 240-277 ms, sources 212-259 ms.",
        "",
        "The cold row is the worst case, a deleted index: that trace imports pyarrow (which imports pandas, ~0.8 s",
        "together) and indexes everything it needs, here two 0.9M-record release versions. In normal operation",
        "`write_ledger` indexes each ledger file as it writes it, so only outputs and release versions written since",
        "the last question are indexed, on the first trace that needs them.",
        "",
        "## The index",
        "",
        *index_lines,
        "",
        "## What emission adds to a stage (100k-document corpus, 3 runs, medians)",
        "",
        "| run | without lineage s | lineage adds s | overhead |",
        "|---|---:|---:|---:|",
        *[f"| {a} | {b} | {c} | {d} |" for a, b, c, d in cost],
        "",
        "The whole-process row includes importing the OpenLineage client; a difference smaller than the run-to-run",
        "spread means lineage is lost in the noise of a real run.",
        "",
        "Lineage per materialization: a START and a COMPLETE event (schema, version, statistics, null counts and",
        "numeric min/max from the parquet footer, licence mix from the dictionary-encoded licence column, source",
        "declaration, removals, checks), the run's parquet file in the lineage store, the JSON-lines transport.",
        "Importing the OpenLineage client costs about 0.4 s once per process (it imports requests, httpx and",
        "fsspec for its transports); `curaline run` materializes everything in one process, so it pays this once.",
        "",
    ]
    out = REPO / "benchmarks" / "RESULTS_lineage.md"
    out.write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {out}")
    shutil.rmtree(tmp, ignore_errors=True)  # the project itself stays when built under --keep


if __name__ == "__main__":
    main()
