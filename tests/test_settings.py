"""Stage reports show the settings that differ from the defaults, not the config's repr."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from curaline.kernels.pii import PiiConfig
from curaline.kernels.quality import QualityConfig
from curaline.settings import non_default_settings, settings_markdown


@dataclass(frozen=True)
class Inner:
    floor: float = 0.5


@dataclass(frozen=True)
class Outer:
    name: str
    limit: int = 10
    keep: list[str] = field(default_factory=list)
    inner: Inner = field(default_factory=Inner)


def test_only_changed_settings_are_listed_with_their_defaults() -> None:
    cfg = Outer(name="x", limit=10, keep=["en"], inner=Inner(floor=0.8))
    assert non_default_settings(cfg) == [("name", "x", dataclasses.MISSING),
                                         ("keep", ["en"], []), ("inner.floor", 0.8, 0.5)]  # fmt: skip
    text = settings_markdown(cfg)
    assert text.startswith("Settings that differ from the defaults of `Outer` (3 of 4):")
    assert "| `inner.floor` | `0.8` | `0.5` |" in text and "| `name` | `x` | — |" in text
    assert "limit" not in text


def test_the_real_stage_configs_read_short() -> None:
    assert len(repr(QualityConfig())) > 1000  # what the report used to open with
    assert settings_markdown(QualityConfig()) == (
        f"Settings: the defaults of `QualityConfig` ({len(dataclasses.fields(QualityConfig))} settings; "
        "curaline.yaml `stages:` changes them).")
    text = settings_markdown(PiiConfig(keep_reserved_examples=False))
    assert "| `keep_reserved_examples` | `False` | `True` |" in text and len(text) < 300
