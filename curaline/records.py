"""Record kinds and the columns every record carries from ingest to release."""

from __future__ import annotations

KINDS = ("document", "instruction", "preference", "evaluation", "annotation")

#: Kinds whose records are not text (one human judgement per row): the text stages
#: (normalization ... toxicity, MinHash, dedup, decontamination) pass them through.
NON_TEXT_KINDS = ("annotation",)

#: How an annotation task's labels are compared (Krippendorff's metric).
LABEL_TYPES = ("nominal", "ordinal", "interval")

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
    "annotation": (),
}

#: Non-text columns a kind carries (mapped by the manifest's `fields` where named so),
#: with their Arrow type names; all nullable except where REQUIRED_FIELDS says so.
EXTRA_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "document": (("url", "string"),),
    "instruction": (),
    "preference": (("margin", "float64"), ("group", "string")),
    "evaluation": (),
    "annotation": (
        ("task", "string"), ("item_id", "string"), ("target_doc_id", "string"), ("annotator_id", "string"),
        ("label", "string"), ("label_value", "float64"), ("gold", "string"), ("confidence", "float64"),
        ("annotated_at", "string"),
    ),
}  # fmt: skip

#: Text columns a record of the kind must have non-empty (context/answer are optional).
REQUIRED_TEXT: dict[str, tuple[str, ...]] = {
    "document": ("text",),
    "instruction": ("prompt", "response"),
    "preference": ("prompt", "chosen", "rejected"),
    "evaluation": ("text",),
    "annotation": (),
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


def canonical_label(value: object) -> str:
    """One spelling per label: 1, 1.0 and "1" are the same label; strings are stripped."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value).strip()
