"""`COLUMNS=100`: `curaline lineage runs` and every other table command print no line longer
than 100 characters (with `--wide` they print the same data uncut, wider)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from click.testing import CliRunner
from lineage_fixtures import doc_id, make_project, run_pipeline_with_lineage

from curaline.cli import _print_summary, main
from curaline.lineage.emitter import LineageEmitter
from curaline.project import Project
from curaline.records import make_doc_id, own_key
from curaline.release.build import build_release
from curaline.release.spec import load_spec
from curaline.release.versions import blocked, publish, record_blocked
from curaline.sources import catalog_table, load_manifests
from curaline.store import write_parquet

REPO = Path(__file__).resolve().parents[2]
WIDTH = 100


@pytest.fixture(scope="module")
def lineage_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    root = tmp_path_factory.mktemp("width")
    with pytest.MonkeyPatch.context() as mp:
        for key in list(os.environ):
            if key.startswith("OPENLINEAGE"):
                mp.delenv(key)
        mp.chdir(root)
        mp.setenv("HOME", str(root))
        project = make_project(root / "a-project-folder-with-a-rather-long-name" / "proj")
        manifests, _ = load_manifests(project.sources_dir)
        write_parquet(project.stage_path("source_catalog"), catalog_table(manifests, project.root))
        run_pipeline_with_lineage(project, LineageEmitter(project))
        res = CliRunner().invoke(main, ["takedown", "--source", "forum", "--requested-by", "legal@example.com",
                                        "--reason", "erasure request under GDPR Art. 17, ticket LEGAL-2291, from the "
                                        "author of every post in the forum export", "--project", str(project.root)])  # fmt: skip
        assert res.exit_code == 0, res.output
        yield project


def _curated_source(root: Path, sid: str, license: str, n: int = 12) -> None:
    """A manifest and the `decontaminated` output the pipeline would have written for it."""
    (root / "sources").mkdir(parents=True, exist_ok=True)
    (root / "sources" / f"{sid}.yaml").write_text(yaml.safe_dump({
        "id": sid, "location": f"../corpus/{sid}.jsonl", "format": "jsonl", "kind": "document",
        "fields": {"id": "id"}, "license": license, "obtained": "public-dataset", "domain": "web"}))  # fmt: skip
    words = "river stone garden bridge market lantern harbour meadow orchard valley".split()
    write_parquet(root / "data" / "decontaminated" / f"{sid}.parquet", pa.table({
        "doc_id": [make_doc_id(sid, own_key(f"r{i}")) for i in range(n)], "source_id": [sid] * n,
        "license": [license] * n, "content_hash": ["0" * 32] * n, "language": ["en"] * n,
        "lang_score": [0.9] * n, "text": [" ".join(f"{w}{i}" for w in words) + "." for i in range(n)]}))  # fmt: skip


def _spec(root: Path, name: str, use: str, sources: list[str]) -> Path:
    (root / "releases").mkdir(exist_ok=True)
    path = root / "releases" / f"{name}.yaml"
    path.write_text(yaml.safe_dump({
        "name": name, "description": f"{name} for the width test", "use": use, "sources": sources,
        "languages": ["en"], "quality": "default", "dedup": True, "decontaminate": True,
        "mix": {"by": "domain", "weights": {"web": 1.0}},
        "splits": {"train": 0.8, "validation": 0.1, "test": 0.1, "seed": 1}}))  # fmt: skip
    return path


@pytest.fixture(scope="module")
def release_project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """One released version, and one release whose latest build the licence gate blocked."""
    root = tmp_path_factory.mktemp("releases")
    _curated_source(root, "open-web-text-collection", "CC-BY-4.0")
    _curated_source(root, "partner-forum-export-under-a-non-commercial-licence", "CC-BY-NC-4.0")
    project = Project.at(root)
    manifests, _ = load_manifests(project.sources_dir)
    spec = load_spec(_spec(root, "research-everything", "research", ["open-web-text-collection"]), manifests)
    assert publish(project, build_release(project, spec, manifests), versioning=False).new
    shop = load_spec(_spec(root, "shop", "commercial", ["open-web-text-collection",
                                                        "partner-forum-export-under-a-non-commercial-licence"]),
                     manifests)  # fmt: skip
    build = build_release(project, shop, manifests)
    assert build.blocked
    record_blocked(project, build)
    return project


def _invoke(args: list[str], project: Project, *extra: str) -> str:
    res = CliRunner().invoke(main, [*args, "--project", str(project.root), *extra], env={"COLUMNS": str(WIDTH)})
    assert res.exit_code == 0, (args, res.output)
    return res.stdout


LINEAGE_COMMANDS = [
    ["sources", "list"], ["lineage", "sources"], ["lineage", "runs"], ["lineage", "impact", "notes"],
    ["lineage", "sql", "SELECT * FROM ledger_history"], ["lineage", "sql", "SELECT * FROM records"],
    ["lineage", "flush"], ["takedown-status"],
]  # fmt: skip
RELEASE_COMMANDS = [["release", "list"], ["release", "show", "research-everything"], ["release", "show", "shop"]]


def test_every_table_command_fits_100_columns(lineage_project: Project, release_project: Project) -> None:
    commands = [(c, lineage_project) for c in LINEAGE_COMMANDS] + [(c, release_project) for c in RELEASE_COMMANDS]
    commands.append((["lineage", "trace", doc_id("notes", "n3")], lineage_project))
    overflowing = []
    for args, project in commands:
        fitted = _invoke(args, project)
        assert fitted.strip(), args
        longest = max(len(line) for line in fitted.splitlines())
        assert longest <= WIDTH, (args, longest, fitted)
        wide = _invoke(args, project, "--wide")
        if max(len(line) for line in wide.splitlines()) > WIDTH:
            overflowing.append(" ".join(args[:2]))
        # JSON is the full data whatever the width
        if args[0] not in ("takedown-status",):
            data = json.loads(_invoke(args, project, "--json"))
            assert data == json.loads(CliRunner().invoke(main, [*args, "--project", str(project.root), "--json"],
                                                         env={"COLUMNS": "40"}).stdout)  # fmt: skip
    # the fitting did work: these would not have fitted uncut
    assert {"lineage trace", "lineage sql", "release show", "takedown-status"} <= set(overflowing), overflowing


def test_the_run_summary_fits_too(lineage_project: Project, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    monkeypatch.setenv("COLUMNS", str(WIDTH))
    _print_summary(lineage_project)
    out = capsys.readouterr().out
    assert "TOTAL" in out and max(len(line) for line in out.splitlines()) <= WIDTH


def test_lineage_runs_from_the_console_script_shows_both_run_ids(lineage_project: Project) -> None:
    env = {**os.environ, "COLUMNS": str(WIDTH), "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "curaline.cli", "lineage", "runs", "--project",
                           str(lineage_project.root)], capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert max(len(line) for line in lines) <= WIDTH
    rule = next(i for i, line in enumerate(lines) if set(line) == {"-", " "})
    assert lines[0].split()[-2:] == ["dagster", "openlineage"]  # headers may wrap: "run" below them
    runs = json.loads(_invoke(["lineage", "runs"], lineage_project, "--json"))
    first = runs[0]
    assert lines[rule + 1].split()[-2:] == [first["parent_run_id"][:8], first["run_id"][-8:]]
    wide = _invoke(["lineage", "runs"], lineage_project, "--wide")
    assert first["parent_run_id"] in wide and first["run_id"] in wide


def test_a_blocked_release_is_listed_and_shown_with_its_gate_report(release_project: Project) -> None:
    listed = json.loads(_invoke(["release", "list"], release_project, "--json"))
    assert [(r["release"], r["version"], r["status"]) for r in listed] == [
        ("research-everything", 1, "released"), ("shop", None, "blocked")]  # fmt: skip
    shown = " ".join(_invoke(["release", "show", "shop"], release_project).split())
    assert "shop: BLOCKED by the licence gate (commercial use)" in shown
    assert "Licence gate BLOCKED commercial release shop (shop.yaml): 1 violation(s)" in shown
    assert "Fix: remove these sources from the spec's `sources`, or change its `use`." in shown
    assert "partner-forum-export" in shown and "non-commercial" in shown
    as_json = json.loads(_invoke(["release", "show", "shop"], release_project, "--json"))
    assert as_json["status"] == "blocked" and as_json["gate"]["violations"][0]["records"] == 12


def test_the_block_ends_when_the_gate_passes_or_the_spec_goes(tmp_path: Path) -> None:
    _curated_source(tmp_path, "web", "CC-BY-4.0")
    _curated_source(tmp_path, "nc", "CC-BY-NC-4.0")
    project = Project.at(tmp_path)
    manifests, _ = load_manifests(project.sources_dir)
    path = _spec(tmp_path, "shop", "commercial", ["web", "nc"])
    record_blocked(project, build_release(project, load_spec(path, manifests), manifests))
    assert blocked(project, "shop") is not None
    _spec(tmp_path, "shop", "commercial", ["web"])  # the operator follows the report's Fix
    publish(project, build_release(project, load_spec(path, manifests), manifests), versioning=False)
    assert blocked(project, "shop") is None
    _spec(tmp_path, "shop", "commercial", ["web", "nc"])
    record_blocked(project, build_release(project, load_spec(path, manifests), manifests))
    listed = json.loads(_invoke(["release", "list"], project, "--json"))
    assert [(r["version"], r["status"]) for r in listed] == [(1, "released"), (None, "blocked")]
    shown = " ".join(_invoke(["release", "show", "shop"], project).split())  # lines wrap at 100
    assert "v1 stays the latest released version" in shown and "shop v1 (released" in shown
    path.unlink()  # the spec is gone: nothing is blocked any more
    assert blocked(project, "shop") is None
    assert [r["status"] for r in json.loads(_invoke(["release", "list"], project, "--json"))] == ["released"]
    assert pq.read_table(project.lineage_dir / "releases" / "release=shop" / "v1.parquet").num_rows == 12
