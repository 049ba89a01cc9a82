"""A DVC remote on S3-compatible object storage (issue 16): moto's S3 server on 127.0.0.1,
reached by real DVC (dvc-s3) over HTTP. What a push puts in the bucket (DVC's content-addressed
layout, no PII-holding stage), what a fresh clone pulls back (byte for byte), a restore from the
bucket, and that the server listens on loopback only."""

from __future__ import annotations

import ipaddress
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psutil
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from s3_store import BIN, S3Store, s3_store
from test_pii_remote import EMAIL, _project
from tests_support import jsonl, prose, spec

from curaline.project import Project
from curaline.versioning import RestoreError, commit_compliance_state, dvc_hash, ensure_repo, push, restore


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Store]:
    """One server for the module; each test uses its own prefix in the bucket."""
    with s3_store(tmp_path_factory.mktemp("aws")) as s3:
        yield s3


def _key(prefix: str, md5: str) -> str:
    """Where DVC 3 puts an object: <remote path>/files/md5/<2 hex>/<30 hex>."""
    return f"{prefix}/files/md5/{md5[:2]}/{md5[2:]}"


def _dvc(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "dvc"), *args], cwd=cwd, capture_output=True, text=True)


def _with_ledger(project: Project) -> Path:
    ledger = project.root / "lineage" / "ledger" / "stage=normalized" / "partition=notes" / "x-run=r1.parquet"
    ledger.parent.mkdir(parents=True)
    pq.write_table(pa.table({"doc_id": ["notes:1"], "action": ["drop"], "reason": ["too_short"]}), ledger)
    return ledger


def test_a_push_puts_only_pii_free_outputs_in_the_bucket_by_content_hash(store: S3Store, tmp_path: Path) -> None:
    project = _project(tmp_path / "proj")
    store.use_as_remote(project.root, "push")
    assert push(project) == 1
    redacted = project.root / "data" / "pii_redacted" / "notes.parquet"
    # one object, at its md5, holding the file's bytes: raw_records and normalized (PII_STAGES) stay here
    assert store.objects("push") == {_key("push", dvc_hash(redacted)): redacted.read_bytes()}
    assert not any(EMAIL.encode() in body for body in store.objects().values())
    assert push(project) == 0  # DVC asks the bucket first: nothing is sent twice


def test_lineage_goes_to_the_bucket_and_a_fresh_clone_pulls_it_back(store: S3Store, tmp_path: Path) -> None:
    project = _project(tmp_path / "proj")
    ledger = _with_ledger(project)
    store.use_as_remote(project.root, "clone")
    commit_compliance_state(project, "lineage")  # commits .dvc/config (the endpoint too) and pushes
    sent = store.objects("clone")
    assert ledger.read_bytes() in sent.values()
    listing = _key("clone", dvc_hash(project.root / "lineage" / "ledger"))  # the folder's .dir object
    assert listing.endswith(".dir") and listing in sent

    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(project.root), str(clone)], check=True)
    res = _dvc(clone, "pull", "lineage/ledger", "data/pii_redacted/notes.parquet")
    assert res.returncode == 0, res.stderr
    for rel in ("lineage/ledger/stage=normalized/partition=notes/x-run=r1.parquet", "data/pii_redacted/notes.parquet"):
        assert (clone / rel).read_bytes() == (project.root / rel).read_bytes(), rel
    # a PII stage never went to the bucket, so a clone cannot pull it from there (it reruns the stage)
    res = _dvc(clone, "pull", "data/raw_records/notes.parquet")
    assert res.returncode != 0 and not (clone / "data" / "raw_records" / "notes.parquet").exists()


def test_restore_reads_from_the_bucket_in_a_fresh_clone(store: S3Store, tmp_path: Path) -> None:
    """`restore` (a release checkout's fallback when the cache lacks an object) through the S3 remote."""
    project = _project(tmp_path / "proj")
    _with_ledger(project)
    store.use_as_remote(project.root, "restore")
    commit_compliance_state(project, "lineage")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(project.root), str(clone)], check=True)
    assert not (clone / ".dvc" / "cache").exists()
    rel = "data/pii_redacted/notes.parquet"
    for rev in (None, "HEAD"):  # the remote as configured now, and at a git revision
        out = tmp_path / f"out-{rev}"
        [written] = restore(Project.at(clone), [(rel, dvc_hash(project.root / rel))], out, rev=rev)
        assert written.read_bytes() == (project.root / rel).read_bytes()
    with pytest.raises(RestoreError, match=r"object md5 0{32} is neither in the DVC cache nor in the remote "
                                           r"\(s3://curaline/restore/files/md5"):  # fmt: skip
        restore(Project.at(clone), [("data/x.parquet", "0" * 32)], tmp_path / "none")
    store.client.put_object(Bucket=store.bucket, Key=_key("restore", "1" * 32), Body=b"not those bytes")
    with pytest.raises(RestoreError, match=r"data/y.parquet: the copy in the DVC remote s3://curaline/restore/files/md5 "
                                           r"is corrupt \(md5 \w+, recorded 1{32}\)"):  # fmt: skip
        restore(Project.at(clone), [("data/y.parquet", "1" * 32)], tmp_path / "bad")
    assert not (tmp_path / "bad" / "data" / "y.parquet").exists()


