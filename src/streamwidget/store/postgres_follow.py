"""Following, on PostgreSQL, streams that other processes (or machines) write.

Each batch a writer commits sends ``pg_notify('streamwidget', '<stream_id>:<events committed>')``
(delivered at commit). A follower LISTENs on that channel in a thread of its own; a notification
about a followed stream makes it read only the missing range (``seq >= next``, the primary key)
and hand the events to the store's subscribers, so a view in kernel B shows kernel A's stream
as a local one would.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import threading
import time
from collections.abc import Callable

import psycopg

from ..document import Document
from .backend import Notify, Subscribe, Unsubscribe
from .postgres_schema import CHANNEL
from .rows import event_from_row
from .types import Callback, Change, StoreError


class _Remote:
    """A stream another process writes and this one follows."""

    __slots__ = ("document", "next_seq")

    def __init__(self, document: Document):
        self.document = document
        self.next_seq = document.version


class Follower:
    """The LISTEN connection, a connection to read events, and the streams followed."""

    def __init__(self, connect: Callable[[], psycopg.Connection], notify: Notify) -> None:
        self._connect = connect
        self._notify = notify
        self._lock = threading.Lock()  # the connections and the followed streams
        self._remote: dict[str, _Remote] = {}
        self._thread: threading.Thread | None = None
        self._listen_conn: psycopg.Connection | None = None
        self._read_conn: psycopg.Connection | None = None
        self._closed = False

    def start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._read_conn = self._connect()
            self._listen_conn = self._connect()
            self._listen_conn.execute(f"LISTEN {CHANNEL}")
            self._thread = threading.Thread(
                target=self._loop, name="streamwidget-listener", daemon=True
            )
            self._thread.start()

    def follow(
        self, document: Document, callback: Callback, subscribe: Subscribe
    ) -> tuple[Document, Unsubscribe]:
        stream_id = document.stream_id
        with self._lock:
            remote = self._remote.get(stream_id)
            if remote is None or remote.next_seq < document.version:
                remote = self._remote[stream_id] = _Remote(document)
            now = copy.deepcopy(remote.document)
            unsubscribe = subscribe(_on_caller_loop(callback))
        self.catch_up(stream_id)  # a commit between the read and the subscription
        return now, unsubscribe

    def _loop(self) -> None:
        while not self._closed:
            conn = self._listen_conn
            try:
                if conn is None:
                    raise StoreError("not listening")
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
                    self.catch_up(*behind)
            except (psycopg.Error, StoreError):
                if self._closed:
                    return
                self._reconnect()

    def _reconnect(self) -> None:
        """The server went away: connect again, LISTEN again, then read what was missed."""
        time.sleep(0.5)
        try:
            with self._lock:
                self._close_connections()
                self._read_conn = self._connect()
                self._listen_conn = self._connect()
                self._listen_conn.execute(f"LISTEN {CHANNEL}")
        except StoreError:
            self._listen_conn = None
            return
        for stream_id in list(self._remote):
            with contextlib.suppress(psycopg.Error):
                self.catch_up(stream_id)

    def catch_up(self, *stream_ids: str) -> None:
        """Read the events of followed streams after the last one seen (one query for all of
        them, by primary key ranges) and notify, in order per stream."""
        with self._lock:
            remotes = {sid: r for sid in stream_ids if (r := self._remote.get(sid)) is not None}
            if not remotes or self._read_conn is None or self._closed:
                return
            rows = self._read_conn.execute(
                "SELECT e.stream_id, e.seq, e.t, e.type, e.payload"
                " FROM unnest($1::text[], $2::bigint[]) AS f(stream_id, next)"
                " JOIN events e ON e.stream_id = f.stream_id AND e.seq >= f.next"
                " ORDER BY e.stream_id, e.seq",
                [list(remotes), [r.next_seq for r in remotes.values()]],
            ).fetchall()
            for stream_id, seq, t, kind, payload in rows:
                remote = remotes[stream_id]
                if seq != remote.next_seq:
                    continue  # past a gap (not visible yet): read again on the next notify
                event = event_from_row(t, kind, payload)
                remote.document.apply(event)
                remote.next_seq += 1
                self._notify(Change(stream_id, remote.document, event, committed=True))
            for stream_id, remote in remotes.items():
                if remote.document.done:
                    self._remote.pop(stream_id, None)

    def _close_connections(self) -> None:
        for conn in (self._listen_conn, self._read_conn):
            if conn is not None:
                with contextlib.suppress(psycopg.Error):
                    conn.close()

    def close(self) -> None:
        self._closed = True
        with self._lock:
            self._close_connections()


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
            change.stream_id, copy.deepcopy(change.document), change.event, change.committed
        )
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is listening
            loop.call_soon_threadsafe(callback, snapshot)

    return deliver
