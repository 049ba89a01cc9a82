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

import dagster as dg

from assets.common import release_partitions, source_partitions
from curaline.takedown import load_requests, statuses
from resources.project import ProjectResource

PHASES = ("sources", "global", "releases", "done")
WAVE_TAG = "curaline/takedown_wave"
PHASE_TAG = "curaline/takedown_phase"
_FINISHED_BAD = (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)


def make_takedown_sensor(per_source_job, global_job, release_job, *, interval_seconds: int = 30) -> dg.SensorDefinition:
    """`global_job` may be None (no global stages yet): the wave goes from sources to releases."""
    jobs = [j for j in (per_source_job, global_job, release_job) if j is not None]

    @dg.sensor(
        name="takedown_sensor",
        jobs=jobs,
        minimum_interval_seconds=interval_seconds,
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
            """What a phase runs: source partitions, the global job, or release partitions."""
            wanted = [by_id[i] for i in wave["requests"] if i in by_id]
            if phase == "sources":
                known = set(context.instance.get_dynamic_partitions(str(source_partitions.name)))
                hit = {s for st in statuses(proj, wanted) for s in st.affected.sources}
                return sorted(hit & known)
            if phase == "global":
                return [global_job.name] if global_job is not None else []
            if phase == "releases":
                known = set(context.instance.get_dynamic_partitions(str(release_partitions.name)))
                hit = {r for st in statuses(proj, wanted) for r in st.affected.releases}
                for name in sorted(hit - known):
                    context.log.warning(f"release {name!r} holds taken-down records but is not a release partition")
                return sorted(hit & known)
            return []

        def start(wave: dict, phase_index: int) -> list[dg.RunRequest]:
            """Enter the first phase from phase_index on that has something to run."""
            for phase in PHASES[phase_index:]:
                wave["phase"] = phase
                keys = phase_keys(wave, phase)
                wave["keys"] = keys
                if keys:
                    job = {"sources": per_source_job, "global": global_job, "releases": release_job}[phase]
                    tags = {"curaline/trigger": "takedown", WAVE_TAG: wave["id"], PHASE_TAG: phase,
                            "curaline/takedown_requests": ",".join(wave["requests"])[:200]}  # fmt: skip
                    return [dg.RunRequest(job_name=job.name, run_key=f"takedown:{wave['id']}:{phase}:{key}",
                                          partition_key=None if phase == "global" else key, tags=tags)
                            for key in keys]  # fmt: skip
            return []

        def progress(wave: dict) -> tuple[str, list[str]]:
            """"succeeded" when every key of the phase has a successful run; else waiting, with failures."""
            runs = context.instance.get_runs(filters=dg.RunsFilter(tags={WAVE_TAG: wave["id"], PHASE_TAG: wave["phase"]}))
            failures = []
            all_ok = True
            for key in wave["keys"]:
                mine = [r for r in runs if (r.job_name if wave["phase"] == "global" else r.tags.get("dagster/partition")) == key]
                if any(r.status == dg.DagsterRunStatus.SUCCESS for r in mine):
                    continue
                all_ok = False
                if mine and all(r.status in _FINISHED_BAD for r in mine):
                    failures.append(f"{wave['phase']} run for {key!r} {mine[0].status.value.lower()} "
                                    f"(run {mine[0].run_id[:8]}); re-execute it to let the takedown go on")  # fmt: skip
            return ("succeeded" if all_ok else "waiting"), failures

        run_requests: list[dg.RunRequest] = []
        notes: list[str] = []
        for wave in waves:
            outcome, failures = progress(wave)
            notes += [f"wave {wave['id']}: {f}" for f in failures]
            if outcome == "succeeded":
                run_requests += start(wave, PHASES.index(wave["phase"]) + 1)
            else:
                notes.append(f"wave {wave['id']}: waiting for {wave['phase']} runs of {', '.join(wave['keys'])}")

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
                wave = {"id": "tdw-" + hashlib.blake2b(",".join(todo).encode(), digest_size=6).hexdigest(), "requests": todo}
                waves.append(wave)
                run_requests += start(wave, 0)
                context.log.info(f"takedown wave {wave['id']} for {', '.join(todo)}: {wave['phase']} {wave['keys']}")

        for wave in [w for w in waves if w["phase"] == "done"]:
            done += wave["requests"]
            context.log.info(f"takedown wave {wave['id']} finished: {', '.join(wave['requests'])}")
        waves = [w for w in waves if w["phase"] != "done"]
        for line in notes:
            if "re-execute" in line:
                context.log.warning(line)
            else:
                context.log.info(line)
        cursor = json.dumps({"done": sorted(set(done)), "waves": waves}, sort_keys=True)
        if run_requests:
            return dg.SensorResult(run_requests=run_requests, cursor=cursor)
        reason = "; ".join(notes) or "no new takedown request"
        if problems:
            reason += f"; {len(problems)} unreadable request file(s): " + " | ".join(problems)
        return dg.SensorResult(skip_reason=dg.SkipReason(reason[:2000]), cursor=cursor)

    return takedown_sensor
