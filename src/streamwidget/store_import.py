"""Importing recordings into a store as finished streams, without duplicates.

A mixin of :class:`streamwidget.store.Store` (both backends): it uses the store's locks,
cursor and live documents; the backend writes the rows in ``_write_import``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .recording import Recording
from .store_rows import _IMPORT_LOCK, _new_id, _recording_sha256, import_rows
from .store_types import StoreError

if TYPE_CHECKING:
    import duckdb


class ImportMixin:
    """``find_recording`` and ``import_recording`` for :class:`Store`."""

    _lock: Any
    _state: Any
    _live: dict[str, Any]
    _owner: tuple[int, str, float | None]

    # -- import: recordings written back as streams (replay & debugging, see transfer.py) ----
    #
    # Added for streamwidget.transfer. An imported recording keeps its own times and becomes
    # one finished stream, written in one transaction. Importing the same content twice
    # gives back the first stream: the sha256 of the recording's canonical form
    # (_recording_sha256) is kept in streams.recording_sha256, a column this section adds
    # on first use (ALTER TABLE ... ADD COLUMN IF NOT EXISTS).

    def find_recording(self, recording: Recording) -> str | None:
        """The id of a stream in this store with exactly ``recording``'s content, if any:
        an earlier import of it, or the stream it was exported from (its ``stream_id``)."""
        digest = _recording_sha256(recording)
        self.flush()  # never under _lock: the writer thread takes the two the other way round
        with self._lock:
            rows = (
                self._import_cursor()
                .execute("SELECT id FROM streams WHERE recording_sha256 = ? LIMIT 1", [digest])
                .fetchall()  # fetchall, not fetchone: DuckDB 2 keeps a half-read result open
            )
        if rows:
            return rows[0][0]
        origin = recording.header.get("stream_id")
        if (
            isinstance(origin, str)
            and self._stream_exists(origin)
            and _recording_sha256(self.recording(origin)) == digest
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
            stream_id = stream_id or _new_id("s")
            self._write_import(recording, stream_id)
        return stream_id

    def _write_import(self, recording: Recording, stream_id: str) -> None:
        conversation, row, columns = import_rows(recording, stream_id, self._owner)
        header = recording.header
        row[-2] = str(row[-2] or "")  # created_at: cast in SQL, now() when unreadable
        with self._lock:
            cur = self._import_cursor()
            cur.execute("BEGIN TRANSACTION")
            try:
                if conversation is not None:
                    cur.execute(
                        "INSERT OR IGNORE INTO conversations (id, title) VALUES (?, ?)",
                        [conversation, str(header.get("conversation_title") or "Imported")],
                    )
                cur.execute(
                    "INSERT INTO streams (id, conversation_id, status, content, reasoning,"
                    " tool_calls, error, usage, warnings, finish_reason, model, provider, request,"
                    " header, first_token_t, last_t, version, owner_pid, owner_host, owner_started,"
                    " created_at, recording_sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
                    " ?, ?, ?, ?, ?, ?, ?, coalesce(TRY_CAST(? AS TIMESTAMPTZ), now()), ?)",
                    row,
                )
                cur.execute(
                    "INSERT INTO events SELECT unnest($1::VARCHAR[]), unnest($2::BIGINT[]),"
                    " unnest($3::DOUBLE[]), unnest($4::VARCHAR[]), unnest($5::JSON[])",
                    columns,
                )
                cur.execute("COMMIT")
            except Exception:
                cur.execute("ROLLBACK")
                raise

    def _import_cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor, with the ``recording_sha256`` column in place (call under ``_lock``)."""
        cur = self._cursor()
        if not getattr(self, "_import_ready", False):
            cur.execute("ALTER TABLE streams ADD COLUMN IF NOT EXISTS recording_sha256 VARCHAR")
            self._import_ready = True
        return cur

    def _stream_exists(self, stream_id: str) -> bool:
        with self._state:
            if stream_id in self._live:
                return True
        with self._lock:
            cur = self._cursor()
            return bool(cur.execute("SELECT 1 FROM streams WHERE id = ?", [stream_id]).fetchall())
