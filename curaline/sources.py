"""Source manifests: one YAML file per source, validated strictly.

A manifest is a legal declaration as much as a configuration: it states the licence
and how the data was obtained, which the release gate and the EU AI Act summary rely
on. So every key is known (a typo is an error, not a silently ignored setting) and
every problem names the file, the field and what is allowed, all at once.
"""

from __future__ import annotations

import datetime as dt
import functools
import glob
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from curaline.kernels.langcodes import language_tag_problem
from curaline.records import KINDS, LABEL_TYPES, canonical_label

if TYPE_CHECKING:
    import pyarrow as pa

FORMATS = ("jsonl", "jsonl.gz", "json", "parquet", "csv", "text", "oasst")
#: Formats with a fixed layout (no `fields` mapping), and the one kind each yields.
FIXED_LAYOUT: dict[str, str] = {"oasst": "preference"}
OBTAINED = ("public-dataset", "licensed", "private", "web-crawl", "user-data", "synthetic")
PERSONAL_DATA = ("expected", "none", "unknown")
TDM_OPT_OUT = ("honoured", "ignored", "not-applicable")

#: curaline field -> which kinds may map it
FIELDS_BY_KIND: dict[str, tuple[str, ...]] = {
    "document": ("id", "text", "url"),
    "instruction": ("id", "prompt", "response", "context"),
    "preference": ("id", "prompt", "chosen", "rejected", "margin", "group"),
    "evaluation": ("id", "text", "answer"),
    "annotation": ("id", "item_id", "annotator_id", "label", "task", "gold", "confidence", "annotated_at"),
}
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "document": ("text",),
    "instruction": ("prompt", "response"),
    "preference": ("prompt", "chosen", "rejected"),
    "evaluation": ("text",),
    "annotation": ("item_id", "annotator_id", "label"),
}

ALLOWED_KEYS = (
    "id", "description", "location", "format", "kind", "fields", "license", "license_url",
    "obtained", "synthetic", "crawl", "legal_basis", "personal_data", "domain", "languages",
    "owner", "collected", "priority", "label_type", "labels", "target_source", "alpha_floor",
    "profile", "stages",
)  # fmt: skip
#: Keys only an annotation source may set.
ANNOTATION_KEYS = ("label_type", "labels", "target_source", "alpha_floor")
#: Krippendorff's lowest bound for tentative conclusions (Content Analysis, 2004, p. 241).
DEFAULT_ALPHA_FLOOR = 0.667
REQUIRED_KEYS = ("id", "location", "format", "kind", "license", "obtained")
SYNTHETIC_KEYS = ("generator", "terms_url")
CRAWL_KEYS = (
    "crawler", "user_agent", "respects_robots_txt", "tdm_opt_out", "period_start", "period_end",
)  # fmt: skip

#: A field mapping value: a source column name, a column index (headerless CSV), or a
#: list of either whose values are joined with a newline.
FieldRef = str | int | list[str | int]


