"""The goal of issue 23, end to end with real processes: run, take a source down, run; then on
"another machine" (git clone + dvc pull + curaline run) the takedown holds, the trace shows the
request, v1's bytes come back, and the three reports equal the original's byte for byte."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml
from tests_support import jsonl, prose, spec

from curaline.project import Project
from curaline.store import file_digest

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[1]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "CURALINE_PROJECT")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(REPO)
    return env


def sh(cwd: Path, *args: str) -> str:
    res = subprocess.run(list(args), cwd=cwd, env=_env(), capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, f"{args}: {res.stdout[-3000:]}{res.stderr[-3000:]}"
    return res.stdout


def curaline(root: Path, *args: str) -> str:
    return sh(root, str(BIN / "curaline"), *args, "--project", str(root))


def _project(root: Path) -> Project:
    (root / "sources").mkdir(parents=True)
    (root / "releases").mkdir()
    (root / "corpus").mkdir()
    for sid, seed in (("essays", 0), ("letters", 1000)):
        (root / "corpus" / f"{sid}.jsonl").write_text(jsonl([prose(seed + i) for i in range(12)], ids=f"{sid}-"))
        (root / "sources" / f"{sid}.yaml").write_text(yaml.safe_dump({
            "id": sid, "location": f"../corpus/{sid}.jsonl", "format": "jsonl", "kind": "document",
            "license": "CC-BY-4.0", "obtained": "public-dataset", "owner": "o@example.com", "languages": ["en"],
            "fields": {"id": "id"}}))  # fmt: skip
    (root / "releases" / "main.yaml").write_text(yaml.safe_dump(spec("main", "all", {"essays": 0.5, "letters": 0.5})))
    return Project.at(root)


def reports(root: Path) -> dict[str, str]:
    return {f"{kind} {ref}": curaline(root, "report", kind, ref) for kind in ("eu-ai-act", "art10", "card")
            for ref in ("main@v1", "main@v2")}  # fmt: skip


class Original:
    def __init__(self, project: Project, v1: dict, letters: list[str], reports: dict[str, str]) -> None:
        self.project, self.v1, self.letters, self.reports = project, v1, letters, reports


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> Original:
    """Run, take a source down, run: v1 holds the source, v2 does not."""
    project = _project(tmp_path_factory.mktemp("goal") / "here" / "project")
    root = project.root
    curaline(root, "run")
    v1 = json.loads((project.lineage_dir / "releases" / "release=main" / "v1.json").read_text())
    letters = [d for d in pq.read_table(project.lineage_dir / "releases" / "release=main" / "v1.parquet")["doc_id"].to_pylist()
               if d.startswith("letters:")]  # fmt: skip
    assert letters
    curaline(root, "takedown", "--source", "letters", "--reason", "licence withdrawn (ticket 9)")
    curaline(root, "run")
    return Original(project, v1, letters, reports(root))


def clone_of(root: Path, target: Path) -> Path:
    """`git clone` + `dvc pull`, the remote pointed at the original's store (the README's steps)."""
    sh(root.parent, "git", "clone", "-q", str(root), str(target))
    sh(target, str(BIN / "dvc"), "remote", "modify", "--local", "local", "url", str(root / ".dvc-store"))
    sh(target, str(BIN / "dvc"), "pull", "--quiet")
    return target


@pytest.mark.slow
def test_a_takedown_travels_with_the_project(original: Original, tmp_path: Path) -> None:
    clone = clone_of(original.project.root, tmp_path / "elsewhere" / "project")
    curaline(clone, "run")

    there = Project.at(clone)
    versions = sorted((there.lineage_dir / "releases" / "release=main").glob("v*.parquet"))
    latest = pq.read_table(versions[-1])["doc_id"].to_pylist()
    assert len(versions) >= 2 and latest and not any(d.startswith("letters:") for d in latest)  # the takedown held
    trace = json.loads(curaline(clone, "lineage", "trace", original.letters[0], "--json"))
    assert [t["reason"] for t in trace["takedowns"]] == ["licence withdrawn (ticket 9)"]
    out = tmp_path / "v1"
    curaline(clone, "release", "checkout", "main@v1", "--to", str(out))
    assert all(file_digest(out / f["path"]) == f["md5"] for f in original.v1["files"])
    assert reports(clone) == original.reports  # byte for byte (no report text depends on the machine)


@pytest.mark.slow
def test_dvc_repro_force_of_a_release_in_a_clone_gives_its_bytes(original: Original, tmp_path: Path) -> None:
    """What the README says, in a fresh clone: `dvc repro --force release@<name>` reruns the whole
    chain from the pulled (DVC-tracked) source files, through an empty output (no preference source)."""
    root = original.project.root
    clone = clone_of(root, tmp_path / "repro" / "project")
    folder = Path("data") / "releases" / "main"
    released = {p.relative_to(root): file_digest(p) for p in sorted((root / folder).rglob("*")) if p.is_file()}
    out = sh(clone, str(BIN / "dvc"), "repro", "--force", "release@main")
    assert "Running stage 'source_records@letters'" in out and "Running stage 'preference_pairs'" in out
    rebuilt = {p.relative_to(clone): file_digest(p) for p in sorted((clone / folder).rglob("*")) if p.is_file()}
    assert rebuilt == released
