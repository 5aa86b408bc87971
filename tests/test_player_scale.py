"""The Player at real sizes: a recording file is indexed, not held; the comm_open carries no
text; each view gets only the text it lacks. (Timings are measured in benchmarks/bench_player.py,
not asserted here.)"""

from __future__ import annotations

import gc
import json
import os
import random
import tracemalloc

import pytest

from long_recording import write_long_recording
from player_view import FakeView
from streamwidget import Document, Recording
from streamwidget.recording import RecordingError
from streamwidget.seek import SeekIndex, histogram, timing
from streamwidget.widgets.player import Player
from streamwidget.widgets.player_text import APPEND_MAX, HELD_MAX, WINDOW
from streamwidget.widgets.stream_view import utf16_len


@pytest.fixture(scope="module")
def small_file(tmp_path_factory: pytest.TempPathFactory):
    """3,000 events: tool calls, paragraphs, non-ASCII words, a reasoning prelude."""
    return write_long_recording(tmp_path_factory.mktemp("rec") / "small.jsonl", 3000, seed=3)


@pytest.fixture(scope="module")
def long_file(tmp_path_factory: pytest.TempPathFactory):
    """30,000 events: ~150k UTF-16 units of text, several windows long."""
    return write_long_recording(tmp_path_factory.mktemp("rec") / "long.jsonl", 30_000, seed=4)


def test_a_file_index_holds_about_45_bytes_an_event_not_the_events(tmp_path):
    """Per event the index keeps t (8 bytes), a type code (1), the line's byte offset (8) and
    the text and reasoning lengths (2 x 4): 25 bytes; the text itself is ~10 more (~5 UTF-16
    units a token, 2 bytes each once a non-ASCII word shows up) and a checkpoint every 128
    events ~10 more. 64 bytes leaves room and still fails if any per-event Python object
    comes back (a dict alone is 184 bytes; the parsed recording was ~540)."""
    path = write_long_recording(tmp_path / "200k.jsonl", 200_000)
    n, size = 200_000, os.path.getsize(path)
    gc.collect()
    tracemalloc.start()
    try:
        player = Player(path, position=n // 2)
        gc.collect()
        held, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(player.index) == n
    assert held / n < 64, f"{held / n:.1f} bytes an event"
    assert held < 1.5 * size, f"{held / size:.2f} x the file"
    assert peak / n < 200, f"peak while indexing: {peak / n:.1f} bytes an event"


def test_the_comm_open_carries_no_text(comms, long_file):
    player = Player(long_file)
    state = dict(comms[-1].messages[0]["data"]["state"])
    state.pop("_esm"), state.pop("_css", None)  # the front-end code, the same for every widget
    opened = json.dumps(state, ensure_ascii=False)
    final = player.document.text
    assert len(final) > 100_000
    # what it holds grows with the tool calls (50 here, on the strip and as cards), not the text
    assert len(opened) < 400 * (len(player.tool_calls) + 10), len(opened)
    for at in range(0, len(final) - 40, len(final) // 7):
        assert final[at : at + 40] not in opened


def test_a_file_index_seeks_like_a_full_rebuild(small_file):
    events = Recording.load(small_file).events
    header, index = SeekIndex.from_file(small_file, every=64)
    meta = {"model": header["model"], "provider": header["provider"], "stream_id": ""}
    assert len(index) == len(events) == 3000
    positions = list(range(0, len(events) + 1, 64)) + random.Random(5).sample(range(3001), 60)
    for position in [*positions, len(events)]:
        brute = Document.from_events(events[:position], **meta)
        assert index.document(position) == brute, position
        bare = index.document(position, text=False)
        assert (bare.text, bare.reasoning, bare.status) == ("", "", brute.status)
    assert index.events[10:20] == events[10:20] and index.events[-1] == events[-1]
    assert list(index.events) == events
    assert index.timing() == timing(events, index.final)
    assert index.histogram(index.duration, 50) == histogram(events, index.duration, 50)


def test_a_bad_file_fails_like_the_strict_loader(tmp_path):
    bad = tmp_path / "bad.jsonl"
    lines = [
        '{"streamwidget": "recording", "version": 1}',
        '{"t": 0.1, "type": "text", "text": "a"}',
    ]
    bad.write_text("\n".join([*lines, '{"t": 0.05, "type": "text", "text": "b"}']) + "\n")
    with pytest.raises(RecordingError, match=r"bad.jsonl.*line 3.*goes back in time"):
        Player(bad)
    bad.write_text("\n".join([*lines, "{oops"]) + "\n")
    with pytest.raises(RecordingError, match=r"line 3.*not valid JSON"):
        Player(bad)
    bad.write_text("\n\n")
    with pytest.raises(RecordingError, match="empty"):
        Player(bad)
    good = tmp_path / "good.jsonl"
    good.write_text("\n".join([*lines, ""]))
    player = Player(good, position=0)
    with open(good, "a") as out:  # still being written: what was indexed stays readable
        out.write('{"t": 0.2, "type": "text", "text": "more"}\n')
    assert player.seek(1).text == "a" and len(player.index) == 1
    good.write_text(lines[0] + "\n")
    with pytest.raises(RecordingError, match="changed on disk"):
        player.seek(1)


def test_a_view_gets_a_window_at_a_jump_and_only_what_it_lacks_after(long_file):
    player = Player(long_file, position=0)
    view = FakeView(player)
    n = len(player.index)

    def check(position: int) -> dict:
        view.ask(kind="seek", position=position)
        start, shown = view.shown()
        full = player.document.text
        assert full.encode("utf-16-le")[2 * start :].decode("utf-16-le") == shown, position
        return view.replies[-1]

    middle = check(n // 2)["text"]
    assert not middle["append"] and WINDOW - 200 < middle["end"] - middle["start"] <= WINDOW
    assert middle["start"] > 0, "a jump does not send the text before the window"
    view.ask(kind="text", position=n // 2, earlier=True)  # the reader asks for more
    more = view.replies[-1]["text"]
    assert more["prepend"] and more["end"] == middle["start"]
    assert 0 < more["end"] - more["start"] <= WINDOW and view.segments["text"][0] == more["start"]
    step = check(n // 2 + 1)
    assert step["text"] is None or (step["text"]["append"] and len(step["text"]["text"]) < 40)
    back = check(n // 2 - 300)
    assert back["text"] is None and back["reasoning"] is None, "a seek back inside the window"
    ahead = check(n // 2 + 2000)["text"]  # ~10k units later: appended, not a new window
    assert ahead["append"] and ahead["end"] - ahead["start"] <= APPEND_MAX
    for position in range(n // 2 + 2000, n, 1500):  # forward through the rest, like a drag
        check(position)
        assert utf16_len(view.segments["text"][1]) <= HELD_MAX, "what a view holds stays bounded"
    assert check(0)["text"] == {"start": 0, "end": 0, "text": "", "append": False}
    assert check(n)["text"]["append"] is False  # far ahead: a new window at the end
    assert view.shown()[1].endswith(player.document.text[-50:])


def test_a_view_follows_kernel_side_moves_by_asking(long_file):
    player = Player(long_file, position=2000)
    view = FakeView(player)
    view.pull()
    for position in range(2000, 2400, 37):  # playback: the kernel moves, the view asks
        player.seek(position)
        view.pull()
        start, shown = view.shown()
        assert start == 0 and shown == player.document.text
    assert all(r["text"] is None or r["text"]["append"] for r in view.replies[1:])
    other = FakeView(player, "second")
    other.pull()
    assert other.shown() == view.shown(), "a second view gets its own reply"
