"""A WARC source through the real Dagster pipeline: raw records pass the web model, the
normalized stage holds the extracted text with its url, damaged records sit in quarantine."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml
from tests_support import make_project

from curaline.project import Project

from .test_web_ingest import CRAWL, crawl_file


def sql_ledger(project: Project, stage: str) -> dict[str, tuple[str, str]]:
    import duckdb

    with duckdb.connect() as con:
        rows = con.execute(f"SELECT doc_id, reason, detail FROM read_parquet('{project.lineage_dir}/ledger/**/*.parquet', "
                           "hive_partitioning=false) WHERE stage = ? AND action = 'drop'", [stage]).fetchall()  # fmt: skip
    return {d: (r, x) for d, r, x in rows}



@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    proj = make_project(tmp_path / "proj")
    crawl_file(proj.root / "corpus" / "crawl.warc.gz")
    (proj.root / "sources" / "crawl.yaml").write_text(yaml.safe_dump({
        "id": "crawl", "location": "../corpus/crawl.warc.gz", "format": "warc", "kind": "document",
        "license": "CC-BY-4.0", "obtained": "web-crawl", "crawl": CRAWL, "extract": {"extractor": "cascade"}}))  # fmt: skip
    # URL filters: a plain domain list and a UT1 category; the allow-list rescues one blocked host
    (proj.root / "lists" / "ut1" / "phishing").mkdir(parents=True)
    (proj.root / "lists" / "blocked-sites.txt").write_text("# sites we do not train on\nc.example\nd.example\n")
    (proj.root / "lists" / "ut1" / "phishing" / "domains").write_text("e.example\n")
    (proj.root / "lists" / "allow.txt").write_text("d.example\n")
    (proj.root / "curaline.yaml").write_text(yaml.safe_dump({"stages": {"url_filtered": {
        "domains": ["lists/blocked-sites.txt"], "ut1": ["lists/ut1"], "allow": ["lists/allow.txt"]}}}))
    proj = Project.at(proj.root)
    monkeypatch.setenv("DAGSTER_HOME", str(proj.dagster_home))
    monkeypatch.setenv("CURALINE_PROJECT", str(proj.root))
    return proj


def test_warc_source_runs_through_the_pipeline(project: Project) -> None:
    from curaline.cli import ingest_summary, run_pipeline

    assert run_pipeline(project, echo=lambda _: None)
    summary = {r["source"]: r for r in ingest_summary(project)}["crawl"]
    assert summary["read"] == 16 and summary["quarantined"] == 8  # 8 pages; later stages may drop some
    normalized = pq.read_table(project.stage_path("normalized", "crawl")).to_pylist()
    assert len(normalized) == 6  # c.example and e.example filtered; d.example allow-listed
    drops = sql_ledger(project, "url_filtered")
    assert sorted(drops.values()) == [("url_blocklist:blocked-sites", "blocked-sites=c.example"),
                                      ("url_blocklist:ut1/phishing", "ut1/phishing=e.example")]  # fmt: skip
    assert len(pq.read_table(project.stage_path("url_filtered", "notes"))) == 20  # no URLs: all pass
    urls = {r["url"]: r for r in normalized}
    assert "https://d.example/noai" in urls and "https://c.example/meta" not in urls
    assert "https://a.example/ok" in urls and "Plain page paragraph 1" in urls["https://a.example/ok"]["text"]
    assert all(r["http_status"] == 200 and r["fetched_at"] for r in normalized)  # web columns travel along
    assert urls["https://b.example/tdm"]["tdm_reserved"] is True
    import dagster as dg

    with dg.DagsterInstance.get() as instance:  # the operator sees which extractor made the pages' text
        meta = [r.asset_materialization.metadata for r in instance.fetch_materializations(dg.AssetKey("raw_records"),
                limit=10).records if r.asset_materialization.partition == "crawl"][0]  # fmt: skip
    by_extractor = {row.data["extractor"]: row.data["count"] for row in meta["pages_by_extractor"].value.records}
    assert sum(by_extractor.values()) == 8 and set(by_extractor) <= {"resiliparse", "trafilatura"}
    quarantine = pq.read_table(project.stage_path("quarantined_records", "crawl")).to_pylist()
    assert {r["reason"] for r in quarantine} >= {"http_status", "not_html", "truncated_record", "malformed_record"}
