"""Validate OpenLineage events offline against the official JSON schemas.

Like the spec's own compatibility tests: the event is validated against
OpenLineage.json, then every facet against the schema its ``_schemaURL`` names, and,
as a ``{key: facet}`` object, against its facet file's top-level schema, which pins the
key a standard facet must use. All references resolve from a local copy of the spec
(``spec/OpenLineage.json``, ``spec/facets/*.json``, the versioned copies under
``website/static/spec`` when present) plus curaline's own facet schemas, through a
`referencing` registry: nothing is fetched, so validation works offline and in CI.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator
from functools import cached_property
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012

from curaline.lineage.custom_facets import FACET_SCHEMA_DIR

FACET_SITES = (
    ("run", "facets"),
    ("job", "facets"),
    ("inputs", "facets"),
    ("inputs", "inputFacets"),
    ("outputs", "facets"),
    ("outputs", "outputFacets"),
)


def _format_checker() -> FormatChecker:
    checker = FormatChecker()

    @checker.checks("date-time", raises=ValueError)
    def _date_time(value: object) -> bool:
        # RFC 3339: a date, a time and an offset; jsonschema checks it only with an extra package
        if not isinstance(value, str):
            return True
        if "t" not in value.lower():
            raise ValueError(f"{value!r} has no time part")
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        if parsed.tzinfo is None:
            raise ValueError(f"{value!r} has no UTC offset")
        return True

    return checker


def spec_root(spec_dir: Path) -> Path:
    """The folder holding OpenLineage.json: spec_dir itself or its spec/ subfolder."""
    for candidate in (spec_dir, spec_dir / "spec"):
        if (candidate / "OpenLineage.json").is_file():
            return candidate
    raise FileNotFoundError(f"no OpenLineage.json in {spec_dir} or {spec_dir / 'spec'}")


class EventValidator:
    """Validates events against a local copy of the OpenLineage spec (and our facets)."""

    def __init__(self, spec_dir: Path, extra_schema_dirs: Iterable[Path] = (FACET_SCHEMA_DIR,)):
        root = spec_root(Path(spec_dir))
        files: list[Path] = []
        website = root.parent / "website" / "static" / "spec"
        if website.is_dir():
            files += sorted(website.rglob("*.json"))  # older versions first: the spec/ copy wins
        files += [root / "OpenLineage.json", *sorted((root / "facets").glob("*.json"))]
        for extra in extra_schema_dirs:
            files += sorted(Path(extra).glob("*.json"))
        self.schemas: dict[str, dict[str, Any]] = {}
        for path in files:
            doc = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(doc, dict) and "$id" in doc:
                self.schemas[doc["$id"]] = doc
        core = json.loads((root / "OpenLineage.json").read_text(encoding="utf-8"))
        self.core_id: str = core["$id"]
        self.registry: Registry = Registry().with_resources(
            (uri, Resource.from_contents(doc, default_specification=DRAFT202012))
            for uri, doc in self.schemas.items()
        )
        self._validators: dict[str, Draft202012Validator] = {}

    @cached_property
    def _checker(self) -> FormatChecker:
        return _format_checker()

    def _validator(self, ref: str) -> Draft202012Validator:
        v = self._validators.get(ref)
        if v is None:
            v = Draft202012Validator({"$ref": ref}, registry=self.registry, format_checker=self._checker)
            self._validators[ref] = v
        return v

    def _errors(self, ref: str, instance: Any, where: str) -> list[str]:
        out = []
        for err in self._validator(ref).iter_errors(instance):
            path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err.absolute_path)
            out.append(f"{where}{path}: {err.message}")
        return out

    def validate_document(self, instance: Any, schema_id: str) -> list[str]:
        """Any JSON document against a schema of the registry (a facet file's $id, say)."""
        return self._errors(schema_id, instance, "$")

    def validate_facet(self, key: str, facet: Any, where: str = "$") -> list[str]:
        """A facet against the schema its _schemaURL names, and its key against the file's."""
        if not isinstance(facet, dict):
            return [f"{where}.{key}: a facet must be an object"]
        url = facet.get("_schemaURL")
        if not isinstance(url, str) or not url:
            return [f"{where}.{key}: no _schemaURL"]
        file_id = url.split("#", 1)[0]
        try:
            self.registry.resolver().lookup(url)
        except Unresolvable:
            return [f"{where}.{key}: unknown facet schema {url} (not in the local spec or curaline's facets)"]
        errors = self._errors(url, facet, f"{where}.{key}")
        doc = self.schemas.get(file_id, {})
        keys = list((doc.get("properties") or {}).keys())
        if keys:
            if key not in keys:
                errors.append(f"{where}.{key}: the schema {file_id} defines this facet under {', '.join(keys)}")
            else:
                errors += self._errors(file_id, {key: facet}, where)
        return errors

    def validate(self, event: dict[str, Any]) -> list[str]:
        """Every problem with the event, as '<json path>: <message>'; empty when valid."""
        errors = self._errors(self.core_id, event, "$")
        url = event.get("schemaURL")
        if isinstance(url, str) and url.split("#", 1)[0] != self.core_id:
            try:
                self.registry.resolver().lookup(url)
            except Unresolvable:
                errors.append(f"$.schemaURL: {url} is not a known OpenLineage schema")
        for where, key, facet in iter_facets(event):
            errors += self.validate_facet(key, facet, where)
        return errors


def iter_facets(event: dict[str, Any]) -> Iterator[tuple[str, str, Any]]:
    """(json path of the facet container, key, facet) for every facet of an event."""
    for entity, container in FACET_SITES:
        value = event.get(entity)
        if isinstance(value, dict):
            items: list[tuple[str, Any]] = [(f"$.{entity}", value)]
        elif isinstance(value, list):
            items = [(f"$.{entity}[{i}]", v) for i, v in enumerate(value)]
        else:
            continue
        for where, obj in items:
            facets = obj.get(container) if isinstance(obj, dict) else None
            if isinstance(facets, dict):
                for key, facet in facets.items():
                    yield f"{where}.{container}", key, facet
