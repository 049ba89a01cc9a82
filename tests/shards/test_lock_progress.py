"""The project lock (a second run refuses or waits, a killed holder frees it) and progress output."""

from __future__ import annotations

import io
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from curaline.progress import Progress
from curaline.runlock import ProjectLocked, project_lock

HOLD = """
import sys
sys.path[:0] = {paths!r}
from pathlib import Path
from curaline.runlock import project_lock
with project_lock(Path({root!r})):
    print("held", flush=True)
    sys.stdin.read()  # hold until the test closes our stdin
"""


def _holder(root: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLD.format(paths=sys.path, root=str(root))], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert proc.stdout is not None and proc.stdout.readline() == "held\n"
    return proc


def test_a_second_run_is_refused_naming_the_holder(tmp_path: Path) -> None:
    proc = _holder(tmp_path)
    try:
        with pytest.raises(ProjectLocked, match=rf"being run by pid {proc.pid} on .*pass --wait"), project_lock(tmp_path):
            pass
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=60)
    with project_lock(tmp_path):  # free again once the holder ended
        pass


def test_a_waiting_run_starts_when_the_holder_ends(tmp_path: Path) -> None:
    proc = _holder(tmp_path)
    messages: list[str] = []
    waiting, acquired = threading.Event(), threading.Event()

    def on_wait(message: str) -> None:
        messages.append(message)
        waiting.set()

    def second() -> None:
        with project_lock(tmp_path, wait=True, on_wait=on_wait):
            acquired.set()

    thread = threading.Thread(target=second)
    thread.start()
    assert waiting.wait(timeout=60) and not acquired.is_set()
    assert proc.stdin is not None
    proc.stdin.close()
    proc.wait(timeout=60)
    thread.join(timeout=60)
    assert acquired.is_set() and "waiting for the run of pid" in messages[0]


def test_a_killed_holder_frees_the_lock(tmp_path: Path) -> None:
    proc = _holder(tmp_path)
    proc.kill()
    proc.wait(timeout=60)
    with project_lock(tmp_path):
        pass


def test_plain_progress_lines_are_throttled_and_end_with_the_total() -> None:
    out = io.StringIO()
    seen: list[str] = []
    progress = Progress("per-source", 100, stream=out, tty=False, log=seen.append)
    for i in range(100):
        progress.update(skipped=i < 30)
    lines = out.getvalue().splitlines()
    assert 10 <= len(lines) <= 12 and lines == seen
    assert lines[-1].startswith("per-source: 100/100 shards done, 30 already committed")


def test_a_terminal_gets_one_bar_redrawn_in_place() -> None:
    out = io.StringIO()
    progress = Progress("dedup", 4, stream=out, tty=True)
    for _ in range(4):
        progress.update()
    text = out.getvalue()
    assert text.count("\r") == 4 and text.endswith("\n") and "[" + "#" * 30 + "] 4/4 shards done" in text


def test_curaline_run_refuses_a_project_another_run_holds(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from curaline.cli import main

    proc = _holder(tmp_path)
    try:
        result = CliRunner().invoke(main, ["run", "--project", str(tmp_path)])
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=60)
    assert result.exit_code != 0
    assert f"is being run by pid {proc.pid}" in result.output and "pass --wait" in result.output
