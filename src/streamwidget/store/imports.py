"""Importing recordings into a store as finished streams, without duplicates (every backend).

An imported recording keeps its own times and becomes one finished stream, written in one
transaction by the backend. Importing the same content twice gives back the first stream: the
sha256 of the recording's canonical form (:func:`.rows.recording_sha256`) is kept in
``streams.recording_sha256`` (indexed).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from ..recording import Recording
from . import sql
from .backend import Backend
from .rows import Owner, imported_stream, new_id, recording_sha256
from .types import StoreError

#: One import at a time, so two threads importing the same recording cannot both write it.
_IMPORT_LOCK = threading.Lock()
#: Recordings written in one transaction by :meth:`ImportMixin.import_recordings` (a commit
#: costs milliseconds on a file; one per batch keeps an import under 1 ms per stream).
IMPORT_BATCH = 500


class Imported(NamedTuple):
    """What importing one recording did: the stream that holds it, and whether it was written
    now (``False``: the content was in the store already)."""

    stream_id: str
    written: bool


def _origin(recording: Recording) -> str | None:
    origin = recording.header.get("stream_id")
    return origin if isinstance(origin, str) and origin else None


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
            self._backend.write_imports([imported_stream(recording, stream_id, self._owner)])
        return stream_id

    def import_recordings(self, recordings: Sequence[Recording]) -> list[Imported]:
        """Import many recordings, :data:`IMPORT_BATCH` to a transaction, each exactly as
        :meth:`import_recording` would (a duplicate, also within ``recordings``, gives back the
        stream that holds its content); one :class:`Imported` per recording, in order."""
        outcomes: list[Imported] = []
        with _IMPORT_LOCK:
            for start in range(0, len(recordings), IMPORT_BATCH):
                outcomes.extend(self._import_batch(recordings[start : start + IMPORT_BATCH]))
        return outcomes

    def _import_batch(self, recordings: Sequence[Recording]) -> list[Imported]:
        digests = [recording_sha256(recording) for recording in recordings]
        origins = [_origin(recording) for recording in recordings]
        self.flush()
        known: dict[str, str] = {}  # hash -> the stream holding that content
        in_store: set[str] = set()  # the header ids that name a stream already
        given: set[str] = set()  # ids given to this batch
        for digest, found in self._backend.rows(
            sql.IMPORT_CHECK, [sorted(set(digests)), sorted({o for o in origins if o})]
        ):
            if digest is None:
                in_store.add(found)
            else:
                known.setdefault(digest, found)
        with self._state:
            in_store.update(origin for origin in origins if origin in self._live)
        outcomes, writes = [], []
        for recording, digest, origin in zip(recordings, digests, origins, strict=True):
            found = known.get(digest)
            if found is None and origin in in_store:
                # the stream it was exported from, if it still holds exactly this content
                exported = recording_sha256(self.recording(origin)) == digest
                found = origin if exported else None
            if found is not None:
                outcomes.append(Imported(found, False))
                continue
            if origin and origin not in in_store and origin not in given:
                stream_id = origin
            else:
                stream_id = new_id("s")
            given.add(stream_id)
            known[digest] = stream_id
            writes.append(imported_stream(recording, stream_id, self._owner, digest))
            outcomes.append(Imported(stream_id, True))
        self._backend.write_imports(writes)
        return outcomes

    def _stream_exists(self, stream_id: str) -> bool:
        with self._state:
            if stream_id in self._live:
                return True
        return bool(self._backend.rows(sql.STREAM_EXISTS, [stream_id]))
