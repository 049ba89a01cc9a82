"""Record kinds and the columns every record carries from ingest to release."""

from __future__ import annotations

KINDS = ("document", "instruction", "preference", "evaluation")

#: Columns every stage keeps, with these exact names.
CORE_COLUMNS = ("doc_id", "source_id", "license", "content_hash")

#: Where each record came from, kept so `lineage trace` never rereads data:
#: the source's own id, the file relative to the source root, the 1-based line (line
#: formats) or the 0-based row (json arrays, parquet; 0 for text files).
ORIGIN_COLUMNS = ("source_record_id", "source_file", "source_line", "source_row")

#: The string columns holding a kind's text, in the order they are hashed and shown.
TEXT_COLUMNS: dict[str, tuple[str, ...]] = {
    "document": ("text",),
    "instruction": ("prompt", "context", "response"),
    "preference": ("prompt", "chosen", "rejected"),
    "evaluation": ("text", "answer"),
}

#: Text columns a record of the kind must have non-empty (context/answer are optional).
REQUIRED_TEXT: dict[str, tuple[str, ...]] = {
    "document": ("text",),
    "instruction": ("prompt", "response"),
    "preference": ("prompt", "chosen", "rejected"),
    "evaluation": ("text",),
}


def make_doc_id(source_id: str, key: str) -> str:
    """Stable record id: the source id plus a 64-bit hash of the record's key.

    The key is the source's own id when the manifest maps one (``own:<id>``), else the
    record's position (``pos:<file relative to the source root>#<line or index>``), so
    the same input gives the same id on every run and machine.
    """
    from hashlib import blake2b

    digest = blake2b(f"{source_id}\x1f{key}".encode(), digest_size=8).hexdigest()
    return f"{source_id}:{digest}"


def own_key(own_id: str) -> str:
    return f"own:{own_id}"


def position_key(relative_file: str, position: int) -> str:
    return f"pos:{relative_file}#{position}"
