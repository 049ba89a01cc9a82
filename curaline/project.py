"""A curaline project: any folder with `sources/` and `releases/`.

Everything a run produces lives under the project (data, lineage, DVC state,
DAGSTER_HOME), so one checkout can hold several projects and each is self-contained.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

PROJECT_ENV = "CURALINE_PROJECT"
CONFIG_FILE = "curaline.yaml"


@dataclass(frozen=True)
class IngestConfig:
    #: records with more text than this are quarantined as oversize (1M chars ~ a book)
    max_record_chars: int = 1_000_000
    #: rows per Arrow batch: bounds memory whatever the source size
    batch_size: int = 5_000


@dataclass(frozen=True)
class ProjectConfig:
    name: str = "curaline"
    ingest: IngestConfig = field(default_factory=IngestConfig)
    #: per-stage settings, e.g. {"quality": {"min_doc_words": 50}}: the keyword arguments
    #: of that stage kernel's config dataclass (checked when the stage builds its config)
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: class of each custom LicenseRef-* id (commercial | share-alike | non-commercial |
    #: unknown): only the project knows what its private agreements allow
    license_classes: dict[str, str] = field(default_factory=dict)

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
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
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
    stages = data.get("stages") or {}
    if not isinstance(stages, dict) or not all(isinstance(v, dict) for v in stages.values()):
        raise ValueError(f"{path}: stages: must map a stage name to its settings")
    classes = data.get("license_classes") or {}
    if not isinstance(classes, dict):
        raise ValueError(f"{path}: license_classes: must map a LicenseRef-* id to its class")
    return ProjectConfig(name=str(data.get("name", "curaline")), ingest=IngestConfig(**ingest), stages=stages,
                         license_classes={str(k): str(v) for k, v in classes.items()})


@dataclass(frozen=True)
class Project:
    root: Path
    config: ProjectConfig = field(default_factory=ProjectConfig)

    @classmethod
    def at(cls, root: str | Path | None = None) -> Project:
        """The project at root, else $CURALINE_PROJECT, else the current directory."""
        chosen = Path(root or os.environ.get(PROJECT_ENV) or ".").expanduser().resolve()
        return cls(root=chosen, config=_load_config(chosen / CONFIG_FILE))

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
        """Where a stage's output lives: one parquet file per (stage, source partition)."""
        if partition is None:
            return self.data_dir / f"{stage}.parquet"
        return self.data_dir / stage / f"{partition}.parquet"
