"""Write the whole demo project: corpus, manifests, release specs, ground truth, README."""

from __future__ import annotations

import json
import random
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from curaline.demo import sources, sources_dialogue, webcrawl
from curaline.demo.model import Row, SourcePlan
from curaline.demo.writers import atomic_write, write_source

Builder = Callable[[random.Random, float, sources.Shared], SourcePlan]

#: Build order matters: later sources copy from earlier ones.
BUILDERS: list[Builder] = [
    sources.encyclopedia,
    sources.eval_benchmark,
    sources.forum,
    webcrawl.web_crawl,
    sources_dialogue.partner_qa,
    sources_dialogue.synthetic_instruct,
    sources_dialogue.preferences,
    sources.docs_text,
]

RELEASES: dict[str, tuple[str, str, str | list[str]]] = {
    "research-all": ("Everything usable for internal research models.", "research", "all"),
    "commercial": ("Sources whose licences allow a commercially deployed model.", "commercial",
                   ["docs-text", "encyclopedia", "web-crawl", "preferences"]),
}

MIX_WEIGHTS = {"encyclopedia": 0.35, "web": 0.3, "dialogue": 0.15, "qa": 0.15, "forum": 0.03,
               "code": 0.02}


@dataclass
class DemoSummary:
    root: Path
    sources: list[str] = field(default_factory=list)
    records_written: dict[str, int] = field(default_factory=dict)
    planted: dict[str, int] = field(default_factory=dict)


#: The demo's planted personal data uses reserved values (example.com mail, 555 phone
#: numbers, documentation IP ranges) so that it identifies nobody; the PII stage leaves
#: such values alone by default, so the demo project asks for them to be redacted too.
DEMO_CONFIG = """\
# curaline project settings for the generated demo (see the curaline README)
name: curaline-demo
stages:
  pii_redacted:
    keep_reserved_examples: false
# what the partner's data agreement allows: research use, no commercial models
license_classes:
  LicenseRef-Partner-Data-Agreement: non-commercial
"""


def generate_demo_project(root: Path, *, seed: int = 7, scale: float = 1.0) -> DemoSummary:
    """Write the demo project under `root`; the same seed and scale give the same bytes.

    Each source's corpus folder is replaced wholesale, so a rerun at another scale
    leaves no stale shards behind; nothing else under `root` is removed.
    """
    root = Path(root)
    shared = sources.Shared()
    plans = [build(random.Random(f"{seed}/{build.__name__}"), scale, shared)
             for build in BUILDERS]
    for sub in ("corpus", "sources", "releases"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for plan in plans:
        folder = root / "corpus" / plan.source_id
        if folder.exists():
            shutil.rmtree(folder)
        write_source(plan, folder)
        atomic_write(root / "sources" / f"{plan.source_id}.yaml", _yaml(plan.manifest))
    for name, (description, use, chosen) in RELEASES.items():
        atomic_write(root / "releases" / f"{name}.yaml", _yaml(_release(name, description, use, chosen)))
    truth = [entry for plan in plans for entry in ground_truth(plan)]
    atomic_write(root / "ground_truth.jsonl", b"".join(
        json.dumps(e, ensure_ascii=False).encode("utf-8") + b"\n" for e in truth))
    atomic_write(root / "README.md", _readme(plans, seed, scale).encode("utf-8"))
    atomic_write(root / "curaline.yaml", DEMO_CONFIG.encode("utf-8"))
    return DemoSummary(
        root=root,
        sources=[p.source_id for p in plans],
        records_written={p.source_id: len(p.rows) for p in plans},
        planted=dict(sorted(Counter(e["case"] for e in truth).items())),
    )


def ground_truth(plan: SourcePlan) -> list[dict[str, Any]]:
    """One entry per planted case, located by file and line after the plan was written."""
    entries = []
    for row in plan.rows:
        for case in row.cases:
            entry: dict[str, Any] = {
                "case": case["case"],
                "source_id": plan.source_id,
                "record_id": row.own_id if row.id_readable else None,
                "doc_id": row.doc_id,
                "file": f"corpus/{plan.source_id}/{row.file}",
                "line": row.line,
            }
            if row.index is not None and plan.manifest["format"] != "text":
                entry["index"] = row.index
            for key, value in case.items():
                if key != "case":
                    entry[key] = value.doc_id if isinstance(value, Row) else value
            entries.append(entry)
    return entries


def _release(name: str, description: str, use: str, chosen: str | list[str]) -> dict[str, Any]:
    return {
        "name": name,
        "description": description,
        "use": use,
        "sources": chosen,
        "languages": list(webcrawl.DECLARED),
        "quality": "default",
        "dedup": True,
        "decontaminate": True,
        "mix": {"by": "domain", "weights": MIX_WEIGHTS},
        "splits": {"train": 0.9, "validation": 0.05, "test": 0.05, "seed": 7},
    }


def _yaml(data: dict[str, Any]) -> bytes:
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    return text.encode("utf-8")


def _readme(plans: list[SourcePlan], seed: int, scale: float) -> str:
    lines = [
        "# curaline demo project",
        "",
        f"Generated by `curaline.demo.generate_demo_project` (seed {seed}, scale {scale:g}).",
        "Every text in it is invented: names, places, products, PII values (fictional or",
        "documentation ranges) and exam questions. Rerunning with the same seed and scale",
        "rewrites the same bytes.",
        "",
        "| source | kind | format | licence | records |",
        "|---|---|---|---|---|",
    ]
    for p in plans:
        m = p.manifest
        cells = [m["id"], m["kind"], m["format"], m["license"], str(len(p.rows))]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "- `sources/*.yaml`: one manifest per source; `releases/*.yaml`: two release specs.",
        "- `ground_truth.jsonl`: one line per planted case (duplicates, PII, toxicity,",
        "  contamination, malformed input...) with the doc id ingestion will compute.",
        "  A duplicate's entry sits on the record dedup should drop; `dup_of` is the one to",
        "  keep (higher priority, else the earlier record of the same source).",
        "  Records without a `language` case are English, except junk pages",
        "  (`low_quality`), which have no language to speak of. The docs source picks the",
        "  `code` profile; its planted junk (`code_junk`: minified, generated, data dump)",
        "  names the code rule that should drop it.",
        "",
    ]
    return "\n".join(lines)
