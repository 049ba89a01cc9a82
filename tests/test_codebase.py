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
    """cli.py may, lazily, inside the commands that run the pipeline (definitions only)."""
    offenders = [p.relative_to(REPO).as_posix() for p in (REPO / "curaline").rglob("*.py")
                 if DAGSTER_IMPORT.search(p.read_text()) and p.name != "cli.py"]  # fmt: skip
    assert offenders == []
    cli = (REPO / "curaline" / "cli.py").read_text()
    top_level = [line for line in cli.splitlines() if DAGSTER_IMPORT.match(line) and not line.startswith(" ")]
    assert top_level == []


def test_ruff_is_clean() -> None:
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent))
    if ruff is None:
        pytest.skip("ruff is not installed (pip install -e '.[test]')")
    proc = subprocess.run([ruff, "check", "."], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:]
