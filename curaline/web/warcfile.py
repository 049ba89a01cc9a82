"""Writing WARC/1.1 files: what the demo generator and the benchmarks use to make crawls.

Records are built byte by byte (not through a library) so that deliberately broken
records (cut payloads, bad chunking, wrong lengths) can be written as easily as good
ones; each record is its own gzip member, as the WARC spec recommends for .warc.gz.
"""

from __future__ import annotations

import gzip
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

REASONS = {200: "OK", 301: "Moved Permanently", 403: "Forbidden", 404: "Not Found", 500: "Internal Server Error"}


def http_response(status: int, headers: Sequence[tuple[str, str]], body: bytes, *, content_length: bool = True) -> bytes:
    """An HTTP/1.1 response as a crawler stores it (status line, headers, blank line, payload)."""
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}"]
    lines += [f"{k}: {v}" for k, v in headers]
    if content_length and not any(k.lower() in ("content-length", "transfer-encoding") for k, _ in headers):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@dataclass
class Record:
    url: str
    date: str  # ISO 8601, e.g. 2024-01-08T10:00:00Z
    block: bytes  # the HTTP response (or any block)
    warc_type: str = "response"
    extra_headers: list[tuple[str, str]] = field(default_factory=list)
    #: the Content-Length written; None = the true length (a wrong one makes a malformed file)
    declared_length: int | None = None

    def to_bytes(self) -> bytes:
        rid = uuid.uuid5(uuid.NAMESPACE_URL, f"{self.warc_type}|{self.url}|{self.date}")
        content_type = "application/http; msgtype=response" if self.warc_type == "response" else "application/warc-fields"
        headers = [("WARC-Type", self.warc_type), ("WARC-Record-ID", f"<urn:uuid:{rid}>"), ("WARC-Date", self.date)]
        if self.warc_type != "warcinfo":
            headers.append(("WARC-Target-URI", self.url))
        headers += [("Content-Type", content_type), *self.extra_headers,
                    ("Content-Length", str(len(self.block) if self.declared_length is None else self.declared_length))]  # fmt: skip
        head = "WARC/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
        return head.encode("utf-8") + self.block + b"\r\n\r\n"


def warcinfo(software: str, date: str) -> Record:
    return Record(url="", date=date, block=f"software: {software}\r\nformat: WARC File Format 1.1\r\n".encode(),
                  warc_type="warcinfo")  # fmt: skip


def write_warc(out: BinaryIO, records: Iterable[Record], *, gzipped: bool = True) -> int:
    """Write records (one gzip member each when gzipped); returns the bytes written."""
    written = 0
    for record in records:
        data = record.to_bytes()
        if gzipped:
            data = gzip.compress(data, compresslevel=6, mtime=0)
        out.write(data)
        written += len(data)
    return written
