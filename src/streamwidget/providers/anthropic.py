"""Anthropic Messages over SSE.

Wire → events (the full table is in docs/providers.md): ``message_start`` (input usage),
``content_block_start`` / ``_delta`` / ``_stop`` for text (``text``), tool use
(``tool_call_start``, ``input_json_delta`` → ``tool_call_delta``, ``tool_call_end``; an input
given whole in the start is used) and thinking (``reasoning``). Server tools
(``server_tool_use``, ``mcp_tool_use``) start calls marked ``server``; their ``*_tool_result``
blocks are ``tool_result`` events. ``message_delta`` carries the stop reason and the output
usage; ``message_stop`` is the terminal marker (→ ``usage``, ``finish``). ``ping`` is skipped;
unknown event, block and delta types become ``unknown`` events; an ``error`` event ends the
stream (after the usage so far) with the kind its ``error.type`` maps to.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from ..events import Event, unknown
from .base import ChatRequest, tool_call_end
from .errors import (
    WireFailure,
    error_text,
    folded,
    kind_for_code,
)
from .history import normalize
from .http import HTTPProvider
from .secrets import resolve_key
from .wire import WireStream

ANTHROPIC_BASE_URL = "https://api.anthropic.com"
ANTHROPIC_VERSION = "2023-06-01"
_STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
_USAGE_FIELDS = {
    "input_tokens": "input_tokens",
    "output_tokens": "output_tokens",
    "cache_read_input_tokens": "cached_input_tokens",
    "cache_creation_input_tokens": "cache_creation_input_tokens",
}
_RESERVED = frozenset({"model", "messages", "stream", "system", "tools", "max_tokens", "stop"})


def to_anthropic(messages: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Messages (any shape :func:`.history.normalize` accepts) → ``(system, messages)``;
    tool results become user turns
    and consecutive turns of one role merge (the API wants them alternating)."""
    system: list[str] = []
    out: list[dict[str, Any]] = []

    def push(role: str, blocks: list[dict[str, Any]]) -> None:
        if not blocks:
            return
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})

    for m in normalize(messages):
        role, content = m.get("role"), m.get("content", "")
        if role == "system":
            system.append(content if isinstance(content, str) else json.dumps(content))
        elif role == "tool":
            block: dict[str, Any] = {
                "type": "tool_result",
                "tool_use_id": m["tool_call_id"],
                "content": content if isinstance(content, str) else json.dumps(content),
            }
            if m.get("is_error"):
                block["is_error"] = True
            push("user", [block])
        else:
            blocks = _blocks(content)
            if role == "assistant":
                blocks += [
                    {"type": "tool_use", "id": c["id"], "name": c["name"], "input": c["arguments"]}
                    for c in m.get("tool_calls") or []
                ]
            push("assistant" if role == "assistant" else "user", blocks)
    return "\n\n".join(system), out


def _blocks(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, list):
        return list(content)
    if isinstance(content, str) and content:  # the API rejects empty text blocks
        return [{"type": "text", "text": content}]
    return []


#: Tool use blocks: the app's own tools, and those the server runs itself.
_TOOL_BLOCKS = {"tool_use": False, "server_tool_use": True, "mcp_tool_use": True}
#: Block and delta types that carry nothing to show (the thinking signature, encrypted
#: thinking, the compaction and container bookkeeping).
_SILENT = frozenset({"redacted_thinking", "signature_delta", "compaction", "container_upload"})
_MESSAGE_DELTA_KNOWN = frozenset({"stop_reason", "stop_sequence", "container"})


