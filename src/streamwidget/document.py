"""One reply = one document: the fold of a stream's events.

A :class:`Document` is a pure function of its events: ``Document.from_events(events)`` on a
recording rebuilds exactly what the store holds. The store applies events one by one with
:meth:`Document.apply`; text grows by appending, never by rewriting.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from .events import TERMINAL_STATUSES, Event
from .parts import Part, Parts


@dataclass
class ToolCall:
    """One tool call inside a reply, with its live status."""

    id: str
    name: str
    status: str = "streaming_args"
    args_text: str = ""
    arguments: dict[str, Any] | None = None
    result: Any = None
    error: str | None = None
    started_at: float | None = None
    ended_at: float | None = None
    #: Run by the provider's server (web search, code execution): never run here.
    server: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Text:
    """A string that grows by appending in O(1); joined (once) only when read."""

    __slots__ = ("_parts", "length")

    def __init__(self, value: str = ""):
        self._parts = [value] if value else []
        self.length = len(value)

    def append(self, piece: str) -> None:
        self._parts.append(piece)
        self.length += len(piece)

    def since(self, offset: int) -> str:
        """The text from ``offset`` on, reading only the parts it needs."""
        need, tail = self.length - offset, []
        for part in reversed(self._parts):
            if need <= 0:
                break
            tail.append(part if len(part) <= need else part[-need:])
            need -= len(part)
        return "".join(reversed(tail))

    def value(self) -> str:
        if len(self._parts) > 1:
            self._parts = ["".join(self._parts)]
        return self._parts[0] if self._parts else ""

    def __deepcopy__(self, memo: dict[int, Any]) -> _Text:
        return _Text(self.value())  # one string, not a copy of every piece


class Document:
    """The state of one reply: what every view of the stream shows.

    ``text`` and ``reasoning`` grow by appending without copying what came before (a naive
    ``str +=`` would make a long reply cost the square of its length).
    """

    def __init__(
        self,
        stream_id: str,
        status: str = "pending",
        text: str = "",
        reasoning: str = "",
        tool_calls: list[ToolCall] | None = None,
        error: dict[str, Any] | None = None,
        usage: dict[str, Any] | None = None,
        finish_reason: str | None = None,
        model: str | None = None,
        provider: str | None = None,
        version: int = 0,
        first_token_t: float | None = None,
        last_t: float = 0.0,
        warnings: list[str] | None = None,
        parts: Parts | None = None,
    ):
        self.stream_id = stream_id
        self.status = status
        self._text = _Text(text)
        self._reasoning = _Text(reasoning)
        self.tool_calls: list[ToolCall] = tool_calls if tool_calls is not None else []
        self.error = error
        self.usage = usage
        self.finish_reason = finish_reason
        self.model = model
        self.provider = provider
        #: How many events have been applied; views use it to tell old from new.
        self.version = version
        #: ``t`` of the first text (time to first token) and of the last applied event.
        self.first_token_t = first_token_t
        self.last_t = last_t
        #: What the parser met and could not place (``unknown`` events): shown by the views.
        self.warnings: list[str] = list(warnings or [])
        # A document made from its fields alone (no events) reads in the legacy order.
        self._parts = parts or Parts.legacy(text, reasoning, [c.id for c in self.tool_calls])

    @property
    def text(self) -> str:
        return self._text.value()

    @text.setter
    def text(self, value: str) -> None:
        self._text = _Text(value)

    @property
    def reasoning(self) -> str:
        return self._reasoning.value()

    @reasoning.setter
    def reasoning(self, value: str) -> None:
        self._reasoning = _Text(value)

    @property
    def text_length(self) -> int:
        """``len(text)`` without joining."""
        return self._text.length

    @property
    def reasoning_length(self) -> int:
        return self._reasoning.length

    def text_since(self, offset: int) -> str:
        return self._text.since(offset)

    def reasoning_since(self, offset: int) -> str:
        return self._reasoning.since(offset)

    @property
    def parts(self) -> list[Part]:
        """The reply's ordered parts (text and reasoning runs, tool calls, steps, notices)."""
        return self._parts.items

    def parts_wire(self) -> list[dict[str, Any]]:
        """The parts as the front end gets them (UTF-16 offsets; see :class:`Part`)."""
        return self._parts.wire(self.done)

    def read_parts(self) -> list[tuple[Part, Any]]:
        """Each part with what it shows: a run's text, a tool call, a notice's message."""
        out: list[tuple[Part, Any]] = []
        for part in self.parts:
            if part.kind in ("text", "reasoning"):
                field = self._text if part.kind == "text" else self._reasoning
                out.append((part, field.value()[part.start : part.end]))
            elif part.kind == "tool":
                out.append((part, self.tool(part.call_id or "")))
            else:
                out.append((part, part.message))
        return out

    @property
    def parts_version(self) -> int:
        """Changes when a part starts or the reply ends (not when a run grows)."""
        return self._parts.boundaries + (1 if self.done else 0)

    @property
    def done(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @classmethod
    def from_events(cls, events: list[Event], stream_id: str = "", **meta: Any) -> Document:
        doc = cls(stream_id=stream_id, **meta)
        for event in events:
            doc.apply(event)
        return doc

    def tool(self, call_id: str) -> ToolCall | None:
        for call in self.tool_calls:
            if call.id == call_id:
                return call
        return None

    def apply(self, event: Event) -> None:
        """Fold one event into the document. Unknown types only bump the version."""
        kind = event.get("type")
        t = float(event.get("t", self.last_t))
        self.version += 1
        self.last_t = t
        if self.done:
            return  # nothing changes a finished document
        if self.status == "pending":
            self.status = "streaming"
        self._parts.apply(event, t)
        if kind == "text":
            if self.first_token_t is None:
                self.first_token_t = t
            self._text.append(event["text"])
        elif kind == "reasoning":
            self._reasoning.append(event["text"])
        elif kind == "tool_call_start":
            if self.tool(event["id"]) is None:
                call = ToolCall(event["id"], event["name"], started_at=t)
                call.server = event.get("server") is True
                self.tool_calls.append(call)
                self._parts.tool(event["id"], t)
        elif kind == "tool_call_delta":
            call = self._call(event["id"], t)
            call.args_text += event["args_delta"]
        elif kind == "tool_call_end":
            call = self._call(event["id"], t, event.get("name"))
            call.arguments = event["arguments"]
            if not call.args_text:
                call.args_text = json.dumps(event["arguments"])
            if call.status == "streaming_args":
                call.status = "running"
        elif kind == "tool_status":
            self._call(event["id"], t).status = event["status"]
        elif kind == "tool_result":
            call = self._call(event["id"], t)
            call.status = event["status"]
            call.result = event.get("result")
            call.error = event.get("error")
            call.ended_at = t
        elif kind == "usage":
            usage = dict(self.usage or {})
            usage.update({k: v for k, v in event.items() if k not in ("type", "t")})
            self.usage = usage
        elif kind == "finish":
            self.finish_reason = event["reason"]
            self.status = "complete"
        elif kind == "error":
            self.error = {"kind": event["kind"], "message": event["message"]}
            self.status = "error"
        elif kind == "cancelled":
            self.status = "cancelled"
        elif kind == "interrupted":
            self.status = "interrupted"
        elif kind == "unknown":  # replaced, not appended to: copies share the old list
            warning = f"{event.get('source', '?')}: {event.get('reason', 'unknown data')}"
            self.warnings = [*self.warnings, warning]
        if self.done:
            self._settle_tools(t)

    def _call(self, call_id: str, t: float, name: str | None = None) -> ToolCall:
        call = self.tool(call_id)
        if call is None:  # a delta before its start: tolerate, the recording stays readable
            call = ToolCall(call_id, name or "?", started_at=t)
            self.tool_calls.append(call)
            self._parts.tool(call_id, t)
        return call

    def _settle_tools(self, t: float) -> None:
        """A reply that ends leaves no tool call looking alive."""
        for call in self.tool_calls:
            if call.status in ("streaming_args", "pending_approval", "running"):
                call.status = "error"
                call.error = call.error or f"stream ended ({self.status}) before the tool finished"
                call.ended_at = t

    def to_dict(self) -> dict[str, Any]:
        return {
            "stream_id": self.stream_id,
            "status": self.status,
            "text": self.text,
            "reasoning": self.reasoning,
            "tool_calls": [c.to_dict() for c in self.tool_calls],
            "error": self.error,
            "usage": self.usage,
            "finish_reason": self.finish_reason,
            "model": self.model,
            "provider": self.provider,
            "version": self.version,
            "first_token_t": self.first_token_t,
            "last_t": self.last_t,
            "done": self.done,
            "warnings": list(self.warnings),
            "parts": [part.to_dict() for part in self.parts],
        }

    def to_messages(self, format: str = "openai") -> list[dict[str, Any]]:
        """This reply as history messages (``"openai"`` or ``"anthropic"`` format), tool calls
        and results included; see :mod:`streamwidget.messages` (which also takes a stream's
        events, and then splits a multi-step reply into its steps exactly)."""
        from .messages import to_messages

        return to_messages(self, format)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Document) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return (
            f"Document({self.stream_id!r}, status={self.status!r}, "
            f"chars={self.text_length}, tools={len(self.tool_calls)})"
        )

    def content_equal(self, other: Document) -> bool:
        """Same reply content (text, tools, status, error, usage), ignoring ids and timing."""

        def key(doc: Document) -> tuple[Any, ...]:
            tools = [
                (c.id, c.name, c.status, c.arguments, c.result, c.error) for c in doc.tool_calls
            ]
            return (
                doc.status,
                doc.text,
                doc.reasoning,
                tools,
                doc.error,
                doc.usage,
                doc.finish_reason,
                doc.warnings,
            )

        return key(self) == key(other)
