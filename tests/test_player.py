"""Player and Compare widgets, kernel side: cursor traits, requests, playback, bytes sent."""

from __future__ import annotations

import asyncio
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

import streamwidget as sw
from player_view import FakeView, request
from streamwidget import Recording, ReplayProvider, Store, start
from streamwidget.widgets.compare import diff_summary, diff_words
from streamwidget.widgets.player import Player, event_row
from streamwidget.widgets.stream_view import utf16_len


def shown(player: Player) -> str:
    """The text a view shows at the cursor (asking the kernel like the front end does)."""
    view = FakeView(player)
    view.pull()
    start, text = view.shown()
    assert start == 0, "short recordings fit in one window"
    return text


def test_a_new_player_shows_the_final_document():
    recording = Recording.bundled("weather-tool-error")
    player = Player(recording)
    final = recording.document()
    assert (player.position, player.status) == (len(recording), "error")
    view = FakeView(player)
    view.pull()
    assert view.shown() == (0, final.text) and view.shown("reasoning") == (0, final.reasoning)
    assert shown(player) == final.text and player.error == final.error
    assert player.time == recording.duration == player.info["duration"]
    assert player.info["title"] == recording.header["title"]
    assert player.timeline["stalls"] and player.timeline["span"] == recording.duration
    assert "weather-tool-error" in repr(player)


def test_the_cursor_traits_describe_the_document_at_the_position():
    recording = Recording.bundled("weather-tool-error")
    player = Player(recording, position=0)
    assert (player.status, player.text_len, player.tool_calls) == ("pending", 0, [])
    for position in range(0, len(recording) + 1, 7):
        doc = player.seek(position)
        expected = sw.Document.from_events(
            recording.events[:position], model=recording.model, provider=recording.provider
        )
        assert doc == expected == player.document
        assert shown(player) == expected.text
        assert player.reasoning_len == utf16_len(expected.reasoning)
        assert player.status == expected.status
        assert player.tool_calls == [c.to_dict() for c in expected.tool_calls]
        assert player.meta["version"] == position


def test_front_end_requests_move_the_cursor():
    player = Player("hello", position=0)
    times = [e["t"] for e in player.recording.events]
    request(player, kind="seek", t=times[9] + 0.001)
    assert (player.position, player.time) == (10, pytest.approx(times[9] + 0.001))
    request(player, kind="step", by=1)
    assert (player.position, player.time) == (11, times[10])
    request(player, kind="step", by=-3)
    assert player.position == 8
    request(player, kind="seek", position=999)
    assert player.position == len(times) and player.status == "complete"
    request(player, kind="seek", t=-4)
    assert (player.position, player.time) == (0, 0.0)
    request(player, kind="speed", value=10)
    assert player.speed == 10
    for junk in [{"kind": "speed", "value": 3}, {"kind": "seek"}, {"kind": "nope"}, "x"]:
        player._handle_custom_msg(junk, [])
    assert (player.position, player.speed) == (0, 10)


def test_the_inspector_lists_the_events_around_the_cursor():
    player = Player("weather-tool-error", position=60, context=3)
    assert [row["i"] for row in player.inspector] == [57, 58, 59, 60, 61, 62]
    row = player.inspector[2]
    event = player.recording.events[59]
    assert (row["t"], row["type"]) == (event["t"], event["type"])
    assert json.loads(row["payload"]) == {k: v for k, v in event.items() if k not in ("t", "type")}
    player.seek(0)
    assert [row["i"] for row in player.inspector] == [0, 1, 2]
    result = next(i for i, e in enumerate(player.recording.events) if e["type"] == "tool_result")
    assert player.events_around(0) == [] and len(player.events_around(5)) == 5
    long_row = event_row(result, player.recording.events[result])
    assert len(long_row["payload"]) <= 160 and long_row["payload"].endswith("…")


def test_a_seek_sends_a_few_small_fields_whatever_the_jump(comms):
    player = Player("markdown-tour")
    comm = comms[-1]
    state = dict(comm.messages[0]["data"]["state"])
    state.pop("_esm"), state.pop("_css", None)  # the front-end code, the same for every widget
    opened = json.dumps(state)
    assert len(opened) < 6000 and player.document.text[-40:] not in opened, "no text"
    sizes = []
    for position in [10, 3000, 5, 1500, 1501]:
        before = comm.nbytes()
        player.seek(position)
        sizes.append(comm.nbytes() - before)
    assert max(sizes) < 2500, sizes
    assert sizes[-1] < 1500, "one step forward"
    tail = player.document.text[-30:]
    assert all(tail not in json.dumps(u) for u in comm.updates()), "no text in the traits"
    assert len(comm.updates()) == 5, "one message per seek"