class _Folder:
    """Folds Anthropic stream events into normalized events. Pure: no I/O."""

    def __init__(self) -> None:
        self.blocks: dict[int, dict[str, Any]] = {}
        self.usage: dict[str, int] = {}
        self.stop_reason: str | None = None

    def feed(self, data: dict[str, Any]) -> list[Event]:
        kind = data.get("type")
        if kind == "message_start":
            return self._message_start(data.get("message") or {})
        elif kind == "content_block_start":
            return self._start(data.get("index"), data.get("content_block") or {})
        elif kind == "content_block_delta":
            return self._delta(data.get("index"), data.get("delta") or {})
        elif kind == "content_block_stop":
            block = self.blocks.pop(data.get("index"), None)  # type: ignore[arg-type]
            if block and block["type"] == "tool":
                return [tool_call_end(block["id"], block["name"], block["args"] or block["input"])]
        elif kind == "message_delta":
            return self._message_delta(data)
        elif kind == "message_stop":
            reason = self.stop_reason or "stop"
            finish = {"type": "finish", "reason": _STOP_REASONS.get(reason, reason)}
            return [*self._take_usage(), finish]
        elif kind == "error":
            code, message = error_text(data)
            error = {"type": "error", "kind": kind_for_code(code), "message": message or "error"}
            return [*self._take_usage(), error]
        elif kind != "ping":
            return [unknown("anthropic", data, f"unknown event type {kind!r}")]
        return []

    def _message_start(self, message: dict[str, Any]) -> list[Event]:
        """Usage; and whole content blocks, when a server sends the message already filled
        (a step of the server's code execution that only calls the app's tool)."""
        self._usage(message.get("usage"))
        if message.get("stop_reason"):
            self.stop_reason = str(message["stop_reason"])
        events: list[Event] = []
        for position, block in enumerate(message.get("content") or []):
            index = f"message_start.{position}"
            events += self._start(index, block if isinstance(block, dict) else {"type": None})
            events += self.feed({"type": "content_block_stop", "index": index})
        return events

    def _message_delta(self, data: dict[str, Any]) -> list[Event]:
        delta = data.get("delta") or {}
        if delta.get("stop_reason"):
            self.stop_reason = str(delta["stop_reason"])
        self._usage(data.get("usage"))
        return [
            unknown("anthropic", {key: value}, f"unknown message_delta field {key!r}")
            for key, value in delta.items()
            if key not in _MESSAGE_DELTA_KNOWN and value not in (None, "", [], {})
        ]

    def _usage(self, usage: Any) -> None:
        if isinstance(usage, dict):
            for theirs, ours in _USAGE_FIELDS.items():
                if isinstance(usage.get(theirs), int):
                    self.usage[ours] = usage[theirs]

    def _take_usage(self) -> list[Event]:
        """The usage so far as one event (once: the manager sums what it is given)."""
        usage, self.usage = self.usage, {}
        return [{"type": "usage", **usage}] if usage else []

    def _start(self, index: Any, block: dict[str, Any]) -> list[Event]:
        btype = str(block.get("type"))
        if btype in _TOOL_BLOCKS:
            call_id, name = str(block.get("id") or f"toolu_{index}"), str(block.get("name", ""))
            # A whole input may come here, with no input_json_delta after it (gateways, and
            # calls made by the server's code execution).
            given = block.get("input")
            prefilled = json.dumps(given) if isinstance(given, dict) and given else ""
            self.blocks[index] = {
                "type": "tool", "id": call_id, "name": name, "args": "", "input": prefilled
            }  # fmt: skip
            start: Event = {"type": "tool_call_start", "id": call_id, "name": name}
            if _TOOL_BLOCKS[btype]:
                start["server"] = True
            return [start]
        if btype.endswith("_tool_result") and block.get("tool_use_id"):
            return [_server_result(block)]
        if btype == "text":
            self.blocks[index] = {"type": "text"}
            text = block.get("text")
            return [{"type": "text", "text": text}] if isinstance(text, str) and text else []
        if btype == "thinking":
            self.blocks[index] = {"type": "thinking"}
            text = block.get("thinking")
            return [{"type": "reasoning", "text": text}] if isinstance(text, str) and text else []
        if btype in _SILENT:
            return []
        return [unknown("anthropic", block, f"unknown content block type {btype!r}")]

    def _delta(self, index: Any, delta: dict[str, Any]) -> list[Event]:
        dtype = delta.get("type")
        if dtype == "text_delta":
            return [{"type": "text", "text": str(delta["text"])}] if delta.get("text") else []
        if dtype == "thinking_delta":
            text = delta.get("thinking")
            return [{"type": "reasoning", "text": str(text)}] if text else []
        if dtype == "input_json_delta":
            block = self.blocks.get(index)
            part = delta.get("partial_json") or ""
            if block is None or block["type"] != "tool":
                raise WireFailure(f"input_json_delta for block {index!r}, which is not a tool use")
            if part:
                block["args"] += part
                return [{"type": "tool_call_delta", "id": block["id"], "args_delta": part}]
            return []
        if dtype == "citations_delta" and isinstance(delta.get("citation"), dict):
            return [{"type": "citation", "citation": delta["citation"]}]
        if dtype in _SILENT:
            return []
        return [unknown("anthropic", delta, f"unknown delta type {dtype!r}")]


