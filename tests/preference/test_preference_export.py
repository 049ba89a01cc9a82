"""Exports from contract-conformant release shards: exact keys, loadable by `datasets` from
local files, a card, clear errors on bad shards, and the Dagster asset with its check."""

from __future__ import annotations

import json
import os
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from curaline.preference.export import FORMAT_KEYS, ExportError, export_dir, export_release, prompt_messages
from curaline.project import Project
from curaline.store import file_digest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # local files only: never the hub
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

TRANSCRIPT = "\n\nHuman: My bike chain squeaks.\n\nAssistant: Is it dry?\n\nHuman: Yes, quite dry. What now?"
#: one row: (doc_id, source_id, license, license_class, split, repeat, prompt, chosen, rejected)
ROWS = [
    ("hh:0000000000000001", "hh", "MIT", "commercial", "train", 0, TRANSCRIPT, " Oil it lightly.", " Ignore it."),
    ("hh:0000000000000002", "hh", "MIT", "commercial", "train", 0, "Name a prime.", "Seven.", "Nine."),
    ("hh:0000000000000002", "hh", "MIT", "commercial", "train", 1, "Name a prime.", "Seven.", "Nine."),  # upsampled
    ("oa:0000000000000003", "oa", "Apache-2.0", "commercial", "train", 0, "Say hi.", "Hi!", "Go away."),
    ("oa:0000000000000004", "oa", "Apache-2.0", "commercial", "validation", 0, "2+2?", "4", "5"),
    ("nc:0000000000000005", "nc", "CC-BY-NC-4.0", "non-commercial", "test", 0, "Sky colour?", "Blue.", "Green."),
]
TEXT = ("prompt", "chosen", "rejected")


def shard(rows: list[tuple], margins: list[float | None] | None = None) -> pa.Table:
    """A shard with the contract's columns, in the contract's order."""
    col = list(zip(*rows, strict=True)) if rows else [[] for _ in range(9)]
    table = pa.table({
        "doc_id": pa.array(col[0], pa.string()), "source_id": pa.array(col[1], pa.string()),
        "kind": pa.array(["preference"] * len(rows), pa.string()), "license": pa.array(col[2], pa.string()),
        "license_class": pa.array(col[3], pa.string()), "language": pa.array(["en"] * len(rows), pa.string()),
        "domain": pa.array(["chat"] * len(rows), pa.string()), "url": pa.nulls(len(rows), pa.string()),
        "split": pa.array(col[4], pa.string()), "n_tokens": pa.array([0] * len(rows), pa.int64()),
        "repeat": pa.array(col[5], pa.int16()),
        "prompt": pa.array(col[6], pa.string()), "chosen": pa.array(col[7], pa.string()),
        "rejected": pa.array(col[8], pa.string()),
    })  # fmt: skip
    tokens = sum(pc.count_substring_regex(pc.fill_null(table[c], ""), r"\w+|[^\w\s]").to_numpy() for c in TEXT)
    table = table.set_column(table.schema.get_field_index("n_tokens"), "n_tokens", pa.array(tokens, pa.int64()))
    if margins is not None:
        table = table.append_column("margin", pa.array(margins, pa.float64()))
    return table


def write_release(
    project: Project, name: str, shards: dict[str, pa.Table], obligations: list[dict] | None = None
) -> Path:
    folder = project.data_dir / "releases" / name
    files = []
    for rel, table in shards.items():
        path = folder / "preference" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path)
        files.append({"path": f"preference/{rel}", "kind": "preference", "split": rel.split("-")[0],
                      "rows": table.num_rows, "md5": file_digest(path), "bytes": path.stat().st_size})  # fmt: skip
    manifest = {"name": name, "version": 3, "created_at": "2026-01-02T03:04:05Z", "use": "research",
                "status": "released", "files": files, "obligations": obligations or []}  # fmt: skip
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


@pytest.fixture
def project(tmp_path: Path) -> Project:
    (tmp_path / "sources").mkdir()
    return Project.at(tmp_path)


