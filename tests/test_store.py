import os
import re
import subprocess
import sys
import textwrap
import time

import duckdb
import pytest

import streamwidget
from streamwidget import Document, Recording, Store, StoreError, StoreLockedError
from streamwidget.store import default_path
from streamwidget.store.duckdb_schema import SCHEMA_SQL

SRC = os.path.dirname(os.path.dirname(streamwidget.__file__))


def text_event(t, text):
    return {"t": t, "type": "text", "text": text}


def test_memory_store_folds_events_into_one_document(new_store):
    with new_store() as store:
        sid = store.create_stream(provider="openai", model="m")
        assert store.get(sid).status == "pending"
        store.append(sid, text_event(0.1, "Hel"))
        store.append(sid, text_event(0.2, "lo"))
        assert store.get(sid).status == "streaming"
        store.append(sid, {"t": 0.3, "type": "finish", "reason": "stop"})
        doc = store.get(sid)
        assert (doc.text, doc.status, doc.version) == ("Hello", "complete", 3)
        assert [e["type"] for e in store.events(sid)] == ["text", "text", "finish"]


def test_the_writer_commits_in_batches_without_being_asked(new_store):
    store = new_store("s", batch_size=50, batch_interval=0.05)
    sid = store.create_stream(provider="p", model="m")
    for i in range(1000):
        store.append(sid, text_event(i / 1000, "x"))
    assert store.get(sid).text == "x" * 1000  # reads see what is still queued
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with store.cursor() as cur:
            if cur.execute("SELECT count(*) FROM events").fetchall()[0][0] == 1000:
                break
        time.sleep(0.02)
    with store.cursor() as cur:
        row = cur.execute("SELECT content, version FROM streams").fetchall()[0]
    assert row == ("x" * 1000, 1000)
    assert 1 <= store.commits <= 1000 // 50 + 2  # batches, not one transaction per event
    store.close()


def test_close_flushes_and_a_reopened_store_sees_everything(new_store):
    store = new_store("s", batch_interval=3600)
    sid = store.create_stream(provider="p", model="m", request={"messages": [{"role": "user"}]})
    store.append(sid, text_event(0.1, "abc"))
    store.append(sid, {"t": 0.2, "type": "finish", "reason": "stop"})
    store.close()
    store.close()  # twice is fine
    with new_store("s") as again:
        assert again.get(sid).text == "abc"
        rec = again.recording(sid)
        assert rec.header["request"] == {"messages": [{"role": "user"}]}
        assert rec.document().content_equal(again.get(sid))


def test_subscribers_hear_every_event_then_the_commit(new_store):
    store = new_store(batch_interval=3600)
    sid = store.create_stream()
    heard = []
    unsubscribe = store.subscribe(
        sid, lambda c: heard.append((c.event and c.event["type"], c.committed, c.document.text))
    )
    store.append(sid, text_event(0.1, "a"))
    store.flush()
    unsubscribe()
    store.append(sid, text_event(0.2, "b"))
    assert heard == [("text", False, "a"), (None, True, "a")]


def test_follow_gives_the_document_and_changes_from_that_point(new_store):
    store = new_store()
    sid = store.create_stream()
    store.append(sid, text_event(0.1, "a"))
    seen = []
    doc, _ = store.follow(sid, lambda c: seen.append(c.event["text"]) if c.event else None)
    store.append(sid, text_event(0.2, "b"))
    assert doc.text + "".join(seen) == store.get(sid).text == "ab"


def test_sql_access_and_listing(new_store):
    store = new_store()
    sid = store.create_stream(provider="p", model="m")
    store.append(sid, text_event(0.1, "hey"))
    assert store.sql("SELECT content FROM streams WHERE id = $1", [sid]).fetchall() == [("hey",)]
    assert store.streams()[0]["id"] == sid
    done = store.create_stream(provider="p", model="m")
    store.append(done, {"t": 0.1, "type": "finish", "reason": "stop"})
    assert [s["id"] for s in store.streams(status="complete")] == [done]
    assert [s["id"] for s in store.streams(limit=1, status="streaming")] == [sid]
    assert len(store.streams(limit=1)) == 1 and store.streams(status="error") == []


def test_conversation_messages_read_assistant_text_from_the_stream(new_store):
    store = new_store()
    cid = store.create_conversation("Weather")
    store.add_message(cid, "user", "Hi")
    sid = store.create_stream(conversation_id=cid)
    store.add_message(cid, "assistant", stream_id=sid)
    store.append(sid, text_event(0.1, "Hello!"))
    assert [(m["role"], m["content"]) for m in store.messages(cid)] == [
        ("user", "Hi"),
        ("assistant", "Hello!"),
    ]


def test_appending_to_a_stream_the_store_does_not_write_is_an_error(new_store):
    store = new_store()
    with pytest.raises(StoreError, match="not being written by this store"):
        store.append("s_nope", text_event(0.1, "a"))


def test_default_path_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("STREAMWIDGET_STORE", str(tmp_path / "x.duckdb"))
    assert default_path() == tmp_path / "x.duckdb"
    monkeypatch.delenv("STREAMWIDGET_STORE")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_path() == tmp_path / "data" / "streamwidget" / "store.duckdb"


