"""The events of a ``.jsonl`` recording read from the file on demand, not held in memory.

A million-event recording parsed into Python dicts costs ~540 bytes per event; the Player needs
the events only one at a time (a scan that builds the seek index) and a few at a time later (a
seek folds fewer than ``CHECKPOINT_EVERY`` events from a checkpoint; the inspector shows a
dozen). :func:`scan` reads the file once, validating every line exactly like the strict
:meth:`Recording.loads <streamwidget.recording.Recording.loads>`, and :class:`FileEvents`
re-reads any run of events by the byte offsets the scan noted: 8 bytes per event.

:class:`RangeEvents` is what both lazy sequences share: a stored stream's events are read the
same way, by ``seq`` range from the store (:mod:`streamwidget.store.stored_events`).
"""

from __future__ import annotations

import json
import os
from array import array
from collections.abc import Iterator, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, overload

from .events import TERMINAL_TYPES, Event, EventError, validate_event
from .recording import RecordingError, _parse_header, bundled_names, file_errors


class RangeEvents(Sequence[Event]):
    """A read-only sequence of events fetched a run at a time: a subclass says how many there
    are (``__len__``) and reads events ``start`` to ``stop - 1`` in one go (:meth:`read`);
    indexing, slicing and iterating (``BATCH`` events a read) are built on those two."""

    #: Events a read while iterating.
    BATCH = 4096

    def __len__(self) -> int:
        raise NotImplementedError

    def read(self, start: int, stop: int) -> list[Event]:
        """Events ``start`` to ``stop - 1`` (``0 <= start``, ``stop <= len(self)``)."""
        raise NotImplementedError

    @overload
    def __getitem__(self, index: int) -> Event: ...
    @overload
    def __getitem__(self, index: slice) -> list[Event]: ...
    def __getitem__(self, index: int | slice) -> Event | list[Event]:
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step != 1:
                return [self[i] for i in range(start, stop, step)]
            return self.read(start, stop)
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError("event index out of range")
        return self.read(index, index + 1)[0]

    def __iter__(self) -> Iterator[Event]:
        for start in range(0, len(self), self.BATCH):
            yield from self.read(start, min(start + self.BATCH, len(self)))


class FileEvents(RangeEvents):
    """A read-only sequence of the events of one recording file.

    ``offsets[i]`` is the byte offset where event ``i``'s line starts; ``offsets[-1]`` is the
    end of the last one. Reading ``events[a:b]`` reads that byte range once. The file may grow
    (lines appended are not seen: open it again for those) but must not otherwise change; a
    file that shrank raises :class:`RecordingError`.
    """

    def __init__(self, path: str | os.PathLike[str], offsets: array[int], size: int):
        self.path = Path(path)
        self.offsets = offsets
        self._size = size

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def read(self, start: int, stop: int) -> list[Event]:
        """Events ``start`` to ``stop - 1``, with one read of the file."""
        if stop <= start:
            return []
        with open(self.path, "rb") as file:
            # lines appended since (a recording still being written) leave these offsets valid
            if os.fstat(file.fileno()).st_size < self._size:
                raise RecordingError("changed on disk since it was opened", source=str(self.path))
            file.seek(self.offsets[start])
            data = file.read(self.offsets[stop] - self.offsets[start])
        return [json.loads(line) for line in data.split(b"\n") if line.strip()]


def scan(path: str | os.PathLike[str]) -> tuple[dict[str, Any], Iterator[Event], array[int]]:
    """The header of a recording file, an iterator over its events (validated as the strict
    loader does) and the array the iterator fills with their byte offsets as it goes (one more
    than the events, once the iterator is exhausted)."""
    source = os.fspath(path)
    with file_errors(source):
        file = open(path, "rb")  # noqa: SIM115 - closed by the generator
    offset, number = 0, 0
    header: dict[str, Any] | None = None
    for raw in file:
        number += 1
        offset += len(raw)
        if raw.strip():
            header = _parse_header(_decode(raw, source, number), source, number)
            break
    if header is None:
        file.close()
        raise RecordingError("empty: a recording needs a header line", source=source)
    offsets = array("q")
    return header, _events(file, source, offset, number, offsets), offsets


def _decode(raw: bytes, source: str, number: int) -> str:
    try:
        return raw.decode("utf-8").removesuffix("\n").removesuffix("\r")
    except UnicodeDecodeError as exc:
        raise RecordingError(f"not UTF-8 text ({exc.reason})", source=source, line=number) from None


def _events(
    file: Any, source: str, offset: int, number: int, offsets: array[int]
) -> Iterator[Event]:
    last_t, ended = 0.0, False
    with file:
        for raw in file:
            number += 1
            start, offset = offset, offset + len(raw)
            if not raw.strip():
                continue
            try:
                event = validate_event(json.loads(raw))
                if event["t"] < last_t:
                    raise EventError(f"t={event['t']} goes back in time (previous t={last_t})")
                if ended:
                    raise EventError(f"'{event['type']}' event after the stream already ended")
            except UnicodeDecodeError as exc:
                message = f"not UTF-8 text ({exc.reason})"
                raise RecordingError(message, source=source, line=number) from None
            except json.JSONDecodeError as exc:
                message = f"not valid JSON ({exc.msg} at column {exc.colno})"
                raise RecordingError(message, source=source, line=number) from None
            except (EventError, ValueError) as exc:
                raise RecordingError(str(exc), source=source, line=number) from None
            last_t = float(event["t"])
            ended = event["type"] in TERMINAL_TYPES
            offsets.append(start)
            yield event
        offsets.append(offset)


def is_recording_file(source: Any) -> bool:
    """Whether ``source`` names a recording file on disk (what :meth:`Recording.lookup` would
    load as a file), as opposed to a bundled name, a stream id or an object."""
    if not isinstance(source, (str, os.PathLike)):
        return False
    path = Path(source)
    return (path.suffix == ".jsonl" and path.exists()) or path.is_file()


def bundled_file(name: Any) -> Path | None:
    """The file of the bundled recording ``name`` (with or without ``.jsonl``) when it is one
    on disk (an installed package's data), else ``None`` (not bundled, or inside a zip)."""
    if not isinstance(name, (str, os.PathLike)):
        return None
    stem = os.fspath(name).removesuffix(".jsonl")
    if stem not in bundled_names():
        return None
    resource = resources.files("streamwidget") / "recordings" / f"{stem}.jsonl"
    return resource if isinstance(resource, Path) and resource.is_file() else None