def test_the_s3_server_listens_on_loopback_only(store: S3Store) -> None:
    """Every listening socket of the server's process (and any child) is on 127.0.0.0/8 or ::1."""
    server = psutil.Process(store.pid)
    listening = [c for p in (server, *server.children(recursive=True)) for c in p.net_connections(kind="inet")
                 if c.status == psutil.CONN_LISTEN]  # fmt: skip
    assert [c.laddr.port for c in listening] == [int(store.endpoint.rsplit(":", 1)[1])]
    outside = [c.laddr for c in listening if not ipaddress.ip_address(c.laddr.ip).is_loopback]
    assert not outside, f"the S3 server listens beyond this machine: {outside}"


def _pipeline_project(root: Path) -> Project:
    """Two sources of varied prose (one with an e-mail address in some records) and a release."""
    (root / "sources").mkdir(parents=True)
    (root / "releases").mkdir()
    corpus = root.parent / "corpus"
    corpus.mkdir()
    for sid, seed in (("essays", 0), ("letters", 1000)):
        texts = [prose(seed + i) + (f" Write to {EMAIL} for more." if sid == "letters" and i % 3 == 0 else "")
                 for i in range(12)]  # fmt: skip
        (corpus / f"{sid}.jsonl").write_text(jsonl(texts, ids=f"{sid}-"))
        (root / "sources" / f"{sid}.yaml").write_text(yaml.safe_dump({
            "id": sid, "location": f"../corpus/{sid}.jsonl", "format": "jsonl", "kind": "document",
            "license": "CC-BY-4.0", "obtained": "public-dataset", "owner": "o@example.com", "languages": ["en"],
            "fields": {"id": "id"}}))  # fmt: skip
    (root / "releases" / "main.yaml").write_text(yaml.safe_dump(spec("main", "all", {"essays": 0.5, "letters": 0.5})))
    return Project.at(root)


def _objects_of(root: Path, outs: dict[str, str]) -> dict[str, set[str]]:
    """out path -> the md5 of every object DVC stores for it (a folder: its .dir listing and each file)."""
    found: dict[str, set[str]] = {}
    for path, md5 in outs.items():
        found[path] = {md5}
        if md5.endswith(".dir"):
            listing = json.loads((root / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]).read_text())
            found[path] |= {e["md5"] for e in listing}
    return found


@pytest.mark.slow
def test_a_run_pushes_its_outputs_and_lineage_to_s3_and_a_clone_gets_them_back(
    store: S3Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`curaline run` with an S3 default remote, then on "another machine": git clone + dvc pull
    from the bucket (the same bytes), and a release checkout in a clone that pulled nothing."""
    from click.testing import CliRunner

    from curaline.cli import main, run_pipeline
    from curaline.pii_stages import holds_pii
    from curaline.store import file_digest

    project = _pipeline_project(tmp_path / "here" / "proj")
    root = project.root
    monkeypatch.setenv("DAGSTER_HOME", str(project.dagster_home))
    monkeypatch.setenv("CURALINE_PROJECT", str(root))
    ensure_repo(project)
    store.use_as_remote(root, "run")
    assert run_pipeline(project, echo=lambda _: None)

    lock = yaml.safe_load((root / "dvc.lock").read_text())["stages"]
    outs = {o["path"]: o["md5"] for stage in lock.values() for o in stage.get("outs") or [] if "md5" in o}
    lineage = {p.relative_to(root).as_posix()[: -len(".dvc")]: yaml.safe_load(p.read_text())["outs"][0]["md5"]
               for p in root.glob("lineage/**/*.dvc")}  # fmt: skip
    assert {"lineage/ledger", "lineage/events", "lineage/releases/release=main/v1.parquet"} <= set(lineage)
    objects = _objects_of(root, {**outs, **lineage})
    shared = {p for p in [*outs, *lineage] if not holds_pii(p)}
    kept = {p for p in outs if holds_pii(p)}
    assert {p.split("/")[1] for p in kept} == {"raw_records", "quarantined_records", "url_filtered", "normalized"}
    sent = set(store.objects("run"))
    assert all(re.fullmatch(r"run/files/md5/[0-9a-f]{2}/[0-9a-f]{30}(\.dir)?", key) for key in sent), sent
    assert sent == {_key("run", md5) for p in shared for md5 in objects[p]}  # every shareable object, nothing else
    only_pii = set().union(*(objects[p] for p in kept)) - set().union(*(objects[p] for p in shared))
    assert only_pii and not sent & {_key("run", md5) for md5 in only_pii}  # e.g. the shards that hold the e-mail

    clone = tmp_path / "there" / "proj"
    subprocess.run(["git", "clone", "-q", str(root), str(clone)], check=True)
    res = _dvc(clone, "pull", "--allow-missing")  # the PII stages are not in the bucket: the rest comes back
    assert res.returncode == 0, res.stderr
    for path in shared:
        assert dvc_hash(clone / path) == dvc_hash(root / path), path
    assert not any((clone / p).exists() and any((clone / p).iterdir()) for p in kept if (root / p).is_dir())

    bare = tmp_path / "bare" / "proj"  # no pull: the release's files come from the bucket at its tag
    subprocess.run(["git", "clone", "-q", str(root), str(bare)], check=True)
    manifest = json.loads((root / "data" / "releases" / "main" / "manifest.json").read_text())
    out = tmp_path / "v1"
    checkout = CliRunner().invoke(main, ["release", "checkout", "main@v1", "--to", str(out), "--project", str(bare)])
    assert checkout.exit_code == 0, checkout.output
    assert manifest["files"] and all(file_digest(out / f["path"]) == f["md5"] for f in manifest["files"])
