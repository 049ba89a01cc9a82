"""Asset descriptions are Markdown in the UI: a `<name>` outside code would be eaten as an
HTML tag (`data/releases//`), so every placeholder sits in backticks."""

from __future__ import annotations

import re

import pytest

import definitions

_OUTSIDE_CODE = re.compile(r"`[^`]*`")
_TAG = re.compile(r"<[A-Za-z_][A-Za-z0-9_-]*>")


def _descriptions() -> list[tuple[str, str]]:
    defs = definitions.build_definitions()
    out = []
    for assets_def in defs.assets or []:
        for key in getattr(assets_def, "keys", []):
            text = assets_def.specs_by_key[key].description if hasattr(assets_def, "specs_by_key") else None
            if text:
                out.append((key.to_user_string(), text))
    return out


@pytest.mark.parametrize("asset, description", _descriptions())
def test_placeholders_in_descriptions_are_code(asset: str, description: str) -> None:
    bare = _TAG.findall(_OUTSIDE_CODE.sub("", description))
    assert not bare, f"{asset}: {bare} would vanish as HTML in the UI; put it in backticks"
