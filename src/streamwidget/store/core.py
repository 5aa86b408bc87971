"""The store's backend-neutral core: live documents, the batching writer, subscriptions,
recovery policy.

Writes are batched and never block the caller: :meth:`Store.append` folds the event into the
in-memory document, notifies subscribers at once, and queues the event row. A writer thread
hands the queue to the backend as one batch (new streams, the events, one update per touched
document that appends only the new text) every ``batch_interval`` seconds, sooner when
``batch_size`` events wait or a stream ends; :meth:`Store.flush` and :meth:`Store.close`
commit at once. A batch that fails stays queued and is retried.
"""

from __future__ import annotations

import atexit
import copy
import os
import threading
import time
import weakref
from typing import Any

from ..document import Document
from ..events import TERMINAL_TYPES, TEXT_FIELDS, Event, validate_event
from . import owner
from .backend import Backend, Unsubscribe
from .backends import open_backend
from .conversations import ConversationsMixin
from .imports import ImportMixin
from .reads import ReadsMixin
from .rows import (
    SURROGATE,
    DocumentUpdate,
    EventRow,
    NewStream,
    document_update,
    new_id,
    payload_json,
    to_json,
    without_lone_surrogates,
)
from .types import Callback, Change, StoreError, StoreLockedError


class _Live:
    """A stream this store is writing: its document and what is not committed yet."""

    __slots__ = ("committed_reasoning", "committed_text", "document", "next_seq")

    def __init__(self, document: Document, next_seq: int = 0):
        self.document = document
        self.next_seq = next_seq
        self.committed_text = document.text_length
        self.committed_reasoning = document.reasoning_length