def standard_release(project: Project) -> None:
    train = [r for r in ROWS if r[4] == "train"]
    write_release(project, "r1", {
        "train-00000.parquet": shard(train[:2]), "train-00001.parquet": shard(train[2:]),
        "validation-00000.parquet": shard([r for r in ROWS if r[4] == "validation"]),
        "test-00000.parquet": shard([r for r in ROWS if r[4] == "test"]),
    }, obligations=[{"source": "nc", "license": "CC-BY-NC-4.0", "obligation": "non-commercial",
                     "note": "no commercial use"}])  # fmt: skip


def test_exports_load_with_datasets_and_have_the_exact_keys(project: Project) -> None:
    import datasets

    standard_release(project)
    result = export_release(project, "r1")
    out = export_dir(project, "r1")
    assert result.rows == {"train": 4, "validation": 1, "test": 1}
    assert result.records == {"train": 3, "validation": 1, "test": 1}
    for fmt, keys in FORMAT_KEYS.items():
        files = {s: str(out / fmt / f"{s}.jsonl") for s in ("train", "validation", "test")}
        loaded = datasets.load_dataset("json", data_files=files, cache_dir=str(project.root / ".hf-cache"))
        for split, n in result.rows.items():
            assert loaded[split].num_rows == n
            assert loaded[split].column_names == list(keys)
            for line in (out / fmt / f"{split}.jsonl").read_text().splitlines():
                assert list(json.loads(line)) == list(keys)  # exact keys, in order, on every line
    dpo = datasets.load_dataset("json", data_files=str(out / "dpo" / "train.jsonl"), split="train",
                                cache_dir=str(project.root / ".hf-cache"))  # fmt: skip
    assert dpo[0] == {"prompt": TRANSCRIPT, "chosen": " Oil it lightly.", "rejected": " Ignore it."}
    assert [r["chosen"] for r in dpo] == [" Oil it lightly.", "Seven.", "Seven.", "Hi!"]  # the copy stays

    conv = [json.loads(x) for x in (out / "conversational" / "train.jsonl").read_text().splitlines()]
    assert conv[0] == {
        "prompt": [{"role": "user", "content": "My bike chain squeaks."}, {"role": "assistant", "content": "Is it dry?"},
                   {"role": "user", "content": "Yes, quite dry. What now?"}],
        "chosen": [{"role": "assistant", "content": "Oil it lightly."}],
        "rejected": [{"role": "assistant", "content": "Ignore it."}],
    }  # fmt: skip
    assert conv[1]["prompt"] == [{"role": "user", "content": "Name a prime."}]
    reward = [json.loads(x) for x in (out / "reward" / "validation.jsonl").read_text().splitlines()]
    assert reward == [{"chosen": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}],
                       "rejected": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "5"}],
                       "margin": 0.0}]  # fmt: skip


def test_card_lists_counts_sources_licences_and_files(project: Project) -> None:
    standard_release(project)
    result = export_release(project, "r1")
    card = (export_dir(project, "r1") / "README.md").read_text()
    assert "Release version 3, status released, intended use research" in card
    assert "| train | 4 | 3 |" in card and "| validation | 1 | 1 |" in card and "| test | 1 | 1 |" in card
    assert "| hh | MIT | commercial | 2 | 3 |" in card and "| nc | CC-BY-NC-4.0 | non-commercial | 1 | 1 |" in card
    assert "| Apache-2.0 | 2 |" in card and "| MIT | 2 |" in card
    assert "| nc | CC-BY-NC-4.0 | non-commercial | no commercial use |" in card
    assert "every `margin` is 0.0" in card
    assert len(result.files) == 9
    for f in result.files:
        path = export_dir(project, "r1") / f.path
        assert f"| {f.path} | {f.rows} | {path.stat().st_size} | `{file_digest(path)}` |" in card
    assert result.expected_rows() == result.rows


