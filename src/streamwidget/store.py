"""The store: one DuckDB file holding every reply as one document plus its event log.

Narrow interface: open, create/append (the batch writer), get/read, subscribe, recover. The
manager is the only writer of a stream; widgets subscribe and never write.

Writes are batched: :meth:`Store.append` folds the event into the in-memory document,
notifies subscribers at once, and queues the event row; the queue is committed in one
transaction (events inserted with one ``INSERT ... SELECT unnest(...)``, each touched document
updated once) when it holds ``batch_size`` events, when ``batch_interval`` seconds have passed,
when a stream ends, on :meth:`Store.flush`, and on :meth:`Store.close`.

Errors::

    StoreError               a store cannot be opened or written; the message says what to do
     └── StoreLockedError    another process holds the file (DuckDB allows one writer process)
"""

from __future__ import annotations

import asyncio
import atexit
import copy
import json
import os
import socket
import sys
import threading
import time
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from .document import Document, ToolCall
from .events import Event, is_terminal
from .recording import Recording
from .schema import SCHEMA_SQL, STREAM_COLUMNS

ENV_VAR = "STREAMWIDGET_STORE"


class StoreError(RuntimeError):
    """The store cannot be opened or written."""


class StoreLockedError(StoreError):
    """Another process holds the store file."""


@dataclass(frozen=True)
class Change:
    """What a subscriber hears: the document after an event, or after a commit."""

    stream_id: str
    document: Document
    #: The event just applied in memory; ``None`` for a commit notification.
    event: Event | None
    committed: bool


Callback = Callable[[Change], None]


def default_path() -> Path:
    """``$STREAMWIDGET_STORE``, else a file in the per-user data directory."""
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "streamwidget" / "store.duckdb"


class _Live:
    """A stream this store is writing: its document and what is not committed yet."""

    __slots__ = ("committed_reasoning", "committed_text", "document", "next_seq")

    def __init__(self, document: Document, next_seq: int = 0):
        self.document = document
        self.next_seq = next_seq
        self.committed_text = document.text_length
        self.committed_reasoning = document.reasoning_length


