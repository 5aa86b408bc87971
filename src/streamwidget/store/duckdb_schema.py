"""The DuckDB store's tables (the one definition). One row per reply in ``streams``; the
append-only log in ``events``. The PostgreSQL dialect is in :mod:`.postgres_schema`."""

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
    parts JSON,                      -- the ordered parts (NULL: folded from the events on read)
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
    updated_at TIMESTAMPTZ DEFAULT now(),
    recording_sha256 VARCHAR         -- an imported recording's content hash (no duplicates)
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

#: Columns added to ``streams`` after the first release (name, type): a store file made before
#: gets each one that is missing when it is opened.
ADDED_COLUMNS = (("recording_sha256", "VARCHAR"), ("warnings", "JSON"), ("parts", "JSON"))

#: The import duplicate check looks a hash up (0.4 ms instead of a scan: 9 ms at 300k streams).
INDEX_SQL = "CREATE INDEX IF NOT EXISTS streams_sha256 ON streams (recording_sha256);"
