"""The custom messages a Chat sends about its turns, and its list of conversations (their
shapes are in js/src/chat_model.ts). Built from the :class:`~.chat_log.ConversationLog` and
the store; the Chat decides when each goes out.

- ``window``: the last ``WINDOW`` turns, when a conversation opens or a front end says hello;
- ``turn``: one turn, new, retried or ended (upserted by ``id``);
- ``older``: a page of turns before a message, the answer to the front end's
  ``{"kind": "older", "before": <message id>, "request_id"}``;
- ``snapshot``: a reply's whole text, the answer to ``{"kind": "resync", "message_id"}``.
"""

from __future__ import annotations

from typing import Any

from ..document import Document
from ..store import Store
from .chat_log import ConversationLog

#: Turns sent when a conversation opens (~20 exchanges), and per page of older turns.
WINDOW = 40
DEFAULT_TITLE = "New chat"


def window_message(log: ConversationLog, conversation_id: str) -> dict[str, Any]:
    start = max(len(log) - WINDOW, 0)
    return {
        "kind": "window",
        "conversation_id": conversation_id,
        "start": start,
        "turns": log.turns(start),
    }


def turn_message(conversation_id: str, index: int, turn: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "turn", "conversation_id": conversation_id, "index": index, "turn": turn}


def older_message(
    log: ConversationLog, conversation_id: str, asked: dict[str, Any]
) -> dict[str, Any] | None:
    """The page of turns the front end ``asked`` for; ``None`` if it asked about a
    conversation no longer shown."""
    if asked.get("conversation_id") != conversation_id:
        return None
    start, turns = log.before(str(asked.get("before", "")), WINDOW)
    return {
        "kind": "older",
        "request_id": asked.get("request_id"),
        "conversation_id": conversation_id,
        "before": asked.get("before"),
        "start": start,
        "turns": turns,
    }


def snapshot_message(message_id: Any, doc: Document) -> dict[str, Any]:
    return {
        "kind": "snapshot",
        "message_id": message_id,
        "text": doc.text,
        "reasoning": doc.reasoning,
    }


def conversation_list(store: Store, shown: str) -> list[dict[str, Any]]:
    """The conversations the history panel lists (the newest 50 with messages, and ``shown``)."""
    return [
        {
            "id": c["id"],
            "title": c["title"] or DEFAULT_TITLE,
            "updated_at": c["updated_at"].isoformat() if c["updated_at"] else "",
            "messages": c["messages"],
        }
        for c in store.conversations(limit=50)
        if c["messages"] or c["id"] == shown
    ]
