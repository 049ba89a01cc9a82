"""Deliver events through the OpenLineage client's transports, losing none.

Every event is written to an outbox first (one JSON file per event and transport under
``lineage/outbox/<transport>/``) and removed once its transport accepted it, so an
event survives a backend that is down, a timeout and a crash alike (at-least-once).
A delivery attempt runs in a worker thread and is waited for at most ``timeout_s``:
a backend that hangs cannot hold up the curation run longer than that. After a
failure the transport is left alone for ``retry_after_s`` (new events just queue in
the outbox), then the next emission re-sends the backlog in order, as does
`curaline lineage flush`.

Transports come from the client's own configuration (openlineage.yml, OPENLINEAGE_*
variables); a composite transport is split into its children so that each has its
own outbox and a failing HTTP backend never blocks the local JSON-lines file.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openlineage.client.transport.composite import CompositeTransport
from openlineage.client.transport.noop import NoopTransport
from openlineage.client.transport.transport import Transport

RETRY_AFTER_FILE = ".retry_after"


@dataclass
class FlushReport:
    """What one delivery pass did, per transport."""

    delivered: dict[str, int] = field(default_factory=dict)
    pending: dict[str, int] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def total_pending(self) -> int:
        return sum(self.pending.values())


class Channel:
    """One transport with its outbox folder and back-off state."""

    _seq = 0
    _seq_lock = threading.Lock()

    def __init__(self, name: str, transport: Transport, outbox: Path):
        self.name = name
        self.transport = transport
        self.outbox = outbox
        self._lock = threading.Lock()  # one attempt at a time per transport in this process

    def pending(self) -> list[Path]:
        if not self.outbox.is_dir():
            return []
        return sorted(p for p in self.outbox.glob("*.json"))

    def enqueue(self, payload: str, event_time_ns: int) -> Path:
        """Write the event to the outbox atomically; names sort in emission order."""
        with Channel._seq_lock:
            Channel._seq += 1
            seq = Channel._seq
        self.outbox.mkdir(parents=True, exist_ok=True)
        path = self.outbox / f"{event_time_ns:020d}-{os.getpid()}-{seq:06d}.json"
        tmp = self.outbox / f".{path.name}.tmp"
        tmp.write_text(payload, encoding="utf-8")
        os.replace(tmp, path)
        return path

    def backing_off(self, now: float) -> bool:
        try:
            return float((self.outbox / RETRY_AFTER_FILE).read_text().split("\n", 1)[0]) > now
        except (OSError, ValueError):
            return False

    def back_off(self, until: float, reason: str) -> None:
        self.outbox.mkdir(parents=True, exist_ok=True)
        (self.outbox / RETRY_AFTER_FILE).write_text(f"{until}\n{reason[:500]}\n")

    def clear_back_off(self) -> None:
        (self.outbox / RETRY_AFTER_FILE).unlink(missing_ok=True)


def split_transports(transport: Transport) -> list[tuple[str, Transport]]:
    """(name, transport) pairs: a composite's children, or the transport itself."""
    if isinstance(transport, NoopTransport):
        return []
    children = transport.transports if isinstance(transport, CompositeTransport) else [transport]
    out: list[tuple[str, Transport]] = []
    seen: set[str] = set()
    for i, t in enumerate(children):
        base = re.sub(r"[^A-Za-z0-9._-]+", "_", t.name or f"{t.kind or 'transport'}")
        name = base if base not in seen else f"{base}-{i}"
        seen.add(name)
        out.append((name, t))
    return out


class Delivery:
    """Sends serialized events to every channel, through the outbox, with a time bound."""

    def __init__(
        self,
        transports: list[tuple[str, Transport]],
        outbox_root: Path,
        *,
        timeout_s: float = 2.0,
        retry_after_s: float = 30.0,
    ):
        self.channels = [Channel(name, t, outbox_root / name) for name, t in transports]
        self.outbox_root = outbox_root
        self.timeout_s = timeout_s
        self.retry_after_s = retry_after_s

    def send(self, event: dict[str, Any], payload: str | None = None) -> FlushReport:
        """Queue the event for every channel, then deliver what each channel may now send."""
        payload = payload or json.dumps(event, sort_keys=True)
        now_ns = time.time_ns()
        for ch in self.channels:
            ch.enqueue(payload, now_ns)
        return self.flush(budget_s=self.timeout_s, respect_back_off=True)

    def flush(self, *, budget_s: float | None = None, respect_back_off: bool = False) -> FlushReport:
        """Deliver queued events in order; stop a channel at its first failure.

        With a budget, a pass stops starting new attempts once the budget is spent, so an
        emission never waits much longer than one timeout however long the backlog is.
        """
        report = FlushReport()
        start = time.monotonic()
        for ch in self.channels:
            delivered = 0
            if respect_back_off and ch.backing_off(time.time()):
                report.pending[ch.name] = len(ch.pending())
                report.delivered[ch.name] = 0
                continue
            for path in ch.pending():
                if budget_s is not None and time.monotonic() - start > budget_s:
                    break
                ok, error = self._attempt(ch, path)
                if not ok:
                    ch.back_off(time.time() + self.retry_after_s, error)
                    report.errors[ch.name] = error
                    break
                delivered += 1
            else:
                ch.clear_back_off()
            report.delivered[ch.name] = delivered
            report.pending[ch.name] = len(ch.pending())
        return report

    def _attempt(self, ch: Channel, path: Path) -> tuple[bool, str]:
        """Emit one outbox file through its transport, waiting at most timeout_s."""
        try:
            event = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return True, ""  # delivered meanwhile by a late attempt or another flush
        result: dict[str, Any] = {}

        def work() -> None:
            with ch._lock:
                if not path.exists():
                    result["ok"] = True
                    return
                try:
                    ch.transport.emit(event)
                except Exception as exc:  # any transport error: keep the event, report it
                    result["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                    return
                path.unlink(missing_ok=True)  # also when we gave up waiting: it did arrive
                result["ok"] = True

        worker = threading.Thread(target=work, name=f"openlineage-{ch.name}", daemon=True)
        worker.start()
        worker.join(self.timeout_s)
        if worker.is_alive():
            return False, f"no answer within {self.timeout_s:g} s"
        if "error" in result:
            return False, str(result["error"])
        return True, ""

    def pending(self) -> dict[str, int]:
        return {ch.name: len(ch.pending()) for ch in self.channels}


def outbox_pending(outbox_root: Path) -> dict[str, int]:
    """Queued events per transport folder, without building any transport."""
    if not outbox_root.is_dir():
        return {}
    return {d.name: len(list(d.glob("*.json"))) for d in sorted(outbox_root.iterdir()) if d.is_dir()}
