"""The event vocabulary: the ground floor every other module builds on.

An event is a plain ``dict`` with a ``type`` and, once recorded, a ``t`` (seconds since the
request was sent). Plain dicts keep the hot path cheap and map one-to-one onto a JSON Lines
recording line. This module knows the known types, their required fields, and nothing else.

Readers skip event types they do not know (new types may be added), so :func:`validate_event`
only checks the fields of the types it knows.
"""

from __future__ import annotations

import math
from typing import Any

Event = dict[str, Any]

#: Required fields (name → accepted Python types) per known event type.
EVENT_FIELDS: dict[str, dict[str, tuple[type, ...]]] = {
    "text": {"text": (str,)},
    "reasoning": {"text": (str,)},
    "tool_call_start": {"id": (str,), "name": (str,)},
    "tool_call_delta": {"id": (str,), "args_delta": (str,)},
    "tool_call_end": {"id": (str,), "arguments": (dict,)},
    "tool_status": {"id": (str,), "status": (str,)},
    "tool_result": {"id": (str,), "status": (str,)},
    "usage": {},
    "finish": {"reason": (str,)},
    "error": {"kind": (str,), "message": (str,)},
    "cancelled": {},
    "interrupted": {},
    # Something a parser met and did not understand: ``raw`` holds it (any JSON value), the
    # document shows ``reason`` as a warning. Nothing on the wire is dropped silently.
    "unknown": {"source": (str,), "reason": (str,)},
    # A source the model cited for the text around it (Anthropic's citations_delta).
    "citation": {"citation": (dict,)},
}

#: Event types whose ``text`` pieces append to the document field of the same name.
TEXT_FIELDS = ("text", "reasoning")

#: Event types that end a stream; exactly one of them is the last event of a finished stream.
TERMINAL_TYPES = frozenset({"finish", "error", "cancelled", "interrupted"})

#: Document statuses, in the order a stream moves through them.
DOCUMENT_STATUSES = ("pending", "streaming", "complete", "error", "cancelled", "interrupted")
TERMINAL_STATUSES = frozenset({"complete", "error", "cancelled", "interrupted"})

#: Tool call statuses. ``pending``: the call is left to the caller (no executable tool was
#: given), the reply ended with finish reason ``tool_calls``.
TOOL_STATUSES = (
    "streaming_args",
    "pending_approval",
    "running",
    "pending",
    "done",
    "error",
    "denied",
)

#: Error kinds the providers and the manager use (others may appear in recordings).
ERROR_KINDS = (
    "overloaded",  # the provider said it is busy
    "rate_limit",
    "auth",
    "bad_request",
    "server",  # 5xx or an error object in the stream
    "timeout",  # stall or deadline
    "incomplete",  # the stream ended without its terminal marker
    "network",
    "tool",  # the tool loop failed
    "internal",  # a bug in streamwidget or a provider: the message says which
)


class EventError(ValueError):
    """An event is malformed: a missing or mistyped field, or a bad ``t``."""


def validate_event(event: Any, *, require_t: bool = True) -> Event:
    """Check one event and return it; raise :class:`EventError` saying what is wrong.

    Unknown types pass (readers skip them); known types must carry their fields.
    """
    if not isinstance(event, dict):
        raise EventError(f"an event must be a JSON object, got {type(event).__name__}")
    kind = event.get("type")
    if not isinstance(kind, str) or not kind:
        raise EventError("an event needs a non-empty string 'type'")
    if require_t or "t" in event:
        t = event.get("t")
        if isinstance(t, bool) or not isinstance(t, (int, float)):
            raise EventError(f"'{kind}' event needs a number 't' (seconds since the request)")
        if not math.isfinite(t) or t < 0:
            raise EventError(f"'{kind}' event has t={t!r}; it must be a finite number >= 0")
    for name, types in EVENT_FIELDS.get(kind, {}).items():
        value = event.get(name)
        if not isinstance(value, types):
            wanted = " or ".join(t.__name__ for t in types)
            got = "missing" if name not in event else type(value).__name__
            raise EventError(f"'{kind}' event needs field '{name}' ({wanted}), got {got}")
    return event


def unknown(source: str, raw: Any, reason: str) -> Event:
    """The ``unknown`` event for wire data ``raw`` that ``source`` (a provider name) could not
    place; ``reason`` says what it was (e.g. ``unknown delta field 'foo'``)."""
    return {"type": "unknown", "source": source, "raw": raw, "reason": reason}


def is_terminal(event: Event) -> bool:
    """True for an event that ends a stream."""
    return event.get("type") in TERMINAL_TYPES
