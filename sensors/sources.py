"""The new-or-changed-source sensor.

Triggers on: a new manifest in sources/ (adds its partition), or a change of a source's
manifest or of the content of its files (content hash, not mtime alone).
Requests: a run of `per_source_job` for that source's partition. When the set of
invalid manifests changes it requests `catalog_job`, whose `manifests_valid` check then
shows the problems in the UI; an invalid manifest never crashes the sensor.
"""

import hashlib
import json

import dagster as dg

from assets.common import source_partitions
from curaline.fingerprint import source_fingerprint
from curaline.sources import load_manifests
from resources.project import ProjectResource


def make_source_sensor(per_source_job, catalog_job, *, interval_seconds: int = 30) -> dg.SensorDefinition:
    @dg.sensor(
        name="source_sensor",
        jobs=[per_source_job, catalog_job],
        minimum_interval_seconds=interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=__doc__,
    )
    def source_sensor(context: dg.SensorEvaluationContext, project: ProjectResource):
        state = json.loads(context.cursor) if context.cursor else {}
        seen: dict[str, str] = state.get("sources", {})
        files = state.get("files", {})
        manifests, problems = load_manifests(project.project.sources_dir, strict=False)
        known = set(context.instance.get_dynamic_partitions(str(source_partitions.name)))

        requests: list[dg.RunRequest] = []
        new_partitions: list[str] = []
        next_seen: dict[str, str] = {}
        next_files: dict[str, list] = {}
        for m in manifests:
            fp, cache = source_fingerprint(m, {k: v for k, v in files.items()})
            next_seen[m.id] = fp
            next_files.update(cache)
            if m.id not in known:
                new_partitions.append(m.id)
            if m.id not in known or seen.get(m.id) != fp:
                requests.append(dg.RunRequest(job_name=per_source_job.name, partition_key=m.id,
                                              run_key=f"{m.id}:{fp[:16]}", tags={"curaline/trigger": "source"}))  # fmt: skip

        problem_lines = sorted(str(p) for p in problems)
        problems_hash = hashlib.sha256("\n".join(problem_lines).encode()).hexdigest()[:16]
        if problems_hash != state.get("problems"):
            requests.insert(0, dg.RunRequest(job_name=catalog_job.name, run_key=f"catalog:{problems_hash}"))
        for line in problem_lines:
            context.log.warning(f"invalid manifest: {line}")

        cursor = json.dumps({"sources": next_seen, "files": next_files, "problems": problems_hash}, sort_keys=True)
        if not requests:
            reason = "no new or changed source"
            if problem_lines:
                reason += f"; {len(problem_lines)} manifest problem(s): " + " | ".join(problem_lines)[:900]
            return dg.SensorResult(skip_reason=dg.SkipReason(reason), cursor=cursor)
        return dg.SensorResult(
            run_requests=requests,
            dynamic_partitions_requests=[source_partitions.build_add_request(new_partitions)] if new_partitions else [],
            cursor=cursor,
        )

    return source_sensor
