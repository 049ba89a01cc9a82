"""SQL text for DuckDB: the one place a value is quoted into a statement.

Prefer DuckDB parameters (`con.execute(sql, [value])`, `read_parquet($files)`); where a
value must be part of the text (a view's definition, a table function's file list),
quote it here, so a path or name holding `'` can neither break nor change the statement.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


def literal(value: str | Path) -> str:
    """A SQL string literal: 'it''s'."""
    return "'" + str(value).replace("'", "''") + "'"


def literal_list(values: Iterable[str | Path]) -> str:
    """A SQL list of string literals, e.g. the files of `read_parquet([...])`."""
    return "[" + ", ".join(literal(v) for v in values) + "]"
