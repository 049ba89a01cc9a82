"""What an operator sees in a terminal: tables fit its width, colour only on a terminal,
every command's summary whole and an example under its --help, `curaline init`."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from curaline.cli import main
from curaline.clitools import EXAMPLES, fit_widths, summary, table
from curaline.init_cli import example_records
from curaline.release.spec import load_specs
from curaline.sources import load_manifests

REPO = Path(__file__).resolve().parents[1]
LONG = ("the licence class non-commercial is not allowed in a commercial release (allowed: commercial, "
        "share-alike); remove the source from the spec or change its use")  # fmt: skip
PATH = "/very/long/project/folder/data/quality_filtered/source=forum/shard-00017.parquet"


def test_a_table_fits_its_width_wrapping_prose_and_eliding_identifiers() -> None:
    rows = [["forum", "blocked", LONG, PATH, "01a24ce9-2c21-7c84-9b6a-c8ab01f4c9dc"],
            ["notes", "released", "ok", "data/x.parquet", "01a24ce9"]]  # fmt: skip
    headers = ["source", "status", "why", "dataset", "run"]
    text = table(headers, rows, width=80)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert lines[0].split() == headers and set(lines[1]) == {"-", " "}
    # prose wraps inside its column: every word is still there, in order
    why_start = lines[0].index("why")
    why_words = " ".join(line[why_start:].split("  ")[0].strip() for line in lines[2:-1] if len(line) > why_start)
    assert " ".join(LONG.split()[:6]) in " ".join(why_words.split())
    # a path keeps its end (the file name), an id its start
    assert "…" in text and "shard-00017.parquet" in text.replace("\n", " ") or "00017.parquet" in text
    whole = table(headers, rows, width=None)
    assert LONG in whole and PATH in whole and max(len(line) for line in whole.splitlines()) > 80


def test_fit_widths_shrinks_the_widest_columns_first_and_keeps_minima() -> None:
    assert fit_widths([10, 20], [6, 6], 40) == [10, 20]
    assert fit_widths([10, 50, 40], [6, 6, 6], 60) == [10, 25, 25]
    assert fit_widths([19, 50], [19, 6], 30) == [19, 11]
    assert sum(fit_widths([30, 30, 30], [20, 20, 20], 30)) <= 30  # minima that cannot fit give way


def _under_pty(code: str, env: dict[str, str]) -> str:
    """Run `code` with stdout on a pseudo-terminal (as an operator's shell has it)."""
    primary, secondary = pty.openpty()
    proc = subprocess.run([sys.executable, "-c", code], stdout=secondary, stderr=subprocess.PIPE, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(REPO), **env}, check=True)  # fmt: skip
    os.close(secondary)
    out = b""
    try:
        while chunk := os.read(primary, 65536):
            out += chunk
    except OSError:  # the terminal's other end is closed: all read
        pass
    os.close(primary)
    assert proc.returncode == 0
    return out.decode()


def test_status_words_are_coloured_on_a_terminal_only() -> None:
    code = ("import click; from curaline.clitools import table; "
            "click.echo(table(['release', 'status'], [['a', 'blocked'], ['b', 'released']]))")  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    coloured = _under_pty(code, {**env, "COLUMNS": "100"})
    assert "\x1b[31m" in coloured and "\x1b[32m" in coloured  # red blocked, green released
    assert "\x1b" not in _under_pty(code, {"NO_COLOR": "1"})
    piped = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONPATH": str(REPO)})  # fmt: skip
    assert "\x1b" not in piped.stdout and "blocked" in piped.stdout


def _commands(group: click.Group, prefix: str) -> list[tuple[str, click.Command]]:
    out = []
    ctx = click.Context(group, info_name=prefix)
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        assert cmd is not None
        if isinstance(cmd, click.Group):
            out += _commands(cmd, name)
        else:
            out.append((f"{prefix} {name}", cmd))
    return out


def test_every_command_has_an_example_under_its_help() -> None:
    commands = _commands(main, "curaline")
    assert {name for name, _ in commands} == set(EXAMPLES), "EXAMPLES and the commands disagree"
    runner = CliRunner()
    for name, _ in commands:
        args = name.split()[1:] if name.startswith("curaline ") else name.split()
        res = runner.invoke(main, [*args, "--help"], env={"COLUMNS": "100"})
        assert res.exit_code == 0, (name, res.output)
        assert "Examples:" in res.output and EXAMPLES[name][0] in res.output, (name, res.output)


@pytest.mark.parametrize("group", [[], ["lineage"], ["release"], ["report"], ["sources"], ["dvc"]])
def test_command_listings_show_whole_summaries(group: list[str]) -> None:
    res = CliRunner().invoke(main, [*group, "--help"], env={"COLUMNS": "80"})
    assert res.exit_code == 0, res.output
    listing = " ".join(res.output.split("Commands:", 1)[1].split())
    assert "..." not in listing, listing
    parent = main
    for g in group:
        parent = parent.get_command(click.Context(main), g)  # type: ignore[assignment]
    for name in parent.list_commands(click.Context(parent)):  # type: ignore[attr-defined]
        cmd = parent.get_command(click.Context(parent), name)  # type: ignore[attr-defined]
        assert summary(cmd) in listing, (name, listing)
    assert max(len(line) for line in res.output.splitlines()) <= 80


def test_init_writes_a_valid_project_with_one_source_and_one_release(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    res = CliRunner().invoke(main, ["init", str(root)])
    assert res.exit_code == 0, res.output
    assert f"curaline run --project {root}" in res.output
    manifests, problems = load_manifests(root / "sources", strict=False)
    assert problems == [] and [m.id for m in manifests] == ["example-notes"]
    assert [s.name for s in load_specs(root / "releases", manifests)] == ["example"]
    lines = (root / "corpus" / "example-notes" / "notes.jsonl").read_text().splitlines()
    assert len(lines) == len(example_records()) == 7
    check = CliRunner().invoke(main, ["sources", "check", "--project", str(root)])
    assert check.exit_code == 0 and "1 valid manifest(s), 0 invalid" in check.output
    # a second init into the same folder refuses instead of overwriting
    again = CliRunner().invoke(main, ["init", str(root)])
    assert again.exit_code == 2 and "is not an empty folder" in again.output
