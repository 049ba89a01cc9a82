"""Export a release's preference shards in the formats training libraries read, with a card.

Input: the release contract's shards `data/releases/<name>/preference/<split>-NNNNN.parquet`.
Output, one JSON-lines file per format and split, under `data/exports/<name>/`:

- `dpo/<split>.jsonl`: `{"prompt": str, "chosen": str, "rejected": str}`, TRL's standard
  preference format with an explicit prompt (DPOTrainer; TRL docs "Dataset formats",
  preference type), also what OpenRLHF's `--prompt_key/--chosen_key/--rejected_key` read;
- `conversational/<split>.jsonl`: TRL's conversational preference format with an explicit
  prompt: `{"prompt": [{"role": "user", "content": ...}, ...], "chosen": [{"role": "assistant",
  "content": ...}], "rejected": [...]}`; a prompt holding a transcript ("Human: ... Assistant:
  ... Human: ..." or "User: ... Assistant: ...") becomes its turns, any other one user turn;
- `reward/<split>.jsonl`: `{"chosen": [messages], "rejected": [messages], "margin": float}`,
  the implicit-prompt conversational format TRL's RewardTrainer takes, with the optional
  `margin` its DataCollatorForPreference passes to the loss -log σ(r_chosen - r_rejected - margin)
  (Llama 2's margin loss; huggingface/trl trl/trainer/reward_trainer.py). A pair without a
  margin gets 0.0, which is the plain Bradley-Terry loss;
- `README.md`: the card: counts per split and format, sources, licences, obligations, files.

Rows stream batch by batch (orjson); the export is written into a temporary folder and moved
into place whole, so a reader never sees half an export and a split that emptied leaves no
stale file behind. Upsampled copies (`repeat` > 0) are exported like the release holds them.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curaline.project import Project
from curaline.store import file_digest

KIND = "preference"
SPLITS = ("train", "validation", "test")
FORMATS = ("dpo", "conversational", "reward")
#: the exact keys of one line of each format
FORMAT_KEYS: dict[str, tuple[str, ...]] = {
    "dpo": ("prompt", "chosen", "rejected"),
    "conversational": ("prompt", "chosen", "rejected"),
    "reward": ("chosen", "rejected", "margin"),
}
FORMAT_DOCS: dict[str, str] = {
    "dpo": "TRL standard preference, explicit prompt (DPOTrainer); OpenRLHF prompt/chosen/rejected keys",
    "conversational": "TRL conversational preference, explicit prompt (DPOTrainer applies the chat template)",
    "reward": "TRL RewardTrainer: conversational, implicit prompt, plus `margin` (0.0 where the source has none)",
}
#: shard columns the export needs (release contract); `margin` and `repeat` are read when present
REQUIRED_COLUMNS = ("doc_id", "source_id", "license", "license_class", "prompt", "chosen", "rejected")
BATCH_ROWS = 5_000

_TURN = re.compile(r"(?:^|\n\n)(Human|User|Assistant):[ \t]?")
_ROLES = {"Human": "user", "User": "user", "Assistant": "assistant"}


class ExportError(ValueError):
    """A release cannot be exported; the message names the file, row and field."""


def release_dir(project: Project, name: str) -> Path:
    return project.data_dir / "releases" / name


def export_dir(project: Project, name: str) -> Path:
    return project.data_dir / "exports" / name


def shard_files(project: Project, name: str, split: str) -> list[Path]:
    return sorted((release_dir(project, name) / KIND).glob(f"{split}-*.parquet"))


def prompt_messages(prompt: str) -> list[dict[str, str]]:
    """The prompt as chat turns ending with the user's: a transcript ("Human: ... Assistant: ..."
    as in hh-rlhf, or "User: ... Assistant: ..." as curaline's OASST pairs) is split into its
    turns, anything else is one user turn."""
    text = prompt.strip()
    if text.startswith(("Human:", "User:")):
        parts = _TURN.split(text)  # ["", "Human", "q1", "Assistant", "a1", "Human", "q2"]
        turns = [
            {"role": _ROLES[role], "content": body.strip()} for role, body in zip(parts[1::2], parts[2::2], strict=True)
        ]
        alternating = all(t["role"] == ("user" if i % 2 == 0 else "assistant") for i, t in enumerate(turns))
        if (
            parts[0] == ""
            and turns
            and alternating
            and turns[-1]["role"] == "user"
            and all(t["content"] for t in turns)
        ):
            return turns
    return [{"role": "user", "content": prompt}]


def _answer(text: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": text.strip()}]


def _lines(batch: pa.Table) -> dict[str, bytes]:
    """One batch as the bytes of each format's lines."""
    prompts, chosen, rejected = (batch[c].to_pylist() for c in ("prompt", "chosen", "rejected"))
    if "margin" in batch.column_names:
        margins = pc.fill_null(batch["margin"].cast(pa.float64()), 0.0).to_pylist()
    else:
        margins = [0.0] * batch.num_rows
    dumps, nl = orjson.dumps, orjson.OPT_APPEND_NEWLINE
    dpo, conv, reward = [], [], []
    for p, c, r, m in zip(prompts, chosen, rejected, margins, strict=True):
        dpo.append(dumps({"prompt": p, "chosen": c, "rejected": r}, option=nl))
        turns = prompt_messages(p)
        ca, ra = _answer(c), _answer(r)
        conv.append(dumps({"prompt": turns, "chosen": ca, "rejected": ra}, option=nl))
        reward.append(dumps({"chosen": turns + ca, "rejected": turns + ra, "margin": m}, option=nl))
    return {"dpo": b"".join(dpo), "conversational": b"".join(conv), "reward": b"".join(reward)}


