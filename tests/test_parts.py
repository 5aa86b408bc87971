"""Ordered parts: derived from the order of events, O(1) per event, same after a replay."""

from __future__ import annotations

import asyncio
import copy
from pathlib import Path

import pytest

from streamwidget import Document, Recording, Store, bundled_recordings
from streamwidget.manager import start
from streamwidget.providers.replay import ReplayProvider
from streamwidget.seek import SeekIndex

AGENT = Path(__file__).parent / "data" / "agent-steps.jsonl"


def ev(t, kind, **fields):
    return {"t": t, "type": kind, **fields}


def shape(doc: Document) -> list[tuple]:
    """(kind, the run's text or the call id / message) per part."""
    out = []
    for part in doc.parts:
        if part.kind in ("text", "reasoning"):
            out.append((part.kind, getattr(doc, part.kind)[part.start : part.end]))
        else:
            out.append((part.kind, part.call_id or part.message))
    return out


def test_parts_follow_the_order_of_events_with_steps_after_results():
    doc = Document.from_events(
        [
            ev(0.1, "reasoning", text="Think"),
            ev(0.2, "reasoning", text="ing."),
            ev(0.3, "text", text="Let me check "),
            ev(0.4, "text", text="the weather."),
            ev(0.5, "tool_call_start", id="a", name="weather"),
            ev(0.6, "tool_call_delta", id="a", args_delta="{}"),
            ev(0.7, "tool_call_end", id="a", arguments={}),
            ev(0.8, "tool_result", id="a", status="done", result=1),
            ev(0.9, "text", text="It is sunny."),
            ev(1.0, "unknown", message="odd wire event"),
            ev(1.1, "text", text=" Bye."),
            ev(1.2, "finish", reason="stop"),
        ]
    )
    assert shape(doc) == [
        ("reasoning", "Thinking."),
        ("text", "Let me check the weather."),
        ("tool", "a"),
        ("step", None),
        ("text", "It is sunny."),
        ("notice", "odd wire event"),
        ("text", " Bye."),
    ]
    assert doc.text == "Let me check the weather.It is sunny. Bye."  # doc.text stays
    thinking = doc.parts[0]
    assert (thinking.t0, thinking.t1) == (0.1, 0.3)  # thinking lasts until the text starts


def test_a_result_with_no_output_after_it_is_no_step_and_a_delta_before_start_places_the_tool():
    doc = Document.from_events(
        [
            ev(0.1, "tool_call_delta", id="x", args_delta="{"),
            ev(0.2, "tool_result", id="x", status="done"),
            ev(0.3, "usage", input_tokens=1),
            ev(0.4, "finish", reason="tool_calls"),
        ]
    )
    assert shape(doc) == [("tool", "x")]


def test_wire_form_uses_utf16_offsets_and_leaves_the_last_run_open_until_the_end():
    doc = Document("s")
    for t, kind, piece in [(0.1, "text", "🌧️ a"), (0.2, "reasoning", "r"), (0.3, "text", "b")]:
        doc.apply(ev(t, kind, text=piece))
    wire = doc.parts_wire()
    assert wire == [
        {"kind": "text", "start": 0, "end": 5},  # the emoji is 2 UTF-16 units, U+FE0F one more
        {"kind": "reasoning", "start": 0, "end": 1, "t0": 0.2, "t1": 0.3},  # closed: fixed
        {"kind": "text", "start": 5, "end": None},  # the last part: open-ended
    ]
    version = doc.parts_version
    doc.apply(ev(0.4, "text", text="more"))
    assert doc.parts_wire() == wire and doc.parts_version == version  # a run growing: no change
    doc.apply(ev(0.5, "finish", reason="stop"))
    assert doc.parts_wire()[-1] == {"kind": "text", "start": 5, "end": 10}
    assert doc.parts_version != version


def test_appending_is_constant_time_per_event():
    doc = Document("s")
    for i in range(20000):
        doc.apply(ev(i / 1000, "text", text="x"))
    assert len(doc.parts) == 1 and doc.parts[0].end == 20000


def test_a_document_known_only_by_its_fields_reads_reasoning_tools_text():
    from streamwidget.document import ToolCall

    doc = Document("s", text="answer", reasoning="why", tool_calls=[ToolCall("c", "f")])
    assert [p.kind for p in doc.parts] == ["reasoning", "tool", "text"]


def test_copies_do_not_share_parts_and_the_seek_index_matches_a_fold():
    events = Recording.load(AGENT).events
    doc = Document.from_events(events[:10])
    twin = copy.deepcopy(doc)
    twin.apply(events[10])
    assert len(doc.parts) != len(twin.parts) or doc.parts[-1] != twin.parts[-1]
    index = SeekIndex(events, every=7)
    for position in range(len(events) + 1):
        assert index.document(position).parts == Document.from_events(events[:position]).parts


