"""The new-or-changed-source sensor.

Triggers on: a new manifest in sources/ (adds its partition), or a change of a source's
manifest or of the content of its files (content hash, not mtime alone). On its first tick
(no cursor) a source counts as current when its latest `raw_records` materialization
ingested exactly these bytes, so a project that `curaline run` built is not rebuilt.
Requests, as one wave per tick with changes, each phase once the previous one's runs
succeeded: `per_source_job` for each changed source's partition, then `global_job`
(dedup, decontamination, preference pairs), then `release_job` for every release whose
spec includes a changed source. A new or changed release spec (its file's bytes, unless its
release was last built from them) joins the tick's wave, or starts one at the release
phase: its release is (re)built without re-running any source. It also adds a release partition for every valid spec in releases/. When the manifests or their problems change it requests `catalog_job`,
whose `manifests_valid` check shows invalid manifests in the UI; an invalid manifest
or release spec is reported in the skip reason and the log, never crashes the sensor.
A failed run holds its wave (re-execute it and the wave goes on); a later change of the
same sources replaces a wave still held at its per-source runs. A release the licence gate
blocked holds its wave with a note saying what to change in its spec (re-executing cannot
help); the wave goes on once the spec changes (its new build takes over) or is removed.
"""

import hashlib
import json
import os
import time
from pathlib import Path

import dagster as dg

from assets.common import release_partitions, source_partitions
from curaline.fingerprint import source_fingerprint
from curaline.release.spec import TRAINING_KINDS, ReleaseSpec, load_spec, spec_digest
from curaline.release.versions import blocked, held_release
from curaline.sources import ManifestError, SourceManifest, load_manifests
from resources.project import ProjectResource
from sensors import waves as wave_runs
from sensors.waves import PHASES, WaveRunner, log_notes


def releases_including(specs: list[ReleaseSpec], manifests: list[SourceManifest], source_ids: set[str]) -> list[str]:
    """The releases a change of these sources reaches.

    A release takes a source's records when its spec lists it, or says `all` and the
    source is of a training kind; an evaluation source changes what decontamination
    removes from every release that decontaminates; an annotation source feeds the
    preference pairs, which any release may take, so it reaches every release.
    """
    kinds = {m.id: m.kind for m in manifests if m.id in source_ids}
    out = []
    for spec in specs:
        for sid, kind in kinds.items():
            listed = sid in spec.sources if spec.sources is not None else kind in TRAINING_KINDS
            if listed or (kind == "evaluation" and spec.decontaminate) or kind == "annotation":
                out.append(spec.name)
                break
    return sorted(out)


RAW_KEY = dg.AssetKey("raw_records")
#: state files kept besides the current one (the daemon may still hold the previous cursor)
_KEEP_STATES = 4
RELEASE_KEY = dg.AssetKey("release")


def recorded(instance: dg.DagsterInstance, key: dg.AssetKey, partition: str, name: str) -> str | None:
    """What the partition's latest materialization recorded under `name` (None if never).

    A source (or spec) the sensor has never seen, on its first tick on an instance that
    `curaline run` or the demo already filled, counts as current when its latest
    materialization read exactly these bytes: nothing is rebuilt for it. Once seen, any
    change starts a wave, whoever else materialized it since.
    """
    records = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition]),
                                              limit=1).records  # fmt: skip
    if not records or records[0].asset_materialization is None:
        return None
    value = records[0].asset_materialization.metadata.get(name)
    return str(getattr(value, "value", value)) if value is not None else None


def state_dir(project) -> Path:
    """Where the source sensor keeps what it has seen (every file's size, mtime and hash, each
    source's fingerprint, each spec's digest): the project's Dagster storage, not the cursor."""
    return project.dagster_home / "curaline-sensors" / "source_sensor"


def save_state(project, detail: dict) -> str:
    """Write `detail` to a file named by its digest (never rewritten: a tick whose cursor the
    daemon discards leaves the previous file intact); keep the few newest. The digest."""
    text = json.dumps(detail, sort_keys=True)
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    folder = state_dir(project)
    path = folder / f"{digest}.json"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp-{os.getpid()}")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    else:
        os.utime(path)
    old = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime_ns, reverse=True)[_KEEP_STATES:]
    for stale in old:
        stale.unlink(missing_ok=True)
    return digest


