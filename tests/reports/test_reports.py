"""The three compliance reports on a release built in a temp project from crafted stage outputs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from click.testing import CliRunner
from tests_support import mlcroissant_check

from curaline.cli import main
from curaline.project import Project
from curaline.records import make_doc_id, own_key
from curaline.release.build import build_release
from curaline.release.spec import load_spec
from curaline.release.versions import publish
from curaline.reports.art10 import art10_markdown, art10_record
from curaline.reports.card import card_markdown, croissant, croissant_problems
from curaline.reports.eu_ai_act import eu_ai_act_markdown, eu_ai_act_summary, text_size_bin
from curaline.reports.release_data import NOT_KNOWN, load_release, top_domain_count, unknown_fields
from curaline.sources import load_manifests

WORDS = "river stone garden bridge market lantern harbour meadow orchard valley".split()
CRAWL = {"crawler": "testbot/2.0", "user_agent": "testbot/2.0 (+https://example.com/bot)", "respects_robots_txt": True,
         "tdm_opt_out": "honoured", "period_start": "2024-03-01", "period_end": "2024-05-31"}  # fmt: skip
SYNTH = {"generator": "gpt-4o-2024-08-06", "terms_url": "https://openai.com/policies/terms-of-use"}
#: id -> (kind, licence, domain, records, manifest extras)
SOURCES = {
    "wiki": ("document", "CC-BY-SA-4.0", "encyclopedia", 30, {"obtained": "public-dataset", "collected": "2024-01-15",
                                                            "license_url": "https://creativecommons.org/licenses/by-sa/4.0/"}),
    "partner": ("instruction", "LicenseRef-Partner", "qa", 20, {"obtained": "licensed", "collected": "2024-02-01",
                                                               "license_url": "https://example.com/partner.pdf"}),
    "crawl": ("document", "ODC-By-1.0", "web", 40, {"obtained": "web-crawl", "crawl": CRAWL, "collected": "2024-06-02",
                                                   "personal_data": "expected"}),
    "synth": ("instruction", "Apache-2.0", "qa", 20, {"obtained": "synthetic", "synthetic": SYNTH,
                                                      "collected": "2024-04-10"}),
}  # fmt: skip
DOMAINS = [f"site{i}.example" for i in range(12)]  # 12 crawled domains: the top 10 % is 2 of them


def _text(i: int, n: int) -> str:
    return " ".join(f"{WORDS[(i + k) % len(WORDS)]}{i}" for k in range(n)) + "."


def _write_source(root: Path, sid: str, kind: str, license: str, domain: str, n: int, extra: dict) -> None:
    manifest = {"id": sid, "location": f"../corpus/{sid}.jsonl", "format": "jsonl", "kind": kind, "license": license,
                "domain": domain, "languages": ["en"], "owner": "data@example.com",
                "legal_basis": "test data", **extra}  # fmt: skip
    manifest.setdefault("personal_data", "none")
    manifest["fields"] = {"id": "id", "prompt": "q", "response": "a"} if kind == "instruction" else {"id": "id"}
    (root / "sources").mkdir(parents=True, exist_ok=True)
    (root / "corpus").mkdir(exist_ok=True)
    (root / "corpus" / f"{sid}.jsonl").write_text("")
    (root / "sources" / f"{sid}.yaml").write_text(yaml.safe_dump(manifest))
    cols: dict[str, list] = {
        "doc_id": [make_doc_id(sid, own_key(f"r{i}")) for i in range(n)], "source_id": [sid] * n,
        "license": [license] * n, "content_hash": ["0" * 32] * n, "language": ["en"] * n, "lang_score": [0.95] * n,
        "toxicity": [0.0] * n, "pii_total": [0] * n,
    }  # fmt: skip
    if kind == "document":
        # crawled pages: domain i gets i+1 pages of growing length, so the largest domains are known
        cols["text"] = [_text(i, 10 + (i % len(DOMAINS))) for i in range(n)]
        cols["q_word_count"] = [10.0] * n
        if extra.get("obtained") == "web-crawl":
            cols["url"] = [f"https://www.{DOMAINS[i % len(DOMAINS)]}/page/{i}" for i in range(n)]
    else:
        cols["prompt"] = [f"Question {i} about {sid}?" for i in range(n)]
        cols["context"] = [None] * n
        cols["response"] = [_text(i, 12) for i in range(n)]
    path = root / "data" / "decontaminated" / f"{sid}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(cols), path)


def _spec(root: Path, name: str, use: str, sources: list[str] | str = "all") -> Path:
    spec = {"name": name, "description": f"{name} test release", "use": use, "sources": sources, "languages": ["en"],
            "quality": "default", "dedup": True, "decontaminate": True,
            "mix": {"by": "domain", "weights": {"encyclopedia": 0.3, "web": 0.4, "qa": 0.3}},
            "splits": {"train": 0.8, "validation": 0.1, "test": 0.1, "seed": 1}}  # fmt: skip
    (root / "releases").mkdir(exist_ok=True)
    path = root / "releases" / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def _publish(root: Path, name: str) -> dict:
    manifests, problems = load_manifests(root / "sources", strict=False)
    assert not problems, problems
    project = Project.at(root)
    build = build_release(project, load_spec(root / "releases" / f"{name}.yaml", manifests), manifests)
    return publish(project, build, versioning=False).manifest


PROVIDER = {"name": "Example AI SARL", "contact": "compliance@example.com", "model_name": "example-lm",
            "model_versions": ["1.0"], "sme": True, "dataset_url": "https://example.com/datasets/research",
            "citation": "Example AI (2025). research dataset."}  # fmt: skip


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project with four sources, a published research release (v1) and a blocked commercial spec."""
    root = tmp_path_factory.mktemp("reports")
    for sid, (kind, lic, domain, n, extra) in SOURCES.items():
        _write_source(root, sid, kind, lic, domain, n, extra)
    (root / "curaline.yaml").write_text(yaml.safe_dump({"license_classes": {"LicenseRef-Partner": "non-commercial"}}))
    _spec(root, "research", "research")
    _spec(root, "shop", "commercial", ["wiki", "partner", "crawl"])
    _publish(root, "research")
    return root


