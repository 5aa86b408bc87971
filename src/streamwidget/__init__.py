"""streamwidget: LLM streaming as one inspectable, replayable document per reply.

Data flows one way: provider → manager → store (DuckDB) → widget. Heavy modules (duckdb,
anywidget) load on first use, so ``import streamwidget`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

_EXPORTS = {
    "Chat": "widgets.chat",
    "ChatRequest": "providers.base",
    "Compare": "widgets.compare",
    "Document": "document",
    "EventError": "events",
    "Player": "widgets.player",
    "Recording": "recording",
    "RecordingError": "recording",
    "ReplayProvider": "providers.replay",
    "Store": "store",
    "StoreError": "store",
    "StoreLockedError": "store",
    "StreamHandle": "manager",
    "StreamView": "widgets.stream_view",
    "ToolCall": "document",
    "ask": "shortcuts",
    "bundled_recordings": "recording",
    "default_store": "store",
    "export_jsonl": "transfer",
    "export_otel": "otel",
    "export_parquet": "transfer",
    "import_jsonl": "transfer",
    "import_parquet": "transfer",
    "import_wire": "wire_import",
    "replay": "shortcuts",
    "reparse": "wire_import",
    "start": "manager",
    "stats": "analytics",
    "tool": "tools",
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


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext streamwidget``: registers the ``%%chat`` cell magic."""
    from .magics import load_ipython_extension as load

    load(ipython)


if TYPE_CHECKING:
    from .analytics import stats
    from .document import Document, ToolCall
    from .events import EventError
    from .manager import StreamHandle, start
    from .otel import export_otel
    from .providers.base import ChatRequest
    from .providers.replay import ReplayProvider
    from .recording import Recording, RecordingError
    from .recording import bundled_names as bundled_recordings
    from .shortcuts import ask, replay
    from .store import Store, StoreError, StoreLockedError, default_store
    from .tools import tool
    from .transfer import export_jsonl, export_parquet, import_jsonl, import_parquet
    from .widgets.chat import Chat
    from .widgets.compare import Compare
    from .widgets.player import Player
    from .widgets.stream_view import StreamView
    from .wire_import import import_wire, reparse
