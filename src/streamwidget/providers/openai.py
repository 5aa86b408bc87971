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
from dataclasses import dataclass
from typing import Any

from ..events import Event, unknown
from .base import ChatRequest, tool_call_end
from .errors import (
    SHAPE_ERRORS,
    WireFailure,
    error_text,
    kind_for_code,
    unexpected,
)
from .history import normalize
from .http import HTTPProvider
from .secrets import resolve_key
from .wire import WireStream

OPENAI_BASE_URL = "https://api.openai.com/v1"
_RESERVED = frozenset({"model", "messages", "stream", "stream_options", "tools"})
_FINISH = {"function_call": "tool_calls"}
#: Chunk and delta fields that carry nothing to show (metadata), or that are read.
_CHUNK_KNOWN = frozenset(
    {
        "id", "object", "created", "model", "system_fingerprint", "choices", "usage",
        "service_tier", "provider", "x_groq", "obfuscation", "prompt_filter_results",
        "native_finish_reason", "x_vercel", "nvext", "metadata", "timings",
    }
)  # fmt: skip
_DELTA_KNOWN = frozenset(
    {
        "role", "content", "reasoning_content", "reasoning", "refusal", "tool_calls",
        "function_call", "index", "name", "reasoning_details", "annotations", "audio",
    }
)  # fmt: skip


def _carries(choice: Any) -> bool:
    """Does a choice carry content (not just a role or an empty string)?"""
    delta = choice.get("delta") if isinstance(choice, dict) else None
    if not isinstance(delta, dict):
        return choice not in (None, {}, [])
    return any(v not in (None, "", [], {}) for k, v in delta.items() if k != "role")


