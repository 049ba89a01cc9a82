"""Waves: one change carried through the per-source runs, then the global stages, then the releases.

Both sensors need the same ordering (a release built before its sources were re-ingested
would silently miss the change), so a wave is kept in the sensor's cursor as a plain
dict ({"id", "phase", "keys", ...}) and moved one phase on only when every run of the
current phase succeeded. Runs carry the wave and phase as tags, so a run the operator
re-executes from the UI (same tags) counts too. A failed run holds its wave.
"""

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dagster as dg

from curaline.stages import SCOPES

#: a wave's phases: the registry's scopes after the catalog, in run order (names kept in cursors)
PHASES = (*({"source": "sources", "global": "global", "release": "releases"}[s] for s in SCOPES if s != "catalog"), "done")
_FINISHED_BAD = (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)
#: minimum seconds between two ticks of each sensor (30 in production; tests shorten it)
INTERVAL_ENV = "CURALINE_SENSOR_INTERVAL"
#: "in_process": the sensors' runs execute every step in the run's own process, instead of
#: one process per step (much faster on a small machine; the daemon test uses it)
EXECUTOR_ENV = "CURALINE_SENSOR_EXECUTOR"

#: (wave, "sources" | "releases") -> the partitions that phase runs
KeysOf = Callable[[dict, str], list[str]]
#: wave -> extra tags for its runs
TagsOf = Callable[[dict], dict[str, str]]
#: source id -> the asset keys of its per-source run (None: every asset of the job)
SelectionOf = Callable[[str], "list[dg.AssetKey] | None"]
#: the asset group that only annotation sources materialize (assets.common.ANNOTATION)
ANNOTATION_GROUP = "annotation"
#: (phase, key) of a run that failed -> None (re-executing it is the fix), or (let the wave go
#: on without it?, the note for the operator): e.g. a release the licence gate blocked
Verdict = Callable[[str, str], "tuple[bool, str] | None"]


def interval_seconds(default: int = 30) -> int:
    value = os.environ.get(INTERVAL_ENV, "").strip()
    return int(value) if value else default


def run_config() -> dict | None:
    """The run config the sensors attach to every request ($CURALINE_SENSOR_EXECUTOR)."""
    executor = os.environ.get(EXECUTOR_ENV, "").strip()
    if not executor:
        return None
    if executor not in ("in_process", "multiprocess"):
        raise ValueError(f"${EXECUTOR_ENV}: {executor!r}; allowed: in_process, multiprocess")
    return {"execution": {"config": {executor: {}}}}


@dataclass(frozen=True)
class WaveRunner:
    """Starts and advances the waves of one sensor; `kind` names its tags and run keys."""

    kind: str  # "source" | "takedown"
    per_source_job: Any  # a job definition (asset jobs are unresolved until Definitions load)
    global_job: Any | None
    release_job: Any

    @property
    def wave_tag(self) -> str:
        return f"curaline/{self.kind}_wave"

    @property
    def phase_tag(self) -> str:
        return f"curaline/{self.kind}_phase"

    def jobs(self) -> list:
        return [j for j in (self.per_source_job, self.global_job, self.release_job) if j is not None]

    def start(self, wave: dict, phase_index: int, keys_of: KeysOf, tags_of: TagsOf | None = None,
              selection_of: SelectionOf | None = None) -> list[dg.RunRequest]:  # fmt: skip
        """Enter the first phase from phase_index on that has something to run; its requests."""
        for phase in PHASES[phase_index:]:
            wave["phase"] = phase
            if phase == "global":
                keys = [self.global_job.name] if self.global_job is not None else []
            else:
                keys = keys_of(wave, phase) if phase != "done" else []
            wave["keys"] = keys
            if keys:
                job = {"sources": self.per_source_job, "global": self.global_job, "releases": self.release_job}[phase]
                assert job is not None
                run_tags = {"curaline/trigger": self.kind, self.wave_tag: wave["id"], self.phase_tag: phase, **(tags_of(wave) if tags_of else {})}
                return [dg.RunRequest(job_name=job.name, run_key=f"{self.kind}:{wave['id']}:{phase}:{key}",
                                      partition_key=None if phase == "global" else key, tags=run_tags,
                                      run_config=run_config() or {},
                                      asset_selection=selection_of(key) if selection_of and phase == "sources" else None)
                        for key in keys]  # fmt: skip
        return []

    def progress(self, instance: dg.DagsterInstance, wave: dict,
                 verdict: Verdict | None = None) -> tuple[bool, list[str]]:  # fmt: skip
        """(every key of the phase has a successful run or was let go, the notes for the operator)."""
        runs = instance.get_runs(filters=dg.RunsFilter(tags={self.wave_tag: wave["id"], self.phase_tag: wave["phase"]}))
        failures = []
        all_ok = True
        for key in wave["keys"]:
            mine = [r for r in runs if (r.job_name if wave["phase"] == "global" else r.tags.get("dagster/partition")) == key]
            if any(r.status == dg.DagsterRunStatus.SUCCESS for r in mine):
                continue
            if mine and all(r.status in _FINISHED_BAD for r in mine):
                held = verdict(wave["phase"], key) if verdict is not None else None
                if held is None:
                    failures.append(f"{wave['phase']} run for {key!r} {mine[0].status.value.lower()} "
                                    f"(run {mine[0].run_id[:8]}); re-execute it to let the wave go on")  # fmt: skip
                else:
                    let_go, note = held
                    failures.append(note)
                    if let_go:
                        continue
            all_ok = False
        return all_ok, failures

    def advance(self, instance: dg.DagsterInstance, waves: list[dict], keys_of: KeysOf,
                tags_of: TagsOf | None = None, verdict: Verdict | None = None,
                selection_of: SelectionOf | None = None) -> tuple[list[dg.RunRequest], list[str]]:  # fmt: skip
        """Move every wave whose phase succeeded to its next phase; (requests, notes for the operator)."""
        requests: list[dg.RunRequest] = []
        notes: list[str] = []
        for wave in waves:
            if wave["phase"] == "done":
                continue
            ok, failures = self.progress(instance, wave, verdict)
            notes += [f"wave {wave['id']}: {f}" for f in failures]
            if ok:
                requests += self.start(wave, PHASES.index(wave["phase"]) + 1, keys_of, tags_of, selection_of)
            else:
                notes.append(f"wave {wave['id']}: waiting for {wave['phase']} runs of {', '.join(wave['keys'])}")
        return requests, notes


def per_source_selection(context: dg.SensorEvaluationContext, job_name: str,
                         kinds: dict[str, str]) -> SelectionOf:  # fmt: skip
    """source id -> the assets its per-source run materializes: the whole job for an annotation
    source, the job without the annotation group for any other (None: the whole job)."""
    repo = context.repository_def
    if repo is None:
        return lambda source_id: None
    keys = repo.get_job(job_name).asset_layer.selected_asset_keys
    graph = repo.asset_graph
    others = sorted((k for k in keys if graph.get(k).group_name != ANNOTATION_GROUP), key=lambda k: k.to_user_string())
    if len(others) == len(keys):
        return lambda source_id: None
    return lambda source_id: None if kinds.get(source_id) == "annotation" else others


def log_notes(context: dg.SensorEvaluationContext, notes: list[str]) -> None:
    for line in notes:
        act = "re-execute" in line or "blocked by the licence gate for" in line  # the operator must act
        (context.log.warning if act else context.log.info)(line)
