"""`release checkout --to` never writes over a folder's files unless forced, and never into / or the project."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from test_release_build import _manifests, _source, _spec

from curaline.cli import main
from curaline.project import Project
from curaline.release.build import build_release
from curaline.release.spec import load_spec
from curaline.release.versions import publish


@pytest.fixture()
def project(tmp_path: Path) -> Project:
    root = tmp_path / "proj"
    root.mkdir()
    _source(root, "web", n=12)
    project = Project.at(root)
    publish(project, build_release(project, load_spec(_spec(root, "r")), _manifests(root)), versioning=False)
    return project


def _checkout(project: Project, *extra: str) -> Result:
    return CliRunner().invoke(main, ["release", "checkout", "r@v1", *extra, "--project", str(project.root)])


def test_a_non_empty_folder_is_refused_unless_forced(project: Project, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "manifest.json").write_text("mine")
    res = _checkout(project, "--to", str(out))
    assert res.exit_code == 2 and len(res.stderr.splitlines()) == 1 and "is not empty" in res.stderr
    assert (out / "manifest.json").read_text() == "mine" and sorted(p.name for p in out.iterdir()) == ["manifest.json"]
    res = _checkout(project, "--to", str(out), "--force")
    assert res.exit_code == 0, res.output
    assert json.loads((out / "manifest.json").read_text())["version"] == 1
    res = _checkout(project, "--to", str(tmp_path / "new" / "folder"))  # a new folder is fine
    assert res.exit_code == 0, res.output


@pytest.mark.parametrize("where", ["/", "ROOT", "ROOT/data", "ROOT/lineage/x", "ROOT/sources", "ROOT/..", "ROOT/data/../releases"])
def test_root_and_the_projects_own_folders_are_refused_even_forced(project: Project, where: str) -> None:
    target = where.replace("ROOT", str(project.root))
    before = sorted(str(p) for p in project.root.rglob("*"))
    res = _checkout(project, "--to", target, "--force")
    assert res.exit_code == 2, res.output
    assert len(res.stderr.splitlines()) == 1 and "refusing to restore into" in res.stderr
    assert sorted(str(p) for p in project.root.rglob("*")) == before
