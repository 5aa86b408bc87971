"""Gemini ``GenerateContentResponse`` chunks → events: :class:`GeminiFolder` (the wire rules
are in :mod:`streamwidget.providers.gemini`'s docstring). Also used for the chunks a
google-genai SDK stream yields (:mod:`.sdk`)."""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

from ..events import Event
from .base import tool_call_end
from .errors import WireFailure, error_text, kind_for_code

SOURCE = "gemini"
_FILTERED = {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY"}
_QUIET_PARTS = {"thoughtSignature", "thought", "partMetadata", "videoMetadata"}
_PATH_STEP = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]")


def unknown(raw: Any, reason: str) -> Event:
    return {"type": "unknown", "source": SOURCE, "raw": raw, "reason": reason}


def usage_event(meta: Any) -> Event | None:
    if not isinstance(meta, dict):
        return None
    event: Event = {"type": "usage"}
    if isinstance(meta.get("promptTokenCount"), int):
        event["input_tokens"] = meta["promptTokenCount"]
    out, thoughts = meta.get("candidatesTokenCount"), meta.get("thoughtsTokenCount")
    if isinstance(out, int) or isinstance(thoughts, int):
        event["output_tokens"] = (out or 0) + (thoughts or 0)
    if isinstance(thoughts, int):
        event["reasoning_tokens"] = thoughts
    if isinstance(meta.get("cachedContentTokenCount"), int):
        event["cached_input_tokens"] = meta["cachedContentTokenCount"]
    return event if len(event) > 1 else None


class _PartialCall:
    """A function call whose arguments arrive as ``partialArgs`` pieces (Vertex)."""

    def __init__(self, call_id: str, name: str) -> None:
        self.id, self.name = call_id, name
        self.args: dict[str, Any] = {}

    def add(self, piece: dict[str, Any]) -> None:
        steps = [int(i) if i else key for key, i in _PATH_STEP.findall(piece.get("jsonPath", ""))]
        if not steps:
            raise WireFailure(f"a partial argument without a usable jsonPath: {piece!r:.200}")
        node: Any = self.args
        for step, following in itertools.pairwise(steps):
            node = _child(node, step, [] if isinstance(following, int) else {})
        last = steps[-1]
        if "stringValue" in piece:
            value = _get(node, last)
            _set(node, last, (value if isinstance(value, str) else "") + piece["stringValue"])
        else:
            for key in ("numberValue", "boolValue", "nullValue", "structValue", "listValue"):
                if key in piece:
                    _set(node, last, None if key == "nullValue" else piece[key])


def _get(node: Any, step: str | int) -> Any:
    if isinstance(step, int):
        return node[step] if step < len(node) else None
    return node.get(step)


def _set(node: Any, step: str | int, value: Any) -> None:
    if isinstance(step, int):
        node.extend([None] * (step + 1 - len(node)))
    node[step] = value


def _child(node: Any, step: str | int, empty: Any) -> Any:
    value = _get(node, step)
    if value is None:
        _set(node, step, empty)
        value = empty
    return value


