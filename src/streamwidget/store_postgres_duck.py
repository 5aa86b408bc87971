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
from typing import Any

import duckdb

from .schema import SCHEMA_SQL as DUCKDB_SCHEMA_SQL
from .store import _materialize

_TABLES = ("conversations", "messages", "streams", "events", "shares")


class DuckDBReads:
    """Mixed into :class:`~streamwidget.store_postgres.PostgresStore`."""

    # set per store by PostgresStore._open
    _duck: duckdb.DuckDBPyConnection | None
    _duck_lock: threading.Lock

    def sql(self, query: str, params: Any = None) -> duckdb.DuckDBPyRelation | None:
        """Run DuckDB SQL over the rows this role can see (copied into memory first)."""
        self.flush()
        with self._duck_lock:
            con = self._analytics(query)
            relation = con.sql(query, params=params)
            return None if relation is None else _materialize(relation)

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        """A cursor on the in-memory DuckDB copy (where the analytics views are created)."""
        self.flush()
        with self._duck_lock:
            return self._analytics("").cursor()

    def _analytics(self, query: str) -> duckdb.DuckDBPyConnection:
        """The in-memory DuckDB, with a fresh copy of the tables ``query`` names (all of
        them when it names none: a view may read any)."""
        if self._duck is None:
            self._duck = duckdb.connect(":memory:")
            self._duck.execute(DUCKDB_SCHEMA_SQL)
            self._duck.execute("ALTER TABLE streams ADD COLUMN recording_sha256 VARCHAR")
            for table in ("conversations", "messages", "streams", "events"):
                self._duck.execute(f"ALTER TABLE {table} ADD COLUMN owner VARCHAR")
            self._duck.execute(
                "CREATE TABLE shares (owner VARCHAR, object_id VARCHAR, grantee VARCHAR,"
                " created_at TIMESTAMPTZ)"
            )
            query = ""
        named = [t for t in _TABLES if re.search(rf"\b{t}\b", query, re.IGNORECASE)]
        for table in named or _TABLES:
            self._copy_table(table)
        return self._duck

    def _copy_table(self, table: str) -> None:
        assert self._duck is not None
        described = self._duck.execute(f"DESCRIBE {table}").fetchall()
        names = [row[0] for row in described]
        types = [row[1] for row in described]
        with self._lock:
            rows = self._db().execute(f"SELECT {', '.join(names)} FROM {table}").fetchall()
        self._duck.execute(f"DELETE FROM {table}")
        if rows:
            casts = ", ".join(f"unnest(${i + 1}::{t}[])" for i, t in enumerate(types))
            self._duck.execute(f"INSERT INTO {table} SELECT {casts}", [list(c) for c in zip(*rows)])
