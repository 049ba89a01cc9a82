"""WARC and HTML sources: every record read or quarantined as it deserves, with its columns."""

from __future__ import annotations

import gzip
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from curaline.ingest import ingest_source, read_source
from curaline.schemas import QuarantineRow, WebDocumentRecord, validate_file
from curaline.sources import ManifestError, parse_manifest
from curaline.web.warcfile import Record, http_response, warcinfo, write_warc

CRAWL = {"crawler": "test", "user_agent": "test/1.0", "respects_robots_txt": True, "tdm_opt_out": "honoured",
         "period_start": "2024-01-01", "period_end": "2024-01-31"}  # fmt: skip
DATE = "2024-01-08T10:00:00Z"


def manifest(folder: Path, location: str, fmt: str = "warc", sid: str = "crawl", **extra: object):
    data = {"id": sid, "location": location, "format": fmt, "kind": "document", "license": "CC-BY-4.0",
            "obtained": "web-crawl", "crawl": CRAWL, **extra}  # fmt: skip
    path = folder / f"{sid}.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return parse_manifest(path)


def page(title: str, paragraphs: int = 4, head: str = "") -> bytes:
    body = "".join(f"<p>{title} paragraph {i}: the village library reopened its reading room after a long "
                   f"winter of repairs, and neighbours came to borrow books again.</p>" for i in range(paragraphs))  # fmt: skip
    return (f"<!doctype html><html><head><title>{title}</title>{head}</head><body><nav><a href='/'>Home</a>"
            f"</nav><article><h1>{title}</h1>{body}</article><footer>(c) site</footer></body></html>").encode()


# ---- the real files in ../shared/data/warc-samples (warcio's own test data) ----------

#: file -> (documents, quarantine reasons): what each real file deserves
SAMPLES = {
    "example.warc": (1, {}),  # WARC/1.0, gzip Content-Encoding payload
    "example.warc.gz": (1, {}),  # one gzip member per record
    "example.arc": (1, {}),  # ARC, read through warcio's arc2warc
    "example.arc.gz": (1, {}),
    "example-iana.org-chunked.warc": (1, {}),  # chunked transfer coding undone
    "example-space-in-url.arc": (1, {}),  # spaces in the URL: %20-escaped, kept
    "example-wget-bad-target-uri.warc.gz": (1, {}),  # <...> around the URI (wget): stripped
    "example-bad-non-chunked.warc.gz": (1, {}),  # valid WARC in one gzip stream: read decompressed
    "example-bad.warc.gz.bad": (1, {"http_status": 1}),  # one stream too; a 302 response
    "example-trunc.warc": (0, {"truncated_record": 1}),  # the gzip payload is cut 2 bytes short
    "example-wrong-chunks.warc.gz": (0, {"truncated_record": 1, "malformed_record": 1}),  # wrong lengths
    "bad.arc": (0, {"malformed_record": 3}),  # ARC records without an HTTP response
    "post-test.warc.gz": (0, {"not_html": 3}),  # JSON responses
    "example-digest.warc": (0, {}),  # request records only: nothing to read
    "example-resource.warc.gz": (0, {}),  # a resource record, not a response
    "example-space-in-target-uri.warc.gz": (0, {}),
}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_real_warc_and_arc_files_are_read_or_quarantined(shared_data: Path, tmp_path: Path, name: str) -> None:
    import shutil

    shutil.copy(shared_data / "warc-samples" / name, tmp_path / name)  # sources resolve inside the project
    m = manifest(tmp_path, name, sid="sample")
    records, quarantine, stats = read_source(m)
    documents, reasons = SAMPLES[name]
    assert records.num_rows == documents
    assert dict(Counter(quarantine["reason"].to_pylist())) == reasons
    assert stats.balanced and stats.read == documents + sum(reasons.values())
    assert all(o is not None for o in quarantine["byte_offset"].to_pylist())  # where to look in the file
    for row in records.to_pylist():
        assert row["http_status"] == 200 and row["url"].startswith("http")
        assert row["fetched_at"][:2] in ("20",) and row["charset"]
        assert "illustrative examples" in row["text"] or "DNS Root" in row["text"]  # the body, not the title
    if name == "example.warc.gz":
        assert records["warc_offset"].to_pylist() == [784]  # the gzip member of the response record
    if name == "example-space-in-url.arc":
        assert "%20From%20The%20Live%20Web" in records["url"][0].as_py()
    if name == "example-trunc.warc":
        assert quarantine["byte_offset"].to_pylist() == [1197]


# ---- a generated WARC/1.1 file with every case --------------------------------------


