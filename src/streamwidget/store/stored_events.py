"""A stored stream's events read from the store on demand, not held in memory.

The store's ``events`` table numbers a stream's events ``seq`` 0, 1, 2, ... (the writer, an
import and recovery all append at ``max(seq) + 1``), so events ``a`` to ``b - 1`` are one
range query, served by the primary key ``(stream_id, seq)`` on PostgreSQL and by DuckDB's
min/max zone maps over ``seq`` (a stream's events are written in ``seq`` order). The sequence
holds nothing per event: indexing it (:class:`~streamwidget.seek.SeekIndex`) reads it once in
batches of :attr:`StoredEvents.BATCH`; a seek later reads the fewer than ``CHECKPOINT_EVERY``
events it folds and the inspector's dozen.

Snapshot: the sequence is the events committed when it was made (:meth:`Store.stored_events
<streamwidget.store.reads.ReadsMixin.stored_events>` flushes first); events appended later
are not seen. A stream whose events were deleted since, or a store closed since, raises
:class:`~.types.StoreError` naming the stream and what happened.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from ..events import Event
from ..lazy_events import RangeEvents
from . import sql
from .rows import event_from_row
from .types import StoreError

Rows = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]


class StoredEvents(RangeEvents):
    """The first ``count`` events of the stream ``stream_id``, read by ``seq`` range with
    ``rows`` (a backend's query function: ``rows(query, params)``)."""

    #: Events a query while iterating: large enough that a million events take ~60 queries,
    #: small enough that one batch as Python objects stays a few megabytes.
    BATCH = 16384

    #: A short read (a seek's fold, the inspector's rows) fetches this many events more on
    #: each side and keeps them: the seek's other read, a step and the next frame of
    #: playback then need no query of their own.
    MARGIN = 48
    #: Reads up to this long are kept: a seek folds fewer events than this from a checkpoint
    #: (``streamwidget.seek.CHECKPOINT_EVERY``, a layer this one may not import).
    SHORT = 128

    def __init__(self, rows: Rows, stream_id: str, count: int, *, display: str = ""):
        self._rows = rows
        self.stream_id = stream_id
        self._count = count
        self.display = display  # the store, for messages
        self._kept: tuple[int, list[Event]] = (0, [])  # (first index, events) of the last read

    def __len__(self) -> int:
        return self._count

    def __repr__(self) -> str:
        return f"StoredEvents({self.stream_id!r}, {self._count} events, store={self.display!r})"

    def __iter__(self) -> Iterator[Event]:
        # each batch's rows become events one at a time: never a batch of both at once
        for start in range(0, self._count, self.BATCH):
            for t, kind, payload in self._fetch(start, min(start + self.BATCH, self._count)):
                yield event_from_row(t, kind, payload)

    def read(self, start: int, stop: int) -> list[Event]:
        """Events ``start`` to ``stop - 1``: with one query, or none when the last short read
        kept them (the store's rows never change under a snapshot, unless deleted)."""
        first, kept = self._kept
        if first <= start and stop <= first + len(kept):
            return kept[start - first : stop - first]
        if stop - start > self.SHORT:  # a long read (a scan): nothing kept
            return _events(self._fetch(start, stop))
        lo = max(start - self.MARGIN, 0)
        hi = min(max(stop, start + self.SHORT) + self.MARGIN, self._count)
        self._kept = (lo, _events(self._fetch(lo, hi)))
        return self._kept[1][start - lo : stop - lo]

    def _fetch(self, start: int, stop: int) -> list[tuple[Any, ...]]:
        """The rows of events ``start`` to ``stop - 1``: ``(t, type, payload)``."""
        if stop <= start:
            return []
        where = f"events {start}..{stop - 1} of the stream {self.stream_id!r}"
        try:
            rows = self._rows(sql.EVENT_RANGE, [self.stream_id, start, stop])
        except Exception as exc:  # closed, locked by another kernel, server gone: any backend
            raise StoreError(f"cannot read {where} from the store {self.display}: {exc}") from exc
        if len(rows) != stop - start:
            raise StoreError(
                f"cannot read {where}: they are no longer in the store {self.display} (the "
                "stream was deleted or changed since it was opened); open it again"
            )
        return rows


def _events(rows: list[tuple[Any, ...]]) -> list[Event]:
    return [event_from_row(*row) for row in rows]
