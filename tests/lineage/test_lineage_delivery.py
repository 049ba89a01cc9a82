"""Delivery to a real HTTP backend: up, down, hanging; nothing lost, the run never held up."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from lineage_fixtures import DAGSTER_RUN, make_project, read_jsonl

from curaline.lineage.cli import lineage
from curaline.lineage.emitter import LineageEmitter, default_events_file, outbox_dir
from curaline.project import Project


class Receiver:
    """An OpenLineage HTTP backend on 127.0.0.1 that records what it is sent."""

    def __init__(self, port: int = 0):
        received: list[tuple[str, dict[str, object]]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append((self.path, json.loads(body)))
                self.send_response(201)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.received = received
        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    saved = os.environ.copy()  # the client writes OPENLINEAGE__* aliases of OPENLINEAGE_URL itself
    for key in list(os.environ):
        if key.startswith("OPENLINEAGE"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    yield make_project(tmp_path / "proj")
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def materialize(emitter: LineageEmitter, partition: str = "notes") -> str:
    with emitter.materialization("raw_records", parent_run_id=DAGSTER_RUN, partition=partition) as run:
        pass
    return run.run_id


def outbox(project: Project, name: str) -> list[Path]:
    return sorted((outbox_dir(project) / name).glob("*.json"))


def test_events_reach_a_real_http_backend_and_the_local_file(project: Project, receiver: Receiver) -> None:
    (project.root / "openlineage.yml").write_text(yaml.safe_dump({"transport": {
        "type": "composite", "transports": {
            "local": {"type": "file", "log_file_path": "lineage/events/openlineage.jsonl", "append": True},
            "marquez": {"type": "http", "url": f"http://127.0.0.1:{receiver.port}", "endpoint": "api/v1/lineage"},
        }}}))  # fmt: skip
    run_id = materialize(LineageEmitter(project))
    assert [(p, e["eventType"], e["run"]["runId"]) for p, e in receiver.received] == [
        ("/api/v1/lineage", "START", run_id), ("/api/v1/lineage", "COMPLETE", run_id)]  # fmt: skip
    # relative file paths in the project's config are relative to the project
    assert [e["eventType"] for e in read_jsonl(default_events_file(project))] == ["START", "COMPLETE"]
    assert outbox(project, "marquez") == [] and outbox(project, "local") == []


def test_a_down_backend_costs_no_time_loses_no_event_and_gets_them_on_the_next_emission(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = closed_port()
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__TYPE", "http")
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__RETRY", '{"total": 0}')
    emitter = LineageEmitter(project, delivery_timeout_s=1.0, retry_after_s=0.0)
    started = time.monotonic()
    first = materialize(emitter)
    assert time.monotonic() - started < 1.0
    queued = outbox(project, "http")
    assert [json.loads(p.read_text())["eventType"] for p in queued] == ["START", "COMPLETE"]
    assert "ConnectionError" in (emitter.last_report.errors["http"] if emitter.last_report else "")

    up = Receiver(port)
    try:
        second = materialize(emitter, "chat")
        sent = [(e["run"]["runId"], e["eventType"]) for _, e in up.received]
        assert sent == [(first, "START"), (first, "COMPLETE"), (second, "START"), (second, "COMPLETE")]
        assert outbox(project, "http") == []
    finally:
        up.close()


def test_a_hanging_backend_holds_the_run_no_longer_than_the_timeout(project: Project,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held: list[socket.socket] = []

    def accept() -> None:  # accepts and never answers
        while True:
            try:
                held.append(listener.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    monkeypatch.setenv("OPENLINEAGE_URL", f"http://127.0.0.1:{listener.getsockname()[1]}")
    try:
        emitter = LineageEmitter(project, delivery_timeout_s=0.5, retry_after_s=60.0)
        started = time.monotonic()
        materialize(emitter)
        materialize(emitter, "chat")  # backing off: queued without trying
        elapsed = time.monotonic() - started
        assert elapsed < 1.5, elapsed
        (name,) = [ch.name for ch in emitter.delivery.channels]
        assert len(outbox(project, name)) == 4
        assert emitter.last_report is not None and emitter.last_report.pending[name] == 4
    finally:
        listener.close()
        for conn in held:
            conn.close()


def test_flush_command_delivers_the_backlog_once_the_backend_is_up(project: Project,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    port = closed_port()
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__TYPE", "http")
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__RETRY", '{"total": 0}')
    run_id = materialize(LineageEmitter(project, delivery_timeout_s=1.0))
    runner = CliRunner()
    down = runner.invoke(lineage, ["flush", "--project", str(project.root), "--json"])
    assert down.exit_code == 1
    assert json.loads(down.stdout)["pending"] == {"http": 2}
    assert down.stderr.strip().endswith(f"2 event(s) still queued in {outbox_dir(project)}")
    up = Receiver(port)
    try:
        result = runner.invoke(lineage, ["flush", "--project", str(project.root), "--json"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["delivered"] == {"http": 2}
        assert [(e["run"]["runId"], e["eventType"]) for _, e in up.received] == [(run_id, "START"), (run_id, "COMPLETE")]
        assert outbox(project, "http") == []
    finally:
        up.close()


def test_with_a_backend_down_the_local_file_still_gets_every_event(project: Project) -> None:
    (project.root / "openlineage.yml").write_text(yaml.safe_dump({"transport": {
        "type": "composite", "transports": {
            "local": {"type": "file", "log_file_path": "lineage/events/openlineage.jsonl", "append": True},
            "marquez": {"type": "http", "url": f"http://127.0.0.1:{closed_port()}", "retry": {"total": 0}},
        }}}))  # fmt: skip
    materialize(LineageEmitter(project))
    assert [e["eventType"] for e in read_jsonl(default_events_file(project))] == ["START", "COMPLETE"]
    assert outbox(project, "local") == [] and len(outbox(project, "marquez")) == 2
