"""A small project whose one source spans many shards: prose, bad lines, short docs, repeated ids."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from tests_support import prose, spec


def write_project(root: Path, *, docs: int = 240, shard_records: int = 40, release: bool = False) -> Path:
    (root / "sources").mkdir(parents=True)
    if release:
        (root / "releases").mkdir()
        (root / "releases" / "r.yaml").write_text(yaml.safe_dump(spec("r", "all", {"web": 1.0})))
    (root / "corpus").mkdir()
    lines = []
    for i in range(docs):
        if i % 53 == 7:
            lines.append('{"id": "broken')  # malformed: quarantined with its line
        elif i % 31 == 5:
            lines.append(json.dumps({"id": f"d{i}", "text": "too short"}))  # dropped by quality
        elif i % 47 == 46:
            lines.append(json.dumps({"id": f"d{i - 45}", "text": prose(i)}))  # an id an earlier shard holds
        else:
            lines.append(json.dumps({"id": f"d{i}", "text": prose(i) + (" Mail me at jo@example.com." if i % 9 == 0 else "")}))
    (root / "corpus" / "web.jsonl").write_text("\n".join(lines) + "\n")
    manifest = {"id": "web", "location": "../corpus/web.jsonl", "format": "jsonl", "kind": "document",
                "fields": {"id": "id", "text": "text"}, "license": "CC-BY-4.0", "obtained": "public-dataset",
                "languages": ["en"]}  # fmt: skip
    (root / "sources" / "web.yaml").write_text(yaml.safe_dump(manifest))
    (root / "curaline.yaml").write_text(yaml.safe_dump({"ingest": {"shard_records": shard_records}}))
    return root


def write_dedup_project(root: Path) -> Path:
    """Two sources: `forum` holds exact copies (case, spaces), near copies (one word changed) and its own docs."""
    (root / "sources").mkdir(parents=True)
    (root / "corpus").mkdir()
    web = [{"id": f"w{i}", "text": prose(1000 + i)} for i in range(60)]
    forum = []
    for i in range(36):
        base = prose(1000 + i)
        if i % 3 == 0:
            text = base.replace(". ", ".   ").lower().capitalize()  # exact after lowering and squashing spaces
        elif i % 3 == 1:
            words = base.split()
            words[len(words) // 2] = "zebra"
            text = " ".join(words)
        else:
            text = prose(5000 + i)
        forum.append({"id": f"f{i}", "text": text})
    forum += [{"id": f"g{i}", "text": forum[1]["text"]} for i in range(2)]  # exact copies of a near copy
    for name, rows, extra in (("web", web, {"priority": 1}), ("forum", forum, {"collected": "2024-01-01"})):
        (root / "corpus" / f"{name}.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
        manifest = {"id": name, "location": f"../corpus/{name}.jsonl", "format": "jsonl", "kind": "document",
                    "fields": {"id": "id", "text": "text"}, "license": "CC-BY-4.0", "obtained": "public-dataset",
                    "languages": ["en"], **extra}  # fmt: skip
        (root / "sources" / f"{name}.yaml").write_text(yaml.safe_dump(manifest))
    (root / "curaline.yaml").write_text(yaml.safe_dump({"ingest": {"shard_records": 25}}))
    return root
