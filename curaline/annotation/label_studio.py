"""The human-judgement round trip with Label Studio: push the review queue, pull judgements back.

Label Studio pins versions that conflict with the project's, so curaline never imports
it: everything goes over its REST API (urllib, token auth). The token is read from the
environment variable `annotation.label_studio.token_env` names, at call time, and never
written to disk, lineage or an error message.

Push: the top of an annotation source's `review_queue` becomes Label Studio tasks
(`doc_id`, `item_id`, `task`, the PII-redacted text of the target record from
`pii_redacted`), each with the adjudicated label and its confidence as a prediction
(pre-annotation). The project is created, with a labelling config derived from the
manifest's `label_type` and `labels`, when no project of that title exists.

Pull, incremental by update time: Label Studio moves a task's `updated_at` whenever one
of its annotations is created, edited or deleted, so a pull lists the tasks updated after
the previous pull's cursor (the newest task update time it listed, taken before the
export, so nothing changed during a pull is skipped) and exports only those; the first
pull exports everything (its cursor: the project's newest task update time, asked in one
small request before the export). Annotation versions not yet in the ledger are new entries. Each version is
appended to the judgement ledger (`lineage/label_studio/<source>/pull=<run>.parquet`:
an edit in Label Studio is a new entry there), and the source's mirror file (its
manifest `location`, JSONL) is rewritten with one current judgement per annotator per
item, so ingest reads it like any annotation file. Annotators appear only as a keyed
hash (HMAC-SHA256 of the Label Studio user id, the key in the environment variable the
manifest names), so the ledger and the records hold no one's identity.

Deletions: a judgement that was live in the ledger and is gone from Label Studio (its
annotation deleted or cancelled: its task is fetched again, without it; its task deleted:
seen when the project's task count falls short of the tasks the last pull knew plus those
updated since, whereupon the task ids are listed) gets a `withdraw` entry (label null), and
leaves the mirror, so agreement and labels recompute without it.

Watching: `Client.watermark` is one small request whose answer changes whenever a judgement
is made, edited or deleted (the annotated tasks' count, their annotations' count, the newest
update time among them); the source sensor fingerprints a label-studio source by it and its
manifest (`source_fingerprint`, through `Watcher`), and a pull records the same fingerprint
taken before it starts, so the sensor's first tick knows a source it has already pulled.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import quoteattr

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

if TYPE_CHECKING:
    from curaline.project import Project
    from curaline.sources import SourceManifest

#: keys of `annotation.label_studio` in curaline.yaml
SETTINGS_KEYS = ("url", "project", "token_env")
#: keys of a manifest's `label_studio` mapping (format: label-studio)
MANIFEST_KEYS = ("project", "annotator_key_env")
#: the pseudonym prefix: says where the annotator id came from
PSEUDONYM_PREFIX = "ls-"
#: the prediction's model version: what Label Studio shows as the pre-annotation's origin
MODEL_VERSION = "curaline-adjudicated"
#: the name of the control and object tags in the generated labelling config
CONTROL, OBJECT = "label", "text"
#: the mirror file's fields: curaline's own names (the format has a fixed layout)
MIRROR_FIELDS = ("id", "item_id", "annotator_id", "label", "task", "annotated_at")

LEDGER_SCHEMA = pa.schema([
    ("source_id", pa.string()), ("ls_project", pa.int64()), ("ls_task", pa.int64()), ("ls_annotation", pa.int64()),
    ("item_id", pa.string()), ("task", pa.string()), ("annotator_id", pa.string()), ("label", pa.string()),
    ("updated_at", pa.string()), ("version", pa.int64()), ("event", pa.string()), ("run_id", pa.string()),
    ("pulled_at", pa.string()),  # ISO 8601 UTC, like updated_at
])  # fmt: skip


class LabelStudioError(RuntimeError):
    """Label Studio cannot be used as configured: str() says what and where, without the token."""


class LabelStudioUnreachable(LabelStudioError):
    """No answer from the server at all (refused, timed out): every request to it would fail alike."""


# ---- settings ----------------------------------------------------------------------------


@dataclass(frozen=True)
class LabelStudioSettings:
    url: str
    project: str  # the Label Studio project's title
    token_env: str

    def token(self) -> str:
        value = os.environ.get(self.token_env, "").strip()
        if not value:
            raise LabelStudioError(f"the environment variable {self.token_env} (annotation.label_studio.token_env) "
                                   "is not set: it must hold the Label Studio API token")  # fmt: skip
        return value


def parse_settings(raw: object, where: str = "annotation.label_studio") -> LabelStudioSettings:
    """Strictly validated `annotation.label_studio`; ValueError lists every problem."""
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: must be a mapping with {', '.join(SETTINGS_KEYS)}, got {raw!r}")
    problems = [f"{where}.{k}: unknown key; allowed: {', '.join(SETTINGS_KEYS)}" for k in raw if k not in SETTINGS_KEYS]
    for key in SETTINGS_KEYS:
        value = raw.get(key)
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{where}.{key}: is required, a non-empty string")
    url = raw.get("url")
    if isinstance(url, str) and not url.startswith(("http://", "https://")):
        problems.append(f"{where}.url: must be an http(s) URL, got {url!r}")
    env = raw.get("token_env")
    if isinstance(env, str) and env and not (env.replace("_", "a").isalnum() and not env[0].isdigit()):
        problems.append(f"{where}.token_env: must name an environment variable (letters, digits, _), got {env!r}")
    if problems:
        raise ValueError("; ".join(problems))
    return LabelStudioSettings(url=str(url).rstrip("/"), project=str(raw["project"]), token_env=str(env))


def parse_annotation_config(raw: object) -> dict[str, Any]:
    """The `annotation:` mapping of curaline.yaml, validated (only `label_studio` for now)."""
    if not isinstance(raw, dict):
        raise ValueError(f"annotation: must be a mapping, got {raw!r}")
    unknown = sorted(set(raw) - {"label_studio"})
    if unknown:
        raise ValueError(f"annotation: unknown key(s) {', '.join(map(str, unknown))}; allowed: label_studio")
    return {"label_studio": parse_settings(raw["label_studio"])} if "label_studio" in raw else {}


def manifest_problems(raw: object, fmt: str | None) -> list[tuple[str, str]]:
    """(field, message) for a manifest's `label_studio` mapping, which format label-studio requires."""
    if fmt != "label-studio":
        return [("label_studio", "is only for format 'label-studio'")] if raw is not None else []
    if not isinstance(raw, dict):
        return [("label_studio", f"is required for format 'label-studio': a mapping with {', '.join(MANIFEST_KEYS)}")]
    out = [(f"label_studio.{k}", f"unknown key; allowed: {', '.join(MANIFEST_KEYS)}") for k in raw if k not in MANIFEST_KEYS]
    project = raw.get("project")
    if not (isinstance(project, int) and not isinstance(project, bool) and project > 0):
        out.append(("label_studio.project", f"must be the Label Studio project id (a positive integer), got {project!r}"))
    key_env = raw.get("annotator_key_env")
    if not (isinstance(key_env, str) and key_env.replace("_", "a").isalnum() and not key_env[0].isdigit()):
        out.append(("label_studio.annotator_key_env",
                    f"must name the environment variable holding the pseudonymisation key, got {key_env!r}"))  # fmt: skip
    return out


