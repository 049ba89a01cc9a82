"""Helpers shared by the Dagster-level tests (importable: tests/ is on sys.path)."""

from __future__ import annotations

from pathlib import Path

import yaml

from curaline.project import Project


def make_project(root: Path) -> Project:
    """A small project with a clean source and a dirty one, written here (no shared data)."""
    (root / "sources").mkdir(parents=True)
    (root / "corpus").mkdir()
    (root / "corpus" / "notes.jsonl").write_text(
        "".join(f'{{"id": "n{i}", "text": "Note number {i} about curation."}}\n' for i in range(20))
    )
    (root / "corpus" / "chat.jsonl").write_bytes(
        b'{"q": "Say hi", "a": "Hi!"}\n{"q": "broken\n{"q": "empty", "a": ""}\n{"q": "ok?", "a": "Yes."}\n'
    )
    base = {"license": "CC-BY-4.0", "obtained": "public-dataset", "owner": "data@example.com"}
    for sid, spec in {
        "notes": {"location": "../corpus/notes.jsonl", "format": "jsonl", "kind": "document", "fields": {"id": "id"}},
        "chat": {"location": "../corpus/chat.jsonl", "format": "jsonl", "kind": "instruction",
                 "fields": {"prompt": "q", "response": "a"}},
    }.items():  # fmt: skip
        (root / "sources" / f"{sid}.yaml").write_text(yaml.safe_dump({"id": sid, **base, **spec}))
    return Project.at(root)
