"""What a saved notebook keeps of a Player, kernel side: the snapshot where no front end runs,
the bounded markdown fallback, and the frames of playback that let a view draw its cursor and
text together."""

from __future__ import annotations

import pytest

from long_recording import write_long_recording
from player_view import FakeView, cut16, request
from streamwidget import Recording
from streamwidget.widgets import player_saved, static
from streamwidget.widgets.player import FALLBACK_CHARS, Player
from streamwidget.widgets.player_text import (
    APPEND_MAX,
    SNAPSHOT_REASONING,
    SNAPSHOT_TEXT,
    snapshot,
)
from streamwidget.widgets.stream_view import utf16_len


@pytest.fixture(autouse=True)
def no_front_end_yet(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts in a kernel where no Player front end has spoken."""
    monkeypatch.setattr(player_saved, "_state", {"front_end_seen": False, "hooked": False})


@pytest.fixture(scope="module")
def long_file(tmp_path_factory: pytest.TempPathFactory):
    """6,000 events: paragraphs, non-ASCII words, tool calls, a reasoning prelude."""
    return write_long_recording(tmp_path_factory.mktemp("rec") / "long.jsonl", 6000, seed=5)


def tail16(text: str, start: int) -> str:
    """``text`` from UTF-16 unit ``start``."""
    return text.encode("utf-16-le", "surrogatepass")[2 * start :].decode("utf-16-le")


def test_a_snapshot_is_the_bounded_tail_of_the_text_at_the_cursor(long_file):
    player = Player(long_file)
    for position in [0, 40, 1234, 3001, len(player.index)]:
        doc = player.seek(position)
        snap = snapshot(player.index, position)
        assert snap["position"] == position
        for field, limit in (("text", SNAPSHOT_TEXT), ("reasoning", SNAPSHOT_REASONING)):
            whole, piece = getattr(doc, field), snap[field]
            assert piece["text"] == tail16(whole, piece["start"]), "the exact tail"
            assert utf16_len(piece["text"]) <= limit
            if piece["start"]:
                assert utf16_len(whole) - piece["start"] > limit * 3 / 4 - 1, "not much less"
                assert not "\udc00" <= piece["text"][:1] <= "\udfff"
        assert snap["text"]["start"] > 0 or utf16_len(doc.text) <= SNAPSHOT_TEXT
    end = snapshot(player.index, len(player.index))["text"]
    before = tail16(player.document.text, end["start"] - 1)[0]
    assert before == "\n" or "\n" not in end["text"][: SNAPSHOT_TEXT // 4], "from a line start"


def test_a_snapshot_never_starts_inside_a_surrogate_pair():
    text = "a" * 10 + "😀" * 3000  # every other unit is a low surrogate
    rec = Recording.new(provider="p", model="m", events=[{"t": 0.1, "type": "text", "text": text}])
    player = Player(rec)
    piece = snapshot(player.index, 1)["text"]
    assert piece["text"] == "😀" * (SNAPSHOT_TEXT // 2) and piece["start"] % 2 == 0


async def test_playback_frames_carry_the_text_before_the_cursor_traits_that_need_it(comms):
    player = Player("markdown-tour", position=0, frame_interval=0.01)
    comm = comms[-1]
    request(player, kind="text", view="v", seq=1, position=0)  # a front end speaks
    await player.play(speed=player.index.duration / 1.5)  # the whole reply in ~1.5 s
    held, frames, moves = 0, 0, 0
    for message in comm.messages:
        data = message["data"]
        if data.get("method") == "custom" and data["content"].get("view") is None:
            piece = data["content"]["text"]
            if piece is not None:
                assert piece["start"] == held and piece["append"], "contiguous pieces"
                assert piece["end"] - piece["start"] <= APPEND_MAX
                held, frames = piece["end"], frames + 1
        elif data.get("method") == "update" and "text_len" in data["state"]:
            assert data["state"]["text_len"] == held, "the text came before the cursor"
            moves += 1
    assert held == utf16_len(Recording.bundled("markdown-tour").document().text)
    assert frames > 5 and moves >= frames


async def test_no_frames_when_no_front_end_has_spoken(comms):
    player = Player("hello", position=0, frame_interval=0.01)
    await player.play(speed=10)
    assert player.position == len(player.index)
    assert not [m for m in comms[-1].custom() if m.get("view") is None]


def test_after_each_cell_the_snapshot_and_fallback_follow_the_cursor(comms, monkeypatch):
    player = Player("markdown-tour", position=10)
    comm = comms[-1]
    assert not player.snapshot, "the comm_open carries no text"
    player_saved.watch(player)  # what __init__ did (no IPython here to register the hook)
    updated: list[int] = []
    monkeypatch.setattr(player, "_update_displays", lambda: updated.append(player.position))
    player._fallback()  # shown at position 10
    player_saved.after_cell()
    assert player.snapshot == snapshot(player.index, 10)
    assert updated == [], "the output already shows position 10"
    sent = len(comm.updates())
    player_saved.after_cell()
    assert len(comm.updates()) == sent, "nothing moved: nothing sent"
    player.seek(200)
    player_saved.after_cell()
    assert player.snapshot["position"] == 200 and updated == [200]
    assert cut16(player.document.text, 10**9).endswith(player.snapshot["text"]["text"])

    FakeView(player).pull()  # a front end: it keeps the snapshot from now on
    player.seek(300)
    player_saved.after_cell()
    assert player.snapshot["position"] == 200 and updated == [200]


def test_the_fallback_shows_the_document_at_the_cursor_bounded(long_file):
    short = Player("weather-tool-error")
    bundle = short._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["text/markdown"] == static.markdown(short.document)
    assert short.document.text.split()[-1] in bundle["text/markdown"]

    player = Player(long_file)
    text = player.document.text
    assert len(text) > FALLBACK_CHARS
    markdown = player._repr_mimebundle_()["text/markdown"]
    assert len(markdown) < FALLBACK_CHARS * 1.3
    assert "earlier characters are not shown here" in markdown
    last_line = text.rstrip().rsplit("\n", 1)[-1]
    assert static._defang(last_line) in markdown
    assert text[:200] not in markdown


def test_markdown_with_a_limit_cuts_runs_across_tools():
    doc = Recording.bundled("weather-tool-error").document()
    whole = static.markdown(doc)
    assert static.markdown(doc, limit=10**6) == whole, "under the limit: the same"
    cut = static.markdown(doc, limit=20)
    left = len(doc.text) - 20 + len(doc.reasoning) - 20
    assert "🔧" in cut and f"*… {left:,} earlier characters are not shown here*" in cut
    assert doc.text[-20:].strip() in cut and doc.text[:30] not in cut
