"""streamwidget: LLM streaming as one inspectable, replayable document per reply.

Data flows one way: provider → manager → store (DuckDB) → widget. Heavy modules (duckdb,
anywidget) load on first use, so ``import streamwidget`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "ChatRequest": "providers.base",
    "Document": "document",
    "EventError": "events",
    "Recording": "recording",
    "RecordingError": "recording",
    "ReplayProvider": "providers.replay",
    "Store": "store",
    "StoreError": "store",
    "StoreLockedError": "store",
    "StreamHandle": "manager",
    "StreamView": "widgets.stream_view",
    "ToolCall": "document",
    "bundled_recordings": "recording",
    "default_store": "store",
    "replay": "shortcuts",
    "start": "manager",
}
_ALIASES = {"bundled_recordings": "bundled_names"}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'streamwidget' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), _ALIASES.get(name, name))
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return [*globals(), *__all__]


if TYPE_CHECKING:
    from .document import Document, ToolCall
    from .events import EventError
    from .manager import StreamHandle, start
    from .providers.base import ChatRequest
    from .providers.replay import ReplayProvider
    from .recording import Recording, RecordingError
    from .recording import bundled_names as bundled_recordings
    from .shortcuts import replay
    from .store import Store, StoreError, StoreLockedError, default_store
    from .widgets.stream_view import StreamView
