"""`curaline quality train`: fit the learned quality classifier from the project's sources.

DCLM's recipe: curated reference text (positives) against raw web text (negatives),
both named as source manifests, so the model file records which sources and licences
it learned from. The file is versioned by DVC like every stage output, and the quality
stage names it (path, DVC hash, training sources and licences) in its lineage.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curaline.clitools import UserError, json_option, project_option

#: The text a record of each kind contributes to training: everything written by people.
TRAIN_COLUMNS: dict[str, tuple[str, ...]] = {
    "document": ("text",),
    "instruction": ("prompt", "response"),
    "preference": ("prompt", "chosen", "rejected"),
    "evaluation": ("text",),
}


def record_texts(table: pa.Table, kind: str) -> list[str]:
    """Non-empty texts of a source's records, one per text column and record."""
    out: list[str] = []
    for col in TRAIN_COLUMNS.get(kind, ()):
        if col in table.column_names:
            values = pc.fill_null(table[col], "").to_pylist()
            out.extend(v for v in values if v.strip())
    return out


def _dedupe(texts: list[str]) -> list[str]:
    return list(dict.fromkeys(texts))  # a prompt shared by several pairs counts once


def source_texts(project: Any, source_id: str) -> tuple[list[str], dict[str, Any]]:
    """A source's texts and what the model records about it (id, licence, documents)."""
    from curaline.ingest import read_source
    from curaline.sources import load_manifests

    manifests, problems = load_manifests(project.sources_dir, strict=False)
    by_id = {m.id: m for m in manifests}
    if source_id not in by_id:
        bad = [str(p) for p in problems if Path(p.file).stem == source_id]
        hint = f" ({bad[0]})" if bad else f"; known: {', '.join(sorted(by_id)) or 'none'}"
        raise UserError(f"no valid source manifest {source_id!r} in {project.sources_dir}{hint}")
    m = by_id[source_id]
    records, _, _ = read_source(m)
    texts = _dedupe(record_texts(records, m.kind))
    return texts, {"source": m.id, "license": m.license, "license_url": m.license_url, "kind": m.kind,
                   "obtained": m.obtained, "documents": len(texts)}


def train_from_sources(project: Any, positive: Sequence[str], negative: Sequence[str], out: Path,
                       *, dvc: bool = True, l2: float = 1e-3) -> tuple[Any, dict[str, Any]]:
    """Train on the named sources, write the model to out, DVC-track it when inside the project."""
    from curaline.kernels.quality_model import train

    pos: list[str] = []
    neg: list[str] = []
    pos_meta, neg_meta = [], []
    for sid in positive:
        texts, meta = source_texts(project, sid)
        pos += texts
        pos_meta.append(meta)
    for sid in negative:
        texts, meta = source_texts(project, sid)
        neg += texts
        neg_meta.append(meta)
    if not pos or not neg:
        raise UserError("the positive and the negative sources must each hold at least one text")
    meta = {"recipe": "DCLM: reference text positive, raw web text negative", "positive": pos_meta,
            "negative": neg_meta, "licenses": sorted({m["license"] for m in pos_meta + neg_meta}),
            "trained_at": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()}  # fmt: skip
    model = train(pos, neg, l2=l2, meta=meta)
    train_scores = model.score(pa.array(pos + neg, pa.large_string()))
    y = np.concatenate([np.ones(len(pos)), np.zeros(len(neg))])
    model.meta["train_accuracy"] = round(float(((train_scores >= 0.5) == y).mean()), 4)
    out = out if out.is_absolute() else project.root / out
    model.save(out)
    version = None
    if dvc and out.resolve().is_relative_to(project.root.resolve()):
        version = dvc_add(project, out)
    return model, {"path": str(out), "dvc_md5": version, "digest": model.digest, **model.meta}


def dvc_add(project: Any, path: Path) -> str:
    """`dvc add` one file of the project (a model): its .dvc file goes to git, its bytes to the cache."""
    import yaml

    from curaline.versioning import _open_repo, _quiet_dvc, ensure_repo, project_lock

    ensure_repo(project)
    with project_lock(project), _open_repo(project.root) as repo, _quiet_dvc():
        repo.add(str(path.resolve().relative_to(project.root.resolve())))
    dvcfile = path.with_name(path.name + ".dvc")
    return str(yaml.safe_load(dvcfile.read_text(encoding="utf-8"))["outs"][0]["md5"])


@click.group()
def quality() -> None:
    """The learned quality classifier: train one from the project's sources."""


@quality.command("train")
@click.option("--positive", "positive", multiple=True, required=True, metavar="SRC",
              help="source id of curated reference text (repeatable)")
@click.option("--negative", "negative", multiple=True, required=True, metavar="SRC",
              help="source id of raw web text (repeatable)")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="model file to write (.npz), relative to the project; set stages.quality_filtered.quality_model to it")
@click.option("--no-dvc", is_flag=True, help="do not DVC-track the model file")
@project_option
@json_option
def quality_train(positive: tuple[str, ...], negative: tuple[str, ...], out: Path, no_dvc: bool,
                  project_dir: Path | None, as_json: bool) -> None:
    """Train the quality classifier (DCLM recipe) and write MODEL."""
    from curaline.project import Project

    try:
        project = Project.at(project_dir)
    except ValueError as exc:
        raise UserError(str(exc).splitlines()[0]) from None
    overlap = sorted(set(positive) & set(negative))
    if overlap:
        raise UserError(f"a source cannot be positive and negative: {', '.join(overlap)}")
    _, info = train_from_sources(project, positive, negative, out, dvc=not no_dvc)
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    click.echo(f"wrote {info['path']} (digest {info['digest']}, DVC md5 {info['dvc_md5'] or 'not tracked'})")
    for side in ("positive", "negative"):
        for m in info[side]:
            click.echo(f"  {side:<8} {m['source']:<24} {m['license']:<24} {m['documents']:>7} texts")
    click.echo(f"  training accuracy {info['train_accuracy']:.3f}; set stages.quality_filtered.quality_model: {out}")