class Store(ReadsMixin, ConversationsMixin, ImportMixin):
    """A store of streams. ``Store()`` opens the default file; ``Store("x.duckdb")``,
    ``Store(":memory:")`` and ``Store("postgresql://...")`` pick their backend.

    ``lock_timeout``: how long a read or a commit waits for the database (another process's
    hold on a DuckDB file; a PostgreSQL connection) before an error (queued events are kept and
    retried). ``idle_release``: seconds of idleness after which a DuckDB file is let go.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        batch_size: int = 512,
        batch_interval: float = 0.1,
        lock_timeout: float = 10.0,
        idle_release: float = 1.0,
    ):
        self.batch_size = batch_size
        self.batch_interval = batch_interval
        self.lock_timeout = lock_timeout
        self.idle_release = idle_release
        self._state = threading.Lock()  # the in-memory documents and queues
        self._commit_lock = threading.Lock()  # one commit at a time, in order
        self._live: dict[str, _Live] = {}
        self._creates: list[NewStream] = []
        self._pending: list[EventRow] = []
        self._dirty: set[str] = set()
        self._subscribers: dict[str, list[Callback]] = {}
        self._closed = False
        self.write_error: StoreError | None = None
        self.commits = 0  # transactions written (for tests and measurements)
        self._wake = threading.Event()
        self._owner = owner.current()
        self._backend: Backend = open_backend(
            path,
            lock_timeout=lock_timeout,
            idle_release=idle_release,
            woken=self._wake.set,
            notify=self._notify,
        )
        self.path = self._backend.display
        try:
            self.recovered = self._recover()
        except Exception:
            self._backend.close()
            raise
        self._writer = threading.Thread(
            target=self._write_loop, name="streamwidget-writer", daemon=True
        )
        self._writer.start()
        atexit.register(_close_at_exit, weakref.ref(self))

    @property
    def role(self) -> str | None:
        """The database role this store writes as (PostgreSQL), else ``None``."""
        return self._backend.role

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
        stream_id = stream_id or new_id("s")
        pid, host, started = self._owner
        row = NewStream(
            stream_id,
            conversation_id,
            model,
            provider,
            to_json(request or {}),
            to_json(header or {}),
            pid,
            host,
            started,
        )
        with self._state:
            self._creates.append(row)
            self._live[stream_id] = _Live(Document(stream_id, model=model, provider=provider))
        self._wake.set()
        return stream_id

    def append(self, stream_id: str, event: Event) -> Document:
        """Apply one event (with ``t``) to a stream this store is writing, and queue it."""
        kind = event.get("type", "")
        if kind not in TEXT_FIELDS or not isinstance(event.get("text"), str):
            validate_event(event)  # before the fold: a bad event must change nothing
        payload = payload_json(event)
        if SURROGATE.search(payload):
            event, payload = without_lone_surrogates(event)
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
        """Commit everything queued now, in this thread (waiting for the database if needed)."""
        if not self._closed:
            self._commit()

    def _commit(self) -> None:
        with self._commit_lock:
            with self._state:
                if not (self._pending or self._creates):
                    return
                creates, rows, dirty = self._creates, self._pending, self._dirty
                self._creates, self._pending, self._dirty = [], [], set()
                updates = [self._update_of(self._live[sid]) for sid in dirty]
            try:
                self._backend.write_batch(creates, rows, updates)
            except Exception as exc:
                with self._state:  # keep everything for the next attempt
                    self._creates = creates + self._creates
                    self._pending = rows + self._pending
                    self._dirty |= dirty
                self.write_error = self._write_failed(exc)
                raise self.write_error from exc
            self.write_error = None
            self.commits += 1
            changes = self._committed(updates)
        for change in changes:
            self._notify(change)

    @staticmethod
    def _update_of(live: _Live) -> DocumentUpdate:
        return document_update(live.document, live.committed_text, live.committed_reasoning)

    def _committed(self, updates: list[DocumentUpdate]) -> list[Change]:
        """Record what is committed now; the commit notifications to send."""
        changes = []
        with self._state:
            for update in updates:
                live = self._live[update.stream_id]
                live.committed_text = update.text_length
                live.committed_reasoning = update.reasoning_length
                changes.append(Change(update.stream_id, live.document, None, True))
                if update.status in TERMINAL_STATUSES:
                    del self._live[update.stream_id]
        return changes

    def _write_failed(self, exc: Exception) -> StoreError:
        kept = "The events are kept in memory and retried"
        if isinstance(exc, StoreLockedError):  # another process holds the file
            return StoreLockedError(f"{exc} {kept} when it lets go.")
        return StoreError(f"could not write to the store {self.path}: {exc}. {kept}.")

    def _write_loop(self) -> None:
        """The writer thread: commit on time; let the database go when idle or wanted."""
        while not self._closed:
            # A live stream keeps the writer on its clock even when nothing waits right now
            # (e.g. just after a hand-off): append() only wakes it for a full batch or an end.
            busy = self._backend.holds or self._pending or self._creates or self._live
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
            try:
                self._backend.let_go(idle=not self._live and not self._pending)
            except StoreError:
                continue  # closed meanwhile

    def share(self, object_id: str, grantee: str) -> None:
        """Let the database role ``grantee`` see (and follow) a stream or a conversation of
        yours (PostgreSQL; a conversation shares its messages and its streams)."""
        self._backend.share(object_id, grantee)

    def unshare(self, object_id: str, grantee: str) -> None:
        self._backend.unshare(object_id, grantee)

    # -- subscriptions ------------------------------------------------------------------

    def subscribe(self, stream_id: str, callback: Callback) -> Unsubscribe:
        """Call ``callback(change)`` on every change of a stream; returns the unsubscribe."""
        with self._state:
            return self._subscribe_locked(stream_id, callback)

    def follow(self, stream_id: str, callback: Callback) -> tuple[Document, Unsubscribe]:
        """The document now and a subscription from exactly that point (no gap, no overlap),
        also for a stream another process writes (when the backend can hear its commits)."""
        with self._state:
            live = self._live.get(stream_id)
            if live is not None:
                return copy.deepcopy(live.document), self._subscribe_locked(stream_id, callback)
        listening = self._backend.listen()  # first: nothing committed after the read is missed
        document = self.get(stream_id)
        if document.done or not listening:
            return document, self.subscribe(stream_id, callback)
        return self._backend.follow(
            document, callback, lambda wrapped: self.subscribe(stream_id, wrapped)
        )

    def _subscribe_locked(self, stream_id: str, callback: Callback) -> Unsubscribe:
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
        """End streams whose writing process is gone with an ``interrupted`` event (a live
        owner's streams, e.g. another kernel streaming right now, are left alone)."""
        return [
            row.id
            for row in self._backend.open_streams()
            if not owner.alive(row.owner_pid, row.owner_host, row.owner_started)
            and self._backend.end_orphan(row.id, _interrupted)
        ]

    def close(self) -> None:
        """Commit what is queued and let the database go. Safe to call twice."""
        if self._closed:
            return
        try:
            self._commit()
        finally:
            self._closed = True
            self._wake.set()
            self._backend.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{len(self._live)} live"
        return f"<Store {self.path} ({state})>"


def _close_at_exit(ref: weakref.ReferenceType[Store]) -> None:
    store = ref()
    if store is not None:
        store.close()


TERMINAL_STATUSES = frozenset({"complete", "error", "cancelled", "interrupted"})


def _interrupted(document: Document, next_seq: int) -> tuple[EventRow, DocumentUpdate]:
    """The rows that end an orphan: an ``interrupted`` event at its last time."""
    committed_text, committed_reasoning = document.text_length, document.reasoning_length
    document.version = next_seq
    event: Event = {"t": document.last_t or 0.0, "type": "interrupted"}
    document.apply(event)
    row: EventRow = (document.stream_id, next_seq, event["t"], "interrupted", "{}")
    return row, document_update(document, committed_text, committed_reasoning)


_default: Store | None = None
_default_lock = threading.Lock()


def default_store() -> Store:
    """The process-wide store at :func:`~.types.default_path`, opened on first use."""
    global _default
    with _default_lock:
        if _default is None or _default._closed:
            _default = Store()
        return _default


__all__ = ["Store", "default_store"]