class GeminiFolder:
    """Folds ``GenerateContentResponse`` chunks (dicts) into normalized events. Pure."""

    def __init__(self) -> None:
        self.calls = 0
        self.partial: _PartialCall | None = None
        self.code: list[str] = []  # server code-execution calls still waiting for a result
        self.grounding: dict[str, Any] | None = None
        self.search_id: str | None = None
        self.url_context = False
        self.usage: Event | None = None
        self.reason: str | None = None
        self.ended = False

    def feed(self, chunk: dict[str, Any]) -> list[Event]:
        if chunk.get("error"):
            code, message = error_text(chunk)
            self.ended = True
            status = (
                (chunk["error"] or {}).get("status") if isinstance(chunk["error"], dict) else None
            )
            kind = kind_for_code(status if status and not code else code)
            return [*self._close(), {"type": "error", "kind": kind, "message": message or "error"}]
        self.usage = usage_event(chunk.get("usageMetadata")) or self.usage
        blocked = (chunk.get("promptFeedback") or {}).get("blockReason")
        if blocked:
            self.ended = True
            detail = (chunk.get("promptFeedback") or {}).get("blockReasonMessage")
            message = f"Gemini blocked the prompt ({blocked})" + (f": {detail}" if detail else "")
            return [*self._usage(), {"type": "error", "kind": "content_filter", "message": message}]
        candidates = chunk.get("candidates") or []
        candidate = next((c for c in candidates if (c.get("index") or 0) == 0), None)
        if candidate is None:
            return []
        events = self._grounding(candidate)
        for part in (candidate.get("content") or {}).get("parts") or []:
            events += self._part(part)
        if candidate.get("finishReason"):
            self.reason = str(candidate["finishReason"])
        return events

    def finish(self) -> list[Event]:
        """The body ended: the reply's end, if a finish reason came."""
        if self.ended:
            return []
        self.ended = True
        events = self._close()
        if events and events[-1]["type"] == "error":
            return events
        events += self._search_result()
        for call_id in self.code:  # code Google ran but whose result it did not send
            note = {"note": "the server sent no result for this code"}
            events.append(
                {
                    "type": "tool_result",
                    "id": call_id,
                    "server": True,
                    "status": "done",
                    "result": note,
                }
            )
        self.code = []
        if self.reason is None:
            return [*events, *self._usage(), _incomplete()]
        if self.reason == "MALFORMED_FUNCTION_CALL":
            message = "Gemini produced a malformed function call (MALFORMED_FUNCTION_CALL)"
            return [
                *events,
                *self._usage(),
                {"type": "error", "kind": "server", "message": message},
            ]
        finish: Event = {"type": "finish", "reason": self._reason()}
        if self.reason not in ("STOP", "MAX_TOKENS"):
            finish["detail"] = self.reason
        return [*events, *self._usage(), finish]

    def _reason(self) -> str:
        reason = self.reason or "STOP"
        if reason == "STOP":
            return "tool_calls" if self.calls else "stop"
        if reason == "MAX_TOKENS":
            return "length"
        return "content_filter" if reason in _FILTERED else reason.lower()

    def _usage(self) -> list[Event]:
        return [self.usage] if self.usage else []

    # -- parts -------------------------------------------------------------------------------
    def _part(self, part: dict[str, Any]) -> list[Event]:
        if "functionCall" in part:
            return self._function(part["functionCall"] or {})
        events: list[Event] = []
        if isinstance(part.get("text"), str):
            if part["text"]:
                kind = "reasoning" if part.get("thought") else "text"
                events.append({"type": kind, "text": part["text"]})
        elif "executableCode" in part:
            code = part["executableCode"] or {}
            call_id = f"code_{len(self.code)}_{self.calls}"
            self.code.append(call_id)
            start = {"type": "tool_call_start", "id": call_id, "name": "code_execution"}
            events += [{**start, "server": True}, _end(call_id, code)]
        elif "codeExecutionResult" in part:
            events += self._code_result(part["codeExecutionResult"] or {})
        elif not set(part) <= _QUIET_PARTS:
            events.append(unknown(part, f"a part with {sorted(set(part) - _QUIET_PARTS)}"))
        return events

    def _function(self, call: dict[str, Any]) -> list[Event]:
        name = str(call.get("name") or "")
        streamed = "partialArgs" in call or bool(call.get("willContinue"))
        events = self._close() if name else []  # a new call: the one before is complete
        call_id = str(call.get("id") or f"call_{self.calls}")
        if name:
            self.calls += 1
            events.append({"type": "tool_call_start", "id": call_id, "name": name})
        if name and not streamed:  # the whole call at once
            args = json.dumps(call.get("args") or {})
            delta = {"type": "tool_call_delta", "id": call_id, "args_delta": args}
            return [*events, delta, tool_call_end(call_id, name, args)]
        if name:
            self.partial = _PartialCall(call_id, name)
        if self.partial is None:
            if call.get("partialArgs"):
                raise WireFailure(f"function call arguments with no call: {call!r:.200}")
            return events
        for piece in call.get("partialArgs") or []:
            self.partial.add(piece)
        if not name and not streamed:  # an empty functionCall: the call is complete
            events += self._close()
        return events

    def _close(self) -> list[Event]:
        call, self.partial = self.partial, None
        if call is None:
            return []
        args = json.dumps(call.args)
        return [
            {"type": "tool_call_delta", "id": call.id, "args_delta": args},
            tool_call_end(call.id, call.name, args),
        ]

    def _code_result(self, result: dict[str, Any]) -> list[Event]:
        if not self.code:
            return [unknown(result, "a code execution result with no code before it")]
        call_id = self.code.pop(0)
        ok = result.get("outcome") in (None, "OUTCOME_OK")
        event: Event = {"type": "tool_result", "id": call_id, "server": True}
        event.update(status="done" if ok else "error", result=result.get("output"))
        if not ok:
            event["error"] = str(result.get("outcome"))
        return [event]

    # -- grounding (Google Search, URL context) ----------------------------------------------
    def _grounding(self, candidate: dict[str, Any]) -> list[Event]:
        events: list[Event] = []
        meta = candidate.get("groundingMetadata")
        if isinstance(meta, dict):
            self.grounding = meta
            queries = meta.get("webSearchQueries")
            if queries and self.search_id is None:
                self.search_id = "google_search_0"
                start = {"type": "tool_call_start", "id": self.search_id, "name": "google_search"}
                events += [{**start, "server": True}, _end(self.search_id, {"queries": queries})]
        urls = candidate.get("urlContextMetadata")
        if isinstance(urls, dict) and not self.url_context:
            self.url_context = True
            found = urls.get("urlMetadata") or []
            asked = [u.get("retrievedUrl") for u in found if isinstance(u, dict)]
            start = {"type": "tool_call_start", "id": "url_context_0", "name": "url_context"}
            events += [
                {**start, "server": True},
                _end("url_context_0", {"urls": asked}),
                {
                    "type": "tool_result",
                    "id": "url_context_0",
                    "server": True,
                    "status": "done",
                    "result": found,
                },
            ]
        return events

    def _search_result(self) -> list[Event]:
        if self.search_id is None or self.grounding is None:
            return []
        sources = self.grounding.get("groundingChunks") or []
        result = {"type": "tool_result", "id": self.search_id, "server": True, "status": "done"}
        self.search_id = None
        return [{**result, "result": {"sources": sources}}]


def _end(call_id: str, arguments: dict[str, Any]) -> Event:
    return {"type": "tool_call_end", "id": call_id, "arguments": arguments}


def _incomplete() -> Event:
    message = "the stream ended without a finishReason"
    return {"type": "error", "kind": "incomplete", "message": message}
