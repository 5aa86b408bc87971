"""Moving a whole store between backends (DuckDB file ↔ PostgreSQL) without loss.

:func:`migrate` copies conversations, messages and every finished stream with its event log
(through :meth:`Store.import_recording`, unredacted, so the copy's documents are rebuilt from
exactly the same events, ids and times). Running it again copies only what is missing.
Streams still being written (``pending``/``streaming``) are left for a later run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .store import Store
from .transfer import stream_recording


@dataclass
class MigrateResult:
    conversations: int = 0
    messages: int = 0
    streams: list[str] = field(default_factory=list)
    skipped_open: list[str] = field(default_factory=list)


def migrate(
    source: Store, target: Store, progress: Callable[[int, int, str], None] | None = None
) -> MigrateResult:
    """Copy ``source``'s contents into ``target`` (either backend, either direction).

    ``progress(done, total, stream_id)`` is called after each stream (the slow part)."""
    result = MigrateResult()
    conversations = source.fetchall(
        "SELECT id, title, created_at, CAST(meta AS VARCHAR) FROM conversations ORDER BY id"
    )
    messages = source.fetchall(
        "SELECT id, conversation_id, seq, role, content, stream_id, created_at FROM messages"
        " ORDER BY conversation_id, seq"
    )
    streams = source.fetchall("SELECT id, status FROM streams ORDER BY created_at, id")
    target.copy_conversations(conversations)
    result.conversations += len(conversations)
    renamed: dict[str, str] = {}
    for done, (stream_id, status) in enumerate(streams, 1):
        if status in ("pending", "streaming"):
            result.skipped_open.append(stream_id)
        else:
            copied = target.import_recording(stream_recording(source, stream_id, redact=False))
            renamed[stream_id] = copied
            result.streams.append(copied)
        if progress:
            progress(done, len(streams), stream_id)
    target.copy_messages([(*row[:5], renamed.get(row[5], row[5]), row[6]) for row in messages])
    result.messages += len(messages)
    return result
