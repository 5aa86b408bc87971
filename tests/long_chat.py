"""A long conversation written into a store in bulk, for tests and benchmarks of long chats:
``exchanges`` user turns ("question N") each answered by a finished reply of ``words`` words
(or of the markdown ``reply``), followed by its number N.

Message ids are ``{prefix}ml{i}`` (``i`` counts user and assistant messages from 0, so the last
reply is ``{prefix}ml{2 * exchanges - 1}``) and stream ids ``{prefix}sl{N}``: give each
conversation written into one store a prefix of its own."""

from __future__ import annotations

from streamwidget import Store


def long_conversation(
    store: Store, exchanges: int, words: int = 40, *, reply: str | None = None, prefix: str = ""
) -> str:
    """The new conversation's id."""
    conversation_id = store.create_conversation("long")
    text = reply if reply is not None else " ".join(["word"] * words)
    store.sql(
        "INSERT INTO streams (id, conversation_id, status, content, model, provider)"
        " SELECT $4 || 'sl' || i, $1, 'complete', $2 || ' ' || i, 'm', 'p' FROM range($3) t(i)",
        [conversation_id, text, exchanges, prefix],
    )
    store.sql(
        "INSERT INTO messages (id, conversation_id, seq, role, content, stream_id)"
        " SELECT $3 || 'ml' || i, $1, i, CASE WHEN i % 2 = 0 THEN 'user' ELSE 'assistant' END,"
        " CASE WHEN i % 2 = 0 THEN 'question ' || (i // 2) ELSE '' END,"
        " CASE WHEN i % 2 = 1 THEN $3 || 'sl' || (i // 2) END FROM range($2) t(i)",
        [conversation_id, 2 * exchanges, prefix],
    )
    return conversation_id