def _server_result(block: dict[str, Any]) -> Event:
    """A ``*_tool_result`` block (web search, code execution, ...): the result of a call the
    server ran. An error shows as an object whose type ends in ``_error``."""
    content = block.get("content")
    event: Event = {"type": "tool_result", "id": str(block["tool_use_id"]), "status": "done"}
    if isinstance(content, dict) and str(content.get("type", "")).endswith("_error"):
        event.update(status="error", error=str(content.get("error_code") or content["type"]))
    event["result"] = content
    return event


class AnthropicProvider(HTTPProvider):
    """Anthropic Messages. The key comes from ``api_key`` or ``ANTHROPIC_API_KEY`` (missing →
    :class:`MissingAPIKeyError`). ``max_tokens`` is required by the API: it comes from the
    request options or defaults to ``default_max_tokens``."""

    name = "anthropic"
    default_base_url = ANTHROPIC_BASE_URL
    path = "/v1/messages"
    terminal_marker = "a message_stop event"

    def __init__(
        self,
        model: str,
        *,
        api_key: str | None = None,
        api_key_env: str = "ANTHROPIC_API_KEY",
        default_max_tokens: int = 1024,
        **http: Any,
    ) -> None:
        key = resolve_key(api_key, api_key_env, "Anthropic")
        super().__init__(model, api_key=key, **http)
        self.default_max_tokens = default_max_tokens

    def _headers(self) -> dict[str, str]:
        return {"x-api-key": self._api_key or "", "anthropic-version": ANTHROPIC_VERSION}

    def build_body(self, request: ChatRequest) -> dict[str, Any]:
        system, messages = to_anthropic(request.messages)
        options = request.options
        body: dict[str, Any] = {
            "model": self.model,
            "max_tokens": options.get("max_tokens", self.default_max_tokens),
            "messages": messages,
            "stream": True,
        }
        if system:
            body["system"] = system
        if request.tools:
            body["tools"] = [
                {
                    "name": t["name"],
                    "description": t.get("description", ""),
                    "input_schema": t.get("parameters") or {"type": "object", "properties": {}},
                }
                for t in request.tools
            ]
        if options.get("stop"):
            stop = options["stop"]
            body["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
        # Other options pass through; ``seed`` has no Anthropic equivalent and is dropped.
        body.update({k: v for k, v in options.items() if k not in _RESERVED and k != "seed"})
        return body

    async def parse(self, wire: WireStream) -> AsyncIterator[Event]:
        folder = _Folder()
        async for sse in wire.sse():
            if not sse.data.strip():
                continue
            try:
                data = json.loads(sse.data)
            except ValueError:
                data = None
            if not isinstance(data, dict):
                raise WireFailure(f"expected a JSON object in the stream, got {sse.data[:200]!r}")
            data.setdefault("type", sse.event)
            events = folded(sse.data, folder.feed, data)
            for event in events:
                yield event


__all__ = ["AnthropicProvider", "to_anthropic"]
