"""Build the quality classifier that ships in the package (curaline/kernels/quality_model_data/default.npz).

It is trained with `curaline quality train`'s own code on two sources of ../shared/data, each
declared by a manifest in a temporary project, so the model records them and their licences:

- positive (curated, human-written): OpenAssistant oasst-sample, prompts and answers
  (Apache-2.0, LAION-AI/Open-Assistant);
- positive (curated reference prose): the Wikipedia articles of LLaMA-Factory's wiki_demo.txt
  (Wikipedia text, CC BY-SA; hiyouga/LLaMA-Factory@ff6d4d12, repo Apache-2.0), cut into
  passages of about 1,500 characters at sentence ends (written to a JSONL file in the
  temporary project, declared by its own manifest);
- negative (raw web text): Dolma's Common Crawl 2019 sample (the dolma repository is
  Apache-2.0; the documents are Common Crawl web text, CC terms of use).

Command: `python benchmarks/build_quality_model.py` (seconds).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "data"
OUT = REPO / "curaline" / "kernels" / "quality_model_data" / "default.npz"

MANIFESTS = {
    "oasst-sample": {
        "id": "oasst-sample", "location": str(DATA / "oasst-sample" / "en_100_tree.jsonl"), "format": "oasst",
        "kind": "preference", "license": "Apache-2.0",
        "license_url": "https://github.com/LAION-AI/Open-Assistant/blob/main/LICENSE", "obtained": "public-dataset",
        "description": "OpenAssistant oasst1 sample: human-written prompts and answers (LAION-AI/Open-Assistant@f1e6ed95)",
    },
    "wikipedia-demo": {
        "id": "wikipedia-demo", "location": "", "format": "jsonl", "kind": "document",
        "fields": {"id": "id", "text": "text"}, "license": "CC-BY-SA-4.0",
        "license_url": "https://creativecommons.org/licenses/by-sa/4.0/", "obtained": "public-dataset",
        "description": "Wikipedia articles of LLaMA-Factory's wiki_demo.txt (hiyouga/LLaMA-Factory@ff6d4d12), "
                       "cut into ~1,500-character passages at sentence ends",
    },
    "dolma-cc-2019": {
        "id": "dolma-cc-2019", "location": str(DATA / "dolma-cc-2019-sample" / "*.jsonl.gz"), "format": "jsonl.gz",
        "kind": "document", "fields": {"id": "id", "text": "text"}, "license": "LicenseRef-CommonCrawl-ToU",
        "license_url": "https://commoncrawl.org/terms-of-use", "obtained": "public-dataset",
        "description": "Dolma's sample of Common Crawl CC-MAIN-2019-30 WET documents (allenai/dolma@937ccc06, Apache-2.0 repo)",
    },
}


def wiki_passages(path: Path, size: int = 1500) -> list[str]:
    """Each article cut at sentence ends into passages of about `size` characters."""
    import re

    out: list[str] = []
    for article in path.read_text(encoding="utf-8").splitlines():
        buf = ""
        for sentence in re.split(r"(?<=[.!?])\s+", article.strip()):
            buf = f"{buf} {sentence}".strip()
            if len(buf) >= size:
                out.append(buf)
                buf = ""
        if len(buf) > size // 3:
            out.append(buf)
    return out


def main() -> None:
    import yaml

    from curaline.project import Project
    from curaline.quality_train import train_from_sources

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "sources").mkdir()
        (root / "releases").mkdir()
        wiki = root / "wiki_passages.jsonl"
        wiki.write_text("".join(json.dumps({"id": i, "text": t}) + "\n"
                                for i, t in enumerate(wiki_passages(DATA / "llamafactory-demos" / "wiki_demo.txt"))))
        MANIFESTS["wikipedia-demo"]["location"] = str(wiki)
        for sid, m in MANIFESTS.items():
            (root / "sources" / f"{sid}.yaml").write_text(yaml.safe_dump(m, sort_keys=False))
        (root / "curaline.yaml").write_text(yaml.safe_dump({"ingest": {"allowed_roots": [str(DATA)]}}))
        model, info = train_from_sources(Project.at(root), ["oasst-sample", "wikipedia-demo"], ["dolma-cc-2019"], OUT, dvc=False)
    info.pop("path")
    for side in ("positive", "negative"):
        for m in info[side]:
            loc = MANIFESTS[m["source"]]["location"]
            m["location"] = ("../shared/data/llamafactory-demos/wiki_demo.txt (passages)" if m["source"] == "wikipedia-demo"
                             else loc.replace(str(REPO.parent), ".."))
    model.meta.update({k: v for k, v in info.items() if k in ("positive", "negative")})
    model.meta.pop("trained_at", None)  # the file is byte-stable for the same inputs
    model.save(OUT)
    print(json.dumps({k: v for k, v in model.meta.items()}, indent=1))
    print(f"wrote {OUT} ({OUT.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
