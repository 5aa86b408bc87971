"""The PostgreSQL store: ownership (two real roles), following across processes, orphan
recovery, and moving a store between DuckDB and PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
import uuid
from importlib import resources
from pathlib import Path

import pytest

import streamwidget
from streamwidget import Document, Store
from streamwidget.transfer import export_jsonl, export_parquet, import_jsonl, import_parquet

psycopg = pytest.importorskip("psycopg")

SRC = os.path.dirname(os.path.dirname(streamwidget.__file__))
BUNDLED = Path(str(resources.files("streamwidget") / "recordings"))


def with_user(dsn, user, password):
    scheme, rest = dsn.split("://", 1)
    return f"{scheme}://{user}:{password}@{rest.split('@', 1)[1]}"


def text(t, s):
    return {"t": t, "type": "text", "text": s}


@pytest.fixture
def roles(pg_server, pg_dsn):
    """Two ordinary login roles (no superuser, no BYPASSRLS) and their DSNs on one schema
    that an admin set up."""
    Store(pg_dsn).close()  # the admin creates the tables and policies
    admin = psycopg.connect(pg_server, autocommit=True)
    names = [f"alice_{uuid.uuid4().hex[:6]}", f"bob_{uuid.uuid4().hex[:6]}"]
    for name in names:
        admin.execute(f"CREATE ROLE {name} LOGIN PASSWORD 'pw-{name}'")
    yield [(name, with_user(pg_dsn, name, f"pw-{name}")) for name in names]
    for name in names:
        admin.execute(f"DROP ROLE IF EXISTS {name}")
    admin.close()


def raw_counts(dsn):
    with psycopg.connect(dsn) as con:
        return {
            table: con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
            for table in ("streams", "events", "conversations", "messages")
        }


def test_a_role_sees_only_its_own_rows_even_with_raw_sql(roles):
    (alice, alice_dsn), (bob, bob_dsn) = roles
    with Store(alice_dsn) as a:
        assert a.role == alice
        cid = a.create_conversation("private")
        a.add_message(cid, "user", "my secret question")
        sid = a.create_stream(conversation_id=cid, provider="p", model="m")
        a.append(sid, text(0.1, "my secret answer"))
        a.append(sid, {"t": 0.2, "type": "finish", "reason": "stop"})
    with Store(bob_dsn) as b:
        assert b.streams() == [] and b.conversations() == []
        with pytest.raises(KeyError):
            b.get(sid)
        assert b.events(sid) == [] and b.messages(cid) == []
        assert b.sql("SELECT count(*) FROM events").fetchall() == [(0,)]
    assert raw_counts(bob_dsn) == dict.fromkeys(
        ("streams", "events", "conversations", "messages"), 0
    )
    assert raw_counts(alice_dsn) == {"streams": 1, "events": 2, "conversations": 1, "messages": 1}
    with psycopg.connect(bob_dsn, autocommit=True) as con:
        changed = con.execute("UPDATE streams SET content = 'hacked' WHERE id = %s", [sid])
        assert changed.rowcount == 0
        assert con.execute("DELETE FROM events").rowcount == 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):  # cannot write as alice
            con.execute(
                "INSERT INTO events (stream_id, seq, t, type, payload, owner)"
                " VALUES (%s, 99, 0, 'text', '{}', %s)",
                [sid, alice],
            )
        with pytest.raises(psycopg.errors.InsufficientPrivilege):  # nor share alice's rows
            con.execute(
                "INSERT INTO shares (owner, object_id, grantee) VALUES (%s, %s, %s)",
                [alice, sid, bob],
            )
        con.execute("INSERT INTO shares (object_id, grantee) VALUES (%s, %s)", [sid, bob])
    assert raw_counts(bob_dsn)["streams"] == 0  # sharing to oneself gives nothing
    with Store(alice_dsn) as a:
        assert a.get(sid).text == "my secret answer"  # untouched


def test_sharing_a_stream_or_a_conversation_lets_another_role_read_it(roles):
    (_, alice_dsn), (bob, bob_dsn) = roles
    with Store(alice_dsn) as a:
        cid = a.create_conversation("shared chat")
        a.add_message(cid, "user", "question")
        in_chat = a.create_stream(conversation_id=cid)
        a.append(in_chat, text(0.1, "answer"))
        a.append(in_chat, {"t": 0.2, "type": "finish", "reason": "stop"})
        alone = a.create_stream()
        a.append(alone, {"t": 0.1, "type": "finish", "reason": "stop"})
        hidden = a.create_stream()
        a.append(hidden, {"t": 0.1, "type": "finish", "reason": "stop"})
        a.flush()
        a.share(cid, bob)
        a.share(alone, bob)
    with Store(bob_dsn) as b:
        assert {s["id"] for s in b.streams()} == {in_chat, alone}
        assert [m["content"] for m in b.messages(cid)] == ["question"]
        assert b.get(in_chat).text == "answer" and len(b.events(in_chat)) == 2
        with pytest.raises(KeyError):
            b.get(hidden)
        with b.cursor() as cur:  # read only: an UPDATE of a shared row changes nothing
            assert cur.execute("UPDATE streams SET content = 'x'").rowcount == 0
    with Store(alice_dsn) as a:
        a.unshare(alone, bob)
    with Store(bob_dsn) as b:
        assert {s["id"] for s in b.streams()} == {in_chat}


WRITER = """
import sys, time
sys.path.insert(0, {src!r})
from streamwidget import Store
store = Store({dsn!r}, batch_interval=0.02)
sid = store.create_stream(provider="p", model="m")
store.flush()
print(sid, flush=True)
sys.stdin.readline()  # go
for i in range({n}):
    store.append(sid, {{"t": i / 100, "type": "text", "text": "tok%d " % i}})
    if i % 10 == 0:
        time.sleep(0.005)
