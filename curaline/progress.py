"""Progress of a run: shards done / total per phase.

On a terminal, one bar per phase redrawn in place; otherwise (logs, CI, the Dagster step
log) plain lines, at most about one per tenth of the phase, so a million shards do not
flood a log. `log` receives the same lines (e.g. a Dagster step's `context.log.info`).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

BAR = 30


class Progress:
    def __init__(self, phase: str, total: int, *, unit: str = "shards", stream: TextIO | None = None,
                 tty: bool | None = None, log: Callable[[str], None] | None = None):  # fmt: skip
        self.phase = phase
        self.total = total
        self.unit = unit
        self.done = 0
        self.skipped = 0
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.log = log
        self.started = time.perf_counter()
        self._next_line = 0

    def line(self) -> str:
        elapsed = time.perf_counter() - self.started
        skipped = f", {self.skipped} already committed" if self.skipped else ""
        return f"{self.phase}: {self.done}/{self.total} {self.unit} done{skipped} ({elapsed:.1f} s)"

    def _due(self) -> bool:
        """A plain line is due at the end and about every tenth of the phase."""
        if self.done >= self.total or self.done >= self._next_line:
            self._next_line = self.done + max(1, self.total // 10)
            return True
        return False

    def update(self, n: int = 1, *, skipped: bool = False) -> None:
        self.done += n
        self.skipped += n if skipped else 0
        due = self._due()
        if self.tty:
            filled = BAR * self.done // max(self.total, 1)
            self.stream.write(f"\r{self.phase:<20} [{'#' * filled}{'.' * (BAR - filled)}] {self.line().split(': ', 1)[1]}")
            if self.done >= self.total:
                self.stream.write("\n")
            self.stream.flush()
        elif due:
            self.stream.write(self.line() + "\n")
            self.stream.flush()
        if due and self.log is not None:
            self.log(self.line())
