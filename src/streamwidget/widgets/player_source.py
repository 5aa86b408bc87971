"""Where a Player's events come from: a source opened as a seek index, without holding its
events when they can be read again (a file by byte offsets, a stored stream by ``seq``)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from ..events import Event
from ..lazy_events import bundled_file, is_recording_file
from ..recording import Recording
from ..seek import SeekIndex
from ..store import Store
from ..transfer import no_stream_error, stored_stream


class Opened(NamedTuple):
    """What :func:`open_source` gives the Player: the recording's header, its seek index, the
    Player's ``source`` label and how to load the whole recording when asked."""

    header: dict[str, Any]
    index: SeekIndex
    source: str
    load: Callable[[], Recording]


def open_source(source: Any, store: Store | None) -> Opened:
    """Index ``source`` without holding its events: a file (a ``.jsonl`` path, a bundled
    recording) is scanned and re-read by byte offsets, a stored stream by ``seq`` range (its
    events committed by now). A :class:`Recording` is in memory already: its events are
    indexed, not copied. Falls back to the whole recording in memory only for a bundled
    recording that is no file (a zipped package) and a stored log with gaps in its ``seq``."""
    if isinstance(source, Recording):
        return _in_memory(source)
    path = source if is_recording_file(source) else bundled_file(source)
    if path is not None:
        header, index = SeekIndex.from_file(path)
        label = str(source) if path is source else f"bundled:{path.stem}"
        return Opened(header, index, label, lambda: Recording.load(path))
    found = Recording.lookup(source) if isinstance(source, (str, os.PathLike)) else None
    if found is not None:  # a bundled recording that is no file on disk (a zipped package)
        return _in_memory(found)
    owner, stream_id = stored_stream(source, store)
    try:
        events = owner.stored_events(stream_id)
        if events is None:  # gaps in its seq: read the log whole, in order
            return _in_memory(owner.recording(stream_id))
        header = owner.recording_header(stream_id)
    except KeyError:
        raise no_stream_error(stream_id, owner) from None
    index = _index(events, header)

    def load() -> Recording:  # the events the Player plays, not those appended since
        return Recording(header, list(index.events), f"store:{stream_id}")

    return Opened(header, index, f"store:{stream_id}", load)


def _in_memory(recording: Recording) -> Opened:
    """A recording in memory: its events indexed, not copied."""
    index = _index(recording.events, recording.header)
    return Opened(recording.header, index, recording.source, lambda: recording)


def _index(events: Sequence[Event], header: dict[str, Any]) -> SeekIndex:
    return SeekIndex(
        events,
        stream_id=str(header.get("stream_id", "")),
        model=str(header.get("model", "")) or None,
        provider=str(header.get("provider", "")) or None,
    )