class Store:
    """A DuckDB-backed store. ``Store()`` opens the default file; ``Store(":memory:")`` too."""

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        batch_size: int = 512,
        batch_interval: float = 0.1,
    ):
        self.path = ":memory:" if path == ":memory:" else str(Path(path or default_path()))
        self.batch_size = batch_size
        self.batch_interval = batch_interval
        self._lock = threading.RLock()
        self._local = threading.local()
        self._live: dict[str, _Live] = {}
        self._pending: list[tuple[str, int, float, str, str]] = []
        self._dirty: set[str] = set()
        self._subscribers: dict[str, list[Callback]] = {}
        self._last_flush = time.monotonic()
        self._timer: asyncio.TimerHandle | None = None
        self._con = _connect(self.path)
        self._closed = False
        self._con.execute(SCHEMA_SQL)
        self.recovered = self._recover()
        ref = weakref.ref(self)
        atexit.register(lambda: (s := ref()) is not None and s.close())

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
        """Add a ``pending`` document and return its id (committed at once, so it is visible)."""
        stream_id = stream_id or _new_id("s")
        document = Document(stream_id, model=model, provider=provider)
        with self._lock:
            self._cursor().execute(
                "INSERT INTO streams (id, conversation_id, status, model, provider, request,"
                " header, owner_pid, owner_host) VALUES (?, ?, 'pending', ?, ?, ?, ?, ?, ?)",
                [
                    stream_id,
                    conversation_id,
                    model,
                    provider,
                    _json(request or {}),
                    _json(header or {}),
                    os.getpid(),
                    socket.gethostname(),
                ],
            )
            self._live[stream_id] = _Live(document)
        return stream_id

    def append(self, stream_id: str, event: Event) -> Document:
        """Apply one event (with ``t``) to a stream this store is writing, and queue it."""
        with self._lock:
            live = self._live.get(stream_id)
            if live is None:
                raise StoreError(
                    f"stream {stream_id!r} is not being written by this store "
                    "(finished, or created elsewhere)"
                )
            live.document.apply(event)
            payload = {k: v for k, v in event.items() if k not in ("t", "type")}
            self._pending.append(
                (
                    stream_id,
                    live.next_seq,
                    float(event.get("t", 0.0)),
                    str(event["type"]),
                    _json(payload),
                )
            )
            live.next_seq += 1
            self._dirty.add(stream_id)
            document = live.document
        self._notify(Change(stream_id, document, event, committed=False))
        if (
            is_terminal(event)
            or len(self._pending) >= self.batch_size
            or time.monotonic() - self._last_flush >= self.batch_interval
        ):
            self.flush()
        else:
            self._schedule_flush()
        return document

    def flush(self) -> None:
        """Commit every queued event and document change in one transaction."""
        with self._lock:
            if not self._pending or self._closed:
                return
            rows, dirty = self._pending, self._dirty
            cur = self._cursor()
            cur.execute("BEGIN TRANSACTION")
            try:
                cur.execute(
                    "INSERT INTO events SELECT unnest($1::VARCHAR[]), unnest($2::BIGINT[]),"
                    " unnest($3::DOUBLE[]), unnest($4::VARCHAR[]), unnest($5::JSON[])",
                    [list(column) for column in zip(*rows)],
                )
                for stream_id in dirty:
                    self._update_document(cur, self._live[stream_id])
                cur.execute("COMMIT")
            except Exception as exc:
                cur.execute("ROLLBACK")
                raise StoreError(
                    f"could not write to the store {self.path}: {exc}. The events "
                    "are kept in memory and written on the next flush."
                ) from exc
            self._pending, self._dirty = [], set()
            self._last_flush = time.monotonic()
            changes = []
            for stream_id in dirty:
                live = self._live[stream_id]
                live.committed_text = live.document.text_length
                live.committed_reasoning = live.document.reasoning_length
                changes.append(Change(stream_id, live.document, None, committed=True))
                if live.document.done:
                    del self._live[stream_id]
        for change in changes:
            self._notify(change)

    def _update_document(self, cur: duckdb.DuckDBPyConnection, live: _Live) -> None:
        doc = live.document
        # Append only the new text: rewriting the whole text per batch would make the WAL grow
        # with the square of the reply length.
        cur.execute(
            "UPDATE streams SET status = ?, content = content || ?, reasoning = reasoning || ?,"
            " tool_calls = ?, error = ?, usage = ?, finish_reason = ?, first_token_t = ?,"
            " last_t = ?, version = ?, updated_at = now() WHERE id = ?",
            [
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
                doc.stream_id,
            ],
        )

    def _schedule_flush(self) -> None:
        """Inside an event loop, make sure a partial batch is committed within the interval."""
        if self._timer is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop: the next append past the interval, flush() or close() commits

        def fire() -> None:
            self._timer = None
            if not self._closed:
                self.flush()

        self._timer = loop.call_later(self.batch_interval, fire)

    # -- reading ----------------------------------------------------------------------

    def get(self, stream_id: str) -> Document:
        """The document of a stream: live (with uncommitted changes) or as stored."""
        with self._lock:
            live = self._live.get(stream_id)
            if live is not None:
                return copy.deepcopy(live.document)
            row = (
                self._cursor()
                .execute(
                    f"SELECT {', '.join(STREAM_COLUMNS)} FROM streams WHERE id = ?", [stream_id]
                )
                .fetchone()
            )
        if row is None:
            raise KeyError(f"no stream {stream_id!r} in the store {self.path}")
        return _document_from_row(dict(zip(STREAM_COLUMNS, row)))

    def events(self, stream_id: str) -> list[Event]:
        """Every event of a stream, in order, including queued ones."""
        with self._lock:
            self.flush()
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
        with self._lock:
            row = (
                self._cursor()
                .execute(
                    "SELECT provider, model, request, header, created_at FROM streams WHERE id = ?",
                    [stream_id],
                )
                .fetchone()
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
        with self._lock:
            self.flush()
            cur = self._cursor().execute(
                "SELECT id, status, model, provider, created_at, length(content) AS chars"
                " FROM streams ORDER BY created_at DESC LIMIT ?",
                [limit],
            )
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row)) for row in cur.fetchall()]

    def sql(
        self, query: str, params: list[Any] | dict[str, Any] | None = None
    ) -> duckdb.DuckDBPyRelation:
        """Run SQL against the store (tables: conversations, messages, streams, events).

        The relation is lazy and gets a cursor of its own, so leaving it unread (or showing
        it in a notebook) never blocks the writer.
        """
        self.flush()
        return self.connection.sql(query, params=params)

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        """A new DuckDB cursor on the store, for users who want the raw API."""
        self.flush()
        with self._lock:
            if self._closed:
                raise StoreError(f"the store {self.path} is closed")
            return self._con.cursor()

    # -- conversations ------------------------------------------------------------------

    def create_conversation(self, title: str = "New chat") -> str:
        conversation_id = _new_id("c")
        with self._lock:
            self._cursor().execute(
                "INSERT INTO conversations (id, title) VALUES (?, ?)", [conversation_id, title]
            )
        return conversation_id

    def add_message(
        self, conversation_id: str, role: str, content: str = "", *, stream_id: str | None = None
    ) -> str:
        message_id = _new_id("m")
        with self._lock:
            self._cursor().execute(
                "INSERT INTO messages (id, conversation_id, seq, role, content, stream_id)"
                " SELECT ?, ?, coalesce(max(seq) + 1, 0), ?, ?, ? FROM messages"
                " WHERE conversation_id = ?",
                [message_id, conversation_id, role, content, stream_id, conversation_id],
            )
        return message_id

    def messages(self, conversation_id: str) -> list[dict[str, Any]]:
        with self._lock:
            self.flush()
            cur = self._cursor().execute(
                "SELECT m.id, m.role, coalesce(s.content, m.content) AS content, m.stream_id,"
                " s.status FROM messages m LEFT JOIN streams s ON s.id = m.stream_id"
                " WHERE m.conversation_id = ? ORDER BY m.seq",
                [conversation_id],
            )
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row)) for row in cur.fetchall()]

    # -- subscriptions ------------------------------------------------------------------

    def subscribe(self, stream_id: str, callback: Callback) -> Callable[[], None]:
        """Call ``callback(change)`` on every change of a stream; returns the unsubscribe."""
        with self._lock:
            self._subscribers.setdefault(stream_id, []).append(callback)

        def unsubscribe() -> None:
            with self._lock:
                callbacks = self._subscribers.get(stream_id, [])
                if callback in callbacks:
                    callbacks.remove(callback)

        return unsubscribe

    def follow(self, stream_id: str, callback: Callback) -> tuple[Document, Callable[[], None]]:
        """The document now and a subscription from exactly that point (no gap, no overlap)."""
        with self._lock:
            return self.get(stream_id), self.subscribe(stream_id, callback)

    def _notify(self, change: Change) -> None:
        for callback in list(self._subscribers.get(change.stream_id, ())):
            callback(change)

    # -- lifecycle ----------------------------------------------------------------------

    def _recover(self) -> list[str]:
        """Mark streams left unfinished by a process that is gone as ``interrupted``."""
        rows = (
            self._cursor()
            .execute(
                "SELECT id, owner_pid, owner_host, coalesce(last_t, 0), version FROM streams"
                " WHERE status IN ('pending', 'streaming')"
            )
            .fetchall()
        )
        # DuckDB lets one process hold the file, so a stream still open here was left by
        # another process that is gone (or by this one, when it opened the file twice).
        here = (os.getpid(), socket.gethostname())
        orphans = [row for row in rows if (row[1], row[2]) != here]
        for stream_id, _pid, _host, last_t, _version in orphans:
            seq = (
                self._cursor()
                .execute(
                    "SELECT coalesce(max(seq) + 1, 0) FROM events WHERE stream_id = ?", [stream_id]
                )
                .fetchone()[0]
            )
            document = self._load_document(stream_id)
            document.version = seq
            live = _Live(document, next_seq=seq)
            self._live[stream_id] = live
            self.append(stream_id, {"t": last_t, "type": "interrupted"})
        return [row[0] for row in orphans]

    def _load_document(self, stream_id: str) -> Document:
        row = (
            self._cursor()
            .execute(f"SELECT {', '.join(STREAM_COLUMNS)} FROM streams WHERE id = ?", [stream_id])
            .fetchone()
        )
        return _document_from_row(dict(zip(STREAM_COLUMNS, row)))

    def close(self) -> None:
        """Commit what is queued and close the file. Safe to call twice."""
        with self._lock:
            if self._closed:
                return
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            try:
                self.flush()
            finally:
                self._closed = True
                self._con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{len(self._live)} live"
        return f"<Store {self.path} ({state})>"

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        """DuckDB connections are not shareable across threads: one cursor per thread."""
        if self._closed:
            raise StoreError(f"the store {self.path} is closed")
        cursor = getattr(self._local, "cursor", None)
        if cursor is None:
            cursor = self._local.cursor = self._con.cursor()
        return cursor


