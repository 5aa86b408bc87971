"""Folding OpenAI Responses API stream events into normalized events (see :mod:`.responses`
for the mapping). Pure: no I/O, so the HTTP provider and a user's SDK stream share it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..events import Event
from .base import tool_call_end
from .errors import WireFailure, kind_for_code
from .responses_items import (
    APP_ITEMS,
    OUTPUT_ITEMS,
    SERVER_ITEMS,
    SERVER_PROGRESS,
    app_arguments,
    in_container,
    server_call,
)

SOURCE = "responses"
#: Event types whose content reaches us through another event (deltas, the item's end).
_QUIET = {
    "response.created",
    "response.in_progress",
    "response.queued",
    "response.content_part.added",
    "response.content_part.done",
    "response.reasoning_summary_part.done",
    "response.function_call_arguments.done",
}
_INCOMPLETE = {"max_output_tokens": "length", "content_filter": "content_filter"}


def unknown(raw: Any, reason: str) -> Event:
    return {"type": "unknown", "source": SOURCE, "raw": raw, "reason": reason}


def usage_event(usage: Any) -> Event | None:
    if not isinstance(usage, dict):
        return None
    event: Event = {"type": "usage"}
    for ours, theirs in (("input_tokens", "input_tokens"), ("output_tokens", "output_tokens")):
        if isinstance(usage.get(theirs), int):
            event[ours] = usage[theirs]
    cached = (usage.get("input_tokens_details") or {}).get("cached_tokens")
    if isinstance(cached, int):
        event["cached_input_tokens"] = cached
    reasoning = (usage.get("output_tokens_details") or {}).get("reasoning_tokens")
    if isinstance(reasoning, int):
        event["reasoning_tokens"] = reasoning
    return event if len(event) > 1 else None


@dataclass
class _Item:
    kind: str  # "message", "reasoning", "function", "server", "other"
    call_id: str = ""
    name: str = ""
    args: str = ""
    streamed: bool = False  # deltas came for it
    ended: bool = False


class ResponsesFolder:
    """Folds Responses stream events (dicts) into normalized events. Pure: no I/O."""

    def __init__(self) -> None:
        self.items: dict[str, _Item] = {}
        self.functions = 0
        self.refused = False
        self.wrote: dict[str, bool] = {"text": False, "reasoning": False}
        self.gap: dict[str, bool] = {"text": False, "reasoning": False}
        self.ended = False
        #: Text streamed per content part, to check against the part's ``.done`` event.
        self.parts: dict[str, str] = {}
        #: Calls run in the server's container whose output item has not come yet.
        self.waiting: set[str] = set()

    # -- the dispatch --------------------------------------------------------------------
    def feed(self, data: dict[str, Any]) -> list[Event]:
        kind = str(data.get("type") or "")
        if kind in _QUIET:
            return []
        handler = _HANDLERS.get(kind)
        if handler is not None:
            return handler(self, data)
        item = self.items.get(_key(data))
        if kind.startswith(SERVER_PROGRESS) or (item is not None and item.kind == "other"):
            return []  # progress of an item whose end event carries its content
        return [unknown(data, f"event type {kind!r} is not understood")]

    def finish(self) -> list[Event]:
        """The stream ended without a terminal event (an SDK iterator simply stops)."""
        if self.ended:
            return []
        return [
            *self._end_functions(),
            {
                "type": "error",
                "kind": "incomplete",
                "message": "the stream ended without response.completed",
            },
        ]

    # -- text and reasoning ----------------------------------------------------------------
    def _piece(self, field: str, text: Any) -> list[Event]:
        if not isinstance(text, str) or not text:
            return []
        events: list[Event] = []
        if self.gap[field] and self.wrote[field]:
            events.append({"type": field, "text": "\n\n"})
        self.gap[field] = False
        self.wrote[field] = True
        events.append({"type": field, "text": text})
        return events

    def _text(self, data: dict[str, Any]) -> list[Event]:
        return self._streamed("text", data)

    def _refusal(self, data: dict[str, Any]) -> list[Event]:
        self.refused = True
        return self._streamed("text", data)

    def _reasoning(self, data: dict[str, Any]) -> list[Event]:
        return self._streamed("reasoning", data)

    def _streamed(self, field: str, data: dict[str, Any]) -> list[Event]:
        self._mark_streamed(data)
        piece = data.get("delta")
        if isinstance(piece, str):
            part = _part(data)
            self.parts[part] = self.parts.get(part, "") + piece
        return self._piece(field, piece)

    def _part_done(self, data: dict[str, Any]) -> list[Event]:
        """A part's full text: what the deltas missed is added; a contradiction is kept."""
        kind = str(data.get("type"))
        full = data.get("refusal") if kind == "response.refusal.done" else data.get("text")
        have = self.parts.pop(_part(data), "")
        if not isinstance(full, str) or full == have:
            return []
        if full.startswith(have):
            self._mark_streamed(data)
            field = (
                "text"
                if kind in ("response.output_text.done", "response.refusal.done")
                else "reasoning"
            )
            return self._piece(field, full[len(have) :])
        return [unknown(data, "the finished text differs from the streamed text")]

    def _summary_part(self, data: dict[str, Any]) -> list[Event]:
        self.gap["reasoning"] = True  # a new part: a blank line before its first piece
        return []

    def _mark_streamed(self, data: dict[str, Any]) -> None:
        item = self.items.get(_key(data))
        if item is not None:
            item.streamed = True

    # -- output items ------------------------------------------------------------------------
    def _added(self, data: dict[str, Any]) -> list[Event]:
        raw = data.get("item") or {}
        item_id, itype = str(raw.get("id") or ""), str(raw.get("type") or "")
        key = _key(data)
        if itype == "message":
            self.items[key] = _Item("message")
            self.gap["text"] = True
        elif itype == "reasoning":
            self.items[key] = _Item("reasoning")
            self.gap["reasoning"] = True
        elif itype == "function_call":
            call_id = str(raw.get("call_id") or item_id or f"call_{self.functions}")
            item = _Item("function", call_id, str(raw.get("name") or ""))
            self.items[key] = item
            self.functions += 1
            start: Event = {"type": "tool_call_start", "id": call_id, "name": item.name}
            return [start, *self._args(item, raw.get("arguments"))]
        elif itype in SERVER_ITEMS or in_container(raw):
            name = str(raw.get("name") or SERVER_ITEMS.get(itype) or APP_ITEMS[itype])
            call_id = item_id if itype in SERVER_ITEMS else str(raw.get("call_id") or item_id)
            item = self.items[key] = _Item("server", call_id or f"server{key}", name)
            return [{"type": "tool_call_start", "id": item.call_id, "name": name, "server": True}]
        elif itype in APP_ITEMS:
            name = str(raw.get("name") or APP_ITEMS[itype])
            call_id = str(raw.get("call_id") or item_id or f"call_{self.functions}")
            self.items[key] = _Item("app", call_id, name)
            self.functions += 1
            return [{"type": "tool_call_start", "id": call_id, "name": name}]
        elif itype in OUTPUT_ITEMS:
            self.items[key] = _Item("output")
        else:
            self.items[key] = _Item("other")
        return []

    def _args(self, item: _Item, piece: Any) -> list[Event]:
        if not isinstance(piece, str) or not piece:
            return []
        item.args += piece
        return [{"type": "tool_call_delta", "id": item.call_id, "args_delta": piece}]

    def _args_delta(self, data: dict[str, Any]) -> list[Event]:
        item = self.items.get(_key(data))
        if item is None or item.kind != "function":
            raise WireFailure(f"arguments for item {data.get('item_id')!r}, not a function call")
        item.streamed = True
        return self._args(item, data.get("delta"))

    def _done(self, data: dict[str, Any]) -> list[Event]:
        raw = data.get("item") or {}
        itype = str(raw.get("type") or "")
        item = self.items.get(_key(data))
        if item is None:  # an item done without being added: take it as added now
            events = self._added(data)
            item = self.items[_key(data)]
        else:
            events = []
        if item.kind == "function":
            if not item.args and isinstance(raw.get("arguments"), str):
                events += self._args(item, raw["arguments"])
            return events + self._end(item)
        if item.kind == "server":
            return events + self._server_end(item, itype, raw)
        if item.kind == "app":
            item.ended = True
            arguments = app_arguments(itype, raw)
            return [*events, {"type": "tool_call_end", "id": item.call_id, "arguments": arguments}]
        if item.kind == "output":
            return events + self._output(raw)
        if item.kind == "message" and not item.streamed:
            for part in raw.get("content") or []:
                if isinstance(part, dict) and part.get("type") == "refusal":
                    self.refused = True
                    events += self._piece("text", part.get("refusal"))
                elif isinstance(part, dict):
                    events += self._piece("text", part.get("text"))
        elif item.kind == "reasoning" and not item.streamed:
            for part in raw.get("summary") or []:
                events += self._piece("reasoning", part.get("text"))
                self.gap["reasoning"] = True
        elif item.kind == "other":
            events.append(unknown(raw, f"output item type {itype!r} is not understood"))
        return events

    def _end(self, item: _Item) -> list[Event]:
        if item.ended:
            return []
        item.ended = True
        return [tool_call_end(item.call_id, item.name, item.args)]

    def _end_functions(self) -> list[Event]:
        events: list[Event] = []
        for item in self.items.values():
            if item.kind == "function" and not item.ended:
                events += self._end(item)
        return events

    def _output(self, raw: dict[str, Any]) -> list[Event]:
        """The output item of a call the server ran in its container (``shell_call_output``)."""
        call_id = str(raw.get("call_id") or "")
        if call_id not in self.waiting:
            return [unknown(raw, "an output item for a call that is not waiting for one")]
        self.waiting.discard(call_id)
        status = "done" if raw.get("status", "completed") == "completed" else "error"
        result: Event = {"type": "tool_result", "id": call_id, "server": True, "status": status}
        return [{**result, "result": raw.get("output")}]

    def _server_end(self, item: _Item, itype: str, raw: dict[str, Any]) -> list[Event]:
        item.ended = True
        if itype not in SERVER_ITEMS:  # run in the server's container; its output item follows
            self.waiting.add(item.call_id)
            arguments = app_arguments(itype, raw)
            return [{"type": "tool_call_end", "id": item.call_id, "arguments": arguments}]
        asked, result = server_call(itype, raw)
        status = str(raw.get("status") or "completed")
        end: Event = {"type": "tool_call_end", "id": item.call_id, "arguments": asked}
        outcome: Event = {"type": "tool_result", "id": item.call_id, "server": True}
        if status in ("completed", "done"):
            outcome.update(status="done", result=result)
        else:
            error = raw.get("error")
            outcome.update(status="error", result=result, error=str(error or f"{itype} {status}"))
        return [end, outcome]

    def _citation(self, data: dict[str, Any]) -> list[Event]:
        annotation = data.get("annotation")
        return [{"type": "citation", "citation": annotation}] if annotation else []

    # -- the end -----------------------------------------------------------------------------
    def _completed(self, data: dict[str, Any]) -> list[Event]:
        events = self._terminal(data)
        if events and events[-1]["type"] == "error":
            return events
        reason = "content_filter" if self.refused else "tool_calls" if self.functions else "stop"
        return [*events, {"type": "finish", "reason": reason}]

    def _incomplete(self, data: dict[str, Any]) -> list[Event]:
        events = self._terminal(data)
        if events and events[-1]["type"] == "error":
            return events
        details = (data.get("response") or {}).get("incomplete_details") or {}
        reason = str(details.get("reason") or "incomplete")
        return [*events, {"type": "finish", "reason": _INCOMPLETE.get(reason, reason)}]

    def _failed(self, data: dict[str, Any]) -> list[Event]:
        events = [e for e in self._terminal(data) if e["type"] != "error"]
        error = (data.get("response") or {}).get("error") or {}
        return [*events, _error_event(error, "the response failed")]

    def _error(self, data: dict[str, Any]) -> list[Event]:
        self.ended = True
        error = data.get("error")
        if not isinstance(error, dict):
            error = data
        return [*self._end_functions(), _error_event(error, "error")]

    def _terminal(self, data: dict[str, Any]) -> list[Event]:
        self.ended = True
        events = self._end_functions()
        if events and events[-1]["type"] == "error":  # a call with broken arguments
            return events
        usage = usage_event((data.get("response") or {}).get("usage"))
        return events + ([usage] if usage else [])


