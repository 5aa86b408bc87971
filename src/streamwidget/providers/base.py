"""What a provider is: something that turns one chat request into normalized events.

A provider never touches the store or a widget. The manager iterates :meth:`Provider.stream`,
stamps each event's ``t`` with its own clock, and writes it to the store. A provider signals
the end of a reply with a terminal event (``finish`` or ``error``, after its one ``usage``); if
its iterator simply stops, the manager ends the stream as an ``error`` of kind ``incomplete``.
What it cannot place it yields as an ``unknown`` event (:func:`..events.unknown`). Writing
one: docs/providers.md, "Writing a provider".
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ..events import Event


@dataclass
class ChatRequest:
    """What is asked of a model: messages in a provider-neutral shape, tools, options.

    ``messages`` items: ``{"role": "system"|"user"|"assistant"|"tool", "content": str}``;
    assistant turns may carry ``"tool_calls": [{"id", "name", "arguments": dict}]`` and tool
    turns carry ``"tool_call_id"``. The OpenAI chat format and Anthropic content blocks are
    accepted too (:func:`.history.normalize` turns them into this shape). ``tools`` items:
    ``{"name", "description", "parameters"}`` with ``parameters`` a JSON schema.
    ``options``: ``temperature``, ``max_tokens``, ...
    """

    messages: list[dict[str, Any]] = field(default_factory=list)
    tools: list[dict[str, Any]] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Provider(Protocol):
    #: Short provider name recorded with the stream: "openai", "anthropic", "ollama", "replay".
    name: str
    #: The model identifier as the provider knows it.
    model: str

    def describe(self, request: ChatRequest) -> dict[str, Any]:
        """The request as it is recorded in the header: no keys, no auth headers."""
        ...

    def stream(self, request: ChatRequest) -> AsyncIterator[Event]:
        """Yield normalized events (without ``t``) for one reply."""
        ...


# -- shared by the wire parsers ---------------------------------------------------------------


def tool_call_end(call_id: str, name: str, args_text: str) -> Event:
    """``tool_call_end`` with the parsed arguments, or an ``error`` if they are not a JSON
    object (kind ``server``: the model produced them; the text so far is kept)."""
    try:
        arguments = json.loads(args_text) if args_text.strip() else {}
    except ValueError as exc:
        arguments = exc
    if not isinstance(arguments, dict):
        return {
            "type": "error",
            "kind": "server",
            "message": f"the model sent arguments for tool {name!r} ({call_id}) that are not "
            f"a JSON object: {args_text[:200]!r}",
        }
    return {"type": "tool_call_end", "id": call_id, "arguments": arguments}
