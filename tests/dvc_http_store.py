"""A DVC HTTP remote on 127.0.0.1: a service, not a folder (so the PII rules for remote
services apply), and nothing leaves the machine. DVC pushes to it for real; the test reads
every object it received."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Store(BaseHTTPRequestHandler):
    objects: dict[str, bytes] = {}  # replaced per server (see http_store)

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


@contextmanager
def http_store() -> Iterator[tuple[str, dict[str, bytes]]]:
    """(the remote's URL, path -> the bytes it received); the server stops on exit."""
    objects: dict[str, bytes] = {}
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("Store", (_Store,), {"objects": objects}))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/store", objects
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