def _part(data: dict[str, Any]) -> str:
    """Which content (or summary) part a text event is about."""
    index = data.get("content_index", data.get("summary_index", 0))
    return f"{_key(data)}/{index}"


def _key(data: dict[str, Any]) -> str:
    """Which output item an event is about: its ``output_index`` (some gateways rewrite item
    ids between events), else its item id."""
    index = data.get("output_index")
    if isinstance(index, int):
        return f"#{index}"
    item = data.get("item")
    return str(data.get("item_id") or (item.get("id") if isinstance(item, dict) else "") or "")


def _error_event(error: dict[str, Any], fallback: str) -> Event:
    code = error.get("code") or error.get("type")
    message = str(error.get("message") or code or fallback)
    return {"type": "error", "kind": kind_for_code(code), "message": message}


_HANDLERS = {
    "response.output_item.added": ResponsesFolder._added,
    "response.output_item.done": ResponsesFolder._done,
    "response.output_text.delta": ResponsesFolder._text,
    "response.refusal.delta": ResponsesFolder._refusal,
    "response.reasoning_summary_text.delta": ResponsesFolder._reasoning,
    "response.reasoning_text.delta": ResponsesFolder._reasoning,
    "response.reasoning_summary_part.added": ResponsesFolder._summary_part,
    "response.function_call_arguments.delta": ResponsesFolder._args_delta,
    "response.output_text.annotation.added": ResponsesFolder._citation,
    "response.output_text.done": ResponsesFolder._part_done,
    "response.refusal.done": ResponsesFolder._part_done,
    "response.reasoning_summary_text.done": ResponsesFolder._part_done,
    "response.reasoning_text.done": ResponsesFolder._part_done,
    "response.completed": ResponsesFolder._completed,
    "response.incomplete": ResponsesFolder._incomplete,
    "response.failed": ResponsesFolder._failed,
    "error": ResponsesFolder._error,
}


__all__ = ["APP_ITEMS", "SERVER_ITEMS", "ResponsesFolder", "unknown", "usage_event"]
