"""The store: one DuckDB file holding every reply as one document plus its event log.

Narrow interface: open, create/append (the batch writer), get/read, subscribe, recover. The
manager is the only writer of a stream; widgets subscribe and never write.

Writes are batched and never block the caller: :meth:`Store.append` folds the event into the
in-memory document, notifies subscribers at once, and queues the event row. A writer thread
commits the queue in one transaction (new streams, then each stream's events with one
``INSERT ... SELECT unnest(...)``, then one ``UPDATE`` per touched document that appends only
the new text) every ``batch_interval`` seconds, sooner when ``batch_size`` events wait or a
stream ends; :meth:`Store.flush` and :meth:`Store.close` commit at once.

Several processes (notebooks) share one file: each holds it only while busy (see
:mod:`streamwidget.lease`), so a second kernel streams and reads history next to the first.

Errors::

    StoreError               a store cannot be opened or written; the message says what to do
     └── StoreLockedError    another process kept the file longer than we could wait
"""

from __future__ import annotations

import atexit
import copy
import json
import os
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

from . import owner
from .document import Document
from .events import TERMINAL_TYPES, TEXT_FIELDS, Event, validate_event
from .lease import Lease, LeaseTimeout
from .parts import Parts
from .recording import Recording
from .schema import SCHEMA_SQL, STREAM_COLUMNS, migrate
from .store_conversations import ConversationsMixin
from .store_import import ImportMixin
from .store_rows import (
    _SURROGATE,
    _document_from_row,
    _first,
    _insert_events,
    _json,
    _materialize,
    _new_id,
    _payload_json,
    _without_lone_surrogates,
)
from .store_types import (
    ENV_VAR,
    Callback,
    Change,
    StoreError,
    StoreLockedError,
    _check_folder,
    default_path,
    is_postgres_dsn,
)

__all__ = [
    "ENV_VAR",
    "Callback",
    "Change",
    "Store",
    "StoreError",
    "StoreLockedError",
    "default_path",
    "default_store",
    "is_postgres_dsn",
]


class _Live:
    """A stream this store is writing: its document and what is not committed yet."""

    __slots__ = ("committed_reasoning", "committed_text", "document", "next_seq")

    def __init__(self, document: Document, next_seq: int = 0):
        self.document = document
        self.next_seq = next_seq
        self.committed_text = document.text_length
        self.committed_reasoning = document.reasoning_length


