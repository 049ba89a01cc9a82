"""Publishing is all-or-nothing: no release folder claims a version git never tagged.

Issue 17: a leftover .git/index.lock failed every release after data/releases/R/manifest.json
already claimed the new version.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from test_release_build import _manifests, _source, _spec

from curaline.project import Project
from curaline.release.build import build_release
from curaline.release.spec import load_spec
from curaline.release.versions import publish, versions
from curaline.versioning import VersioningError, ensure_repo


def _folder_version(root: Path) -> int:
    return int(json.loads((root / "data" / "releases" / "r" / "manifest.json").read_text())["version"])


def _tags(root: Path) -> list[str]:
    return subprocess.run(["git", "-C", str(root), "tag"], capture_output=True, text=True, check=True).stdout.split()


def test_a_stale_git_lock_is_named_and_nothing_claims_the_new_version(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    _source(root, "web", n=12)
    project = Project.at(root)
    ensure_repo(project)
    spec = load_spec(_spec(root, "r"))
    assert publish(project, build_release(project, spec, _manifests(root))).manifest["version"] == 1
    _source(root, "web", n=20)  # new content: the next publish is v2

    lock = root / ".git" / "index.lock"
    lock.write_text("")
    with pytest.raises(VersioningError) as err:
        publish(project, build_release(project, spec, _manifests(root)))
    assert str(lock) in str(err.value) and "delete" in str(err.value) and "\n" not in str(err.value)
    assert _folder_version(root) == 1 and [m["version"] for m in versions(project, "r")] == [1]

    # a failure after the folder was swapped in (here: the tag exists elsewhere) puts the old folder back
    lock.unlink()
    # on v1's commit: the v2 publish commits first, so the tag is then on another commit
    subprocess.run(["git", "-C", str(root), "tag", "release/r/v2", "HEAD"], check=True, capture_output=True)
    with pytest.raises(VersioningError, match="already exists"):
        publish(project, build_release(project, spec, _manifests(root)))
    assert _folder_version(root) == 1 and [m["version"] for m in versions(project, "r")] == [1]
    assert not list((root / "data" / "releases").glob(".r.*"))  # no leftover staging folders

    subprocess.run(["git", "-C", str(root), "tag", "-d", "release/r/v2"], check=True, capture_output=True)
    published = publish(project, build_release(project, spec, _manifests(root)))
    assert published.manifest["version"] == 2 and _folder_version(root) == 2
    assert "release/r/v2" in _tags(root)
