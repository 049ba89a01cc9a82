"""The takedown / erasure sensor.

Triggers on: a takedown request under lineage/takedowns/ (recorded by `curaline takedown`)
that it has not handled yet and that is not already complete.
Requests, in three phases, each once the previous one's runs succeeded: `per_source_job`
for every affected source partition (ingest drops the records and writes `takedown`
ledger rows), then `global_job` (dedup, decontamination, mix), then the release job for
every release partition that holds an affected record. Requests seen in the same tick
share one such wave. A failed run holds its wave (re-execute it and the wave goes on);
an unreadable request file is reported in the skip reason and the log, never raised.
"""

import hashlib
import json
import time

import dagster as dg

from assets.common import release_partitions, source_partitions
from curaline.release.versions import held_release
from curaline.sources import load_manifests
from curaline.takedown import load_requests, statuses
from resources.project import ProjectResource
from sensors import waves as wave_runs
from sensors.waves import WaveRunner, log_notes


def make_takedown_sensor(per_source_job, global_job, release_job, *, interval_seconds: int | None = None) -> dg.SensorDefinition:
    """`global_job` may be None (no global stages yet): the wave goes from sources to releases."""
    runner = WaveRunner("takedown", per_source_job, global_job, release_job)

    @dg.sensor(
        name="takedown_sensor",
        jobs=runner.jobs(),
        minimum_interval_seconds=interval_seconds or wave_runs.interval_seconds(),
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=__doc__,
    )
    def takedown_sensor(context: dg.SensorEvaluationContext, project: ProjectResource):
        state = json.loads(context.cursor) if context.cursor else {}
        done: list[str] = state.get("done", [])
        waves: list[dict] = state.get("waves", [])
        proj = project.project
        requests, problems = load_requests(proj, strict=False)
        by_id = {r.id: r for r in requests}
        for line in problems:
            context.log.warning(f"unreadable takedown request: {line}")

        def phase_keys(wave: dict, phase: str) -> list[str]:
            """What a phase runs: the affected source partitions, or the affected release partitions."""
            wanted = [by_id[i] for i in wave["requests"] if i in by_id]
            if phase == "sources":
                known = set(context.instance.get_dynamic_partitions(str(source_partitions.name)))
                hit = {s for st in statuses(proj, wanted) for s in st.affected.sources}
                return sorted(hit & known)
            if phase == "releases":
                known = set(context.instance.get_dynamic_partitions(str(release_partitions.name)))
                hit = {r for st in statuses(proj, wanted) for r in st.affected.releases}
                for name in sorted(hit - known):
                    context.log.warning(f"release {name!r} holds taken-down records but is not a release partition")
                return sorted(hit & known)
            return []

        def wave_tags(wave: dict) -> dict[str, str]:
            return {"curaline/takedown_requests": ",".join(wave["requests"])[:200]}

        manifests, _ = load_manifests(proj.sources_dir, strict=False)
        selection_of = wave_runs.per_source_selection(context, runner.per_source_job.name,
                                                      {m.id: m.kind for m in manifests})  # fmt: skip
        run_requests, notes = runner.advance(context.instance, waves, phase_keys, wave_tags,
                                             lambda phase, key: held_release(proj, key) if phase == "releases" else None,
                                             selection_of)  # fmt: skip

        handled = set(done) | {i for w in waves for i in w["requests"]}
        new = [r for r in requests if r.id not in handled]
        if new:
            todo = []
            for st in statuses(proj, new):
                if st.status == "complete":
                    done.append(st.request.id)
                else:
                    todo.append(st.request.id)
            if todo:
                # the start time keeps run keys new after a cursor reset (the daemon skips a seen key)
                digest = hashlib.blake2b(",".join(todo).encode(), digest_size=6).hexdigest()
                wave = {"id": f"tdw-{time.time_ns() // 1_000_000}-{digest}", "requests": todo}
                waves.append(wave)
                run_requests += runner.start(wave, 0, phase_keys, wave_tags, selection_of)
                context.log.info(f"takedown wave {wave['id']} for {', '.join(todo)}: {wave['phase']} {wave['keys']}")

        for wave in [w for w in waves if w["phase"] == "done"]:
            done += wave["requests"]
            context.log.info(f"takedown wave {wave['id']} finished: {', '.join(wave['requests'])}")
        waves = [w for w in waves if w["phase"] != "done"]
        log_notes(context, notes)
        cursor = json.dumps({"done": sorted(set(done)), "waves": waves}, sort_keys=True)
        if run_requests:
            return dg.SensorResult(run_requests=run_requests, cursor=cursor)
        reason = "; ".join(notes) or "no new takedown request"
        if problems:
            reason += f"; {len(problems)} unreadable request file(s): " + " | ".join(problems)
        return dg.SensorResult(skip_reason=dg.SkipReason(reason[:2000]), cursor=cursor)

    return takedown_sensor
