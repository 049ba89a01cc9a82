"""A full run over the Presidio synthetic PII sentences: no PII value may survive anywhere
but as a placeholder — not in the outputs, the ledger, the lineage events, nor Dagster's
own storage (metadata, logs)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from curaline.project import Project

OUR_TYPES = {"EMAIL_ADDRESS", "PHONE_NUMBER", "IP_ADDRESS", "CREDIT_CARD", "IBAN_CODE", "US_SSN"}


def test_no_pii_value_survives_a_run(tmp_path: Path, shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from curaline.cli import run_pipeline

    source = shared_data / "presidio-pii-synth" / "generated_small.json"
    rows = json.loads(source.read_text())
    values = {s["entity_value"] for r in rows for s in r["spans"] if s["entity_type"] in OUR_TYPES}
    values = {v for v in values if len(v) >= 7}  # short fragments ("123") occur by chance elsewhere
    assert len(values) > 20
    root = tmp_path / "proj"
    (root / "sources").mkdir(parents=True)
    (root / "sources" / "presidio.yaml").write_text(yaml.safe_dump({
        "id": "presidio", "location": str(source), "format": "json", "kind": "document",
        "fields": {"text": "full_text"}, "license": "MIT", "obtained": "public-dataset", "personal_data": "expected",
    }))  # fmt: skip
    # one-sentence records: the web-page quality rules would drop them all before PII
    (root / "curaline.yaml").write_text(yaml.safe_dump({"ingest": {"allowed_roots": [str(source.parent)]}, "stages": {
        "pii_redacted": {"keep_reserved_examples": False},
        "quality_filtered": {"gopher_quality": False, "gopher_repetition": False, "c4": False, "fineweb": False},
    }}))  # fmt: skip
    monkeypatch.setenv("DAGSTER_HOME", str(root / ".dagster"))
    project = Project.at(root)
    assert run_pipeline(project, echo=lambda _: None)

    redacted = pq.read_table(project.stage_path("pii_redacted", "presidio"))
    assert redacted.num_rows > 0 and sum(redacted["pii_total"].to_pylist()) > 0
    later = ("pii_redacted", "toxicity_screened", "minhash_bands", "deduplicated", "decontaminated")
    haystacks = [p for s in later for p in (project.data_dir / s).glob("*.parquet")]
    haystacks += [p for p in [*project.lineage_dir.rglob("*"), *project.dagster_home.rglob("*")] if p.is_file()]
    for path in haystacks:
        if path.suffix == ".parquet":
            blob = "\n".join(str(v) for col in pq.read_table(path).columns for v in col.to_pylist())
        else:
            blob = path.read_bytes().decode("utf-8", "replace")
        leaked = sorted(v for v in values if v in blob)
        assert not leaked, f"{path.relative_to(root)} holds {len(leaked)} PII value(s)"
