"""TDM reservations found at ingest are ledger rows (action "flag"), counted nowhere as removed or
changed; the EU AI Act summary and the Art. 10 record count them per source and host from the
ledger, and `lineage trace` shows each with its evidence. A real Dagster run of a WARC source,
checked against what the WARC file itself says (read here with warcio, not with curaline)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
import yaml
from click.testing import CliRunner
from tests_support import prose, spec

from curaline.project import Project
from curaline.web.warcfile import Record, http_response, write_warc

DATE = "2024-01-08T10:00:00Z"
CRAWL = {"crawler": "test", "user_agent": "test/1.0", "respects_robots_txt": True, "tdm_opt_out": "ignored",
         "period_start": "2024-01-01", "period_end": "2024-01-31"}  # fmt: skip
#: each signal curaline detects, as (HTTP headers, <head> markup); None: a page with no reservation
SIGNALS = [
    ([("tdm-reservation", "1"), ("tdm-policy", "https://{host}/tdm.json")], ""),
    ([], '<meta name="tdm-reservation" content="1">'),
    ([("X-Robots-Tag", "googlebot: noai")], ""),
    ([], '<meta name="robots" content="index, noimageai">'),
    ([("tdm-reservation", "0")], ""),  # explicitly not reserved
    None,
]
#: host -> pages; blocked.example is on the URL blocklist (its pages are removed by url_filtered)
HOSTS = {"news.example": 7, "blog.example": 5, "shop.example": 3, "blocked.example": 4}


def _page(title: str, seed: int, head: str) -> bytes:
    body = "".join(f"<p>{prose(seed * 10 + i, 60)}</p>" for i in range(3))
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>{head}</head><body>"
            f"<nav><a href='/'>Home</a> <a href='/about'>About</a></nav><article><h1>{title}</h1>{body}</article>"
            "<footer>(c) the site</footer></body></html>").encode()  # fmt: skip


def write_crawl(path: Path) -> None:
    records, n = [], 0
    for host, pages in HOSTS.items():
        for i in range(pages):
            signal = SIGNALS[(n + i) % len(SIGNALS)]
            headers, head = [("Content-Type", "text/html; charset=utf-8")], ""
            if signal is not None:
                headers += [(k, v.format(host=host)) for k, v in signal[0]]
                head = signal[1]
            records.append(
                Record(f"https://{host}/p{i}", DATE, http_response(200, headers, _page(f"{host} {i}", n + i, head)))
            )
        n += pages
    records.append(
        Record("https://news.example/gone", DATE, http_response(404, [("Content-Type", "text/html")], b"<html/>"))
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        write_warc(fh, records)


def reserved_in_file(path: Path) -> dict[str, str]:
    """url -> host of every 200 HTML response that reserves TDM, read straight from the WARC file."""
    from warcio.archiveiterator import ArchiveIterator

    out = {}
    with path.open("rb") as fh:
        for rec in ArchiveIterator(fh):
            if rec.rec_type != "response" or rec.http_headers.get_statuscode() != "200":
                continue
            url = rec.rec_headers.get_header("WARC-Target-URI")
            h = {k.lower(): v for k, v in rec.http_headers.headers}
            html = rec.content_stream().read().decode()
            head = html.split("</head>", 1)[0]
            if (h.get("tdm-reservation") == "1" or "noai" in h.get("x-robots-tag", "")
                    or '<meta name="tdm-reservation" content="1">' in head
                    or ('name="robots"' in head and ("noai" in head or "noimageai" in head))):  # fmt: skip
                out[url] = url.split("/")[2]
    return out


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("tdm") / "proj"
    for d in ("sources", "releases", "lists"):
        (root / d).mkdir(parents=True)
    write_crawl(root / "corpus" / "crawl.warc.gz")
    (root / "sources" / "crawl.yaml").write_text(yaml.safe_dump({
        "id": "crawl", "location": "../corpus/crawl.warc.gz", "format": "warc", "kind": "document",
        "license": "CC-BY-4.0", "obtained": "web-crawl", "crawl": CRAWL, "languages": ["en"]}))  # fmt: skip
    (root / "lists" / "blocked.txt").write_text("blocked.example\n")
    (root / "curaline.yaml").write_text(
        yaml.safe_dump({"stages": {"url_filtered": {"domains": ["lists/blocked.txt"]}}})
    )
    for use in ("commercial", "research"):  # the crawl ignores opt-outs: only the commercial gate removes
        (root / "releases" / f"{use}.yaml").write_text(
            yaml.safe_dump({**spec(use, ["crawl"], {"crawl": 1.0}), "use": use})
        )
    mp = pytest.MonkeyPatch()
    mp.setenv("DAGSTER_HOME", str(root / ".dagster"))
    mp.setenv("CURALINE_PROJECT", str(root))
    from curaline.cli import run_pipeline

    project = Project.at(root)
    try:
        assert run_pipeline(project, echo=lambda _: None)
        yield project, reserved_in_file(root / "corpus" / "crawl.warc.gz")
    finally:
        mp.undo()


def ledger_rows(project: Project, where: str) -> list[tuple]:
    with duckdb.connect() as con:
        return con.sql(f"SELECT doc_id, stage, action, reason, detail FROM read_parquet("
                       f"'{project.lineage_dir}/ledger/**/*.parquet', hive_partitioning = false) WHERE {where}").fetchall()  # fmt: skip


def test_every_reservation_found_is_a_flag_row_of_the_ingest(crawled) -> None:
    project, reserved = crawled
    assert len(reserved) == 13 and set(reserved.values()) == set(HOSTS)  # every host has reserved pages
    raw = pq.read_table(project.stage_path("raw_records", "crawl"), columns=["doc_id", "url"]).to_pylist()
    url_of = {r["doc_id"]: r["url"] for r in raw}
    flags = ledger_rows(project, "action = 'flag'")
    assert {url_of[d] for d, *_ in flags} == set(reserved) and len(flags) == len(reserved)
    assert {(stage, reason) for _, stage, _, reason, _ in flags} == {("raw_records", "tdm_reserved")}
    details = {url_of[d]: detail for d, *_, detail in flags}
    assert details["https://news.example/p0"] == ("host=news.example; header:tdm-reservation=1; "
                                                  "policy=https://news.example/tdm.json")  # fmt: skip
    assert details["https://news.example/p2"] == "host=news.example; header:x-robots-tag=noai"
    # a flag removes nothing: every page but the blocked host's reaches normalized
    normalized = pq.read_table(project.stage_path("normalized", "crawl"), columns=["url"])["url"].to_pylist()
    assert sorted(normalized) == sorted(u for u in url_of.values() if "blocked.example" not in u)
    # ... and is counted nowhere as removed or changed
    from curaline.lineage.queries import ledger_counts

    with duckdb.connect() as con:
        counts = ledger_counts(project, con)["crawl"]
    assert counts["raw_records"] == {"removed": 0, "changed": 0}
    assert counts["url_filtered"]["removed"] == HOSTS["blocked.example"]
    res = CliRunner().invoke(_main(), ["lineage", "sources", "--json", "--project", str(project.root)])
    assert res.exit_code == 0, res.output
    [row] = [r for r in json.loads(res.output) if r["source"] == "crawl"]
    assert "raw_records" not in row["removed_by_stage"] and "raw_records" not in row["changed_by_stage"]
    assert row["read"] == sum(HOSTS.values()) + 1 and row["quarantined"] == 1  # the 404: flags are no removal


def _main():
    from curaline.cli import main

    return main


def _expected(reserved: dict[str, str], use: str) -> dict[str, dict[str, int]]:
    """host -> counts, computed from the WARC file: blocked.example's pages are removed by the URL
    filter; the rest by the gate of a commercial release, by nothing in a research one."""
    out: dict[str, dict[str, int]] = {}
    for host, n in Counter(reserved.values()).items():
        blocked = host == "blocked.example"
        gate = 0 if blocked or use == "research" else n
        out[host] = {"found": n, "removed": gate, "removed_otherwise": n if blocked else 0,
                     "not_removed": n - gate - (n if blocked else 0)}  # fmt: skip
    return out


@pytest.mark.parametrize("use", ["commercial", "research"])
def test_the_eu_summary_and_art10_count_them_from_the_ledger(crawled, use: str) -> None:
    project, reserved = crawled
    expected = _expected(reserved, use)
    runner = CliRunner()
    eu = runner.invoke(_main(), ["report", "eu-ai-act", use, "--json", "--project", str(project.root)])
    art10 = runner.invoke(_main(), ["report", "art10", use, "--json", "--project", str(project.root)])
    assert eu.exit_code == 0 and art10.exit_code == 0, eu.output + art10.output
    for res in (json.loads(eu.output)["sections"]["3.1"]["fields"]["reservations"],
                json.loads(art10.output)["points"]["g"]["fields"]["tdm_reservations"]):  # fmt: skip
        [src] = res["by_source"]
        assert src["source"] == "crawl" and res["not_checked"] == []
        hosts = {h["host"]: {k: h[k] for k in ("found", "removed", "removed_otherwise", "not_removed")}
                 for h in src["top_hosts"]}  # fmt: skip
        assert hosts == expected
        for key in ("found", "removed", "removed_otherwise", "not_removed"):
            assert res[key] == src[key] == sum(e[key] for e in expected.values())
        assert [h["host"] for h in src["top_hosts"]] == sorted(expected, key=lambda h: (-expected[h]["found"], h))
    # the gate's removals are the release's ledger rows, and what it released holds none of them
    released = {
        d
        for (d,) in duckdb.sql(
            f"SELECT doc_id FROM read_parquet('{project.data_dir}/releases/{use}/**/*.parquet')"
        ).fetchall()
    }
    flagged = {d for d, *_ in ledger_rows(project, "action = 'flag'")}
    gate = {
        d for d, *_ in ledger_rows(project, f"stage = 'release' AND partition = '{use}' AND reason = 'tdm_reserved'")
    }
    assert len(gate) == sum(e["removed"] for e in expected.values()) and gate <= flagged
    assert not released & gate and len(released & flagged) == sum(e["not_removed"] for e in expected.values())
    md = runner.invoke(_main(), ["report", "eu-ai-act", use, "--project", str(project.root)])
    total = sum(e["found"] for e in expected.values())
    assert md.exit_code == 0 and f"{total} found in the release's web sources" in md.output


def test_lineage_trace_shows_the_reservation_and_its_evidence(crawled) -> None:
    project, _ = crawled
    raw = pq.read_table(project.stage_path("raw_records", "crawl"), columns=["doc_id", "url"]).to_pylist()
    doc = next(r["doc_id"] for r in raw if r["url"] == "https://blog.example/p0")  # n=7: the meta signal
    res = CliRunner().invoke(_main(), ["lineage", "trace", doc, "--json", "--project", str(project.root)])
    assert res.exit_code == 0, res.output
    t = json.loads(res.output)
    stages = {s["stage"]: s for s in t["stages"]}
    assert stages["raw_records"]["status"] == "flagged"
    [event] = stages["raw_records"]["events"]
    assert (event["action"], event["reason"], event["detail"]) == (
        "flag",
        "tdm_reserved",
        "host=blog.example; meta:tdm-reservation=1",
    )
    assert stages["normalized"]["status"] == "kept"
    gate = [e for e in stages["release"]["events"] if e["partition"] == "commercial"]
    assert [(e["action"], e["reason"], e["detail"]) for e in gate] == [
        ("drop", "tdm_reserved", "host=blog.example; meta:tdm-reservation=1")
    ]
    assert {r["release"] for r in t["releases"]} == {"research"}  # the crawl ignores opt-outs: research keeps it
    text = CliRunner().invoke(_main(), ["lineage", "trace", doc, "--project", str(project.root)]).output
    assert "flag tdm_reserved (host=blog.example; meta:tdm-reservation=1)" in text


def test_editing_a_url_list_shows_the_stage_changed_in_dvc(crawled) -> None:
    """The lists curaline.yaml names are deps of the step that runs url_filtered: `dvc status`
    (the real DVC, in the git repository `curaline run` made) names the edited list, and is clean
    again once the list is back as it was."""
    import subprocess
    import sys

    project, _ = crawled
    dvc = str(Path(sys.executable).parent / "dvc")
    stage = "source_records@crawl"

    def status() -> dict:
        proc = subprocess.run([dvc, "status", "--json", stage], cwd=project.root, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout or "{}")

    deps = yaml.safe_load((project.root / "dvc.yaml").read_text())["stages"]["source_records"]["do"]["deps"]
    assert "lists/blocked.txt" in deps
    assert status() == {}
    lst = project.root / "lists" / "blocked.txt"
    before = lst.read_bytes()
    try:
        lst.write_bytes(before + b"shop.example\n")
        assert status() == {stage: [{"changed deps": {"lists/blocked.txt": "modified"}}]}
    finally:
        lst.write_bytes(before)
    assert status() == {}
