"""A real Label Studio server for tests: its own cached virtual environment, a tmp data dir.

Label Studio's pins conflict with curaline's, so it lives in
`~/.cache/curaline/label-studio-<version>/` (created once with `python -m venv` + pip;
`$CURALINE_LABEL_STUDIO_VENV` points elsewhere). The server listens on 127.0.0.1 on a
free port, its user and API token are made by its own CLI (`label-studio start
--username --password --user-token`), and it is stopped by its process group.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

VERSION = "1.23.2"


def venv_dir() -> Path:
    env = os.environ.get("CURALINE_LABEL_STUDIO_VENV")
    return Path(env) if env else Path.home() / ".cache" / "curaline" / f"label-studio-{VERSION}"


def ensure_venv() -> Path | str:
    """The label-studio executable, installing it once; a string says why it cannot be had."""
    venv = venv_dir()
    exe = venv / "bin" / "label-studio"
    if exe.exists():
        return exe
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=300)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", f"label-studio=={VERSION}"], check=True,
                       capture_output=True, timeout=1200)  # fmt: skip
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        err = getattr(exc, "stderr", b"") or b""
        return f"cannot install label-studio=={VERSION} into {venv} (no network?): {err[-300:].decode(errors='replace')}"
    return exe if exe.exists() else f"{exe} missing after pip install"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    token: str
    username: str
    process: subprocess.Popen[bytes]
    data_dir: Path
    log: Path
    started_s: float  # seconds from launch to ready

    def api(self, method: str, path: str, body: object = None, token: str | None = None) -> object:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Authorization", f"Token {token or self.token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=120) as resp:
            payload = resp.read()
        return json.loads(payload) if payload else None


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"label-studio exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        try:
            proc.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            pass
    raise RuntimeError(f"label-studio not ready after {timeout_s:.0f} s:\n{log.read_text()[-3000:]}")


def start(exe: Path, data_dir: Path, timeout_s: float = 300.0) -> Server:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    token = secrets.token_hex(20)
    username = "curator@example.org"
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "DJANGO", "VIRTUAL_ENV"))}
    env.update({"LABEL_STUDIO_BASE_DATA_DIR": str(data_dir), "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "false",
                "SENTRY_DSN": "", "FRONTEND_SENTRY_DSN": "", "COLLECT_ANALYTICS": "false",
                "LABEL_STUDIO_HOST": url, "DATA_UPLOAD_MAX_NUMBER_FIELDS": "1000000",
                "DATA_UPLOAD_MAX_MEMORY_SIZE": str(1 << 30)})  # fmt: skip
    started = time.monotonic()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(exe), "start", "--no-browser", "--host", "127.0.0.1", "--internal-host", "127.0.0.1",
             "--port", str(port), "--data-dir", str(data_dir), "--username", username,
             "--password", secrets.token_hex(12), "--user-token", token],
            stdout=out, stderr=subprocess.STDOUT, env=env, cwd=data_dir, start_new_session=True,
        )  # fmt: skip
    try:
        _wait_ready(url, proc, log, timeout_s)
    except BaseException:
        stop(proc)
        raise
    return Server(url, token, username, proc, data_dir, log, time.monotonic() - started)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop the server's whole process group (it forks workers), by its id."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    except ProcessLookupError:
        pass


def running(exe: Path, data_dir: Path) -> Iterator[Server]:
    server = start(exe, data_dir)
    try:
        yield server
    finally:
        stop(server.process)
