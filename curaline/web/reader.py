"""WARC (and ARC) files and folders of HTML pages, read as document items for curaline.ingest.

One item per WARC ``response`` record: an HTML page fetched with status 200 becomes a
document (text = its main content, see curaline.web.extract); every other response is
quarantined with its reason and its WARC offset, so an operator can cut the record out
with ``dd``/``warcio extract``. Records that never hold a page (request, warcinfo,
metadata, revisit, resource...) are counted by type, not quarantined.

Records stream one at a time through warcio (WARC/1.0, 1.1, ARC, gzip per record); a
record's payload is read up to MAX_PAYLOAD and no further, so memory is bounded by one
page whatever the file size. warcio was chosen over FastWARC because it reads ARC and
names what is wrong with a damaged file (FastWARC stops with "Invalid WARC header").
"""

from __future__ import annotations

import codecs
import gzip
import re
import zlib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from curaline.web.extract import ExtractConfig, extract
from curaline.web.rights import detect

WEB_FORMATS = ("warc", "html")
#: Quarantine reasons only web sources give (tests/test_web_ingest.py covers each).
WEB_QUARANTINE_REASONS = (
    "not_html",  # a response whose payload is not an HTML page (image, PDF, JSON...)
    "http_status",  # a response with an HTTP status other than 200
    "truncated_record",  # WARC-Truncated, or fewer payload bytes than announced
    "malformed_record",  # no HTTP status line, broken chunking, bad compression, unparseable WARC
)
#: Columns a web document carries beside text and url (all nullable: an HTML folder has no HTTP).
WEB_COLUMNS: tuple[tuple[str, pa.DataType], ...] = (
    ("fetched_at", pa.string()),  # WARC-Date
    ("http_status", pa.int64()),
    ("content_type", pa.string()),  # the media type, parameters stripped
    ("charset", pa.string()),  # the encoding the page was decoded with
    ("warc_offset", pa.int64()),  # where the record starts in its (compressed) file
    ("tdm_reserved", pa.bool_()),  # a text-and-data-mining reservation was found (curaline.web.rights)
    ("tdm_evidence", pa.string()),  # which signals, where: "header:tdm-reservation=1; meta:robots=noai"
    ("tdm_policy", pa.string()),  # the TDMRep policy URL, when given
    ("extractor", pa.string()),  # which extractor made the text (cascade: per page)
)
#: Payload bytes read per record; a larger page is quarantined as oversize.
MAX_PAYLOAD = 16 * 1024 * 1024
#: Bytes of a damaged record kept in the quarantine row (the offset points at the rest).
RAW_KEEP = 4096
HTML_TYPES = ("text/html", "application/xhtml+xml")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([-\w.:]+)""", re.I)
_CANONICAL = re.compile(r"""<link\b[^>]*\brel\s*=\s*["']?canonical["']?[^>]*>""", re.I)
_HREF = re.compile(r"""\bhref\s*=\s*["']([^"']+)["']""", re.I)


def _item(rel: str, row: int, offset: int | None, *, reason: str | None = None, detail: str = "",
          raw: bytes = b"", obj: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    return {"file": rel, "line": None, "row": row, "obj": obj, "raw": raw, "reason": reason, "detail": detail,
            "byte_offset": offset}  # fmt: skip


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name.strip().strip("\"'")).name
    except LookupError:
        return None


def decode(body: bytes, declared: str | None) -> tuple[str, str] | tuple[None, str]:
    """The page as text and the codec used; (None, why) when no candidate decodes it.

    Candidates in order: the HTTP charset, the page's <meta charset>, UTF-8, then
    uchardet's guess (Resiliparse). NUL bytes mark a binary payload (UTF-16 aside).
    """
    if body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates: list[str | None] = ["utf-16"]
    else:
        if b"\x00" in body[:4096]:
            nul = body.index(b"\x00")
            return None, f"NUL byte at {nul}: a binary payload, not text"
        meta = _META_CHARSET.search(body[:4096])
        candidates = [_codec(declared), _codec(meta.group(1).decode("ascii", "replace")) if meta else None, "utf-8"]
    first_error = ""
    for enc in dict.fromkeys(c for c in candidates if c):
        try:
            return body.decode(enc), enc
        except UnicodeDecodeError as exc:
            first_error = first_error or f"not {enc} at byte {exc.start}"
    from resiliparse.parse.encoding import detect_encoding

    guess = _codec(detect_encoding(body))
    if guess and guess not in candidates:
        try:
            return body.decode(guess), guess
        except UnicodeDecodeError:
            pass
    return None, f"{first_error}; no other encoding fits (declared {declared or 'none'})"


def _dechunk(body: bytes) -> tuple[bytes | None, str]:
    """HTTP/1.1 chunked transfer coding undone; (None, why) when the chunking is broken or cut."""
    out, pos = bytearray(), 0
    while True:
        end = body.find(b"\r\n", pos)
        if end < 0:
            return None, "truncated: chunked payload ends without its last (0-size) chunk"
        size_field = body[pos:end].split(b";", 1)[0].strip()
        try:
            size = int(size_field, 16)
        except ValueError:
            return None, f"malformed: chunk size {size_field[:20]!r} at payload byte {pos} is not hex"
        if size == 0:
            return bytes(out), ""
        start = end + 2
        if start + size > len(body):
            return None, f"truncated: chunk of {size} bytes at payload byte {pos} is cut short"
        out += body[start : start + size]
        pos = start + size + 2


def _decompress(body: bytes, coding: str) -> tuple[bytes | None, str]:
    coding = coding.strip().lower()
    if coding in ("", "identity"):
        return body, ""
    if coding in ("gzip", "x-gzip", "deflate"):
        d = zlib.decompressobj(zlib.MAX_WBITS | 32) if coding != "deflate" else zlib.decompressobj()
        try:
            data = d.decompress(body, MAX_PAYLOAD * 4)
        except zlib.error as exc:
            return None, f"malformed: {coding} payload does not decompress ({exc})"
        if not d.eof and not d.unconsumed_tail:
            return None, f"truncated: {coding} payload ends before its end-of-stream"
        return data, ""
    if coding == "br":
        import brotli

        try:
            return brotli.decompress(body), ""
        except brotli.error as exc:
            return None, f"malformed: br payload does not decompress ({exc})"
    return None, f"malformed: unknown Content-Encoding {coding!r}"


def page_document(html: str, headers: list[tuple[str, str]], config: ExtractConfig) -> dict[str, Any]:
    """What a decoded page adds to its record: main text, extractor, reservation."""
    text, used = extract(html, config)
    rights = detect(headers, html)
    return {"text": text, "extractor": used, "tdm_reserved": rights.reserved, "tdm_evidence": rights.evidence,
            "tdm_policy": rights.policy}  # fmt: skip


def _response(record: Any, rel: str, row: int, config: ExtractConfig) -> Iterator[dict[str, Any]]:
    """One response record as an item; the offset is filled in by the caller once it is known."""
    warc = record.rec_headers
    url = warc.get_header("WARC-Target-URI")
    http = record.http_headers
    status_line = http.get_statuscode() if http is not None else None
    if http is None or not (status_line or "").isdigit():
        record.raw_stream.read(RAW_KEEP)
        yield _item(rel, row, None, reason="malformed_record",
                    detail=f"response for {url} has no HTTP status line ({(http and http.protocol) or 'none'})")  # fmt: skip
        return
    status = int(status_line or 0)  # a digit string: checked above
    content_type = http.get_header("Content-Type") or ""
    mime = content_type.split(";", 1)[0].strip().lower()
    if status != 200:
        yield _item(rel, row, None, reason="http_status", detail=f"HTTP {status} for {url}")
        return
    if mime and mime not in HTML_TYPES:  # decided before reading: an image's bytes are never held
        yield _item(rel, row, None, reason="not_html", detail=f"{mime} at {url}")
        return
    truncated = warc.get_header("WARC-Truncated")
    if truncated:
        yield _item(rel, row, None, reason="truncated_record", detail=f"WARC-Truncated: {truncated} ({url})")
        return
    body = record.raw_stream.read(MAX_PAYLOAD + 1)
    if len(body) > MAX_PAYLOAD:
        yield _item(rel, row, None, reason="oversize_record", detail=f"payload of {url} exceeds {MAX_PAYLOAD} bytes")
        return
    if (http.get_header("Transfer-Encoding") or "").strip().lower() == "chunked":
        dechunked, why = _dechunk(body)
        if dechunked is None:
            reason = "truncated_record" if why.startswith("truncated") else "malformed_record"
            yield _item(rel, row, None, reason=reason, detail=f"{why} ({url})", raw=body[:RAW_KEEP])
            return
        body = dechunked
    else:
        announced = http.get_header("Content-Length")
        if announced and announced.strip().isdigit() and len(body) < int(announced):
            yield _item(rel, row, None, reason="truncated_record",
                        detail=f"{len(body)} of the {announced} payload bytes HTTP announced ({url})")  # fmt: skip
            return
    payload, why = _decompress(body, http.get_header("Content-Encoding") or "")
    if payload is None:
        reason = "truncated_record" if why.startswith("truncated") else "malformed_record"
        yield _item(rel, row, None, reason=reason, detail=f"{why} ({url})", raw=body[:RAW_KEEP])
        return
    if not mime and not re.match(rb"\s*(<!doctype html|<html)", payload[:1024], re.I):
        yield _item(rel, row, None, reason="not_html", detail=f"no Content-Type and no HTML start at {url}")
        return
    charset = re.search(r"charset\s*=\s*([-\w.:]+)", content_type, re.I)
    html, enc = decode(payload, charset.group(1) if charset else None)
    if html is None:
        yield _item(rel, row, None, reason="undecodable_bytes", detail=f"{enc} ({url})", raw=payload[:RAW_KEEP])
        return
    obj = {"url": url, "fetched_at": warc.get_header("WARC-Date"), "http_status": status,
           "content_type": mime or "text/html", "charset": enc,
           **page_document(html, list(http.headers), config)}  # fmt: skip
    yield _item(rel, row, None, obj=obj)


def warc_items(path: Path, rel: str, config: ExtractConfig, skipped: Counter[str]) -> Iterator[dict[str, Any]]:
    """Every response record of a WARC/ARC file as an item (see the module docstring)."""
    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    row = 0
    resume_at = 0  # records already read when a non-chunked gzip file is read again as one stream
    single_stream = False
    while True:
        end = 0
        with path.open("rb") as raw_fh:
            fh: Any = gzip.open(raw_fh) if single_stream else raw_fh
            it = ArchiveIterator(fh, arc2warc=True, block_size=64 * 1024)
            try:
                for index, record in enumerate(it):
                    if index < resume_at:
                        continue
                    if record.rec_type != "response":
                        skipped[f"warc:{record.rec_type}"] += 1
                        it.read_to_end(record)
                        end = it.get_record_offset() + it.get_record_length()
                        row += 1
                        continue
                    items = list(_response(record, rel, row, config))
                    it.read_to_end(record)
                    offset = it.get_record_offset()
                    end = offset + it.get_record_length()
                    for item in items:
                        item["byte_offset"] = offset
                        if item["obj"] is not None:  # a file offset only where records are gzip members
                            item["obj"]["warc_offset"] = None if single_stream else offset
                        if single_stream:
                            item["detail"] += " (offset in the decompressed stream: one gzip member for the file)"
                        yield item
                    row += 1
                size = path.stat().st_size
                raw_fh.seek(end)
                tail = raw_fh.read(64) if size - end <= 64 else b"x"
                if not single_stream and tail.strip():  # warcio stops quietly at a cut gzip member
                    yield _item(rel, row, end, reason="malformed_record",
                                detail=f"cannot read past offset {end}: {size - end} trailing bytes hold no "
                                       "complete record (a cut file?)")  # fmt: skip
                return
            except ArchiveLoadFailed as exc:
                message = " ".join(str(exc).split())
                if "non-chunked gzip" in message and not single_stream:
                    # a valid WARC gzipped as one stream, not per record: read it again, decompressed
                    single_stream, resume_at = True, row
                    continue
                yield _item(rel, row, end, reason="malformed_record",
                            detail=f"cannot read past offset {end}: {message[:300]}")  # fmt: skip
                return
            except Exception as exc:  # the parser's own faults (a header it cannot split...): never lose the rest silently
                yield _item(rel, row, end, reason="malformed_record",
                            detail=f"cannot read past offset {end}: {type(exc).__name__}: {exc}")  # fmt: skip
                return


def html_items(path: Path, rel: str, config: ExtractConfig) -> Iterator[dict[str, Any]]:
    """One page per .html / .html.gz file; its URL from <link rel=canonical> when present."""
    name = path.name.lower()
    if not name.endswith((".html", ".htm", ".html.gz", ".htm.gz", ".xhtml")):
        yield _item(rel, 0, None, reason="not_html", detail=f"{path.name} is not an .html or .html.gz file")
        return
    data = gzip.decompress(path.read_bytes()) if name.endswith(".gz") else path.read_bytes()
    if len(data) > MAX_PAYLOAD:
        yield _item(rel, 0, None, reason="oversize_record", detail=f"{len(data)} bytes > {MAX_PAYLOAD}")
        return
    html, enc = decode(data, None)
    if html is None:
        yield _item(rel, 0, None, reason="undecodable_bytes", detail=enc, raw=data[:RAW_KEEP])
        return
    link = _CANONICAL.search(html[:262_144])
    href = _HREF.search(link.group(0)) if link else None
    obj = {"url": href.group(1) if href else None, "fetched_at": None, "http_status": None,
           "content_type": "text/html", "charset": enc, "warc_offset": None,
           **page_document(html, [], config)}  # fmt: skip
    yield _item(rel, 0, None, obj=obj)
