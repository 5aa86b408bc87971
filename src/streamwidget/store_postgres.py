"""The PostgreSQL store: the same interface as the DuckDB file, on a shared database server.

``Store("postgresql://user@host/db")`` returns a :class:`PostgresStore`. What stays the same:
the in-memory documents, the batching writer thread, subscriptions and every public method
(they live in :class:`streamwidget.store.Store`). What changes:

- writes: one transaction per batch (streams, then every event with one ``INSERT ... SELECT
  FROM unnest(...)``, then one ``UPDATE`` per document appending only the new text), and one
  ``pg_notify('streamwidget', '<stream_id>:<next seq>')`` per touched stream, delivered at
  commit;
- following across processes and machines: :meth:`PostgresStore.follow` of a stream that
  another process writes LISTENs on the ``streamwidget`` channel; each notification makes a
  listener thread read only the missing range (``seq >= next``, the primary key) and feed the
  events to subscribers, so a view in kernel B shows kernel A's stream as a local one would;
- ownership: every row has an ``owner`` (the database role that wrote it). Row-level security
  (forced, so it holds for the tables' owner too) lets a role see its own rows and rows shared
  with it through ``shares`` (:meth:`PostgresStore.share`); see :mod:`.store_postgres_schema`;
- ``store.sql(...)`` keeps DuckDB's SQL (the analytics views and the transfer functions are
  written in it): it runs in an in-memory DuckDB over a copy of the rows this role can see.
  ``with store.cursor() as cur`` gives the raw PostgreSQL cursor.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import datetime as dt
import getpass
import json
import os
import re
import threading
import time
from typing import Any

import duckdb
import psycopg
from psycopg import conninfo
from psycopg.abc import Buffer
from psycopg.types.string import StrDumper

from . import owner
from .document import Document
from .recording import Recording
from .store import (
    Callback,
    Change,
    Store,
    StoreError,
    _Live,
)
from .store_postgres_duck import DuckDBReads
from .store_postgres_schema import CHANNEL, install_schema
from .store_rows import import_rows

__all__ = ["PostgresStore", "default_user", "install_schema"]


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


class _NoLease:
    """A server needs no file lease; the writer thread's lease checks become no-ops."""

    held = False

    def wanted(self) -> bool:
        return False

    def release(self) -> None:
        pass

    def close(self) -> None:
        pass


class _Cursor:
    """A DuckDB-style cursor over a psycopg connection: ``?`` placeholders, ``fetchall``."""

    def __init__(self, connection: psycopg.Connection):
        self._cur = connection.cursor()

    def execute(self, query: str, params: Any = None) -> _Cursor:
        self._cur.execute(query.replace("?", "%s"), params)
        return self

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self._cur.fetchall() if self._cur.description else []

    @property
    def description(self) -> list[tuple[str]]:
        return [(c.name,) for c in self._cur.description or ()]


class _Remote:
    """A stream another process writes and this one follows."""

    __slots__ = ("document", "next_seq")

    def __init__(self, document: Document):
        self.document = document
        self.next_seq = document.version