def _with_provider(root: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "proj"
    shutil.copytree(root, copy)
    (copy / "curaline.yaml").write_text(yaml.safe_dump({"license_classes": {"LicenseRef-Partner": "non-commercial"},
                                                        "provider": PROVIDER}))  # fmt: skip
    return copy


def test_text_size_bins_and_the_top_domain_rule() -> None:
    assert text_size_bin(999_999_999) == "less than 1 billion tokens"
    assert text_size_bin(1_000_000_000) == "1 billion to 10 trillion tokens"
    assert text_size_bin(9_999_999_999_999) == "1 billion to 10 trillion tokens"
    assert text_size_bin(10_000_000_000_000) == "more than 10 trillion tokens"
    assert [top_domain_count(n, sme=False) for n in (0, 1, 12, 100, 50_000)] == [0, 1, 2, 10, 5_000]
    assert [top_domain_count(n, sme=True) for n in (1, 12, 100, 50_000)] == [1, 1, 5, 1_000]


def test_eu_ai_act_summary_lists_sources_by_category_with_size_and_domains(built: Path) -> None:
    data = load_release(Project.at(built), "research")
    summary = eu_ai_act_summary(data)
    s = {k: v["fields"] for k, v in summary["sections"].items()}
    m = data.manifest
    assert summary["version"] == 1 and summary["status"] == "released"
    assert s["1.3"]["modalities"]["text"]["tokens"] == m["tokens"] > 0
    assert s["1.3"]["modalities"]["text"]["size_bin"] == "less than 1 billion tokens"
    assert s["1.3"]["latest_collection"] == "06/2024"  # the crawl's collection date, after its period end
    assert [d["id"] for d in s["2.1"]["datasets"]] == ["wiki"]
    assert [d["id"] for d in s["2.2"]["licensed"]["datasets"]] == ["partner"]
    assert s["2.2"]["other_private"] == {"used": False, "modalities": [], "datasets": []}
    assert [c["source"] for c in s["2.3"]["crawlers"]] == ["crawl"]
    assert s["2.3"]["crawlers"][0]["crawler"] == "testbot/2.0" and s["2.3"]["collection_period"] == "2024-03-01 to 2024-05-31"
    assert [(d["id"], d["generator"], d["terms_verdict"]) for d in s["2.5"]["datasets"]] == [
        ("synth", "gpt-4o-2024-08-06", "restricted")]
    assert not s["2.4"]["used"] and not s["2.6"]["used"]
    # top 10 % of 12 domains by tokens of the first copies, read from the shards' url column
    shards = pq.read_table([p for p in (built / "data/releases/research/document").glob("*.parquet")],
                           columns=["url", "n_tokens", "repeat", "source_id"]).to_pylist()  # fmt: skip
    by_domain: dict[str, int] = {}
    for r in shards:
        if r["source_id"] == "crawl" and r["repeat"] == 0:
            host = r["url"].split("/")[2].removeprefix("www.")
            by_domain[host] = by_domain.get(host, 0) + r["n_tokens"]
    expected = sorted(by_domain.items(), key=lambda kv: (-kv[1], kv[0]))[:2]
    assert s["2.3"]["domains"] == len(by_domain) == 12
    assert [(d["domain"], d["tokens"]) for d in s["2.3"]["top_domains"]] == expected
    # nothing about the provider is known: said so, never invented
    assert set(s["1.1"].values()) == set(s["1.2"].values()) == {NOT_KNOWN}
    assert s["3.1"]["code_of_practice_signatory"] == NOT_KNOWN
    md = eu_ai_act_markdown(summary, data)
    assert "### 2.3 Data crawled and scraped from online sources" in md and "| provider name | not known |" in md


def test_provider_config_fills_the_fields_and_is_validated(built: Path, tmp_path: Path) -> None:
    root = _with_provider(built, tmp_path)
    data = load_release(Project.at(root), "research")
    s = {k: v["fields"] for k, v in eu_ai_act_summary(data)["sections"].items()}
    assert s["1.1"]["provider_name"] == "Example AI SARL" and s["1.1"]["authorised_representative"] == NOT_KNOWN
    assert s["1.2"]["model_versions"] == "1.0"
    assert len(s["2.3"]["top_domains"]) == 1  # an SME lists the top 5 % (at least one)
    # what still reads "not known" is the provider's to-do list (the compliance checks show it),
    # list items named by their id; the declared provider fields are no longer on it
    before = unknown_fields(eu_ai_act_summary(load_release(Project.at(built), "research"))["sections"])
    after = unknown_fields(eu_ai_act_summary(data)["sections"])
    assert {"1.1.fields.provider_name", "1.2.fields.model_versions"} <= set(before) - set(after)
    assert "1.1.fields.authorised_representative" in after
    named = [f.split("[")[1].split("]")[0] for f in after if "[" in f]
    assert named and not [n for n in named if n.isdigit()], after  # sources and stages by name
    assert "2.1.fields.datasets[wiki].description" in after  # the manifest has no description
    # no ledger in this project: what only the ledger knows is a gap, not a zero
    assert "3.3.fields.pipeline[pii_redacted].records_changed" in after
    (root / "curaline.yaml").write_text(yaml.safe_dump({"provider": {"name": "", "sme": "yes", "colour": "red",
                                                                     "placed_on_market": "soon"}}))  # fmt: skip
    with pytest.raises(ValueError) as err:
        Project.at(root)
    for expected in ("provider.colour: unknown key", "provider.name: must be a non-empty string",
                     "provider.sme: must be true or false", "provider.placed_on_market: must be a date"):
        assert expected in str(err.value)
    res = CliRunner().invoke(main, ["report", "eu-ai-act", "research", "--project", str(root)])
    assert res.exit_code == 2 and len(res.output.strip().splitlines()) == 1 and "provider.colour" in res.output


def test_art10_record_has_operations_distributions_and_gaps(built: Path) -> None:
    data = load_release(Project.at(built), "research")
    record = art10_record(data)
    p = {k: v["fields"] for k, v in record["points"].items()}
    assert list(p) == list("abcdefgh")
    ops = {o["stage"]: o for o in p["c"]["operations"]}
    assert list(ops) == data.manifest["pipeline"]["stages"]
    assert ops["quality_filtered"]["parameters"]["min_doc_words"] == 50
    assert ops["deduplicated"]["parameters"]["deduplicated.threshold"] == 0.7
    removed = {r: sum(s["removed"].get(r, 0) for s in data.sources) for r in ops["release"]["removed"]}
    assert ops["release"]["removed"] == removed and sum(removed.values()) > 0  # the mix downsampled
    assert p["f"]["languages"]["en"]["token_share"] == 1.0
    assert {r["source"] for r in p["f"]["sources"]} == set(SOURCES)
    assert "source crawl: the manifest does not declare license_url" in p["h"]["gaps"]
    md = art10_markdown(record, data)
    assert "## (f) Examination for possible biases" in md and "## (h) Data gaps and shortcomings" in md


def test_card_lists_licences_and_obligations(built: Path) -> None:
    data = load_release(Project.at(built), "research")
    md = card_markdown(data)
    for section in ("Motivation", "Composition", "Collection process", "Preprocessing, cleaning, labelling",
                    "Uses", "Distribution", "Maintenance"):
        assert f"## {section}" in md
    assert "- **share-alike** — wiki (CC-BY-SA-4.0)" in md
    assert "- **attribution** — crawl (ODC-By-1.0)" in md
    assert "- **generator-terms** — synth (Apache-2.0)" in md


def test_croissant_validates_offline_and_names_what_is_missing(built: Path, tmp_path: Path) -> None:
    data = load_release(Project.at(built), "research")
    doc = croissant(data)
    assert doc["conformsTo"] == "http://mlcommons.org/croissant/1.1"
    assert sorted(doc["license"]) == ["https://example.com/partner.pdf", "https://spdx.org/licenses/Apache-2.0.html",
                                      "https://spdx.org/licenses/CC-BY-SA-4.0.html",
                                      "https://spdx.org/licenses/ODC-By-1.0.html"]  # fmt: skip
    assert "url" not in doc and "creator" not in doc  # unknown: left out, not invented
    assert croissant_problems(doc, data) == ["url: not known (set provider.dataset_url in curaline.yaml)",
                                             "creator: not known (set provider.name in curaline.yaml)"]  # fmt: skip
    assert doc["citeAs"].startswith("curaline project curaline (")  # from the recorded release, until provider.citation
    full = croissant(load_release(Project.at(_with_provider(built, tmp_path)), "research"))
    assert croissant_problems(full, data) == []
    assert full["creator"] == {"@type": "sc:Organization", "name": "Example AI SARL", "email": "compliance@example.com"}
    folder = tmp_path / "checkout"
    shutil.copytree(built / "data/releases/research", folder)
    (folder / "croissant.json").write_text(json.dumps(full))
    # mlcroissant: valid, and it reads the records from the shards beside the file
    report = mlcroissant_check(folder / "croissant.json", "instruction")
    assert "error" not in report.lower(), report
    assert f"ROWS instruction {data.manifest['kinds']['instruction']['rows']}" in report
    # a wrong licence list or a missing shard is caught (mlcroissant would not)
    bad = {**full, "license": full["license"][:1], "distribution": full["distribution"][1:]}
    problems = croissant_problems(bad, data)
    assert problems[0].startswith("license: lists") and problems[1].startswith("distribution: ")


def test_a_blocked_release_says_so(built: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(main, ["report", "eu-ai-act", "shop", "--project", str(built)])
    assert res.exit_code == 0, res.output
    assert "**Status: BLOCKED.**" in res.output and "| partner | LicenseRef-Partner | non-commercial |" in res.output
    as_json = json.loads(runner.invoke(main, ["report", "art10", "shop", "--json", "--project", str(built)]).output)
    assert as_json["status"] == "blocked" and as_json["version"] is None and as_json["points"] == {}
    assert [v["source"] for v in as_json["gate"]["violations"]] == ["partner"]
    card = runner.invoke(main, ["report", "card", "shop", "--project", str(built)])
    assert card.exit_code == 0 and "BLOCKED" in card.output
    cro = runner.invoke(main, ["report", "card", "shop", "--format", "croissant", "--project", str(built)])
    assert cro.exit_code == 2 and "blocked by the licence gate" in cro.output
    assert not (built / "data" / "releases" / "shop").exists()  # the check wrote nothing


def test_cli_formats_versions_and_one_line_errors(built: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    proj = ["--project", str(built)]
    md = runner.invoke(main, ["report", "eu-ai-act", "research@v1", *proj])
    assert md.exit_code == 0 and md.output.startswith("# EU AI Act public summary of training content: research@v1")
    js = runner.invoke(main, ["report", "eu-ai-act", "research", "--format", "json", *proj])
    assert json.loads(js.output)["sections"]["2.1"]["fields"]["datasets"][0]["id"] == "wiki"
    out = tmp_path / "card.json"
    res = runner.invoke(main, ["report", "card", "research", "--json", "--out", str(out), *proj])
    assert res.exit_code == 0 and json.loads(out.read_text())["name"] == "research"
    for args, message in ((["art10", "nope"], "unknown release 'nope'"),
                          (["card", "research@v7"], "release 'research' has no version v7; versions: v1"),
                          (["eu-ai-act", "Bad Ref!"], "is not a release reference")):  # fmt: skip
        res = runner.invoke(main, ["report", *args, *proj])
        assert res.exit_code == 2 and len(res.output.strip().splitlines()) == 1 and message in res.output, res.output


def test_a_superseded_version_is_reported_as_such(built: Path, tmp_path: Path) -> None:
    root = tmp_path / "two"
    shutil.copytree(built, root)
    _write_source(root, "wiki", *SOURCES["wiki"][:3], 45, SOURCES["wiki"][4])
    assert _publish(root, "research")["version"] == 2
    old = load_release(Project.at(root), "research@v1")
    assert old.status == "released, superseded by v2" and old.shards_dir is None
    crawl = eu_ai_act_summary(old)["sections"]["2.3"]["fields"]
    assert crawl["top_domains"].startswith(NOT_KNOWN) and "curaline release checkout research@v1" in crawl["top_domains"]
    assert load_release(Project.at(root), "research").version == 2