def _part_text(value: Any) -> str:
    """The text of a part's value: a string, or a list of ``{"type": "text"}`` parts."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(
            p["text"] for p in value if isinstance(p, dict) and isinstance(p.get("text"), str)
        )
    return ""


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


def usage_event(usage: dict[str, Any]) -> Event | None:
    """OpenAI usage → ``usage`` event with provider-neutral names (ints only)."""
    event: Event = {"type": "usage"}
    for ours, theirs in (("input_tokens", "prompt_tokens"), ("output_tokens", "completion_tokens")):
        if isinstance(usage.get(theirs), int):
            event[ours] = usage[theirs]
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens")
    if isinstance(cached, int):
        event["cached_input_tokens"] = cached
    reasoning = (usage.get("completion_tokens_details") or {}).get("reasoning_tokens")
    if isinstance(reasoning, int):
        event["reasoning_tokens"] = reasoning
    return event if len(event) > 1 else None


@dataclass
class _Call:
    id: str
    wire_id: str | None
    name: str = ""
    args: str = ""
    started: bool = False
    ended: bool = False


class ChunkFolder:
    """Folds chat completion chunks into events. Pure: no I/O, easy to test."""

    def __init__(self) -> None:
        self.calls: list[_Call] = []
        self.by_index: dict[int, _Call] = {}
        self.finish_reason: str | None = None
        self.usage: Event | None = None
        self.reported: dict[tuple[str, str], Any] = {}
        self.other_choices: set[Any] = set()

    def feed(self, chunk: Any) -> list[Event]:
        if not isinstance(chunk, dict):
            raise WireFailure(f"expected a JSON object in the stream, got {chunk!r:.200}")
        if isinstance(chunk.get("usage"), dict):
            self.usage = usage_event(chunk["usage"]) or self.usage
        if chunk.get("error") or chunk.get("object") == "error" or chunk.get("type") == "error":
            return self._error(chunk)
        events = self._unknown_fields(chunk, _CHUNK_KNOWN, "chunk field")
        choices = chunk.get("choices") or []
        choice = next((c for c in choices if isinstance(c, dict) and c.get("index", 0) == 0), None)
        if len(choices) > 1 or choice is None:
            events += self._other_choices(choices)
        if choice is None:
            return events
        delta = choice.get("delta") or choice.get("message") or {}
        if not delta.keys() <= _DELTA_KNOWN:
            events += self._unknown_fields(delta, _DELTA_KNOWN, "delta field")
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        if isinstance(reasoning, str) and reasoning:
            events.append({"type": "reasoning", "text": reasoning})
        content = delta.get("content")
        if type(content) is str:  # the usual case, inline
            if content:
                events.append({"type": "text", "text": content})
        elif content is not None:
            events += self._content(content)
        refusal = delta.get("refusal")
        if isinstance(refusal, str) and refusal:  # shown as the reply's text
            events.append({"type": "text", "text": refusal})
        if delta.get("tool_calls") or delta.get("function_call"):
            events += self._tool_fragments(delta)
        if choice.get("finish_reason"):
            reason = str(choice["finish_reason"])
            self.finish_reason = _FINISH.get(reason, reason)
            events += self._end_calls()
        return events

    def _tool_fragments(self, delta: dict[str, Any]) -> list[Event]:
        fragments = list(delta.get("tool_calls") or [])
        if isinstance(delta.get("function_call"), dict):  # the pre-tools shape: one call
            fragments.append({"index": 0, "function": delta["function_call"]})
        events: list[Event] = []
        for position, fragment in enumerate(fragments):
            events += self._tool_fragment(position, fragment)
        return events

    def _other_choices(self, choices: list[Any]) -> list[Event]:
        """Only choice 0 is shown (``n`` > 1): say so once per other choice, with its first
        delta that carries something."""
        events: list[Event] = []
        for c in choices:
            index = c.get("index", 0) if isinstance(c, dict) else None
            if index == 0 or index in self.other_choices or not _carries(c):
                continue
            self.other_choices.add(index)
            reason = f"choice {index} is not shown (only choice 0 is)"
            events.append(unknown("openai", c, reason))
        return events

    def _error(self, chunk: dict[str, Any]) -> list[Event]:
        """An error object in the stream (OpenAI's nested one, or vLLM's flat
        ``{"object": "error", "message", "code"}``): the usage so far, then the error."""
        if chunk.get("error"):
            code, message = error_text(chunk)
        else:
            code = chunk.get("code") or chunk.get("type")
            message = str(chunk.get("message") or json.dumps(chunk)[:500])
        kind = kind_for_code(code) if code not in (None, "error") else "server"
        events: list[Event] = [self.usage] if self.usage else []
        self.usage = None
        events.append({"type": "error", "kind": kind, "message": message or "error"})
        return events

    def _content(self, content: Any) -> list[Event]:
        """``delta.content``: a string, or a list of typed parts (Mistral's ``text`` and
        ``thinking`` parts); parts of other types become ``unknown`` events."""
        if isinstance(content, str):
            return [{"type": "text", "text": content}] if content else []
        if not isinstance(content, list):
            return [] if content is None else [unknown("openai", content, "content is not text")]
        events: list[Event] = []
        for part in content:
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "text" and isinstance(part.get("text"), str):
                if part["text"]:
                    events.append({"type": "text", "text": part["text"]})
            elif kind == "thinking":
                text = _part_text(part.get("thinking"))
                if text:
                    events.append({"type": "reasoning", "text": text})
            else:
                events.append(unknown("openai", part, f"unknown content part type {kind!r}"))
        return events

    def _unknown_fields(self, obj: dict[str, Any], known: frozenset[str], what: str) -> list[Event]:
        """Fields outside ``known`` that carry something, once per distinct value."""
        if obj.keys() <= known:  # the usual case, checked in C
            return []
        events: list[Event] = []
        for key, value in obj.items():
            if key in known or value in (None, "", [], {}, False):
                continue
            if self.reported.get((what, key)) == value:
                continue
            self.reported[(what, key)] = value
            events.append(unknown("openai", {key: value}, f"unknown {what} {key!r}"))
        return events

    def done(self) -> list[Event]:
        """``[DONE]``: close open calls, then usage, then finish."""
        events = self._end_calls()
        if events and events[-1]["type"] == "error":
            return events
        if self.usage:
            events.append(self.usage)
        reason = self.finish_reason or ("tool_calls" if self.calls else "stop")
        events.append({"type": "finish", "reason": reason})
        return events

    def _tool_fragment(self, position: int, fragment: Any) -> list[Event]:
        if not isinstance(fragment, dict):
            return []
        index = fragment.get("index")
        index = index if isinstance(index, int) else position
        wire_id = fragment.get("id") or None
        call = self.by_index.get(index)
        if call is None or (wire_id and call.wire_id and wire_id != call.wire_id):
            call = _Call(id=wire_id or f"call_{len(self.calls)}", wire_id=wire_id)
            self.calls.append(call)
            self.by_index[index] = call
        elif wire_id and call.wire_id is None:
            call.wire_id = wire_id
        function = fragment.get("function") or {}
        if function.get("name") and not call.name:
            call.name = str(function["name"])
        args = function.get("arguments")
        if isinstance(args, dict):  # some servers send the object, not a string
            args = json.dumps(args)
        events: list[Event] = []
        if call.name and not call.started:
            call.started = True
            events.append({"type": "tool_call_start", "id": call.id, "name": call.name})
            if call.args:  # fragments that came before the name
                events.append({"type": "tool_call_delta", "id": call.id, "args_delta": call.args})
        if isinstance(args, str) and args:
            call.args += args
            if call.started:
                events.append({"type": "tool_call_delta", "id": call.id, "args_delta": args})
        return events

    def _end_calls(self) -> list[Event]:
        events: list[Event] = []
        for call in self.calls:
            if call.ended:
                continue
            call.ended = True
            if not call.started:
                call.started = True
                events.append({"type": "tool_call_start", "id": call.id, "name": call.name})
                if call.args:
                    events.append(
                        {"type": "tool_call_delta", "id": call.id, "args_delta": call.args}
                    )
            events.append(tool_call_end(call.id, call.name, call.args))
            if events[-1]["type"] == "error":
                break
        return events


class OpenAIProvider(HTTPProvider):
    """Chat completions of OpenAI or any compatible server.

    With the default ``base_url`` the key comes from ``api_key`` or ``OPENAI_API_KEY`` (missing
    → :class:`MissingAPIKeyError`). With a custom ``base_url`` no key is needed; pass
    ``api_key=`` or ``api_key_env="OPENROUTER_API_KEY"`` for servers that want one (the
    ``OPENAI_API_KEY`` is never sent to another server). ``include_usage=False`` for servers
    that reject ``stream_options``.
    """

    name = "openai"
    default_base_url = OPENAI_BASE_URL
    path = "/chat/completions"
    terminal_marker = "data: [DONE]"

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        api_key_env: str | None = None,
        include_usage: bool = True,
        **http: Any,
    ) -> None:
        custom = base_url is not None and base_url.rstrip("/") != OPENAI_BASE_URL
        env = api_key_env or (None if custom else "OPENAI_API_KEY")
        key = resolve_key(api_key, env, "OpenAI" if not custom else f"the server at {base_url}")
        super().__init__(model, base_url=base_url, api_key=key, **http)
        self.include_usage = include_usage

    def _headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self._api_key}"} if self._api_key else {}

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
            try:
                events = folder.feed(chunk)
            except SHAPE_ERRORS:
                raise unexpected(data) from None
            for event in events:
                yield event


__all__ = ["ChunkFolder", "OpenAIProvider", "to_openai_messages"]