class PostgresStore(DuckDBReads, Store):
    """A :class:`~streamwidget.store.Store` on PostgreSQL (psycopg 3)."""

    def _resolve_path(self, path: Any) -> str:
        self.dsn = str(path if path is not None else os.environ["STREAMWIDGET_STORE"])
        return _mask(self.dsn)

    def _connect(self, **kwargs: Any) -> psycopg.Connection:
        extra: dict[str, Any] = {}
        if "user" not in conninfo.conninfo_to_dict(self.dsn) and not os.environ.get("PGUSER"):
            extra["user"] = default_user()
        try:
            conn = psycopg.connect(
                self.dsn,
                autocommit=True,
                connect_timeout=int(max(1, self.lock_timeout)),
                **extra,
                **kwargs,
            )
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to the store {self.path}: {exc}") from None
        conn.adapters.register_dumper(str, _NulFreeStrDumper)
        return conn

    def _open(self) -> None:
        self._lease = _NoLease()
        self._remote: dict[str, _Remote] = {}
        self._follow_lock = threading.Lock()
        self._listener: threading.Thread | None = None
        self._listen_conn: psycopg.Connection | None = None
        self._follow_conn: psycopg.Connection | None = None
        self._duck: duckdb.DuckDBPyConnection | None = None
        self._duck_lock = threading.Lock()
        self._conn = self._connect()
        try:
            install_schema(self._conn)
            self.role = self._conn.execute("SELECT current_user").fetchall()[0][0]
            with self._lock:
                self.recovered = self._recover()
        except psycopg.Error as exc:
            self._conn.close()
            raise StoreError(f"the store {self.path} cannot be opened: {exc}") from None

    def _db(self) -> psycopg.Connection:
        """The main connection (call under ``self._lock``), made again if the server or the
        network dropped it; queued events are kept and retried meanwhile."""
        if self._closed:
            raise StoreError(f"the store {self.path} is closed")
        if self._conn.broken or self._conn.closed:
            self._conn = self._connect()
        return self._conn

    def _cursor(self) -> _Cursor:  # type: ignore[override]
        return _Cursor(self._db())

    def _import_cursor(self) -> _Cursor:  # type: ignore[override]
        return self._cursor()

    # -- writing ----------------------------------------------------------------------

    def _write(
        self, creates: list[list[Any]], rows: list[tuple[Any, ...]], updates: list[list[Any]]
    ) -> None:
        conn = self._db()
        with conn.transaction(), conn.cursor() as cur:
            if creates:
                cur.execute(
                    "INSERT INTO streams (id, conversation_id, status, model, provider, request,"
                    " header, owner_pid, owner_host, owner_started) SELECT a, b, 'pending', c, d,"
                    " e, f, g, h, i FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[],"
                    " %s::text[], %s::text[], %s::int[], %s::text[], %s::float8[])"
                    " AS u(a, b, c, d, e, f, g, h, i)",
                    [list(column) for column in zip(*creates)],
                )
            if rows:
                cur.execute(
                    "INSERT INTO events (stream_id, seq, t, type, payload) SELECT * FROM"
                    " unnest(%s::text[], %s::bigint[], %s::float8[], %s::text[], %s::text[])",
                    [list(column) for column in zip(*rows)],
                )
            if updates:
                cur.executemany(
                    "UPDATE streams SET status = %s, content = content || %s,"
                    " reasoning = reasoning || %s, tool_calls = %s, error = %s, usage = %s,"
                    " finish_reason = %s, first_token_t = %s, last_t = %s, version = %s,"
                    " parts = %s, updated_at = now() WHERE id = %s",
                    [update[:11] + update[-1:] for update in updates],
                )
                # delivered at commit: '<stream id>:<number of events now committed>'
                cur.execute(
                    "SELECT pg_notify(%s, x) FROM unnest(%s::text[]) AS x",
                    [CHANNEL, [f"{u[-1]}:{u[9]}" for u in updates]],
                )

    def _write_import(self, recording: Recording, stream_id: str) -> None:
        conversation, row, columns = import_rows(recording, stream_id, self._owner)
        header = recording.header
        row[-2] = _timestamp(row[-2])
        with self._lock, self._db().transaction(), self._conn.cursor() as cur:
            if conversation is not None:
                cur.execute(
                    "INSERT INTO conversations (id, title) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                    [conversation, str(header.get("conversation_title") or "Imported")],
                )
            cur.execute(
                "INSERT INTO streams (id, conversation_id, status, content, reasoning,"
                " tool_calls, error, usage, finish_reason, model, provider, request, header,"
                " first_token_t, last_t, version, owner_pid, owner_host, owner_started,"
                " created_at, recording_sha256) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s,"
                " %s, %s, %s, %s, %s, %s, %s, %s, %s, coalesce(%s, now()), %s)",
                row,
            )
            cur.execute(
                "INSERT INTO events (stream_id, seq, t, type, payload) SELECT * FROM"
                " unnest(%s::text[], %s::bigint[], %s::float8[], %s::text[], %s::text[])",
                columns,
            )

    def _recover(self) -> list[str]:
        """End this role's streams whose writing process is gone with an ``interrupted``
        event. Each orphan is taken with ``FOR UPDATE SKIP LOCKED``, so two processes that
        open the store at once never both end it."""
        rows = self._conn.execute(
            "SELECT id, owner_pid, owner_host, owner_started FROM streams"
            " WHERE status IN ('pending', 'streaming')"
        ).fetchall()
        recovered = []
        for stream_id, pid, host, started in rows:
            if owner.alive(pid, host, started):
                continue
            with self._conn.transaction():
                locked = self._conn.execute(
                    "SELECT 1 FROM streams WHERE id = %s AND status IN ('pending', 'streaming')"
                    " FOR UPDATE SKIP LOCKED",
                    [stream_id],
                ).fetchall()
                if not locked:
                    continue
                document = self._load_document(stream_id)
                seq = self._conn.execute(
                    "SELECT coalesce(max(seq) + 1, 0) FROM events WHERE stream_id = %s",
                    [stream_id],
                ).fetchall()[0][0]
                document.version = seq
                live = _Live(document, next_seq=seq)
                event = {"t": document.last_t or 0.0, "type": "interrupted"}
                document.apply(event)
                row = (stream_id, seq, event["t"], "interrupted", "{}")
                self._write([], [row], [self._document_row(live)])
            recovered.append(stream_id)
        return recovered

    # -- sharing ----------------------------------------------------------------------

    def share(self, object_id: str, grantee: str) -> None:
        """Let the database role ``grantee`` see (and follow) a stream or a conversation of
        yours (a conversation shares its messages and its streams)."""
        with self._lock:
            self._db().execute(
                "INSERT INTO shares (object_id, grantee) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                [object_id, grantee],
            )

    def unshare(self, object_id: str, grantee: str) -> None:
        with self._lock:
            self._db().execute(
                "DELETE FROM shares WHERE object_id = %s AND grantee = %s", [object_id, grantee]
            )

    # -- following a stream another process writes ------------------------------------

    def follow(self, stream_id: str, callback: Callback) -> tuple[Document, Any]:
        with self._state:
            local = stream_id in self._live
        if local:  # this process writes it: no database round trip
            return super().follow(stream_id, callback)
        self._start_listener()  # LISTEN first: nothing committed after the read is missed
        document = self.get(stream_id)
        if document.done:
            return document, self.subscribe(stream_id, callback)
        with self._state:
            remote = self._remote.get(stream_id)
            if remote is None or remote.next_seq < document.version:
                remote = self._remote[stream_id] = _Remote(document)
            now = copy_document(remote.document)
            unsubscribe = self._subscribe_locked(stream_id, _on_caller_loop(callback))
        self._catch_up(stream_id)  # a commit between the read and the subscription
        return now, unsubscribe

    def _start_listener(self) -> None:
        with self._follow_lock:
            if self._listener is not None:
                return
            self._follow_conn = self._connect()
            self._listen_conn = self._connect()
            self._listen_conn.execute(f"LISTEN {CHANNEL}")
            self._listener = threading.Thread(
                target=self._listen_loop, name="streamwidget-listener", daemon=True
            )
            self._listener.start()

    def _listen_loop(self) -> None:
        while not self._closed:
            conn = self._listen_conn
            try:
                assert conn is not None
                notes = list(conn.notifies(timeout=0.5, stop_after=1))
                if notes:  # and whatever else arrives meanwhile: one read for all of them
                    notes += conn.notifies(timeout=0.002)
                counts: dict[str, int] = {}
                for note in notes:
                    stream_id, _, count = note.payload.rpartition(":")
                    counts[stream_id] = max(counts.get(stream_id, 0), int(count or 0))
                behind = [
                    sid
                    for sid, count in counts.items()
                    if (remote := self._remote.get(sid)) is not None and count > remote.next_seq
                ]
                if behind:
                    self._catch_up(*behind)
            except (psycopg.Error, StoreError, AssertionError):
                if self._closed:
                    return
                self._reconnect()

    def _reconnect(self) -> None:
        """The server went away: connect again, LISTEN again, then read what was missed."""
        time.sleep(0.5)
        try:
            with self._follow_lock:
                for old in (self._listen_conn, self._follow_conn):
                    if old is not None:
                        with contextlib.suppress(psycopg.Error):
                            old.close()
                self._follow_conn = self._connect()
                self._listen_conn = self._connect()
                self._listen_conn.execute(f"LISTEN {CHANNEL}")
        except StoreError:
            self._listen_conn = None
            return
        for stream_id in list(self._remote):
            with contextlib.suppress(psycopg.Error):
                self._catch_up(stream_id)

    def _catch_up(self, *stream_ids: str) -> None:
        """Read the events of followed streams after the last one seen (one query for all of
        them, by primary key ranges) and notify, in order per stream."""
        with self._follow_lock:
            remotes = {sid: r for sid in stream_ids if (r := self._remote.get(sid)) is not None}
            if not remotes or self._follow_conn is None or self._closed:
                return
            rows = self._follow_conn.execute(
                "SELECT e.stream_id, e.seq, e.t, e.type, e.payload"
                " FROM unnest(%s::text[], %s::bigint[]) AS f(stream_id, next)"
                " JOIN events e ON e.stream_id = f.stream_id AND e.seq >= f.next"
                " ORDER BY e.stream_id, e.seq",
                [list(remotes), [r.next_seq for r in remotes.values()]],
            ).fetchall()
            for stream_id, seq, t, kind, payload in rows:
                remote = remotes[stream_id]
                if seq != remote.next_seq:
                    continue  # past a gap (not visible yet): read again on the next notify
                event = {"t": t, "type": kind, **json.loads(payload)}
                remote.document.apply(event)
                remote.next_seq += 1
                self._notify(Change(stream_id, remote.document, event, committed=True))
            with self._state:
                for stream_id, remote in remotes.items():
                    if remote.document.done:
                        self._remote.pop(stream_id, None)

    def cursor(self) -> contextlib.AbstractContextManager[psycopg.Cursor]:  # type: ignore[override]
        """``with store.cursor() as cur:`` — a raw PostgreSQL cursor (``%s`` placeholders)."""
        self.flush()
        return _RawCursor(self)

    # -- lifecycle ----------------------------------------------------------------------

    def close(self) -> None:
        if self._closed:
            return
        try:
            super().close()
        finally:
            with self._lock:
                self._conn.close()
            with self._follow_lock:
                for conn in (self._listen_conn, self._follow_conn):
                    if conn is not None:
                        conn.close()
            if self._duck is not None:
                self._duck.close()