def crawl_file(path: Path) -> None:
    cases = [
        Record("https://a.example/ok", DATE, http_response(200, [("Content-Type", "text/html; charset=utf-8")], page("Plain page"))),
        Record("https://b.example/tdm", DATE, http_response(200, [("Content-Type", "text/html"), ("tdm-reservation", "1"),
                                                                   ("tdm-policy", "https://b.example/policy.json")], page("Reserved by header"))),
        Record("https://c.example/meta", DATE, http_response(200, [("Content-Type", "text/html")], page(
            "Reserved by meta", head='<meta name="tdm-reservation" content="1"><meta name="tdm-policy" content="https://c.example/p">'))),
        Record("https://d.example/noai", DATE, http_response(200, [("Content-Type", "text/html"), ("X-Robots-Tag", "googlebot: noai, noimageai")],
                                                             page("No AI header"))),
        Record("https://e.example/robots", DATE, http_response(200, [("Content-Type", "text/html")], page(
            "Robots meta", head='<meta name="robots" content="index, noimageai">'))),
        Record("https://f.example/zero", DATE, http_response(200, [("Content-Type", "text/html"), ("tdm-reservation", "0")], page("Not reserved"))),
        Record("https://g.example/latin", DATE, http_response(200, [("Content-Type", "text/html; charset=iso-8859-1")],
                                                              page("Caf\u00e9 cr\u00e8me").decode().encode("latin-1"))),
        Record("https://h.example/gz", DATE, http_response(200, [("Content-Type", "text/html"), ("Content-Encoding", "gzip")],
                                                           gzip.compress(page("Compressed page"), mtime=0))),
        Record("https://i.example/missing", DATE, http_response(404, [("Content-Type", "text/html")], b"<html>gone</html>")),
        Record("https://j.example/logo.png", DATE, http_response(200, [("Content-Type", "image/png")], b"\x89PNG\r\n\x1a\n" + bytes(64))),
        Record("https://k.example/cut", DATE, http_response(200, [("Content-Type", "text/html")], page("Cut page")),
               extra_headers=[("WARC-Truncated", "length")]),
        Record("https://l.example/short", DATE, http_response(200, [("Content-Type", "text/html"), ("Content-Length", "99999")], page("Short page"))),
        Record("https://m.example/binary", DATE, http_response(200, [("Content-Type", "text/html; charset=utf-8")], b"<html>\x00\x01\x02\xff\xfe</html>")),
        Record("https://n.example/chunks", DATE, http_response(200, [("Content-Type", "text/html"), ("Transfer-Encoding", "chunked")],
                                                               b"zz\r\n<html></html>\r\n0\r\n\r\n")),
        Record("https://o.example/nostatus", DATE, b"this is not an HTTP response\r\n\r\n<html></html>"),
        Record("https://p.example/empty", DATE, http_response(200, [("Content-Type", "text/html")], b"<html><body></body></html>")),
        Record("https://q.example/req", DATE, b"GET / HTTP/1.1\r\n\r\n", warc_type="request"),
    ]  # fmt: skip
    with path.open("wb") as fh:
        write_warc(fh, [warcinfo("curaline-test", DATE), *cases])


def test_generated_warc_11_every_case(tmp_path: Path) -> None:
    crawl_file(tmp_path / "crawl.warc.gz")
    m = manifest(tmp_path, "crawl.warc.gz")
    out, qout = tmp_path / "records.parquet", tmp_path / "quarantine.parquet"
    stats = ingest_source(m, out, qout)
    assert stats.balanced and stats.skipped == {"warc:warcinfo": 1, "warc:request": 1}
    assert validate_file(out, WebDocumentRecord).passed, validate_file(out, WebDocumentRecord).markdown()
    assert validate_file(qout, QuarantineRow).passed
    rows = {r["url"]: r for r in pq.read_table(out).to_pylist()}
    assert sorted(rows) == [f"https://{c}.example/{p}" for c, p in
                            zip("abcdefgh", ["ok", "tdm", "meta", "noai", "robots", "zero", "latin", "gz"], strict=True)]  # fmt: skip
    reserved = {u: (r["tdm_reserved"], r["tdm_evidence"], r["tdm_policy"]) for u, r in rows.items()}
    assert reserved["https://a.example/ok"] == (False, None, None)
    assert reserved["https://b.example/tdm"] == (True, "header:tdm-reservation=1", "https://b.example/policy.json")
    assert reserved["https://c.example/meta"] == (True, "meta:tdm-reservation=1", "https://c.example/p")
    assert reserved["https://d.example/noai"] == (True, "header:x-robots-tag=noai; header:x-robots-tag=noimageai", None)
    assert reserved["https://e.example/robots"] == (True, "meta:robots=noimageai", None)
    assert reserved["https://f.example/zero"] == (False, "header:tdm-reservation=0", None)
    latin = rows["https://g.example/latin"]
    assert latin["charset"] == "iso8859-1" and "Caf\u00e9 cr\u00e8me paragraph 0" in latin["text"]
    assert "Compressed page paragraph 3" in rows["https://h.example/gz"]["text"]
    ok = rows["https://a.example/ok"]
    assert ok["fetched_at"] == DATE and ok["http_status"] == 200 and ok["content_type"] == "text/html"
    assert "Home" not in ok["text"] and "(c) site" not in ok["text"]  # navigation and footer are not main text
    assert ok["extractor"] in ("resiliparse", "trafilatura")
    q = {r["detail"].split("(")[-1].rstrip(")") if "(" in r["detail"] else r["detail"]: r for r in pq.read_table(qout).to_pylist()}
    reasons = sorted(r["reason"] for r in q.values())
    assert reasons == sorted(["http_status", "not_html", "truncated_record", "truncated_record", "undecodable_bytes",
                              "malformed_record", "malformed_record", "empty_text"])  # fmt: skip
    offsets = [r["byte_offset"] for r in pq.read_table(qout).to_pylist()]
    with (tmp_path / "crawl.warc.gz").open("rb") as fh:  # each offset starts a gzip member holding that record
        for offset in offsets:
            fh.seek(offset)
            assert fh.read(2) == b"\x1f\x8b"


