"""Seek index and timing of one recording: the document at any position, fast.

A document's text only ever grows by appending, so the text after ``k`` events is a *prefix*
of the final text: the index keeps the final text once plus the cumulative text length after
every event. Everything else a document holds (status, tool calls, usage, error, ...) is small;
the index keeps a copy of it every ``every`` events (a checkpoint). The document at position
``k`` (the first ``k`` events applied) is then::

    nearest checkpoint at or before k  ──fold the < every events that follow──►  non-text state
    final_text[:text_end[k]]                                                      text
    final_reasoning[:reasoning_end[k]]                                            reasoning

— O(log n) to find a position from a time, O(every) to fold, never a full re-fold. The
result equals ``Document.from_events(events[:k])`` exactly (``tests/test_seek.py`` checks every
position of every bundled recording). Offsets are also kept in UTF-16 code units, which is
what a browser's ``string.length`` counts, so a front end holding the final text can slice it.

:func:`timing` (from :mod:`streamwidget.timing`, re-exported here) computes what the timing
strip and the analytics views show.
"""

from __future__ import annotations

import bisect
import copy
import operator
import os
from array import array
from collections.abc import Iterable, Sequence
from typing import Any

from .document import Document
from .events import TEXT_FIELDS, Event
from .lazy_events import FileEvents, scan
from .timing import (
    STALL_THRESHOLD,
    Timing,
    histogram,
    histogram_pairs,
    quantile,
    timing,
    timing_columns,
)

__all__ = [
    "CHECKPOINT_EVERY",
    "STALL_THRESHOLD",
    "FinalText",
    "SeekIndex",
    "Timing",
    "histogram",
    "quantile",
    "timing",
    "timing_columns",
]

#: Events between two checkpoints: a seek folds at most this many events.
CHECKPOINT_EVERY = 128
#: Text pieces joined at a time while indexing.
_CHUNK = 4096


def _utf16_len(text: str) -> int:
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le")) // 2


def _clone(doc: Document) -> Document:
    """The non-text state of ``doc``, sharing nothing :meth:`Document.apply` changes in place.

    ``apply`` replaces (never mutates) ``usage``, ``error`` and each tool call's ``arguments``
    and ``result``, so copying the tool call objects is enough; nested tool values are shared
    with the index — treat them as read-only. The clone's text and reasoning start empty.
    """
    clone = copy.copy(doc)
    clone.text = ""
    clone.reasoning = ""
    clone.tool_calls = [copy.copy(call) for call in doc.tool_calls]
    clone._parts = doc._parts.copy()  # parts keep their own offsets: the text may be empty
    clone.warnings = list(doc.warnings)  # apply() appends to it
    return clone


class FinalText:
    """One field's final text, sliced by UTF-16 offsets: kept as the ``str`` when it is ASCII
    (one byte a character, offsets are indexes), else as UTF-16 bytes (two bytes a unit; a
    ``str`` holding one emoji would take four bytes a character)."""

    __slots__ = ("_ascii", "_data")

    def __init__(self, chunks: str | list[str]):
        chunks = [chunks] if isinstance(chunks, str) else chunks
        self._ascii = all(chunk.isascii() for chunk in chunks)
        self._data: str | bytes = (
            "".join(chunks)
            if self._ascii
            else b"".join(chunk.encode("utf-16-le", "surrogatepass") for chunk in chunks)
        )

    def __len__(self) -> int:
        """Length in UTF-16 units."""
        return len(self._data) if self._ascii else len(self._data) // 2

    def slice(self, start: int, stop: int) -> str:
        """Units ``start`` to ``stop`` (both at character boundaries)."""
        if self._ascii:
            return str(self._data[start:stop])
        data = self._data[2 * start : 2 * stop]
        assert isinstance(data, bytes)
        return data.decode("utf-16-le", "surrogatepass")


