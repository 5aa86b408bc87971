"""OpenAI-compatible chat completions over SSE (OpenAI, vLLM, llama.cpp, LM Studio, OpenRouter).

Wire → events (the full table is in docs/providers.md):

- ``choices[0].delta.content`` → ``text`` (a list of typed parts: ``text`` → ``text``,
  ``thinking`` → ``reasoning``); ``delta.reasoning_content`` / ``delta.reasoning`` (vLLM,
  llama.cpp, OpenRouter, Groq) → ``reasoning``; ``delta.refusal`` → ``text``.
- ``delta.tool_calls`` fragments are merged by ``index``; a fragment whose ``id`` differs from
  the call already at that index starts a new call (servers that reuse index 0 for parallel
  calls). Calls end (``tool_call_end``) at ``finish_reason`` or ``[DONE]``.
- ``usage`` (sent with ``stream_options.include_usage``) → one ``usage`` event before
  ``finish``; ``data: [DONE]`` is the terminal marker; an error object (nested, or vLLM's flat
  ``{"object": "error"}``) ends the stream, after the usage so far.
- Delta and chunk fields this module does not know, and content parts of unknown types,
  become ``unknown`` events when they carry a value: nothing is dropped silently.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from ..events import Event
from .base import ChatRequest
from .errors import (
    SHAPE_ERRORS,
    WireFailure,
    folded,
    unexpected,
)
from .history import normalize
from .http import HTTPProvider
from .openai_fold import ChunkFolder
from .secrets import resolve_key
from .wire import WireStream

OPENAI_BASE_URL = "https://api.openai.com/v1"
_RESERVED = frozenset({"model", "messages", "stream", "stream_options", "tools"})


def to_openai_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages (any shape :func:`.history.normalize` accepts) → chat completions messages."""
    out: list[dict[str, Any]] = []
    for m in normalize(messages):
        role = m.get("role")
        if role == "tool":
            content = m.get("content", "")
            out.append(
                {
                    "role": "tool",
                    "tool_call_id": m["tool_call_id"],
                    "content": content if isinstance(content, str) else json.dumps(content),
                }
            )
        elif role == "assistant" and m.get("tool_calls"):
            out.append(
                {
                    "role": "assistant",
                    "content": m.get("content") or None,
                    "tool_calls": [
                        {
                            "id": c["id"],
                            "type": "function",
                            "function": {
                                "name": c["name"],
                                "arguments": json.dumps(c.get("arguments") or {}),
                            },
                        }
                        for c in m["tool_calls"]
                    ],
                }
            )
        else:
            out.append({"role": role, "content": m.get("content", "")})
    return out


def to_openai_tools(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "type": "function",
            "function": {
                "name": t["name"],
                "description": t.get("description", ""),
                "parameters": t.get("parameters") or {"type": "object", "properties": {}},
            },
        }
        for t in tools
    ]


class OpenAIKeyed(HTTPProvider):
    """OpenAI's key rules, for its chat completions and Responses providers.

    With the default ``base_url`` the key comes from ``api_key`` or ``OPENAI_API_KEY`` (missing
    → :class:`MissingAPIKeyError`). With a custom ``base_url`` no key is needed; pass
    ``api_key=`` or ``api_key_env="OPENROUTER_API_KEY"`` for servers that want one (the
    ``OPENAI_API_KEY`` is never sent to another server). The key goes as a bearer token.
    """

    default_base_url = OPENAI_BASE_URL

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        api_key_env: str | None = None,
        **http: Any,
    ) -> None:
        custom = base_url is not None and base_url.rstrip("/") != OPENAI_BASE_URL
        env = api_key_env or (None if custom else "OPENAI_API_KEY")
        key = resolve_key(api_key, env, "OpenAI" if not custom else f"the server at {base_url}")
        super().__init__(model, base_url=base_url, api_key=key, **http)

    def _headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self._api_key}"} if self._api_key else {}


class OpenAIProvider(OpenAIKeyed):
    """Chat completions of OpenAI or any compatible server.

    Keys as :class:`OpenAIKeyed` says (``base_url=``, ``api_key=``, ``api_key_env=``).
    ``include_usage=False`` for servers that reject ``stream_options``.
    """

    name = "openai"
    path = "/chat/completions"
    terminal_marker = "data: [DONE]"

    def __init__(self, model: str, *, include_usage: bool = True, **options: Any) -> None:
        super().__init__(model, **options)
        self.include_usage = include_usage

    def build_body(self, request: ChatRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": to_openai_messages(request.messages),
            "stream": True,
        }
        if self.include_usage:
            body["stream_options"] = {"include_usage": True}
        if request.tools:
            body["tools"] = to_openai_tools(request.tools)
        body.update({k: v for k, v in request.options.items() if k not in _RESERVED})
        return body

    async def parse(self, wire: WireStream) -> AsyncIterator[Event]:
        folder = ChunkFolder()
        async for sse in wire.sse():
            data = sse.data.strip()
            if data == "[DONE]":
                try:
                    events = folder.done()
                except SHAPE_ERRORS:
                    raise unexpected(data) from None
                for event in events:
                    yield event
                return
            if not data:
                continue
            try:
                chunk = json.loads(data)
            except ValueError:
                raise WireFailure(f"malformed JSON in the event stream: {data[:200]!r}") from None
            if sse.event == "error" and isinstance(chunk, dict) and "error" not in chunk:
                chunk = {"error": chunk}
            events = folded(data, folder.feed, chunk)
            for event in events:
                yield event


__all__ = ["ChunkFolder", "OpenAIKeyed", "OpenAIProvider", "to_openai_messages"]
