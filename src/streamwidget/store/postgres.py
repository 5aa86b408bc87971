"""The PostgreSQL backend: the same store on a shared database server.

``Store("postgresql://user@host/db")`` opens it. What differs from a DuckDB file:

- writes: one transaction per batch (streams, then every event with one ``INSERT ... SELECT
  FROM unnest(...)``, then one ``UPDATE`` per document appending only the new text), and one
  ``pg_notify`` per touched stream, delivered at commit;
- following across processes and machines (:mod:`.postgres_follow`);
- ownership: every row has an ``owner`` (the database role that wrote it); row-level security
  lets a role see its own rows and rows shared with it (:mod:`.postgres_schema`);
- ``store.sql(...)`` keeps DuckDB's SQL: it runs over an in-memory copy of the rows this role
  can see (:mod:`.postgres_duck`); ``with store.cursor() as cur`` is the raw psycopg cursor.

Every query is bound server-side with ``$n`` placeholders (psycopg's ``RawCursor``), so the
core's shared queries run unchanged.
"""

from __future__ import annotations

import datetime as dt
import getpass
import os
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import duckdb
import psycopg
from psycopg import conninfo
from psycopg.abc import Buffer
from psycopg.types.string import StrDumper

from ..document import Document
from .backend import EndOrphan, Notify, Subscribe, Unsubscribe
from .postgres_duck import DuckDBCopy
from .postgres_follow import Follower
from .postgres_schema import CHANNEL, install_schema
from .rows import (
    UPDATE_MANY_COLUMNS,
    UPDATE_MANY_NAMES,
    DocumentUpdate,
    EventRow,
    ImportedStream,
    NewStream,
    OpenStream,
    document_from_row,
    event_columns,
    update_columns,
)
from .sql import DOCUMENT, IMPORT_CONVERSATION, NEXT_SEQ, OPEN_STREAMS
from .types import Callback, StoreError

_INSERT_STREAMS = (
    "INSERT INTO streams (id, conversation_id, status, model, provider, request, header,"
    " owner_pid, owner_host, owner_started) SELECT a, b, 'pending', c, d, e, f, g, h, i"
    " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],"
    " $7::int[], $8::text[], $9::float8[]) AS u(a, b, c, d, e, f, g, h, i)"
)
_INSERT_EVENTS = (
    "INSERT INTO events (stream_id, seq, t, type, payload) SELECT * FROM"
    " unnest($1::text[], $2::bigint[], $3::float8[], $4::text[], $5::text[])"
)
_UPDATE_MANY = (
    f"UPDATE streams SET {UPDATE_MANY_COLUMNS} FROM unnest($1::text[], $2::text[], $3::text[],"
    " $4::text[], $5::text[], $6::text[], $7::text[], $8::float8[], $9::float8[], $10::bigint[],"
    f" $11::text[], $12::text[], $13::text[]) AS u({UPDATE_MANY_NAMES})"
    " WHERE streams.id = u.id"
)


def default_user() -> str:
    """Who this process is: ``$STREAMWIDGET_USER``, else the JupyterHub user, else the OS
    user. Used as the database role when the DSN names none."""
    return (
        os.environ.get("STREAMWIDGET_USER")
        or os.environ.get("JUPYTERHUB_USER")
        or getpass.getuser()
    )


