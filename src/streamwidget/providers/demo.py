"""Demo models that need no key and no network.

``"replay:demo"`` — :class:`DemoProvider` answers every user turn with one of the bundled
recordings, chosen by keywords in the user's last message (the first rule that matches wins):

==========================================  =======================
the message mentions ...                    replayed recording
==========================================  =======================
weather, forecast, rain, temperature        ``weather-tool-error``
code, review, function, bug, python         ``code-review``
explain, stream, markdown, how              ``markdown-tour``
anything else                               ``hello``
==========================================  =======================

It replays through :class:`ReplayProvider` (the live path), ``speed`` times the recorded pace
(default 3). Tool calls in recordings come with their results: nothing runs.

``"demo:tools"`` — :class:`ScriptedToolProvider` shows *live* tool execution and approval
without a key. It is a script, not a language model: when the user's message names a tool
(a word of the tool's name, e.g. "weather" for ``get_weather``), it calls that tool with
arguments picked out of the message by simple rules; when the results come back it writes
them up. Your real Python tool runs, through the manager's tool loop, exactly as it would for
a live model.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from typing import Any

from ..events import Event
from ..recording import Recording
from .base import ChatRequest, Provider
from .replay import ReplayProvider

#: (recording, pattern) pairs, tried in order against the user's last message.
DEMO_RULES: tuple[tuple[str, str], ...] = (
    ("weather-tool-error", r"\b(?:weather|forecast|rain|temperature)"),
    ("code-review", r"\b(?:code|review|function|bug|python)"),
    ("markdown-tour", r"\b(?:explain|stream|markdown|how)"),
)
DEMO_DEFAULT = "hello"


def last_user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user" and isinstance(message.get("content"), str):
            return str(message["content"])
    return ""


def pick_recording(text: str) -> str:
    """The bundled recording that answers ``text`` (see :data:`DEMO_RULES`)."""
    for name, pattern in DEMO_RULES:
        if re.search(pattern, text, re.IGNORECASE):
            return name
    return DEMO_DEFAULT


class DemoProvider:
    """Answers from the bundled recordings by keyword (``"replay:demo"``); no key needed."""

    name = "demo"
    model = "replay:demo"

    def __init__(self, speed: float = 3.0):
        ReplayProvider(Recording.bundled(DEMO_DEFAULT), speed=speed)  # validates speed
        self.speed = float(speed)
        self._recordings: dict[str, Recording] = {}

    def _recording(self, request: ChatRequest | None) -> Recording:
        name = pick_recording(last_user_text(request.messages if request else []))
        if name not in self._recordings:
            self._recordings[name] = Recording.bundled(name)
        return self._recordings[name]

    def describe(self, request: ChatRequest | None = None) -> dict[str, Any]:
        return {"replay_of": self._recording(request).source, "speed": self.speed}

    async def stream(self, request: ChatRequest | None = None) -> AsyncIterator[Event]:
        replay = ReplayProvider(self._recording(request), speed=self.speed)
        async for event in replay.stream(request):
            yield event

    def __repr__(self) -> str:
        return f"<DemoProvider replay:demo speed={self.speed:g}>"


#: Words of a tool's name that say nothing about what it is for.
_VERBS = {"get", "set", "fetch", "find", "lookup", "search", "list", "show", "run", "do", "make"}
_PLACE_PARAMS = {"city", "location", "place", "town", "country", "where"}
_PLACE = re.compile(r"\b(?:in|for|at|of)\s+([A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)*)")
_CAPITALIZED = re.compile(r"\b[A-Z][a-z][\w'-]*")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_DENIED = "The user denied this tool call."


class ScriptedToolProvider:
    """A scripted stand-in for a model that calls tools (``"demo:tools"``); see the module
    docstring for its rules. ``token_delay`` is the pause between streamed words."""

    name = "demo"
    model = "demo:tools"

    def __init__(self, token_delay: float = 0.025):
        if isinstance(token_delay, bool) or not isinstance(token_delay, (int, float)):
            raise TypeError(f"token_delay must be a number of seconds, got {token_delay!r}")
        self.token_delay = max(0.0, float(token_delay))

    def describe(self, request: ChatRequest | None = None) -> dict[str, Any]:
        return {
            "scripted": True,
            "tools": [t.get("name") for t in (request.tools if request else [])],
        }

    async def stream(self, request: ChatRequest | None = None) -> AsyncIterator[Event]:
        request = request or ChatRequest()
        messages = request.messages
        if messages and messages[-1].get("role") == "tool":
            results: list[dict[str, Any]] = []
            for message in reversed(messages):
                if message.get("role") != "tool":
                    break
                results.insert(0, message)
            async for event in self._say(write_up(results)):
                yield event
            yield {"type": "finish", "reason": "stop"}
            return
        text = last_user_text(messages)
        spec = match_tool(text, request.tools)
        if spec is None:
            names = ", ".join(f"`{t['name']}`" for t in request.tools) or "none yet"
            reply = (
                "I am a scripted demo model, not a language model. Mention one of my tools "
                f"({names}) and I will call it with arguments taken from your message."
            )
            async for event in self._say(reply):
                yield event
            yield {"type": "finish", "reason": "stop"}
            return
        async for event in self._say(f"Let me call `{spec['name']}` for that.\n\n"):
            yield event
        call_id = f"call_demo_{sum(m.get('role') == 'user' for m in messages)}"
        arguments = guess_arguments(text, spec.get("parameters") or {})
        args_json = json.dumps(arguments)
        yield {"type": "tool_call_start", "id": call_id, "name": spec["name"]}
        for start in range(0, len(args_json), 12):  # arguments stream in pieces, like a model's
            await asyncio.sleep(self.token_delay)
            yield {
                "type": "tool_call_delta",
                "id": call_id,
                "args_delta": args_json[start : start + 12],
            }
        yield {"type": "tool_call_end", "id": call_id, "arguments": arguments}
        yield {"type": "finish", "reason": "tool_calls"}

    async def _say(self, text: str) -> AsyncIterator[Event]:
        words = re.findall(r"\s*\S+\s*", text) or [text]
        for word in words:
            await asyncio.sleep(self.token_delay)
            yield {"type": "text", "text": word}
        yield {"type": "usage", "output_tokens": len(words)}

    def __repr__(self) -> str:
        return f"<ScriptedToolProvider demo:tools token_delay={self.token_delay:g}>"


def match_tool(text: str, tools: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The first tool a word of whose name (verbs like get_ left out) starts a word of ``text``."""
    for spec in tools:
        words = [w for w in re.split(r"[_\W]+", spec.get("name", "").lower()) if len(w) > 2]
        for word in [w for w in words if w not in _VERBS] or words:
            if re.search(rf"\b{re.escape(word)}", text, re.IGNORECASE):
                return spec
    return None


