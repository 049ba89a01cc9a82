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
