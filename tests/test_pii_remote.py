"""Stage outputs holding PII verbatim never go to a non-local DVC remote by default (issue 17)."""

from __future__ import annotations

import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from curaline.pii_stages import PII_STAGES, holds_pii, is_local_remote
from curaline.project import Project
from curaline.versioning import _open_repo, ensure_repo, push, shareable_outputs, track

BIN = Path(sys.executable).parent
EMAIL = "ann@corp.test"


def _project(root: Path) -> Project:
    root.mkdir(parents=True)
    stages = {}
    for stage in ("raw_records", "normalized", "pii_redacted"):
        path = root / "data" / stage / "notes.parquet"
        path.parent.mkdir(parents=True)
        text = "mail me at <EMAIL>" if stage == "pii_redacted" else f"mail me at {EMAIL} ({stage})"
        pq.write_table(pa.table({"doc_id": ["notes:1"], "text": [text]}), path, compression="none")
        stages[stage] = {"cmd": "true", "outs": [f"data/{stage}/notes.parquet"]}
    (root / "dvc.yaml").write_text(yaml.safe_dump({"stages": stages}))
    project = Project.at(root)
    ensure_repo(project)
    track(project, list(stages))
    return project


def _set_remote(root: Path, url: str) -> None:
    res = subprocess.run([str(BIN / "dvc"), "remote", "add", "-f", "-d", "elsewhere", url], cwd=root,
                         capture_output=True, text=True)  # fmt: skip
    assert res.returncode == 0, res.stderr


def test_only_pii_free_outputs_are_pushed_to_a_remote_service(tmp_path: Path) -> None:
    project = _project(tmp_path / "proj")
    with _open_repo(project.root) as repo:
        assert shareable_outputs(project, repo) is None  # the default remote is a folder here: all of it
    assert push(project) == 3 and len(list((project.root / ".dvc-store").rglob("*"))) > 3
    _set_remote(project.root, "s3://some-bucket/curaline")
    with _open_repo(project.root) as repo:
        assert shareable_outputs(project, repo) == ["data/pii_redacted/notes.parquet"]
    (project.root / "curaline.yaml").write_text("pii_to_remote: true\n")
    with _open_repo(project.root) as repo:
        assert shareable_outputs(Project.at(project.root), repo) is None


def test_the_pii_stage_list_and_remote_kinds() -> None:
    assert all(holds_pii(f"data/{s}/x.parquet") for s in PII_STAGES)
    assert holds_pii("data/raw_records.parquet") and not holds_pii("data/pii_redacted/x.parquet")
    assert not holds_pii("data/releases/r/manifest.json") and not holds_pii("lineage/ledger/x.parquet")
    assert is_local_remote("/srv/dvc") and is_local_remote("file:///srv/dvc") and is_local_remote("../store")
    assert not any(is_local_remote(u) for u in ("s3://b/p", "gs://b", "https://h/p", "ssh://h/p", "azure://c"))


class _Store(BaseHTTPRequestHandler):
    """A DVC HTTP remote on 127.0.0.1: a service, not a folder, and nothing leaves the machine."""

    objects: dict[str, bytes] = {}

    def log_message(self, *args: object) -> None:
        pass

    def _reply(self, code: int, body: bytes = b"") -> None:
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command == "GET":
            self.wfile.write(body)

    def do_POST(self) -> None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while (size := int(self.rfile.readline().strip(), 16)) > 0:
                data += self.rfile.read(size)
                self.rfile.readline()
            self.rfile.readline()
        else:
            data = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.objects[self.path] = data
        self._reply(201)

    do_PUT = do_POST

    def do_HEAD(self) -> None:
        self._reply(200 if self.path in self.objects else 404, self.objects.get(self.path, b""))

    do_GET = do_HEAD


def test_a_push_to_a_remote_service_sends_no_pii(tmp_path: Path) -> None:
    project = _project(tmp_path / "proj")
    _Store.objects = {}
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Store)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        _set_remote(project.root, f"http://127.0.0.1:{server.server_address[1]}/store")
        assert push(project) == 1
    finally:
        server.shutdown()
        server.server_close()
    [sent] = _Store.objects.values()
    assert b"<EMAIL>" in sent and not any(EMAIL.encode() in body for body in _Store.objects.values())
