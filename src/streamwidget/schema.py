"""The store's tables. One row per reply in ``streams``; the append-only log in ``events``."""

from typing import Any

SCHEMA_VERSION = 1

SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS conversations (
    id VARCHAR PRIMARY KEY,
    title VARCHAR,
    created_at TIMESTAMPTZ DEFAULT now(),
    meta JSON DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS messages (
    id VARCHAR PRIMARY KEY,
    conversation_id VARCHAR NOT NULL,
    seq INTEGER NOT NULL,
    role VARCHAR NOT NULL,           -- system | user | assistant | tool
    content VARCHAR DEFAULT '',      -- for assistant turns the text lives in streams.content
    stream_id VARCHAR,
    created_at TIMESTAMPTZ DEFAULT now()
);
CREATE TABLE IF NOT EXISTS streams (
    id VARCHAR PRIMARY KEY,
    conversation_id VARCHAR,
    status VARCHAR NOT NULL,         -- pending, streaming, then a terminal status
    content VARCHAR DEFAULT '',
    reasoning VARCHAR DEFAULT '',
    tool_calls JSON DEFAULT '[]',
    parts JSON,                      -- the ordered parts (NULL: folded from the events on read)
    error JSON,
    usage JSON,
    finish_reason VARCHAR,
    model VARCHAR,
    provider VARCHAR,
    request JSON,                    -- as recorded: never a key or an auth header
    header JSON,                     -- extra recording header fields (title, description, ...)
    first_token_t DOUBLE,
    last_t DOUBLE DEFAULT 0,
    version BIGINT DEFAULT 0,        -- number of events applied
    owner_pid INTEGER,
    owner_host VARCHAR,
    owner_started DOUBLE,            -- the owner's start time: tells it from a reused PID
    created_at TIMESTAMPTZ DEFAULT now(),
    updated_at TIMESTAMPTZ DEFAULT now()
);
CREATE TABLE IF NOT EXISTS events (
    stream_id VARCHAR NOT NULL,
    seq BIGINT NOT NULL,             -- 0, 1, 2, ... per stream
    t DOUBLE NOT NULL,               -- seconds since the request was sent
    type VARCHAR NOT NULL,
    payload JSON NOT NULL            -- the event's other fields
);
CREATE TABLE IF NOT EXISTS store_info (key VARCHAR PRIMARY KEY, value VARCHAR);
INSERT OR IGNORE INTO store_info VALUES ('schema_version', '1');
"""


def migrate(cursor: Any) -> None:
    """Bring a store file written by an earlier release up to date, in place (idempotent).
    Only a table that is a store's ``streams`` is changed, never a user's table of that name."""
    rows = cursor.execute(
        "SELECT column_name FROM information_schema.columns"
        " WHERE table_schema = current_schema() AND table_name = 'streams'"
    ).fetchall()
    columns = {row[0] for row in rows}
    if {"tool_calls", "content", "reasoning"} <= columns and "parts" not in columns:
        cursor.execute("ALTER TABLE streams ADD COLUMN parts JSON")


#: The ``streams`` columns a document is read from, in order.
STREAM_COLUMNS = (
    "id",
    "status",
    "content",
    "reasoning",
    "tool_calls",
    "parts",
    "error",
    "usage",
    "finish_reason",
    "model",
    "provider",
    "version",
    "first_token_t",
    "last_t",
)
