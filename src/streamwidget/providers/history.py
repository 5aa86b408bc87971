"""Reading history messages whatever shape they come in (ours, OpenAI chat, Anthropic blocks).

The providers written against the Responses and Gemini wires take their history from here, so
an assistant turn may carry its tool calls as ours (``{"id", "name", "arguments": dict}``) or
as OpenAI's (``{"id", "type": "function", "function": {"name", "arguments": "json"}}``).
"""

from __future__ import annotations

import json
from typing import Any


def call_parts(call: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """``(id, name, arguments)`` of one tool call in our shape or OpenAI's."""
    function = call.get("function") if isinstance(call.get("function"), dict) else None
    name = (function or call).get("name") or ""
    args: Any = (function or call).get("arguments", call.get("input"))
    if isinstance(args, str):
        try:
            args = json.loads(args) if args.strip() else {}
        except ValueError:
            args = {"_raw": args}
    if not isinstance(args, dict):
        args = {} if args is None else {"value": args}
    return str(call.get("id") or call.get("call_id") or ""), str(name), args


def text_of(content: Any) -> str:
    """The text of a message's content: a string, or a list of text parts of any vendor."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        pieces = []
        for part in content:
            if isinstance(part, str):
                pieces.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                pieces.append(part["text"])
        return "".join(pieces)
    return "" if content is None else json.dumps(content)


def result_text(content: Any) -> str:
    """A tool result as the string a wire wants."""
    return content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)


__all__ = ["call_parts", "result_text", "text_of"]