def _check_batch(batch: pa.Table, path: Path, offset: int) -> None:
    for col in ("prompt", "chosen", "rejected"):
        bad = pc.or_kleene(pc.is_null(batch[col]), pc.equal(pc.utf8_trim_whitespace(batch[col]), ""))
        bad = pc.fill_null(bad, True)
        if pc.any(bad).as_py():
            row = offset + int(pc.index(bad, True).as_py())
            raise ExportError(
                f"{path}: row {row}: field {col!r} is empty or null; a released pair needs all three texts"
            )


@dataclass
class ExportFile:
    format: str
    split: str
    path: str  # relative to the export folder
    rows: int
    bytes: int = 0
    md5: str = ""


@dataclass
class SourceCount:
    license: str
    license_class: str
    rows: int = 0
    records: int = 0


@dataclass
class ExportResult:
    name: str
    folder: Path
    manifest: dict[str, Any] | None = None
    rows: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SPLITS, 0))
    records: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SPLITS, 0))  # rows with repeat == 0
    files: list[ExportFile] = field(default_factory=list)
    sources: dict[str, SourceCount] = field(default_factory=dict)
    licences: Counter[str] = field(default_factory=Counter)  # records per licence
    licence_classes: Counter[str] = field(default_factory=Counter)
    with_margin: int = 0  # rows whose margin came from the data (not the 0.0 default)
    shards: list[Path] = field(default_factory=list)

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    def expected_rows(self) -> dict[str, int] | None:
        """Rows per split of kind preference that the release manifest lists, if there is one."""
        if not self.manifest or "files" not in self.manifest:
            return None
        out = dict.fromkeys(SPLITS, 0)
        for f in self.manifest["files"]:
            if f.get("kind") == KIND and f.get("split") in out:
                out[f["split"]] += int(f["rows"])
        return out


def export_release(project: Project, name: str, *, batch_rows: int = BATCH_ROWS) -> ExportResult:
    """Write the DPO, conversational and reward exports of release `name`, and its card."""
    source = release_dir(project, name)
    if not source.is_dir():
        raise ExportError(f"{source}: no such release build (build release {name!r} first)")
    manifest_path = source / "manifest.json"
    manifest = orjson.loads(manifest_path.read_bytes()) if manifest_path.exists() else None
    final = export_dir(project, name)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".tmp", dir=final.parent))
    result = ExportResult(name=name, folder=final, manifest=manifest)
    try:
        for split in SPLITS:
            shards = shard_files(project, name, split)
            if shards:
                _export_split(result, tmp, split, shards, batch_rows)
        (tmp / "README.md").write_text(card_markdown(result), encoding="utf-8")
        old = final.with_name(f".{name}.old")
        if old.exists():
            shutil.rmtree(old)
        if final.exists():
            os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return result