def _mask(dsn: str) -> str:
    """The DSN without its password (for messages and ``repr``)."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", dsn)


class PostgresBackend:
    """A PostgreSQL database behind the :class:`~.backend.Backend` contract (psycopg 3)."""

    holds = False  # a server needs no lease: nothing to let go

    def __init__(self, dsn: str, *, lock_timeout: float, notify: Notify) -> None:
        self.dsn = dsn
        self.display = _mask(dsn)
        self.lock_timeout = lock_timeout
        self._lock = threading.RLock()  # the main connection
        self._closed = False
        self._conn = self._connect()
        try:
            install_schema(self._conn)
            self.role: str | None = self._conn.execute("SELECT current_user").fetchall()[0][0]
        except psycopg.Error as exc:
            self._conn.close()
            raise StoreError(f"the store {self.display} cannot be opened: {exc}") from None
        self._copy = DuckDBCopy(self._table_rows)
        self._follower = Follower(self._connect, notify)

    def _connect(self) -> psycopg.Connection:
        extra: dict[str, Any] = {}
        if "user" not in conninfo.conninfo_to_dict(self.dsn) and not os.environ.get("PGUSER"):
            extra["user"] = default_user()
        try:
            conn = psycopg.connect(
                self.dsn,
                autocommit=True,
                connect_timeout=int(max(1, self.lock_timeout)),
                cursor_factory=psycopg.RawCursor,
                **extra,
            )
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to the store {self.display}: {exc}") from None
        conn.adapters.register_dumper(str, _NulFreeStrDumper)
        return conn

    @contextmanager
    def _db(self) -> Iterator[psycopg.Connection]:
        """The main connection, the lock held; made again if the server or the network
        dropped it (queued events are kept and retried meanwhile)."""
        with self._lock:
            if self._closed:
                raise StoreError(f"the store {self.display} is closed")
            if self._conn.broken or self._conn.closed:
                self._conn = self._connect()
            yield self._conn

    # -- writing ----------------------------------------------------------------------------

    def write_batch(
        self,
        creates: Sequence[NewStream],
        events: Sequence[EventRow],
        updates: Sequence[DocumentUpdate],
    ) -> None:
        with self._db() as conn, conn.transaction(), conn.cursor() as cur:
            if creates:
                cur.execute(_INSERT_STREAMS, [list(column) for column in zip(*creates)])
            if events:
                cur.execute(_INSERT_EVENTS, [list(column) for column in zip(*events)])
            if updates:
                cur.execute(_UPDATE_MANY, update_columns(updates))  # one statement for all
                # delivered at commit: '<stream id>:<number of events now committed>'
                cur.execute(
                    "SELECT pg_notify($1, x) FROM unnest($2::text[]) AS x",
                    [CHANNEL, [f"{u.stream_id}:{u.version}" for u in updates]],
                )

    def write_imports(self, imported: Sequence[ImportedStream]) -> None:
        if not imported:
            return
        with self._db() as conn, conn.transaction(), conn.cursor() as cur:
            for one in imported:
                stream = {**one.stream, "created_at": _timestamp(one.stream["created_at"])}
                if one.conversation_id is not None:
                    cur.execute(IMPORT_CONVERSATION, [one.conversation_id, one.conversation_title])
                cur.execute(one.insert_sql("coalesce({}, now())"), list(stream.values()))
            cur.execute(_INSERT_EVENTS, event_columns(imported))

    # -- recovery ---------------------------------------------------------------------------

    def open_streams(self) -> list[OpenStream]:
        return [OpenStream(*row) for row in self.rows(OPEN_STREAMS)]

    def end_orphan(self, stream_id: str, end: EndOrphan) -> bool:
        """Taken with ``FOR UPDATE SKIP LOCKED``: two processes that open the store at once
        never both end it."""
        with self._db() as conn, conn.transaction():
            locked = conn.execute(
                "SELECT 1 FROM streams WHERE id = $1 AND status IN ('pending', 'streaming')"
                " FOR UPDATE SKIP LOCKED",
                [stream_id],
            ).fetchall()
            if not locked:
                return False
            document = document_from_row(conn.execute(DOCUMENT, [stream_id]).fetchall()[0])
            event, update = end(document, conn.execute(NEXT_SEQ, [stream_id]).fetchall()[0][0])
            self.write_batch([], [event], [update])
            return True

    # -- queries ----------------------------------------------------------------------------

    def rows(self, query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._db() as conn:
            cur = conn.execute(query, list(params))
            return cur.fetchall() if cur.description else []

    def columns_and_rows(
        self, query: str, params: Sequence[Any] = ()
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        with self._db() as conn:
            cur = conn.execute(query, list(params))
            return [c.name for c in cur.description or ()], cur.fetchall()

    def execute(self, query: str, params: Sequence[Any] = ()) -> None:
        with self._db() as conn:
            conn.execute(query, list(params))

    def _table_rows(self, table: str, columns: list[str]) -> list[tuple[Any, ...]]:
        return self.rows(f"SELECT {', '.join(columns)} FROM {table}")

    def sql(self, query: str, params: Any = None) -> duckdb.DuckDBPyRelation | None:
        return self._copy.sql(query, params)

    def connection(self) -> duckdb.DuckDBPyConnection:
        return self._copy.connection()

    @contextmanager
    def cursor(self) -> Iterator[psycopg.Cursor[Any]]:
        """A raw psycopg cursor (``%s`` placeholders), the main connection held meanwhile."""
        with self._db() as conn, psycopg.Cursor(conn) as cur:
            yield cur

    def share(self, object_id: str, grantee: str) -> None:
        self.execute(
            "INSERT INTO shares (object_id, grantee) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            [object_id, grantee],
        )

    def unshare(self, object_id: str, grantee: str) -> None:
        self.execute(
            "DELETE FROM shares WHERE object_id = $1 AND grantee = $2", [object_id, grantee]
        )

    # -- following ---------------------------------------------------------------------------

    def listen(self) -> bool:
        self._follower.start()
        return True

    def follow(
        self, document: Document, callback: Callback, subscribe: Subscribe
    ) -> tuple[Document, Unsubscribe]:
        return self._follower.follow(document, callback, subscribe)

    def let_go(self, idle: bool) -> None:
        pass

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._conn.close()
        self._follower.close()
        self._copy.close()


def _timestamp(value: object) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        stamp = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)


class _NulFreeStrDumper(StrDumper):
    """PostgreSQL text cannot hold NUL: every string sent gets U+FFFD instead. Event payloads
    are JSON, where NUL is escaped, so the event log stays exact (replays, exports)."""

    def dump(self, obj: str) -> Buffer | None:
        return super().dump(obj.replace("\x00", "\ufffd") if "\x00" in obj else obj)
