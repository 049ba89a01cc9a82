"""The codebase's own rules: the library never imports Dagster, and ruff is clean."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DAGSTER_IMPORT = re.compile(r"^\s*(import dagster|from dagster)", re.MULTILINE)


def test_library_never_imports_dagster() -> None:
    """The command modules may, lazily, inside the commands that run the pipeline (definitions only)."""
    commands = ("cli.py",)
    offenders = [p.relative_to(REPO).as_posix() for p in (REPO / "curaline").rglob("*.py")
                 if DAGSTER_IMPORT.search(p.read_text()) and p.name not in commands]  # fmt: skip
    assert offenders == []
    for name in commands:
        text = (REPO / "curaline" / name).read_text()
        top_level = [line for line in text.splitlines() if DAGSTER_IMPORT.match(line) and not line.startswith(" ")]
        assert top_level == [], name


def test_ruff_is_clean() -> None:
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent))
    if ruff is None:
        pytest.skip("ruff is not installed (pip install -e '.[test]')")
    proc = subprocess.run([ruff, "check", "."], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:]
