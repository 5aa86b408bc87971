"""Conversation history in any of the usual shapes → one provider-neutral shape.

Every provider calls :func:`normalize` before converting messages for its own wire, so a
history written for the OpenAI chat format, for Anthropic's content blocks, or in
streamwidget's own shape works with every provider.

The neutral shape (see :class:`~.base.ChatRequest`)::

    {"role": "system" | "user" | "assistant" | "tool", "content": str | list,
     "tool_calls": [{"id", "name", "arguments": dict}],   # assistant turns
     "tool_call_id": str, "is_error": bool}               # tool turns

Accepted besides it:

- OpenAI: ``tool_calls: [{"id", "type": "function", "function": {"name", "arguments": str}}]``,
  ``tool`` messages, ``content`` as a list of ``{"type": "text", "text"}`` parts, ``None``
  content, the old ``function_call`` / ``function`` role.
- Anthropic: ``content`` as a list of blocks — ``text``, ``tool_use`` (→ ``tool_calls``),
  ``tool_result`` (→ one ``tool`` message each), ``thinking`` (dropped: the wires want it back
  only with its signature, which another provider cannot check).

Parts that are neither text nor tools (images, documents) stay in a list ``content`` as given.
"""

from __future__ import annotations

import json
from typing import Any

from .errors import ProviderError


class HistoryError(ProviderError, ValueError):
    """A history message has a shape no provider can send (the stream ends ``bad_request``)."""

    kind = "bad_request"


def normalize(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``messages`` (any accepted shape) as neutral messages."""
    out: list[dict[str, Any]] = []
    for position, message in enumerate(messages):
        if not isinstance(message, dict):
            raise HistoryError(f"message {position} is not a dict: {message!r:.100}")
        try:
            out.extend(_one(message))
        except HistoryError as exc:
            raise HistoryError(f"message {position}: {exc.message}") from None
        except (KeyError, TypeError, AttributeError) as exc:
            raise HistoryError(
                f"message {position} ({message.get('role')!r}) has an unexpected shape: "
                f"{type(exc).__name__}: {exc}"
            ) from None
    return out


def _one(m: dict[str, Any]) -> list[dict[str, Any]]:
    role = m.get("role")
    if role == "function":  # the pre-tools OpenAI shape
        role = "tool"
        m = {**m, "tool_call_id": m.get("tool_call_id") or m.get("name", "")}
    content = m.get("content")
    if content is None:
        content = ""
    if role == "tool":
        item: dict[str, Any] = {
            "role": "tool",
            "tool_call_id": str(m["tool_call_id"]),
            "content": _text(content),
        }
        if m.get("name"):
            item["name"] = m["name"]
        if m.get("is_error"):
            item["is_error"] = True
        return [item]
    calls = [_call(c) for c in m.get("tool_calls") or []]
    if m.get("function_call"):
        calls.append(_call({"id": "call_0", "function": m["function_call"]}))
    results: list[dict[str, Any]] = []
    if isinstance(content, list):
        content, block_calls, results = _split_blocks(content)
        calls += block_calls
    item = {"role": role, "content": content}
    if calls and role == "assistant":
        item["tool_calls"] = calls
    # Anthropic puts tool results in the user turn; they come first, as tool messages.
    return results + ([item] if content or calls or not results else [])


def _call(c: dict[str, Any]) -> dict[str, Any]:
    """A tool call in the neutral shape, from OpenAI's or our own."""
    function = c.get("function")
    if isinstance(function, dict):
        name, arguments = function["name"], function.get("arguments")
    else:
        name, arguments = c["name"], c.get("arguments", c.get("input"))
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except ValueError:
            raise HistoryError(
                f"tool call {c.get('id')!r} has arguments that are not JSON: {arguments[:100]!r}"
            ) from None
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, dict):
        raise HistoryError(f"tool call {c.get('id')!r} has arguments that are not an object")
    return {"id": str(c.get("id") or ""), "name": str(name), "arguments": arguments}


def _split_blocks(
    blocks: list[Any],
) -> tuple[str | list[Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """A list of content parts/blocks → (content, tool calls, tool result messages)."""
    keep: list[Any] = []
    calls: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    for block in blocks:
        kind = block.get("type") if isinstance(block, dict) else None
        if isinstance(block, str):
            keep.append({"type": "text", "text": block})
        elif kind == "tool_use":
            calls.append(_call(block))
        elif kind == "tool_result":
            result: dict[str, Any] = {
                "role": "tool",
                "tool_call_id": str(block["tool_use_id"]),
                "content": _text(block.get("content", "")),
            }
            if block.get("is_error"):
                result["is_error"] = True
            results.append(result)
        elif kind in ("thinking", "redacted_thinking"):
            continue
        else:
            keep.append(block)
    if all(isinstance(b, dict) and b.get("type") == "text" for b in keep):
        return "".join(str(b.get("text", "")) for b in keep), calls, results
    return keep, calls, results


def _text(content: Any) -> str:
    """Tool result content as one string (text parts joined, anything else as JSON)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(
        isinstance(p, dict) and p.get("type") == "text" for p in content
    ):
        return "".join(str(p.get("text", "")) for p in content)
    return json.dumps(content, ensure_ascii=False)


__all__ = ["HistoryError", "normalize"]