async def test_playback_moves_along_the_recording_clock_and_ends(comms):
    player = Player("hello", position=0, frame_interval=0.02)
    comm = comms[-1]
    started = asyncio.get_running_loop().time()
    await player.play(speed=4)
    took = asyncio.get_running_loop().time() - started
    duration = player.recording.duration
    assert duration / 4 * 0.9 <= took < duration / 4 + 1.0
    assert (player.position, player.playing, player.status) == (47, False, "complete")
    positions = [u["position"] for u in comm.updates() if "position" in u]
    assert positions == sorted(positions) and len(positions) > 5
    assert len(positions) < len(player.recording), "frames are coalesced, not one per event"


async def test_pause_keeps_the_cursor_and_play_from_the_end_restarts():
    player = Player("markdown-tour", frame_interval=0.01)
    task = player.play(speed=10)
    assert player.position == 0 and player.playing
    await asyncio.sleep(0.3)
    player.pause()
    await asyncio.sleep(0.05)
    assert task.done() and not player.playing
    stopped = player.position
    assert 0 < stopped < len(player.recording)
    await asyncio.sleep(0.1)
    assert player.position == stopped
    request(player, kind="play")
    request(player, kind="seek", t=70.0)  # a seek while playing continues from there
    await asyncio.sleep(0.1)
    assert player.time >= 70.0
    request(player, kind="pause")
    assert not player.playing


async def test_instant_speed_jumps_to_the_end():
    player = Player("markdown-tour", position=0)
    await player.play(speed=0)
    assert player.position == len(player.recording) and player.status == "complete"


def test_play_needs_a_running_loop_and_arguments_are_checked():
    player = Player("hello")
    with pytest.raises(RuntimeError, match="event loop"):
        player.play()
    with pytest.raises(ValueError, match="speed"):
        Player("hello", speed=-1)
    with pytest.raises(TypeError, match="unexpected argument"):
        Player("hello", colour="red")


async def test_players_of_stored_streams_and_replay_into_the_store(tmp_path):
    with Store(tmp_path / "s.duckdb") as store:
        handle = start(ReplayProvider("hello", speed=0), store=store)
        await handle
        for source in [handle, handle.id, sw.StreamView(handle)]:
            player = Player(source, store=store)
            assert player.document.content_equal(store.get(handle.id))
        view = Player("weather-tool-error").to_store(store=store)
        doc = await view.handle
        assert doc.content_equal(Recording.bundled("weather-tool-error").document())


def test_compare_puts_both_timelines_on_one_axis_and_diffs_the_texts():
    compare = sw.Compare("hello", "markdown-tour", labels=("short", "long"))
    a, b = compare.sides
    assert (a["label"], b["label"]) == ("short", "long")
    assert a["timeline"]["span"] == b["timeline"]["span"] == pytest.approx(75.6223)
    assert a["timeline"]["duration"] == pytest.approx(1.5899)
    assert a["status"] == b["status"] == "complete"
    old = "".join(t for op, t in compare.diff if op != "+")
    new = "".join(t for op, t in compare.diff if op != "-")
    assert old == Recording.bundled("hello").document().text
    assert new == Recording.bundled("markdown-tour").document().text
    assert 0 < compare.similarity < 0.05


def test_compare_of_a_recording_with_itself_and_an_edit():
    recording = Recording.bundled("hello")
    edited = Recording(dict(recording.header), [dict(e) for e in recording.events])
    for event in edited.events:
        if event.get("text") == " nice":
            event["text"] = " lovely"
    same = sw.Compare(recording, recording)
    assert same.similarity == 1.0 and [op for op, _ in same.diff] == ["="]
    changed = sw.Compare(recording, edited)
    assert [t for op, t in changed.diff if op != "="] == ["nice", "lovely"]
    assert changed.summary["deleted"] == changed.summary["inserted"] == 1
    with pytest.raises(TypeError, match="unexpected argument"):
        sw.Compare(recording, recording, colour="red")


@given(st.text(alphabet="ab \n.x", max_size=60), st.text(alphabet="ab \n.y", max_size=60))
def test_diff_pieces_rebuild_both_texts(a, b):
    ops = diff_words(a, b)
    assert "".join(t for op, t in ops if op != "+") == a
    assert "".join(t for op, t in ops if op != "-") == b
    assert all(text for _, text in ops)
    assert 0 <= diff_summary(ops)["similarity"] <= 1
