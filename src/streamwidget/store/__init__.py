"""The store: every reply as one document plus its event log, in DuckDB or PostgreSQL.

Narrow interface: open, create/append (the batch writer), get/read, subscribe/follow, recover.
The manager is the only writer of a stream; widgets subscribe and never write.

Layout (see docs/architecture.md):

- ``core.py``: :class:`Store`, backend-neutral: live documents, the batching writer thread,
  subscriptions, the recovery policy; ``conversations.py`` and ``imports.py`` add
  conversations and recording imports on top of it;
- ``backend.py``: the contract a backend implements; ``backends.py`` picks one from the path;
- ``duckdb.py`` (with ``lease.py``, ``duckdb_schema.py``): a DuckDB file shared by processes;
- ``postgres.py`` (with ``postgres_follow.py``, ``postgres_duck.py``, ``postgres_schema.py``):
  a PostgreSQL database with row-level security and cross-process following;
- ``rows.py``, ``sql.py``, ``types.py``, ``owner.py``: named rows, the shared queries, errors
  and ``Change``, who owns a stream.

Errors::

    StoreError               a store cannot be opened or written; the message says what to do
     └── StoreLockedError    another process kept the file longer than we could wait
"""

from __future__ import annotations

from .core import Store, default_store
from .types import (
    ENV_VAR,
    Callback,
    Change,
    StoreError,
    StoreLockedError,
    default_path,
    is_postgres_dsn,
)

__all__ = [
    "ENV_VAR",
    "Callback",
    "Change",
    "Store",
    "StoreError",
    "StoreLockedError",
    "default_path",
    "default_store",
    "is_postgres_dsn",
]
