"""The store's tables. One row per reply in ``streams``; the append-only log in ``events``."""

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
    error JSON,
    usage JSON,
    warnings JSON,                   -- what the parser could not place (unknown events)
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

#: Files made before ``streams.warnings`` existed get it (only files that are stores: a
#: foreign DuckDB file with a ``streams`` table of its own is left untouched).
UPGRADE_SQL = """
SELECT count(*) = 3 FROM information_schema.columns WHERE table_name = 'streams'
    AND column_name IN ('status', 'content', 'owner_pid')
"""
WARNINGS_COLUMN_SQL = "ALTER TABLE streams ADD COLUMN IF NOT EXISTS warnings JSON"

#: The ``streams`` columns a document is read from, in order.
STREAM_COLUMNS = (
    "id",
    "status",
    "content",
    "reasoning",
    "tool_calls",
    "error",
    "usage",
    "finish_reason",
    "model",
    "provider",
    "version",
    "first_token_t",
    "last_t",
    "warnings",
)
