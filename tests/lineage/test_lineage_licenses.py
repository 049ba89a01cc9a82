"""Licence classes of SPDX expressions, checked against the Data Provenance Initiative's table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from curaline.licenses import LicenseExpressionError, classify, most_restrictive

#: DPI licence name -> the SPDX id a manifest would use for it.
DPI_TO_SPDX = {
    "Apache License 2.0": "Apache-2.0",
    "MIT License": "MIT",
    "BSD 3-Clause License": "BSD-3-Clause",
    "ISC License": "ISC",
    "Academic Free License v3.0": "AFL-3.0",
    "Artistic License 2.0": "Artistic-2.0",
    "EPL 1.0": "EPL-1.0",
    "MPL 2.0": "MPL-2.0",
    "LGPL 2.1": "LGPL-2.1-only",
    "CC BY 4.0": "CC-BY-4.0",
    "CC BY 3.0": "CC-BY-3.0",
    "CC0 1.0": "CC0-1.0",
    "ODC BY 1.0": "ODC-By-1.0",
    "CDLA Permissive 2.0": "CDLA-Permissive-2.0",
    "OGL 3.0": "OGL-UK-3.0",
    "CC BY-SA 4.0": "CC-BY-SA-4.0",
    "CC BY-SA 3.0": "CC-BY-SA-3.0",
    "CC BY-ND 4.0": "CC-BY-ND-4.0",
    "GNU General Public License v3.0": "GPL-3.0-only",
    "GNU General Public License v2.0": "GPL-2.0-or-later",
    "CDLA Sharing 1.0": "CDLA-Sharing-1.0",
    "C-UDA": "C-UDA-1.0",
    "BigScience OpenRAIL-M": "BigScience-OpenRAIL-M",
    "CC BY-NC 4.0": "CC-BY-NC-4.0",
    "CC BY-NC-SA 4.0": "CC-BY-NC-SA-4.0",
    "CC BY-NC-ND 4.0": "CC-BY-NC-ND-4.0",
    "CC BY-NC 2.0": "CC-BY-NC-2.0",
}


def dpi_class(use: str, share_alike: str) -> str:
    """The DPI columns (use, attribution, share-alike) as one of our classes."""
    if use in ("NC", "Acad"):
        return "non-commercial"
    if use == "All" and share_alike in ("0", "1"):
        return "share-alike" if share_alike == "1" else "commercial"
    return "unknown"


def test_classes_agree_with_the_data_provenance_initiative_table(shared_dir: Path) -> None:
    table = json.loads((shared_dir / "refs" / "dpi" / "license_classes.json").read_text())
    for name, spdx in DPI_TO_SPDX.items():
        use, _attribution, share_alike = table[name]
        assert classify(spdx) == dpi_class(use, share_alike), (name, spdx)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("MIT", "commercial"),
        ("cc-by-4.0", "commercial"),  # ids are case-insensitive
        ("GPL-2.0+", "share-alike"),
        ("GPL-2.0-only WITH Classpath-exception-2.0", "share-alike"),
        ("MIT AND CC-BY-SA-4.0", "share-alike"),  # both apply: the most restrictive wins
        ("CC-BY-NC-4.0 AND MIT", "non-commercial"),
        ("CC-BY-NC-4.0 OR MIT", "commercial"),  # the licensee may choose
        ("(CC-BY-NC-4.0 OR GPL-3.0-only) AND Apache-2.0", "share-alike"),
        ("MIT AND LicenseRef-vendor-terms", "unknown"),  # unclassified never looks permissive
        ("MIT OR LicenseRef-vendor-terms", "commercial"),
        ("LicenseRef-vendor-terms", "unknown"),
        ("Proprietary-Unknown-1.0", "unknown"),
        ("", "unknown"),
    ],
)
def test_classify_expressions(expression: str, expected: str) -> None:
    assert classify(expression) == expected


def test_the_project_maps_custom_licence_refs() -> None:
    mapping = {"LicenseRef-vendor-terms": "non-commercial"}
    assert classify("LicenseRef-vendor-terms", mapping) == "non-commercial"
    assert classify("MIT AND licenseref-vendor-terms", mapping) == "non-commercial"
    with pytest.raises(ValueError, match="must be one of commercial, share-alike, non-commercial, academic-only, unknown"):
        classify("LicenseRef-x", {"LicenseRef-x": "free"})


@pytest.mark.parametrize("expression", ["MIT AND", "(MIT", "MIT OR OR GPL-3.0-only", "MIT GPL-3.0-only", "MIT $"])
def test_malformed_expressions_are_refused(expression: str) -> None:
    with pytest.raises(LicenseExpressionError):
        classify(expression)


def test_a_mix_takes_the_most_restrictive_class() -> None:
    assert most_restrictive(["commercial", "share-alike"]) == "share-alike"
    assert most_restrictive(["commercial", "unknown", "non-commercial"]) == "unknown"
    assert most_restrictive([]) == "unknown"