class ManifestError(ValueError):
    """One or more problems in source manifests; str() lists them all, one per line."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(frozen=True)
class Problem:
    file: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.message}"


@dataclass(frozen=True)
class SourceManifest:
    """A validated source declaration."""

    id: str
    path: Path  # the manifest file
    location: str
    format: str
    kind: str
    license: str  # normalized SPDX expression
    obtained: str
    fields: dict[str, FieldRef] = field(default_factory=dict)
    description: str | None = None
    license_url: str | None = None
    synthetic: dict[str, str] | None = None
    crawl: dict[str, Any] | None = None
    legal_basis: str | None = None
    personal_data: str = "unknown"
    domain: str | None = None
    languages: tuple[str, ...] = ()
    owner: str | None = None
    collected: dt.date | None = None
    priority: int = 0
    #: annotation sources: how labels compare, the ordered label set (canonical strings),
    #: the source whose records the items are, and the task's agreement floor
    label_type: str | None = None
    labels: tuple[str, ...] = ()
    target_source: str | None = None
    alpha_floor: float = DEFAULT_ALPHA_FLOOR
    #: the folders its files may resolve into (see curaline.safe_paths); empty = not checked
    ingest_roots: tuple[Path, ...] = field(default=(), compare=False, repr=False)
    #: per-source stage settings (curaline.stage_settings): a named profile, and `stages:`
    #: overrides of curaline.yaml's `stages:` for this source only
    profile: str | None = None
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)

    def stage_settings(self) -> dict[str, dict[str, Any]]:
        """What this source lays over curaline.yaml's `stages:` (profile, then its own)."""
        from curaline.stage_settings import source_stage_settings

        return source_stage_settings(self.profile, self.stages)

    @property
    def root(self) -> Path:
        """The folder positions in doc ids are relative to: the glob's fixed prefix."""
        pattern = self._pattern()
        parts = Path(pattern).parts
        fixed: list[str] = []
        for part in parts:
            if glob.has_magic(part):
                break
            fixed.append(part)
        base = Path(*fixed) if fixed else Path(".")
        return base if glob.has_magic(pattern) else base.parent

    def _pattern(self) -> str:
        loc = Path(self.location).expanduser()
        return str(loc if loc.is_absolute() else (self.path.parent / loc))

    def files(self) -> list[Path]:
        """The source's files, sorted so positions (and so doc ids) are stable."""
        pattern = self._pattern()
        if glob.has_magic(pattern):
            found = sorted(Path(p) for p in glob.glob(pattern, recursive=True))
            # a dangling symlink stays in the list: ingest quarantines it instead of losing it silently
            return [p for p in found if p.is_file() or (p.is_symlink() and not p.exists())]
        p = Path(pattern)
        if p.is_dir():
            return sorted(q for q in p.rglob("*") if q.is_file() or (q.is_symlink() and not q.exists()))
        return [p]

    def declaration(self) -> dict[str, Any]:
        """The manifest as plain data: what lineage facets and reports cite."""
        annotation = {
            "label_type": self.label_type, "labels": list(self.labels), "target_source": self.target_source,
            "alpha_floor": self.alpha_floor,
        } if self.kind == "annotation" else {}  # fmt: skip
        return {
            "id": self.id,
            "description": self.description,
            "location": self.location,
            "format": self.format,
            "kind": self.kind,
            "license": self.license,
            "license_url": self.license_url,
            "obtained": self.obtained,
            "synthetic": self.synthetic,
            "crawl": {k: (str(v) if isinstance(v, dt.date) else v) for k, v in self.crawl.items()}
            if self.crawl
            else None,
            "legal_basis": self.legal_basis,
            "personal_data": self.personal_data,
            "domain": self.domain,
            "languages": list(self.languages),
            "owner": self.owner,
            "collected": self.collected.isoformat() if self.collected else None,
            "priority": self.priority,
            **annotation,
            **({"profile": self.profile, "stages": self.stages} if self.profile or self.stages else {}),
        }


@functools.cache
def _spdx_licensing() -> Any:
    """The SPDX licence index (~0.1 s to build): built once per process."""
    from license_expression import get_spdx_licensing

    return get_spdx_licensing()


def validate_license(expr: object) -> tuple[str | None, list[str]]:
    """Parse an SPDX expression with a real SPDX parser; LicenseRef-* ids are custom."""
    if not isinstance(expr, str) or not expr.strip():
        return None, ["must be a non-empty SPDX licence expression, e.g. 'CC-BY-4.0'"]
    licensing = _spdx_licensing()
    info = licensing.validate(expr.strip())
    custom = [s for s in info.invalid_symbols if s.startswith("LicenseRef-")]
    unknown = [s for s in info.invalid_symbols if s and not s.startswith("LicenseRef-")]
    if info.errors and not info.invalid_symbols or "" in info.invalid_symbols:
        return None, [f"{expr!r} is not a valid SPDX expression ({'; '.join(info.errors)})"]
    if unknown:
        return None, [
            f"unknown SPDX licence id(s) {', '.join(map(repr, unknown))} in {expr!r}; use an id "
            "from https://spdx.org/licenses/ or a LicenseRef-<name> with license_url"
        ]
    if custom:
        parsed = licensing.parse(expr.strip(), strict=False)
        return str(parsed), []
    return info.normalized_expression, []


def custom_license_refs(expr: str) -> list[str]:
    return [tok for tok in expr.replace("(", " ").replace(")", " ").split() if tok.startswith("LicenseRef-")]