def test_margins_are_carried_when_the_shards_have_them(project: Project) -> None:
    import datasets

    rows = [r for r in ROWS if r[4] == "train"]
    write_release(project, "m", {"train-00000.parquet": shard(rows, margins=[2.0, None, None, 1.0])})
    result = export_release(project, "m")
    assert result.rows == {"train": 4, "validation": 0, "test": 0} and result.with_margin == 2
    out = export_dir(project, "m")
    assert sorted(p.name for p in (out / "reward").iterdir()) == ["train.jsonl"]  # no empty split files
    loaded = datasets.load_dataset("json", data_files=str(out / "reward" / "train.jsonl"), split="train",
                                   cache_dir=str(project.root / ".hf-cache"))  # fmt: skip
    assert loaded["margin"] == [2.0, 0.0, 0.0, 1.0]
    assert "2 of 4 rows carry the source's margin" in (out / "README.md").read_text()


def test_reexport_replaces_the_whole_folder(project: Project) -> None:
    standard_release(project)
    export_release(project, "r1")
    (project.data_dir / "releases" / "r1" / "preference" / "test-00000.parquet").unlink()
    result = export_release(project, "r1")
    assert result.rows["test"] == 0
    assert not (export_dir(project, "r1") / "dpo" / "test.jsonl").exists()
    assert not list(export_dir(project, "r1").parent.glob(".r1.*"))  # no temporary or old folder left


def test_bad_shards_are_refused_naming_file_row_and_field(project: Project) -> None:
    bad = shard(ROWS[:3])
    bad = bad.set_column(bad.schema.get_field_index("chosen"), "chosen", pa.array(["ok", "ok", None], pa.string()))
    write_release(project, "bad", {"train-00000.parquet": bad})
    with pytest.raises(ExportError, match=r"train-00000\.parquet: row 2: field 'chosen' is empty or null"):
        export_release(project, "bad")
    assert not export_dir(project, "bad").exists()  # nothing half-written
    write_release(project, "cols", {"train-00000.parquet": shard(ROWS[:1]).drop_columns(["license_class"])})
    with pytest.raises(ExportError, match=r"train-00000\.parquet: missing column\(s\) license_class"):
        export_release(project, "cols")
    with pytest.raises(ExportError, match="no such release build"):
        export_release(project, "nope")


def test_prompt_messages() -> None:
    assert prompt_messages("Human: a\n\nAssistant: b\n\nHuman: c") == [
        {"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"}]  # fmt: skip
    # not a well-formed transcript (two human turns in a row, or ending on the assistant): one user turn
    assert prompt_messages("Human: a\n\nHuman: b") == [{"role": "user", "content": "Human: a\n\nHuman: b"}]
    assert prompt_messages("Human: a\n\nAssistant: b") == [{"role": "user", "content": "Human: a\n\nAssistant: b"}]
    assert prompt_messages("User: q\n\nAssistant: a\n\nUser: r") == [  # curaline's OASST transcripts
        {"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}, {"role": "user", "content": "r"}]  # fmt: skip
    assert prompt_messages("Plain question?") == [{"role": "user", "content": "Plain question?"}]


def test_preference_exports_asset_materializes_with_its_check(project: Project) -> None:
    from assets.preference_exports import preference_exports
    from resources.lineage import LineageResource
    from resources.project import ProjectResource

    standard_release(project)
    (project.root / "releases").mkdir(exist_ok=True)  # the spec names the release's DVC stage
    (project.root / "releases" / "r1.yaml").write_text(
        "name: r1\ndescription: test\nuse: research\nsources: all\nlanguages: [en]\nquality: default\n"
        "dedup: true\ndecontaminate: true\nmix: {by: source, weights: {prefs: 1}}\n"
        "splits: {train: 0.8, validation: 0.1, test: 0.1, seed: 1}\n")
    res = ProjectResource(root=str(project.root))
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("releases", ["r1"])
        result = dg.materialize([preference_exports], partition_key="r1", instance=instance,
                                resources={"project": res, "lineage": LineageResource(project=res)})  # fmt: skip
        assert result.success
        meta = result.asset_materializations_for_node("preference_exports")[0].metadata
        assert meta["dagster/row_count"].value == 6 and meta["rows_train"].value == 4
        assert "| train | 4 | 3 |" in meta["card"].value
        checks = result.get_asset_check_evaluations()
        assert [(c.check_name, c.passed) for c in checks] == [("preference_exports_complete", True)]
    assert (export_dir(project, "r1") / "dpo" / "train.jsonl").exists()
