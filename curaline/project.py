"""A curaline project: any folder with `sources/` and `releases/`.

Everything a run produces lives under the project (data, lineage, DVC state,
DAGSTER_HOME), so one checkout can hold several projects and each is self-contained.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from curaline.engine.base import EngineConfig

PROJECT_ENV = "CURALINE_PROJECT"
CONFIG_FILE = "curaline.yaml"


@dataclass(frozen=True)
class IngestConfig:
    #: records with more text than this are quarantined as oversize (1M chars ~ a book)
    max_record_chars: int = 1_000_000
    #: rows per Arrow batch: bounds memory whatever the source size
    batch_size: int = 5_000
    #: a shard (the unit of work, see curaline.shards.plan) holds at most this many records
    shard_records: int = 50_000
    #: ... and about this many bytes of input (uncompressed). Small enough that a source of a
    #: few hundred MB gives every worker several shards (3 shards on 2 workers left one idle
    #: for a third of the phase), large enough that 1 TB is ~30k shards, not millions of files
    shard_bytes: int = 32 << 20
    #: a line (jsonl) or text file longer than this many bytes is quarantined as oversize
    #: without being held whole: bounds the memory one record can take (16 MiB holds a
    #: 1M-character record even as JSON-escaped non-Latin text)
    max_line_bytes: int = 16 << 20
    #: folders (besides the project folder) a manifest's location may point into;
    #: relative ones are relative to the project folder
    allowed_roots: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProviderConfig:
    """Who places the model on the market: the facts the EU AI Act summary and the card cite.

    Only the project can know these; reports print "not known" for every field left
    unset, never a guess.
    """

    name: str | None = None  #: the provider (legal entity)
    contact: str | None = None  #: e.g. compliance@example.com
    authorised_representative: str | None = None  #: in the EU, for providers outside it
    model_name: str | None = None
    model_versions: tuple[str, ...] = ()
    base_model: str | None = None  #: the model this one is built on, if any
    base_model_summary_url: str | None = None  #: that model's public training-content summary
    placed_on_market: dt.date | None = None  #: date placed on the EU market
    code_of_practice_signatory: bool | None = None  #: signed the GPAI Code of Practice?
    sme: bool | None = None  #: an SME (the summary then lists fewer crawled domains)
    collection_ongoing: bool | None = None  #: is data still being collected for the model?
    dataset_url: str | None = None  #: where the dataset (card) is published
    citation: str | None = None  #: how to cite the dataset (BibTeX or text)


_PROVIDER_TEXT = ("name", "contact", "authorised_representative", "model_name", "base_model", "citation")
_PROVIDER_URLS = ("base_model_summary_url", "dataset_url")
_PROVIDER_FLAGS = ("code_of_practice_signatory", "sme", "collection_ongoing")


def _provider(path: Path, raw: object) -> ProviderConfig:
    """Validate the `provider:` section strictly: every problem named with its key, all at once."""
    if raw is None:
        return ProviderConfig()
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: provider: must be a mapping of provider fields")
    allowed = [f.name for f in fields(ProviderConfig)]
    problems = [f"provider.{k}: unknown key; allowed: {', '.join(allowed)}" for k in sorted(map(str, raw)) if k not in allowed]
    values: dict[str, Any] = {}
    for key in _PROVIDER_TEXT:
        if raw.get(key) is not None:
            if not isinstance(raw[key], str) or not raw[key].strip():
                problems.append(f"provider.{key}: must be a non-empty string, got {raw[key]!r}")
            else:
                values[key] = raw[key].strip()
    for key in _PROVIDER_URLS:
        if raw.get(key) is not None:
            if not isinstance(raw[key], str) or not raw[key].startswith(("http://", "https://")):
                problems.append(f"provider.{key}: must be an http(s) URL, got {raw[key]!r}")
            else:
                values[key] = raw[key]
    for key in _PROVIDER_FLAGS:
        if raw.get(key) is not None:
            if not isinstance(raw[key], bool):
                problems.append(f"provider.{key}: must be true or false, got {raw[key]!r}")
            else:
                values[key] = raw[key]
    versions = raw.get("model_versions")
    if versions is not None:
        if isinstance(versions, str):
            versions = [versions]
        if not isinstance(versions, list) or not all(isinstance(v, (str, int, float)) and str(v).strip() for v in versions):
            problems.append(f"provider.model_versions: must be a list of version names, got {versions!r}")
        else:
            values["model_versions"] = tuple(str(v) for v in versions)
    placed = raw.get("placed_on_market")
    if placed is not None:
        if isinstance(placed, dt.datetime):
            values["placed_on_market"] = placed.date()
        elif isinstance(placed, dt.date):
            values["placed_on_market"] = placed
        else:
            try:
                values["placed_on_market"] = dt.date.fromisoformat(str(placed))
            except ValueError:
                problems.append(f"provider.placed_on_market: must be a date YYYY-MM-DD, got {placed!r}")
    if problems:
        raise ValueError(f"{path}: " + "; ".join(problems))
    return ProviderConfig(**values)


@dataclass(frozen=True)
class ProjectConfig:
    name: str = "curaline"
    ingest: IngestConfig = field(default_factory=IngestConfig)
    #: per-stage settings, e.g. {"quality_filtered": {"min_doc_words": 50}}: the keyword arguments
    #: of that stage kernel's config dataclass (checked when the stage builds its config)
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: class of each custom LicenseRef-* id (commercial | share-alike | non-commercial |
    #: unknown): only the project knows what its private agreements allow
    license_classes: dict[str, str] = field(default_factory=dict)
    #: generator name -> restricted | permitted: overrides curaline.licenses'
    #: built-in list of generators whose terms forbid building competing models
    generator_terms: dict[str, str] = field(default_factory=dict)
    #: the provider and model facts the EU AI Act summary and the dataset card cite
    provider: ProviderConfig = field(default_factory=ProviderConfig)
    #: where shards run: `engine: {kind: local, workers: N}` (default: every core)
    engine: EngineConfig = field(default_factory=EngineConfig)
    #: push the stage outputs that hold PII verbatim (curaline.pii_stages) to a DVC remote
    #: that is not a local folder; off: they stay on this machine
    pii_to_remote: bool = False
    #: `annotation.label_studio` (curaline.annotation.label_studio.parse_annotation_config)
    annotation: dict[str, Any] = field(default_factory=dict)

    def for_stage(self, stage: str, **overrides: Any) -> Any:
        """The settings of a stage of curaline.stages: its config class from `stages.<stage>`."""
        from curaline.stages import config_class

        return self.stage_config(stage, config_class(stage), **overrides)

    def stage_config(self, stage: str, config_cls: type[Any], **overrides: Any) -> Any:
        """The kernel config of a stage: dataclass defaults < curaline.yaml < overrides."""
        settings = {**self.stages.get(stage, {}), **overrides}
        known = {f.name for f in fields(config_cls)}
        unknown = sorted(set(settings) - known)
        if unknown:
            raise ValueError(
                f"{CONFIG_FILE}: stages.{stage}: unknown setting(s) {', '.join(unknown)}; "
                f"allowed: {', '.join(sorted(known))}"
            )
        settings = {k: tuple(v) if isinstance(v, list) else v for k, v in settings.items()}
        return config_cls(**settings)


def _load_config(path: Path) -> ProjectConfig:
    if not path.exists():
        return ProjectConfig()
    from curaline.safe_yaml import load_file

    try:
        data = load_file(path) or {}
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the file: {exc.strerror or exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: must be a YAML mapping")
    allowed = {f.name for f in fields(ProjectConfig)}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValueError(f"{path}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")
    ingest: dict[str, Any] = data.get("ingest") or {}
    ingest_allowed = {f.name for f in fields(IngestConfig)}
    bad = sorted(set(ingest) - ingest_allowed)
    if bad:
        raise ValueError(f"{path}: ingest: unknown key(s) {', '.join(bad)}; allowed: {', '.join(sorted(ingest_allowed))}")
    roots = ingest.get("allowed_roots")
    if roots is not None:
        if isinstance(roots, str):
            roots = [roots]
        if not isinstance(roots, list) or not all(isinstance(r, str) and r.strip() for r in roots):
            raise ValueError(f"{path}: ingest.allowed_roots: must be a list of folders, got {roots!r}")
        ingest = {**ingest, "allowed_roots": tuple(roots)}
    stages = data.get("stages") or {}
    if not isinstance(stages, dict) or not all(isinstance(v, dict) for v in stages.values()):
        raise ValueError(f"{path}: stages: must map a stage name to its settings")
    from curaline.stages import renamed_config_problems

    renamed = renamed_config_problems(sorted(map(str, stages)))
    if renamed:
        raise ValueError(f"{path}: " + "; ".join(renamed))
    classes = data.get("license_classes") or {}
    if not isinstance(classes, dict):
        raise ValueError(f"{path}: license_classes: must map a LicenseRef-* id to its class")
    terms = data.get("generator_terms") or {}
    if not isinstance(terms, dict) or not all(v in ("restricted", "permitted") for v in terms.values()):
        raise ValueError(f"{path}: generator_terms: must map a generator name to restricted or permitted")
    pii_to_remote = data.get("pii_to_remote", False)
    if not isinstance(pii_to_remote, bool):
        raise ValueError(f"{path}: pii_to_remote: must be true or false, got {pii_to_remote!r}")
    from curaline.annotation.label_studio import parse_annotation_config

    annotation = parse_annotation_config(data["annotation"]) if data.get("annotation") is not None else {}
    return ProjectConfig(name=str(data.get("name", "curaline")), ingest=IngestConfig(**ingest), stages=stages,
                         pii_to_remote=pii_to_remote, annotation=annotation,
                         license_classes={str(k): str(v) for k, v in classes.items()},
                         generator_terms={str(k): str(v) for k, v in terms.items()},
                         provider=_provider(path, data.get("provider")),
                         engine=EngineConfig.parse(data.get("engine"), str(path)))


class ConfigError(ValueError):
    """curaline.yaml cannot be used: str() is one line naming the file and the key."""


@dataclass(frozen=True)
class Project:
    root: Path
    config: ProjectConfig = field(default_factory=ProjectConfig)

    @classmethod
    def at(cls, root: str | Path | None = None) -> Project:
        """The project at root, else $CURALINE_PROJECT, else the current directory."""
        chosen = Path(root or os.environ.get(PROJECT_ENV) or ".").expanduser().resolve()
        try:
            config = _load_config(chosen / CONFIG_FILE)
        except ConfigError:
            raise
        except (ValueError, TypeError) as exc:  # every problem of the file, as one line
            raise ConfigError(" ".join(str(exc).split())) from None
        return cls(root=chosen, config=config)

    @property
    def ingest_roots(self) -> tuple[Path, ...]:
        """The folders source files may come from: the project and `ingest.allowed_roots`, resolved."""
        extra = (self.root / Path(r).expanduser() for r in self.config.ingest.allowed_roots)
        return (self.root, *(p.resolve() for p in extra))

    def for_source(self, manifest: Any) -> Project:
        """This project as one source's stages see it: its profile and `stages:` laid over
        curaline.yaml's (curaline.stage_settings), so a stage's config is the source's."""
        from curaline.stage_settings import merge_stage_settings

        own = manifest.stage_settings() if hasattr(manifest, "stage_settings") else {}
        if not own:
            return self
        config = replace(self.config, stages=merge_stage_settings(self.config.stages, own))
        return replace(self, config=config)

    @property
    def sources_dir(self) -> Path:
        return self.root / "sources"

    @property
    def releases_dir(self) -> Path:
        return self.root / "releases"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def lineage_dir(self) -> Path:
        return self.root / "lineage"

    @property
    def dagster_home(self) -> Path:
        return self.root / ".dagster"

    def stage_path(self, stage: str, partition: str | None = None) -> Path:
        """Where a stage's output lives: one parquet file per (stage, source partition), or for the
        sharded stages (ingest, the per-record chain, the band buckets) a folder of shard files per source."""
        from curaline.stages import FOLDER_STAGES

        if partition is None:
            return self.data_dir / f"{stage}.parquet"
        if stage in FOLDER_STAGES:
            return self.data_dir / stage / partition
        return self.data_dir / stage / f"{partition}.parquet"
