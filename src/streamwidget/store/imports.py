"""Importing recordings into a store as finished streams, without duplicates (every backend).

An imported recording keeps its own times and becomes one finished stream, written in one
transaction by the backend. Importing the same content twice gives back the first stream: the
sha256 of the recording's canonical form (:func:`.rows.recording_sha256`) is kept in
``streams.recording_sha256`` (indexed).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from ..recording import Recording
from . import sql
from .backend import Backend
from .rows import Owner, imported_stream, new_id, recording_sha256
from .types import StoreError

#: One import at a time, so two threads importing the same recording cannot both write it.
_IMPORT_LOCK = threading.Lock()


class ImportMixin:
    """``find_recording`` and ``import_recording`` for :class:`~.core.Store`."""

    _backend: Backend
    _state: threading.Lock
    _live: dict[str, Any]
    _owner: Owner
    path: str

    if TYPE_CHECKING:  # the store's own

        def flush(self) -> None: ...

        def recording(self, stream_id: str) -> Recording: ...

    def find_recording(self, recording: Recording) -> str | None:
        """The id of a stream in this store with exactly ``recording``'s content, if any:
        an earlier import of it, or the stream it was exported from (its ``stream_id``)."""
        digest = recording_sha256(recording)
        self.flush()
        rows = self._backend.rows(sql.BY_SHA256, [digest])
        if rows:
            return str(rows[0][0])
        origin = recording.header.get("stream_id")
        if (
            isinstance(origin, str)
            and self._stream_exists(origin)
            and recording_sha256(self.recording(origin)) == digest
        ):
            return origin
        return None

    def import_recording(self, recording: Recording, *, stream_id: str | None = None) -> str:
        """Write ``recording`` into the store as a finished stream; return its id.

        Content already in the store (see :meth:`find_recording`) is not written again: its
        id is returned. The new stream takes ``stream_id``, else the header's ``stream_id``
        when this store has no stream by that id, else a new id. A recording that does not
        end (no terminal event) gets an ``interrupted`` event at its last ``t``, as a stream
        whose writer died would. A header ``conversation_id`` tags the stream (the
        conversation row is created, titled ``conversation_title``, if missing).
        """
        with _IMPORT_LOCK:
            existing = self.find_recording(recording)
            if existing is not None:
                return existing
            if stream_id is not None and self._stream_exists(stream_id):
                raise StoreError(f"the store {self.path} already has a stream {stream_id!r}")
            origin = recording.header.get("stream_id")
            if stream_id is None and isinstance(origin, str) and origin:
                stream_id = None if self._stream_exists(origin) else origin
            stream_id = stream_id or new_id("s")
            self._backend.write_import(imported_stream(recording, stream_id, self._owner))
        return stream_id

    def _stream_exists(self, stream_id: str) -> bool:
        with self._state:
            if stream_id in self._live:
                return True
        return bool(self._backend.rows(sql.STREAM_EXISTS, [stream_id]))
