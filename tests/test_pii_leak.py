"""A full run over the Presidio synthetic PII sentences, with a release, its compliance reports,
a checkout and a DVC remote that is a service (HTTP on 127.0.0.1, pushed to for real): no PII
value may be anywhere that leaves the machine but as a placeholder (issue 17). Searched: every
object the remote received, every file under data/ but the PII-holding stages' own (the stages
after redaction, the release, its exports and reports), the release checkout, lineage (ledger,
events, index), Dagster's storage (runs, event logs, compute logs) and every object of the
project's git repository (what a `git push` would send)."""

from __future__ import annotations

import gzip
import io
import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from click.testing import CliRunner
from dvc_http_store import http_store

from curaline.pii_stages import PII_STAGES
from curaline.project import Project

OUR_TYPES = {"EMAIL_ADDRESS", "PHONE_NUMBER", "IP_ADDRESS", "CREDIT_CARD", "IBAN_CODE", "US_SSN"}
RELEASE = "presidio-research"
BIN = Path(sys.executable).parent


def _text(data: bytes) -> str:
    """What a file says, whatever its format: parquet columns and footer metadata, SQLite rows,
    gzip content, and always the bytes themselves as UTF-8."""
    parts = [data.decode("utf-8", "replace")]
    if data[:4] == b"PAR1":  # compressed pages: the raw bytes would hide the values
        table = pq.read_table(pa.BufferReader(data))
        parts += [str(v) for col in table.columns for v in col.to_pylist()]
        parts += [v.decode("utf-8", "replace") for v in (table.schema.metadata or {}).values()]
    elif data[:16] == b"SQLite format 3\x00":
        con = sqlite3.connect(":memory:")
        image = bytearray(data)
        image[18:20] = b"\x01\x01"  # a WAL database read as a rollback-journal one (its -wal file is searched raw)
        con.deserialize(bytes(image))
        parts += list(con.iterdump())
        con.close()
    elif data[:2] == b"\x1f\x8b":
        parts.append(_text(gzip.GzipFile(fileobj=io.BytesIO(data)).read()))
    return "\n".join(parts)


def _git_objects(root: Path) -> bytes:
    """Every object of the repository, decompressed (what a push could send)."""
    res = subprocess.run(["git", "cat-file", "--batch-all-objects", "--batch"], cwd=root, capture_output=True,
                         check=True)  # fmt: skip
    return res.stdout


@dataclass
class PresidioRun:
    project: Project
    values: set[str]
    remote: dict[str, bytes]
    checkout: Path
    ok: bool


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Iterator[PresidioRun]:
    from curaline.cli import main, run_pipeline
    from curaline.versioning import ensure_repo

    source = shared_data / "presidio-pii-synth" / "generated_small.json"
    rows = json.loads(source.read_text())
    values = {s["entity_value"] for r in rows for s in r["spans"] if s["entity_type"] in OUR_TYPES}
    values = {v for v in values if len(v) >= 7}  # short fragments ("123") occur by chance elsewhere
    assert len(values) > 20
    tmp = tmp_path_factory.mktemp("leak")
    root = tmp / "proj"
    (root / "sources").mkdir(parents=True)
    (root / "releases").mkdir()
    (root / "sources" / "presidio.yaml").write_text(yaml.safe_dump({
        "id": "presidio", "location": str(source), "format": "json", "kind": "document",
        "fields": {"text": "full_text"}, "license": "MIT", "obtained": "public-dataset", "personal_data": "expected",
    }))  # fmt: skip
    (root / "releases" / f"{RELEASE}.yaml").write_text(yaml.safe_dump({
        "name": RELEASE, "description": "the Presidio sentences, redacted", "use": "research", "sources": ["presidio"],
        "languages": ["en"], "quality": "default", "dedup": True, "decontaminate": True,
        "mix": {"by": "source", "weights": {"presidio": 1}},
        "splits": {"train": 0.8, "validation": 0.1, "test": 0.1, "seed": 7},
    }))  # fmt: skip
    # one-sentence records: the web-page quality rules would drop them all
    (root / "curaline.yaml").write_text(yaml.safe_dump({"ingest": {"allowed_roots": [str(source.parent)]}, "stages": {
        "pii_redacted": {"keep_reserved_examples": False},
        "quality_filtered": {"gopher_quality": False, "gopher_repetition": False, "c4": False, "fineweb": False},
    }}))  # fmt: skip
    with pytest.MonkeyPatch.context() as mp, http_store() as (url, objects):
        mp.setenv("DAGSTER_HOME", str(root / ".dagster"))
        mp.setenv("HOME", str(tmp))  # git and DVC read no user config of this machine
        project = Project.at(root)
        ensure_repo(project)
        res = subprocess.run([str(BIN / "dvc"), "remote", "add", "-f", "-d", "service", url], cwd=root,
                             capture_output=True, text=True)  # fmt: skip
        assert res.returncode == 0, res.stderr
        ok = run_pipeline(project, echo=lambda _: None)
        checkout = tmp / "checkout"
        out = CliRunner().invoke(main, ["release", "checkout", f"{RELEASE}@v1", "--to", str(checkout),
                                        "--project", str(root)])  # fmt: skip
        assert out.exit_code == 0, out.output
        yield PresidioRun(project, values, dict(objects), checkout, ok)


