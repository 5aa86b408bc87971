"""What the store's users and its backends share: errors, the change a subscriber hears, and
where the store file lives."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

from ..document import Document
from ..events import Event

ENV_VAR = "STREAMWIDGET_STORE"


class StoreError(RuntimeError):
    """The store cannot be opened or written."""


class StoreLockedError(StoreError):
    """Another process kept the store file longer than we could wait."""


class Change:
    """What a subscriber hears: the document after an event, or after a commit. Read-only by
    convention: a plain class with slots, as one is made per event (a frozen dataclass costs
    more to build)."""

    __slots__ = ("committed", "document", "event", "stream_id")

    def __init__(
        self, stream_id: str, document: Document, event: Event | None, committed: bool
    ) -> None:
        self.stream_id = stream_id
        self.document = document
        #: The event just applied in memory; ``None`` for a commit notification (which comes
        #: from the writer thread).
        self.event = event
        self.committed = committed

    def __repr__(self) -> str:
        return (
            f"Change(stream_id={self.stream_id!r}, event={self.event!r}, "
            f"committed={self.committed!r}, document={self.document!r})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Change):
            return NotImplemented
        return (self.stream_id, self.document, self.event, self.committed) == (
            other.stream_id,
            other.document,
            other.event,
            other.committed,
        )


Callback = Callable[[Change], None]


def is_postgres_dsn(value: object) -> bool:
    """Is ``value`` a PostgreSQL connection URI (``postgresql://`` or ``postgres://``)?"""
    return isinstance(value, str) and value.startswith(("postgresql://", "postgres://"))


def default_path() -> Path:
    """``$STREAMWIDGET_STORE``, else a file in the per-user data directory."""
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "streamwidget" / "store.duckdb"


def check_folder(path: str) -> None:
    parent = Path(path).parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(
            f"cannot create the folder for the store {path}: {exc.strerror}. "
            f"Pass Store(path=...) or set {ENV_VAR} to a writable place."
        ) from None
    if not os.access(parent, os.W_OK):
        raise StoreError(
            f"the folder {parent} is not writable, so the store {path} cannot be "
            f"opened. Pass Store(path=...) or set {ENV_VAR} to a writable place."
        )
