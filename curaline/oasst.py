"""OpenAssistant message trees -> every preference pair their sibling ranks imply.

In an OASST tree (one JSON object per line: ``message_tree_id`` and a nested ``prompt``
message whose ``replies`` nest further), volunteers ranked the assistant replies to a
message (rank 0 = best). Each parent with replies ranked r_i < r_j gives one pair:
prompt = the conversation up to and including the parent, chosen = the better-ranked
reply, rejected = the other, ``margin`` = r_j - r_i, ``group`` = the parent's message id.
The pair's own id, ``<parent_id>/<chosen_id>><rejected_id>``, names the messages, so a
trace leads back to them. Trees stream in chunks; the pairs of a chunk come from one
self-join of its ranked replies on the parent (DuckDB), not from Python loops over pairs.

Only assistant replies are paired: OASST also ranks prompter replies (follow-up
questions), which say nothing about which answer is better. Deleted messages and
replies without a rank take no part; equal ranks imply no preference.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import pyarrow as pa

if TYPE_CHECKING:
    from curaline.ingest import IngestStats

#: Trees per self-join: bounds memory whatever the file size.
CHUNK_TREES = 500
ROLE_NAMES = {"prompter": "User", "assistant": "Assistant"}


def _rank(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _deleted(message: dict[str, Any]) -> bool:
    return message.get("deleted") in (True, "True", "true")


def conversation(turns: list[tuple[str, str]]) -> str:
    """The prompt of a pair: the message itself for one turn, else a User/Assistant transcript."""
    if len(turns) == 1:
        return turns[0][1]
    return "\n\n".join(f"{ROLE_NAMES.get(role, role)}: {text}" for role, text in turns)


def _flatten(trees: list[tuple[int, dict[str, Any]]]) -> tuple[dict[str, list[Any]], dict[tuple[int, str], str]]:
    """Ranked assistant replies as columns, and the prompt of each parent that has two."""
    cols: dict[str, list[Any]] = {k: [] for k in ("line", "parent", "pseq", "msg", "text", "rank", "seq")}
    prompts: dict[tuple[int, str], str] = {}
    seq = 0
    for line, tree in trees:
        stack: list[tuple[dict[str, Any], list[tuple[str, str]]]] = [(tree["prompt"], [])]
        while stack:
            node, path = stack.pop()
            text = node.get("text")
            turns = [*path, (str(node.get("role")), text if isinstance(text, str) else "")]
            replies = [r for r in node.get("replies") or [] if isinstance(r, dict)]
            ranked = [r for r in replies if r.get("role") == "assistant" and not _deleted(r) and _rank(r.get("rank")) is not None]
            parent = str(node.get("message_id"))
            pseq = seq
            seq += 1
            if len(ranked) >= 2:
                prompts[(line, parent)] = conversation(turns)
                for r in ranked:
                    cols["line"].append(line)
                    cols["parent"].append(parent)
                    cols["pseq"].append(pseq)
                    cols["msg"].append(str(r.get("message_id")))
                    cols["text"].append(r.get("text") if isinstance(r.get("text"), str) else None)
                    cols["rank"].append(_rank(r.get("rank")))
                    cols["seq"].append(seq)
                    seq += 1
            stack.extend((r, turns) for r in reversed(replies))
    return cols, prompts


def _pairs(trees: list[tuple[int, dict[str, Any]]], rel: str, stats: IngestStats) -> Iterator[dict[str, Any]]:
    from curaline.database import connect

    cols, prompts = _flatten(trees)
    ranked = pa.table({  # noqa: F841 (DuckDB scans it by name)
        "line": pa.array(cols["line"], pa.int64()), "parent": pa.array(cols["parent"], pa.string()),
        "pseq": pa.array(cols["pseq"], pa.int64()), "msg": pa.array(cols["msg"], pa.string()),
        "text": pa.array(cols["text"], pa.string()), "rank": pa.array(cols["rank"], pa.int64()),
        "seq": pa.array(cols["seq"], pa.int64()),
    })  # fmt: skip
    with connect() as con:
        pairs = con.sql(
            """SELECT a.line, a.parent, a.msg AS chosen_id, b.msg AS rejected_id, a.text AS chosen,
                      b.text AS rejected, b.rank - a.rank AS margin
               FROM ranked a JOIN ranked b ON a.line = b.line AND a.pseq = b.pseq AND a.rank < b.rank
               ORDER BY a.line, a.pseq, a.rank, b.rank, a.seq, b.seq"""
        ).to_arrow_table()
    with_pairs = set(pairs["line"].to_pylist())
    stats.trees += len(trees)
    stats.trees_without_pairs += sum(1 for line, _ in trees if line not in with_pairs)
    for row in pairs.to_pylist():
        yield {
            "file": rel, "line": row["line"], "row": None,
            "obj": {
                "id": f"{row['parent']}/{row['chosen_id']}>{row['rejected_id']}",
                "prompt": prompts[(row["line"], row["parent"])], "chosen": row["chosen"], "rejected": row["rejected"],
                "margin": float(row["margin"]), "group": row["parent"],
            },
        }  # fmt: skip


def oasst_pairs(path: Path, rel: str, stats: IngestStats, chunk_trees: int = CHUNK_TREES) -> Iterator[dict[str, Any]]:
    """The pairs of one trees file (jsonl or jsonl.gz), as ingest items; bad lines as faults."""
    opener = gzip.open if path.suffix == ".gz" else open
    chunk: list[tuple[int, dict[str, Any]]] = []
    with opener(path, "rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            line = raw.rstrip(b"\r\n")
            if lineno == 1 and line.startswith(b"\xef\xbb\xbf"):
                line = line[3:]
            if not line.strip():
                stats.blank_lines += 1
                continue
            try:
                tree = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                reason = "undecodable_bytes" if "UTF-8" in str(exc) else "malformed_json"
                yield {"file": rel, "line": lineno, "row": None, "raw": line, "reason": reason, "detail": str(exc)}
                continue
            if not isinstance(tree, dict) or not isinstance(tree.get("prompt"), dict):
                yield {"file": rel, "line": lineno, "row": None, "raw": line, "reason": "not_an_object",
                       "detail": "not an OpenAssistant message tree (no 'prompt' message object)"}  # fmt: skip
                continue
            chunk.append((lineno, tree))
            if len(chunk) >= chunk_trees:
                yield from _pairs(chunk, rel, stats)
                chunk = []
    if chunk:
        yield from _pairs(chunk, rel, stats)
