"""Checks on a built release that do not trust the code that built it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from curaline.database import connect
from curaline.records import TEXT_COLUMNS
from curaline.sql import literal_list

if TYPE_CHECKING:
    from curaline.project import Project


def split_leaks(folder: Path, *, limit: int = 50, project: Project | None = None) -> list[str]:
    """Records, texts or prompts found in more than one split (exact, after lower/trim).

    The builder assigns splits by duplicate cluster and prompt; this re-derives leakage
    from the shards alone, so a bug there (or a hand-edited shard) cannot hide. project: whose
    DuckDB memory budget and spill folder to use (curaline.database).
    """
    con = connect(project)
    leaks: list[str] = []
    for kind, cols in (("document", ("text",)), ("instruction", ("prompt",)), ("preference", ("prompt",))):
        files = sorted((folder / kind).glob("*.parquet"))
        if not files:
            continue
        src = f"read_parquet({literal_list(files)})"
        rows = con.sql(
            f"SELECT 'doc_id ' || doc_id, list(DISTINCT split ORDER BY split) FROM {src} "
            "GROUP BY doc_id HAVING count(DISTINCT split) > 1 ORDER BY 1 LIMIT " + str(limit)
        ).fetchall()
        for col in cols:
            assert col in TEXT_COLUMNS[kind]
            rows += con.sql(
                f"SELECT '{kind} {col} md5 ' || md5(lower(trim({col}))), list(DISTINCT split ORDER BY split) "
                f"FROM {src} GROUP BY md5(lower(trim({col}))) HAVING count(DISTINCT split) > 1 ORDER BY 1 LIMIT {limit}"
            ).fetchall()
        leaks += [f"{what} in {', '.join(splits)}" for what, splits in rows]
    return leaks[:limit]
