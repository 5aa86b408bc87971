"""The core's queries, written once for every backend (``$n`` placeholders, plain SQL that
DuckDB and PostgreSQL both run as it is)."""

from __future__ import annotations

from .rows import STREAM_COLUMNS

DOCUMENT = f"SELECT {', '.join(STREAM_COLUMNS)} FROM streams WHERE id = $1"
NEXT_SEQ = "SELECT coalesce(max(seq) + 1, 0) FROM events WHERE stream_id = $1"
EVENTS = "SELECT t, type, payload FROM events WHERE stream_id = $1 ORDER BY seq"
EVENT_RANGE = (
    "SELECT t, type, payload FROM events WHERE stream_id = $1 AND seq >= $2 AND seq < $3"
    " ORDER BY seq"
)
#: How many events a stream has, and whether their ``seq`` run 0..n-1 (equal when they do).
EVENT_COUNT = "SELECT count(*), coalesce(max(seq) + 1, 0) FROM events WHERE stream_id = $1"
RECORDING_HEADER = "SELECT provider, model, request, header, created_at FROM streams WHERE id = $1"
OPEN_STREAMS = (
    "SELECT id, owner_pid, owner_host, owner_started FROM streams"
    " WHERE status IN ('pending', 'streaming')"
)
STREAMS = (
    "SELECT id, status, model, provider, created_at, length(content) AS chars FROM streams"
    " WHERE ($2::VARCHAR IS NULL OR status = $2) ORDER BY created_at DESC, id LIMIT $1"
)
STREAM_EXISTS = "SELECT 1 FROM streams WHERE id = $1"
BY_SHA256 = "SELECT id FROM streams WHERE recording_sha256 = $1 LIMIT 1"
#: The streams among a list of hashes ($1) and the ids among a list of ids ($2): one batch of
#: imports is checked for duplicates and id clashes in one query.
IMPORT_CHECK = (
    "SELECT recording_sha256, id FROM streams"
    " WHERE recording_sha256 IN (SELECT unnest($1::VARCHAR[]))"
    " UNION ALL SELECT NULL, id FROM streams WHERE id IN (SELECT unnest($2::VARCHAR[]))"
)

IMPORT_CONVERSATION = "INSERT INTO conversations (id, title) VALUES ($1, $2) ON CONFLICT DO NOTHING"

# -- conversations and messages ---------------------------------------------------------------

NEW_CONVERSATION = "INSERT INTO conversations (id, title) VALUES ($1, $2)"
NEW_MESSAGE = (
    "INSERT INTO messages (id, conversation_id, seq, role, content, stream_id)"
    " SELECT $1, $2, coalesce(max(seq) + 1, 0), $3, $4, $5 FROM messages"
    " WHERE conversation_id = $2"
)
MESSAGES = (
    "SELECT m.id, m.role, coalesce(s.content, m.content) AS content, m.stream_id,"
    " s.status FROM messages m LEFT JOIN streams s ON s.id = m.stream_id"
    " WHERE m.conversation_id = $1 ORDER BY m.seq"
)
CONVERSATIONS = (
    "SELECT c.id, c.title, c.created_at, coalesce(max(m.created_at), c.created_at)"
    " AS updated_at, count(m.id) AS messages FROM conversations c LEFT JOIN messages"
    " m ON m.conversation_id = c.id GROUP BY c.id, c.title, c.created_at"
    " ORDER BY updated_at DESC, c.created_at DESC LIMIT $1"
)
CONVERSATION = "SELECT id, title, created_at FROM conversations WHERE id = $1"
RENAME_CONVERSATION = "UPDATE conversations SET title = $2 WHERE id = $1"
SET_MESSAGE_STREAM = "UPDATE messages SET stream_id = $2 WHERE id = $1"
COPY_CONVERSATION = (
    "INSERT INTO conversations (id, title, created_at, meta) VALUES ($1, $2, $3, $4)"
    " ON CONFLICT DO NOTHING"
)
COPY_MESSAGE = (
    "INSERT INTO messages (id, conversation_id, seq, role, content, stream_id, created_at)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING"
)
