"""A reply as history messages, so a conversation can go on in any SDK.

``to_messages(source, format="openai" | "anthropic")`` takes a stream's events (exact: the
order of text, tool calls and results is in them, so a reply with several model steps becomes
assistant → tool results → assistant ...) or a :class:`~streamwidget.document.Document`
(``Document.to_messages``: one step — its text and tool calls in one assistant message, then
the results). Both formats:

- tool calls the app ran carry their results (``tool`` messages for OpenAI, ``tool_result``
  blocks in a user turn for Anthropic; errors and denials as error results);
- calls left to the caller (no result yet) are in the assistant message with no result;
- calls the provider's server ran (``"server": true``: web search, code execution) are left
  out: they are not the app's tools, and neither format can carry their results;
- reasoning is left out (providers only accept their own signed thinking back).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

FORMATS = ("openai", "anthropic")


class _Step:
    """One model step: its text and tool calls, then the results given for them."""

    def __init__(self) -> None:
        self.text: list[str] = []
        self.calls: list[dict[str, Any]] = []
        self.results: list[dict[str, Any]] = []


def to_messages(source: Any, format: str = "openai") -> list[dict[str, Any]]:
    """History messages for a reply: ``source`` is a list of events or a Document."""
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {format!r}")
    if hasattr(source, "tool_calls") and hasattr(source, "text"):
        steps = _document_steps(source)
    elif isinstance(source, Iterable) and not isinstance(source, (str, bytes, dict)):
        steps = _event_steps(source)
    else:
        raise TypeError(
            f"to_messages takes a Document or a list of events, not {type(source).__name__}"
        )
    render = _openai if format == "openai" else _anthropic
    return [m for step in steps for m in render(step)]


def _event_steps(events: Iterable[dict[str, Any]]) -> list[_Step]:
    steps = [_Step()]
    calls: dict[str, dict[str, Any]] = {}
    server: set[str] = set()
    for event in events:
        kind = event.get("type")
        step = steps[-1]
        if kind in ("text", "tool_call_start") and step.results:
            step = _Step()  # the model speaks again after results: a new step
            steps.append(step)
        if kind == "text":
            step.text.append(event["text"])
        elif kind == "tool_call_start":
            if event.get("server"):
                server.add(event["id"])
                continue
            calls[event["id"]] = call = {"id": event["id"], "name": event["name"], "arguments": {}}
            step.calls.append(call)
        elif kind == "tool_call_end" and event["id"] in calls:
            calls[event["id"]]["arguments"] = event["arguments"]
        elif kind == "tool_result" and event["id"] not in server and not event.get("server"):
            step.results.append(
                _result(event["id"], event.get("status"), event.get("result"), event.get("error"))
            )
    return [s for s in steps if s.text or s.calls or s.results]


def _document_steps(doc: Any) -> list[_Step]:
    step = _Step()
    if doc.text:
        step.text.append(doc.text)
    for call in doc.tool_calls:
        if getattr(call, "server", False):
            continue
        step.calls.append({"id": call.id, "name": call.name, "arguments": call.arguments or {}})
        if call.status in ("done", "error", "denied") and (call.result is not None or call.error):
            step.results.append(_result(call.id, call.status, call.result, call.error))
    return [step] if step.text or step.calls else []


def _result(call_id: str, status: Any, result: Any, error: Any) -> dict[str, Any]:
    failed = status in ("error", "denied")
    if failed:
        content = f"Error: {error}" if error else "Error"
    else:
        content = result if isinstance(result, str) else json.dumps(result, ensure_ascii=False)
    return {"id": call_id, "content": content, "is_error": failed}


def _openai(step: _Step) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if step.text or step.calls:
        message: dict[str, Any] = {"role": "assistant", "content": "".join(step.text) or None}
        if step.calls:
            message["tool_calls"] = [
                {
                    "id": c["id"],
                    "type": "function",
                    "function": {"name": c["name"], "arguments": json.dumps(c["arguments"])},
                }
                for c in step.calls
            ]
        out.append(message)
    out += [
        {"role": "tool", "tool_call_id": r["id"], "content": r["content"]} for r in step.results
    ]
    return out


def _anthropic(step: _Step) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    blocks: list[dict[str, Any]] = []
    if step.text and "".join(step.text):
        blocks.append({"type": "text", "text": "".join(step.text)})
    blocks += [
        {"type": "tool_use", "id": c["id"], "name": c["name"], "input": c["arguments"]}
        for c in step.calls
    ]
    if blocks:
        out.append({"role": "assistant", "content": blocks})
    if step.results:
        results = []
        for r in step.results:
            block = {"type": "tool_result", "tool_use_id": r["id"], "content": r["content"]}
            if r["is_error"]:
                block["is_error"] = True
            results.append(block)
        out.append({"role": "user", "content": results})
    return out


__all__ = ["FORMATS", "to_messages"]