def test_warc_doc_ids_are_stable_positions(tmp_path: Path) -> None:
    crawl_file(tmp_path / "crawl.warc.gz")
    m = manifest(tmp_path, "crawl.warc.gz")
    first = read_source(m)[0]["doc_id"].to_pylist()
    assert first == read_source(m)[0]["doc_id"].to_pylist() and len(set(first)) == len(first)


def test_truncated_file_tail_is_quarantined_with_offset(tmp_path: Path) -> None:
    crawl_file(tmp_path / "full.warc.gz")
    data = (tmp_path / "full.warc.gz").read_bytes()
    (tmp_path / "cut.warc.gz").write_bytes(data[: len(data) - 300])  # the last gzip member is cut
    records, quarantine, stats = read_source(manifest(tmp_path, "cut.warc.gz", sid="cut"))
    assert stats.balanced and records.num_rows == 8
    last = quarantine.to_pylist()[-1]
    assert last["reason"] == "malformed_record" and "cannot read past offset" in last["detail"]


def test_uncompressed_warc_and_extractor_choice(tmp_path: Path) -> None:
    with (tmp_path / "crawl.warc").open("wb") as fh:
        write_warc(fh, [Record("https://a.example/", DATE, http_response(200, [("Content-Type", "text/html")],
                                                                           page("One page")))], gzipped=False)  # fmt: skip
    for extractor in ("trafilatura", "resiliparse", "cascade"):
        m = manifest(tmp_path, "crawl.warc", sid=f"c-{extractor}", extract={"extractor": extractor})
        records, _, _ = read_source(m)
        assert "One page paragraph 2" in records["text"][0].as_py()
        expected = "resiliparse" if extractor == "cascade" else extractor  # a clean page: the fast one is sure
        assert records["extractor"][0].as_py() == expected
        assert m.declaration()["extract"]["extractor"] == extractor  # the settings reach lineage
        assert "versions" in m.declaration()["extract"]


def test_the_score_signal_sends_link_lists_to_trafilatura(tmp_path: Path) -> None:
    """signal: score escalates a page whose Resiliparse text is mostly link titles (a related-posts
    block kept), not a clean article; min_gain moves the line; the settings reach lineage."""
    from curaline.web.extract import ExtractConfig, _resiliparse, extract, gain_score, unsure

    clean = page("Clean article").decode()
    teasers = "".join(f"<div class='teaser'><h3><a href='/p{i}'>Another story about the town council budget {i}</a>"
                      "</h3><span>By Staff Writer</span></div>" for i in range(12))  # fmt: skip
    listy = clean.replace("</article>", f"</article><div><h2>More stories</h2>{teasers}</div>")
    score = ExtractConfig(signal="score")
    assert not unsure(clean, _resiliparse(clean), score)
    assert "Another story about the town council budget 11" in _resiliparse(listy)  # Resiliparse keeps the block
    assert gain_score(listy, _resiliparse(listy)) > gain_score(clean, _resiliparse(clean))
    assert unsure(listy, _resiliparse(listy), score)
    text, used = extract(listy, score)
    assert used == "trafilatura" and "Clean article paragraph 2" in text
    assert not unsure(listy, _resiliparse(listy), ExtractConfig(signal="score", min_gain=1.0))
    assert not unsure(listy, _resiliparse(listy), ExtractConfig(signal="markup"))  # the markup signal does not see it
    text, used = extract(listy, ExtractConfig())  # the default lines signal: unsure about the teaser block
    assert used == "trafilatura" and "Another story" not in text and "Clean article paragraph 2" in text
    assert extract(clean, ExtractConfig())[1] == "resiliparse"
    m = manifest(tmp_path, "crawl.warc.gz", extract={"signal": "score", "min_gain": 0.1})
    assert (m.declaration()["extract"]["signal"], m.declaration()["extract"]["min_gain"]) == ("score", 0.1)