store.append(sid, {{"t": {n} / 100, "type": "finish", "reason": "stop"}})
store.close()
"""


def writer(dsn, n):
    script = textwrap.dedent(WRITER.format(src=SRC, dsn=dsn, n=n))
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    return proc, proc.stdout.readline().strip()


def test_a_view_follows_a_stream_another_process_writes(pg_dsn, comms):
    n = 400
    proc, sid = writer(pg_dsn, n)
    try:
        with Store(pg_dsn) as store:
            view = streamwidget.StreamView(sid, store=store, frame_interval=0.02)
            assert view.status == "pending"
            proc.stdin.write("go\n")
            proc.stdin.flush()
            deadline = time.monotonic() + 30
            while view.status != "complete" and time.monotonic() < deadline:
                time.sleep(0.01)
            assert proc.wait(30) == 0
            final = store.get(sid)
            assert view.status == "complete" and view.text == final.text
            assert final.text == "".join(f"tok{i} " for i in range(n))
            assert Document.from_events(store.events(sid)).content_equal(final)
            deltas = [m for m in comms[-1].custom() if m.get("kind") == "delta"]
            assert "".join(m["text"] for m in deltas) == final.text  # contiguous, no gap
            assert 1 <= len(deltas) < n  # coalesced into frames, not one message per event
    finally:
        proc.kill()


def test_follow_from_the_middle_of_a_stream_gets_the_rest_exactly_once(pg_dsn):
    n = 300
    proc, sid = writer(pg_dsn, n)
    with Store(pg_dsn) as store:
        proc.stdin.write("go\n")
        proc.stdin.flush()
        time.sleep(0.05)
        seen = []
        doc, stop = store.follow(sid, lambda c: seen.append(c.event))
        assert proc.wait(30) == 0
        deadline = time.monotonic() + 10
        while not (seen and seen[-1]["type"] == "finish") and time.monotonic() < deadline:
            time.sleep(0.01)
        stop()
        assert doc.version + len(seen) == n + 1
        assert doc.text + "".join(e.get("text", "") for e in seen) == store.get(sid).text


def test_streams_left_open_by_a_killed_process_become_interrupted(pg_dsn):
    script = textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {SRC!r})
        from streamwidget import Store
        store = Store({pg_dsn!r}, batch_size=1000, batch_interval=3600)
        sid = store.create_stream(provider="p", model="m")
        for i in range(25):
            store.append(sid, {{"t": i / 10, "type": "text", "text": "w%d " % i}})
            if i == 19:
                store.flush()
        print(sid, flush=True)
        os.kill(os.getpid(), 9)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.returncode == -9, out.stderr
    sid = out.stdout.strip()
    with Store(pg_dsn) as store:
        assert store.recovered == [sid]
        doc = store.get(sid)
        assert doc.status == "interrupted"
        assert doc.text == "".join(f"w{i} " for i in range(20))
        events = store.events(sid)
        assert events[-1]["type"] == "interrupted" and len(events) == 21
        assert Document.from_events(events).content_equal(doc)
    with Store(pg_dsn) as again:
        assert again.recovered == []


def test_duckdb_to_postgres_and_back_loses_nothing(tmp_path, pg_dsn):
    with Store(tmp_path / "a.duckdb") as a:
        first = import_jsonl(sorted(BUNDLED.glob("*.jsonl")), store=a)
        out_a = export_jsonl(tmp_path / "out_a", store=a)
        export_parquet(tmp_path / "a.parquet", store=a)
    with Store(pg_dsn) as pg:
        assert sorted(import_parquet(tmp_path / "a.parquet", store=pg).imported) == sorted(
            first.imported
        )
        export_parquet(tmp_path / "pg.parquet", store=pg)
        out_pg = export_jsonl(tmp_path / "out_pg", store=pg)
    import duckdb

    assert duckdb.sql(f"SELECT count(*) FROM '{tmp_path / 'pg.parquet'}'").fetchall()[0][0] > 0
    with Store(tmp_path / "b.duckdb") as b:
        import_parquet(tmp_path / "pg.parquet", store=b)
        out_b = export_jsonl(tmp_path / "out_b", store=b)
    for x, y, z in zip(out_a, out_pg, out_b, strict=True):
        assert x.read_bytes() == y.read_bytes() == z.read_bytes(), x.name
    assert json.loads(out_b[0].read_text().splitlines()[0])["stream_id"]


def test_analytics_views_work_on_postgres(pg_dsn):
    from streamwidget import analytics

    with Store(pg_dsn) as store:
        import_jsonl(sorted(BUNDLED.glob("*.jsonl")), store=store)
        rows = analytics.stats(store).fetchall()
        assert len(rows) == len(list(BUNDLED.glob("*.jsonl")))
        assert analytics.stats(store, by="model").fetchall()


def _snapshot(store):
    convs = store.conversations()
    return (
        [(c["id"], c["title"], c["messages"]) for c in convs],
        {c["id"]: store.messages(c["id"]) for c in convs},
        sorted((s["id"], s["status"], s["chars"]) for s in store.streams(1000)),
        {s["id"]: store.events(s["id"]) for s in store.streams(1000)},
    )


def test_migrate_duckdb_to_postgres_and_back_keeps_conversations_and_messages(tmp_path, pg_dsn):
    from streamwidget.store_migrate import migrate

    with Store(tmp_path / "a.duckdb") as a:
        import_jsonl(sorted(BUNDLED.glob("*.jsonl")), store=a)
        cid = a.create_conversation("Weather")
        a.add_message(cid, "user", "Hi ünïcode")
        sid = a.create_stream(conversation_id=cid, provider="p", model="m")
        a.add_message(cid, "assistant", stream_id=sid)
        a.append(sid, text(0.1, "Hello!"))
        a.append(sid, {"t": 0.2, "type": "finish", "reason": "stop"})
        a.flush()
        before = _snapshot(a)
        with Store(pg_dsn) as pg:
            first = migrate(a, pg)
            assert len(first.streams) == 5 and first.messages == 2
            assert _snapshot(pg) == before
            migrate(a, pg)  # again: nothing doubled
            assert _snapshot(pg) == before
            with Store(tmp_path / "b.duckdb") as b:
                migrate(pg, b)
                assert _snapshot(b) == before


async def test_remote_changes_reach_a_view_on_its_own_event_loop(pg_dsn, comms):
    import asyncio
    import threading

    n = 200
    proc, sid = writer(pg_dsn, n)
    try:
        with Store(pg_dsn) as store:
            threads = set()
            view = streamwidget.StreamView(sid, store=store, frame_interval=0.02)
            store.follow(sid, lambda c: threads.add(threading.get_ident()))
            proc.stdin.write("go\n")
            proc.stdin.flush()
            for _ in range(1500):
                if view.status == "complete":
                    break
                await asyncio.sleep(0.01)
            assert view.status == "complete"
            assert view.text == store.get(sid).text == "".join(f"tok{i} " for i in range(n))
            assert threads == {threading.get_ident()}  # the loop's thread, not the listener's
            deltas = [m for m in comms[-1].custom() if m.get("kind") == "delta"]
            assert "".join(m["text"] for m in deltas) == view.text
            assert 1 <= len(deltas) < n
    finally:
        proc.kill()


def test_the_environment_can_name_a_postgres_store(pg_dsn, monkeypatch):
    from streamwidget.store.postgres import PostgresBackend, default_user

    monkeypatch.setenv("STREAMWIDGET_STORE", pg_dsn)
    with Store() as store:
        assert isinstance(store._backend, PostgresBackend)
        assert "streamwidget:***@" in repr(store)  # the password is never shown
    monkeypatch.setenv("JUPYTERHUB_USER", "hubuser")
    assert default_user() == "hubuser"
    monkeypatch.setenv("STREAMWIDGET_USER", "override")
    assert default_user() == "override"


def test_a_follower_survives_a_lost_listener_connection(pg_dsn, pg_server):
    n = 100
    proc, sid = writer(pg_dsn, n)
    try:
        with Store(pg_dsn) as store:
            seen = []
            doc, _ = store.follow(sid, lambda c: seen.append(c.event))
            with psycopg.connect(pg_server, autocommit=True) as admin:
                pid = store._backend._follower._listen_conn.info.backend_pid
                admin.execute("SELECT pg_terminate_backend(%s)", [pid])
            proc.stdin.write("go\n")
            proc.stdin.flush()
            assert proc.wait(30) == 0
            for _ in range(1000):
                if seen and seen[-1]["type"] == "finish":
                    break
                time.sleep(0.01)
            assert doc.text + "".join(e.get("text", "") for e in seen) == store.get(sid).text
            assert len(seen) == n + 1
    finally:
        proc.kill()


def test_a_dropped_connection_loses_no_event(pg_dsn, pg_server):
    from streamwidget import StoreError

    with Store(pg_dsn, batch_interval=3600) as store:
        sid = store.create_stream()
        store.append(sid, text(0.1, "a"))
        store.flush()
        with psycopg.connect(pg_server, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(%s)", [store._backend._conn.info.backend_pid]
            )
        store.append(sid, text(0.2, "b"))
        store.append(sid, {"t": 0.3, "type": "finish", "reason": "stop"})
        for _ in range(5):
            try:
                store.flush()
                break
            except StoreError:  # the first attempt finds the connection gone; kept, retried
                time.sleep(0.1)
        assert [e["type"] for e in store.events(sid)] == ["text", "text", "finish"]
    with Store(pg_dsn) as again:
        assert again.get(sid).text == "ab" and again.get(sid).status == "complete"


def test_a_shared_stream_is_followed_live_by_another_role_and_an_unshared_one_is_not(roles):
    (_, alice_dsn), (bob, bob_dsn) = roles
    n = 150
    shared_proc, shared = writer(alice_dsn, n)
    private_proc, private = writer(alice_dsn, n)
    try:
        with Store(alice_dsn) as a:
            a.share(shared, bob)
        with Store(bob_dsn) as b:
            with pytest.raises(KeyError):
                b.follow(private, lambda c: None)
            seen = []
            doc, _ = b.follow(shared, lambda c: seen.append(c.event))
            for proc in (shared_proc, private_proc):
                proc.stdin.write("go\n")
                proc.stdin.flush()
                assert proc.wait(30) == 0
            for _ in range(1000):
                if seen and seen[-1]["type"] == "finish":
                    break
                time.sleep(0.01)
            assert doc.text + "".join(e.get("text", "") for e in seen) == "".join(
                f"tok{i} " for i in range(n)
            )
            assert b.streams() == [b.streams()[0]] and b.streams()[0]["id"] == shared
    finally:
        shared_proc.kill()
        private_proc.kill()