def test_unwritable_folder_is_a_clear_error(tmp_path):
    locked = tmp_path / "ro"
    locked.mkdir()
    locked.chmod(0o500)
    if os.access(locked, os.W_OK):  # root ignores permissions: use a path under a file instead
        blocker = tmp_path / "file"
        blocker.write_text("")
        target = blocker / "store.duckdb"
    else:
        target = locked / "store.duckdb"
    with pytest.raises(StoreError, match="writable place|cannot create the folder"):
        Store(target)


def test_a_file_held_by_another_process_is_reported_as_locked(tmp_path):
    path = tmp_path / "held.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import duckdb, sys, time
            con = duckdb.connect({str(path)!r})
            print("ready", flush=True)
            sys.stdin.read()
        """),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        started = time.monotonic()
        with pytest.raises(StoreLockedError, match="in use by another process .PID"):
            Store(path, lock_timeout=0.5)
        assert time.monotonic() - started < 5
    finally:
        holder.communicate("")


def test_streams_left_open_by_a_killed_process_become_interrupted(tmp_path):
    path = tmp_path / "orphan.duckdb"
    script = textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {SRC!r})
        from streamwidget import Store
        store = Store({str(path)!r}, batch_size=1000, batch_interval=3600)
        sid = store.create_stream(provider="p", model="m")
        for i in range(25):
            store.append(sid, {{"t": i / 10, "type": "text", "text": "w%d " % i}})
            if i == 19:
                store.flush()  # at least 20 events committed; the writer may take more
        print(sid, flush=True)
        os.kill(os.getpid(), 9)  # die without closing: what is still queued is lost
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.returncode == -9
    sid = out.stdout.strip()
    with Store(path) as store:
        assert store.recovered == [sid]
        doc = store.get(sid)
        assert doc.status == "interrupted"
        events = store.events(sid)
        committed = len(events) - 1  # all but the interrupted event
        assert 20 <= committed <= 25 and events[-1]["type"] == "interrupted"
        assert doc.text == "".join(f"w{i} " for i in range(committed))  # every committed event
        assert Document.from_events(events).content_equal(doc)


def test_store_file_is_a_real_duckdb_database(tmp_path):
    path = tmp_path / "real.duckdb"
    with Store(path) as store:
        sid = store.create_stream(provider="p", model="m")
        store.append(sid, {"t": 0.1, "type": "finish", "reason": "stop"})
    con = duckdb.connect(str(path), read_only=True)
    assert con.execute("SELECT status FROM streams").fetchall() == [("complete",)]
    con.close()


def test_reading_a_finished_stream_leaves_the_cursor_free_for_sql(new_store):
    store = new_store()
    sid = store.create_stream()
    store.append(sid, {"t": 0.1, "type": "finish", "reason": "stop"})
    store.flush()
    assert store.get(sid).status == "complete"  # read from the table
    assert store.recording(sid).events[-1]["type"] == "finish"
    assert store.sql("SELECT 1 AS one").fetchall() == [(1,)]


def test_sql_results_with_awkward_column_names(new_store):
    store = new_store()
    assert store.sql("""SELECT 1 AS "a""b", 'x' AS "c d" """).fetchall() == [(1, "x")]


def test_interleaved_streams_in_one_batch_keep_their_own_seq_and_json_payloads(new_store):
    store = new_store(batch_interval=3600)
    a, b = store.create_stream(), store.create_stream()
    store.append(a, text_event(0.1, "a0"))
    store.flush()  # a's next batch starts at seq 1
    for i in range(1, 4):
        store.append(a, text_event(i / 10, f"a{i}"))
        store.append(b, {"t": i / 10, "type": "tool_call_start", "id": f"c{i}", "name": "f"})
    store.flush()
    rows = store.sql(
        "SELECT stream_id, seq, t, type, typeof(payload), payload->>'$.text' FROM events"
        " ORDER BY stream_id = $1 DESC, seq",
        [a],
    ).fetchall()
    assert [r[:2] for r in rows] == [(a, 0), (a, 1), (a, 2), (a, 3), (b, 0), (b, 1), (b, 2)]
    assert {r[4] for r in rows} == {"JSON"}
    assert [r[5] for r in rows[:4]] == ["a0", "a1", "a2", "a3"] and rows[3][2:4] == (0.3, "text")
    assert store.events(b)[2] == {"t": 0.3, "type": "tool_call_start", "id": "c3", "name": "f"}


def test_event_rows_that_are_not_consecutive_are_still_written():
    from streamwidget.store.duckdb import by_stream, insert_events
    from streamwidget.store.duckdb_schema import SCHEMA_SQL

    rows = [
        ("s", 0, 0.1, "text", '{"text": "a"}'),
        ("s", 2, 0.2, "text", '{"text": "b"}'),
    ]
    assert by_stream(rows) is None and by_stream(rows[:1]) == {"s": rows[:1]}
    con = duckdb.connect()
    con.execute(SCHEMA_SQL)
    insert_events(con, rows)
    assert con.execute("SELECT seq, payload FROM events ORDER BY seq").fetchall() == [
        (0, '{"text": "a"}'),
        (2, '{"text": "b"}'),
    ]


def test_a_change_reads_and_compares_like_a_record():
    from streamwidget.store import Change

    doc = Document("s")
    change = Change("s", doc, {"type": "text", "text": "a"}, committed=False)
    assert (change.stream_id, change.document, change.committed) == ("s", doc, False)
    assert change == Change("s", doc, {"type": "text", "text": "a"}, False)
    assert change != Change("s", doc, None, True) and "committed=False" in repr(change)
    assert not hasattr(change, "__dict__")


def test_a_live_stream_is_committed_on_time_after_the_file_was_let_go(tmp_path):
    # After a hand-off to another process the writer holds no lease; a slow stream's events
    # must still be committed within a batch interval or so, not when 512 have piled up.
    store = Store(tmp_path / "s.duckdb")
    stream_id = store.create_stream(provider="p", model="m")
    store.append(stream_id, {"type": "text", "text": "a", "t": 0.0})
    store.flush()
    with store._commit_lock, store._backend._lock:
        store._backend.lease.release()  # what a hand-off does
    time.sleep(3 * store.batch_interval)  # the writer sees nothing to do
    commits = store.commits
    store.append(stream_id, {"type": "text", "text": "b", "t": 0.1})
    deadline = time.monotonic() + 2.0
    while store.commits == commits and time.monotonic() < deadline:
        time.sleep(0.01)
    assert store.commits > commits, "the event stayed in memory"
    store.close()


def test_event_columns_round_trip_exactly_whatever_the_text_and_times(new_store, backend):
    # a batch's columns are bound as one separated string each: separators, commas, control
    # characters and odd floats in the events must come back exactly
    store = new_store("s")
    stream_id = store.create_stream(provider="p", model="m")
    texts = ["a\x1eb", "x,y", "\x00\x1f\n", "é🌧️", '"quoted"', ""]
    times = [1e-05, 0.1 + 0.2, 12345.6789, 7, 1e-300, 3.0]
    for text, t in zip(texts, times):
        store.append(stream_id, {"type": "text", "text": text, "t": t})
    store.append(stream_id, {"type": "finish", "reason": "stop", "t": 4.0})
    store.flush()
    events = store.events(stream_id)
    assert [e["text"] for e in events[:-1]] == texts
    stored = store.get(stream_id).text  # the finished document, read back from its row
    if backend == "postgres":  # PostgreSQL text cannot hold NUL
        assert stored == "".join(texts).replace("\x00", "\ufffd")
    else:
        assert stored == "".join(texts)
    assert [e["t"] for e in events[:-1]] == [float(t) for t in times]
    assert events[-1]["type"] == "finish"
    store.close()


def test_many_short_streams_are_committed_together_exactly(new_store):
    store = new_store("s", batch_interval=3600)
    with store._commit_lock:  # the writer waits: all of it goes in one batch
        ids = [store.create_stream(provider="p", model=f"m{i}") for i in range(40)]
        for i, sid in enumerate(ids):
            store.append(sid, {"t": 0.1, "type": "reasoning", "text": f"think {i}"})
            store.append(sid, text_event(0.2 + i * 1e-7, f"reply {i}"))
            if i % 2:
                store.append(sid, {"t": 0.3, "type": "finish", "reason": "stop"})
        commits = store.commits
    store.flush()
    assert store.commits == commits + 1  # one transaction: 40 new streams, 100 events, 40 updates
    for sid in ids[::2]:  # the unfinished ones grow again: appended to what is stored
        store.append(sid, text_event(0.4, "!"))
    store.flush()
    rows = dict(
        (r[0], r[1:])
        for r in store.fetchall("SELECT id, content, reasoning, status, version FROM streams")
    )
    for i, sid in enumerate(ids):
        finished = bool(i % 2)
        assert rows[sid] == (
            f"reply {i}" + ("" if finished else "!"),
            f"think {i}",
            "complete" if finished else "streaming",
            3,
        ), i
        # the events of 40 streams went in as one statement: each keeps its own rows
        events = store.events(sid)
        assert [e["type"] for e in events] == ["reasoning", "text"] + (
            ["finish"] if finished else ["text"]
        )
        assert events[1] == {"t": 0.2 + i * 1e-7, "type": "text", "text": f"reply {i}"}


def test_the_recording_hash_is_indexed_also_in_a_file_from_before_it(tmp_path):
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    old_schema = re.sub(r",\n\s*recording_sha256 VARCHAR[^\n]*", "", SCHEMA_SQL)
    assert "recording_sha256" not in old_schema.split("CREATE TABLE IF NOT EXISTS events")[0]
    con.execute(old_schema)
    con.close()
    with Store(path) as store:
        indexes = store.fetchall("SELECT index_name FROM duckdb_indexes()")
        assert ("streams_sha256",) in indexes
        hello = Recording.bundled("hello")
        first = store.import_recording(hello)
        assert store.import_recording(hello) == first  # found by its hash
