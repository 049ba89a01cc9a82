"""Read-only DuckDB views over the project's parquet outputs.

Views live in an in-memory database over parquet files that runs replace atomically,
so queries never take a lock a running pipeline needs (a .duckdb file would: one
writer excludes every reader).
"""

from __future__ import annotations

import duckdb

from curaline.project import Project


class ReadOnlyQueryError(ValueError):
    pass


def stage_views(project: Project) -> dict[str, str]:
    """View name -> the parquet glob behind it, for outputs that exist."""
    data = project.data_dir
    views: dict[str, str] = {}
    if (data / "source_catalog.parquet").exists():
        views["source_catalog"] = str(data / "source_catalog.parquet")
    if data.is_dir():
        for stage_dir in sorted(p for p in data.iterdir() if p.is_dir() and any(p.glob("*.parquet"))):
            views[stage_dir.name] = str(stage_dir / "*.parquet")
    return views


def open_views(project: Project) -> duckdb.DuckDBPyConnection:
    """An in-memory connection with one view per stage output; refuses writes."""
    con = duckdb.connect()
    for name, pattern in stage_views(project).items():
        con.execute(
            f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{pattern}', union_by_name = true)"
        )
    return con


def check_read_only(query: str) -> None:
    """Allow only SELECT-like statements, so `lineage sql` can never change anything."""
    for stmt in duckdb.extract_statements(query):
        if stmt.type not in (duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN):
            raise ReadOnlyQueryError(f"only SELECT queries are allowed, got {stmt.type.name}")