def guess_arguments(text: str, parameters: dict[str, Any]) -> dict[str, Any]:
    """Arguments picked out of ``text``: a place after "in/for/at", numbers in order, enum
    and declared defaults; optional parameters with nothing found are left out."""
    required = set(parameters.get("required") or [])
    numbers = iter(_NUMBER.findall(text))
    arguments: dict[str, Any] = {}
    for name, schema in (parameters.get("properties") or {}).items():
        kinds = schema.get("type")
        kinds = kinds if isinstance(kinds, list) else [kinds]
        value: Any = None
        if name.lower() in _PLACE_PARAMS:
            value = _place(text)
        elif "enum" in schema:
            value = schema.get("default", schema["enum"][0]) if name in required else None
        elif "integer" in kinds or "number" in kinds:
            found = next(numbers, None)
            if found is not None:
                value = float(found) if "." in found or "integer" not in kinds else int(found)
        elif "string" in kinds and name in required:
            value = text.strip()
        elif "boolean" in kinds and name in required:
            value = bool(schema.get("default", False))
        if value is None and name in required and "default" in schema:
            value = schema["default"]
        if value is not None:
            arguments[name] = value
    return arguments


def _place(text: str) -> str | None:
    """A place after "in/for/at/of", else the last capitalized word that does not start a
    sentence (so "What's the weather?" names no place)."""
    found = _PLACE.search(text)
    if found:
        return found.group(1)
    words = [
        m.group(0)
        for m in _CAPITALIZED.finditer(text)
        if m.start() and not text[: m.start()].rstrip().endswith((".", "!", "?"))
    ]
    return words[-1] if words else None


def write_up(results: list[dict[str, Any]]) -> str:
    """Markdown that reports tool results the way a model would summarize them."""
    parts = []
    for message in results:
        name, content = message.get("name", "the tool"), str(message.get("content", ""))
        if content == _DENIED:
            parts.append(f"You denied the `{name}` call, so I did not run it.")
        elif content.startswith("Error:"):
            parts.append(f"The `{name}` call failed: {content[6:].strip()}")
        else:
            parts.append(f"Here is what `{name}` returned:\n\n{_as_markdown(content)}")
    return "\n\n".join(parts)


def _as_markdown(content: str) -> str:
    try:
        value = json.loads(content)
    except ValueError:
        return content
    if isinstance(value, dict):
        lines = []
        for key, item in value.items():
            shown = item if isinstance(item, (str, int, float)) else json.dumps(item)
            lines.append(f"- **{key}**: {shown}")
        return "\n".join(lines) or "(an empty object)"
    return f"`{json.dumps(value)}`"


#: Model strings for the demo models (a hook for ``resolve_model``).
DEMO_MODELS: dict[str, type[Provider]] = {
    "replay:demo": DemoProvider,
    "demo:tools": ScriptedToolProvider,
}


def demo_model(spec: Any) -> Provider | None:
    """The demo provider for ``"replay:demo"`` or ``"demo:tools"``; ``None`` for other specs."""
    if isinstance(spec, str) and spec.strip().lower() in DEMO_MODELS:
        return DEMO_MODELS[spec.strip().lower()]()
    return None


__all__ = [
    "DEMO_MODELS",
    "DEMO_RULES",
    "DemoProvider",
    "ScriptedToolProvider",
    "demo_model",
    "guess_arguments",
    "match_tool",
    "pick_recording",
]
