"""Ollama ``/api/chat`` over NDJSON (one JSON object per line).

Only ``\n`` ends a line (JSON strings may hold U+2028 raw). Wire → events: ``message.content``
(``response`` on /api/generate lines) → ``text``, ``message.thinking`` → ``reasoning``,
``message.tool_calls`` (Ollama sends each call whole) → ``tool_call_start`` / ``_delta`` /
``_end``; the line with ``"done": true`` is the terminal marker (``prompt_eval_count`` /
``eval_count`` → ``usage``, ``done_reason`` → ``finish``). An ``{"error": ...}`` line (Ollama
sends them with HTTP 200) ends the stream as an error of kind ``server``. Other ``message``
fields that carry a value become ``unknown`` events.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from typing import Any

from ..events import Event, unknown
from .base import ChatRequest, tool_call_end
from .errors import error_text, folded, json_object
from .history import normalize
from .http import HTTPProvider
from .wire import WireStream

OLLAMA_BASE_URL = "http://localhost:11434"
#: Options that are top-level request fields; every other option goes in ``options``.
_TOP_LEVEL = frozenset({"think", "keep_alive", "format"})
_RESERVED = frozenset({"model", "messages", "stream", "tools"})
_MESSAGE_KNOWN = frozenset({"role", "content", "thinking", "tool_calls", "images", "tool_name"})
#: Line fields that are read, or carry no content (timings, the model, the context ids).
_LINE_KNOWN = frozenset(
    {
        "model", "created_at", "message", "response", "thinking", "done", "done_reason",
        "total_duration", "load_duration", "prompt_eval_count", "prompt_eval_duration",
        "eval_count", "eval_duration", "context", "remote_model", "remote_host", "error",
    }
)  # fmt: skip


def default_base_url() -> str:
    """``OLLAMA_HOST`` (as Ollama's own CLI reads it) or ``http://localhost:11434``."""
    host = os.environ.get("OLLAMA_HOST", "").strip()
    if not host:
        return OLLAMA_BASE_URL
    return host if "://" in host else f"http://{host}"


def to_ollama_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages (any shape :func:`.history.normalize` accepts) → Ollama messages (tool results
    name their tool)."""
    names: dict[str, str] = {}
    out: list[dict[str, Any]] = []
    for m in normalize(messages):
        role, content = m.get("role"), m.get("content", "")
        if not isinstance(content, str):
            content = json.dumps(content)
        item: dict[str, Any] = {"role": role, "content": content}
        if role == "assistant" and m.get("tool_calls"):
            item["tool_calls"] = []
            for c in m["tool_calls"]:
                names[c["id"]] = c["name"]
                item["tool_calls"].append(
                    {"function": {"name": c["name"], "arguments": c.get("arguments") or {}}}
                )
        if role == "tool" and m.get("tool_call_id") in names:
            item["tool_name"] = names[m["tool_call_id"]]
        out.append(item)
    return out


class OllamaProvider(HTTPProvider):
    """A local (or remote) Ollama server; no key. ``base_url`` defaults to ``OLLAMA_HOST``
    or ``http://localhost:11434``."""

    name = "ollama"
    path = "/api/chat"
    terminal_marker = 'a "done": true line'

    def __init__(self, model: str, *, base_url: str | None = None, **http: Any) -> None:
        super().__init__(model, base_url=base_url or default_base_url(), **http)

    def build_body(self, request: ChatRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": to_ollama_messages(request.messages),
            "stream": True,
        }
        if request.tools:
            body["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": t["name"],
                        "description": t.get("description", ""),
                        "parameters": t.get("parameters") or {"type": "object", "properties": {}},
                    },
                }
                for t in request.tools
            ]
        options: dict[str, Any] = {}
        for key, value in request.options.items():
            if key in _RESERVED:
                continue
            if key in _TOP_LEVEL:
                body[key] = value
            elif key == "max_tokens":
                options["num_predict"] = value
            else:
                options[key] = value
        if options:
            body["options"] = options
        return body

    async def parse(self, wire: WireStream) -> AsyncIterator[Event]:
        calls = 0
        async for line in wire.lines():
            data = json_object(
                line, "malformed JSON line in the stream", "expected a JSON object per line"
            )
            events, calls = folded(line, _fold_line, data, calls)
            for event in events:
                yield event
            if events and events[-1]["type"] in ("finish", "error"):
                return


def _fold_line(data: dict[str, Any], calls: int) -> tuple[list[Event], int]:
    """The events of one NDJSON line, and the number of tool calls so far. Pure."""
    if data.get("error"):
        _, error = error_text(data)
        return [{"type": "error", "kind": "server", "message": error or "error"}], calls
    message = data.get("message") or {}
    events: list[Event] = [
        unknown("ollama", {key: value}, f"unknown {where} field {key!r}")
        for where, fields, known in (
            ("line", data, _LINE_KNOWN),
            ("message", message, _MESSAGE_KNOWN),
        )
        if not fields.keys() <= known
        for key, value in fields.items()
        if key not in known and value not in (None, "", [], {})
    ]
    # /api/chat puts the reply in ``message``; /api/generate lines carry it at the top level.
    for source, key in ((message, "thinking"), (data, "thinking")):
        if isinstance(source.get(key), str) and source[key]:
            events.append({"type": "reasoning", "text": source[key]})
    for source, key in ((message, "content"), (data, "response")):
        if isinstance(source.get(key), str) and source[key]:
            events.append({"type": "text", "text": source[key]})
    for call in message.get("tool_calls") or []:
        function = call.get("function") or {}
        call_id = str(call.get("id") or f"call_{calls}")
        calls += 1
        name = str(function.get("name", ""))
        args = function.get("arguments") or {}
        args_text = args if isinstance(args, str) else json.dumps(args)
        events.append({"type": "tool_call_start", "id": call_id, "name": name})
        events.append({"type": "tool_call_delta", "id": call_id, "args_delta": args_text})
        events.append(tool_call_end(call_id, name, args_text))
    if data.get("done"):
        usage: Event = {"type": "usage"}
        if isinstance(data.get("prompt_eval_count"), int):
            usage["input_tokens"] = data["prompt_eval_count"]
        if isinstance(data.get("eval_count"), int):
            usage["output_tokens"] = data["eval_count"]
        if len(usage) > 1:
            events.append(usage)
        reason = str(data.get("done_reason") or "stop")
        # Ollama says "stop" after tool calls; the other providers say "tool_calls".
        if reason == "stop" and calls:
            reason = "tool_calls"
        events.append({"type": "finish", "reason": reason})
    return events, calls


__all__ = ["OllamaProvider", "to_ollama_messages"]