# ---- format: html -------------------------------------------------------------------


def test_html_folder(tmp_path: Path) -> None:
    pages = tmp_path / "pages"
    pages.mkdir()
    (pages / "a.html").write_bytes(page("First page", head='<link rel="canonical" href="https://site.example/a">'))
    (pages / "b.html.gz").write_bytes(gzip.compress(page("Second page", head='<meta name="robots" content="noai">')))
    (pages / "c.html").write_bytes(b"<html>\x00\x00binary</html>")
    (pages / "notes.txt").write_text("not a page")
    (pages / "d.html.gz").write_bytes(b"\x1f\x8b not really gzip")
    m = manifest(tmp_path, "pages", fmt="html", sid="pages")
    records, quarantine, stats = read_source(m)
    assert stats.balanced
    rows = {r["source_file"].removeprefix("pages/"): r for r in records.to_pylist()}
    assert sorted(rows) == ["a.html", "b.html.gz"]
    assert rows["a.html"]["url"] == "https://site.example/a" and not rows["a.html"]["tdm_reserved"]
    assert rows["b.html.gz"]["tdm_reserved"] and rows["b.html.gz"]["tdm_evidence"] == "meta:robots=noai"
    assert rows["b.html.gz"]["http_status"] is None
    got = {r["file"].removeprefix("pages/"): r["reason"] for r in quarantine.to_pylist()}
    assert got == {"c.html": "undecodable_bytes", "notes.txt": "not_html", "d.html.gz": "unreadable_file"}


# ---- manifests ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "field", "message"),
    [
        ({"extract": {"extractor": "boilerpipe"}}, "extract.extractor", "is not allowed"),
        ({"extract": {"speed": 3}}, "extract.speed", "unknown key"),
        ({"extract": {"min_markers": -1}}, "extract.min_markers", "integer >= 0"),
        ({"extract": {"fast": "yes"}}, "extract.fast", "true or false"),
        ({"extract": {"signal": "comments"}}, "extract.signal", "one of lines, markup, score"),
        ({"extract": {"min_gain": 2}}, "extract.min_gain", "a number between -1 and 1"),
        ({"extract": {"min_gain": True}}, "extract.min_gain", "a number between -1 and 1"),
        ({"extract": "cascade"}, "extract", "must be a mapping"),
        ({"fields": {"text": "body"}}, "fields", "fixed layout"),
    ],
)
def test_web_manifest_problems_are_refused(tmp_path: Path, extra: dict, field: str, message: str) -> None:
    with pytest.raises(ManifestError) as err:
        manifest(tmp_path, "x.warc.gz", **extra)
    assert any(p.field == field and message in p.message for p in err.value.problems), str(err.value)


def test_extract_is_refused_outside_web_formats(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="extract: is only for the web formats"):
        manifest(tmp_path, "x.jsonl", fmt="jsonl", extract={"extractor": "trafilatura"})


def test_extraction_settings_reach_the_openlineage_declaration_facet(tmp_path: Path, shared_dir: Path) -> None:
    from openlineage.client.serde import Serde

    from curaline.lineage.custom_facets import CuralineSourceDeclarationDatasetFacet
    from curaline.lineage.validate import EventValidator

    m = manifest(tmp_path, "crawl.warc.gz", extract={"extractor": "cascade", "min_markers": 5})
    facet = Serde.to_dict(CuralineSourceDeclarationDatasetFacet.from_declaration(
        m.declaration(), producer="https://example.org/curaline"))  # fmt: skip
    assert facet["extraction"]["extractor"] == "cascade" and facet["extraction"]["min_markers"] == 5
    assert set(facet["extraction"]["versions"]) == {"resiliparse", "trafilatura"}
    validator = EventValidator(shared_dir / "openlineage-spec" / "spec")
    assert validator.validate_facet("curaline_sourceDeclaration", facet) == []
    assert validator.validate_facet("curaline_sourceDeclaration", {**facet, "extraction": {"min_markers": 5}})
