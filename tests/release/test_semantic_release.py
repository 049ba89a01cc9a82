"""`dedup: {semantic: COSINE}` in a release spec: the stage's removals, their ledger rows, the release."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_release_build import _manifests, _source, _spec

from curaline.project import Project
from curaline.release.build import ReleaseError, build_release
from curaline.release.spec import load_spec
from curaline.semantic_dedup import output_path, semantic_deduplicate
from curaline.sources import ManifestError

PAIRS = [
    ("A man is playing a guitar on the stage tonight.", "A man plays the guitar on stage tonight."),
    ("The cat is sleeping on the warm windowsill again.", "A cat sleeps on the warm window sill again."),
]
OTHER = ["The recipe needs two eggs and a cup of flour.", "Rain is expected in the north tomorrow evening.",
         "She repaired the bicycle chain with a small tool.", "Trains to the airport leave every ten minutes."]  # fmt: skip


def test_semantic_duplicates_are_found_attributed_and_dropped_from_the_release(tmp_path: Path) -> None:
    root = tmp_path / "p"
    kept = _source(root, "curated", n=4, texts=[a for a, _ in PAIRS] + OTHER[:2], extra={"priority": 5})
    copies = _source(root, "scraped", n=4, texts=[b for _, b in PAIRS] + OTHER[2:])
    spec = load_spec(_spec(root, "sem", dedup={"semantic": 0.85}))
    assert spec.dedup and spec.semantic == 0.85
    project, manifests = Project.at(root), _manifests(root)
    stats, removed, events = semantic_deduplicate(project, spec, manifests)
    # the higher-priority source keeps its copy; each removal names the kept record and the cosine
    assert dict(zip(removed["doc_id"].to_pylist(), removed["duplicate_of"].to_pylist(), strict=True)) == {
        copies[0]: kept[0], copies[1]: kept[1]}  # fmt: skip
    assert stats.rows_in == 8 and stats.by_source == {"scraped": 2}
    assert output_path(project, "sem").exists()
    rows = events.to_pylist()
    assert {(e["action"], e["reason"], e["threshold"]) for e in rows} == {("merge-into", "semantic_duplicate", 0.85)}
    assert all(e["value"] >= 0.85 and e["detail"].startswith("into=") for e in rows)
    build = build_release(project, spec, manifests, staging=tmp_path / "staging")
    drops = {e["doc_id"]: e for e in build.events.to_pylist() if e["reason"] == "semantic_duplicate"}
    assert set(drops) == {copies[0], copies[1]} and drops[copies[0]]["detail"].startswith(f"into={kept[0]};")
    released = set(build.records["doc_id"].to_pylist())
    assert kept[0] in released and copies[0] not in released and copies[2] in released
    assert "semantic_deduplicated" in build.manifest["pipeline"]["stages"]


def test_release_refuses_when_the_semantic_stage_has_not_run(tmp_path: Path) -> None:
    root = tmp_path / "p"
    _source(root, "web", n=4, texts=OTHER)
    spec = load_spec(_spec(root, "sem", dedup={"semantic": 0.9}))
    with pytest.raises(ReleaseError, match="dedup.semantic is set but .*semantic_deduplicated/sem.parquet is missing"):
        build_release(Project.at(root), spec, _manifests(root), staging=tmp_path / "staging")


@pytest.mark.parametrize(
    ("dedup", "field", "says"),
    [
        ({"semantic": 1.5}, "dedup.semantic", "must be a cosine threshold in (0, 1], got 1.5"),
        ({"semantic": True}, "dedup.semantic", "must be a cosine threshold"),
        ({"semntic": 0.9}, "dedup.semntic", "unknown key; allowed: semantic"),
        ("yes", "dedup", "must be true, false or a mapping such as {semantic: 0.9}"),
    ],
)
def test_bad_semantic_settings_are_refused_with_file_and_field(tmp_path: Path, dedup: object, field: str, says: str) -> None:
    path = _spec(tmp_path, "sem", dedup=dedup)
    with pytest.raises(ManifestError) as err:
        load_spec(path)
    assert f"sem.yaml: {field}: {says}" in str(err.value), str(err.value)


def test_plain_dedup_flags_still_parse(tmp_path: Path) -> None:
    assert load_spec(_spec(tmp_path, "a", dedup=True)).semantic is None
    off = load_spec(_spec(tmp_path, "b", dedup=False))
    assert not off.dedup and off.semantic is None
