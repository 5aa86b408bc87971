"""Reading a store: documents, events, recordings, listings and SQL, for :class:`~.core.Store`
(every backend: the queries are the shared ones of :mod:`.sql`)."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

import duckdb

from ..document import Document
from ..events import Event
from ..parts import Parts
from ..recording import Recording
from . import sql
from .backend import Backend
from .rows import STREAM_COLUMNS, document_from_row, event_from_row
from .stored_events import StoredEvents


class _Live(Protocol):
    document: Document


class ReadsMixin:
    """What a store reads; a live stream is read from memory, with what is not committed."""

    _backend: Backend
    _state: threading.Lock
    _live: Mapping[str, _Live]
    path: str

    if TYPE_CHECKING:  # the store's own

        def flush(self) -> None: ...

    def get(self, stream_id: str) -> Document:
        """The document of a stream: live (with uncommitted changes) or as stored."""
        with self._state:
            live = self._live.get(stream_id)
            if live is not None:
                return copy.deepcopy(live.document)
        rows = self._backend.rows(sql.DOCUMENT, [stream_id])
        if not rows:
            raise KeyError(f"no stream {stream_id!r} in the store {self.path}")
        row = rows[0]
        if row[STREAM_COLUMNS.index("parts")]:
            return document_from_row(row)
        # Written before parts were stored (or imported): the order of its events is the truth.
        folded = Document.from_events(self.events(stream_id))
        return document_from_row(row, Parts.restore([p.to_dict() for p in folded.parts]))

    def events(self, stream_id: str) -> list[Event]:
        """Every event of a stream, in order, including queued ones."""
        self.flush()
        rows = self._backend.rows(sql.EVENTS, [stream_id])
        return [event_from_row(*row) for row in rows]

    def recording(self, stream_id: str) -> Recording:
        """A stream as a :class:`Recording`, ready to save, replay or compare."""
        self.flush()
        rec = Recording(self.recording_header(stream_id), self.events(stream_id))
        rec.source = f"store:{stream_id}"
        return rec

    def recording_header(self, stream_id: str) -> dict[str, Any]:
        """The header :meth:`recording` gives the stream, without reading its events."""
        self.flush()
        rows = self._backend.rows(sql.RECORDING_HEADER, [stream_id])
        if not rows:
            raise KeyError(f"no stream {stream_id!r} in the store {self.path}")
        provider, model, request, header, created_at = rows[0]
        extra = {
            k: v
            for k, v in json.loads(header or "{}").items()
            if k not in ("streamwidget", "version", "provider", "model", "request")
        }
        extra.setdefault("created_at", created_at.isoformat())
        extra["stream_id"] = stream_id
        return Recording.new(
            provider=provider or "", model=model or "", request=json.loads(request or "{}"), **extra
        ).header

    def stored_events(self, stream_id: str) -> StoredEvents | None:
        """The events of a stream committed so far, read from the store on demand (see
        :mod:`.stored_events`; queued events are committed first, later ones are not seen).
        ``None`` when the stream's ``seq`` numbers have gaps (a log not written by streamwidget):
        read :meth:`events` instead. Raises ``KeyError`` for an unknown stream."""
        self.flush()
        if not self._backend.rows(sql.STREAM_EXISTS, [stream_id]):
            raise KeyError(f"no stream {stream_id!r} in the store {self.path}")
        count, end = self._backend.rows(sql.EVENT_COUNT, [stream_id])[0]
        if count != end:
            return None
        return StoredEvents(self._backend.rows, stream_id, int(count), display=self.path)

    def streams(self, limit: int = 100, *, status: str | None = None) -> list[dict[str, Any]]:
        """The newest streams (with that ``status``, if given): id, status, model, provider,
        created_at, length of the text. Picked by the query: only ``limit`` rows are read."""
        return self._dicts(sql.STREAMS, [limit, status])

    def sql(
        self, query: str, params: list[Any] | dict[str, Any] | None = None
    ) -> duckdb.DuckDBPyRelation | None:
        """Run DuckDB SQL against the store (tables: conversations, messages, streams, events).

        Returns the result as a relation held in memory, so it stays usable after the store
        lets a DuckDB file go to another kernel. On PostgreSQL the query runs over an in-memory
        copy of the rows this role can see. For the database's own cursor, use
        ``with store.cursor() as cur: ...``.
        """
        self.flush()
        return self._backend.sql(query, params)

    def fetchall(
        self, query: str, params: list[Any] | dict[str, Any] | None = None
    ) -> list[tuple[Any, ...]]:
        """The rows of a DuckDB SQL query, as :meth:`sql` runs it (``[]`` for a statement
        that returns none)."""
        relation = self.sql(query, params)
        return [] if relation is None else relation.fetchall()

    def cursor(self) -> AbstractContextManager[Any]:
        """``with store.cursor() as cur:`` — the database's own API, the store held meanwhile
        (DuckDB's cursor, or a psycopg cursor with ``%s`` placeholders)."""
        self.flush()
        return self._backend.cursor()

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        """A new DuckDB cursor on the store. On a DuckDB file it stops working when the store
        lets the file go (after an idle second, or when another kernel asks for it): prefer
        :meth:`sql` or :meth:`cursor`. On PostgreSQL it is the in-memory copy's."""
        self.flush()
        return self._backend.connection()

    def _dicts(self, query: str, params: list[Any]) -> list[dict[str, Any]]:
        self.flush()
        names, rows = self._backend.columns_and_rows(query, params)
        return [dict(zip(names, row)) for row in rows]