def _export_split(result: ExportResult, tmp: Path, split: str, shards: list[Path], batch_rows: int) -> None:
    handles: dict[str, BinaryIO] = {}
    for fmt in FORMATS:
        (tmp / fmt).mkdir(exist_ok=True)
        handles[fmt] = (tmp / fmt / f"{split}.jsonl").open("wb")
    try:
        for path in shards:
            pf = pq.ParquetFile(path)
            names = pf.schema_arrow.names
            missing = [c for c in REQUIRED_COLUMNS if c not in names]
            if missing:
                raise ExportError(f"{path}: missing column(s) {', '.join(missing)} (release contract shard columns)")
            wanted = [*REQUIRED_COLUMNS, *(c for c in ("margin", "repeat") if c in names)]
            offset = 0
            for raw in pf.iter_batches(batch_size=batch_rows, columns=wanted):
                batch = pa.Table.from_batches([raw])
                _check_batch(batch, path, offset)
                offset += batch.num_rows
                for fmt, data in _lines(batch).items():
                    handles[fmt].write(data)
                _count(result, split, batch)
            result.shards.append(path)
    finally:
        for handle in handles.values():
            handle.close()
    for fmt in FORMATS:
        target = tmp / fmt / f"{split}.jsonl"
        rel = f"{fmt}/{split}.jsonl"
        result.files.append(ExportFile(fmt, split, rel, result.rows[split], target.stat().st_size, file_digest(target)))


def _count(result: ExportResult, split: str, batch: pa.Table) -> None:
    n = batch.num_rows
    first = pc.equal(batch["repeat"], 0) if "repeat" in batch.column_names else pa.array([True] * n)
    first = pc.fill_null(first, True)
    result.rows[split] += n
    result.records[split] += int(pc.sum(first.cast(pa.int64())).as_py() or 0)
    if "margin" in batch.column_names:
        result.with_margin += n - batch["margin"].null_count
    keyed = pa.table({"source_id": batch["source_id"], "license": batch["license"],
                      "license_class": batch["license_class"], "first": first.cast(pa.int64())})  # fmt: skip
    grouped = keyed.group_by(["source_id", "license", "license_class"]).aggregate(
        [("first", "count"), ("first", "sum")]
    )
    for row in grouped.to_pylist():
        sc = result.sources.setdefault(row["source_id"], SourceCount(row["license"], row["license_class"]))
        sc.rows += row["first_count"]
        sc.records += row["first_sum"]
        result.licences[row["license"]] += row["first_sum"]
        result.licence_classes[row["license_class"]] += row["first_sum"]


def card_markdown(result: ExportResult) -> str:
    """The export's card: what is in it, in which format, from where, under which licences."""
    m = result.manifest or {}
    lines = [
        f"# Preference exports of release `{result.name}`",
        "",
        f"Release version {m.get('version', 'unknown')}, status {m.get('status', 'unknown')}, "
        f"intended use {m.get('use', 'unknown')}, built {m.get('created_at', 'unknown')}.",
        "",
        "## Formats",
        "",
        "| folder | keys of each line | for |",
        "|---|---|---|",
    ]
    lines += [f"| `{fmt}/` | {', '.join(f'`{k}`' for k in FORMAT_KEYS[fmt])} | {FORMAT_DOCS[fmt]} |" for fmt in FORMATS]
    margin_note = (
        f"{result.with_margin} of {result.total_rows} rows carry the source's margin; the others have 0.0."
        if result.with_margin
        else "The release shards carry no margins: every `margin` is 0.0 (plain Bradley-Terry loss)."
    )
    lines += [
        "",
        margin_note,
        "",
        'Load with `datasets.load_dataset("json", data_files={"train": "dpo/train.jsonl", ...})`.',
        "",
        "## Counts",
        "",
        "| split | rows (each format) | unique records |",
        "|---|---:|---:|",
    ]
    lines += [f"| {s} | {result.rows[s]} | {result.records[s]} |" for s in SPLITS]
    lines += ["", "## Sources", "", "| source | licence | class | records | rows |", "|---|---|---|---:|---:|"]
    for sid, sc in sorted(result.sources.items()):
        lines.append(f"| {sid} | {sc.license} | {sc.license_class} | {sc.records} | {sc.rows} |")
    lines += ["", "## Licences", "", "| licence | records |", "|---|---:|"]
    lines += [f"| {lic} | {n} |" for lic, n in result.licences.most_common()]
    obligations = [o for o in m.get("obligations", []) if o.get("source") in result.sources]
    if obligations:
        lines += ["", "## Obligations", "", "| source | licence | obligation | note |", "|---|---|---|---|"]
        lines += [
            f"| {o['source']} | {o.get('license', '')} | {o.get('obligation', '')} | {o.get('note', '')} |"
            for o in obligations
        ]
    lines += ["", "## Files", "", "| file | rows | bytes | md5 |", "|---|---:|---:|---|"]
    lines += [f"| {f.path} | {f.rows} | {f.bytes} | `{f.md5}` |" for f in result.files]
    return "\n".join(lines) + "\n"
