"""semantic_deduplicated in a real run: a release spec turns it on, the release applies it."""

from __future__ import annotations

import json
import random
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
import yaml
from tests_support import prose, spec

from curaline.lineage.emitter import default_events_file
from curaline.lineage.validate import EventValidator
from curaline.project import Project


def shuffled(text: str, seed: int) -> str:
    """The same words in another order: one meaning to a bag of embeddings, no shared 5-grams."""
    rng = random.Random(seed)
    out = []
    for sentence in text.rstrip(".").split(". "):
        words = sentence.lower().split()
        rng.shuffle(words)
        out.append(" ".join(words).capitalize() + ".")
    return " ".join(out)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    root = tmp_path / "proj"
    for d in ("sources", "releases", "corpus"):
        (root / d).mkdir(parents=True)
    curated = [prose(i, 120) for i in range(6)]
    scraped = [shuffled(curated[i], i) for i in range(3)] + [prose(100 + i, 120) for i in range(3)]
    for sid, texts, priority in (("curated", curated, 5), ("scraped", scraped, 0)):
        (root / "corpus" / f"{sid}.jsonl").write_text("".join(json.dumps({"id": f"{sid}{i}", "text": t}) + "\n"
                                                              for i, t in enumerate(texts)))  # fmt: skip
        (root / "sources" / f"{sid}.yaml").write_text(yaml.safe_dump({
            "id": sid, "location": f"../corpus/{sid}.jsonl", "format": "jsonl", "kind": "document",
            "fields": {"id": "id"}, "license": "CC-BY-4.0", "obtained": "public-dataset", "languages": ["en"],
            "priority": priority}))  # fmt: skip
    weights = {"curated": 0.5, "scraped": 0.5}
    (root / "releases" / "sem.yaml").write_text(yaml.safe_dump({**spec("sem", "all", weights), "dedup": {"semantic": 0.95}}))
    (root / "releases" / "plain.yaml").write_text(yaml.safe_dump(spec("plain", "all", weights)))
    monkeypatch.setenv("DAGSTER_HOME", str(root / ".dagster"))
    monkeypatch.setenv("CURALINE_PROJECT", str(root))
    return Project.at(root)


def test_the_spec_turns_it_on_and_the_release_drops_what_it_found(project: Project, shared_dir: Path) -> None:
    from curaline.cli import run_pipeline

    assert run_pipeline(project, echo=lambda _: None)
    dedup_kept = {r for sid in ("curated", "scraped")
                  for r in pq.read_table(project.stage_path("decontaminated", sid))["doc_id"].to_pylist()}  # fmt: skip
    assert len(dedup_kept) == 12  # MinHash sees no shared 5-grams: every shuffled copy survives near dedup
    removed = pq.read_table(project.stage_path("semantic_deduplicated", "sem")).to_pylist()
    assert len(removed) == 3 and all(r["similarity"] >= 0.95 for r in removed)
    assert {r["doc_id"].split(":")[0] for r in removed} == {"scraped"}  # priority: the curated copy stays
    assert {r["duplicate_of"].split(":")[0] for r in removed} == {"curated"}
    assert pq.read_table(project.stage_path("semantic_deduplicated", "plain")).num_rows == 0  # off: an empty list
    with duckdb.connect() as con:
        ledger = con.sql(f"SELECT doc_id, action, reason, detail FROM read_parquet('{project.lineage_dir}/ledger/**/*.parquet', "
                         "hive_partitioning=false) WHERE stage = 'semantic_deduplicated'").fetchall()  # fmt: skip
        released = {r[0] for r in con.sql(f"SELECT doc_id FROM read_parquet('{project.data_dir}/releases/sem/**/*.parquet') "
                                          "WHERE doc_id IS NOT NULL").fetchall()}  # fmt: skip
        plain = {r[0] for r in con.sql(f"SELECT doc_id FROM read_parquet('{project.data_dir}/releases/plain/**/*.parquet') "
                                       "WHERE doc_id IS NOT NULL").fetchall()}  # fmt: skip
    assert {(a, r) for _, a, r, _ in ledger} == {("merge-into", "semantic_duplicate")} and len(ledger) == 3
    gone = {r["doc_id"] for r in removed}
    assert not gone & released and gone <= plain  # only the release that asked for it loses them
    assert {r["duplicate_of"] for r in removed} <= released
    # the dataset card names the quality classifier the records went through, with its training licences
    from click.testing import CliRunner

    from curaline.cli import main

    card = CliRunner().invoke(main, ["report", "card", "sem", "--project", str(project.root)])
    assert card.exit_code == 0, card.output
    line = next(x for x in card.output.splitlines() if x.startswith("**Quality classifier:**"))
    assert "`builtin`" in line and "curated, scraped" in line and "oasst-sample (Apache-2.0" in line
    art10 = json.loads(CliRunner().invoke(main, ["report", "art10", "sem", "--format", "json", "--project",
                                                 str(project.root)]).output)  # fmt: skip
    ops = {o["stage"]: o for o in art10["points"]["c"]["fields"]["operations"]}
    assert ops["semantic_deduplicated"]["parameters"]["threshold"] == 0.95
    events = [json.loads(line) for line in default_events_file(project).read_text().splitlines()]
    assert any(e["job"]["name"] == "semantic_deduplicated" and e["eventType"] == "COMPLETE" for e in events)
    validator = EventValidator(shared_dir / "openlineage-spec")
    assert all(validator.validate(e) == [] for e in events)