class _RawCursor:
    def __init__(self, store: PostgresStore):
        self.store = store

    def __enter__(self) -> psycopg.Cursor:
        self.store._lock.acquire()
        try:
            self._cur = self.store._db().cursor()
        except BaseException:
            self.store._lock.release()
            raise
        return self._cur

    def __exit__(self, *exc: object) -> None:
        try:
            self._cur.close()
        finally:
            self.store._lock.release()


def copy_document(document: Document) -> Document:
    return copy.deepcopy(document)


def _on_caller_loop(callback: Callback) -> Callback:
    """Deliver changes on the event loop that was running when the caller subscribed (the
    kernel's, in a notebook), as a local stream's changes are: a view then schedules its
    frames exactly as for a local stream. Without a running loop, deliver at once."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return callback

    def deliver(change: Change) -> None:
        snapshot = Change(
            change.stream_id, copy_document(change.document), change.event, change.committed
        )
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is listening
            loop.call_soon_threadsafe(callback, snapshot)

    return deliver


def _timestamp(value: object) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        stamp = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.timezone.utc)


class _NulFreeStrDumper(StrDumper):
    """PostgreSQL text cannot hold NUL: every string sent gets U+FFFD instead. Event payloads
    are JSON, where NUL is escaped, so the event log stays exact (replays, exports)."""

    def dump(self, obj: str) -> Buffer | None:
        return super().dump(obj.replace("\x00", "\ufffd") if "\x00" in obj else obj)
