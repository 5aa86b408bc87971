"""The PostgreSQL store's tables and row-level security.

Same tables as the DuckDB store (:mod:`.duckdb_schema`), JSON kept as text so a row reads
back exactly as written, plus:

- an ``owner`` column on every table, ``DEFAULT current_user``: the database role that wrote
  the row (one role per person: the JupyterHub user, or the OS user);
- ``shares (owner, object_id, grantee)``: the owner of a stream or a conversation lets another
  role see it (a conversation brings its messages and its streams; a stream its events);
- row-level security, enabled and *forced* (the tables' owner is bound too): a role reads its
  own rows and rows shared with it, and writes only rows it owns. Only superusers and roles
  with ``BYPASSRLS`` see everything: never give those to notebook users.

The table privileges go to ``PUBLIC``: what a role may touch is decided row by row by the
policies, so every login role of the database can use the store without further grants.
"""

from __future__ import annotations

import psycopg

CHANNEL = "streamwidget"

SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS conversations (
    id text PRIMARY KEY,
    title text,
    created_at timestamptz DEFAULT now(),
    meta text DEFAULT '{}',
    owner text NOT NULL DEFAULT current_user
);
CREATE TABLE IF NOT EXISTS messages (
    id text PRIMARY KEY,
    conversation_id text NOT NULL,
    seq integer NOT NULL,
    role text NOT NULL,
    content text DEFAULT '',
    stream_id text,
    created_at timestamptz DEFAULT now(),
    owner text NOT NULL DEFAULT current_user
);
CREATE INDEX IF NOT EXISTS messages_conversation ON messages (conversation_id, seq);
CREATE TABLE IF NOT EXISTS streams (
    id text PRIMARY KEY,
    conversation_id text,
    status text NOT NULL,
    content text DEFAULT '',
    reasoning text DEFAULT '',
    tool_calls text DEFAULT '[]',
    error text,
    usage text,
    warnings text,
    parts text,
    finish_reason text,
    model text,
    provider text,
    request text,
    header text,
    first_token_t double precision,
    last_t double precision DEFAULT 0,
    version bigint DEFAULT 0,
    owner_pid integer,
    owner_host text,
    owner_started double precision,
    created_at timestamptz DEFAULT now(),
    updated_at timestamptz DEFAULT now(),
    recording_sha256 text,
    owner text NOT NULL DEFAULT current_user
);
CREATE INDEX IF NOT EXISTS streams_open ON streams (status)
    WHERE status IN ('pending', 'streaming');
CREATE INDEX IF NOT EXISTS streams_sha256 ON streams (recording_sha256);
CREATE INDEX IF NOT EXISTS streams_conversation ON streams (conversation_id);
CREATE TABLE IF NOT EXISTS events (
    stream_id text NOT NULL,
    seq bigint NOT NULL,
    t double precision NOT NULL,
    type text NOT NULL,
    payload text NOT NULL,
    owner text NOT NULL DEFAULT current_user,
    PRIMARY KEY (stream_id, seq)
);
CREATE TABLE IF NOT EXISTS shares (
    owner text NOT NULL DEFAULT current_user,
    object_id text NOT NULL,
    grantee text NOT NULL,
    created_at timestamptz DEFAULT now(),
    PRIMARY KEY (owner, object_id, grantee)
);
CREATE INDEX IF NOT EXISTS shares_grantee ON shares (grantee, object_id);
CREATE TABLE IF NOT EXISTS store_info (key text PRIMARY KEY, value text);
INSERT INTO store_info VALUES ('schema_version', '1') ON CONFLICT DO NOTHING;
"""

_POLICIES = {
    # own rows: everything; shared rows: read only
    "conversations": "EXISTS (SELECT 1 FROM shares s WHERE s.grantee = current_user"
    " AND s.owner = conversations.owner AND s.object_id = conversations.id)",
    "messages": "EXISTS (SELECT 1 FROM conversations c WHERE c.id = messages.conversation_id)",
    "streams": "EXISTS (SELECT 1 FROM shares s WHERE s.grantee = current_user"
    " AND s.owner = streams.owner AND s.object_id IN (streams.id, streams.conversation_id))",
    "events": "EXISTS (SELECT 1 FROM streams st WHERE st.id = events.stream_id)",
    "shares": "grantee = current_user",
}


def _security_sql() -> str:
    parts = []
    for table, shared in _POLICIES.items():
        parts += [
            f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;",
            f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY;",
            f"DROP POLICY IF EXISTS own ON {table};",
            f"CREATE POLICY own ON {table} USING (owner = current_user)"
            " WITH CHECK (owner = current_user);",
            f"DROP POLICY IF EXISTS shared ON {table};",
            f"CREATE POLICY shared ON {table} FOR SELECT USING ({shared});",
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO PUBLIC;",
        ]
    parts.append("GRANT SELECT ON store_info TO PUBLIC;")
    return "\n".join(parts)


def install_schema(conn: psycopg.Connection) -> None:
    """Create the tables and policies if they are missing (idempotent; one creator at a
    time). A role that may not create tables can still use a store an admin set up."""
    if conn.execute("SELECT to_regclass('shares') IS NOT NULL").fetchall()[0][0]:
        _add_missing_columns(conn)
        return
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('streamwidget schema'))")
        if conn.execute("SELECT to_regclass('shares') IS NOT NULL").fetchall()[0][0]:
            return
        conn.execute(SCHEMA_SQL)
        conn.execute(_security_sql())


#: Columns added to ``streams`` after the first release (name, type): a store made before gets
#: each one that is missing (adding a column needs the tables' owner).
ADDED_COLUMNS = (("warnings", "text"), ("parts", "text"))


def _add_missing_columns(conn: psycopg.Connection) -> None:
    present = {
        name
        for (name,) in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'streams'"
        ).fetchall()
    }
    missing = [(name, sql_type) for name, sql_type in ADDED_COLUMNS if name not in present]
    if missing:
        with conn.transaction():
            for name, sql_type in missing:
                conn.execute(f"ALTER TABLE streams ADD COLUMN IF NOT EXISTS {name} {sql_type}")
