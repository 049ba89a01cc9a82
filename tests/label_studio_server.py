"""A real Label Studio server for tests: its own cached virtual environment, a tmp data dir.

Label Studio's pins conflict with curaline's, so it lives in
`~/.cache/curaline/label-studio-<version>/` (created once with `python -m venv` + pip;
`$CURALINE_LABEL_STUDIO_VENV` points elsewhere). The server listens on 127.0.0.1 on a
free port, its users and their API tokens are made by its own CLI (`label-studio init
--username --password --user-token`; `label-studio user` only prints a user), a migrated
empty database is cached beside the venv, and the server is stopped by its process group.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
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
    annotators: dict[str, str] = field(default_factory=dict)  # name -> API token

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


def _env(data_dir: Path, url: str = "") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "DJANGO", "VIRTUAL_ENV"))}
    env.update({"LABEL_STUDIO_BASE_DATA_DIR": str(data_dir), "SENTRY_DSN": "", "FRONTEND_SENTRY_DSN": "",
                "COLLECT_ANALYTICS": "false", "DATA_UPLOAD_MAX_NUMBER_FIELDS": "10000000",
                "DATA_UPLOAD_MAX_MEMORY_SIZE": str(1 << 30), **({"LABEL_STUDIO_HOST": url} if url else {})})  # fmt: skip
    return env


def _cli(exe: Path, data_dir: Path, *args: str, timeout_s: float = 600) -> None:
    done = subprocess.run([str(exe), *args, "--data-dir", str(data_dir)], env=_env(data_dir), cwd=data_dir,
                          capture_output=True, timeout=timeout_s)  # fmt: skip
    if done.returncode:
        raise RuntimeError(f"label-studio {args[0]} failed ({done.returncode}):\n{done.stdout[-2000:]!r}\n{done.stderr[-2000:]!r}")


def template_db(exe: Path) -> Path:
    """A migrated, empty database, made once per version (migrating takes a minute or more)."""
    tpl = exe.parent.parent / "template" / "label_studio.sqlite3"
    if not tpl.exists():
        work = tpl.parent.with_name(f"template.tmp-{os.getpid()}")
        work.mkdir(parents=True, exist_ok=True)
        _cli(exe, work, "init", "--quiet")  # no username in quiet mode: migrations only, no user
        tpl.parent.mkdir(parents=True, exist_ok=True)
        os.replace(work / "label_studio.sqlite3", tpl)
        shutil.rmtree(work, ignore_errors=True)
    return tpl


def create_user(exe: Path, data_dir: Path, email: str, *, admin: bool = False) -> str:
    """A user and their legacy API token, through Label Studio's own CLI (`init --username ... --user-token ...`);
    the first (admin) creates the organization with legacy tokens enabled."""
    token = secrets.token_hex(20)
    extra = ("--enable-legacy-api-token",) if admin else ()
    _cli(exe, data_dir, "init", "--username", email, "--password", secrets.token_hex(12), "--user-token", token, *extra)
    return token


def start(exe: Path, data_dir: Path, annotators: tuple[str, ...] = (), timeout_s: float = 300.0) -> Server:
    data_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template_db(exe), data_dir / "label_studio.sqlite3")
    username = "curator@example.org"
    token = create_user(exe, data_dir, username, admin=True)
    tokens = {name: create_user(exe, data_dir, f"{name}@example.org") for name in annotators}
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = data_dir / "server.log"
    started = time.monotonic()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(exe), "start", "--no-browser", "--host", "127.0.0.1", "--internal-host", "127.0.0.1",
             "--port", str(port), "--data-dir", str(data_dir)],
            stdout=out, stderr=subprocess.STDOUT, env=_env(data_dir, url), cwd=data_dir, start_new_session=True,
        )  # fmt: skip
    try:
        _wait_ready(url, proc, log, timeout_s)
    except BaseException:
        stop(proc)
        raise
    return Server(url, token, username, proc, data_dir, log, time.monotonic() - started, tokens)


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


def running(exe: Path, data_dir: Path, annotators: tuple[str, ...] = ()) -> Iterator[Server]:
    server = start(exe, data_dir, annotators)
    try:
        yield server
    finally:
        stop(server.process)