async def _replay(recording: Recording, store: Store) -> tuple[Document, list]:
    """Replay through the manager and the store: the document the store followed (live),
    and the events the store logged (with the replay's own times)."""
    seen: list[Document] = []
    handle = start(ReplayProvider(recording, speed=0), store=store)
    _, unsubscribe = store.follow(handle.id, lambda change: seen.append(change.document))
    await handle
    unsubscribe()
    return seen[-1], store.events(handle.id)


def untimed(doc: Document) -> list[dict]:
    return [{**p.to_dict(), "t0": None, "t1": None} for p in doc.parts]


@pytest.mark.parametrize("name", [*bundled_recordings(), str(AGENT)])
def test_replaying_a_recording_gives_the_parts_of_folding_its_events(name, tmp_path):
    recording = Recording.find(name)
    with Store(tmp_path / "s.duckdb") as store:
        live, logged = asyncio.run(_replay(recording, store))
    assert live.parts == Document.from_events(logged).parts  # times and all
    folded = Document.from_events(recording.events)  # the replay has its own clock
    assert untimed(live) == untimed(folded) and len(folded.parts) >= 1
    wire = [{k: v for k, v in p.items() if k not in ("t0", "t1")} for p in live.parts_wire()]
    assert wire == [
        {k: v for k, v in p.items() if k not in ("t0", "t1")} for p in folded.parts_wire()
    ]


async def test_stream_view_sends_parts_when_a_part_starts_not_per_token(comms):
    from streamwidget import StreamView

    recording = Recording.load(AGENT)
    store = Store(":memory:")
    handle = start(ReplayProvider(recording, speed=4.0), store=store)
    view = StreamView(handle, frame_interval=0.01)
    await handle
    sent = [u["parts"] for u in comms[-1].updates() if "parts" in u]
    boundaries = len(Document.from_events(recording.events).parts)
    assert 2 <= len(sent) <= boundaries + 2, len(sent)  # one per part (a few share a frame)
    assert sent[-1] == view.document.parts_wire() == view.parts
    assert sent[-1][-1]["end"] is not None  # the finished reply's runs are all closed
    text = view.text
    last = sent[-1][-1]
    assert text[last["start"] : last["end"]].startswith("The week stays dry")  # ASCII: = UTF-16


def test_chat_turns_and_the_player_carry_the_parts():
    from streamwidget.widgets.chat import assistant_turn
    from streamwidget.widgets.player import Player

    recording = Recording.load(AGENT)
    doc = recording.document()
    assert assistant_turn("m1", doc)["parts"] == doc.parts_wire()
    player = Player(AGENT, position=0)
    assert player.parts == []
    player.seek(len(recording.events) // 2)
    middle = Document.from_events(recording.events[: len(recording.events) // 2])
    assert player.parts == middle.parts_wire() and player.parts


def test_parts_saved_as_dicts_restore_and_fold_on_the_same():
    from streamwidget.parts import Parts

    events = Recording.load(AGENT).events
    cut = next(i for i, e in enumerate(events) if e["type"] == "tool_result") + 1
    head = Document.from_events(events[:cut])
    saved = [part.to_dict() for part in head.parts]
    restored = Document(
        "s", text=head.text, reasoning=head.reasoning, tool_calls=head.tool_calls,
        status=head.status, parts=Parts.restore(saved, after_result=True),
    )  # fmt: skip
    assert restored.parts == head.parts
    for event in events[cut:]:
        restored.apply(event)
    assert restored.parts == Document.from_events(events).parts


async def test_stored_documents_keep_their_parts(tmp_path):
    recording = Recording.load(AGENT)
    path = tmp_path / "s.duckdb"
    with Store(path) as store:
        sid = (await start(ReplayProvider(recording, speed=0), store=store)).stream_id
    with Store(path) as store:
        ((stored,),) = store.sql("SELECT parts FROM streams").fetchall()
        doc = store.get(sid)
    assert stored is not None, "the parts are written with the document"
    assert untimed(doc) == untimed(Document.from_events(recording.events))
    assert [p.kind for p in doc.parts][:3] == ["reasoning", "text", "tool"]


def test_a_store_file_from_the_release_before_parts_opens_and_reads_in_order(tmp_path):
    import gzip
    import shutil

    path = tmp_path / "old.duckdb"
    with gzip.open(AGENT.parent / "store-before-parts.duckdb.gz") as src, path.open("wb") as dst:
        shutil.copyfileobj(src, dst)
    with Store(path) as store:  # the column is added in place
        ((sid, before),) = store.sql("SELECT id, parts FROM streams").fetchall()
        doc = store.get(sid)
        events = store.events(sid)
    assert before is None  # old rows have none: they are folded from their events on read
    assert doc.parts == Document.from_events(events).parts
    assert [p.kind for p in doc.parts] == [
        "reasoning", "text", "tool", "step", "text", "tool", "step", "text",
    ]  # fmt: skip
    with Store(path) as again:  # opening twice is fine (the migration is idempotent)
        assert again.get(sid).parts == doc.parts
