"""Message content for OpenTelemetry GenAI spans (opt-in): the request's messages and the reply
as ``gen_ai.input.messages`` / ``gen_ai.output.messages`` JSON, in the conventions' shape
(a role and a list of parts)."""

from __future__ import annotations

import json
from typing import Any

from .document import Document
from .recording import Recording


def content_attributes(recording: Recording, doc: Document) -> dict[str, Any]:
    """``gen_ai.input.messages`` / ``gen_ai.output.messages`` as JSON text (parts format)."""
    request = recording.header.get("request") or {}
    inputs = [_message(m) for m in request.get("messages") or [] if isinstance(m, dict)]
    parts: list[dict[str, Any]] = []
    if doc.reasoning:
        parts.append({"type": "reasoning", "content": doc.reasoning})
    if doc.text:
        parts.append({"type": "text", "content": doc.text})
    for call in doc.tool_calls:
        parts.append(
            {"type": "tool_call", "id": call.id, "name": call.name, "arguments": call.arguments}
        )
    output = {"role": "assistant", "parts": parts}
    if doc.finish_reason:
        output["finish_reason"] = doc.finish_reason
    system = request.get("system")
    return {
        "gen_ai.system_instructions": json_text([{"type": "text", "content": system}])
        if isinstance(system, str)
        else None,
        "gen_ai.input.messages": json_text(inputs) if inputs else None,
        "gen_ai.output.messages": json_text([output]),
    }


def _message(message: dict[str, Any]) -> dict[str, Any]:
    """A provider message (OpenAI or Anthropic shape) as a role and a list of parts."""
    body = message.get("content")
    if isinstance(body, str):
        parts: list[Any] = [{"type": "text", "content": body}]
    elif isinstance(body, list):
        parts = [
            {"type": "text", "content": p["text"]}
            if isinstance(p, dict) and isinstance(p.get("text"), str)
            else {"type": "generic", "content": p}
            for p in body
        ]
    else:
        parts = []
    return {"role": str(message.get("role", "user")), "parts": parts}


def json_text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
