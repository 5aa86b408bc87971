"""``store.sql(...)`` on the PostgreSQL store, in DuckDB's SQL.

The analytics views (:mod:`streamwidget.analytics`) and the transfer functions are written in
DuckDB's SQL. On PostgreSQL they run in an in-memory DuckDB over a copy of the rows *this role
can see* (row-level security applies to the copy), taken when the query runs, of the tables the
query names (all of them when it names none: a view may read any). Fine for one user's
analytics and exports; for big shared tables use ``with store.cursor() as cur`` (PostgreSQL).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any

import duckdb

from .duckdb_schema import SCHEMA_SQL
from .rows import materialize

_TABLES = ("conversations", "messages", "streams", "events", "shares")

#: PostgreSQL's additions to the DuckDB tables: who owns each row, and what is shared.
_OWNERSHIP_SQL = """
ALTER TABLE conversations ADD COLUMN owner VARCHAR;
ALTER TABLE messages ADD COLUMN owner VARCHAR;
ALTER TABLE streams ADD COLUMN owner VARCHAR;
ALTER TABLE events ADD COLUMN owner VARCHAR;
CREATE TABLE shares (owner VARCHAR, object_id VARCHAR, grantee VARCHAR, created_at TIMESTAMPTZ);
"""

TableRows = Callable[[str, list[str]], list[tuple[Any, ...]]]


class DuckDBCopy:
    """An in-memory DuckDB refreshed from PostgreSQL (``table_rows(table, columns)``)."""

    def __init__(self, table_rows: TableRows) -> None:
        self._table_rows = table_rows
        self._duck: duckdb.DuckDBPyConnection | None = None
        self._lock = threading.Lock()

    def sql(self, query: str, params: Any = None) -> duckdb.DuckDBPyRelation | None:
        """Run DuckDB SQL over the rows this role can see (copied into memory first)."""
        with self._lock:
            relation = self._refreshed(query).sql(query, params=params)
            return None if relation is None else materialize(relation)

    def connection(self) -> duckdb.DuckDBPyConnection:
        """A cursor on the in-memory copy (where the analytics views are created)."""
        with self._lock:
            return self._refreshed("").cursor()

    def _refreshed(self, query: str) -> duckdb.DuckDBPyConnection:
        """The in-memory DuckDB, with a fresh copy of the tables ``query`` names (all of
        them when it names none: a view may read any)."""
        if self._duck is None:
            self._duck = duckdb.connect(":memory:")
            self._duck.execute(SCHEMA_SQL + _OWNERSHIP_SQL)
            query = ""
        named = [t for t in _TABLES if re.search(rf"\b{t}\b", query, re.IGNORECASE)]
        for table in named or _TABLES:
            self._copy_table(self._duck, table)
        return self._duck

    def _copy_table(self, duck: duckdb.DuckDBPyConnection, table: str) -> None:
        described = duck.execute(f"DESCRIBE {table}").fetchall()
        names = [row[0] for row in described]
        types = [row[1] for row in described]
        rows = self._table_rows(table, names)
        duck.execute(f"DELETE FROM {table}")
        if rows:
            casts = ", ".join(f"unnest(${i + 1}::{t}[])" for i, t in enumerate(types))
            duck.execute(f"INSERT INTO {table} SELECT {casts}", [list(c) for c in zip(*rows)])

    def close(self) -> None:
        with self._lock:
            if self._duck is not None:
                self._duck.close()
                self._duck = None
