"""What every `curaline` command shares: the user-error convention and common options."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from curaline.project import PROJECT_ENV


class UserError(click.ClickException):
    """A mistake the user can fix: one line, exit code 2, no traceback."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"curaline: error: {self.format_message()}", err=True)


def project_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--project", "project_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
        help=f"project folder (sources/, releases/); default: ${PROJECT_ENV} or the current directory",
    )(fn)  # fmt: skip


def json_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--json", "as_json", is_flag=True, help="print JSON instead of a table")(fn)


def table(headers: list[str], rows: list[list[Any]]) -> str:
    """A plain text table, columns padded to their widest cell."""
    cells = [[str(h) for h in headers], *[["" if v is None else str(v) for v in r] for r in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
