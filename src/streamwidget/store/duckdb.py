"""The DuckDB backend: one file (or ``":memory:"``), shared between processes by a lease.

DuckDB lets one process hold a file, so this backend holds it only while busy
(:mod:`.lease`): every database call takes a cursor for its thread from the lease (opening the
file, waiting for another process if needed), and the writer thread lets the file go when the
store is idle or another process asks for it (:meth:`DuckDBBackend.let_go`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from ..document import Document
from .backend import EndOrphan, Subscribe, Unsubscribe
from .duckdb_schema import ADDED_COLUMNS, INDEX_SQL, SCHEMA_SQL
from .lease import Lease, LeaseTimeout
from .rows import (
    STREAM_COLUMNS,
    UPDATE_COLUMNS,
    UPDATE_MANY_COLUMNS,
    DocumentUpdate,
    EventRow,
    ImportedStream,
    NewStream,
    OpenStream,
    document_from_row,
    event_columns,
    materialize,
    update_columns,
)
from .sql import DOCUMENT, IMPORT_CONVERSATION, NEXT_SEQ, OPEN_STREAMS
from .types import ENV_VAR, Callback, StoreError, StoreLockedError, check_folder

_INSERT_STREAMS = (
    "INSERT INTO streams (id, conversation_id, status, model, provider, request, header,"
    " owner_pid, owner_host, owner_started) SELECT unnest($1::VARCHAR[]), unnest($2::VARCHAR[]),"
    " 'pending', unnest($3::VARCHAR[]), unnest($4::VARCHAR[]), unnest($5::JSON[]),"
    " unnest($6::JSON[]), unnest($7::INTEGER[]), unnest($8::VARCHAR[]), unnest($9::DOUBLE[])"
)
_STREAM_COLUMN_TYPES = (
    "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'streams'"
)
_INSERT_EVENT_COLUMNS = (
    "INSERT INTO events SELECT unnest($1::VARCHAR[]), unnest($2::BIGINT[]),"
    " unnest($3::DOUBLE[]), unnest($4::VARCHAR[]), unnest($5::JSON[])"
)
_UPDATE = f"UPDATE streams SET {UPDATE_COLUMNS} WHERE id = $13"
_UPDATE_MANY = (
    f"UPDATE streams SET {UPDATE_MANY_COLUMNS} FROM (SELECT unnest($1::VARCHAR[]) AS status,"
    " unnest($2::VARCHAR[]) AS added, unnest($3::VARCHAR[]) AS added_reasoning,"
    " unnest($4::JSON[]) AS tool_calls, unnest($5::JSON[]) AS error, unnest($6::JSON[]) AS usage,"
    " unnest($7::VARCHAR[]) AS finish_reason, unnest($8::DOUBLE[]) AS first_token_t,"
    " unnest($9::DOUBLE[]) AS last_t, unnest($10::BIGINT[]) AS version,"
    " unnest($11::JSON[]) AS warnings, unnest($12::JSON[]) AS parts,"
    " unnest($13::VARCHAR[]) AS id) AS u"
    " WHERE streams.id = u.id"
)


class DuckDBBackend:
    """A DuckDB file behind the :class:`~.backend.Backend` contract."""

    role: str | None = None

    def __init__(
        self, path: str, *, lock_timeout: float, idle_release: float, woken: Callable[[], None]
    ) -> None:
        self.display = path
        self.lock_timeout = lock_timeout
        self.idle_release = idle_release
        self._woken = woken  # the writer lets the file go again: wake it when we take it
        self._lock = threading.RLock()  # the lease and its cursors
        self._closed = False
        self._column_types: dict[str, str] | None = None  # of `streams`, read on first import
        self._last_used = time.monotonic()
        if path != ":memory:":
            check_folder(path)
        self.lease = Lease(path)
        try:
            with self._cursor() as cur:
                cur.execute(SCHEMA_SQL)
                self._upgrade(cur)
        except duckdb.Error as exc:
            self.lease.close()  # a failed open must not keep the file locked for other kernels
            raise self._open_error(exc) from None

    def _upgrade(self, cur: duckdb.DuckDBPyConnection) -> None:
        """Bring a file written by an earlier version up to the schema (one catalog read when
        it is already there); a ``streams`` table that is not ours is an error."""
        (columns, indexes), *_ = cur.execute(
            "SELECT (SELECT list(column_name) FROM duckdb_columns() WHERE table_name = 'streams'"
            " AND schema_name = current_schema()), (SELECT list(index_name) FROM"
            " duckdb_indexes() WHERE table_name = 'streams' AND schema_name = current_schema())"
        ).fetchall()
        added = {name for name, _ in ADDED_COLUMNS}
        missing = set(STREAM_COLUMNS) - added - set(columns or ())
        if missing:
            raise duckdb.CatalogException(
                f"its table streams has no column {', '.join(sorted(missing))}"
            )
        for name, sql_type in ADDED_COLUMNS:
            if name not in columns:
                cur.execute(f"ALTER TABLE streams ADD COLUMN {name} {sql_type}")
        if "streams_sha256" not in (indexes or ()):
            cur.execute(INDEX_SQL)

    def _open_error(self, exc: duckdb.Error) -> StoreError:
        if self.display != ":memory:" and not Path(self.display).exists():
            return StoreError(
                f"the store {self.display} cannot be created ({type(exc).__name__}: {exc}). "
                f"Pass Store(path=...) or set {ENV_VAR} to a writable place."
            )
        return StoreError(
            f"the store {self.display} cannot be read ({type(exc).__name__}: {exc}). If the "
            "file is damaged, move it aside; streamwidget then starts a new, empty store."
        )

    @contextmanager
    def _cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """This thread's cursor, the file held (and the lock taken) meanwhile."""
        with self._lock:
            if self._closed:
                raise StoreError(f"the store {self.display} is closed")
            self._last_used = time.monotonic()
            was_held = self.lease.held
            try:
                cursor = self.lease.cursor(self.lock_timeout)
            except LeaseTimeout as exc:
                raise StoreLockedError(
                    f"{exc}. Close that kernel, or use another file: Store(path=...) or {ENV_VAR}."
                ) from None
            if not was_held:
                self._woken()
            yield cursor

    # -- writing ----------------------------------------------------------------------------

    def write_batch(
        self,
        creates: Sequence[NewStream],
        events: Sequence[EventRow],
        updates: Sequence[DocumentUpdate],
    ) -> None:
        with self._cursor() as cur:
            cur.execute("BEGIN TRANSACTION")
            try:
                if creates:
                    cur.execute(_INSERT_STREAMS, [list(column) for column in zip(*creates)])
                if events:
                    insert_events(cur, events)
                if len(updates) == 1:
                    cur.execute(_UPDATE, updates[0].sql_params())
                elif updates:  # many short streams: one statement, not one per stream
                    cur.execute(_UPDATE_MANY, update_columns(updates))
                cur.execute("COMMIT")
            except Exception:
                cur.execute("ROLLBACK")
                raise

    def write_imports(self, imported: Sequence[ImportedStream]) -> None:
        if not imported:
            return
        names = list(imported[0].stream)
        columns = [[one.stream[name] for one in imported] for name in names]
        conversations = {one.conversation_id: one.conversation_title for one in imported}
        conversations.pop(None, None)
        with self._cursor() as cur:
            cur.execute("BEGIN TRANSACTION")
            try:
                for conversation in conversations.items():
                    cur.execute(IMPORT_CONVERSATION, list(conversation))
                cur.execute(self._insert_streams(names), columns)
                cur.execute(_INSERT_EVENT_COLUMNS, event_columns(imported))
                cur.execute("COMMIT")
            except Exception:
                cur.execute("ROLLBACK")
                raise

    def _insert_streams(self, names: list[str]) -> str:
        """One ``INSERT`` of many ``streams`` rows given as columns (``$n``: the n-th name's
        values), typed from the table; an unreadable ``created_at`` becomes the time now."""
        if self._column_types is None:
            self._column_types = dict(self.rows(_STREAM_COLUMN_TYPES))
        types = ["VARCHAR" if n == "created_at" else self._column_types[n] for n in names]
        unnested = ", ".join(
            f"unnest(${i}::{kind}[]) AS {name}"
            for i, (name, kind) in enumerate(zip(names, types, strict=True), 1)
        )
        picked = ", ".join(
            "coalesce(TRY_CAST(created_at AS TIMESTAMPTZ), now())" if n == "created_at" else n
            for n in names
        )
        return f"INSERT INTO streams ({', '.join(names)}) SELECT {picked} FROM (SELECT {unnested})"

    # -- recovery ---------------------------------------------------------------------------

    def open_streams(self) -> list[OpenStream]:
        try:  # read when the store opens: a file that is not a store fails here
            return [OpenStream(*row) for row in self.rows(OPEN_STREAMS)]
        except duckdb.Error as exc:
            raise self._open_error(exc) from None

    def end_orphan(self, stream_id: str, end: EndOrphan) -> bool:
        # The lease is exclusive: no other process can end it between the read and the write.
        with self._lock:
            found = self.rows(DOCUMENT, [stream_id])
            if not found:
                return False
            document = document_from_row(found[0])
            if document.done:
                return False
            event, update = end(document, self.rows(NEXT_SEQ, [stream_id])[0][0])
            self.write_batch([], [event], [update])
            return True

    # -- queries ----------------------------------------------------------------------------

    def rows(self, query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._cursor() as cur:
            # fetchall, not fetchone: DuckDB 2 keeps a half-read result open on the cursor
            return cur.execute(query, list(params)).fetchall()

    def columns_and_rows(
        self, query: str, params: Sequence[Any] = ()
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        with self._cursor() as cur:
            cur.execute(query, list(params))
            return [d[0] for d in cur.description], cur.fetchall()

    def execute(self, query: str, params: Sequence[Any] = ()) -> None:
        with self._cursor() as cur:
            cur.execute(query, list(params))

    def sql(self, query: str, params: Any = None) -> duckdb.DuckDBPyRelation | None:
        with self._cursor() as cur:
            relation = cur.sql(query, params=params)
            return None if relation is None else materialize(relation)

    @contextmanager
    def cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self._cursor() as cur:
            yield cur

    def connection(self) -> duckdb.DuckDBPyConnection:
        with self._cursor():
            return self.lease.new_cursor()

    def share(self, object_id: str, grantee: str) -> None:
        raise StoreError(
            "sharing rows needs a PostgreSQL store; a DuckDB file is shared by its file permissions"
        )

    unshare = share

    # -- following: only this process writes a DuckDB file's live streams -------------------

    def listen(self) -> bool:
        return False

    def follow(
        self, document: Document, callback: Callback, subscribe: Subscribe
    ) -> tuple[Document, Unsubscribe]:
        return document, subscribe(callback)

    # -- the lease ----------------------------------------------------------------------------

    @property
    def holds(self) -> bool:
        return self.lease.held

    def let_go(self, idle: bool) -> None:
        with self._lock:
            idle = idle and time.monotonic() - self._last_used > self.idle_release
            if self.lease.held and (idle or self.lease.wanted()):
                self.lease.release()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self.lease.close()


def insert_events(cur: duckdb.DuckDBPyConnection, rows: Sequence[EventRow]) -> None:
    """Insert a batch's event rows: one ``INSERT`` per stream, whose id is a scalar, whose
    ``seq`` is generated from its first, and whose columns are bound as one string each. The
    payloads go in as text; the JSON column still checks each one."""
    groups = by_stream(rows)
    if groups is None:  # not expected; write every row as it is
        cur.execute(_INSERT_EVENT_COLUMNS, [list(column) for column in zip(*rows)])
        return
    many = len(groups) > _STATEMENTS_PER_BATCH and not any(_SEP in sid for sid in groups)
    if many:  # many short streams: one statement for them all (a statement costs ~2 ms)
        cur.execute(
            "INSERT INTO events SELECT unnest(string_split($1, $6)),"
            " unnest(string_split($2, ','))::BIGINT, unnest(string_split($3, ','))::DOUBLE,"
            " unnest(string_split($4, $6)), unnest(string_split($5, $6))",
            [
                _SEP.join([r[0] for r in rows]),
                ",".join([str(r[1]) for r in rows]),
                ",".join([repr(r[2]) for r in rows]),
                _SEP.join([r[3] for r in rows]),
                _SEP.join([r[4] for r in rows]),
                _SEP,
            ],
        )
        return
    for stream_id, group in groups.items():
        # Each column goes in as one string split by DuckDB: binding a Python list costs a
        # conversion per element. JSON escapes control characters, so the separator (ASCII
        # record separator) never occurs in a payload; types come from a fixed vocabulary.
        cur.execute(
            "INSERT INTO events SELECT $1, $2 + generate_subscripts(p, 1) - 1,"
            " unnest(string_split($3, ','))::DOUBLE, unnest(string_split($4, $6)), unnest(p)"
            " FROM (SELECT string_split($5, $6) AS p)",
            [
                stream_id,
                group[0][1],  # EventRow: (stream_id, seq, t, type, payload)
                ",".join([repr(r[2]) for r in group]),
                _SEP.join([r[3] for r in group]),
                _SEP.join([r[4] for r in group]),
                _SEP,
            ],
        )


_SEP = "\x1e"
#: Streams in a batch written with an ``INSERT`` each; more share one.
_STATEMENTS_PER_BATCH = 4


def by_stream(rows: Sequence[EventRow]) -> dict[str, list[EventRow]] | None:
    """The rows of each stream, or ``None`` if a stream's ``seq`` are not consecutive.

    They always are: :meth:`Store.append` numbers a stream's rows 0, 1, 2... under the state
    lock, and a batch that failed is put back before the rows queued since."""
    groups: dict[str, list[EventRow]] = {}
    for row in rows:
        group = groups.get(row[0])  # EventRow: (stream_id, seq, t, type, payload)
        if group is None:
            groups[row[0]] = [row]
        elif group[-1][1] + 1 == row[1]:
            group.append(row)
        else:
            return None
    return groups