class _Checker:
    """Collects problems for one manifest file instead of stopping at the first."""

    def __init__(self, file: str):
        self.file = file
        self.problems: list[Problem] = []

    def add(self, fld: str, message: str) -> None:
        self.problems.append(Problem(self.file, fld, message))

    def choice(self, data: dict[str, Any], key: str, allowed: Iterable[str]) -> str | None:
        value = data.get(key)
        allowed = tuple(allowed)
        if value is None:
            return None
        if value not in allowed:
            self.add(key, f"{value!r} is not allowed; allowed: {', '.join(allowed)}")
            return None
        return str(value)

    def text(self, data: dict[str, Any], key: str) -> str | None:
        value = data.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            self.add(key, f"must be a non-empty string, got {value!r}")
            return None
        return value

    def date(self, data: dict[str, Any], key: str, prefix: str = "") -> dt.date | None:
        value = data.get(key)
        if value is None:
            return None
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(str(value))
        except ValueError:
            self.add(prefix + key, f"must be a date YYYY-MM-DD, got {value!r}")
            return None

    def url(self, data: dict[str, Any], key: str, prefix: str = "") -> str | None:
        value = data.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value.startswith(("http://", "https://")):
            self.add(prefix + key, f"must be an http(s) URL, got {value!r}")
            return None
        return value


def _check_fields(c: _Checker, raw: object, kind: str | None, fmt: str | None) -> dict[str, FieldRef]:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        c.add("fields", f"must be a mapping of curaline field -> source field, got {raw!r}")
        return {}
    out: dict[str, FieldRef] = {}
    allowed = FIELDS_BY_KIND.get(kind or "", ())
    for name, ref in raw.items():
        if kind and name not in allowed:
            c.add(f"fields.{name}", f"is not a field of kind {kind!r}; allowed: {', '.join(allowed)}")
            continue
        refs = ref if isinstance(ref, list) else [ref]
        if not refs or not all(isinstance(r, (str, int)) and not isinstance(r, bool) for r in refs):
            c.add(f"fields.{name}", f"must name a source field (string, or column index), got {ref!r}")
            continue
        if any(isinstance(r, int) for r in refs) and fmt != "csv":
            c.add(f"fields.{name}", "column indexes are only for headerless csv sources")
            continue
        out[str(name)] = ref
    if fmt in FIXED_LAYOUT:
        if out:
            c.add("fields", f"format {fmt!r} has a fixed layout: leave fields out")
        return {}
    if kind and fmt != "text":
        for name in REQUIRED_FIELDS[kind]:
            # documents and eval items default to a source field of the same name
            if name not in out and kind not in ("document", "evaluation"):
                c.add(f"fields.{name}", f"is required for kind {kind!r}")
    if fmt == "csv" and out:
        kinds_of_refs = {
            isinstance(r, int) for v in out.values() for r in (v if isinstance(v, list) else [v])
        }
        if len(kinds_of_refs) > 1:
            c.add("fields", "mix of column names and column indexes: use one (indexes = no header)")
    return out


def project_ingest_roots(manifest_path: Path) -> tuple[Path, ...]:
    """The folders a manifest's location may point into: its project's (sources/ is in the project)
    plus `ingest.allowed_roots` of the project's curaline.yaml."""
    from curaline.project import Project

    root = manifest_path.resolve().parent.parent
    try:
        return Project.at(root).ingest_roots
    except ValueError:  # a broken curaline.yaml is reported by the commands that load it
        return (root,)


def _location_problem(location: str, manifest_path: Path, roots: tuple[Path, ...]) -> str | None:
    """Why `location` is outside the ingest roots (None when inside), judged on its fixed part
    (the glob's prefix), resolved; files a glob matches are checked again at ingest."""
    from curaline.safe_paths import outside_roots

    probe = SourceManifest(id="-", path=manifest_path, location=location, format="text", kind="document",
                           license="-", obtained="-")  # fmt: skip
    pattern = probe._pattern()
    fixed = probe.root if glob.has_magic(pattern) else Path(pattern)
    if outside_roots(fixed, roots):
        return (f"{location!r} resolves to {fixed.resolve()}, outside the allowed ingest roots "
                f"({', '.join(str(r) for r in roots)}); add its folder to ingest.allowed_roots in curaline.yaml "
                "if it is meant to be read")  # fmt: skip
    return None


