"""The sandbox behind `curaline lineage sql`: a query can read the lineage views and nothing else.

Two independent walls, because either alone has been broken:

1. The statement: exactly one plain query (DuckDB's own parser says SELECT), and its
   syntax tree (``json_serialize_sql``) may name only the project's views, its own CTEs
   and a few table functions that compute from values (``range``, ``unnest``...). File
   readers (``read_csv``, ``read_parquet``, ``glob``, ``'x.csv'`` replacement scans,
   URLs), EXPLAIN [ANALYZE], COPY, ATTACH, INSTALL/LOAD, PRAGMA, SET, CALL and chained
   statements are refused before DuckDB plans anything.
2. The connection: ``enable_external_access=false`` with ``allowed_directories`` /
   ``allowed_paths`` reduced to the folders and files the views read, extension
   auto-install/auto-load off, Python replacement scans off, and the configuration
   locked, so even a statement that slipped past (1) cannot reach another file, the
   network or an extension, nor turn the settings back.

Note the connection alone is not enough: DuckDB lets COPY *write* inside allowed
directories (the ledger's), which is why (1) refuses every statement kind but SELECT.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb

#: Table functions a query may call: they compute from their arguments, never from a file.
ALLOWED_TABLE_FUNCTIONS = frozenset({"range", "generate_series", "unnest", "json_each", "json_tree"})


class ReadOnlyQueryError(ValueError):
    """A query `lineage sql` refuses (the message says why, in one line)."""


def sandboxed_connection(directories: Iterable[Path], files: Iterable[Path] = ()) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection that can read only `directories` and `files`, locked.

    DuckDB refuses to change ``allowed_directories`` once external access is off, so the
    order of the SET statements matters: allow-lists, then access off, then the lock.
    """
    import duckdb

    con = duckdb.connect(config={"autoinstall_known_extensions": "false", "autoload_known_extensions": "false",
                                 "allow_community_extensions": "false", "python_enable_replacements": "false"})  # fmt: skip
    dirs = sorted({str(Path(d).resolve()).rstrip("/") + "/" for d in directories})
    paths = sorted({str(Path(f).resolve()) for f in files})
    con.execute("SET allowed_directories = $1", [dirs])
    con.execute("SET allowed_paths = $1", [paths])
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con


def _nodes(tree: Any) -> Iterator[dict[str, Any]]:
    """Every mapping in a serialized syntax tree, depth first."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            yield node
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def check_query(con: duckdb.DuckDBPyConnection, query: str, tables: Iterable[str]) -> None:
    """Refuse anything but one plain query over `tables` (view names); raise ReadOnlyQueryError."""
    import duckdb

    try:
        statements = duckdb.extract_statements(query)
    except duckdb.Error as exc:
        raise ReadOnlyQueryError(f"bad SQL: {str(exc).splitlines()[0]}") from None
    if len(statements) != 1:
        raise ReadOnlyQueryError(f"exactly one query is allowed, got {len(statements)} statements")
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        raise ReadOnlyQueryError(f"only SELECT queries are allowed, got {kind.name}")
    [(serialized,)] = con.execute("SELECT json_serialize_sql($1)", [query]).fetchall()
    tree = json.loads(serialized)
    if tree.get("error"):
        raise ReadOnlyQueryError(f"only plain SELECT queries are allowed ({tree.get('error_message', 'not a query')})")
    nodes = list(_nodes(tree))
    known = {t.lower() for t in tables}
    known |= {str(entry["key"]).lower() for n in nodes if isinstance(n.get("cte_map"), dict)
              for entry in n["cte_map"].get("map", []) if isinstance(entry, dict) and "key" in entry}  # fmt: skip
    for node in nodes:
        if node.get("type") == "TABLE_FUNCTION":
            name = str((node.get("function") or {}).get("function_name", "")).lower()
            if name not in ALLOWED_TABLE_FUNCTIONS:
                raise ReadOnlyQueryError(f"table function {name}() is not allowed: query the lineage views "
                                         f"(`curaline lineage sql --help` lists them)")  # fmt: skip
        elif node.get("type") == "BASE_TABLE":
            name = str(node.get("table_name", ""))
            where = (str(node.get("catalog_name") or ""), str(node.get("schema_name") or ""))
            if name.lower() not in known or where[0] not in ("", "memory") or where[1] not in ("", "main"):
                raise ReadOnlyQueryError(f"{name!r} is not a lineage view: only the views `curaline lineage sql "
                                         f"--help` lists can be queried")  # fmt: skip


def open_query_views(project: Any) -> duckdb.DuckDBPyConnection:
    """The lineage views on a sandboxed connection that can read only the files behind them."""
    from curaline.lineage.views import LINEAGE_VIEWS, open_views, stage_views

    directories = [project.lineage_dir]
    files: list[Path] = []
    for name, pattern in stage_views(project).items():
        if name in LINEAGE_VIEWS:
            continue
        if "*" in pattern:  # the folder above the first wildcard (a sharded stage: data/<stage>/*/shard-*.parquet)
            parts = Path(pattern).parts
            directories.append(Path(*parts[: next(i for i, part in enumerate(parts) if "*" in part)]))
        else:
            files.append(Path(pattern))
    con = sandboxed_connection(directories, files)
    try:
        return open_views(project, con)
    except BaseException:
        con.close()
        raise


def run_query(project: Any, query: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Check `query`, then run it on the sandboxed views: its column names and rows."""
    from curaline.lineage.views import view_names

    con = open_query_views(project)
    try:
        check_query(con, query, view_names(project))
        rel = con.sql(query)
        if rel is None:
            raise ReadOnlyQueryError("only queries that return rows are allowed (SELECT ...)")
        return list(rel.columns), rel.fetchall()
    finally:
        con.close()
