"""What a store backend implements: the contract between :class:`~.core.Store` and a database.

The core (``core.py``) owns everything that does not depend on the database: the live documents,
the batching writer thread, subscriptions, and the recovery *policy* (which streams are
orphans, and that they end ``interrupted``). A backend owns its connection(s) and its dialect:
it writes a batch or an imported recording in one transaction, runs the core's shared queries,
ends an orphan atomically, and may follow streams other processes write.

Shared queries are written once with ``$1, $2...`` placeholders, which DuckDB and PostgreSQL
(server-side binding) both take as they are. Adding a backend means one module implementing
:class:`Backend` and one line in :func:`streamwidget.store.backends.open_backend`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

import duckdb

from ..document import Document
from .rows import DocumentUpdate, EventRow, ImportedStream, NewStream, OpenStream
from .types import Callback, Change

#: ``end(document, next_seq)``: the core's ``interrupted`` event row and document update for
#: an orphan loaded by the backend.
EndOrphan = Callable[[Document, int], tuple[EventRow, DocumentUpdate]]
Notify = Callable[[Change], None]
Unsubscribe = Callable[[], None]
#: Adds a (possibly wrapped) callback to the core's subscribers of the stream being followed.
Subscribe = Callable[[Callback], Unsubscribe]


class Backend(Protocol):
    #: How the store is named in messages and ``repr`` (a path, or a DSN without password).
    display: str
    #: The database role this store writes as (PostgreSQL), else ``None``.
    role: str | None

    # -- writing (each call is one transaction) ------------------------------------------
    def write_batch(
        self,
        creates: Sequence[NewStream],
        events: Sequence[EventRow],
        updates: Sequence[DocumentUpdate],
    ) -> None: ...

    def write_imports(self, imported: Sequence[ImportedStream]) -> None:
        """Write finished streams (and their events) in one transaction."""
        ...

    # -- recovery ----------------------------------------------------------------------------
    def open_streams(self) -> list[OpenStream]: ...

    def end_orphan(self, stream_id: str, end: EndOrphan) -> bool:
        """Load the stream and write ``end``'s rows, unless it ended meanwhile or another
        process is ending it; ``True`` if this call ended it."""
        ...

    # -- shared queries ($n placeholders) and raw access -------------------------------------
    def rows(self, query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def columns_and_rows(
        self, query: str, params: Sequence[Any] = ()
    ) -> tuple[list[str], list[tuple[Any, ...]]]: ...

    def execute(self, query: str, params: Sequence[Any] = ()) -> None: ...

    def sql(self, query: str, params: Any = None) -> duckdb.DuckDBPyRelation | None:
        """DuckDB SQL over the store, its result held in memory."""
        ...

    def cursor(self) -> AbstractContextManager[Any]:
        """The database's own cursor, the store held meanwhile."""
        ...

    def connection(self) -> duckdb.DuckDBPyConnection: ...

    def share(self, object_id: str, grantee: str) -> None: ...

    def unshare(self, object_id: str, grantee: str) -> None: ...

    # -- following a stream another process writes -------------------------------------------
    def listen(self) -> bool:
        """Start hearing other processes' commits; ``False`` if this backend cannot."""
        ...

    def follow(
        self, document: Document, callback: Callback, subscribe: Subscribe
    ) -> tuple[Document, Unsubscribe]:
        """Deliver the committed events after ``document`` (read after :meth:`listen`) to the
        core's subscribers; ``subscribe(callback)`` adds the caller's (possibly wrapped)
        callback at the exact point of the returned document."""
        ...

    # -- the writer thread's housekeeping, and the end ---------------------------------------
    @property
    def holds(self) -> bool:
        """Does this process hold something another process may be waiting for?"""
        ...

    def let_go(self, idle: bool) -> None:
        """Called by the writer after each round: release what others wait for, or what an
        idle store (``idle``: nothing live or queued) no longer needs."""
        ...

    def close(self) -> None: ...