def parse_manifest(path: Path, *, roots: Iterable[Path] | None = None) -> SourceManifest:
    """Load and validate one manifest; raises ManifestError listing every problem.

    ``roots``: the folders its location may point into (default: `project_ingest_roots`).
    """
    file = str(path)
    c = _Checker(file)
    from curaline.safe_yaml import YamlError, load_file

    try:
        data = load_file(path)
    except OSError as exc:
        raise ManifestError([Problem(file, "-", f"cannot read the file: {exc.strerror or exc}")]) from None
    except YamlError as exc:
        raise ManifestError([Problem(file, exc.where, exc.message)]) from None
    if not isinstance(data, dict):
        raise ManifestError([Problem(file, "-", "must be a YAML mapping of manifest keys")])

    for key in data:
        if key not in ALLOWED_KEYS:
            c.add(str(key), f"unknown key; allowed keys: {', '.join(ALLOWED_KEYS)}")
    for key in REQUIRED_KEYS:
        if data.get(key) in (None, ""):
            c.add(key, "is required")

    sid = c.text(data, "id")
    if sid is not None:
        if not all(ch.isalnum() or ch in "-_." for ch in sid) or ":" in sid:
            c.add("id", f"{sid!r} may hold only letters, digits, '-', '_' and '.'")
        elif sid.startswith("."):  # '.', '..' and hidden names make paths like data/raw_records/..parquet
            c.add("id", f"{sid!r} must start with a letter, a digit, '-' or '_'")
        elif sid != path.stem:
            c.add("id", f"{sid!r} must match the file name {path.stem!r}")
    location = c.text(data, "location")
    allowed = tuple(roots) if roots is not None else project_ingest_roots(path)
    if location is not None:
        problem = _location_problem(location, path, allowed)
        if problem:
            c.add("location", problem)
    fmt = c.choice(data, "format", FORMATS)
    kind = c.choice(data, "kind", KINDS)
    obtained = c.choice(data, "obtained", OBTAINED)
    fields = _check_fields(c, data.get("fields"), kind, fmt)

    license_expr: str | None = None
    if data.get("license") not in (None, ""):
        license_expr, errors = validate_license(data.get("license"))
        for err in errors:
            c.add("license", err)
    license_url = c.url(data, "license_url")
    if license_expr and custom_license_refs(license_expr) and not license_url:
        c.add("license_url", f"is required when the licence uses a custom LicenseRef ({license_expr})")

    synthetic = data.get("synthetic")
    if obtained == "synthetic" and synthetic is None:
        c.add("synthetic", "is required when obtained is 'synthetic' (generator, terms_url)")
    if synthetic is not None:
        if not isinstance(synthetic, dict):
            c.add("synthetic", "must be a mapping with generator and terms_url")
            synthetic = None
        else:
            for key in synthetic:
                if key not in SYNTHETIC_KEYS:
                    c.add(f"synthetic.{key}", f"unknown key; allowed: {', '.join(SYNTHETIC_KEYS)}")
            if not synthetic.get("generator"):
                c.add("synthetic.generator", "is required: the model that generated the data")
            c.url(synthetic, "terms_url", "synthetic.")
            if not synthetic.get("terms_url"):
                c.add("synthetic.terms_url", "is required: the generator's terms of use")

    crawl = data.get("crawl")
    if obtained == "web-crawl" and crawl is None:
        c.add("crawl", f"is required when obtained is 'web-crawl' ({', '.join(CRAWL_KEYS)})")
    if crawl is not None:
        if not isinstance(crawl, dict):
            c.add("crawl", f"must be a mapping with {', '.join(CRAWL_KEYS)}")
            crawl = None
        else:
            for key in crawl:
                if key not in CRAWL_KEYS:
                    c.add(f"crawl.{key}", f"unknown key; allowed: {', '.join(CRAWL_KEYS)}")
            for key in CRAWL_KEYS:
                if crawl.get(key) is None:
                    c.add(f"crawl.{key}", "is required for a web crawl")
            if crawl.get("respects_robots_txt") is not None and not isinstance(
                crawl.get("respects_robots_txt"), bool
            ):
                c.add("crawl.respects_robots_txt", "must be true or false")
            if crawl.get("tdm_opt_out") is not None and crawl["tdm_opt_out"] not in TDM_OPT_OUT:
                c.add("crawl.tdm_opt_out", f"{crawl['tdm_opt_out']!r} is not allowed; allowed: {', '.join(TDM_OPT_OUT)}")
            start = c.date(crawl, "period_start", "crawl.")
            end = c.date(crawl, "period_end", "crawl.")
            if start and end and end < start:
                c.add("crawl.period_end", f"{end} is before period_start {start}")

    personal = c.choice(data, "personal_data", PERSONAL_DATA) or "unknown"
    languages = data.get("languages") or []
    if not isinstance(languages, list) or not all(isinstance(x, str) and x for x in languages):
        c.add("languages", f"must be a list of language codes, got {languages!r}")
        languages = []
    for tag in languages:  # any code form or alias (nob, fil, cmn), optionally with a script: sr-Latn
        if (problem := language_tag_problem(tag)) is not None:
            c.add("languages", problem)
    priority = data.get("priority", 0)
    if not isinstance(priority, int) or isinstance(priority, bool):
        c.add("priority", f"must be an integer, got {priority!r}")
        priority = 0
    collected = c.date(data, "collected")
    for key in ("description", "legal_basis", "domain", "owner"):
        c.text(data, key)
    if fmt in FIXED_LAYOUT and kind and kind != FIXED_LAYOUT[fmt]:
        c.add("format", f"format {fmt!r} yields {FIXED_LAYOUT[fmt]!r} records, not kind {kind!r}")
    if kind == "annotation" and fmt == "text":
        c.add("format", "an annotation source needs a record format (jsonl, jsonl.gz, json, parquet, csv)")
    label_type, labels, target_source, alpha_floor = _check_annotation(c, data, kind, sid)
    profile, stages = _check_stages(c, data)

    if c.problems:
        raise ManifestError(c.problems)
    assert sid and location and fmt and kind and obtained and license_expr
    return SourceManifest(
        id=sid,
        path=path.resolve(),
        location=location,
        format=fmt,
        kind=kind,
        license=license_expr,
        obtained=obtained,
        fields=fields,
        description=data.get("description"),
        license_url=license_url,
        synthetic=dict(synthetic) if synthetic else None,
        crawl=dict(crawl) if crawl else None,
        legal_basis=data.get("legal_basis"),
        personal_data=personal,
        domain=data.get("domain"),
        languages=tuple(languages),
        owner=data.get("owner"),
        collected=collected,
        priority=priority,
        label_type=label_type,
        labels=labels,
        target_source=target_source,
        alpha_floor=alpha_floor,
        ingest_roots=allowed,
        profile=profile,
        stages=stages,
    )


