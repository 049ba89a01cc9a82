"""Every report fact comes from recorded data or reads "not known" (issue 23's list), on one small
release: a URL-less web crawl under CC-BY-NC with a declared crawl period and paywall policy, a
takedown at ingest, a decontamination run against a named evaluation set, upsampled records."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from click.testing import CliRunner
from reports.test_report_copies import IDS, make_small_project, publish_release

from curaline.cli import main
from curaline.kernels.base import EVENT_SCHEMA
from curaline.ledger import write_ledger
from curaline.lineage.store import write_run
from curaline.project import Project
from curaline.records import make_doc_id, own_key
from curaline.reports.art10 import art10_markdown, art10_record
from curaline.reports.card import card_markdown, croissant, croissant_problems
from curaline.reports.eu_ai_act import eu_ai_act_markdown, eu_ai_act_summary
from curaline.reports.release_data import NOT_KNOWN, load_release, unknown_fields
from curaline.sources import load_manifests

N = 20
CRAWL_IDS = [make_doc_id("crawl", own_key(f"c{i}")) for i in range(N)]
CRAWL = {"crawler": "CCBot", "user_agent": "CCBot/2.0", "respects_robots_txt": True, "tdm_opt_out": "honoured",
         "period_start": "2024-03-01", "period_end": "2024-05-31", "paywalls": "not crawled"}  # fmt: skip


def _crawl_source(root: Path) -> None:
    (root / "corpus" / "crawl.jsonl").write_text("")
    (root / "sources" / "crawl.yaml").write_text(yaml.safe_dump({
        "id": "crawl", "location": "../corpus/crawl.jsonl", "format": "jsonl", "kind": "document",
        "license": "CC-BY-NC-4.0", "license_url": "https://creativecommons.org/licenses/by-nc/4.0/", "domain": "web",
        "languages": ["en"], "owner": "data@example.com", "obtained": "web-crawl", "crawl": CRAWL,
        "personal_data": "unknown", "legal_basis": "TDM exception", "fields": {"id": "id"}}))  # fmt: skip
    texts = [" ".join(f"harbour{i} lantern{k} meadow{i * k}" for k in range(15)) + "." for i in range(N)]
    pq.write_table(pa.table({"doc_id": CRAWL_IDS, "source_id": ["crawl"] * N, "license": ["CC-BY-NC-4.0"] * N,
                             "content_hash": ["0" * 32] * N, "language": ["en"] * N, "lang_score": [0.9] * N,
                             "toxicity": [0.0] * N, "pii_total": [0] * N, "text": texts, "q_word_count": [45.0] * N,
                             "url": pa.nulls(N, pa.string())}),
                   root / "data" / "decontaminated" / "crawl.parquet")  # fmt: skip


def _decontam_event(project: Project, eval_set: str) -> None:
    at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    base = {"eventTime": at.isoformat(), "producer": "https://example.com/test",
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/definitions/RunEvent",
            "run": {"runId": str(uuid.uuid4())}, "job": {"namespace": "curaline", "name": "decontaminated"}}  # fmt: skip
    inputs = [{"namespace": "file", "name": str(project.stage_path("deduplicated", "wiki"))},
              {"namespace": "file", "name": str(project.stage_path("pii_redacted", eval_set))}]  # fmt: skip
    write_run(project, [{**base, "eventType": "START"}, {**base, "eventType": "COMPLETE", "inputs": inputs}])


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Project:
    project = make_small_project(tmp_path_factory.mktemp("facts") / "project")
    _crawl_source(project.root)
    spec = yaml.safe_load((project.releases_dir / "research.yaml").read_text())
    spec["mix"] = {"by": "source", "weights": {"wiki": 0.8, "crawl": 0.2}}  # wiki is upsampled
    (project.releases_dir / "research.yaml").write_text(yaml.safe_dump(spec))
    takedown = EVENT_SCHEMA.empty_table().schema
    gone = [make_doc_id("crawl", own_key(f"gone{i}")) for i in range(6)]
    write_ledger(project, pa.table({"doc_id": gone, "action": ["takedown"] * 6, "reason": ["takedown_request"] * 6,
                                    "value": pa.nulls(6, pa.float64()), "threshold": pa.nulls(6, pa.float64()),
                                    "detail": ["td-20240101T000000Z-00000000"] * 6,
                                        "related_doc_id": pa.nulls(6, pa.string())}, schema=takedown),
                 stage="raw_records", partition="crawl", run_id="ingest-1")  # fmt: skip
    _decontam_event(project, "exam")
    assert publish_release(project)["version"] == 1
    return project


def test_crawl_facts_come_from_the_manifest_or_read_not_known(built: Project) -> None:
    data = load_release(built, "research")
    summary = eu_ai_act_summary(data)
    crawl = summary["sections"]["2.3"]["fields"]
    # no URL in any record: the domains are not known (never "0 domains"), the records without one are counted
    crawled = next(s["records"] for s in data.sources if s["id"] == "crawl")
    assert crawl["domains"] == NOT_KNOWN and crawl["records_without_url"] == crawled > 0
    assert str(crawl["top_domains"]).startswith(NOT_KNOWN) and "0 domains" not in eu_ai_act_markdown(summary, data)
    card = card_markdown(data)
    assert "Crawled domains: ." not in card and f"Crawled domains: {NOT_KNOWN}" in card
    # paywalls can be declared, and are reported; nobody said the crawler is the provider's own
    assert crawl["paywalls"] == "crawl: not crawled"
    [measure] = [m["measure"] for m in summary["sections"]["3.1"]["fields"]["measures"] if m["source"] == "crawl"]
    assert "own crawler" not in measure and measure.startswith("crawler (own or third-party: not known) CCBot")
    todo = unknown_fields(summary["sections"])  # the provider's to-do list: what the crawl manifest does not say
    assert "3.1.fields.measures[crawl].own_crawler" in todo and "2.3.fields.paywalls" not in todo
    # collected: the crawl period where no `collected` date is declared (Art. 10(b) and the card)
    origin = {s["id"]: s for s in art10_record(data)["points"]["b"]["fields"]["sources"]}
    assert origin["crawl"]["collected"] == "2024-03-01 to 2024-05-31 (crawl period)"
    assert "| crawl | web-crawl | 2024-03-01 to 2024-05-31 (crawl period) |" in card
    # personal_data: unknown is not "not declared"
    assert "not declared for crawl" not in card and "not known for crawl (declared unknown, or not declared)" in card


def test_collection_removals_and_evaluation_sets_are_reported(built: Project) -> None:
    data = load_release(built, "research")
    record = art10_record(data)
    ops = {o["stage"]: o for o in record["points"]["c"]["fields"]["operations"]}
    assert ops["raw_records"]["removed"] == {"takedown_request": 6}  # not 0 after a takedown
    assert ops["decontaminated"]["parameters"]["evaluation_sets"] == ["exam"]
    assert "evaluation_sets=['exam']" in art10_markdown(record, data)


def test_token_totals_say_they_count_upsampled_copies(built: Project) -> None:
    data = load_release(built, "research")
    m = data.manifest
    assert m["tokens"] > m["unique_tokens"] > 0  # wiki was upsampled
    text = eu_ai_act_summary(data)["sections"]["1.3"]["fields"]["modalities"]["text"]
    assert (text["tokens"], text["unique_tokens"]) == (m["tokens"], m["unique_tokens"])
    md = eu_ai_act_markdown(eu_ai_act_summary(data), data)
    assert f"{m['tokens']:,} tokens counting upsampled copies ({m['unique_tokens']:,} counting each record once" in md
    assert f"{m['tokens']:,} tokens counting the copies, {m['unique_tokens']:,} counting each record once" in card_markdown(data)


def test_every_cc_by_licence_carries_attribution(built: Project) -> None:
    obligations = {(o["source"], o["obligation"]) for o in load_release(built, "research").manifest["obligations"]}
    assert {("crawl", "attribution"), ("crawl", "non-commercial"), ("wiki", "attribution")} <= obligations


def test_croissant_key_is_unique_and_tools_citation_and_raw_data_are_stated(built: Project) -> None:
    data = load_release(built, "research")
    doc = croissant(data)
    [rs] = doc["recordSet"]
    assert rs["key"] == [{"@id": "document/doc_id"}, {"@id": "document/repeat"}]
    shards = [built.root / "data" / "releases" / "research" / f["path"] for f in data.manifest["files"] if f["kind"]]
    rows = pa.concat_tables([pq.read_table(p, columns=["doc_id", "repeat"]) for p in shards])
    assert rows.num_rows > len(set(rows["doc_id"].to_pylist()))  # doc ids repeat (upsampled copies) ...
    assert rows.num_rows == len(set(zip(rows["doc_id"].to_pylist(), rows["repeat"].to_pylist(), strict=True)))  # ... keys do not
    tools = doc["rai:machineAnnotationTools"]
    assert any(t.startswith("language, lang_score:") for t in tools) and any(t.startswith("toxicity:") for t in tools)
    assert doc["citeAs"].startswith("curaline project curaline (") and "research dataset, version 1" in doc["citeAs"]
    assert "../" not in doc["rai:dataCollectionRawData"] and "/" + "corpus" not in doc["rai:dataCollectionRawData"]
    assert croissant_problems(doc, data) == ["url: not known (set provider.dataset_url in curaline.yaml)",
                                             "creator: not known (set provider.name in curaline.yaml)"]  # fmt: skip


def test_paywalls_and_own_crawler_are_checked_in_the_manifest(built: Project) -> None:
    path = built.sources_dir / "crawl.yaml"
    data = yaml.safe_load(path.read_text())
    bad = {**data, "crawl": {**data["crawl"], "own_crawler": "yes", "paywalls": ""}}
    other = built.root.parent / "bad-sources"
    other.mkdir(exist_ok=True)
    (other / "crawl.yaml").write_text(yaml.safe_dump(bad))
    _, problems = load_manifests(other, strict=False)
    text = "\n".join(str(p) for p in problems)
    assert "crawl.own_crawler: must be true or false" in text and "crawl.paywalls: must say how" in text


def test_a_url_takedown_on_url_less_data_warns_at_once(built: Project, tmp_path: Path) -> None:
    # on a copy: the shared project's raw records must stay whole for the other tests, in any order
    built = Project.at(Path(shutil.copytree(built.root, tmp_path / "copy", symlinks=True)))
    raw = built.stage_path("raw_records", "crawl")  # a sharded stage: a folder of shard files
    raw.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"doc_id": CRAWL_IDS, "url": pa.nulls(N, pa.string())}), raw / "shard-00000.parquet")
    res = CliRunner().invoke(main, ["takedown", "--url-pattern", r"^https://x\.example/", "--reason", "notice",
                                    "--json", "--project", str(built.root)])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "this pattern matches nothing" in res.stderr
    assert "matches nothing" in json.loads(res.stdout)["warning"]
    assert IDS  # the wiki source is untouched
    # one URL in a later shard: the pattern can match, no warning
    pq.write_table(pa.table({"doc_id": CRAWL_IDS[:1], "url": ["https://x.example/a"]}), raw / "shard-00001.parquet")
    res = CliRunner().invoke(main, ["takedown", "--url-pattern", r"^https://x\.example/", "--reason", "notice",
                                    "--json", "--project", str(built.root)])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "matches nothing" not in res.stderr and "warning" not in json.loads(res.stdout)