class SeekIndex:
    """Random access to the documents of one event list. Build once, then seek in O(log n).

    ``SeekIndex(events)`` indexes a sequence: a list in memory (kept as it is, not copied: a
    :class:`Recording`'s events are shared with it, so treat them as read-only) or a lazy one
    such as a stored stream's (:class:`~streamwidget.store.stored_events.StoredEvents`, read
    in batches while indexing and a few events at a time later); any other iterable is
    copied into a list. :meth:`from_file` indexes a ``.jsonl`` recording without holding its
    events (they are re-read from the file when a seek folds a few). Either way the index
    itself holds, per event, its time, its type as a small code and the text lengths after it
    (~17 bytes), plus the final text once and one small checkpoint every ``every`` events.
    """

    def __init__(
        self,
        events: Iterable[Event],
        *,
        stream_id: str = "",
        model: str | None = None,
        provider: str | None = None,
        every: int = CHECKPOINT_EVERY,
    ):
        self.events: Sequence[Event] = events if isinstance(events, Sequence) else list(events)
        self._build(
            self.events, {"stream_id": stream_id, "model": model, "provider": provider}, every
        )

    @classmethod
    def from_file(
        cls, path: str | os.PathLike[str], *, every: int = CHECKPOINT_EVERY
    ) -> tuple[dict[str, Any], SeekIndex]:
        """The header of a recording file and the index of its events, read once and not
        kept (see :mod:`streamwidget.lazy_events`). Raises :class:`~streamwidget.recording.
        RecordingError` for a bad file, like the strict loader."""
        header, events, offsets = scan(path)
        meta = {
            "stream_id": str(header.get("stream_id", "")),
            "model": str(header.get("model", "")) or None,
            "provider": str(header.get("provider", "")) or None,
        }
        index = cls.__new__(cls)
        index._build(events, meta, every)
        index.events = FileEvents(path, offsets, os.stat(path).st_size)
        return header, index

    def _build(self, events: Iterable[Event], meta: dict[str, Any], every: int) -> None:
        if every < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        self.every = every
        self._meta = meta
        #: ``t`` of each event (seconds since the request), in order.
        self.times = array("d")
        #: each event's type as a code: ``kind_names[code]`` (255: one of the rarest types)
        self.kinds = array("B")
        self.kind_names: list[str] = []
        # Cumulative lengths after k events (index 0..n) in UTF-16 units: the offsets a browser
        # counts and the ones :class:`FinalText` slices by.
        # (4-byte ints, widened to 8 if a text ever passes 2**31 units: see _add_ends)
        self.text_end16 = array("i", [0])
        self.reasoning_end16 = array("i", [0])
        self._checkpoints: list[Document] = []
        self._part_counts = array("i")
        codes: dict[str, int] = {}
        state = Document(**meta)
        count = 0
        # the text is collected here, not in ``state`` (emptied now and then): a million
        # small strings alive at once would leave the heap fragmented once joined
        pieces: dict[str, list[str]] = {"text": [], "reasoning": []}
        chunks: dict[str, list[str]] = {"text": [], "reasoning": []}
        for count, event in enumerate(events, 1):
            if (count - 1) % every == 0:
                self._checkpoints.append(self._checkpoint(state))
            before = state.text_length, state.reasoning_length
            state.apply(event)
            self.times.append(state.last_t)
            kind = str(event.get("type"))
            code = codes.get(kind)
            if code is None:
                code = codes[kind] = min(len(self.kind_names), 255)
                self.kind_names.append(kind)
            self.kinds.append(code)
            # Only a text or reasoning event can grow a field, by exactly its own piece.
            grown16 = _utf16_len(event["text"]) if kind in TEXT_FIELDS else 0
            grew = state.text_length != before[0], state.reasoning_length != before[1]
            self._add_ends(
                self.text_end16[-1] + (grown16 if grew[0] else 0),
                self.reasoning_end16[-1] + (grown16 if grew[1] else 0),
            )
            if grew[0] or grew[1]:
                field = pieces["text" if grew[0] else "reasoning"]
                field.append(event["text"])
                if len(field) >= _CHUNK:
                    chunks["text" if grew[0] else "reasoning"].append("".join(field))
                    field.clear()
                    state.text = state.reasoning = ""  # only its length changes from here
        if count % every == 0:
            self._checkpoints.append(self._checkpoint(state))
        # parts are only ever appended, and only the last changes: every checkpoint's parts
        # but its last are the first ones of these
        self._final_parts = state._parts.items
        self._count = count
        self.text = FinalText([*chunks["text"], "".join(pieces["text"])])
        self.reasoning = FinalText([*chunks["reasoning"], "".join(pieces["reasoning"])])

    def _add_ends(self, text_end: int, reasoning_end: int) -> None:
        """Append the text lengths after one more event (built in 4-byte ints, not 8 and
        narrowed at the end: a million events would hold 16 MB more while indexing)."""
        try:
            self.text_end16.append(text_end)
            self.reasoning_end16.append(reasoning_end)
        except OverflowError:  # over 2**31 UTF-16 units: 8-byte ints from here on
            self.text_end16 = array("q", self.text_end16)
            self.reasoning_end16 = array("q", self.reasoning_end16)
            if len(self.text_end16) < len(self.times) + 1:
                self.text_end16.append(text_end)
            self.reasoning_end16.append(reasoning_end)

    def _checkpoint(self, state: Document) -> Document:
        """A clone of ``state`` sharing each tool call unchanged since the last checkpoint
        with it (checkpoints are never changed: a seek clones one before folding), and the
        list of them when none changed. Of its parts it keeps only the last (the one part
        that still changes); the others are the first ones of the final parts, which
        :meth:`document` puts back (``_part_counts``: how many parts it had)."""
        clone = _clone(state)
        if self._checkpoints:
            previous = self._checkpoints[-1].tool_calls
            calls = [
                previous[i] if i < len(previous) and previous[i] == call else call
                for i, call in enumerate(clone.tool_calls)
            ]
            same = len(calls) == len(previous) and all(map(operator.is_, calls, previous))
            clone.tool_calls = previous if same else calls
        self._part_counts.append(len(clone._parts.items))
        clone._parts.items = clone._parts.items[-1:]
        return clone

    def __len__(self) -> int:
        return self._count

    @property
    def duration(self) -> float:
        """``t`` of the last event (0 for no events)."""
        return self.times[-1] if self.times else 0.0

    def document(self, position: int, *, text: bool = True) -> Document:
        """The document after the first ``position`` events: ``from_events(events[:position])``.

        ``text=False``: everything but the text and reasoning (left empty), which are the
        only parts whose cost grows with the position (a copy of up to the whole text).
        """
        position = self.clamp(position)
        base = position - position % self.every
        doc = _clone(self._checkpoints[base // self.every])
        shared = self._part_counts[base // self.every] - 1
        doc._parts.items = self._final_parts[: max(shared, 0)] + doc._parts.items
        for event in self.events[base:position]:
            doc.apply(event)  # the clone's text is thrown away: the prefix replaces it
        doc.text = self.text.slice(0, self.text_end16[position]) if text else ""
        doc.reasoning = self.reasoning.slice(0, self.reasoning_end16[position]) if text else ""
        return doc

    @property
    def final_text(self) -> str:
        return self.text.slice(0, len(self.text))

    @property
    def final_reasoning(self) -> str:
        return self.reasoning.slice(0, len(self.reasoning))

    @property
    def final(self) -> Document:
        """The document after every event."""
        return self.document(len(self))

    def position_at(self, t: float) -> int:
        """How many events have happened at time ``t``: those with ``event.t <= t``."""
        return bisect.bisect_right(self.times, t)

    def time_at(self, position: int) -> float:
        """The recording's clock just after ``position`` events (0 before the first)."""
        position = self.clamp(position)
        return self.times[position - 1] if position else 0.0

    def clamp(self, position: int) -> int:
        return min(max(int(position), 0), len(self))

    def lengths16(self, position: int) -> tuple[int, int]:
        """Text and reasoning lengths after ``position`` events, in UTF-16 code units."""
        position = self.clamp(position)
        return self.text_end16[position], self.reasoning_end16[position]

    def code(self, kind: str) -> int:
        """The code of an event type in :attr:`kinds` (-1 when no event has it)."""
        try:
            return self.kind_names.index(kind)
        except ValueError:
            return -1

    def timing(self, *, stall_threshold: float = STALL_THRESHOLD) -> Timing:
        """The :class:`Timing` of the indexed events, from the index's columns."""
        return timing_columns(
            self.times,
            self.kinds,
            self.document(len(self), text=False),  # (its usage: no copy of the text)
            (self.code("text"), self.code("tool_result")),
            stall_threshold=stall_threshold,
        )

    def histogram(self, span: float, bins: int = 240) -> dict[str, list[int]]:
        """Token arrivals per time bin over ``[0, span]`` (see :func:`histogram`)."""
        codes = {self.code(name): name for name in TEXT_FIELDS}
        return histogram_pairs(zip(self.times, self.kinds), codes, span, bins)
