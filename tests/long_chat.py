"""A long conversation written into a store in bulk, for tests and benchmarks of long chats:
``exchanges`` user turns ("question N") each answered by a finished reply of ``words`` words."""

from __future__ import annotations

from streamwidget import Store


def long_conversation(store: Store, exchanges: int, words: int = 40) -> str:
    """The new conversation's id."""
    conversation_id = store.create_conversation("long")
    reply = " ".join(["word"] * words)
    store.sql(
        "INSERT INTO streams (id, conversation_id, status, content, model, provider)"
        " SELECT 'sl' || i, $1, 'complete', $2 || ' ' || i, 'm', 'p' FROM range($3) t(i)",
        [conversation_id, reply, exchanges],
    )
    store.sql(
        "INSERT INTO messages (id, conversation_id, seq, role, content, stream_id)"
        " SELECT 'ml' || i, $1, i, CASE WHEN i % 2 = 0 THEN 'user' ELSE 'assistant' END,"
        " CASE WHEN i % 2 = 0 THEN 'question ' || (i // 2) ELSE '' END,"
        " CASE WHEN i % 2 = 1 THEN 'sl' || (i // 2) END FROM range($2) t(i)",
        [conversation_id, 2 * exchanges],
    )
    return conversation_id
