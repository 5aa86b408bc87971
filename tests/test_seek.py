"""The seek index: the document at every position equals a full rebuild from the events."""

from __future__ import annotations

import bisect
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamwidget import Document, Recording, bundled_recordings
from streamwidget.seek import SeekIndex, quantile, timing
from streamwidget.widgets.stream_view import utf16_len


def brute(events, position, **meta):
    return Document.from_events(events[:position], **meta)


@pytest.mark.parametrize("name", bundled_recordings())
def test_every_position_of_every_bundled_recording_matches_a_full_rebuild(name):
    recording = Recording.bundled(name)
    meta = {"model": recording.model, "provider": recording.provider}
    index = SeekIndex(recording.events, **meta)
    events = recording.events
    for position in range(len(events) + 1):
        assert index.document(position) == brute(events, position, **meta), position
    assert index.final == recording.document()


def test_seeks_in_any_order_and_past_the_ends():
    events = Recording.bundled("weather-tool-error").events
    index = SeekIndex(events, every=16)
    positions = list(range(len(events) + 1))
    random.Random(7).shuffle(positions)
    for position in positions:
        assert index.document(position) == brute(events, position)
    assert index.document(-5) == Document("")
    assert index.document(10**9) == brute(events, len(events))


# Events a well-formed recording never has, but a fold must survive: a delta before its
# start, a result without a call, unknown types, empty text, two usage events, and events
# after the end (they only bump version and last_t).
ODD_EVENTS = [
    {"t": 0.1, "type": "reasoning", "text": "hm"},
    {"t": 0.2, "type": "tool_call_delta", "id": "x", "args_delta": '{"a"'},
    {"t": 0.2, "type": "text", "text": ""},
    {"t": 0.3, "type": "mystery", "data": 1},
    {"t": 0.4, "type": "text", "text": "a🌧️b"},
    {"t": 0.5, "type": "tool_call_start", "id": "y", "name": "f"},
    {"t": 0.6, "type": "tool_result", "id": "z", "status": "done", "result": [1]},
    {"t": 0.7, "type": "usage", "input_tokens": 3},
    {"t": 0.7, "type": "usage", "output_tokens": 5},
    {"t": 0.8, "type": "tool_status", "id": "y", "status": "running"},
    {"t": 0.9, "type": "error", "kind": "server", "message": "boom"},
    {"t": 1.0, "type": "text", "text": "ignored"},
    {"t": 1.1, "type": "finish", "reason": "stop"},
]


@pytest.mark.parametrize("every", [1, 2, 3, 5, 128])
def test_odd_event_sequences_match_a_full_rebuild(every):
    index = SeekIndex(ODD_EVENTS, stream_id="s", every=every)
    for position in range(len(ODD_EVENTS) + 1):
        assert index.document(position) == brute(ODD_EVENTS, position, stream_id="s")
    assert index.final_text == "a🌧️b"
    assert index.final.status == "error" and index.final.last_t == 1.1


EVENT = st.one_of(
    st.builds(lambda s: {"type": "text", "text": s}, st.text(max_size=4)),
    st.builds(lambda s: {"type": "reasoning", "text": s}, st.text(max_size=3)),
    st.builds(lambda i: {"type": "tool_call_start", "id": i, "name": "f"}, st.sampled_from("ab")),
    st.builds(
        lambda i, s: {"type": "tool_call_delta", "id": i, "args_delta": s},
        st.sampled_from("ab"),
        st.text(max_size=3),
    ),
    st.builds(
        lambda i: {"type": "tool_call_end", "id": i, "arguments": {"k": i}}, st.sampled_from("ab")
    ),
    st.builds(
        lambda i, s: {"type": "tool_result", "id": i, "status": s, "result": {"r": 1}},
        st.sampled_from("ab"),
        st.sampled_from(["done", "error"]),
    ),
    st.builds(lambda n: {"type": "usage", "output_tokens": n}, st.integers(0, 9)),
    st.just({"type": "finish", "reason": "stop"}),
    st.just({"type": "cancelled"}),
    st.just({"type": "unknown"}),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(EVENT, max_size=40), st.integers(1, 9), st.data())
def test_random_event_sequences_match_a_full_rebuild(events, every, data):
    t = 0.0
    timed = []
    for event in events:
        t += data.draw(st.sampled_from([0.0, 0.01, 0.7]))
        timed.append({"t": round(t, 2), **event})
    index = SeekIndex(timed, every=every)
    for position in range(len(timed) + 1):
        assert index.document(position) == brute(timed, position)


def test_a_seek_folds_fewer_events_than_the_checkpoint_interval(monkeypatch):
    events = [{"t": i * 0.01, "type": "text", "text": "w "} for i in range(5000)]
    index = SeekIndex(events, every=64)
    applied = []
    original = Document.apply
    monkeypatch.setattr(Document, "apply", lambda self, e: (applied.append(1), original(self, e)))
    doc = index.document(4999)
    assert len(applied) < 64
    assert doc.text == "w " * 4999 and doc.version == 4999


def test_documents_from_the_index_do_not_share_state_with_it():
    events = Recording.bundled("weather-tool-error").events
    index = SeekIndex(events, every=8)
    position = next(i for i, e in enumerate(events) if e["type"] == "tool_call_end") + 1
    first = index.document(position)
    first.tool_calls[0].status = "tampered"
    first.tool_calls.append(first.tool_calls[0])
    first.text += "tampered"
    assert index.document(position) == brute(events, position)


def test_time_lookup_counts_the_events_that_have_happened():
    events = Recording.bundled("hello").events
    index = SeekIndex(events)
    times = [e["t"] for e in events]
    assert index.position_at(-1) == 0
    assert index.position_at(times[0] - 1e-9) == 0
    assert index.position_at(times[0]) == 1
    for t in [0.0, 0.55, 0.6, 1.0, 1.3253, 99.0]:
        assert index.position_at(t) == bisect.bisect_right(times, t)
    assert index.time_at(0) == 0.0
    assert index.time_at(3) == times[2]
    assert index.duration == times[-1]


def test_utf16_offsets_are_what_a_browser_counts():
    events = [
        {"t": 0.1, "type": "text", "text": "é"},
        {"t": 0.2, "type": "text", "text": "🌧️"},
        {"t": 0.3, "type": "reasoning", "text": "\U0001d518x"},
        {"t": 0.4, "type": "text", "text": "ok"},
    ]
    index = SeekIndex(events)
    for position in range(len(events) + 1):
        doc = brute(events, position)
        assert index.lengths16(position) == (utf16_len(doc.text), utf16_len(doc.reasoning))
    assert index.lengths16(4) == (1 + 3 + 2, 3)


def test_quantile_interpolates_like_duckdb_quantile_cont():
    assert quantile([], 0.5) is None
    assert quantile([3.0], 0.95) == 3.0
    assert quantile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert quantile([0.0, 10.0], 0.95) == pytest.approx(9.5)


def test_timing_on_a_small_recording_by_hand():
    events = [
        {"t": 0.5, "type": "text", "text": "a"},
        {"t": 0.6, "type": "text", "text": "b"},
        {"t": 1.4, "type": "text", "text": "c"},  # a 0.8 s stall
        {"t": 1.5, "type": "finish", "reason": "stop"},
    ]
    result = timing(events)
    assert (result.ttft, result.duration, result.output_tokens) == (0.5, 1.5, 3)
    assert result.tokens_source == "events"
    assert result.tokens_per_s == pytest.approx(3 / 1.0)
    assert result.stalls == [(0.6, 1.4)]
    assert result.gap_max == pytest.approx(0.8)
    assert timing(events, stall_threshold=1.0).stalls == []
