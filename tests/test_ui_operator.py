"""What the operator sees in the UI, for real: `dagster dev` on 127.0.0.1 over a project that
has a licence-blocked release, a source the pipeline empties and an invalid manifest; asked
over GraphQL, and photographed in headless Chromium (Debian's package) when it is installed.

- the blocked release is a failed partition, its gate check failed for that partition only,
  and the failed run's step failure is the gate report;
- the emptied source's kept_fraction check is a failed WARN check (this project's thresholds:
  warnings only);
- the source sensor's tick list shows the invalid manifest's message.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
import yaml
from test_ui import free_port, graphql
from tests_support import jsonl, make_project, prose, spec, stop_process_group

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]

PARTITIONS = """query($key: AssetKeyInput!) { assetNodeOrError(assetKey: $key) { ... on AssetNode {
  partitionStats { numMaterialized numFailed numPartitions } } } }"""
CHECK = """query($key: AssetKeyInput!, $name: String!, $partition: String) {
  assetCheckExecutions(assetKey: $key, checkName: $name, partition: $partition, limit: 1) {
    partition evaluation { success severity description } } }"""
TICKS = """{ sensorOrError(sensorSelector: {repositoryName: "__repository__", repositoryLocationName: "curaline",
  sensorName: "source_sensor"}) { ... on Sensor { sensorState { ticks(limit: 20) { status skipReason } } } } }"""


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory):
    from curaline.cli import run_pipeline

    root = tmp_path_factory.mktemp("ui-operator") / "proj"
    project = make_project(root)  # its notes are one short sentence each: the pipeline empties them
    (root / "corpus" / "essays.jsonl").write_text(jsonl([prose(i) for i in range(20)], ids="e"))
    (root / "corpus" / "club.jsonl").write_text(jsonl([prose(500 + i) for i in range(10)], ids="c"))
    for sid, lic in (("essays", "CC-BY-4.0"), ("club", "CC-BY-NC-4.0")):
        (root / "sources" / f"{sid}.yaml").write_text(yaml.safe_dump({
            "id": sid, "location": f"../corpus/{sid}.jsonl", "format": "jsonl", "kind": "document",
            "fields": {"id": "id"}, "license": lic, "obtained": "public-dataset"}))  # fmt: skip
    (root / "releases").mkdir()
    (root / "releases" / "open.yaml").write_text(yaml.safe_dump(spec("open", ["essays", "club"], {"essays": 1, "club": 1})))
    shop = {**spec("shop", ["essays", "club"], {"essays": 1, "club": 1}), "use": "commercial"}
    (root / "releases" / "shop.yaml").write_text(yaml.safe_dump(shop))
    (root / "curaline.yaml").write_text("stages:\n  kept_fraction:\n    error_below: 0.0\n")  # warnings only
    mp = pytest.MonkeyPatch()
    mp.setenv("DAGSTER_HOME", str(project.dagster_home))
    project.dagster_home.mkdir(parents=True, exist_ok=True)
    (project.dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\nnux:\n  enabled: false\n")
    assert not run_pipeline(project, echo=lambda _: None)  # the blocked release fails the command
    (root / "sources" / "broken.yaml").write_text("id: broken\nformat: xml\n")
    port = free_port()
    env = {**os.environ, "CURALINE_PROJECT": str(root), "DAGSTER_HOME": str(project.dagster_home),
           "CURALINE_SENSOR_INTERVAL": "5", "CURALINE_SENSOR_EXECUTOR": "in_process"}  # fmt: skip
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "dagster"), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if graphql(port, "{ version }")["version"]:
                    break
            except Exception:  # noqa: BLE001 - not up yet
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                pytest.fail("dagster dev did not come up within 180 s")
            time.sleep(1)
        yield project, port
    finally:
        stop_process_group(proc, grace_s=20)
        mp.undo()


def _check(port: int, asset: str, name: str, partition: str) -> dict:
    [execution] = graphql(port, CHECK, {"key": {"path": [asset]}, "name": name, "partition": partition})["assetCheckExecutions"]
    assert execution["partition"] == partition
    return execution["evaluation"]


def test_a_blocked_release_is_a_failed_partition_led_by_its_gate_report(ui) -> None:
    project, port = ui
    stats = graphql(port, PARTITIONS, {"key": {"path": ["release"]}})["assetNodeOrError"]["partitionStats"]
    assert stats == {"numMaterialized": 1, "numFailed": 1, "numPartitions": 2}
    blocked = _check(port, "release", "release_license_gate", "shop")
    assert not blocked["success"] and blocked["description"].startswith("Licence gate BLOCKED commercial release shop")
    assert _check(port, "release", "release_license_gate", "open")["success"]  # per partition: not overwritten
    with dg.DagsterInstance.get() as instance:
        [run] = instance.get_runs(filters=dg.RunsFilter(job_name="release_job", tags={"dagster/partition": "shop"}))
        [failure] = [e.dagster_event.step_failure_data for e in instance.all_logs(run.run_id)
                     if e.dagster_event and e.dagster_event.is_step_failure]  # fmt: skip
    assert failure.user_failure_data.description.startswith("Licence gate BLOCKED commercial release shop (shop.yaml)")
    assert "club" in failure.user_failure_data.description
    _screenshot(port, f"runs/{run.run_id}", "blocked-release-run")
    _screenshot(port, "assets/release?view=partitions", "release-partitions")


def test_an_emptied_source_shows_a_failed_warn_check(ui) -> None:
    _, port = ui
    notes = _check(port, "toxicity_screened", "kept_fraction", "notes")
    assert not notes["success"] and notes["severity"] == "WARN"
    assert notes["description"].startswith("notes: kept 0 of 20 records (0%)")
    assert _check(port, "toxicity_screened", "kept_fraction", "essays")["success"]
    _screenshot(port, "assets/toxicity_screened?view=checks", "kept-fraction-checks")


def test_the_sensor_tick_shows_an_invalid_manifest(ui) -> None:
    _, port = ui
    deadline = time.monotonic() + 240
    while True:
        ticks = graphql(port, TICKS)["sensorOrError"]["sensorState"]["ticks"]
        reasons = [t["skipReason"] or "" for t in ticks]
        if any("broken.yaml" in r for r in reasons):
            break
        assert time.monotonic() < deadline, ticks
        time.sleep(3)
    [reason] = [r for r in reasons if "broken.yaml" in r][:1]
    assert "1 manifest problem(s): broken.yaml: format" in reason or "broken.yaml: format" in reason, reason
    _screenshot(port, "locations/curaline/sensors/source_sensor", "source-sensor-ticks")


def _screenshot(port: int, path: str, name: str) -> None:
    """A PNG of the page under $CURALINE_UI_SHOTS (or a temp folder), when Chromium is installed."""
    chromium = shutil.which("chromium")
    if not chromium:
        return
    folder = Path(os.environ.get("CURALINE_UI_SHOTS") or (Path(os.environ.get("TMPDIR", "/tmp")) / "curaline-ui-shots"))
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"{name}.png"
    out.unlink(missing_ok=True)
    profile = folder / f".chromium-{name}"
    subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", "--window-size=1600,1000", "--virtual-time-budget=15000",
         f"--screenshot={out}", f"http://127.0.0.1:{port}/{path}"],
        timeout=120, capture_output=True, check=False,
    )  # fmt: skip
    shutil.rmtree(profile, ignore_errors=True)
    assert out.exists() and out.stat().st_size > 20_000, name  # a rendered page, not a blank one
