"""Analytics views: values checked against hand-computed ones, and against seek.timing()."""

from __future__ import annotations

import pytest

import streamwidget as sw
from streamwidget import Recording, Store
from streamwidget.analytics import install_views, stats
from streamwidget.seek import timing

# A small reply with a stall, a tool call and usage. By hand:
#   ttft 0.2, duration 2.4, output tokens 10 (usage), tokens/s 10 / (2.4 - 0.2)
#   gaps (the 1.0 s wait that ends in tool_result is tool time, not a gap):
#     0.1, 0.7, 0.1, 0.1, 0.05, 0.05, 0.1, 0.0  → sorted 0, .05, .05, .1, .1, .1, .1, .7
#     p50 = (.1 + .1) / 2 = 0.1;  p95 at rank 6.65 = .1 + .65 * (.7 - .1) = 0.49;  max 0.7
#   stalls over 0.5 s: one (0.7 s); over 0.06 s: five
#   the tool: from start 1.1 to result 2.25 = 1.15 s; it ran from 1.25 (running) = 1.0 s
SMALL = [
    {"t": 0.2, "type": "text", "text": "Hel"},
    {"t": 0.3, "type": "text", "text": "lo"},
    {"t": 1.0, "type": "text", "text": "!"},
    {"t": 1.1, "type": "tool_call_start", "id": "c1", "name": "lookup"},
    {"t": 1.2, "type": "tool_call_end", "id": "c1", "arguments": {"q": "x"}},
    {"t": 1.25, "type": "tool_status", "id": "c1", "status": "running"},
    {"t": 2.25, "type": "tool_result", "id": "c1", "status": "done", "result": "ok"},
    {"t": 2.3, "type": "text", "text": " Done"},
    {"t": 2.4, "type": "usage", "input_tokens": 7, "output_tokens": 10},
    {"t": 2.4, "type": "finish", "reason": "stop"},
]
# The same model failing: a tool that errors, no usage (tokens counted from text events).
FAILING = [
    {"t": 0.5, "type": "text", "text": "Let me check"},
    {"t": 0.6, "type": "tool_call_start", "id": "c2", "name": "lookup"},
    {"t": 0.7, "type": "tool_call_end", "id": "c2", "arguments": {}},
    {"t": 0.9, "type": "tool_result", "id": "c2", "status": "error", "error": "no such key"},
    {"t": 1.5, "type": "error", "kind": "server", "message": "boom"},
]


@pytest.fixture
def store():
    with Store(":memory:") as store:
        yield store


def add(store, events, model="m1", provider="p"):
    return store.import_recording(Recording.new(provider=provider, model=model, events=events))


def row(store, stream_id, **kwargs):
    rows = stats(store, **kwargs).fetchall()
    columns = stats(store, **kwargs).columns
    return next(dict(zip(columns, r)) for r in rows if r[0] == stream_id)


def test_stream_metrics_match_hand_computed_values(store):
    sid = add(store, SMALL)
    m = row(store, sid)
    assert m["status"] == "complete" and m["events"] == 10
    assert m["ttft"] == pytest.approx(0.2)
    assert m["duration"] == pytest.approx(2.4)
    assert (m["output_tokens"], m["tokens_source"], m["text_events"]) == (10, "usage", 4)
    assert m["input_tokens"] == 7
    assert m["tokens_per_s"] == pytest.approx(10 / 2.2)
    assert m["gap_p50"] == pytest.approx(0.1)
    assert m["gap_p95"] == pytest.approx(0.49)
    assert m["gap_max"] == pytest.approx(0.7)
    assert (m["stalls"], m["stall_time"]) == (1, pytest.approx(0.7))
    assert (m["tool_calls"], m["tool_failures"]) == (1, 0)
    assert row(store, sid, stall_threshold=0.06)["stalls"] == 5


def test_tokens_fall_back_to_text_events_and_failures_are_counted(store):
    sid = add(store, FAILING)
    m = row(store, sid)
    assert (m["status"], m["error_kind"]) == ("error", "server")
    assert (m["output_tokens"], m["tokens_source"]) == (1, "events")
    assert m["tokens_per_s"] == pytest.approx(1 / 1.0)
    assert (m["tool_calls"], m["tool_failures"]) == (1, 1)


def test_tool_metrics(store):
    ok, bad = add(store, SMALL), add(store, FAILING)
    rows = stats(store, by="tool")
    tools = {r[0]: dict(zip(rows.columns, r)) for r in rows.fetchall()}
    assert tools[ok]["name"] == "lookup" and tools[ok]["status"] == "done"
    assert tools[ok]["duration"] == pytest.approx(1.15)
    assert tools[ok]["run_time"] == pytest.approx(1.0)
    assert tools[ok]["failed"] is False
    assert tools[bad]["failed"] is True and tools[bad]["error"] == "no such key"
    assert tools[bad]["run_time"] == pytest.approx(0.2)  # no running status: from args end


