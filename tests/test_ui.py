"""The operator's UI for real: `dagster dev` on a run project, asked over GraphQL, and
photographed in headless Chromium (Debian's package) when it is installed."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from tests_support import jsonl, make_project, prose, stop_process_group

#: minutes, not seconds: the fast set (`pytest -m "not slow"`) leaves them out, CI runs them
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]

NUX_QUERY = "{ shouldShowNux }"
QUERY = """{ assetNodes { assetKey { path } groupName description owners { ... on TeamAssetOwner { team } }
  assetChecksOrError { ... on AssetChecks { checks { name } } } } }"""
META_QUERY = """query($key: AssetKeyInput!) { assetOrError(assetKey: $key) { ... on Asset {
  assetMaterializations(limit: 1) { metadataEntries { label } } } } }"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def graphql(port: int, query: str, variables: dict | None = None) -> dict:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", body, {"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())["data"]


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory):
    from curaline.cli import run_pipeline

    root = tmp_path_factory.mktemp("ui") / "proj"
    project = make_project(root)
    (root / "corpus" / "notes.jsonl").write_text(jsonl([prose(i) for i in range(20)], ids="n"))  # notes that pass quality
    mp = pytest.MonkeyPatch()
    mp.setenv("DAGSTER_HOME", str(project.dagster_home))
    project.dagster_home.mkdir(parents=True, exist_ok=True)
    # no "Join the Dagster community" dialog over the screenshots: the instance setting that
    # the UI's shouldShowNux query reads (dagster.yaml `nux: enabled: false`)
    (project.dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\nnux:\n  enabled: false\n")
    assert run_pipeline(project, echo=lambda _: None)
    port = free_port()
    env = {**os.environ, "CURALINE_PROJECT": str(project.root), "DAGSTER_HOME": str(project.dagster_home)}
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "dagster"), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if graphql(port, QUERY)["assetNodes"]:
                    break
            except Exception:  # noqa: BLE001 - not up yet
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                pytest.fail("dagster dev did not come up within 120 s")
            time.sleep(1)
        yield project, port
    finally:
        stop_process_group(proc, grace_s=20)
        mp.undo()


def test_every_asset_is_described_grouped_owned_and_checked(ui) -> None:
    _, port = ui
    nodes = {"/".join(n["assetKey"]["path"]): n for n in graphql(port, QUERY)["assetNodes"]}
    assert {"source_catalog", "raw_records", "normalized", "quality_filtered", "deduplicated", "decontaminated"} <= set(nodes)
    for key, node in nodes.items():
        assert node["description"] and node["groupName"] != "default" and node["owners"], key
    checks = {c["name"] for n in nodes.values() for c in (n["assetChecksOrError"] or {}).get("checks", [])}
    assert {"raw_schema", "read_balance", "quality_filtered_balance", "deduplicated_schema"} <= checks
    labels = {e["label"] for e in graphql(port, META_QUERY, {"key": {"path": ["quality_filtered"]}})
              ["assetOrError"]["assetMaterializations"][0]["metadataEntries"]}  # fmt: skip
    assert {"dagster/row_count", "dropped_by_reason", "report", "rows_in", "rows_out"} <= labels


def test_screenshots_of_the_graph_and_an_asset_page(ui, tmp_path: Path) -> None:
    """Screenshots go to a temporary folder, or to $CURALINE_SCREENSHOTS when a person wants to look."""
    chromium = shutil.which("chromium")
    if not chromium:
        pytest.skip("headless Chromium is not installed (Debian package 'chromium')")
    _, port = ui
    assert graphql(port, NUX_QUERY) == {"shouldShowNux": False}
    artifacts = Path(os.environ.get("CURALINE_SCREENSHOTS") or tmp_path)
    artifacts.mkdir(parents=True, exist_ok=True)
    pages = (("asset-graph", "asset-groups"), ("asset-quality_filtered", "assets/quality_filtered"),
             ("asset-deduplicated", "assets/deduplicated"))  # where the removals ran: the engine's metadata
    for name, path in pages:
        out = artifacts / f"{name}.png"
        out.unlink(missing_ok=True)
        profile = tmp_path / f".chromium-{name}"
        subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--window-size=1600,1000", "--virtual-time-budget=15000",
             f"--screenshot={out}", f"http://127.0.0.1:{port}/{path}"],
            timeout=90, capture_output=True, check=False,
        )  # fmt: skip
        shutil.rmtree(profile, ignore_errors=True)
        assert out.exists() and out.stat().st_size > 20_000, name  # a rendered page, not a blank one
