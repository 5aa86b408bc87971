"""Which backend a store path names: ``postgresql://...`` is PostgreSQL, anything else a
DuckDB file (or ``":memory:"``)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from .backend import Backend, Notify
from .duckdb import DuckDBBackend  # the default: imported with the store, not on first open
from .types import ENV_VAR, StoreError, default_path, is_postgres_dsn


def open_backend(
    path: str | os.PathLike[str] | None,
    *,
    lock_timeout: float,
    idle_release: float,
    woken: Callable[[], None],
    notify: Notify,
) -> Backend:
    """Open the backend for ``path`` (``None``: ``$STREAMWIDGET_STORE``, else the default
    file). ``woken`` wakes the writer thread; ``notify`` reaches the store's subscribers."""
    target = path if path is not None else os.environ.get(ENV_VAR)
    if isinstance(target, str) and is_postgres_dsn(target):
        try:
            from .postgres import PostgresBackend
        except ImportError as exc:
            raise StoreError(
                f"a PostgreSQL store needs psycopg 3 ({exc}): pip install 'streamwidget[postgres]'"
            ) from None
        return PostgresBackend(target, lock_timeout=lock_timeout, notify=notify)
    file = ":memory:" if path == ":memory:" else str(Path(path or default_path()))
    return DuckDBBackend(file, lock_timeout=lock_timeout, idle_release=idle_release, woken=woken)
