"""OpenAI chat completions chunks → events: :class:`ChunkFolder` (the wire rules are in
:mod:`streamwidget.providers.openai`'s docstring and docs/providers.md). Also used for the
chunks an OpenAI SDK stream yields (:mod:`.sdk`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..events import Event, unknown
from .base import tool_call_end
from .errors import WireFailure, error_text, kind_for_code

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
