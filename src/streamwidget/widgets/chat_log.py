"""The conversation a Chat shows, kept so that each reply costs what changes, not the history.

- the message rows (id, role, user text, stream id) are read once when a conversation opens
  (one query) and appended to as the conversation goes on;
- a turn's document is read from the store only when that turn is shown (the recent window,
  a page of older turns the front end asked for), then cached;
- the model's context (the messages of the next request) is built once, at the first request
  after the conversation opened (the replies' text and tool calls in one query), and from
  then on grows by each finished exchange.
"""

from __future__ import annotations

import json
from typing import Any

from ..document import Document, ToolCall
from ..store import Store


def state_of(doc: Document) -> dict[str, Any]:
    """The small state of a reply: what ``live`` carries and every assistant turn has."""
    meta = ("model", "provider", "usage", "finish_reason", "first_token_t", "last_t")
    return {
        "stream_id": doc.stream_id,
        "status": doc.status,
        "tool_calls": [call.to_dict() for call in doc.tool_calls],
        "parts": doc.parts_wire(),
        "error": doc.error,
        "meta": {name: getattr(doc, name) for name in meta},
    }


def assistant_turn(message_id: str, doc: Document, *, final: bool = True) -> dict[str, Any]:
    """An assistant turn as the front end gets it; the text only when ``final``."""
    return {
        "id": message_id,
        "role": "assistant",
        **state_of(doc),
        "text": doc.text if final else "",
        "reasoning": doc.reasoning if final else "",
    }


def user_turn(message_id: str, text: str) -> dict[str, Any]:
    return {"id": message_id, "role": "user", "text": text}


