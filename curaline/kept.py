"""How much of a source the pipeline keeps, and whether that is worth a warning.

A source the stages empty (every document fails the quality rules, a wrong language
declared) would otherwise read `ok`. Like dbt's `warn_if` / `error_if`, two thresholds
on the kept fraction: below `warn_below` a warning, below `error_below` an error. Neither
blocks a run (a small kept fraction can be right); both are shown in the UI (a check per
source partition) and in `curaline run`'s summary. Project defaults and per-source
overrides live in curaline.yaml:

    stages:
      kept_fraction:
        warn_below: 0.5
        error_below: 0.1
        sources:
          forum: {warn_below: 0.05, error_below: 0.01}   # a noisy crawl: most of it goes
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from curaline.project import Project
from curaline.stages import PER_SOURCE_STAGES

#: curaline.yaml `stages:` key of these settings
STAGE = "kept_fraction"
_LEVELS = ("warn_below", "error_below")


@dataclass(frozen=True)
class KeptFractionConfig:
    """Kept / read below `warn_below` warns, below `error_below` is an error (non-blocking)."""

    warn_below: float = 0.5
    error_below: float = 0.1
    #: source id -> {warn_below, error_below}: a per-source override of either threshold
    sources: dict[str, dict[str, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for sid, over in {"(project)": {"warn_below": self.warn_below, "error_below": self.error_below},
                          **self.sources}.items():  # fmt: skip
            if not isinstance(over, dict) or set(over) - set(_LEVELS):
                raise ValueError(f"curaline.yaml: stages.{STAGE}.sources.{sid}: allowed keys: {', '.join(_LEVELS)}")
            for key, value in over.items():
                if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 1:
                    raise ValueError(f"curaline.yaml: stages.{STAGE}: {sid} {key} must be a fraction in [0, 1], "
                                     f"got {value!r}")  # fmt: skip

    def thresholds(self, source_id: str) -> tuple[float, float]:
        """(warn_below, error_below) for this source."""
        over = self.sources.get(source_id, {})
        return float(over.get("warn_below", self.warn_below)), float(over.get("error_below", self.error_below))


@dataclass(frozen=True)
class KeptVerdict:
    source: str
    read: int
    kept: int
    warn_below: float
    error_below: float
    measured_at: str  #: the stage whose output `kept` counts

    @property
    def fraction(self) -> float | None:
        return self.kept / self.read if self.read else None

    @property
    def level(self) -> str:
        """"ok", "warn" or "error" (a source with nothing read is an error: it yields nothing)."""
        f = self.fraction
        if f is None or f < self.error_below:
            return "error"
        return "warn" if f < self.warn_below else "ok"

    def message(self) -> str:
        pct = "n/a" if self.fraction is None else f"{self.fraction:.0%}"
        head = f"{self.source}: kept {self.kept} of {self.read} records ({pct}) after {self.measured_at}"
        if self.level == "ok":
            return f"{head}, at or above the warning threshold {self.warn_below:.0%}"
        bound = self.error_below if self.level == "error" else self.warn_below
        return (f"{head}: below the {'error' if self.level == 'error' else 'warning'} threshold {bound:.0%}; "
                f"see the removals by stage (or lower the threshold: curaline.yaml stages.{STAGE}.sources.{self.source})")


def config(project: Project) -> KeptFractionConfig:
    cfg: KeptFractionConfig = project.config.stage_config(STAGE, KeptFractionConfig)
    return cfg


def _rows(path: Path) -> int | None:
    if not path.exists():
        return None
    import pyarrow.parquet as pq

    from curaline.store import parquet_files

    return sum(int(pq.ParquetFile(f).metadata.num_rows) for f in parquet_files(path))  # a file, or a folder of shards


def per_source_verdict(project: Project, source_id: str, cfg: KeptFractionConfig | None = None) -> KeptVerdict | None:
    """Read (ingested + quarantined) against what the per-source stages kept; None before they ran."""
    cfg = cfg or config(project)
    raw = _rows(project.stage_path("raw_records", source_id))
    last = PER_SOURCE_STAGES[-1]
    kept = _rows(project.stage_path(last, source_id))
    if raw is None or kept is None:
        return None
    quarantined = _rows(project.stage_path("quarantined_records", source_id)) or 0
    return verdict(source_id, raw + quarantined, kept, cfg, measured_at=last)


def verdict(source_id: str, read: int, kept: int, cfg: KeptFractionConfig, *, measured_at: str) -> KeptVerdict:
    warn, error = cfg.thresholds(source_id)
    return KeptVerdict(source=source_id, read=read, kept=kept, warn_below=warn, error_below=error,
                       measured_at=measured_at)  # fmt: skip
