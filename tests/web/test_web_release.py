"""TDM reservations at the release gate: kept out of commercial/internal releases always, and out
of research releases when the crawl honours opt-outs; counted per source and host for the reports."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from curaline.project import Project
from curaline.records import make_doc_id, position_key
from curaline.release.build import build_release
from curaline.release.spec import load_spec
from curaline.reports.eu_ai_act import reservations, reservations_md
from curaline.reports.release_data import NOT_KNOWN
from curaline.sources import load_manifests

WORDS = "river stone garden bridge market lantern harbour meadow orchard valley".split()
#: (url, reserved, evidence) of the crafted pages
PAGES = [
    ("https://news.example/a", True, "header:tdm-reservation=1"),
    ("https://news.example/b", True, "meta:robots=noai"),
    ("https://blog.example/c", True, "meta:tdm-reservation=1"),
    ("https://blog.example/d", False, None),
    ("https://shop.example/e", False, "header:tdm-reservation=0"),
    ("https://shop.example/f", False, None),
]


def crawl_source(root: Path, sid: str, tdm_opt_out: str) -> list[str]:
    """A warc source's manifest plus a crafted `decontaminated` output, as the pipeline writes it."""
    manifest = {"id": sid, "location": f"../corpus/{sid}.warc.gz", "format": "warc", "kind": "document",
                "license": "CC-BY-4.0", "obtained": "web-crawl", "domain": "web",
                "crawl": {"crawler": "c", "user_agent": "c/1", "respects_robots_txt": True, "tdm_opt_out": tdm_opt_out,
                          "period_start": "2024-01-01", "period_end": "2024-01-31"}}  # fmt: skip
    (root / "sources").mkdir(parents=True, exist_ok=True)
    (root / "corpus").mkdir(exist_ok=True)
    (root / "sources" / f"{sid}.yaml").write_text(yaml.safe_dump(manifest))
    n = len(PAGES)
    ids = [make_doc_id(sid, position_key(f"{sid}.warc.gz", i)) for i in range(n)]
    cols = {
        "doc_id": ids, "source_id": [sid] * n, "license": ["CC-BY-4.0"] * n, "content_hash": ["0" * 32] * n,
        "language": ["en"] * n, "lang_score": [0.95] * n, "toxicity": [0.0] * n, "pii_total": [0] * n,
        "text": [" ".join(f"{w}{i}" for w in WORDS) + "." for i in range(n)], "q_word_count": [10.0] * n,
        "url": [u for u, _, _ in PAGES], "tdm_reserved": [r for _, r, _ in PAGES],
        "tdm_evidence": [e for _, _, e in PAGES],
    }  # fmt: skip
    path = root / "data" / "decontaminated" / f"{sid}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(cols), path)
    return ids


def build(root: Path, use: str):
    spec = {"name": f"r-{use}", "description": "t", "use": use, "sources": "all", "languages": ["en"],
            "quality": "default", "dedup": True, "decontaminate": True, "mix": {"by": "domain", "weights": {"web": 1.0}},
            "splits": {"train": 0.8, "validation": 0.1, "test": 0.1, "seed": 1}}  # fmt: skip
    (root / "releases").mkdir(exist_ok=True)
    path = root / "releases" / f"r-{use}.yaml"
    path.write_text(yaml.safe_dump(spec))
    manifests, problems = load_manifests(root / "sources", strict=False)
    assert not problems
    return build_release(Project.at(root), load_spec(path, manifests), manifests)


