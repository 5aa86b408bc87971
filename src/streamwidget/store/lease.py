"""Sharing one DuckDB file between processes (two notebooks open at once).

DuckDB lets one process hold a database file; another process gets an ``IOException``
("Could not set lock on file"), even read-only. So each :class:`Store` holds the file only
while it needs it, as a *lease*:

- it opens the file for a batch of writes or a read, and keeps it while it is busy;
- a process that finds the file held touches a signal file beside it (``<store>.want``) and
  retries with backoff; the holder checks the signal file's mtime after each operation (one
  ``stat``) and, if another process is waiting, closes the file after what it is doing;
- the writer also lets the file go after a short idle time.

No server process, no polling of tables: the operating system's file lock (through DuckDB) is
the mutual exclusion, and one ``stat`` per operation is the whole signalling cost.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from pathlib import Path

import duckdb


class LeaseTimeout(TimeoutError):
    """The file stayed held by another process for longer than the caller would wait."""

    def __init__(self, path: str, waited: float, holder: str):
        self.holder = holder
        super().__init__(
            f"the store {path} stayed in use by another process ({holder}) for {waited:.1f} s"
        )


class Lease:
    """One process's access to a DuckDB file; ``":memory:"`` holds it for good."""

    def __init__(self, path: str):
        self.path = path
        self.shared = path != ":memory:"
        self.want_path = Path(path + ".want") if self.shared else None
        self._con: duckdb.DuckDBPyConnection | None = None
        self._cursors: dict[int, duckdb.DuckDBPyConnection] = {}
        self._extra: list[duckdb.DuckDBPyConnection] = []
        self._want_seen = 0
        self.acquisitions = 0  # how often the file was opened (for measurements)
        if not self.shared:
            self._con = duckdb.connect(":memory:")

    @property
    def held(self) -> bool:
        return self._con is not None

    def cursor(self, timeout: float | None = 10.0) -> duckdb.DuckDBPyConnection:
        """A cursor for this thread, opening the file first (waiting up to ``timeout``)."""
        if self._con is None:
            self._open(timeout)
        thread = threading.get_ident()
        cursor = self._cursors.get(thread)
        if cursor is None:
            assert self._con is not None
            cursor = self._cursors[thread] = self._con.cursor()
        return cursor

    def new_cursor(self) -> duckdb.DuckDBPyConnection:
        """An extra cursor (closed with the lease: DuckDB keeps the file locked while any
        cursor is open)."""
        assert self._con is not None
        cursor = self._con.cursor()
        self._extra.append(cursor)
        return cursor

    def _open(self, timeout: float | None) -> None:
        started = time.monotonic()
        delay = 0.002
        while True:
            try:
                self._con = duckdb.connect(self.path)
                break
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower():
                    raise
                waited = time.monotonic() - started
                if timeout is not None and waited >= timeout:
                    raise LeaseTimeout(self.path, waited, holder(exc)) from None
                self._signal_want()
                time.sleep(delay)
                delay = min(delay * 2, 0.05)
        self.acquisitions += 1
        self._want_seen = self._want_mtime()

    def _signal_want(self) -> None:
        assert self.want_path is not None
        # in a read-only folder the touch fails; the holder still lets go when idle
        with contextlib.suppress(OSError):
            self.want_path.touch()

    def _want_mtime(self) -> int:
        try:
            return os.stat(self.want_path).st_mtime_ns if self.want_path else 0
        except OSError:
            return 0

    def wanted(self) -> bool:
        """Has another process asked for the file since we opened it?"""
        return self.shared and self._con is not None and self._want_mtime() != self._want_seen

    def release(self) -> None:
        """Close the file so another process can open it (the next use reopens it)."""
        if self.shared and self._con is not None:
            # Write the WAL into the file first, so the next process never replays a WAL this
            # process has already applied (closing removes the WAL after releasing the lock).
            with contextlib.suppress(duckdb.Error):
                self._con.execute("CHECKPOINT")
            self.close()

    def close(self) -> None:
        for cursor in [*self._cursors.values(), *self._extra]:
            cursor.close()
        self._cursors.clear()
        self._extra.clear()
        if self._con is not None:
            self._con.close()
            self._con = None


def holder(exc: Exception) -> str:
    """Who holds the file, from DuckDB's lock error message."""
    text = str(exc)
    if "PID " in text:
        return "PID " + text.split("PID ", 1)[1].split(")", 1)[0].strip()
    return "another process"
