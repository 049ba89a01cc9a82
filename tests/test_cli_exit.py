"""The `curaline` command ends without the interpreter's teardown (curaline.cli.console), yet
does everything teardown would: its exit status, the threads it started, atexit, flushed output."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CURALINE = Path(sys.executable).parent / "curaline"

# a command in a process that also started a non-daemon thread and an atexit handler, as the
# libraries a run uses do (DVC's thread pools, logging, multiprocessing's forkserver)
SCRIPT = """
import atexit, sys, threading, time
from curaline import cli
def late():
    time.sleep(0.3)
    print("thread finished", flush=True)
threading.Thread(target=late).start()
atexit.register(lambda: print("atexit ran"))
sys.stdout.write("unflushed ")
sys.argv = ["curaline", *sys.argv[1:]]
cli.console()
print("not reached")
"""


def _console(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", SCRIPT, *args], capture_output=True, text=True, timeout=120)


def test_console_joins_threads_runs_atexit_and_flushes() -> None:
    proc = _console("--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("unflushed curaline, version")
    assert proc.stdout.rstrip().endswith("thread finished\natexit ran")
    assert "not reached" not in proc.stdout


def test_console_keeps_the_exit_status_of_a_refused_command(tmp_path: Path) -> None:
    proc = _console("run", "--project", str(tmp_path / "nowhere"))
    assert proc.returncode == 2
    assert "curaline: error: no valid source manifests" in proc.stderr
    assert "atexit ran" in proc.stdout
    usage = _console("no-such-command")
    assert usage.returncode == 2 and "No such command" in usage.stderr


def test_console_reports_sys_exit_with_a_message() -> None:
    script = "import sys\nfrom curaline import cli\ncli.main.command('boom')(lambda: sys.exit('it broke'))\n" \
             "sys.argv = ['curaline', 'boom']\ncli.console()\n"  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.strip() == "it broke"


def test_the_installed_command_is_the_console_entry() -> None:
    """The script pip writes calls `console` (pyproject's [project.scripts]), not the click group."""
    assert "from curaline.cli import console" in CURALINE.read_text(encoding="utf-8")
    proc = subprocess.run([str(CURALINE), "--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "Usage: curaline" in proc.stdout
