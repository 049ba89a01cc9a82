"""A DVC remote on S3-compatible object storage, served by moto's S3 server on 127.0.0.1.

The server runs in its own process (the way a MinIO or Ceph gateway would), reports the port
it bound and stops when its stdin closes: the handle started here stops it, nothing else.
DVC talks to it through dvc-s3 (s3fs, aiobotocore) over HTTP, as to any S3 endpoint, so a
push, a `dvc pull` in a clone and a restore go over the wire for real. Credentials are dummy
values in environment variables set only inside `s3_store` (the AWS config files of this
machine are not read, and no instance-metadata lookup leaves it).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent

#: the child: moto's threaded server on 127.0.0.1, an OS-chosen port printed, stopped at stdin's EOF
_SERVER = """
import sys
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()
server.stop()
"""


@dataclass
class S3Store:
    """A running moto S3 server with one bucket: where it listens, and a boto3 client on it."""

    endpoint: str
    bucket: str
    pid: int
    client: Any

    def url(self, prefix: str) -> str:
        return f"s3://{self.bucket}/{prefix}"

    def objects(self, prefix: str = "") -> dict[str, bytes]:
        """Every object under prefix in the bucket: key -> bytes (read back over S3)."""
        out = {}
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                out[item["Key"]] = self.client.get_object(Bucket=self.bucket, Key=item["Key"])["Body"].read()
        return out

    def use_as_remote(self, root: Path, prefix: str, name: str = "store") -> None:
        """The README's two commands in a DVC project: the default remote is this bucket's prefix."""
        for args in (["remote", "add", "-f", "-d", name, self.url(prefix)],
                     ["remote", "modify", name, "endpointurl", self.endpoint]):  # fmt: skip
            res = subprocess.run([str(BIN / "dvc"), *args], cwd=root, capture_output=True, text=True)
            assert res.returncode == 0, res.stderr


def _aws_env(home: Path) -> dict[str, str]:
    return {
        "AWS_ACCESS_KEY_ID": "curaline-test",
        "AWS_SECRET_ACCESS_KEY": "curaline-test-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(home / "aws-config"),  # absent: no profile of this machine applies
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }


@contextmanager
def s3_store(home: Path, bucket: str = "curaline") -> Iterator[S3Store]:
    """A moto S3 server on 127.0.0.1 with `bucket` created; the AWS variables set meanwhile.

    `home` is a scratch folder for the (absent) AWS config files. On exit the server process
    is stopped through its own handle and the environment is put back as it was.
    """
    saved = {k: os.environ.get(k) for k in _aws_env(home)}
    os.environ.update(_aws_env(home))
    proc = subprocess.Popen([sys.executable, "-c", _SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        if not line.isdigit():
            raise RuntimeError(f"the moto server did not start (exit code {proc.poll()})")
        endpoint = f"http://127.0.0.1:{int(line)}"
        import boto3

        client = boto3.client("s3", endpoint_url=endpoint)
        client.create_bucket(Bucket=bucket)
        yield S3Store(endpoint, bucket, proc.pid, client)
    finally:
        if proc.stdin is not None:
            proc.stdin.close()  # the server stops and the process ends
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
