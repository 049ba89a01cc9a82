"""What every `curaline` command shares: the user-error convention, common options, and
tables that fit the terminal.

Tables fit ``$COLUMNS`` when it is set, else the terminal's width on a terminal; piped
into a file or another program they are printed whole (as with ``--wide``), so nothing
a script reads is cut. Long cells with spaces wrap inside their column; identifiers and
paths are elided with "…" (paths keep their end). Status words are coloured only on a
terminal, and never with ``NO_COLOR`` set.
"""

from __future__ import annotations

import os
import shutil
import sys
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from curaline.project import PROJECT_ENV

#: The narrowest a column is squeezed to before the table gives up fitting (cells elide to it).
MIN_COLUMN = 6
_SEP = "  "

#: Status words and their colour on a terminal.
STATUS_COLOURS = {
    "ok": "green", "passed": "green", "released": "green", "complete": "green", "new version": "green",
    "unchanged": "cyan", "superseded": "bright_black", "running": "yellow", "pending": "yellow",
    "warn": "yellow", "warning": "yellow", "partial": "yellow",
    "failed": "red", "fail": "red", "blocked": "red", "error": "red", "abort": "red",
}  # fmt: skip


class UserError(click.ClickException):
    """A mistake the user can fix: one line, exit code 2, no traceback."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"curaline: error: {self.format_message()}", err=True)


#: One or two example invocations per command ("group command"), shown under its --help.
#: Kept in one table so that a test can hold every command to having one.
EXAMPLES: dict[str, list[str]] = {
    "curaline demo": ["curaline demo --dir /tmp/curaline-demo"],
    "curaline init": ["curaline init my-project", "curaline run --project my-project"],
    "curaline run": ["curaline run --project curaline-demo"],
    "curaline materialize": ["curaline materialize normalized --partition forum --project curaline-demo"],
    "curaline takedown": ["curaline takedown --source forum --reason 'erasure request #1234' --project curaline-demo"],
    "curaline takedown-status": ["curaline takedown-status --project curaline-demo"],
    "sources check": ["curaline sources check --project curaline-demo"],
    "sources list": ["curaline sources list --project curaline-demo", "curaline sources list --json"],
    "lineage sources": ["curaline lineage sources --project curaline-demo",
                        "curaline lineage sources --release commercial --project curaline-demo"],
    "lineage trace": ["curaline lineage sql \"SELECT doc_id FROM records LIMIT 3\" --project curaline-demo",
                      "curaline lineage trace DOC_ID --project curaline-demo"],
    "lineage impact": ["curaline lineage impact forum --project curaline-demo"],
    "lineage runs": ["curaline lineage runs --asset release --limit 10 --project curaline-demo",
                     "curaline lineage runs --wide | less -S"],
    "lineage sql": ["curaline lineage sql \"SELECT stage, reason, count(*) AS n FROM ledger GROUP BY ALL "
                    "ORDER BY n DESC\" --project curaline-demo"],
    "lineage flush": ["curaline lineage flush --project curaline-demo"],
    "release list": ["curaline release list --project curaline-demo"],
    "release show": ["curaline release show research-all --project curaline-demo",
                     "curaline release show research-all@v1 --json"],
    "release checkout": ["curaline release checkout research-all@v1 --to /tmp/research-all-v1 --project curaline-demo"],
    "report eu-ai-act": ["curaline report eu-ai-act research-all --out summary.md --project curaline-demo"],
    "report art10": ["curaline report art10 research-all@v1 --format json --project curaline-demo"],
    "report card": ["curaline report card research-all --format croissant -o croissant.json --project curaline-demo"],
    "dvc sync": ["curaline dvc sync --check --project curaline-demo"],
}  # fmt: skip


class Group(click.Group):
    """A command group whose listing shows each command's whole summary, wrapped to the
    terminal, where click would cut it at ~45 characters with "...", and whose commands
    show their examples (EXAMPLES) under their help."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        cmd = super().get_command(ctx, cmd_name)
        examples = EXAMPLES.get(f"{self.name} {cmd_name}")
        if cmd is not None and examples and not cmd.epilog:
            cmd.epilog = "\b\nExamples:\n" + "\n".join(f"  {e}" for e in examples)
        return cmd

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            cmd = self.get_command(ctx, name)
            if cmd is None or cmd.hidden:
                continue
            rows.append((name, summary(cmd)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def summary(cmd: click.Command) -> str:
    """A command's summary: its short_help, else the first paragraph of its help, whole."""
    if cmd.short_help:
        return cmd.short_help
    return " ".join((cmd.help or "").split("\n\n", 1)[0].split())


def project_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--project", "project_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
        help=f"project folder (sources/, releases/); default: ${PROJECT_ENV} or the current directory",
    )(fn)  # fmt: skip


def _set_wide(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    ctx.meta["curaline.wide"] = value
    return value


def json_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--json", "as_json", is_flag=True, help="print JSON instead of a table")(fn)


def table_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--json`` (the full data, whatever the width) and ``--wide`` (tables uncut), for
    every command that prints a table."""
    fn = click.option("--wide", is_flag=True, expose_value=False, callback=_set_wide, is_eager=True,
                      help="print tables whole, however wide (default: fit $COLUMNS or the terminal)")(fn)  # fmt: skip
    return json_option(fn)


def terminal_width() -> int | None:
    """The width tables must fit: None (no limit) for --wide or when stdout is not a terminal
    and $COLUMNS is unset."""
    ctx = click.get_current_context(silent=True)
    if ctx is not None and ctx.meta.get("curaline.wide"):  # meta is shared by the whole context chain
        return None
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    if not sys.stdout.isatty():
        return None
    return shutil.get_terminal_size().columns


def note(text: str, *, err: bool = False) -> None:
    """A line of prose beside a table, wrapped to the table's width (continuation lines indented)."""
    width = terminal_width()
    if not width or max(len(line) for line in text.splitlines() or [""]) <= width:
        click.echo(text, err=err)
        return
    before, after = len(text) - len(text.lstrip("\n")), len(text) - len(text.rstrip("\n"))
    text = text.strip("\n")
    if before:
        click.echo("\n" * (before - 1), err=err)
    lead = text[: len(text) - len(text.lstrip())]
    hang = lead + ("  " if text.lstrip().startswith("- ") else "    " if lead else "  ")
    click.echo(textwrap.fill(text.strip(), width, initial_indent=lead, subsequent_indent=hang,
                             break_on_hyphens=False) + "\n" * after, err=err)  # fmt: skip


def use_colour() -> bool:
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def colour_status(cell: str) -> str:
    """`cell` with its leading status word coloured (the padding around it untouched)."""
    stripped = cell.rstrip()
    word = stripped.split(",")[0].split("(")[0].strip()
    colour = STATUS_COLOURS.get(word.lower())
    if not colour or not word:
        return cell
    start = cell.index(word)
    return cell[:start] + click.style(word, fg=colour, bold=colour == "red") + cell[start + len(word):]


def fit_widths(natural: Sequence[int], minimum: Sequence[int], avail: int) -> list[int]:
    """Column widths summing to at most `avail`: the widest columns give up space first
    (water-filling), none below its minimum unless even the minima do not fit."""
    if sum(natural) <= avail:
        return list(natural)
    floor = [min(n, m) for n, m in zip(natural, minimum, strict=True)]
    if sum(floor) > avail:  # the minima alone overflow: share what there is
        floor = [max(1, min(f, avail // len(natural))) for f in floor]
    lo, hi = 0, max(natural)
    while lo < hi:  # the largest cap C with sum(max(floor, min(natural, C))) <= avail
        cap = (lo + hi + 1) // 2
        if sum(max(f, min(n, cap)) for n, f in zip(natural, floor, strict=True)) <= avail:
            lo = cap
        else:
            hi = cap - 1
    widths = [max(f, min(n, lo)) for n, f in zip(natural, floor, strict=True)]
    spare = avail - sum(widths)
    for i in sorted(range(len(widths)), key=lambda i: -natural[i]):  # hand out what rounding left
        if spare <= 0:
            break
        extra = min(spare, natural[i] - widths[i])
        widths[i] += extra
        spare -= extra
    return widths


def elide(text: str, width: int) -> str:
    """`text` cut to `width` with "…": paths keep their end (the file name), the rest their start."""
    if len(text) <= width:
        return text
    if width <= 1:
        return "…"[:width]
    if "/" in text:
        return "…" + text[-(width - 1):]
    return text[: width - 1] + "…"


def _longest(texts: Any) -> int:
    return max((len(line) for t in texts for line in (t.splitlines() or [""])), default=0)


def _cell_lines(text: str, width: int) -> list[str]:
    lines: list[str] = []
    for part in text.splitlines() or [""]:
        if len(part) <= width:
            lines.append(part)
        elif " " in part.strip():
            lines += [elide(w, width) for w in textwrap.wrap(part, width, break_long_words=False,
                                                             break_on_hyphens=False)] or [""]  # fmt: skip
        else:
            lines.append(elide(part, width))
    return lines


def table(headers: list[str], rows: list[list[Any]], *, width: int | None = -1,
          status: Sequence[str] = ("status",), fixed: Sequence[str] = ()) -> str:  # fmt: skip
    """A text table, columns padded to their widest cell and squeezed to fit `width`.

    `width` -1 (the default) means the terminal's (see `terminal_width`), None no limit.
    Columns named in `status` get their status words coloured on a terminal; those named
    in `fixed` (timestamps, short ids) keep their width while others give way.
    """
    if width == -1:
        width = terminal_width()
    cells = [[str(h) for h in headers], *[["" if v is None else str(v) for v in r] for r in rows]]
    if width is not None and rows:  # a column with nothing in it is not worth its header's width
        keep = [i for i in range(len(headers)) if any(r[i] for r in cells[1:])]
        cells = [[r[i] for i in keep] for r in cells]
        headers = [headers[i] for i in keep]
    natural = [_longest(r[i] for r in cells) for i in range(len(headers))]
    if width is not None:
        data = [_longest(r[i] for r in cells[1:]) for i in range(len(headers))]
        words = [_longest(h.split()) for h in headers]  # a header may wrap at its spaces
        minimum = [max(data[i], words[i]) if h in fixed else max(MIN_COLUMN, min(len(h), 12))
                   for i, h in enumerate(headers)]  # fmt: skip
        widths = fit_widths(natural, minimum, width - len(_SEP) * (len(headers) - 1))
    else:
        widths = natural
    colour = use_colour()
    colour_at = {i for i, h in enumerate(headers) if h in status} if colour else set()
    out: list[str] = []
    for n, r in enumerate(cells):
        wrapped = [_cell_lines(c, w) for c, w in zip(r, widths, strict=True)]
        for k in range(max(len(c) for c in wrapped)):
            parts = []
            for i, (c, w) in enumerate(zip(wrapped, widths, strict=True)):
                piece = (c[k] if k < len(c) else "").ljust(w)
                parts.append(colour_status(piece) if n > 0 and i in colour_at else piece)
            out.append(_SEP.join(parts).rstrip())
        if n == 0:
            out.append(_SEP.join("-" * w for w in widths))
    return "\n".join(out)