@pytest.mark.parametrize(("use", "opt_out", "removed"), [
    ("commercial", "ignored", 3), ("internal", "ignored", 3), ("commercial", "honoured", 3),
    ("research", "honoured", 3), ("research", "ignored", 0),
])  # fmt: skip
def test_reserved_pages_are_kept_out_where_the_law_or_the_manifest_says(tmp_path: Path, use: str, opt_out: str,
                                                                       removed: int) -> None:  # fmt: skip
    ids = crawl_source(tmp_path, "crawl", opt_out)
    b = build(tmp_path, use)
    assert not b.blocked
    released = set(b.records["doc_id"].to_pylist())
    reserved = {ids[i] for i, (_, r, _) in enumerate(PAGES) if r}
    assert (released & reserved) == (set() if removed else reserved)
    assert released >= {ids[i] for i, (_, r, _) in enumerate(PAGES) if not r}
    events = [e for e in b.events.to_pylist() if e["reason"] == "tdm_reserved"]  # written to the ledger
    assert len(events) == removed
    if removed:
        details = {e["doc_id"]: e["detail"] for e in events}
        assert details[ids[0]] == "host=news.example; header:tdm-reservation=1"
        assert details[ids[1]] == "host=news.example; meta:robots=noai"
    summary = b.manifest["tdm_reservations"]
    assert summary["found"] == 3 and summary["removed"] == removed
    hosts = summary["by_source"]["crawl"]["hosts"]
    assert hosts == {"news.example": {"found": 2, "removed": 2 if removed else 0},
                     "blog.example": {"found": 1, "removed": 1 if removed else 0}}  # fmt: skip
    assert b.manifest["sources"][0]["removed"].get("tdm_reserved", 0) == removed


def test_reports_count_from_the_ledger_and_say_what_they_cannot(tmp_path: Path) -> None:
    """The reports' counts come from the ingest's flag rows (here written as the shard runner writes
    them) and the release's ledger; a web source whose ingest ledger predates the flags is listed as
    not checked, and with no countable source at all the count is not known."""
    import datetime as dt

    from curaline.ledger import ledger_path, ledger_table, write_ledger
    from curaline.release.versions import publish
    from curaline.reports.release_data import load_release
    from curaline.store import write_parquet
    from curaline.web.rights import reservation_events

    for sid, opt in (("crawl", "honoured"), ("other", "ignored")):
        crawl_source(tmp_path, sid, opt)
    b = build(tmp_path, "research")
    project = Project.at(tmp_path)
    manifest = publish(project, b, versioning=False).manifest
    created = dt.datetime.fromisoformat(manifest["created_at"].replace("Z", "+00:00"))
    write_ledger(project, b.events, stage="release", partition="r-research", run_id="rel",
                 at=created + dt.timedelta(seconds=1))  # fmt: skip
    before = created - dt.timedelta(minutes=1)

    def ingest_ledger(sid: str, checked: bool) -> None:
        table = pq.read_table(tmp_path / "data" / "decontaminated" / f"{sid}.parquet")
        ledger = ledger_table(reservation_events(table), stage="raw_records", partition=sid, run_id="ing", at=before,
                              **({"checks": ["tdm_reserved"]} if checked else {}))  # fmt: skip
        write_parquet(ledger_path(project, "raw_records", sid, "ing", before), ledger, ledger.schema)

    assert reservations(load_release(project, "r-research")) == NOT_KNOWN  # no ingest ledger at all
    ingest_ledger("crawl", checked=True)
    ingest_ledger("other", checked=False)  # written before the flags: found nothing, proves nothing
    res = reservations(load_release(project, "r-research"))
    assert isinstance(res, dict)
    assert (res["found"], res["removed"], res["removed_otherwise"], res["not_removed"]) == (3, 3, 0, 0)
    assert res["not_checked"] == [{"source": "other", "why": "its ingest ledger predates reservation flags (rerun it)"}]
    [crawl] = res["by_source"]
    assert [(h["host"], h["found"], h["removed"]) for h in crawl["top_hosts"]] == [("news.example", 2, 2),
                                                                                  ("blog.example", 1, 1)]  # fmt: skip
    text = reservations_md(res)
    assert "3 found in the release's web sources, 3 removed by the release's gate" in text
    assert "news.example (2/2)" in text and "Not checked for reservations: other (its ingest ledger predates" in text
