"""Parts on PostgreSQL: written with each document; a store set up before parts existed gets
the column when it opens, and its rows read in order (folded from their events)."""

from __future__ import annotations

from pathlib import Path

import psycopg

from streamwidget import Document, Recording, Store

AGENT = Path(__file__).resolve().parents[1] / "data" / "agent-steps.jsonl"


def fill(store: Store) -> str:
    sid = store.create_stream(provider="p", model="m")
    for event in Recording.load(AGENT).events:
        store.append(sid, event)
    store.flush()
    return sid


def test_parts_are_stored_and_an_older_store_is_migrated_in_place(pg_dsn):
    with Store(pg_dsn) as store:
        sid = fill(store)
        ((stored,),) = store.sql("SELECT parts FROM streams").fetchall()
    assert stored and '"kind": "tool"' in stored
    with psycopg.connect(pg_dsn, autocommit=True) as conn:  # as the release before parts left it
        conn.execute("ALTER TABLE streams DROP COLUMN parts")
    with Store(pg_dsn) as store:
        doc = store.get(sid)
        events = store.events(sid)
    assert doc.parts == Document.from_events(events).parts
    assert [p.kind for p in doc.parts][:4] == ["reasoning", "text", "tool", "step"]
