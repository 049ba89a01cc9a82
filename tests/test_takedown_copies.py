"""A takedown reaches the near copies of what it names: the dedup stage's clusters (every run's,
from its ledger history) say which records are copies, and the ledger records request and similarity."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml
from click.testing import CliRunner
from tests_support import prose

from curaline.cli import main
from curaline.dedup import INPUT_STAGE, OUTPUT_STAGE, deduplicate, source_signatures
from curaline.kernels.dedup import DedupConfig
from curaline.kernels.minhash import MinHashConfig
from curaline.ledger import write_ledger
from curaline.project import Project
from curaline.records import make_doc_id
from curaline.sources import load_manifests
from curaline.takedown import NEAR_REASON, matcher, new_request, record_request, statuses

PAGES = [make_doc_id("pages", f"own:p{i}") for i in range(6)]
MIRROR = [make_doc_id("mirror", f"own:m{i}") for i in range(6)]


def _mirror_text(i: int) -> str:
    """Pages 0 and 1 are copied with one word changed (a near copy); the rest are other texts."""
    if i < 2:
        words = prose(i).split()
        words[len(words) // 2] = "lighthouse"
        return " ".join(words)
    return prose(100 + i)


def _project(root: Path) -> Project:
    (root / "sources").mkdir(parents=True)
    for sid, priority in (("pages", 1), ("mirror", 0)):
        (root / "sources" / f"{sid}.yaml").write_text(yaml.safe_dump({
            "id": sid, "location": f"../corpus/{sid}.jsonl", "format": "jsonl", "kind": "document",
            "license": "CC-BY-4.0", "obtained": "public-dataset", "owner": "o@example.com", "priority": priority}))  # fmt: skip
    return Project.at(root)


def _stage_input(project: Project, sid: str, ids: list[str], texts: list[str]) -> None:
    path = project.stage_path(INPUT_STAGE, sid)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = len(ids)
    pq.write_table(pa.table({"doc_id": ids, "source_id": [sid] * n, "license": ["CC-BY-4.0"] * n,
                             "content_hash": ["0" * 32] * n, "text": texts}), path)  # fmt: skip


def _dedup(project: Project, run_id: str) -> pa.Table:
    manifests, problems = load_manifests(project.sources_dir, strict=False)
    assert not problems, problems
    minhash, dedup = MinHashConfig(), DedupConfig()
    for m in manifests:
        source_signatures(project, m, minhash, dedup)
    stats, events = deduplicate(project, manifests, minhash, dedup)
    assert stats.rows_in == stats.kept + stats.exact_removed + stats.near_removed + stats.takedown_removed
    write_ledger(project, events, stage=OUTPUT_STAGE, partition=None, run_id=run_id)
    return events


def test_a_takedown_removes_the_near_copies_dedup_found(tmp_path: Path) -> None:
    project = _project(tmp_path / "proj")
    pages = [prose(i) for i in range(6)]
    _stage_input(project, "pages", PAGES, pages)
    _stage_input(project, "mirror", MIRROR, [_mirror_text(i) for i in range(6)])
    first = _dedup(project, "run-1")
    merged = first.filter(pc.equal(first["reason"], "near_duplicate"))
    assert sorted(merged["doc_id"].to_pylist()) == MIRROR[:2]  # the copies merged into the pages they copy

    # pages 0 and 1 are taken down; the next ingest drops them, so dedup no longer sees the originals
    req = new_request(project, doc_ids=PAGES[:2], reason="copyright notice 17", requested_by="legal")
    record_request(project, req)
    keep, taken = matcher([req])(pa.table({"doc_id": PAGES}), "pages")
    write_ledger(project, taken, stage="raw_records", partition="pages", run_id="run-2")
    _stage_input(project, "pages", [d for d, k in zip(PAGES, keep, strict=True) if k], [t for t, k in zip(pages, keep, strict=True) if k])
    second = _dedup(project, "run-2")
    copies = second.filter(pc.equal(second["reason"], NEAR_REASON)).to_pylist()
    assert [(c["doc_id"], c["action"], c["detail"]) for c in copies] == [
        (MIRROR[i], "takedown", f"{req.id};near_copy_of={PAGES[i]}") for i in range(2)]
    assert all(0.7 <= c["value"] < 1.0 and c["threshold"] == DedupConfig().threshold for c in copies)
    kept = pq.read_table(project.stage_path(OUTPUT_STAGE, "mirror"))["doc_id"].to_pylist()
    assert kept == MIRROR[2:]

    # later runs keep them out (the relation stays in the ledger history), and nothing else goes
    third = _dedup(project, "run-3")
    assert sorted(third.filter(pc.equal(third["reason"], NEAR_REASON))["doc_id"].to_pylist()) == MIRROR[:2]
    assert pq.read_table(project.stage_path(OUTPUT_STAGE, "mirror"))["doc_id"].to_pylist() == MIRROR[2:]

    # takedown-status says what was removed, and where
    [st] = statuses(project, [req])
    assert st.records_taken_down == 4 and st.removed_where == {"deduplicated": {"mirror": 2}, "raw_records": {"pages": 2}}
    assert [(c["doc_id"], c["near_copy_of"]) for c in st.near_copies] == [(MIRROR[0], PAGES[0]), (MIRROR[1], PAGES[1])]
    out = CliRunner().invoke(main, ["takedown-status", "--project", str(project.root)])
    assert out.exit_code == 0 and f"near copy {MIRROR[0]} of {PAGES[0]}" in out.output
    assert f"{req.id}: deduplicated: mirror 2" in out.output
    as_json = json.loads(CliRunner().invoke(main, ["takedown-status", "--json", "--project", str(project.root)]).output)
    assert as_json["requests"][0]["near_copies"][0]["similarity"] == copies[0]["value"]