def test_the_run_releases_reports_and_pushes(run: PresidioRun) -> None:
    """What the search below covers exists: a release with records, its reports, a checkout, pushed objects."""
    project = run.project
    assert run.ok
    manifest = json.loads((project.data_dir / "releases" / RELEASE / "manifest.json").read_text())
    assert manifest["version"] == 1 and manifest["records"] > 50
    reports = {p.name for p in (project.data_dir / "reports" / RELEASE).iterdir()}
    assert {"eu-ai-act.md", "eu-ai-act.json", "art10.md", "art10.json", "card.md", "croissant.json"} <= reports
    assert (run.checkout / "manifest.json").is_file() and any(run.checkout.rglob("*.parquet"))
    sent = [_text(body) for body in run.remote.values()]
    assert len(sent) > 20 and sum("<EMAIL>" in t for t in sent) >= 2  # the stages after redaction and the release
    # the release's own shards went to the service (a clone pulls them from there)
    shards = {p.read_bytes() for p in (project.data_dir / "releases" / RELEASE).rglob("*.parquet")}
    assert shards and shards <= set(run.remote.values())


def test_redaction_comes_right_after_normalization(run: PresidioRun) -> None:
    project = run.project

    def values_in(stage: str) -> set[str]:
        blob = "\n".join(_text(p.read_bytes()) for p in project.stage_path(stage, "presidio").rglob("*.parquet"))
        return {v for v in run.values if v in blob}

    # the search finds the values where they are (normalized: the text as read, kept local) ...
    assert len(values_in("normalized")) > 20
    # ... and the stages that judge the text read placeholders only; redaction drops nothing
    for stage in ("pii_redacted", "language_checked", "quality_filtered", "toxicity_screened"):
        assert not values_in(stage), stage
    normalized = pq.read_table(project.stage_path("normalized", "presidio"))
    redacted = pq.read_table(project.stage_path("pii_redacted", "presidio"))
    assert redacted.num_rows == normalized.num_rows and sum(redacted["pii_total"].to_pylist()) > 0
    checked = pq.read_table(project.stage_path("language_checked", "presidio"))
    assert {"pii_total", "language"} <= set(checked.column_names)  # pii_redacted's signals came first


def test_no_pii_value_leaves_the_machine(run: PresidioRun) -> None:
    project = run.project
    root = project.root
    outputs = [p for p in project.data_dir.rglob("*") if p.is_file()
               and p.relative_to(project.data_dir).parts[0].removesuffix(".parquet") not in PII_STAGES]  # fmt: skip
    assert any("releases" in p.parts for p in outputs) and any("reports" in p.parts for p in outputs)
    haystacks: list[tuple[str, bytes]] = [(f"remote object {k}", v) for k, v in run.remote.items()]
    haystacks += [(str(p.relative_to(root)), p.read_bytes()) for p in outputs]
    checkout = [p for p in run.checkout.rglob("*") if p.is_file()]
    haystacks += [(f"checkout/{p.relative_to(run.checkout)}", p.read_bytes()) for p in checkout]
    haystacks += [(str(p.relative_to(root)), p.read_bytes())
                  for p in [*project.lineage_dir.rglob("*"), *project.dagster_home.rglob("*")] if p.is_file()]  # fmt: skip
    haystacks.append(("git objects", _git_objects(root)))
    assert len(haystacks) > 100
    for where, data in haystacks:
        blob = _text(data)
        leaked = sorted(v for v in run.values if v in blob)
        assert not leaked, f"{where} holds {len(leaked)} PII value(s), e.g. {leaked[:3]}"