def _check_stages(c: _Checker, data: dict[str, Any]) -> tuple[str | None, dict[str, dict[str, Any]]]:
    """`profile:` and `stages:`, checked like curaline.yaml's stages (every key known)."""
    from curaline.stage_settings import PROFILES, check_stage_settings

    profile = c.choice(data, "profile", PROFILES) if data.get("profile") is not None else None
    raw = data.get("stages")
    for fld, message in check_stage_settings(raw):
        c.add(fld, message)
    if not isinstance(raw, dict):
        return profile, {}
    return profile, {str(k): dict(v) for k, v in raw.items() if isinstance(v, dict)}


def _check_annotation(
    c: _Checker, data: dict[str, Any], kind: str | None, sid: str | None
) -> tuple[str | None, tuple[str, ...], str | None, float]:
    """label_type, labels, target_source and alpha_floor: required or refused by kind."""
    if kind != "annotation":
        for key in ANNOTATION_KEYS:
            if key in data and kind is not None:
                c.add(key, f"is only for kind 'annotation', not {kind!r}")
        return None, (), None, DEFAULT_ALPHA_FLOOR
    label_type = c.choice(data, "label_type", LABEL_TYPES)
    if data.get("label_type") is None:
        c.add("label_type", f"is required for kind 'annotation'; allowed: {', '.join(LABEL_TYPES)}")
    labels: tuple[str, ...] = ()
    raw = data.get("labels")
    if raw is not None:
        ok = isinstance(raw, list) and len(raw) >= 2 and all(
            isinstance(v, (str, int, float)) and not isinstance(v, bool) and str(v).strip() for v in raw
        )
        if not ok:
            c.add("labels", f"must be a list of at least two labels (strings or numbers; quote yes/no), got {raw!r}")
        else:
            labels = tuple(canonical_label(v) for v in raw)
            dupes = sorted({v for v in labels if labels.count(v) > 1})
            if dupes:
                c.add("labels", f"lists {', '.join(map(repr, dupes))} more than once")
                labels = ()
            elif label_type == "interval" and not all(isinstance(v, (int, float)) for v in raw):
                c.add("labels", "must be numbers for label_type 'interval'")
                labels = ()
    elif label_type == "ordinal":
        c.add("labels", "is required for label_type 'ordinal': the labels in order, lowest first")
    target = c.text(data, "target_source")
    if target is not None and (not all(ch.isalnum() or ch in "-_." for ch in target) or target == sid):
        c.add("target_source", f"{target!r} must name another source of the project")
        target = None
    floor = data.get("alpha_floor", DEFAULT_ALPHA_FLOOR)
    if not isinstance(floor, (int, float)) or isinstance(floor, bool) or not 0 <= floor <= 1:
        c.add("alpha_floor", f"must be a number from 0 to 1 (default {DEFAULT_ALPHA_FLOOR}), got {floor!r}")
        floor = DEFAULT_ALPHA_FLOOR
    return label_type, labels, target, float(floor)


