"""A stage's settings as an operator reads them: only what differs from the defaults.

A stage report used to open with the config's repr (~1,500 characters of defaults); what
matters is what this project changed (curaline.yaml `stages:`, a manifest's languages).
"""

from __future__ import annotations

import dataclasses
from typing import Any


def _default(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def _short(value: Any, width: int = 60) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= width else text[: width - 1] + "…"


def non_default_settings(config: Any, prefix: str = "") -> list[tuple[str, Any, Any]]:
    """(dotted name, value, default) of every field that differs from its default (nested
    dataclasses are walked); a field without a default always counts."""
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        return []
    out: list[tuple[str, Any, Any]] = []
    for f in dataclasses.fields(config):
        value, default = getattr(config, f.name), _default(f)
        name = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(value) and not isinstance(value, type) and type(default) is type(value):
            inner = non_default_settings(value, prefix=f"{name}.")
            # a nested config's own defaults may differ from the field's default instance
            inner_default = {n: d for n, _, d in non_default_settings(default, prefix=f"{name}.")}
            out += [(n, v, inner_default.get(n, d)) for n, v, d in inner if v != inner_default.get(n, d)]
        elif default is dataclasses.MISSING or value != default:
            out.append((name, value, default))
    return out


def settings_markdown(config: Any) -> str:
    """A small Markdown table of the settings that differ from the defaults (or a line saying none do)."""
    if config is None:
        return "Settings: none."
    name = type(config).__name__
    if not dataclasses.is_dataclass(config):
        return f"Settings: `{_short(config, 120)}`"
    changed = non_default_settings(config)
    total = len(dataclasses.fields(config))
    if not changed:
        return f"Settings: the defaults of `{name}` ({total} settings; curaline.yaml `stages:` changes them)."
    rows = "\n".join(f"| `{n}` | `{_short(v)}` | " + ("—" if d is dataclasses.MISSING else f"`{_short(d)}`") + " |"
                     for n, v, d in changed)  # fmt: skip
    return (f"Settings that differ from the defaults of `{name}` ({len(changed)} of {total}):\n\n"
            f"| setting | value | default |\n|---|---|---|\n{rows}")
