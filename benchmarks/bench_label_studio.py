"""Push and pull of 10,000 Label Studio tasks: curaline's side vs the server's own time.

Starts a real Label Studio 1.23.2 (tests/label_studio_server.py: its own cached venv,
127.0.0.1, a tmp data dir, stopped by its process group). The inputs of push are a
10,000-row `review_queue` and the `pii_redacted` texts of its target records, written
in the stages' schemas (synthetic: 60-word texts); pull reads a project of 10,000 tasks
with 3 annotations each, imported in one request beforehand (not timed), then again after
1% of the tasks and one annotation of another 1% were deleted (withdrawals). `server s` is
the time spent waiting on HTTP responses: the server's share of the total.

    nice -n 10 .venv/bin/python benchmarks/bench_label_studio.py [--tasks 10000]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from label_studio_server import ensure_venv, running  # noqa: E402

from curaline.annotation import label_studio as ls  # noqa: E402
from curaline.annotation.review import REVIEW_SCHEMA  # noqa: E402
from curaline.project import Project  # noqa: E402
from curaline.records import make_doc_id, own_key  # noqa: E402
from curaline.sources import parse_manifest  # noqa: E402

WORDS = "river city history music school market bridge winter summer garden village station museum".split()
LABELS = ("relevant", "off-topic")


def build(root: Path, url: str, n: int) -> Project:
    rng = random.Random(0)
    (root / "sources").mkdir(parents=True)
    base = {"license": "CC-BY-4.0", "obtained": "public-dataset"}
    (root / "sources" / "seed.yaml").write_text(yaml.safe_dump({
        **base, "id": "seed", "location": "../s.jsonl", "format": "jsonl", "kind": "annotation", "label_type": "nominal",
        "labels": list(LABELS), "target_source": "docs", "fields": {"item_id": "i", "annotator_id": "a", "label": "l"}}))  # fmt: skip
    (root / "curaline.yaml").write_text(yaml.safe_dump({"annotation": {"label_studio": {
        "url": url, "project": "bench push", "token_env": "BENCH_LS_TOKEN"}}}))  # fmt: skip
    project = Project.at(root)
    items = [f"d{i}" for i in range(n)]
    docs = [make_doc_id("docs", own_key(i)) for i in items]
    texts = [" ".join(rng.choice(WORDS) for _ in range(60)) + "." for _ in items]
    for stage, table in (
        ("pii_redacted", pa.table({"doc_id": docs, "text": texts})),
        ("review_queue", pa.table({
            "priority": list(range(1, n + 1)), "source_id": ["seed"] * n, "task": ["default"] * n, "item_id": items,
            "target_doc_id": docs, "label": [rng.choice(LABELS) for _ in items],
            "confidence": [rng.uniform(0.5, 0.9) for _ in items], "majority_label": [None] * n,
            "majority_share": [0.5] * n, "n_judgements": [2] * n, "expected_gain": [0.1] * n,
            "reason": ["split_vote"] * n}, schema=REVIEW_SCHEMA)),
    ):  # fmt: skip
        path = project.stage_path(stage, "docs" if stage == "pii_redacted" else "seed")
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path)
    return project


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=10_000)
    args = ap.parse_args()
    exe = ensure_venv()
    if isinstance(exe, str):
        sys.exit(exe)
    with tempfile.TemporaryDirectory() as tmp:
        for server in running(exe, Path(tmp) / "ls", ("ann1", "ann2", "ann3")):
            print(f"server ready {server.started_s:.1f} s after launch (4 users made beforehand through its CLI)")
            os.environ["BENCH_LS_TOKEN"] = server.token
            os.environ["BENCH_ANNOTATOR_KEY"] = "benchmark-pseudonymisation-key"
            project = build(Path(tmp) / "proj", server.url, args.tasks)
            seed = parse_manifest(project.sources_dir / "seed.yaml")
            result, _ = ls.push_run(project, seed)
            print(f"push {result.tasks} tasks: {result.total_s:.2f} s total, {result.server_s:.2f} s server, "
                  f"{result.total_s - result.server_s:.2f} s curaline")  # fmt: skip

            # a project of n tasks with 3 judgements each, imported in one request (setup, not timed)
            users = [server.api("GET", "/api/current-user/whoami", token=t)["id"] for t in server.annotators.values()]
            rng = random.Random(1)
            label_config = ls.label_config("nominal", LABELS)
            target = server.api("POST", "/api/projects", {"title": "bench pull", "label_config": label_config})
            setup = time.perf_counter()
            server.api("POST", f"/api/projects/{target['id']}/import", [
                {"data": {"item_id": f"d{i}", "task": "default", "text": "x"},
                 "annotations": [{"result": [ls.result_value("nominal", rng.choice(LABELS))], "completed_by": u}
                                 for u in users]} for i in range(args.tasks)])  # fmt: skip
            print(f"(setup: imported {args.tasks} tasks x 3 annotations in {time.perf_counter() - setup:.1f} s)")
            (project.sources_dir / "judged.yaml").write_text(yaml.safe_dump({
                "id": "judged", "license": "CC-BY-4.0", "obtained": "public-dataset", "location": "../judged.jsonl",
                "format": "label-studio", "kind": "annotation", "label_type": "nominal", "labels": list(LABELS),
                "label_studio": {"project": target["id"], "annotator_key_env": "BENCH_ANNOTATOR_KEY"}}))  # fmt: skip
            judged = parse_manifest(project.sources_dir / "judged.yaml")

            def report(what: str, project: Project = project, judged=judged, url: str = server.url,
                       token: str = server.token) -> None:  # fmt: skip
                pulled, _ = ls.pull_run(project, judged, ls.Client(url, token))
                print(f"{what}: {pulled.annotations} judgements, {pulled.fetched_tasks} tasks fetched, "
                      f"{pulled.new_entries} new ledger entries ({pulled.withdrawals} withdrawals): "
                      f"{pulled.total_s:.2f} s total, {pulled.server_s:.2f} s server, "
                      f"{pulled.total_s - pulled.server_s:.2f} s curaline")  # fmt: skip
                spent: dict[str, list[float]] = {}
                for call, took in pulled.calls:
                    spent.setdefault(call, []).append(took)
                print("    server time by request: " + ", ".join(f"{call} x{len(t)} {sum(t):.2f} s"
                                                              for call, t in spent.items()))  # fmt: skip

            for what in ("first pull", "second pull (nothing new)"):
                report(what)
            watch = ls.Client(server.url, server.token)
            times = []
            for _ in range(5):
                t0 = time.perf_counter()
                watch.watermark(target["id"])
                times.append(time.perf_counter() - t0)
            print(f"sensor's request per tick (Client.watermark, {args.tasks} tasks): median "
                  f"{sorted(times)[2] * 1000:.0f} ms of 5")  # fmt: skip
            # deletions (setup, not timed): whole tasks, and one annotation of as many other tasks
            ids = sorted(t for t, _ in ls.Client(server.url, server.token).tasks_updated(target["id"], None))
            deleted = max(1, args.tasks // 100)
            setup = time.perf_counter()
            for t in ids[:deleted]:
                server.api("DELETE", f"/api/tasks/{t}/")
            for t in ids[deleted : 2 * deleted]:
                first = server.api("GET", f"/api/tasks/{t}/annotations/")[0]
                server.api("DELETE", f"/api/annotations/{first['id']}/")
            print(f"(setup: deleted {deleted} tasks and {deleted} annotations in {time.perf_counter() - setup:.1f} s)")
            report(f"third pull ({deleted} tasks and {deleted} annotations deleted)")
            report("fourth pull (nothing new)")


if __name__ == "__main__":
    main()