def load_state(project, digest: str) -> dict:
    """What the cursor's digest names; empty (a first tick: nothing rebuilt that is current) if gone."""
    try:
        return dict(json.loads((state_dir(project) / f"{digest}.json").read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return {}


def built_from(instance: dg.DagsterInstance, project, name: str) -> str | None:
    """The spec digest of the release's latest build: a blocked build records none in Dagster
    (its step fails), so its verdict file has it."""
    block = blocked(project, name)
    if block is not None and block.get("spec_digest"):
        return str(block["spec_digest"])
    return recorded(instance, RELEASE_KEY, name, "spec_digest")


def load_release_specs(project, manifests: list[SourceManifest]) -> tuple[list[ReleaseSpec], list[str]]:
    """Every valid spec, and one line per problem of the others (a bad spec never stops the sensor)."""
    specs, problems = [], []
    folder = project.releases_dir
    for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
        try:
            specs.append(load_spec(path, manifests))
        except ManifestError as exc:
            problems += [f"releases/{p}" for p in exc.problems]
    return specs, problems


def make_source_sensor(per_source_job, catalog_job, global_job, release_job, *,
                       interval_seconds: int | None = None) -> dg.SensorDefinition:  # fmt: skip
    runner = WaveRunner("source", per_source_job, global_job, release_job)
    jobs = [catalog_job, *runner.jobs()]

    @dg.sensor(
        name="source_sensor",
        jobs=jobs,
        minimum_interval_seconds=interval_seconds or wave_runs.interval_seconds(),
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=__doc__,
    )
    def source_sensor(context: dg.SensorEvaluationContext, project: ProjectResource):
        state = json.loads(context.cursor) if context.cursor else {}
        proj = project.project
        detail = load_state(proj, state["state"]) if "state" in state else state  # (an older cursor held it all)
        seen: dict[str, str] = detail.get("sources", {})
        files = detail.get("files", {})
        waves: list[dict] = state.get("waves", [])
        # a fresh cursor (a new daemon, a reset sensor) counts on from now: run keys the
        # instance has seen before would be skipped by the daemon
        start = time.time_ns() // 1_000_000  # ms: two resets in one second still differ
        seq = int(state.get("seq", start))
        catalog_runs = int(state.get("catalog_runs", start))
        manifests, problems = load_manifests(proj.sources_dir, strict=False)
        specs, spec_problems = load_release_specs(proj, manifests)
        known = set(context.instance.get_dynamic_partitions(str(source_partitions.name)))
        known_releases = set(context.instance.get_dynamic_partitions(str(release_partitions.name)))

        changed: list[str] = []
        new_partitions: list[str] = []
        next_seen: dict[str, str] = {}
        next_files: dict[str, list] = {}
        for m in manifests:
            fp, cache = source_fingerprint(m, files)
            next_seen[m.id] = fp
            next_files.update(cache)
            if m.id not in known:
                new_partitions.append(m.id)
                changed.append(m.id)
            elif seen.get(m.id, fp) != fp or (
                    m.id not in seen and recorded(context.instance, RAW_KEY, m.id, "source_fingerprint") != fp):
                changed.append(m.id)
        new_releases = sorted(s.name for s in specs if s.name not in known_releases)
        seen_specs: dict[str, str] = detail.get("specs", {})
        next_specs = {sp.name: spec_digest(proj.releases_dir / f"{sp.name}.yaml") for sp in specs}
        changed_specs = sorted(n for n, h in next_specs.items() if seen_specs.get(n, h) != h or (
            n not in seen_specs and (n not in known_releases
                                     or built_from(context.instance, proj, n) != h)))  # fmt: skip

        def phase_keys(wave: dict, phase: str) -> list[str]:
            if phase == "sources":
                return list(wave["sources"])
            if phase == "releases":
                names = set(releases_including(specs, manifests, set(wave["sources"]))) | set(wave.get("releases", []))
                return sorted(names & (known_releases | set(new_releases)))
            return []

        def wave_tags(wave: dict) -> dict[str, str]:
            return {"curaline/sources": ",".join(wave["sources"])[:200]}

        selection_of = wave_runs.per_source_selection(context, runner.per_source_job.name,
                                                      {m.id: m.kind for m in manifests})  # fmt: skip
        requests, notes = runner.advance(context.instance, waves, phase_keys, wave_tags,
                                         lambda phase, key: held_release(proj, key) if phase == "releases" else None,
                                         selection_of)  # fmt: skip
        if changed or changed_specs:
            seq += 1
            changes = [f"{s}={next_seen[s]}" for s in changed] + [f"release:{n}={next_specs[n]}" for n in changed_specs]
            digest = hashlib.blake2b(",".join(changes).encode(), digest_size=4).hexdigest()
            wave = {"id": f"srcw-{seq}-{digest}", "sources": changed, "releases": changed_specs}
            replaced = [w for w in waves if w["phase"] == "sources" and set(w["sources"]) <= set(changed)] if changed else []
            for old in replaced:
                context.log.info(f"source wave {old['id']} replaced by {wave['id']}: its sources changed again")
                wave["releases"] = sorted(set(wave["releases"]) | set(old.get("releases", [])))
            waves = [w for w in waves if w not in replaced]
            waves.append(wave)
            # a spec-only change reads the current global outputs: its wave starts at the releases
            requests += runner.start(wave, 0 if changed else PHASES.index("releases"), phase_keys, wave_tags,
                                     selection_of)  # fmt: skip
            context.log.info(f"source wave {wave['id']}: " + ", ".join(
                [*changed, *(f"release spec {n}" for n in changed_specs)]) + " changed")
        for wave in [w for w in waves if w["phase"] == "done"]:
            context.log.info(f"source wave {wave['id']} finished: {', '.join(wave['sources'])}")
        waves = [w for w in waves if w["phase"] != "done"]

        problem_lines = sorted(str(p) for p in problems)
        manifest_bytes = hashlib.sha256()
        for m in sorted(manifests, key=lambda m: m.id):
            manifest_bytes.update(m.path.read_bytes())
        catalog_key = hashlib.sha256(
            ("\n".join(problem_lines) + "\x1e" + manifest_bytes.hexdigest()).encode()).hexdigest()[:16]  # fmt: skip
        if catalog_key != state.get("catalog"):  # also when it returns to an earlier state: a new run key
            catalog_runs += 1
            requests.insert(0, dg.RunRequest(job_name=catalog_job.name, run_key=f"catalog:{catalog_runs}:{catalog_key}",
                                             tags={"curaline/trigger": "source"}, run_config=wave_runs.run_config() or {}))  # fmt: skip
        for line in problem_lines:
            context.log.warning(f"invalid manifest: {line}")
        for line in spec_problems:
            context.log.warning(f"invalid release spec: {line}")
        log_notes(context, notes)

        # the cursor stays small (the UI shows it): what was seen goes to a file named by its digest
        digest = save_state(proj, {"sources": next_seen, "files": next_files, "specs": next_specs})
        cursor = json.dumps({"state": digest, "catalog": catalog_key, "waves": waves, "seq": seq,
                             "catalog_runs": catalog_runs}, sort_keys=True)  # fmt: skip
        partition_requests = []
        if new_partitions:
            partition_requests.append(source_partitions.build_add_request(new_partitions))
        if new_releases:
            partition_requests.append(release_partitions.build_add_request(new_releases))
        if not requests:
            reason = "; ".join(notes) or "no new or changed source"
            if problem_lines:
                reason += f"; {len(problem_lines)} manifest problem(s): " + " | ".join(problem_lines)
            if spec_problems:
                reason += f"; {len(spec_problems)} release spec problem(s): " + " | ".join(spec_problems)
            return dg.SensorResult(skip_reason=dg.SkipReason(reason[:2000]), cursor=cursor,
                                   dynamic_partitions_requests=partition_requests)  # fmt: skip
        return dg.SensorResult(run_requests=requests, dynamic_partitions_requests=partition_requests, cursor=cursor)

    return source_sensor
