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


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    proj = make_project(tmp_path / "proj")
    crawl_file(proj.root / "corpus" / "crawl.warc.gz")
    (proj.root / "sources" / "crawl.yaml").write_text(yaml.safe_dump({
        "id": "crawl", "location": "../corpus/crawl.warc.gz", "format": "warc", "kind": "document",
        "license": "CC-BY-4.0", "obtained": "web-crawl", "crawl": CRAWL, "extract": {"extractor": "cascade"}}))  # fmt: skip
    monkeypatch.setenv("DAGSTER_HOME", str(proj.dagster_home))
    monkeypatch.setenv("CURALINE_PROJECT", str(proj.root))
    return proj


def test_warc_source_runs_through_the_pipeline(project: Project) -> None:
    from curaline.cli import ingest_summary, run_pipeline

    assert run_pipeline(project, echo=lambda _: None)
    summary = {r["source"]: r for r in ingest_summary(project)}["crawl"]
    assert summary["read"] == 16 and summary["quarantined"] == 8  # 8 pages; later stages may drop some
    normalized = pq.read_table(project.stage_path("normalized", "crawl")).to_pylist()
    assert len(normalized) == 8
    urls = {r["url"]: r for r in normalized}
    assert "https://a.example/ok" in urls and "Plain page paragraph 1" in urls["https://a.example/ok"]["text"]
    assert all(r["http_status"] == 200 and r["fetched_at"] for r in normalized)  # web columns travel along
    assert urls["https://b.example/tdm"]["tdm_reserved"] is True
    quarantine = pq.read_table(project.stage_path("quarantined_records", "crawl")).to_pylist()
    assert {r["reason"] for r in quarantine} >= {"http_status", "not_html", "truncated_record", "malformed_record"}
