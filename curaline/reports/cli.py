"""`curaline report eu-ai-act | art10 | card R`: a release version documented from its lineage.

R is NAME (the latest version) or NAME@vN. Every report states only what the manifest,
the shards, the lineage and curaline.yaml's `provider:` record; the rest reads "not known".
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from curaline.clitools import Group, UserError, json_option, project_option
from curaline.project import Project
from curaline.reports.release_data import ReleaseData, ReportError, load_release


def _load(ref: str, project_dir: Path | None) -> ReleaseData:
    try:
        project = Project.at(project_dir)
    except ValueError as exc:
        raise UserError(str(exc).splitlines()[0]) from None
    if not project.root.is_dir():
        raise UserError(f"no project folder {project.root}")
    try:
        return load_release(project, ref)
    except ReportError as exc:
        raise UserError(str(exc)) from None


def _emit(text: str, out: Path | None) -> None:
    if out is None:
        click.echo(text, nl=not text.endswith("\n"))
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    click.echo(f"wrote {out}", err=True)


def _dumps(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, default=str)


def _out_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--out", "-o", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
                        help="write the report to this file instead of stdout")(fn)  # fmt: skip


@click.group("report", cls=Group)
def report() -> None:
    """Compliance documents of a release, generated from its manifest and lineage.

    R is NAME (latest version) or NAME@vN. A release the licence gate blocks gets a
    report that says so (which sources, which licences, why) instead of content facts.
    """


@report.command("eu-ai-act", short_help="EU AI Act public summary of training content (Art 53(1)(d) template).")
@click.argument("ref", metavar="R")
@click.option("--format", "fmt", type=click.Choice(["md", "json"]), default="md", show_default=True)
@_out_option
@project_option
@json_option
def eu_ai_act(ref: str, fmt: str, out: Path | None, project_dir: Path | None, as_json: bool) -> None:
    """EU AI Act public summary of training content (Art. 53(1)(d), AI Office template).

    Sections 1.1-3.3: provider and model (from curaline.yaml `provider:`), modalities and
    size bin from the release's token count, latest collection date, sources per category
    (public, licensed/private, crawled with crawler, period and top domains, user data,
    synthetic with generators), TDM opt-outs and the pipeline's content filters with counts.
    """
    from curaline.reports.eu_ai_act import eu_ai_act_markdown, eu_ai_act_summary

    data = _load(ref, project_dir)
    summary = eu_ai_act_summary(data)
    _emit(_dumps(summary) if as_json or fmt == "json" else eu_ai_act_markdown(summary, data), out)


@report.command("art10", short_help="Art 10(2) data-governance record, points (a)-(h).")
@click.argument("ref", metavar="R")
@click.option("--format", "fmt", type=click.Choice(["md", "json"]), default="md", show_default=True)
@_out_option
@project_option
@json_option
def art10(ref: str, fmt: str, out: Path | None, project_dir: Path | None, as_json: bool) -> None:
    """Art. 10(2) data-governance record, points (a)-(h).

    Design choices, collection and origin, preparation operations with their parameters
    and counts, assumptions, quantity, the bias examination (language, domain and source
    distributions) and the gaps measured on this version.
    """
    from curaline.reports.art10 import art10_markdown, art10_record

    data = _load(ref, project_dir)
    record = art10_record(data)
    _emit(_dumps(record) if as_json or fmt == "json" else art10_markdown(record, data), out)


@report.command("card", short_help="Dataset card (Markdown datasheet) or Croissant 1.1 JSON-LD.")
@click.argument("ref", metavar="R")
@click.option("--format", "fmt", type=click.Choice(["md", "croissant"]), default="md", show_default=True,
              help="md: the datasheet; croissant: Croissant 1.1 JSON-LD with the RAI fields")
@_out_option
@project_option
@json_option
def card(ref: str, fmt: str, out: Path | None, project_dir: Path | None, as_json: bool) -> None:
    """Dataset card: datasheet sections in Markdown, or Croissant 1.1 JSON-LD (--format croissant, or --json).

    The Croissant file lists every shard with its md5 (paths relative to the release
    folder), one record set per kind, the licences and the RAI fields. Fields a published
    card needs but the project does not know (url, creator, citeAs) are left out and
    named on stderr.
    """
    from curaline.reports.card import card_markdown, croissant, croissant_problems

    data = _load(ref, project_dir)
    if not (as_json or fmt == "croissant"):
        _emit(card_markdown(data), out)
        return
    if data.blocked:
        raise UserError(f"release {data.name} is blocked by the licence gate: no content to describe "
                        f"(`curaline report card {data.name}` says why)")  # fmt: skip
    doc = croissant(data)
    _emit(_dumps(doc), out)
    for problem in croissant_problems(doc, data):
        click.echo(f"curaline: warning: croissant: {problem}", err=True)
