"""Release specs: `releases/<name>.yaml`, validated as strictly as source manifests.

A spec is what the training team asks for and what the auditor reads first, so every
key is known, every value is checked, and all problems are reported at once with the
file and the field (the same `ManifestError`/`Problem` as source manifests).
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from curaline.kernels.langcodes import canonical
from curaline.licenses import USES
from curaline.sources import ManifestError, Problem, SourceManifest

SPEC_KEYS = ("name", "description", "use", "sources", "languages", "quality", "dedup",
             "decontaminate", "mix", "splits")  # fmt: skip
MIX_BY = ("domain", "source")
SPLITS = ("train", "validation", "test")
#: Kinds that are training data; evaluation items and annotations never are.
TRAINING_KINDS = ("document", "instruction", "preference")
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")

#: Named quality profiles: extra thresholds on the stages' signal columns, applied on top
#: of the pipeline's own filters. A record without the column (another kind) passes.
QUALITY_PROFILES: dict[str, dict[str, dict[str, float]]] = {
    # the pipeline's decisions as they are
    "default": {},
    # tighter, for small high-quality mixes: confident language ID (ELD scores ~0.5 on
    # mixed-language text), no toxicity tag at all (the stage drops at 0.8, tags at 0.5),
    # FineWeb's duplicate-line bound halved, and Gopher's 50-word floor doubled
    "strict": {
        "lang_score": {"min": 0.8},
        "toxicity": {"max": 0.5},
        "q_dup_line_frac": {"max": 0.15},
        "q_word_count": {"min": 100},
    },
}


@dataclass(frozen=True)
class MixSpec:
    by: str
    weights: dict[str, float]


@dataclass(frozen=True)
class SplitSpec:
    train: float
    validation: float
    test: float
    seed: int

    def fractions(self) -> dict[str, float]:
        return {"train": self.train, "validation": self.validation, "test": self.test}


@dataclass(frozen=True)
class ReleaseSpec:
    name: str
    path: Path
    description: str
    use: str
    sources: tuple[str, ...] | None  # None = all training sources
    languages: tuple[str, ...]
    quality: dict[str, dict[str, float]]
    quality_profile: str | None
    dedup: bool
    decontaminate: bool
    #: cosine threshold of semantic dedup (`dedup: {semantic: 0.9}`); None = off
    semantic: float | None
    mix: MixSpec | None
    splits: SplitSpec
    raw: dict[str, Any] = field(default_factory=dict)

    def select_sources(self, manifests: list[SourceManifest]) -> list[SourceManifest]:
        """The training sources of this release (evaluation/annotation sources never are)."""
        if self.sources is None:
            return [m for m in manifests if m.kind in TRAINING_KINDS]
        by_id = {m.id: m for m in manifests}
        return [by_id[s] for s in self.sources]


def load_spec(path: Path, manifests: list[SourceManifest] | None = None) -> ReleaseSpec:
    """Load and validate one spec; with manifests, source ids are checked against them."""
    problems: list[Problem] = []
    rel = path.name

    def bad(fld: str, message: str) -> None:
        problems.append(Problem(rel, fld, message))

    from curaline.safe_yaml import YamlError, load_file

    try:
        data = load_file(path)
    except YamlError as exc:
        raise ManifestError([Problem(rel, exc.where if exc.where != "-" else "(file)", exc.message)]) from None
    except OSError as exc:
        raise ManifestError([Problem(rel, "(file)", f"cannot be read as YAML: {exc}".splitlines()[0])]) from None
    if not isinstance(data, dict):
        raise ManifestError([Problem(rel, "(file)", "must be a YAML mapping")])
    for key in sorted(set(data) - set(SPEC_KEYS)):
        bad(key, f"unknown key; allowed: {', '.join(SPEC_KEYS)}")
    for key in SPEC_KEYS:
        if key not in data:
            bad(key, "is required")
    name = str(data.get("name", ""))
    if "name" in data and not _NAME.match(name):
        bad("name", "must be lower-case letters, digits, '.', '_' or '-' (at most 64)")
    if "name" in data and name != path.stem:
        bad("name", f"{name!r} must equal the file name {path.stem!r}")
    use = data.get("use")
    if "use" in data and use not in USES:
        bad("use", f"{use!r} is not allowed; allowed: {', '.join(USES)}")
    sources = _sources(data.get("sources"), manifests, bad) if "sources" in data else None
    languages = data.get("languages")
    if "languages" in data and (not isinstance(languages, list) or not languages
                                or not all(isinstance(x, str) and x for x in languages)):  # fmt: skip
        bad("languages", "must be a non-empty list of language codes, e.g. [en, de]")
        languages = []
    # the language stage writes canonical codes: a spec's eng, nob or fil must match en, no, tl
    languages = [canonical(x) for x in languages or []]
    quality, profile = _quality(data.get("quality"), bad) if "quality" in data else ({}, None)
    semantic = _dedup(data.get("dedup"), bad) if "dedup" in data else None
    if "decontaminate" in data and not isinstance(data["decontaminate"], bool):
        bad("decontaminate", "must be true or false")
    mix = _mix(data.get("mix"), bad) if "mix" in data else None
    splits = _splits(data.get("splits"), bad) if "splits" in data else None
    if problems:
        raise ManifestError(problems)
    assert splits is not None
    return ReleaseSpec(
        name=name, path=path, description=str(data.get("description") or ""), use=str(use),
        sources=sources, languages=tuple(languages or ()), quality=quality, quality_profile=profile,
        dedup=data["dedup"] is True or isinstance(data["dedup"], dict), decontaminate=bool(data["decontaminate"]),
        semantic=semantic, mix=mix, splits=splits,
        raw=data,
    )  # fmt: skip


#: Keys of the mapping form of `dedup:` (exact and near dedup are then on).
DEDUP_KEYS = ("semantic",)


def _dedup(value: object, bad: Any) -> float | None:
    """`dedup: true|false`, or `dedup: {semantic: COSINE}`: exact + near, plus semantic dedup."""
    if isinstance(value, bool):
        return None
    if not isinstance(value, dict):
        bad("dedup", "must be true, false or a mapping such as {semantic: 0.9}")
        return None
    for key in sorted(set(map(str, value)) - set(DEDUP_KEYS)):
        bad(f"dedup.{key}", f"unknown key; allowed: {', '.join(DEDUP_KEYS)}")
    sem = value.get("semantic")
    if sem is None:
        return None
    if isinstance(sem, bool) or not isinstance(sem, (int, float)) or not 0 < float(sem) <= 1:
        bad("dedup.semantic", f"must be a cosine threshold in (0, 1], got {sem!r}")
        return None
    return float(sem)


def spec_digest(path: Path) -> str:
    """The spec file's bytes, hashed: what tells a sensor (and the release's metadata) that it changed."""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def load_specs(releases_dir: Path, manifests: list[SourceManifest] | None = None) -> list[ReleaseSpec]:
    """Every spec of the project, all problems of all files at once."""
    specs, problems = [], []
    for path in sorted(releases_dir.glob("*.yaml")) if releases_dir.is_dir() else []:
        try:
            specs.append(load_spec(path, manifests))
        except ManifestError as exc:
            problems += exc.problems
    if problems:
        raise ManifestError(problems)
    return specs


def _sources(value: Any, manifests: list[SourceManifest] | None, bad: Any) -> tuple[str, ...] | None:
    if value == "all":
        return None
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        bad("sources", "must be 'all' or a non-empty list of source ids")
        return None
    if manifests is not None:
        by_id = {m.id: m for m in manifests}
        for sid in value:
            if sid not in by_id:
                bad("sources", f"unknown source {sid!r}; known: {', '.join(sorted(by_id)) or 'none'}")
            elif by_id[sid].kind not in TRAINING_KINDS:
                bad("sources", f"{sid!r} is of kind {by_id[sid].kind!r}: only {', '.join(TRAINING_KINDS)} "
                               "sources are training data (evaluation items never are)")  # fmt: skip
    if len(set(value)) != len(value):
        bad("sources", "lists a source twice")
    return tuple(value)


def _quality(value: Any, bad: Any) -> tuple[dict[str, dict[str, float]], str | None]:
    if isinstance(value, str):
        if value not in QUALITY_PROFILES:
            bad("quality", f"unknown profile {value!r}; profiles: {', '.join(QUALITY_PROFILES)} "
                           "(or a mapping signal: {min: x, max: y})")  # fmt: skip
            return {}, None
        return QUALITY_PROFILES[value], value
    if not isinstance(value, dict):
        bad("quality", "must be a profile name or a mapping signal: {min: x, max: y}")
        return {}, None
    out: dict[str, dict[str, float]] = {}
    for signal, bounds in value.items():
        if not isinstance(bounds, dict) or not bounds or set(bounds) - {"min", "max"}:
            bad(f"quality.{signal}", "must be a mapping with min and/or max")
            continue
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in bounds.values()):
            bad(f"quality.{signal}", "min and max must be numbers")
            continue
        out[str(signal)] = {k: float(v) for k, v in bounds.items()}
    return out, None


def _mix(value: Any, bad: Any) -> MixSpec | None:
    if not isinstance(value, dict):
        bad("mix", "must be a mapping with by and weights")
        return None
    for key in sorted(set(value) - {"by", "weights"}):
        bad(f"mix.{key}", "unknown key; allowed: by, weights")
    by = value.get("by")
    if by not in MIX_BY:
        bad("mix.by", f"{by!r} is not allowed; allowed: {', '.join(MIX_BY)}")
    weights = value.get("weights")
    if not isinstance(weights, dict) or not weights:
        bad("mix.weights", "must map each group to its target proportion of tokens")
        return None
    clean: dict[str, float] = {}
    for group, w in weights.items():
        if not isinstance(w, int | float) or isinstance(w, bool) or not math.isfinite(w) or w < 0:
            bad(f"mix.weights.{group}", f"must be a non-negative number, got {w!r}")
        else:
            clean[str(group)] = float(w)
    if clean and sum(clean.values()) <= 0:
        bad("mix.weights", "must not all be zero")
    return MixSpec(by=str(by), weights=clean) if by in MIX_BY else None


def _splits(value: Any, bad: Any) -> SplitSpec | None:
    if not isinstance(value, dict):
        bad("splits", "must be a mapping with train, validation, test and seed")
        return None
    for key in sorted(set(value) - {*SPLITS, "seed"}):
        bad(f"splits.{key}", f"unknown key; allowed: {', '.join(SPLITS)}, seed")
    fracs = {}
    for key in SPLITS:
        v = value.get(key)
        if not isinstance(v, int | float) or isinstance(v, bool) or not 0 <= v <= 1:
            bad(f"splits.{key}", f"must be a fraction between 0 and 1, got {v!r}")
        else:
            fracs[key] = float(v)
    if len(fracs) == 3 and abs(sum(fracs.values()) - 1) > 1e-9:
        bad("splits", f"fractions must sum to 1, got {sum(fracs.values()):g}")
    seed = value.get("seed")
    if not isinstance(seed, int) or isinstance(seed, bool):
        bad("splits.seed", f"must be an integer, got {seed!r}")
        return None
    if len(fracs) != 3:
        return None
    return SplitSpec(seed=seed, **fracs)
