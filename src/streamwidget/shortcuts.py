"""One-line entry points for notebooks."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from .manager import start, start_replay
from .providers.base import ChatRequest, Provider
from .recording import Recording
from .store import Store
from .tools import Tool
from .widgets.stream_view import StreamView


def replay(
    recording: Recording | str | os.PathLike[str], *, speed: float = 1.0, store: Store | None = None
) -> StreamView:
    """Replay a recording (bundled name, path, or :class:`Recording`) into a new StreamView.

    The replay takes the same path as a live model: it is written to the store as a new
    stream and the view follows the store.
    """
    return StreamView(start_replay(recording, speed=speed, store=store))


def ask(
    model: Provider | str,
    prompt: str,
    *,
    system: str | None = None,
    tools: Iterable[Tool | Callable[..., Any]] = (),
    store: Store | None = None,
    **options: Any,
) -> StreamView:
    """Ask a model one question and show the reply as it streams.

    ``model`` is a provider or a model string (``"openai:gpt-4o-mini"``,
    ``"anthropic:claude-sonnet-4-5"``, ``"ollama:llama3.2"``, ``"replay:hello"``);
    ``options`` go to the request (``temperature``, ``max_tokens``, ...).
    """
    messages = [{"role": "system", "content": system}] if system else []
    messages.append({"role": "user", "content": prompt})
    request = ChatRequest(messages=messages, options=options)
    return StreamView(start(model, request=request, store=store, tools=tools))
