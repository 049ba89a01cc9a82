"""curaline's own OpenLineage facets: source declaration, licence mix, removals.

Each is an attrs class like the client's generated facets, and each `_get_schema()`
names a JSON schema shipped beside this module (``facets/*.json``, same `$id`), so a
consumer that cannot reach our URL can still validate them from the repository.
Facet keys carry the ``curaline_`` prefix, as the spec asks of custom facets.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attr
from openlineage.client.generated.base import DatasetFacet

from curaline.licenses import UNKNOWN, classify, most_restrictive

#: Where the schemas are published; the files in FACET_SCHEMA_DIR carry these $ids.
SCHEMA_BASE = "https://curaline.dev/spec/facets/1-0-0"
FACET_SCHEMA_DIR = Path(__file__).with_name("facets")


def _schema_url(name: str) -> str:
    return f"{SCHEMA_BASE}/{name}.json#/$defs/{name}"


@attr.define
class CuralineSourceDeclarationDatasetFacet(DatasetFacet):
    """The source manifest behind a dataset: licence, how obtained, legal basis."""

    sourceId: str  # noqa: N815
    """Example: wiki-en"""
    kind: str
    """Example: document"""
    license: str
    """SPDX expression. Example: CC-BY-SA-4.0"""
    licenseClass: str  # noqa: N815
    """Example: share-alike"""
    obtained: str
    """Example: web-crawl"""
    format: str | None = attr.field(default=None)
    location: str | None = attr.field(default=None)
    description: str | None = attr.field(default=None)
    licenseUrl: str | None = attr.field(default=None)  # noqa: N815
    synthetic: dict[str, str] | None = attr.field(default=None)
    """Example: {"generator": "some-model", "termsUrl": "https://example.org/terms"}"""
    crawl: dict[str, Any] | None = attr.field(default=None)
    """Example: {"crawler": "x", "respectsRobotsTxt": true, "tdmOptOut": "honoured"}"""
    legalBasis: str | None = attr.field(default=None)  # noqa: N815
    personalData: str | None = attr.field(default=None)  # noqa: N815
    domain: str | None = attr.field(default=None)
    languages: list[str] | None = attr.field(default=None)
    owner: str | None = attr.field(default=None)
    collected: str | None = attr.field(default=None)
    """Example: 2024-05-01"""
    priority: int | None = attr.field(default=None)
    stageSettings: dict[str, Any] | None = attr.field(default=None)  # noqa: N815
    """The source's own stage settings. Example: {"profile": "code", "stages": {"quality": {"c4": false}}}"""

    @staticmethod
    def _get_schema() -> str:
        return _schema_url("CuralineSourceDeclarationDatasetFacet")

    @classmethod
    def from_declaration(
        cls, declaration: Mapping[str, Any], *, producer: str, license_classes: Mapping[str, str] | None = None
    ) -> CuralineSourceDeclarationDatasetFacet:
        """From `SourceManifest.declaration()` (snake_case keys) to the facet's camelCase."""
        d = declaration
        synthetic = d.get("synthetic") or None
        crawl = d.get("crawl") or None
        return cls(
            sourceId=d["id"],
            kind=d["kind"],
            license=d["license"],
            licenseClass=classify(d["license"], license_classes),
            obtained=d["obtained"],
            format=d.get("format"),
            location=d.get("location"),
            description=d.get("description"),
            licenseUrl=d.get("license_url"),
            synthetic={"generator": synthetic.get("generator"), "termsUrl": synthetic.get("terms_url")}
            if synthetic
            else None,
            crawl={
                "crawler": crawl.get("crawler"),
                "userAgent": crawl.get("user_agent"),
                "respectsRobotsTxt": crawl.get("respects_robots_txt"),
                "tdmOptOut": crawl.get("tdm_opt_out"),
                "periodStart": _iso(crawl.get("period_start")),
                "periodEnd": _iso(crawl.get("period_end")),
            }
            if crawl
            else None,
            legalBasis=d.get("legal_basis"),
            personalData=d.get("personal_data"),
            domain=d.get("domain"),
            languages=list(d.get("languages") or []) or None,
            owner=d.get("owner"),
            collected=d.get("collected"),
            priority=d.get("priority"),
            stageSettings={"profile": d.get("profile"), "stages": d.get("stages") or {}}
            if d.get("profile") or d.get("stages")
            else None,
            producer=producer,
        )


def _iso(value: Any) -> str | None:
    return None if value is None else str(value)


@attr.define
class LicenseShare:
    license: str
    """Example: CC-BY-4.0"""
    licenseClass: str  # noqa: N815
    """Example: commercial"""
    records: int
    """Example: 1200"""


@attr.define
class CuralineLicenseMixDatasetFacet(DatasetFacet):
    """Records per licence and licence class: the release licence gate, auditable."""

    records: int
    licenses: list[LicenseShare]
    classes: dict[str, int]
    """Example: {"commercial": 1200, "share-alike": 30}"""
    licenseClass: str | None = attr.field(default=None)  # noqa: N815
    """The most restrictive class present. Example: share-alike"""

    @staticmethod
    def _get_schema() -> str:
        return _schema_url("CuralineLicenseMixDatasetFacet")

    @classmethod
    def from_counts(
        cls, counts: Mapping[str, int], *, producer: str, license_classes: Mapping[str, str] | None = None
    ) -> CuralineLicenseMixDatasetFacet:
        shares = [
            LicenseShare(license=lic, licenseClass=classify(lic, license_classes), records=int(n))
            for lic, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        ]
        classes: dict[str, int] = {}
        for s in shares:
            classes[s.licenseClass] = classes.get(s.licenseClass, 0) + s.records
        return cls(
            records=sum(s.records for s in shares),
            licenses=shares,
            classes=classes,
            licenseClass=most_restrictive(list(classes)) if classes else UNKNOWN,
            producer=producer,
        )


@attr.define
class CuralineRemovalsDatasetFacet(DatasetFacet):
    """What the producing stages removed, changed or quarantined, by stage and reason."""

    stage: str
    """Example: quality_filtered"""
    removed: dict[str, dict[str, int]]
    """Stage -> reason -> records. Example: {"quality_filtered": {"gopher_short_doc": 12}}"""
    changed: dict[str, dict[str, int]] | None = attr.field(default=None)
    quarantined: dict[str, int] | None = attr.field(default=None)
    """Example: {"malformed_json": 3}"""
    rowsIn: int | None = attr.field(default=None)  # noqa: N815
    rowsOut: int | None = attr.field(default=None)  # noqa: N815

    @staticmethod
    def _get_schema() -> str:
        return _schema_url("CuralineRemovalsDatasetFacet")


#: Facet key -> class, the keys under which the facets appear in events.
CUSTOM_FACETS: dict[str, type[DatasetFacet]] = {
    "curaline_sourceDeclaration": CuralineSourceDeclarationDatasetFacet,
    "curaline_licenseMix": CuralineLicenseMixDatasetFacet,
    "curaline_removals": CuralineRemovalsDatasetFacet,
}
