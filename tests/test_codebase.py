"""The codebase's own rules: the library never reaches the Dagster side, and ruff is clean.

The arrows point one way: definitions, assets, resources and sensors import the library,
never the reverse. The one exception is `curaline/cli.py` (that path, not any file named
cli.py), whose pipeline commands import Dagster and definitions inside their functions.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: top-level packages the library must not import
DAGSTER_SIDE = ("dagster", "definitions", "assets", "resources", "sensors")
#: path -> what it may import, and only inside a function (never at import time)
LAZY_EXCEPTIONS = {"curaline/cli.py": ("dagster", "definitions")}


def dagster_side_imports(source: str) -> list[tuple[int, str, bool]]:
    """(line, module, inside a function) of every import of the Dagster side, also through importlib."""
    found: list[tuple[int, str, bool]] = []

    def visit(node: ast.AST, nested: bool) -> None:
        modules: list[str] = []
        if isinstance(node, ast.Import):
            modules = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                modules = [node.args[0].value]
        for module in modules:
            if module.split(".")[0] in DAGSTER_SIDE:
                found.append((getattr(node, "lineno", 0), module, nested))
        inner = nested or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        for child in ast.iter_child_nodes(node):
            visit(child, inner)

    visit(ast.parse(source), False)
    return found


def test_the_guard_sees_every_way_of_importing() -> None:
    source = ("import dagster as dg\nfrom assets.common import OWNER\nimport sensors.waves\n"
              "def f():\n    import definitions\n    return importlib.import_module('resources.project')\n"
              "from curaline import stages\nfrom . import assets\n")  # fmt: skip
    assert dagster_side_imports(source) == [(1, "dagster", False), (2, "assets.common", False), (3, "sensors.waves", False),
                                            (5, "definitions", True), (6, "resources.project", True)]  # fmt: skip


def test_library_never_imports_the_dagster_side() -> None:
    offenders = []
    for path in sorted((REPO / "curaline").rglob("*.py")):
        rel = path.relative_to(REPO).as_posix()
        allowed = LAZY_EXCEPTIONS.get(rel, ())
        for line, module, nested in dagster_side_imports(path.read_text(encoding="utf-8")):
            if not (nested and module.split(".")[0] in allowed):
                offenders.append(f"{rel}:{line}: {module}" + ("" if nested else " (at import time)"))
    assert offenders == []


def test_importing_the_library_loads_nothing_of_the_dagster_side(tmp_path: Path) -> None:
    """Nor does regenerating dvc.yaml, which every asset's DVC tracking may do."""
    code = ("import sys, curaline, curaline.versioning, curaline.release.versions\n"
            "from curaline.dvc_cli import project_stage_specs\nfrom curaline.project import Project\n"
            f"assert project_stage_specs(Project.at({str(tmp_path)!r}))\n"
            "print('\\n'.join(sorted(sys.modules)))\n")  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)})  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    loaded = {m.split(".")[0] for m in proc.stdout.split()}
    assert "curaline" in loaded
    assert loaded & set(DAGSTER_SIDE) == set()


def test_ruff_is_clean() -> None:
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent))
    if ruff is None:
        pytest.skip("ruff is not installed (pip install -e '.[test]')")
    proc = subprocess.run([ruff, "check", "."], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:]
