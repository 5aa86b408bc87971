"""History messages in the shape of the Responses and Gemini wires.

Messages are first brought to the neutral shape by :func:`.history.normalize` (which accepts
OpenAI's and Anthropic's shapes too); :func:`call_parts` also reads OpenAI's tool-call shape,
as the Responses fold meets it in SDK objects.
"""

from __future__ import annotations

import json
from typing import Any

from .history import normalize


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


def to_responses_input(messages: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """History messages → ``(instructions, input items)`` of the Responses API."""
    system: list[str] = []
    items: list[dict[str, Any]] = []
    for m in normalize(messages):
        role = m.get("role")
        if role == "system" or role == "developer":
            system.append(text_of(m.get("content")))
        elif role == "tool":
            items.append(
                {
                    "type": "function_call_output",
                    "call_id": m.get("tool_call_id") or m.get("id") or "",
                    "output": result_text(m.get("content", "")),
                }
            )
        else:
            text = text_of(m.get("content"))
            if text or role != "assistant":
                items.append({"role": role, "content": text})
            for call in m.get("tool_calls") or []:
                call_id, name, args = call_parts(call)
                items.append(
                    {
                        "type": "function_call",
                        "call_id": call_id,
                        "name": name,
                        "arguments": json.dumps(args),
                    }
                )
    return "\n\n".join(s for s in system if s), items


def to_gemini_contents(messages: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """History messages → ``(system instruction, contents)``; turns of one role merge."""
    system: list[str] = []
    contents: list[dict[str, Any]] = []
    names: dict[str, str] = {}

    def push(role: str, parts: list[dict[str, Any]]) -> None:
        if not parts:
            return
        if contents and contents[-1]["role"] == role:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": role, "parts": parts})

    for m in normalize(messages):
        role = m.get("role")
        if role in ("system", "developer"):
            system.append(text_of(m.get("content")))
        elif role == "tool":
            call_id = str(m.get("tool_call_id") or "")
            name = m.get("name") or names.get(call_id, "")
            response = {"name": name, "response": {"result": result_text(m.get("content", ""))}}
            if call_id and not call_id.startswith("call_"):
                response["id"] = call_id
            push("user", [{"functionResponse": response}])
        else:
            text = text_of(m.get("content"))
            parts: list[dict[str, Any]] = [{"text": text}] if text else []
            for call in m.get("tool_calls") or [] if role == "assistant" else []:
                call_id, name, args = call_parts(call)
                names[call_id] = name
                parts.append({"functionCall": {"name": name, "args": args}})
            push("model" if role == "assistant" else "user", parts)
    return "\n\n".join(s for s in system if s), contents


__all__ = ["call_parts", "result_text", "text_of", "to_gemini_contents", "to_responses_input"]
