"""OpenAI Responses API (``POST /v1/responses`` with ``stream: true``) over SSE.

Model string: ``"openai-responses:gpt-5"`` (key from ``OPENAI_API_KEY``). Wire → events:

- ``response.output_text.delta`` → ``text``; ``response.refusal.delta`` → ``text`` too, and the
  reply finishes with reason ``content_filter``. Separate message items are joined by a blank
  line. A message item that ends without having streamed deltas gives its text at
  ``response.output_item.done``.
- ``response.reasoning_summary_text.delta`` and ``response.reasoning_text.delta`` →
  ``reasoning`` (summary parts and reasoning items are separated by a blank line).
- ``function_call`` items → ``tool_call_start`` (id = the item's ``call_id``),
  ``response.function_call_arguments.delta`` → ``tool_call_delta``, item done →
  ``tool_call_end``. These are the app's tools: the manager runs them.
- Built-in tools the *server* runs (``web_search_call``, ``file_search_call``,
  ``code_interpreter_call``, ``image_generation_call``, ``mcp_call``) → ``tool_call_start``
  with ``"server": true`` when the item is added, then at its end ``tool_call_end`` (what was
  asked: the query, the code) and ``tool_result`` with ``"server": true`` (sources, outputs).
  They are never run locally and cause no further request.
- Built-in tools the *app* runs (``custom_tool_call``, ``local_shell_call``, ``shell_call``,
  ``apply_patch_call``) → ``tool_call_start`` / ``tool_call_end`` like a function call; a
  ``shell_call`` in OpenAI's container is server-run, its ``shell_call_output`` the result.
- ``response.output_text.annotation.added`` → ``citation`` (a type views may skip).
- ``response.completed`` → ``usage`` + ``finish`` (``tool_calls`` if the model called a
  function); ``response.incomplete`` → ``finish`` with ``length`` / ``content_filter``;
  ``response.failed`` and ``error`` → ``error``. One of these is the terminal marker.
- Any other event type, and output items of a type not listed, become ``unknown`` events
  holding the raw JSON (a document warning), never silently dropped.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from ..events import Event
from .base import ChatRequest
from .errors import folded, json_object
from .history_wires import to_responses_input
from .openai import OpenAIKeyed
from .responses_fold import ResponsesFolder
from .wire import WireStream

_RESERVED = frozenset({"model", "input", "stream", "tools", "instructions"})


class OpenAIResponsesProvider(OpenAIKeyed):
    """The OpenAI Responses API. Keys as for :class:`~.openai.OpenAIProvider` (default base
    URL: ``OPENAI_API_KEY``; a custom ``base_url`` needs none unless given). ``server_tools``
    are built-in tool specs sent as they are, e.g. ``[{"type": "web_search"}]``;
    ``reasoning`` (e.g. ``{"effort": "low", "summary": "auto"}``) goes in the request."""

    name = "openai-responses"
    path = "/responses"
    terminal_marker = "a response.completed event"

    def __init__(
        self,
        model: str,
        *,
        server_tools: list[dict[str, Any]] | None = None,
        reasoning: dict[str, Any] | None = None,
        **options: Any,
    ) -> None:
        super().__init__(model, **options)
        self.server_tools = list(server_tools or [])
        self.reasoning = reasoning

    def build_body(self, request: ChatRequest) -> dict[str, Any]:
        instructions, items = to_responses_input(request.messages)
        body: dict[str, Any] = {"model": self.model, "input": items, "stream": True}
        if instructions:
            body["instructions"] = instructions
        tools = [
            {
                "type": "function",
                "name": t["name"],
                "description": t.get("description", ""),
                "parameters": t.get("parameters") or {"type": "object", "properties": {}},
            }
            for t in request.tools
        ] + self.server_tools
        if tools:
            body["tools"] = tools
        if self.reasoning:
            body["reasoning"] = self.reasoning
        for key, value in request.options.items():
            if key == "max_tokens":
                body["max_output_tokens"] = value
            elif key not in _RESERVED and key != "seed":
                body[key] = value
        return body

    async def parse(self, wire: WireStream) -> AsyncIterator[Event]:
        folder = ResponsesFolder()
        async for sse in wire.sse():
            data_text = sse.data.strip()
            if not data_text or data_text == "[DONE]":
                continue
            data = json_object(data_text)
            data.setdefault("type", sse.event)
            events = folded(data_text, folder.feed, data)
            for event in events:
                yield event
            if folder.ended:
                return


__all__ = ["OpenAIResponsesProvider", "ResponsesFolder"]
