"""The generated dvc.yaml: the stage registry (curaline.stages) as DVC stages.

Each registry row says which asset it is, how it is partitioned, what it depends on,
what it writes and which inputs that are not assets it reads (manifests, a source's
files, release specs, keys of curaline.yaml). `registry_nodes` groups the rows into
Dagster steps (a multi-asset is one step), `stage_specs` turns those into DVC stages:

- an asset partitioned by source becomes a `foreach` stage over the project's sources,
  one partitioned by release a `foreach` over `releases/*.yaml`, any other a plain stage;
- a stage's deps are the outputs of its Dagster upstream assets plus its extra deps.

Paths are relative to the project root. Placeholders: `{source}` (a source id),
`{release}` (a release name), `{source_data}` (the source's files: its manifest's
location, or the fixed folder of a glob). In a stage over that axis they become the
stage's own item; elsewhere they expand to every source (release). An out without a
file suffix is a folder (one DVC out, its hash covers every file in it). An asset that
writes only for some kinds of source (annotation, preference) says so in `kinds`: its
stage iterates over those sources only, and so do deps on its outputs.

To add an asset: one row in curaline.stages.STAGES (tests/test_stages.py checks the rows
against the Dagster Definitions, so the two cannot drift apart).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from curaline import stages
from curaline.project import CONFIG_FILE
from curaline.versioning import StageSpec, VersioningError

if TYPE_CHECKING:
    from curaline.project import Project

SOURCE = stages.SOURCE
RELEASE = stages.RELEASE_NAME
SOURCE_DATA = stages.SOURCE_DATA
#: Dagster dynamic partitions -> the placeholder a foreach stage over it iterates
AXES = {"sources": SOURCE, "releases": RELEASE}


@dataclass(frozen=True)
class AssetOutputs:
    #: the files or folders the asset writes (DVC outs): a folder's hash covers every file in it
    outs: tuple[str, ...]
    #: inputs that are not Dagster assets
    extra_deps: tuple[str, ...] = ()
    #: curaline.yaml keys the asset reads (dotted: "stages.quality_filtered"); DVC params
    config: tuple[str, ...] = ()
    #: the source kinds it writes {source} files for (None: every source)
    kinds: tuple[str, ...] | None = None


def stage_outputs(row: stages.Stage) -> AssetOutputs:
    """A registry row as the generator sees it."""
    config = tuple(f"stages.{k}" for k in row.config_keys) + row.params
    return AssetOutputs(row.outputs, extra_deps=row.extra_deps, config=config, kinds=row.kinds)


#: asset key -> what it writes and reads besides assets: derived from curaline.stages.STAGES
ASSET_OUTPUTS: dict[str, AssetOutputs] = {row.name: stage_outputs(row) for row in stages.STAGES}


@dataclass(frozen=True)
class AssetNode:
    """One Dagster step (an op and the asset keys it materializes) as the generator sees it."""

    stage: str  # the op name: the DVC stage name and what `curaline materialize` takes
    keys: tuple[str, ...]
    upstream: tuple[str, ...]  # asset keys it depends on, its own excluded
    partitioning: str | None = None  # the dynamic partitions' name: "sources", "releases"


@dataclass(frozen=True)
class ProjectInputs:
    """What the stages iterate over in one project."""

    sources: Mapping[str, str] = field(default_factory=dict)  # source id -> its files' dep path
    releases: tuple[str, ...] = ()
    kinds: Mapping[str, str] = field(default_factory=dict)  # source id -> its kind
    config_keys: frozenset[str] = frozenset()  # dotted keys present in curaline.yaml
    #: asset key -> the project files its settings name (`Stage.config_files`): DVC deps
    config_files: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


def registry_nodes(rows: Sequence[stages.Stage] = stages.STAGES) -> list[AssetNode]:
    """The Dagster steps of the stage registry, in its order (the assets of one op together)."""
    steps: dict[str, list[stages.Stage]] = {}
    for row in rows:
        steps.setdefault(row.step, []).append(row)
    nodes = []
    for step, members in steps.items():
        keys = tuple(sorted(m.name for m in members))
        upstream = {u for m in members for u in m.upstream} - set(keys)
        nodes.append(AssetNode(stage=step, keys=keys, upstream=tuple(sorted(upstream)), partitioning=members[0].partitions))
    return nodes


def project_inputs(project: Project) -> ProjectInputs:
    """The valid sources (with where their files are), the release specs and config keys."""
    from curaline.sources import load_manifests

    manifests, _ = load_manifests(project.sources_dir, strict=False) if project.sources_dir.is_dir() else ([], [])
    manifests = sorted(manifests, key=lambda m: m.id)
    sources = {m.id: _data_dep(project.root, m.path.parent, m.location) for m in manifests}
    releases = tuple(sorted(p.stem for p in project.releases_dir.glob("*.yaml"))) if project.releases_dir.is_dir() else ()
    return ProjectInputs(sources=sources, releases=releases, kinds={m.id: m.kind for m in manifests},
                         config_keys=_config_keys(project.root / CONFIG_FILE),
                         config_files=_config_files(project, manifests))  # fmt: skip


def _config_files(project: Project, manifests: Sequence[Any]) -> dict[str, tuple[str, ...]]:
    """Asset key -> the files its settings name (a URL blocklist...), as DVC deps: relative to the
    project root when inside it, absolute otherwise (as a source's files). A source's own `stages:`
    may name other files: the stage over every source depends on all of them (DVC's foreach has no
    per-item list of deps), so editing one source's list shows every source's stage changed."""
    import importlib

    out: dict[str, tuple[str, ...]] = {}
    for row in stages.STAGES:
        if row.config_files is None or row.config is None:
            continue
        module, _, cls_name = row.config.partition(":")
        fn_module, _, fn_name = row.config_files.partition(":")
        cls, fn = getattr(importlib.import_module(module), cls_name), getattr(importlib.import_module(fn_module), fn_name)
        paths: list[str] = []
        for where, proj in [(CONFIG_FILE, project), *((f"sources/{m.path.name}", project.for_source(m)) for m in manifests)]:
            try:
                config = proj.config.stage_config(row.name, cls)
            except (TypeError, ValueError) as exc:
                raise VersioningError(str(exc) if where == CONFIG_FILE else f"{where}: {exc}") from None
            paths += [_project_path(project.root, p) for p in fn(config)]
        if paths:
            out[row.name] = tuple(_unique(paths))
    return out


def _project_path(root: Path, rel: str) -> str:
    path = Path(os.path.normpath(root / os.path.expanduser(rel)))
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _data_dep(root: Path, manifest_dir: Path, location: str) -> str:
    """A source's files as one DVC dep: the file or folder, or a glob's fixed folder."""
    import glob

    loc = Path(os.path.expanduser(location))
    parts = (loc if loc.is_absolute() else manifest_dir / loc).parts
    fixed: list[str] = []
    for part in parts:
        if glob.has_magic(part):
            break
        fixed.append(part)
    path = Path(os.path.normpath(Path(*fixed)))
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)  # outside the project: an absolute path (DVC hashes it, caches nothing)


def _config_keys(path: Path) -> frozenset[str]:
    if not path.exists():
        return frozenset()
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    keys = {str(k) for k in data}
    keys |= {f"stages.{k}" for k in (data.get("stages") or {})}
    return frozenset(keys)


def materialize_command(stage: str, partitioned: bool) -> str:
    return f"curaline materialize {stage}" + (" --partition ${key}" if partitioned else "") + " --project ."


def stage_specs(
    nodes: Sequence[AssetNode], inputs: ProjectInputs, table: Mapping[str, AssetOutputs] = ASSET_OUTPUTS
) -> list[StageSpec]:
    """The dvc.yaml stages of an asset graph, upstream first."""
    missing = sorted(k for n in nodes for k in n.keys if k not in table)
    if missing:
        raise VersioningError(f"no output paths for asset(s) {', '.join(missing)}: "
                              "add them to curaline.stages.STAGES")  # fmt: skip
    specs = []
    for node in _upstream_first(nodes):
        if node.partitioning is not None and node.partitioning not in AXES:
            raise VersioningError(f"asset {node.stage} is partitioned by {node.partitioning!r}: "
                                  f"dvc.yaml knows {', '.join(AXES)}")  # fmt: skip
        axis = AXES.get(node.partitioning or "")
        entries = [table[k] for k in node.keys]
        if axis is not None and any(axis not in o for e in entries for o in e.outs):
            raise VersioningError(f"asset {node.stage} is partitioned by {node.partitioning}: "
                                  f"each of its outs needs {axis} in ASSET_OUTPUTS")  # fmt: skip
        missing_up = [k for k in node.upstream if k not in table]
        if missing_up:
            raise VersioningError(f"asset {node.stage} depends on {', '.join(missing_up)}, which has no entry in "
                                  "curaline.stages.STAGES")  # fmt: skip
        # (template, the entry whose kinds bound its {source} expansion)
        deps = [(t, table[k]) for k in node.upstream for t in table[k].outs]
        deps += [(t, e) for e in entries for t in e.extra_deps]
        deps += [(p, table[k]) for k in node.keys for p in inputs.config_files.get(k, ())]  # lists its settings name
        outs = [(t, e) for e in entries for t in e.outs]
        own = _sources(inputs, *entries)
        config = [c for e in entries for c in e.config if c in inputs.config_keys]
        uses_data = axis == SOURCE and any(SOURCE_DATA in t for t, _ in deps)
        foreach = None
        if axis == SOURCE:
            foreach = {s: ({"data": loc} if uses_data else {}) for s, loc in own.items()}
        elif axis == RELEASE:
            foreach = {r: {} for r in inputs.releases}
        specs.append(StageSpec(
            name=node.stage,
            cmd=materialize_command(node.stage, axis is not None),
            deps=tuple(_unique(p for t, e in deps for p in _render(t, axis, _sources(inputs, e), inputs.releases))),
            outs=tuple(_unique(p for t, e in outs for p in _render(t, axis, _sources(inputs, e), inputs.releases))),
            params={CONFIG_FILE: tuple(_unique(config))} if config else {},
            foreach=foreach,
        ))  # fmt: skip
    return specs


def _sources(inputs: ProjectInputs, *entries: AssetOutputs) -> dict[str, str]:
    """The sources these entries write for: all, or those of their kinds."""
    if any(e.kinds is None for e in entries):
        return dict(inputs.sources)
    kinds = {k for e in entries for k in e.kinds or ()}
    return {s: loc for s, loc in inputs.sources.items() if inputs.kinds.get(s) in kinds}


def _render(template: str, axis: str | None, sources: Mapping[str, str], releases: Sequence[str]) -> list[str]:
    """The template in a stage over axis: its own placeholder is DVC's ${key}, others expand."""
    text = template
    if axis == SOURCE:
        text = text.replace(SOURCE, "${key}").replace(SOURCE_DATA, "${item.data}")
    elif axis == RELEASE:
        text = text.replace(RELEASE, "${key}")
    values = [text]
    if SOURCE in text or SOURCE_DATA in text:
        values = [v.replace(SOURCE, s).replace(SOURCE_DATA, loc) for v in values for s, loc in sources.items()]
    if RELEASE in text:
        values = [v.replace(RELEASE, r) for v in values for r in releases]
    return values


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _upstream_first(nodes: Sequence[AssetNode]) -> list[AssetNode]:
    """A stable topological order: the given order, each node after the nodes it reads."""
    owner = {k: n.stage for n in nodes for k in n.keys}
    by_stage = {n.stage: n for n in nodes}
    done: dict[str, AssetNode] = {}

    def visit(node: AssetNode, path: tuple[str, ...]) -> None:
        if node.stage in done:
            return
        if node.stage in path:
            raise VersioningError(f"asset graph has a cycle: {' -> '.join((*path, node.stage))}")
        for key in node.upstream:
            if key in owner:
                visit(by_stage[owner[key]], (*path, node.stage))
        done[node.stage] = node

    for node in nodes:
        visit(node, ())
    return list(done.values())
