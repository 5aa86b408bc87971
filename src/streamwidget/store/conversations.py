"""Conversations and their messages, for :class:`~.core.Store` (every backend).

A conversation is a titled list of messages; an assistant message points at the stream that
holds its reply, so the reply's text is read from the stream's document.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import sql
from .backend import Backend
from .rows import new_id


class ConversationsMixin:
    """Conversation and message rows, through the store's backend and its shared queries."""

    _backend: Backend
    path: str

    if TYPE_CHECKING:  # the store's own (it flushes first)

        def _dicts(self, query: str, params: list[Any]) -> list[dict[str, Any]]: ...

    def create_conversation(self, title: str = "New chat") -> str:
        conversation_id = new_id("c")
        self._backend.execute(sql.NEW_CONVERSATION, [conversation_id, title])
        return conversation_id

    def add_message(
        self, conversation_id: str, role: str, content: str = "", *, stream_id: str | None = None
    ) -> str:
        message_id = new_id("m")
        self._backend.execute(
            sql.NEW_MESSAGE, [message_id, conversation_id, role, content, stream_id]
        )
        return message_id

    def messages(self, conversation_id: str) -> list[dict[str, Any]]:
        return self._dicts(sql.MESSAGES, [conversation_id])

    def conversations(self, limit: int = 50) -> list[dict[str, Any]]:
        """The most recently active conversations: id, title, created_at, updated_at (the
        last message, else the creation time) and the number of messages."""
        return self._dicts(sql.CONVERSATIONS, [limit])

    def conversation(self, conversation_id: str) -> dict[str, Any]:
        """One conversation's id, title and created_at; ``KeyError`` if there is none."""
        rows = self._dicts(sql.CONVERSATION, [conversation_id])
        if not rows:
            raise KeyError(f"no conversation {conversation_id!r} in the store {self.path}")
        return rows[0]

    def rename_conversation(self, conversation_id: str, title: str) -> None:
        self._backend.execute(sql.RENAME_CONVERSATION, [conversation_id, title])

    def set_message_stream(self, message_id: str, stream_id: str) -> None:
        """Point an assistant message at another stream (a regenerated reply). The old
        stream stays in the store, still tagged with its conversation."""
        self._backend.execute(sql.SET_MESSAGE_STREAM, [message_id, stream_id])

    def copy_conversations(self, rows: list[tuple[Any, ...]]) -> None:
        """Insert ``(id, title, created_at, meta)`` rows as they are, skipping ids the store
        has (for :func:`streamwidget.store_migrate.migrate`)."""
        for row in rows:
            self._backend.execute(sql.COPY_CONVERSATION, list(row))

    def copy_messages(self, rows: list[tuple[Any, ...]]) -> None:
        """Insert ``(id, conversation_id, seq, role, content, stream_id, created_at)`` rows
        as they are, skipping ids the store has."""
        for row in rows:
            self._backend.execute(sql.COPY_MESSAGE, list(row))