def manifest_paths(sources_dir: Path) -> list[Path]:
    return sorted([*sources_dir.glob("*.yaml"), *sources_dir.glob("*.yml")])


def load_manifests(sources_dir: Path, *, strict: bool = True) -> tuple[list[SourceManifest], list[Problem]]:
    """Every manifest of a project; with strict, raise listing all problems of all files."""
    manifests: list[SourceManifest] = []
    problems: list[Problem] = []
    paths = manifest_paths(sources_dir)
    roots = project_ingest_roots(paths[0]) if paths else ()  # one curaline.yaml read for all of them
    for path in paths:
        try:
            manifests.append(parse_manifest(path, roots=roots))
        except ManifestError as err:
            problems.extend(err.problems)
    seen: dict[str, Path] = {}
    for m in manifests:
        if m.id in seen:
            problems.append(Problem(str(m.path), "id", f"duplicate source id, also in {seen[m.id]}"))
        seen[m.id] = m.path
    kinds = {m.id: m.kind for m in manifests}
    for m in manifests:
        if m.target_source is None:
            continue
        if m.target_source not in kinds:
            problems.append(Problem(str(m.path), "target_source",
                                    f"{m.target_source!r} is not a source of this project; known: "
                                    f"{', '.join(sorted(kinds)) or 'none'}"))  # fmt: skip
        elif kinds[m.target_source] == "annotation":
            problems.append(Problem(str(m.path), "target_source",
                                    f"{m.target_source!r} is an annotation source: labels describe records"))  # fmt: skip
    if strict and problems:
        raise ManifestError(problems)
    return manifests, problems


def _relative_to(path: Path, root: Path | None) -> str:
    if root is not None:
        try:
            return path.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            pass
    return str(path)


def catalog_table(manifests: list[SourceManifest], root: Path | None = None) -> pa.Table:
    """The validated manifests as one table: what the catalog asset stores.

    Manifest paths under `root` (the project) are stored relative to it, so a clone of the
    project builds a byte-identical catalog (and the same DVC hash).
    """
    import json

    import pyarrow as pa  # noqa: F811 (runtime import; the top one is for typing only)

    rows = []
    for m in manifests:
        rows.append(
            {
                "source_id": m.id,
                "kind": m.kind,
                "format": m.format,
                "license": m.license,
                "license_url": m.license_url,
                "obtained": m.obtained,
                "personal_data": m.personal_data,
                "domain": m.domain,
                "languages": ",".join(m.languages) or None,
                "owner": m.owner,
                "collected": m.collected.isoformat() if m.collected else None,
                "priority": m.priority,
                "manifest": _relative_to(m.path, root),
                "declaration": json.dumps(m.declaration(), sort_keys=True),
            }
        )
    schema = pa.schema(
        [
            ("source_id", pa.string()), ("kind", pa.string()), ("format", pa.string()),
            ("license", pa.string()), ("license_url", pa.string()), ("obtained", pa.string()),
            ("personal_data", pa.string()), ("domain", pa.string()), ("languages", pa.string()),
            ("owner", pa.string()), ("collected", pa.string()), ("priority", pa.int64()),
            ("manifest", pa.string()), ("declaration", pa.string()),
        ]
    )  # fmt: skip
    return pa.Table.from_pylist(rows, schema=schema)