class ConversationLog:
    """One conversation's turns and model context, for a Chat (see the module docstring)."""

    def __init__(self, store: Store, conversation_id: str, system: str | None = None):
        self.store = store
        self.id = conversation_id
        self.system = system
        self.rows: list[dict[str, Any]] = [
            {"id": m["id"], "role": m["role"], "text": m["content"], "stream_id": m["stream_id"]}
            for m in store.messages(conversation_id)
            if m["role"] == "user" or (m["role"] == "assistant" and m["stream_id"])
        ]
        self._index = {row["id"]: i for i, row in enumerate(self.rows)}
        self._docs: dict[str, Document] = {}  # stream id -> finished document
        #: (message id, model messages) per row once built; None until the first request
        self._context: list[tuple[str, list[dict[str, Any]]]] | None = None
        #: the reply that is streaming: message id and its live document
        self.live: tuple[str, Document] | None = None

    def __len__(self) -> int:
        return len(self.rows)

    # -- turns ------------------------------------------------------------------------------

    def turn(self, index: int) -> dict[str, Any]:
        row = self.rows[index]
        if row["role"] == "user":
            return user_turn(row["id"], row["text"])
        if self.live is not None and self.live[0] == row["id"]:
            return assistant_turn(row["id"], self.live[1], final=False)
        return assistant_turn(row["id"], self.document(row["stream_id"]))

    def turns(self, start: int = 0, stop: int | None = None) -> list[dict[str, Any]]:
        stop = len(self.rows) if stop is None else stop
        return [self.turn(i) for i in range(max(start, 0), min(stop, len(self.rows)))]

    def recent(self, count: int) -> list[dict[str, Any]]:
        """The last ``count`` turns."""
        return self.turns(len(self.rows) - count)

    def before(self, message_id: str, count: int) -> tuple[int, list[dict[str, Any]]]:
        """Up to ``count`` turns before ``message_id``, and the index of the first of them."""
        end = self._index.get(message_id)
        if end is None:
            raise KeyError(f"no message {message_id!r} in conversation {self.id!r}")
        start = max(end - count, 0)
        return start, self.turns(start, end)

    def index(self, message_id: str) -> int | None:
        return self._index.get(message_id)

    def document(self, stream_id: str) -> Document:
        doc = self._docs.get(stream_id)
        if doc is None:
            doc = self._docs[stream_id] = self.store.get(stream_id)
        return doc

    # -- growing ----------------------------------------------------------------------------

    def add_user(self, text: str) -> str:
        message_id = self.store.add_message(self.id, "user", text)
        self._append({"id": message_id, "role": "user", "text": text, "stream_id": None})
        if self._context is not None:
            self._context.append((message_id, [{"role": "user", "content": text}]))
        return message_id

    def add_reply(self, stream_id: str) -> str:
        message_id = self.store.add_message(self.id, "assistant", stream_id=stream_id)
        self._append({"id": message_id, "role": "assistant", "text": "", "stream_id": stream_id})
        return message_id

    def set_reply_stream(self, message_id: str, stream_id: str) -> None:
        """A retried reply: the same message, a new stream (the old one stays stored)."""
        self.store.set_message_stream(message_id, stream_id)
        self.rows[self._index[message_id]]["stream_id"] = stream_id
        if self._context is not None:  # its place in the context waits for the new reply
            self._context = [(i, m) for i, m in self._context if i != message_id]

    def finished(self, message_id: str, doc: Document) -> None:
        """A reply ended: cache its document and add it to the context (if built)."""
        self._docs[doc.stream_id] = doc
        if self.live is not None and self.live[0] == message_id:
            self.live = None
        if self._context is not None:
            self._context = [(i, m) for i, m in self._context if i != message_id]
            self._context.append((message_id, reply_messages(doc)))

    def _append(self, row: dict[str, Any]) -> None:
        self._index[row["id"]] = len(self.rows)
        self.rows.append(row)

    # -- the model's context ----------------------------------------------------------------

    def context(self, before: str | None = None) -> list[dict[str, Any]]:
        """The conversation as model messages (up to, not including, message ``before``):
        user text, and each finished reply's tool calls and text."""
        if self._context is None:
            replies = self._stored_replies()
            self._context = [(row["id"], self._messages_of(row, replies)) for row in self.rows]
        messages = [{"role": "system", "content": self.system}] if self.system else []
        for message_id, part in self._context:
            if message_id == before:
                break
            messages += part
        return messages

    def _stored_replies(self) -> dict[str, Document]:
        """Every reply's text and tool calls, by stream id, in one query (the ``streams``
        table as ``Store.sql`` documents it); empty if this store cannot answer that."""
        try:
            rows = self.store.sql(
                "SELECT s.id, s.content, s.tool_calls FROM messages m"
                " JOIN streams s ON s.id = m.stream_id WHERE m.conversation_id = $1",
                [self.id],
            )
            found = rows.fetchall() if rows is not None else []
            return {
                stream_id: Document(
                    stream_id,
                    text=text or "",
                    tool_calls=[ToolCall(**c) for c in _json_list(calls)],
                )
                for stream_id, text, calls in found
            }
        except Exception:  # e.g. a store without SQL: read each reply below instead
            return {}

    def _messages_of(
        self, row: dict[str, Any], replies: dict[str, Document]
    ) -> list[dict[str, Any]]:
        if row["role"] == "user":
            return [{"role": "user", "content": row["text"]}]
        stream_id = row["stream_id"]
        doc = self._docs.get(stream_id) or replies.get(stream_id) or self.store.get(stream_id)
        return reply_messages(doc)


def _json_list(value: Any) -> list[dict[str, Any]]:
    """A JSON column as a list: DuckDB returns text, PostgreSQL may return it parsed."""
    return value if isinstance(value, list) else json.loads(value or "[]")


def reply_messages(doc: Document) -> list[dict[str, Any]]:
    """One stored reply as model messages: finished tool calls with their results, then the
    text (the text around the calls is one string in the document). Calls the provider's
    server ran are its own business: sent back as ours, a provider would reject them."""
    calls = [
        c
        for c in doc.tool_calls
        if c.status in ("done", "error", "denied") and c.arguments is not None and not c.server
    ]
    messages: list[dict[str, Any]] = []
    if calls:
        messages.append(
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {"id": c.id, "name": c.name, "arguments": c.arguments} for c in calls
                ],
            }
        )
        for c in calls:
            if c.status == "done":
                content = c.result if isinstance(c.result, str) else json.dumps(c.result)
            elif c.status == "denied":  # what the manager told the model at the time
                content = "The user denied this tool call."
            else:
                content = f"Error: {c.error or c.status}"
            messages.append(
                {"role": "tool", "tool_call_id": c.id, "name": c.name, "content": content}
            )
    if doc.text:
        messages.append({"role": "assistant", "content": doc.text})
    return messages