class Store(ConversationsMixin, ImportMixin):
    """A DuckDB-backed store. ``Store()`` opens the default file; ``Store(":memory:")`` too.

    ``lock_timeout``: how long a read or a commit waits for another process to let go of
    the file before :class:`StoreLockedError` (queued events are kept and retried).
    ``idle_release``: seconds of idleness after which the file is let go.
    """

    def __new__(cls, path: str | os.PathLike[str] | None = None, **kwargs: Any) -> Store:
        # ``Store("postgresql://...")`` (or $STREAMWIDGET_STORE set to a DSN) is the
        # PostgreSQL store: same interface, a database server instead of a file.
        target = path if path is not None else os.environ.get(ENV_VAR)
        if cls is Store and is_postgres_dsn(target):
            try:
                from .store_postgres import PostgresStore
            except ImportError as exc:
                raise StoreError(
                    f"a PostgreSQL store needs psycopg 3 ({exc}): "
                    "pip install 'streamwidget[postgres]'"
                ) from None
            return super().__new__(PostgresStore)
        return super().__new__(cls)

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        batch_size: int = 512,
        batch_interval: float = 0.1,
        lock_timeout: float = 10.0,
        idle_release: float = 1.0,
    ):
        self.path = self._resolve_path(path)
        self.batch_size = batch_size
        self.batch_interval = batch_interval
        self.lock_timeout = lock_timeout
        self.idle_release = idle_release
        self._lock = threading.RLock()  # the database (lease and cursors)
        self._state = threading.Lock()  # the in-memory documents and queues
        self._commit_lock = threading.Lock()  # one commit at a time, in order
        self._live: dict[str, _Live] = {}
        self._creates: list[list[Any]] = []
        self._pending: list[tuple[str, int, float, str, str]] = []
        self._dirty: set[str] = set()
        self._subscribers: dict[str, list[Callback]] = {}
        self._closed = False
        self._last_used = time.monotonic()
        self.write_error: StoreError | None = None
        self.commits = 0  # transactions written (for tests and measurements)
        self._wake = threading.Event()
        self._owner = owner.current()
        self._open()
        self._writer = threading.Thread(
            target=self._write_loop, name="streamwidget-writer", daemon=True
        )
        self._writer.start()
        ref = weakref.ref(self)
        atexit.register(lambda: (s := ref()) is not None and s.close())

    def _resolve_path(self, path: str | os.PathLike[str] | None) -> str:
        return ":memory:" if path == ":memory:" else str(Path(path or default_path()))

    def _open(self) -> None:
        """Open the database: schema, then orphan recovery (``self.recovered``)."""
        if self.path != ":memory:":
            _check_folder(self.path)
        try:
            self._lease = Lease(self.path)
            with self._lock:
                self._cursor().execute(SCHEMA_SQL)
                migrate(self._cursor())
                self.recovered = self._recover()
        except duckdb.Error as exc:
            lease = getattr(self, "_lease", None)
            if lease is not None:
                lease.close()  # a failed open must not keep the file locked for other kernels
            if self.path != ":memory:" and not Path(self.path).exists():
                raise StoreError(
                    f"the store {self.path} cannot be created ({type(exc).__name__}: {exc}). "
                    f"Pass Store(path=...) or set {ENV_VAR} to a writable place."
                ) from None
            raise StoreError(
                f"the store {self.path} cannot be read ({type(exc).__name__}: {exc}). If the "
                "file is damaged, move it aside; streamwidget then starts a new, empty store."
            ) from None

    # -- writing ----------------------------------------------------------------------

    def create_stream(
        self,
        *,
        provider: str | None = None,
        model: str | None = None,
        request: dict[str, Any] | None = None,
        conversation_id: str | None = None,
        header: dict[str, Any] | None = None,
        stream_id: str | None = None,
    ) -> str:
        """Add a ``pending`` document and return its id (written with the next batch)."""
        stream_id = stream_id or _new_id("s")
        pid, host, started = self._owner
        with self._state:
            self._creates.append(
                [
                    stream_id,
                    conversation_id,
                    model,
                    provider,
                    _json(request or {}),
                    _json(header or {}),
                    pid,
                    host,
                    started,
                ]
            )
            self._live[stream_id] = _Live(Document(stream_id, model=model, provider=provider))
        self._wake.set()
        return stream_id

    def append(self, stream_id: str, event: Event) -> Document:
        """Apply one event (with ``t``) to a stream this store is writing, and queue it."""
        kind = event.get("type")
        if kind not in TEXT_FIELDS or not isinstance(event.get("text"), str):
            validate_event(event)  # before the fold: a bad event must change nothing
        payload = _payload_json(event)
        if _SURROGATE.search(payload):
            event, payload = _without_lone_surrogates(event)
        with self._state:
            live = self._live.get(stream_id)
            if live is None:
                raise StoreError(
                    f"stream {stream_id!r} is not being written by this store "
                    "(finished, or created elsewhere)"
                )
            live.document.apply(event)
            t = float(event.get("t", 0.0))  # an int t too: a batch column has one type
            self._pending.append((stream_id, live.next_seq, t, kind, payload))
            live.next_seq += 1
            self._dirty.add(stream_id)
            document = live.document
            urgent = len(self._pending) >= self.batch_size
        self._notify(Change(stream_id, document, event, committed=False))
        if (urgent or kind in TERMINAL_TYPES) and not self._wake.is_set():
            self._wake.set()
        return document

    def flush(self) -> None:
        """Commit everything queued now, in this thread (waiting for the file if needed)."""
        if not self._closed:
            self._commit()

    def _commit(self) -> None:
        with self._commit_lock:
            with self._state:
                if not (self._pending or self._creates):
                    return
                creates, rows, dirty = self._creates, self._pending, self._dirty
                self._creates, self._pending, self._dirty = [], [], set()
                updates = [self._document_row(self._live[sid]) for sid in dirty]
            try:
                with self._lock:
                    self._write(creates, rows, updates)
            except Exception as exc:
                with self._state:  # keep everything for the next attempt
                    self._creates = creates + self._creates
                    self._pending = rows + self._pending
                    self._dirty |= dirty
                if isinstance(exc, LeaseTimeout):
                    error: StoreError = StoreLockedError(
                        f"{exc}. The events are kept in memory and written when it lets go; "
                        "close that kernel or give it more time."
                    )
                else:
                    error = StoreError(
                        f"could not write to the store {self.path}: {exc}. The "
                        "events are kept in memory and retried."
                    )
                self.write_error = error
                raise error from exc
            self.write_error = None
            self.commits += 1
            changes = []
            with self._state:
                for update in updates:
                    live = self._live[update[-1]]
                    live.committed_text, live.committed_reasoning = update[-3], update[-2]
                    changes.append(Change(live.document.stream_id, live.document, None, True))
                    if update[0] in ("complete", "error", "cancelled", "interrupted"):
                        del self._live[update[-1]]
        for change in changes:
            self._notify(change)

    def _document_row(self, live: _Live) -> list[Any]:
        """The UPDATE parameters for one document (taken under the state lock)."""
        doc = live.document
        return [
            doc.status,
            doc.text_since(live.committed_text),
            doc.reasoning_since(live.committed_reasoning),
            _json([c.to_dict() for c in doc.tool_calls]),
            _json(doc.error),
            _json(doc.usage),
            doc.finish_reason,
            doc.first_token_t,
            doc.last_t,
            doc.version,
            _json([part.to_dict() for part in doc.parts]),
            doc.text_length,
            doc.reasoning_length,
            doc.stream_id,
        ]

    def _write(
        self, creates: list[list[Any]], rows: list[tuple[Any, ...]], updates: list[list[Any]]
    ) -> None:
        cur = self._cursor()
        cur.execute("BEGIN TRANSACTION")
        try:
            if creates:
                cur.execute(
                    "INSERT INTO streams (id, conversation_id, status, model, provider, request,"
                    " header, owner_pid, owner_host, owner_started) SELECT unnest($1::VARCHAR[]),"
                    " unnest($2::VARCHAR[]), 'pending', unnest($3::VARCHAR[]),"
                    " unnest($4::VARCHAR[]), unnest($5::JSON[]), unnest($6::JSON[]),"
                    " unnest($7::INTEGER[]), unnest($8::VARCHAR[]), unnest($9::DOUBLE[])",
                    [list(column) for column in zip(*creates)],
                )
            if rows:
                _insert_events(cur, rows)
            # Append only the new text: rewriting the whole text per batch would make the WAL
            # grow with the square of the reply length.
            for update in updates:
                cur.execute(
                    "UPDATE streams SET status = ?, content = content || ?,"
                    " reasoning = reasoning || ?, tool_calls = ?, error = ?, usage = ?,"
                    " finish_reason = ?, first_token_t = ?, last_t = ?, version = ?, parts = ?,"
                    " updated_at = now() WHERE id = ?",
                    update[:11] + update[-1:],
                )
            cur.execute("COMMIT")
        except Exception:
            cur.execute("ROLLBACK")
            raise

    def _write_loop(self) -> None:
        """The writer thread: commit on time, let the file go when idle or wanted."""
        while not self._closed:
            # A live stream keeps the writer on its clock even when nothing waits right now
            # (e.g. just after a hand-off): append() only wakes it for a full batch or an end.
            busy = self._lease.held or self._pending or self._creates or self._live
            self._wake.wait(self.batch_interval if busy else None)
            self._wake.clear()
            if self._closed:
                return
            try:
                self._commit()
            except StoreError:
                time.sleep(self.batch_interval)  # kept in memory; retried on the next round
                continue
            except Exception as exc:  # never let the writer die silently
                self.write_error = StoreError(f"the store writer failed: {exc!r}")
                continue
            with self._lock:
                idle = (
                    not self._live
                    and not self._pending
                    and time.monotonic() - self._last_used > self.idle_release
                )
                if self._lease.held and (idle or self._lease.wanted()):
                    self._lease.release()

    # -- reading ----------------------------------------------------------------------

    def get(self, stream_id: str) -> Document:
        """The document of a stream: live (with uncommitted changes) or as stored."""
        with self._state:
            live = self._live.get(stream_id)
            if live is not None:
                return copy.deepcopy(live.document)
        with self._lock:
            row = _first(
                self._cursor().execute(
                    f"SELECT {', '.join(STREAM_COLUMNS)} FROM streams WHERE id = ?", [stream_id]
                )
            )
        if row is None:
            raise KeyError(f"no stream {stream_id!r} in the store {self.path}")
        return self._from_row(row)

    def events(self, stream_id: str) -> list[Event]:
        """Every event of a stream, in order, including queued ones."""
        self.flush()
        with self._lock:
            rows = (
                self._cursor()
                .execute(
                    "SELECT t, type, payload FROM events WHERE stream_id = ? ORDER BY seq",
                    [stream_id],
                )
                .fetchall()
            )
        return [{"t": t, "type": kind, **json.loads(payload)} for t, kind, payload in rows]

    def recording(self, stream_id: str) -> Recording:
        """A stream as a :class:`Recording`, ready to save, replay or compare."""
        self.flush()
        with self._lock:
            row = _first(
                self._cursor().execute(
                    "SELECT provider, model, request, header, created_at FROM streams WHERE id = ?",
                    [stream_id],
                )
            )
        if row is None:
            raise KeyError(f"no stream {stream_id!r} in the store {self.path}")
        provider, model, request, header, created_at = row
        extra = {
            k: v
            for k, v in json.loads(header or "{}").items()
            if k not in ("streamwidget", "version", "provider", "model", "request")
        }
        extra.setdefault("created_at", created_at.isoformat())
        extra["stream_id"] = stream_id
        rec = Recording.new(
            provider=provider or "",
            model=model or "",
            request=json.loads(request or "{}"),
            events=self.events(stream_id),
            **extra,
        )
        rec.source = f"store:{stream_id}"
        return rec

    def streams(self, limit: int = 100) -> list[dict[str, Any]]:
        """The newest streams: id, status, model, provider, created_at, length of the text."""
        return self._dicts(
            "SELECT id, status, model, provider, created_at, length(content) AS chars"
            " FROM streams ORDER BY created_at DESC LIMIT ?",
            [limit],
        )

    def sql(
        self, query: str, params: list[Any] | dict[str, Any] | None = None
    ) -> duckdb.DuckDBPyRelation | None:
        """Run SQL against the store (tables: conversations, messages, streams, events).

        Returns the result as a relation held in memory, so it stays usable after the store
        lets the file go to another kernel. For lazy relations over the file itself, use
        ``with store.cursor() as cur: ...``.
        """
        self.flush()
        with self._lock:
            relation = self._cursor().sql(query, params=params)
            return None if relation is None else _materialize(relation)

    def cursor(self) -> _CursorContext:
        """``with store.cursor() as cur:`` — the raw DuckDB API, the file held meanwhile."""
        self.flush()
        return _CursorContext(self)

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        """A new cursor on the file. It stops working when the store lets the file go (after
        an idle second, or when another kernel asks for it): prefer :meth:`sql` or
        :meth:`cursor`."""
        self.flush()
        with self._lock:
            self._cursor()
            return self._lease.new_cursor()

    def _dicts(self, query: str, params: list[Any]) -> list[dict[str, Any]]:
        self.flush()
        with self._lock:
            cur = self._cursor().execute(query, params)
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row)) for row in cur.fetchall()]

    # -- subscriptions ------------------------------------------------------------------

    def subscribe(self, stream_id: str, callback: Callback) -> Callable[[], None]:
        """Call ``callback(change)`` on every change of a stream; returns the unsubscribe."""
        with self._state:
            self._subscribers.setdefault(stream_id, []).append(callback)

        def unsubscribe() -> None:
            with self._state:
                callbacks = self._subscribers.get(stream_id, [])
                if callback in callbacks:
                    callbacks.remove(callback)

        return unsubscribe

    def follow(self, stream_id: str, callback: Callback) -> tuple[Document, Callable[[], None]]:
        """The document now and a subscription from exactly that point (no gap, no overlap)."""
        with self._state:
            live = self._live.get(stream_id)
            if live is not None:
                return copy.deepcopy(live.document), self._subscribe_locked(stream_id, callback)
        document = self.get(stream_id)  # finished: nothing more will come
        return document, self.subscribe(stream_id, callback)

    def _subscribe_locked(self, stream_id: str, callback: Callback) -> Callable[[], None]:
        self._subscribers.setdefault(stream_id, []).append(callback)

        def unsubscribe() -> None:
            with self._state:
                callbacks = self._subscribers.get(stream_id, [])
                if callback in callbacks:
                    callbacks.remove(callback)

        return unsubscribe

    def _notify(self, change: Change) -> None:
        for callback in list(self._subscribers.get(change.stream_id, ())):
            callback(change)

    # -- lifecycle ----------------------------------------------------------------------

    def _recover(self) -> list[str]:
        """End streams whose writing process is gone with an ``interrupted`` event."""
        rows = (
            self._cursor()
            .execute(
                "SELECT id, owner_pid, owner_host, owner_started, coalesce(last_t, 0) FROM streams"
                " WHERE status IN ('pending', 'streaming')"
            )
            .fetchall()
        )
        orphans = [row for row in rows if not owner.alive(row[1], row[2], row[3])]
        for stream_id, _pid, _host, _started, last_t in orphans:
            seq = (
                self._cursor()
                .execute(
                    "SELECT coalesce(max(seq) + 1, 0) FROM events WHERE stream_id = ?", [stream_id]
                )
                .fetchall()[0][0]
            )
            document = self._load_document(stream_id)
            document.version = seq
            self._live[stream_id] = _Live(document, next_seq=seq)
            self.append(stream_id, {"t": last_t, "type": "interrupted"})
        if orphans:
            self._commit()
        return [row[0] for row in orphans]

    def _load_document(self, stream_id: str) -> Document:
        row = _first(
            self._cursor().execute(
                f"SELECT {', '.join(STREAM_COLUMNS)} FROM streams WHERE id = ?", [stream_id]
            )
        )
        return self._from_row(row)

    def _from_row(self, row: tuple[Any, ...]) -> Document:
        """A stored document. A row without parts (written before they were stored, or
        imported) gets them by folding its events: the order of events is the truth."""
        values = dict(zip(STREAM_COLUMNS, row))
        parts = None
        if not values["parts"]:
            folded = Document.from_events(self.events(values["id"]))
            parts = Parts.restore([part.to_dict() for part in folded.parts])
        return _document_from_row(values, parts)

    def close(self) -> None:
        """Commit what is queued and let the file go. Safe to call twice."""
        if self._closed:
            return
        try:
            self._commit()
        finally:
            self._closed = True
            self._wake.set()
            with self._lock:
                self._lease.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{len(self._live)} live"
        return f"<Store {self.path} ({state})>"

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor for this thread, holding the file (call with ``self._lock`` held)."""
        if self._closed:
            raise StoreError(f"the store {self.path} is closed")
        self._last_used = time.monotonic()
        was_held = self._lease.held
        try:
            cursor = self._lease.cursor(self.lock_timeout)
        except LeaseTimeout as exc:
            raise StoreLockedError(
                f"{exc}. Close that kernel, or use another file: Store(path=...) or {ENV_VAR}."
            ) from None
        if not was_held:
            self._wake.set()  # the writer lets the file go again when idle or wanted
        return cursor


class _CursorContext:
    def __init__(self, store: Store):
        self.store = store

    def __enter__(self) -> duckdb.DuckDBPyConnection:
        self.store._lock.acquire()
        return self.store._cursor()

    def __exit__(self, *exc: object) -> None:
        self.store._lock.release()


_default: Store | None = None
_default_lock = threading.Lock()


def default_store() -> Store:
    """The process-wide store at :func:`default_path`, opened on first use."""
    global _default
    with _default_lock:
        if _default is None or _default._closed:
            _default = Store()
        return _default
