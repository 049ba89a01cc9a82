"""Shared fixtures: the public datasets beside the checkout, temp projects."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = (REPO.parent / "shared").resolve()


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
