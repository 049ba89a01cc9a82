"""Shared fixtures: the public datasets beside the checkout, temp projects."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Tables fit $COLUMNS when it is set (curaline/clitools.py), and so does DVC's output:
# pytest-xdist's workers get COLUMNS=80, a shell may export its own. The tests read whole
# tables unless one sets a width itself (tests/lineage/test_cli_width.py).
os.environ.pop("COLUMNS", None)

REPO = Path(__file__).resolve().parents[1]
SHARED = (REPO.parent / "shared").resolve()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]):  # type: ignore[no-untyped-def]
    """After pytest-randomly's shuffle (this wrapper is outside its own), a test marked
    `last_in_module` moves to the end of its module: it changes the module's shared fixture
    (a rerun of the demo with a changed source), which every other test there reads first."""
    result = yield
    for item in [i for i in items if i.get_closest_marker("last_in_module")]:
        items.remove(item)
        same = [k for k, other in enumerate(items) if other.module is item.module]
        items.insert(same[-1] + 1 if same else len(items), item)
    # Modules with a slow test go first (their shuffled order kept): pytest-xdist hands out
    # whole files in this order (`--no-loadscope-reorder`), so a minutes-long story file
    # never starts last while the other worker sits idle.
    slow = {i.module for i in items if i.get_closest_marker("slow")}
    items.sort(key=lambda i: i.module not in slow)  # stable: the order inside each group stays
    return result


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data, or skip: CI has it beside the checkout, a bare clone may not."""
    data = SHARED / "data"
    if not data.is_dir():
        pytest.skip(f"needs the shared datasets at {data} (absent in this checkout)")
    return data


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"needs ../shared beside the checkout ({SHARED} is absent)")
    return SHARED