def test_model_roll_ups(store):
    add(store, SMALL)
    add(store, FAILING)
    add(store, [*SMALL[:3], {"t": 1.1, "type": "finish", "reason": "stop"}], model="m2")
    rel = stats(store, by="model")
    models = {(r[0], r[1]): dict(zip(rel.columns, r)) for r in rel.fetchall()}
    m1 = models[("p", "m1")]
    assert (m1["streams"], m1["complete"], m1["errors"]) == (2, 1, 1)
    assert m1["output_tokens"] == 11
    assert m1["ttft_p50"] == pytest.approx((0.2 + 0.5) / 2)
    assert (m1["tool_calls"], m1["tool_failures"], m1["stalls"]) == (2, 1, 2)
    # another stall threshold goes through the macro, not the view
    strict = stats(store, by="model", stall_threshold=100.0)
    rows = {(r[0], r[1]): dict(zip(strict.columns, r)) for r in strict.fetchall()}
    assert (rows[("p", "m1")]["streams"], rows[("p", "m1")]["stalls"]) == (2, 0)
    assert m1["tokens_per_s_avg"] == pytest.approx((10 / 2.2 + 1.0) / 2)
    assert models[("p", "m2")]["streams"] == 1


@pytest.mark.parametrize("name", sw.bundled_recordings())
def test_sql_agrees_with_the_timing_the_player_draws(store, name):
    recording = Recording.bundled(name)
    sid = store.import_recording(recording)
    expected = timing(recording.events, recording.document())
    m = row(store, sid)
    for key in ["ttft", "duration", "output_tokens", "tokens_source", "tokens_per_s"]:
        assert m[key] == pytest.approx(getattr(expected, key)), key
    for key in ["gap_p50", "gap_p95", "gap_max", "stall_time"]:
        assert m[key] == pytest.approx(getattr(expected, key), abs=1e-9), key
    assert m["stalls"] == len(expected.stalls)


def test_views_are_installed_lazily_and_live_in_the_database(tmp_path):
    path = tmp_path / "store.duckdb"
    with Store(path) as store:
        with pytest.raises(Exception, match="stream_metrics"):
            store.sql("SELECT * FROM stream_metrics")
        add(store, SMALL)
        assert len(sw.stats(store).fetchall()) == 1
    with Store(path) as again:  # the views are in the file, usable from plain SQL
        assert again.sql("SELECT count(*) FROM stream_metrics").fetchall() == [(1,)]
        assert again.sql(
            "SELECT stalls FROM streamwidget_stream_metrics(stall_threshold := 0.06)"
        ).fetchall() == [(5,)]
    install_views(Store(":memory:"))  # a new store gets them too, without error


def test_stats_rejects_bad_arguments(store):
    with pytest.raises(ValueError, match="by must be one of"):
        stats(store, by="day")
    with pytest.raises(ValueError, match="stall_threshold"):
        stats(store, stall_threshold=-1)


def test_stats_defaults_to_the_default_store():
    sid = add(sw.default_store(), SMALL)
    assert sid in [r[0] for r in sw.stats().fetchall()]


def test_dataframes_when_pandas_is_installed(store):
    pandas = pytest.importorskip("pandas")
    add(store, SMALL)
    assert isinstance(stats(store).df(), pandas.DataFrame)


def test_picking_streams_in_the_query_gives_the_same_metrics_for_just_those(store):
    import time

    small = add(store, SMALL)
    time.sleep(0.01)  # created_at orders the listing
    failing = add(store, FAILING)
    time.sleep(0.01)
    third = add(store, SMALL[:2] + SMALL[-1:], model="m2")
    everything = {r[0]: r for r in stats(store).fetchall()}
    newest = stats(store, limit=2).fetchall()
    assert [r[0] for r in newest] == [third, failing]
    assert newest == [everything[third], everything[failing]]  # same numbers as the full view
    assert [r[0] for r in stats(store, status="error").fetchall()] == [failing]
    assert stats(store, streams=[small], stall_threshold=0.06).fetchall() == [
        r for r in stats(store, stall_threshold=0.06).fetchall() if r[0] == small
    ]
    assert [r[3] for r in stats(store, "tool", streams=[failing]).fetchall()] == ["c2"]
    assert stats(store, limit=0).fetchall() == []
    with pytest.raises(ValueError, match="by='stream' only"):
        stats(store, "model", limit=3)
    with pytest.raises(ValueError, match="limit must be an int"):
        stats(store, limit=-1)
