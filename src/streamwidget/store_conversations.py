"""Conversations and their messages, for :class:`streamwidget.store.Store` (both backends).

A conversation is a titled list of messages; an assistant message points at the stream that
holds its reply, so the reply's text is read from the stream's document.
"""

from __future__ import annotations

from typing import Any

from .store_rows import _new_id


class ConversationsMixin:
    """Conversation and message rows; uses the store's lock, cursor and ``_dicts``."""

    _lock: Any
    path: str

    def create_conversation(self, title: str = "New chat") -> str:
        conversation_id = _new_id("c")
        with self._lock:
            self._cursor().execute(
                "INSERT INTO conversations (id, title) VALUES (?, ?)", [conversation_id, title]
            )
        return conversation_id

    def add_message(
        self, conversation_id: str, role: str, content: str = "", *, stream_id: str | None = None
    ) -> str:
        message_id = _new_id("m")
        with self._lock:
            self._cursor().execute(
                "INSERT INTO messages (id, conversation_id, seq, role, content, stream_id)"
                " SELECT ?, ?, coalesce(max(seq) + 1, 0), ?, ?, ? FROM messages"
                " WHERE conversation_id = ?",
                [message_id, conversation_id, role, content, stream_id, conversation_id],
            )
        return message_id

    def messages(self, conversation_id: str) -> list[dict[str, Any]]:
        return self._dicts(
            "SELECT m.id, m.role, coalesce(s.content, m.content) AS content, m.stream_id,"
            " s.status FROM messages m LEFT JOIN streams s ON s.id = m.stream_id"
            " WHERE m.conversation_id = ? ORDER BY m.seq",
            [conversation_id],
        )

    def conversations(self, limit: int = 50) -> list[dict[str, Any]]:
        """The most recently active conversations: id, title, created_at, updated_at (the
        last message, else the creation time) and the number of messages."""
        return self._dicts(
            "SELECT c.id, c.title, c.created_at, coalesce(max(m.created_at), c.created_at)"
            " AS updated_at, count(m.id) AS messages FROM conversations c LEFT JOIN messages"
            " m ON m.conversation_id = c.id GROUP BY c.id, c.title, c.created_at"
            " ORDER BY updated_at DESC, c.created_at DESC LIMIT ?",
            [limit],
        )

    def conversation(self, conversation_id: str) -> dict[str, Any]:
        """One conversation's id, title and created_at; ``KeyError`` if there is none."""
        rows = self._dicts(
            "SELECT id, title, created_at FROM conversations WHERE id = ?", [conversation_id]
        )
        if not rows:
            raise KeyError(f"no conversation {conversation_id!r} in the store {self.path}")
        return rows[0]

    def rename_conversation(self, conversation_id: str, title: str) -> None:
        with self._lock:
            self._cursor().execute(
                "UPDATE conversations SET title = ? WHERE id = ?", [title, conversation_id]
            )

    def set_message_stream(self, message_id: str, stream_id: str) -> None:
        """Point an assistant message at another stream (a regenerated reply). The old
        stream stays in the store, still tagged with its conversation."""
        with self._lock:
            self._cursor().execute(
                "UPDATE messages SET stream_id = ? WHERE id = ?", [stream_id, message_id]
            )
