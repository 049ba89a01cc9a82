"""Near-duplicate preference pairs through the dedup stage, on real OpenAssistant rankings
(oasst-sample in ../shared/data, Apache-2.0; see its SOURCE.txt).

One ranking of n answers gives n(n-1)/2 pairs that share the prompt and answers: as whole
texts they look alike by construction. The dedup stage compares pairs part by part, so a
ranking's pairs survive and only copies of a judgement (each part a near copy) merge.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
import yaml

from curaline.dedup import INPUT_STAGE, deduplicate, source_signatures
from curaline.ingest import read_source
from curaline.kernels.dedup import DedupConfig
from curaline.kernels.minhash import MinHashConfig
from curaline.project import Project
from curaline.records import make_doc_id, own_key
from curaline.sources import load_manifests
from curaline.store import write_parquet


def _manifest(root: Path, sid: str, **extra: object) -> None:
    (root / "sources").mkdir(parents=True, exist_ok=True)
    (root / "sources" / f"{sid}.yaml").write_text(yaml.safe_dump({
        "id": sid, "license": "Apache-2.0", "obtained": "public-dataset", **extra}))  # fmt: skip


def _dedup(project: Project) -> tuple[dict[str, str], int]:
    """Run the stage on every source's INPUT_STAGE file: removed doc -> the doc kept for it."""
    manifests, _ = load_manifests(project.sources_dir)
    minhash, config = MinHashConfig(), DedupConfig()
    for m in manifests:
        source_signatures(project, m, minhash, config)
    stats, events = deduplicate(project, manifests, minhash, config)
    into = {e["doc_id"]: e["related_doc_id"] for e in events.to_pylist()}
    return into, stats.near_removed


@pytest.fixture
def oasst(tmp_path: Path, shared_data: Path) -> tuple[Project, pa.Table]:
    path = shared_data / "oasst-sample" / "en_100_tree.jsonl"
    if not path.exists():
        pytest.skip(f"needs {path}")
    root = tmp_path / "proj"
    _manifest(root, "oasst", location=str(path), format="oasst", kind="preference")
    (root / "curaline.yaml").write_text(yaml.safe_dump({"ingest": {"allowed_roots": [str(path.parent)]}}))
    project = Project.at(root)
    [manifest], _ = load_manifests(project.sources_dir)
    records, _, _ = read_source(manifest)
    write_parquet(project.stage_path(INPUT_STAGE, "oasst"), records)
    return project, records


def test_the_pairs_of_one_ranking_are_not_merged(oasst: tuple[Project, pa.Table]) -> None:
    project, records = oasst
    assert records.num_rows == 754  # all implied pairs of 100 trees
    into, near = _dedup(project)
    # one merge: two answers that are the same code (one with a preamble) both beat the same
    # third answer -- the same judgement twice; a whole-text comparison merged 121 pairs here
    assert near == 1 and len(into) == 1
    [(gone, kept)] = into.items()
    rows = {r["doc_id"]: r for r in records.select(["doc_id", "group", "prompt", "rejected"]).to_pylist()}
    assert rows[gone]["group"] == rows[kept]["group"] and rows[gone]["rejected"] == rows[kept]["rejected"]


def test_copies_of_a_judgement_merge_even_with_edits(oasst: tuple[Project, pa.Table]) -> None:
    project, records = oasst
    # a second source repeats 60 judgements: answers re-cased, re-spaced, one word changed
    sample = records.filter(pc.greater(pc.utf8_length(records["chosen"]), 400)).slice(0, 60)
    chosen = pc.replace_substring(pc.utf8_upper(sample["chosen"]), " THE ", "  A ", max_replacements=1)
    copies = pa.table({
        "doc_id": [make_doc_id("copies", own_key(f"c{i}")) for i in range(sample.num_rows)],
        "source_id": ["copies"] * sample.num_rows,
        **{c: sample[c] for c in sample.column_names if c not in ("doc_id", "source_id", "chosen")},
        "chosen": chosen,
    })  # fmt: skip
    _manifest(project.root, "copies", location="copies.jsonl", format="oasst", kind="preference")
    write_parquet(project.stage_path(INPUT_STAGE, "copies"), copies.select(records.column_names))
    into, _ = _dedup(project)
    originals = set(sample["doc_id"].to_pylist())
    caught = {d for d, k in into.items() if d.startswith("copies:") and k in originals}
    caught |= {k for d, k in into.items() if d in originals and k.startswith("copies:")}  # or the copy was kept
    assert len(caught) == 60
    # and nothing beyond them and the one real near copy of the sample
    assert len(into) == 60 + 1