def settings_of(project: Project) -> LabelStudioSettings:
    settings = project.config.annotation.get("label_studio")
    if settings is None:
        raise LabelStudioError("curaline.yaml has no annotation.label_studio: {url, project, token_env}")
    return settings


# ---- the HTTP client ---------------------------------------------------------------------


class Client:
    """Label Studio's REST API over urllib; the token stays in memory."""

    def __init__(self, url: str, token: str, timeout_s: float = 300.0):
        self.url = url.rstrip("/")
        self._token = token
        self.timeout_s = timeout_s
        #: seconds spent waiting for the server: the server's own share of a push or pull
        self.server_s = 0.0
        #: (method and path without the query, seconds) of each request: where the server's share went
        self.calls: list[tuple[str, float]] = []

    @classmethod
    def from_settings(cls, settings: LabelStudioSettings) -> Client:
        return cls(settings.url, settings.token())

    def request(self, method: str, path: str, body: Any = None, *, token: str | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Authorization", f"Token {token or self._token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                payload = resp.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:300].decode("utf-8", "replace")
            raise LabelStudioError(f"Label Studio {method} {path}: HTTP {exc.code}: {detail}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise LabelStudioUnreachable(
                f"Label Studio at {self.url} cannot be reached ({method} {path}): {exc}"
            ) from None
        finally:
            took = time.perf_counter() - started
            self.server_s += took
            self.calls.append((f"{method} {path.split('?', 1)[0]}", took))
        return json.loads(payload) if payload else None

    def find_project(self, title: str) -> dict[str, Any] | None:
        page = 1
        while True:
            got = self.request("GET", f"/api/projects?page={page}&page_size=100")
            results = got["results"] if isinstance(got, dict) else got
            for p in results:
                if p.get("title") == title:
                    return p
            if not isinstance(got, dict) or not got.get("next"):
                return None
            page += 1

    def create_project(self, title: str, label_config: str) -> dict[str, Any]:
        return self.request("POST", "/api/projects", {"title": title, "label_config": label_config})

    def import_tasks(self, project_id: int, tasks: list[dict[str, Any]]) -> dict[str, Any]:
        return self.request("POST", f"/api/projects/{project_id}/import", tasks)

    def export(self, project_id: int, ids: list[int] | None = None, batch: int = 400) -> list[dict[str, Any]]:
        """Tasks of the project with their annotations (Label Studio's JSON export): all, or those `ids`."""
        path = f"/api/projects/{project_id}/export?exportType=JSON&download_all_tasks=true"
        if ids is None:
            return self.request("GET", path)
        out: list[dict[str, Any]] = []
        for start in range(0, len(ids), batch):
            out += self.request("GET", path + "".join(f"&ids[]={i}" for i in ids[start:start + batch]))
        return out

    def tasks_updated(self, project_id: int, since: str | None, page_size: int = 5000) -> list[tuple[int, str]]:
        """(id, updated_at) of the project's tasks updated after `since` (all when None): the
        task's `updated_at` moves whenever one of its annotations is created, edited or deleted."""
        items = [] if since is None else [{"filter": "filter:tasks:updated_at", "operator": "greater",
                                            "type": "Datetime", "value": since}]  # fmt: skip
        out: list[tuple[int, str]] = []
        page = 1
        while True:
            got = self.tasks_page(project_id, items, page=page, page_size=page_size)
            out += [(int(t["id"]), str(t["updated_at"])) for t in got["tasks"]]
            if len(out) >= int(got.get("total", 0)) or not got["tasks"]:
                return out
            page += 1

    def tasks_page(self, project_id: int, filters: list[dict[str, Any]], *, page: int = 1, page_size: int = 1,
                   ordering: str | None = None) -> dict[str, Any]:  # fmt: skip
        """One page of the project's task list (ids and update times only), with the list's
        `total` (tasks that pass the filters) and `total_annotations` (their annotations)."""
        query: dict[str, Any] = {"filters": {"conjunction": "and", "items": filters}}
        if ordering:
            query["ordering"] = [ordering]
        got = self.request("GET", f"/api/tasks?project={project_id}&fields=task_only&page={page}"
                                  f"&page_size={page_size}&query={urllib.parse.quote(json.dumps(query))}")  # fmt: skip
        if not isinstance(got, dict) or not isinstance(got.get("tasks"), list):
            raise LabelStudioError(
                f"Label Studio GET /api/tasks?project={project_id}: not a task list: {str(got)[:200]}"
            )
        return got

    def summary(self, project_id: int, filters: list[dict[str, Any]] | None = None) -> tuple[int, int, str | None]:
        """(tasks, their annotations, the newest task update time) of the project's tasks that
        pass `filters` (all when None), in one small request."""
        got = self.tasks_page(project_id, filters or [], ordering="-tasks:updated_at")
        newest = str(got["tasks"][0]["updated_at"]) if got["tasks"] else None
        return int(got.get("total") or 0), int(got.get("total_annotations") or 0), newest

    def watermark(self, project_id: int) -> str:
        """What changes whenever a judgement of the project is made, edited or withdrawn, in one
        small request: over the tasks that hold an annotation, their number, their annotations'
        number and the newest task update time (a task's `updated_at` moves with any change of
        its annotations). Tasks without annotations (a push adds them) leave it alone."""
        annotated = [{"filter": "filter:tasks:total_annotations", "operator": "greater", "type": "Number", "value": 0}]
        tasks, annotations, newest = self.summary(project_id, annotated)
        return json.dumps({"tasks": tasks, "annotations": annotations, "newest": newest}, sort_keys=True)


# ---- push --------------------------------------------------------------------------------


def label_config(label_type: str, labels: tuple[str, ...]) -> str:
    """A labelling config for the source's labels: single choice (nominal, ordinal) or a number."""
    head = f'<View>\n  <Text name="{OBJECT}" value="$text"/>\n'
    if label_type == "interval":
        lo, hi = (min(map(float, labels)), max(map(float, labels))) if labels else (None, None)
        bounds = f' min="{lo:g}" max="{hi:g}"' if lo is not None else ""
        return head + f'  <Number name="{CONTROL}" toName="{OBJECT}" required="true"{bounds}/>\n</View>'
    if not labels:
        raise LabelStudioError("a choice labelling config needs the manifest's `labels`")
    choices = "\n".join(f"    <Choice value={quoteattr(v)}/>" for v in labels)
    return head + f'  <Choices name="{CONTROL}" toName="{OBJECT}" choice="single" required="true">\n{choices}\n  </Choices>\n</View>'


def result_value(label_type: str, label: str) -> dict[str, Any]:
    """A Label Studio result (one region) saying `label`."""
    if label_type == "interval":
        return {"from_name": CONTROL, "to_name": OBJECT, "type": "number", "value": {"number": float(label)}}
    return {"from_name": CONTROL, "to_name": OBJECT, "type": "choices", "value": {"choices": [label]}}


def label_of(result: list[dict[str, Any]]) -> str | None:
    """The label an annotation's result gives, canonical; None when it gives none."""
    from curaline.records import canonical_label

    for region in result or []:
        if region.get("from_name") != CONTROL:
            continue
        value = region.get("value") or {}
        if "choices" in value and value["choices"]:
            return canonical_label(value["choices"][0])
        if "number" in value and value["number"] is not None:
            return canonical_label(value["number"])
    return None


@dataclass
class PushResult:
    ls_project: int
    created: bool
    tasks: int
    skipped_without_text: int
    server_s: float
    total_s: float
    tasks_table: pa.Table = field(repr=False)


def queue_tasks(project: Project, manifest: SourceManifest, limit: int | None) -> tuple[pa.Table, int]:
    """The top `limit` review-queue items with the redacted text of their target record."""
    queue_path = project.stage_path("review_queue", manifest.id)
    if not queue_path.exists():
        raise LabelStudioError(f"{queue_path}: no review queue for {manifest.id!r} yet; run its annotation stages first")
    if not manifest.target_source:
        raise LabelStudioError(f"{manifest.path}: target_source: is required to push (the records the items describe)")
    text_path = project.stage_path("pii_redacted", manifest.target_source)
    if not text_path.exists():
        raise LabelStudioError(f"{text_path}: the target source {manifest.target_source!r} has no PII-redacted records "
                               "yet; only redacted text leaves curaline")  # fmt: skip
    queue = pq.read_table(queue_path).sort_by("priority")
    if limit is not None:
        queue = queue.slice(0, limit)
    texts = pq.read_table(text_path, columns=["doc_id", "text"])
    joined = queue.join(texts, "target_doc_id", "doc_id", join_type="left outer").sort_by("priority")
    has_text = pc.is_valid(joined["text"])
    return joined.filter(has_text), int(joined.num_rows - pc.sum(has_text).as_py() if joined.num_rows else 0)


def push(project: Project, manifest: SourceManifest, client: Client, settings: LabelStudioSettings,
         limit: int | None = None) -> PushResult:  # fmt: skip
    """Send the top of the source's review queue to the settings' Label Studio project."""
    started = time.perf_counter()
    if manifest.kind != "annotation":
        raise LabelStudioError(f"{manifest.path}: kind {manifest.kind!r}: only an annotation source has a review queue")
    label_type = manifest.label_type or "nominal"
    table, skipped = queue_tasks(project, manifest, limit)
    found = client.find_project(settings.project)
    created = found is None
    ls = found or client.create_project(settings.project, label_config(label_type, manifest.labels))
    cols = {name: table[name].to_pylist() for name in ("target_doc_id", "item_id", "task", "text", "label", "confidence")}
    tasks = []
    for doc_id, item, task, text, label, conf in zip(*cols.values(), strict=True):
        entry: dict[str, Any] = {"data": {"doc_id": doc_id, "item_id": item, "task": task, "text": text,
                                          "source_id": manifest.id}}  # fmt: skip
        if label is not None:
            entry["predictions"] = [{"model_version": MODEL_VERSION, "score": conf,
                                     "result": [result_value(label_type, label)]}]  # fmt: skip
        tasks.append(entry)
    if tasks:
        client.import_tasks(int(ls["id"]), tasks)
    return PushResult(ls_project=int(ls["id"]), created=created, tasks=len(tasks), skipped_without_text=skipped,
                      server_s=client.server_s, total_s=time.perf_counter() - started, tasks_table=table)  # fmt: skip


# ---- pull --------------------------------------------------------------------------------


def pseudonym(key: bytes, user_id: object) -> str:
    """The annotator's stable pseudonym: a keyed hash of their Label Studio user id."""
    return PSEUDONYM_PREFIX + hmac.new(key, str(user_id).encode(), hashlib.sha256).hexdigest()[:16]


def annotator_key(manifest: SourceManifest) -> bytes:
    env = (manifest.label_studio or {}).get("annotator_key_env", "")
    value = os.environ.get(env, "")
    if len(value) < 16:
        raise LabelStudioError(f"{manifest.path}: label_studio.annotator_key_env: the environment variable {env} must "
                               "hold the pseudonymisation key (at least 16 characters)")  # fmt: skip
    return value.encode()


def ledger_folder(project: Project, source_id: str) -> Path:
    return project.lineage_dir / "label_studio" / source_id


def read_ledger(project: Project, source_id: str) -> pa.Table:
    folder = ledger_folder(project, source_id)
    files = sorted(folder.glob("pull=*.parquet")) if folder.exists() else []
    return pa.concat_tables([pq.read_table(f) for f in files]) if files else LEDGER_SCHEMA.empty_table()


def _annotations(export: list[dict[str, Any]], project_id: int, key: bytes) -> pa.Table:
    """One row per live annotation of the export (cancelled/skipped ones and ones without a label left out)."""
    rows: dict[str, list[Any]] = {n: [] for n in ("ls_task", "ls_annotation", "item_id", "task", "annotator_id",
                                                  "label", "updated_at")}  # fmt: skip
    for t in export:
        data = t.get("data") or {}
        for a in t.get("annotations") or []:
            label = label_of(a.get("result") or [])
            if a.get("was_cancelled") or label is None:
                continue
            user = a.get("completed_by")
            user = user.get("id") if isinstance(user, dict) else user
            rows["ls_task"].append(int(t["id"]))
            rows["ls_annotation"].append(int(a["id"]))
            rows["item_id"].append(str(data.get("item_id")))
            rows["task"].append(str(data.get("task") or "default"))
            rows["annotator_id"].append(pseudonym(key, user))
            rows["label"].append(label)
            rows["updated_at"].append(str(a.get("updated_at") or a.get("created_at")))
    table = pa.table(rows, schema=pa.schema([LEDGER_SCHEMA.field(n) for n in rows]))
    return table.append_column("ls_project", pa.array([project_id] * table.num_rows, pa.int64()))


@dataclass
class PullResult:
    ls_project: int
    annotations: int  # live annotations in Label Studio now
    fetched_tasks: int  # tasks exported this time: all on the first pull, then those updated since
    new_entries: int  # ledger entries this pull wrote: new, edited and withdrawn judgements
    edits: int  # of which edits of a judgement already in the ledger
    withdrawals: int  # of which judgements gone from Label Studio (task or annotation deleted, or cancelled)
    current: int  # judgements in the mirror: one per (task, item, annotator)
    ledger_path: Path | None
    mirror_path: Path
    server_s: float
    total_s: float
    #: (method and path, seconds) of each request to Label Studio
    calls: list[tuple[str, float]] = field(default_factory=list)
    #: the source's fingerprint as the sensor computes it, from the watermark taken before the
    #: pull (curaline.annotation.label_studio.source_fingerprint): what `raw_records` records
    fingerprint: str = ""


def source_fingerprint(manifest: SourceManifest, watermark: str) -> str:
    """A label-studio source's fingerprint: its manifest's bytes and the project's judgement
    watermark (Client.watermark). The mirror file is left out: the pull writes it, so it would
    read as a change after every run of the source."""
    h = hashlib.sha256(manifest.path.read_bytes())
    h.update(b"\x1elabel-studio\x1f" + watermark.encode())
    return h.hexdigest()


class Watcher:
    """What the source sensor asks Label Studio on a tick: one small request per label-studio
    source (Client.watermark), with a short timeout. A problem every source would meet alike
    (no settings, no token, no answer from the server) is met once per tick: the sources after
    get the same error without another request."""

    def __init__(self, project: Project, timeout_s: float = 10.0):
        self.project = project
        self.timeout_s = timeout_s
        self._client: Client | None = None
        self._down: LabelStudioError | None = None

    def fingerprint(self, manifest: SourceManifest) -> str:
        """The source's fingerprint now; LabelStudioError (the token never in it) when it cannot be had."""
        if self._down is not None:
            raise self._down
        try:
            if self._client is None:
                settings = settings_of(self.project)
                self._client = Client(settings.url, settings.token(), timeout_s=self.timeout_s)
        except LabelStudioError as exc:
            self._down = exc
            raise
        project_id = int((manifest.label_studio or {}).get("project", 0))
        try:
            return source_fingerprint(manifest, self._client.watermark(project_id))
        except LabelStudioUnreachable as exc:
            self._down = exc
            raise


def _live(ledger: pa.Table) -> dict[int, dict[str, Any]]:
    """Each annotation whose latest ledger entry is not a withdrawal: its latest entry."""
    last: dict[int, dict[str, Any]] = {}
    for row in ledger.select(["ls_project", "ls_task", "ls_annotation", "item_id", "task", "annotator_id",
                              "event"]).to_pylist():  # fmt: skip
        last[row["ls_annotation"]] = row
    return {a: row for a, row in last.items() if row["event"] != WITHDRAW}


#: the ledger event of a judgement gone from Label Studio (its task or annotation deleted, or cancelled)
WITHDRAW = "withdraw"


def pull(project: Project, manifest: SourceManifest, client: Client, run_id: str) -> PullResult:
    """Fetch the project's annotations; append new versions and withdrawals to the ledger, rewrite the mirror.

    Deletions: a deleted annotation moves its task's update time, so its task is fetched again
    and the annotation is missing from it; a deleted task is seen by its count (one request:
    the project's task count against the tasks the last pull knew plus those updated since),
    and only when the count is short are the project's task ids listed to find which. A
    judgement in the ledger that is no longer live gets a `withdraw` entry: nothing vanishes
    from the lineage, only from the mirror (and so from the records and labels built on it).
    """
    from curaline.store import write_parquet

    started = time.perf_counter()
    if manifest.format != "label-studio" or not manifest.label_studio:
        raise LabelStudioError(f"{manifest.path}: format: pull needs format 'label-studio' with label_studio.project")
    project_id = int(manifest.label_studio["project"])
    key = annotator_key(manifest)
    files = manifest.files()
    if len(files) != 1 or files[0].is_dir():
        raise LabelStudioError(f"{manifest.path}: location: must name one file (the mirror pull writes), not "
                               f"{manifest.location!r}")  # fmt: skip
    mirror = files[0]
    fingerprint = source_fingerprint(manifest, client.watermark(project_id))  # first: a later change reads as one
    cursor, previous, known_tasks = _state(project, manifest.id, project_id)
    if cursor is None:  # first pull (or another project): everything
        # the cursor: the newest task update time, taken before the export (later changes come after it)
        new_cursor = client.summary(project_id)[2]
        export = client.export(project_id)
        now = _annotations(export, project_id, key)
        updated_at = {int(t["id"]): str(t.get("updated_at") or "") for t in export}
        tasks_now = set(updated_at)
    else:  # only the tasks updated since: their annotations replace what the last pull had of them
        listed = client.tasks_updated(project_id, cursor)  # before the export: later changes stay after the cursor
        new_cursor = max([u for _, u in listed], default=cursor)
        updated_at = dict(listed)
        changed = [t for t, _ in listed]
        expected = (known_tasks if known_tasks is not None else set(previous["ls_task"].to_pylist())) | set(changed)
        if known_tasks is None or client.summary(project_id)[0] != len(expected):  # some were deleted: which
            tasks_now = {t for t, _ in client.tasks_updated(project_id, None)}
        else:
            tasks_now = expected
        export = client.export(project_id, changed) if changed else []
        gone = pa.array(sorted(set(changed) | (expected - tasks_now)), pa.int64())
        kept = previous.filter(pc.invert(pc.is_in(previous["ls_task"], gone)))
        now = pa.concat_tables([kept, _annotations(export, project_id, key).select(kept.column_names)])
    ledger = read_ledger(project, manifest.id)
    live = _live(ledger)
    # the cursor: the newest version of each annotation already in the ledger
    seen = {(a, u) for a, u in zip(ledger["ls_annotation"].to_pylist(), ledger["updated_at"].to_pylist(), strict=True)}
    known = set(ledger["ls_annotation"].to_pylist())
    now_ids = now["ls_annotation"].to_pylist()
    fresh = [i for i, (a, u) in enumerate(zip(now_ids, now["updated_at"].to_pylist(), strict=True))
             if (a, u) not in seen or a not in live]  # fmt: skip
    new = now.take(pa.array(fresh, pa.int64()))
    stamp = dt.datetime.now(dt.UTC)
    still = set(now_ids)
    withdrawn = [row for a, row in live.items() if a not in still]
    ledger_path = None
    edits = 0
    if new.num_rows or withdrawn:
        counts: dict[int, int] = {}
        for a in ledger["ls_annotation"].to_pylist():
            counts[a] = counts.get(a, 0) + 1
        ids = new["ls_annotation"].to_pylist()
        edits = sum(a in known for a in ids)
        entries = pa.table({
            "source_id": pa.array([manifest.id] * new.num_rows, pa.string()),
            "ls_project": new["ls_project"], "ls_task": new["ls_task"], "ls_annotation": new["ls_annotation"],
            "item_id": new["item_id"], "task": new["task"], "annotator_id": new["annotator_id"], "label": new["label"],
            "updated_at": new["updated_at"],
            "version": pa.array([counts.get(a, 0) + 1 for a in ids], pa.int64()),
            "event": pa.array(["edit" if a in known else "new" for a in ids], pa.string()),
            "run_id": pa.array([run_id] * new.num_rows, pa.string()),
            "pulled_at": pa.array([stamp.isoformat()] * new.num_rows, pa.string()),
        }, schema=LEDGER_SCHEMA)  # fmt: skip
        if withdrawn:  # the label is null: no judgement; when it went: its task's update time, or (task deleted) now
            entries = pa.concat_tables([entries, pa.Table.from_pylist([{
                **{k: row[k] for k in ("ls_project", "ls_task", "ls_annotation", "item_id", "task", "annotator_id")},
                "source_id": manifest.id, "label": None, "updated_at": updated_at.get(row["ls_task"]) or stamp.isoformat(),
                "version": counts.get(row["ls_annotation"], 0) + 1, "event": WITHDRAW, "run_id": run_id,
                "pulled_at": stamp.isoformat()} for row in withdrawn], schema=LEDGER_SCHEMA)])  # fmt: skip
        ledger_path = ledger_folder(project, manifest.id) / f"pull={stamp:%Y%m%dT%H%M%S%fZ}-{run_id[:8]}.parquet"
        write_parquet(ledger_path, entries)
    current = _current(now)
    _write_mirror(mirror, current)
    _save_state(project, manifest.id, project_id, new_cursor, now, tasks_now)
    return PullResult(ls_project=project_id, annotations=now.num_rows, new_entries=new.num_rows + len(withdrawn),
                      edits=edits, withdrawals=len(withdrawn), fetched_tasks=len(export),
                      current=current.num_rows, ledger_path=ledger_path, mirror_path=mirror,
                      server_s=client.server_s, total_s=time.perf_counter() - started, calls=list(client.calls),
                      fingerprint=fingerprint)  # fmt: skip


def _state(project: Project, source_id: str, project_id: int) -> tuple[str | None, pa.Table, set[int] | None]:
    """(task update-time cursor, live annotations, the project's task ids) of the last pull;
    (None, empty, None) if none or another project (task ids None: a state from before they were kept)."""
    folder = ledger_folder(project, source_id)
    try:
        state = json.loads((folder / "cursor.json").read_text())
        if state.get("ls_project") == project_id and state.get("task_updated_at"):
            tasks_file = folder / "tasks.parquet"
            tasks = set(pq.read_table(tasks_file)["ls_task"].to_pylist()) if tasks_file.exists() else None
            return str(state["task_updated_at"]), pq.read_table(folder / "current.parquet"), tasks
    except (OSError, ValueError, KeyError):
        pass
    return None, pa.table({}), None


def _save_state(project: Project, source_id: str, project_id: int, cursor: str | None, now: pa.Table,
                tasks: set[int]) -> None:  # fmt: skip
    from curaline.store import write_parquet

    folder = ledger_folder(project, source_id)
    write_parquet(folder / "current.parquet", now)
    write_parquet(folder / "tasks.parquet", pa.table({"ls_task": pa.array(sorted(tasks), pa.int64())}))
    tmp = folder / f".cursor.json.tmp-{os.getpid()}"
    tmp.write_text(json.dumps({"ls_project": project_id, "task_updated_at": cursor}))
    os.replace(tmp, folder / "cursor.json")


def _current(now: pa.Table) -> pa.Table:
    """One judgement per (task, item, annotator): the latest updated (an annotator may annotate a task twice)."""
    if not now.num_rows:
        return now
    ordered = now.sort_by([("task", "ascending"), ("item_id", "ascending"), ("annotator_id", "ascending"),
                           ("updated_at", "descending"), ("ls_annotation", "descending")])  # fmt: skip
    keys = [f"{t}\x00{i}\x00{a}" for t, i, a in zip(ordered["task"].to_pylist(), ordered["item_id"].to_pylist(),
                                                      ordered["annotator_id"].to_pylist(), strict=True)]  # fmt: skip
    first = [n for n in range(len(keys)) if n == 0 or keys[n] != keys[n - 1]]
    return ordered.take(pa.array(first, pa.int64()))


def _write_mirror(path: Path, current: pa.Table) -> None:
    """The mirror JSONL, written atomically (ingest may read it concurrently); left untouched when
    its bytes would not change, so a source with no new judgements keeps its shard (curaline.shards)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    cols = [current[n].to_pylist() for n in ("ls_annotation", "item_id", "annotator_id", "label", "task", "updated_at")]
    with open(tmp, "w", encoding="utf-8") as fh:
        for row in zip(*cols, strict=True):
            fh.write(json.dumps(dict(zip(MIRROR_FIELDS, (str(row[0]), *row[1:]), strict=True)), ensure_ascii=False))
            fh.write("\n")
    import filecmp

    if path.is_file() and filecmp.cmp(tmp, path, shallow=False):
        tmp.unlink()
        return
    os.replace(tmp, path)


def mirror_refs() -> dict[str, str]:
    """The reader's field mapping for the mirror: curaline's own names."""
    return {name: name for name in MIRROR_FIELDS}


# ---- runs with lineage -------------------------------------------------------------------


def ls_dataset_name(project_id: int) -> str:
    return f"label-studio/projects/{project_id}"


def _emitter(project: Project):
    from curaline.lineage.emitter import LineageEmitter

    return LineageEmitter(project, license_classes=project.config.license_classes)


def push_run(project: Project, manifest: SourceManifest, limit: int | None = None,
             client: Client | None = None) -> tuple[PushResult, Any]:  # fmt: skip
    """`push` as an OpenLineage run (returned with the result): review queue and redacted records in, the Label Studio project out."""
    from openlineage.client.event_v2 import OutputDataset
    from openlineage.client.facet_v2 import documentation_dataset, output_statistics_output_dataset

    settings = settings_of(project)
    client = client or Client.from_settings(settings)
    emitter = _emitter(project)
    inputs = [p for p in (project.stage_path("review_queue", manifest.id),
                          project.stage_path("pii_redacted", manifest.target_source or "-")) if p.exists()]  # fmt: skip
    try:
        with emitter.materialization("label_studio_push", partition=manifest.id, inputs=inputs, engine_name="curaline",
                                     description=f"review queue of `{manifest.id}` sent to Label Studio") as run:  # fmt: skip
            result = push(project, manifest, client, settings, limit)
            producer = emitter.producer
            dataset = OutputDataset(
                namespace=settings.url, name=ls_dataset_name(result.ls_project),
                facets={"documentation": documentation_dataset.DocumentationDatasetFacet(
                    description=f"Label Studio project {settings.project!r}", producer=producer)},
                outputFacets={"outputStatistics": output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
                    rowCount=result.tasks, producer=producer)},
            )  # fmt: skip
            from curaline.lineage.emitter import _Output

            run.outputs[dataset.name] = _Output(dataset, [])
    finally:
        emitter.close()
    return result, run  # the run: its run_id and events


def pull_run(project: Project, manifest: SourceManifest, client: Client | None = None) -> tuple[PullResult, Any]:
    """`pull` as an OpenLineage run: the Label Studio project in, the ledger entries and the mirror out."""
    from openlineage.client.event_v2 import InputDataset

    settings = settings_of(project)
    client = client or Client.from_settings(settings)
    emitter = _emitter(project)
    project_id = int((manifest.label_studio or {}).get("project", 0))
    source = InputDataset(namespace=settings.url, name=ls_dataset_name(project_id))
    try:
        with emitter.materialization("label_studio_pull", partition=manifest.id, inputs=[source], engine_name="curaline",
                                     description=f"judgements of `{manifest.id}` pulled from Label Studio") as run:  # fmt: skip
            result = pull(project, manifest, client, run.run_id)
            if result.ledger_path is not None:
                new = result.new_entries - result.edits - result.withdrawals
                run.output(result.ledger_path, rows=result.new_entries, licence_mix=False,
                           changes={"new": new, "edit": result.edits, WITHDRAW: result.withdrawals})  # fmt: skip
            run.document(result.mirror_path, file_format="jsonl", rows=result.current)
    finally:
        emitter.close()
    return result, run  # the run: its run_id and events


def pull_for_ingest(manifest: SourceManifest) -> PullResult:
    """What ingest calls for a label-studio source: pull first, so the mirror it reads is current."""
    from curaline.project import Project

    project = Project.at(manifest.path.parent.parent)
    return pull_run(project, manifest)[0]


# ---- trace -------------------------------------------------------------------------------


def record_judgements(project: Project, doc_id: str, sources: list[str]) -> list[dict[str, Any]]:
    """The judgements and adjudicated labels that describe record `doc_id`, per annotation source.

    `sources`: the annotation sources whose `target_source` is the record's source. Read
    from their `raw_records` (one row per judgement) and `adjudicated_labels`, filtered
    on `target_doc_id` by parquet predicate pushdown.
    """
    out = []
    for sid in sources:
        raw, labels = project.stage_path("raw_records", sid), project.stage_path("adjudicated_labels", sid)
        flt = [("target_doc_id", "=", doc_id)]
        judged = pq.read_table(raw, columns=["task", "item_id", "annotator_id", "label", "annotated_at"],
                               filters=flt).to_pylist() if raw.exists() else []  # fmt: skip
        adjudicated = pq.read_table(labels, columns=["task", "label", "confidence", "method", "n_judgements"],
                                    filters=flt).to_pylist() if labels.exists() else []  # fmt: skip
        if judged or adjudicated:
            out.append({"source": sid, "judgements": judged, "adjudicated": adjudicated})
    return out