_default: Store | None = None
_default_lock = threading.Lock()


def default_store() -> Store:
    """The process-wide store at :func:`default_path`, opened on first use."""
    global _default
    with _default_lock:
        if _default is None or _default._closed:
            _default = Store()
        return _default


def _connect(path: str) -> duckdb.DuckDBPyConnection:
    if path == ":memory:":
        return duckdb.connect(":memory:")
    parent = Path(path).parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(
            f"cannot create the folder for the store {path}: {exc.strerror}. "
            f"Pass Store(path=...) or set {ENV_VAR} to a writable place."
        ) from None
    if not os.access(parent, os.W_OK):
        raise StoreError(
            f"the folder {parent} is not writable, so the store {path} cannot be "
            f"opened. Pass Store(path=...) or set {ENV_VAR} to a writable place."
        )
    try:
        return duckdb.connect(path)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise StoreLockedError(
                f"the store {path} is held by another process ({_holder(exc)}). Close that "
                f"kernel, or use another file: Store(path=...) or {ENV_VAR}."
            ) from None
        raise StoreError(f"cannot open the store {path}: {exc}") from None
    except duckdb.Error as exc:
        raise StoreError(
            f"the store {path} cannot be read ({type(exc).__name__}: {exc}). If the file is "
            "damaged, move it aside; streamwidget then starts a new, empty store."
        ) from None


def _holder(exc: Exception) -> str:
    text = str(exc)
    marker = "PID "
    if marker in text:
        return "PID " + text.split(marker, 1)[1].split(")", 1)[0].strip()
    return "see the DuckDB message: " + text


def _document_from_row(row: dict[str, Any]) -> Document:
    return Document(
        stream_id=row["id"],
        status=row["status"],
        text=row["content"] or "",
        reasoning=row["reasoning"] or "",
        tool_calls=[ToolCall(**c) for c in json.loads(row["tool_calls"] or "[]")],
        error=json.loads(row["error"]) if row["error"] else None,
        usage=json.loads(row["usage"]) if row["usage"] else None,
        finish_reason=row["finish_reason"],
        model=row["model"],
        provider=row["provider"],
        version=row["version"] or 0,
        first_token_t=row["first_token_t"],
        last_t=row["last_t"] or 0.0,
    )


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:16]}"
