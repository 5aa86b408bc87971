import asyncio
import json
import time

import pytest

from streamwidget import Recording, ReplayProvider, Store, StreamView, start
from streamwidget.widgets.stream_view import utf16_len


def token_recording(n, token="tok ", gap=0.0):
    events = [{"t": i * gap, "type": "text", "text": token} for i in range(n)]
    events.append({"t": n * gap, "type": "finish", "reason": "stop"})
    return Recording.new(provider="p", model="m", events=events)


def rebuild(deltas, field="text"):
    """What a front end builds from the deltas, checking offsets as it goes."""
    text = ""
    for d in (d for d in deltas if d["kind"] == "delta" and d["field"] == field):
        assert d["at"] == utf16_len(text), "deltas must be contiguous"
        text += d["text"]
    return text


async def stream_into_view(recording, comms, speed=0.0, **view_kwargs):
    store = Store(":memory:")
    handle = start(ReplayProvider(recording, speed=speed), store=store)
    view = StreamView(handle, **view_kwargs)
    await handle
    return view, comms[-1]


async def test_deltas_rebuild_the_text_and_the_final_state_holds_it(comms):
    recording = Recording.bundled("markdown-tour")
    view, comm = await stream_into_view(recording, comms)
    final = recording.document().text
    assert rebuild(comm.custom()) == final
    assert view.text == final and view.status == "complete"
    assert comm.updates()[-1]["text"] == final  # a saved notebook shows the final text


async def test_astral_characters_advance_offsets_in_utf16_units(comms):
    _, comm = await stream_into_view(
        token_recording(50, token="a🌧️é", gap=0.002), comms, speed=1.0, frame_interval=0
    )
    deltas = comm.custom()
    assert len(deltas) > 1
    assert rebuild(deltas) == "a🌧️é" * 50
    assert deltas[1]["at"] == utf16_len(deltas[0]["text"]) != len(deltas[0]["text"])


async def test_text_is_coalesced_into_frames_not_sent_per_token(comms):
    # 400 tokens over ~0.4 s with 50 ms frames: about 8 frames, not 400 messages
    _, comm = await stream_into_view(
        token_recording(400, gap=0.001), comms, speed=1.0, frame_interval=0.05
    )
    frames = [d for d in comm.custom() if d["kind"] == "delta"]
    assert 2 <= len(frames) <= 16
    assert rebuild(frames) == "tok " * 400


async def test_bytes_grow_linearly_with_the_text_not_quadratically(comms):
    sizes = {}
    for n in (500, 4000):
        _, comm = await stream_into_view(
            token_recording(n, gap=0.0005), comms, speed=1.0, frame_interval=0.02
        )
        sizes[n] = comm.nbytes()
    text_bytes = {n: len(("tok " * n).encode()) for n in sizes}
    growth = sizes[4000] / sizes[500]
    assert growth < 9, f"8x the text cost {growth:.1f}x the bytes"  # quadratic would be ~64x
    assert sizes[4000] < 3 * text_bytes[4000] + 20_000  # deltas + final text, small overhead


async def test_a_view_opened_mid_stream_gets_a_snapshot_then_contiguous_deltas(comms):
    store = Store(":memory:")
    handle = start(ReplayProvider(token_recording(200, gap=0.002), speed=1.0), store=store)
    while len(store.get(handle.id).text) < 100:
        await asyncio.sleep(0.005)
    view = StreamView(handle.id, store=store, frame_interval=0.01)
    comm = comms[-1]
    view._handle_custom_msg({"kind": "resync"}, [])  # what the front end sends on load
    await handle
    messages = comm.custom()
    snapshot = next(m for m in messages if m["kind"] == "snapshot")
    text = snapshot["text"]
    for d in messages[messages.index(snapshot) + 1 :]:
        # a delta may overlap what the snapshot already had; never leave a gap
        assert d["at"] <= utf16_len(text)
        text = text[: d["at"]] + d["text"] if d["at"] + len(d["text"]) > len(text) else text
    assert text == "tok " * 200 == view.text


async def test_tool_calls_and_errors_travel_as_state(comms):
    view, comm = await stream_into_view(Recording.bundled("weather-tool-error"), comms)
    assert view.status == "error"
    assert view.error["kind"] == "overloaded"
    assert view.tool_calls[0]["name"] == "get_weather"
    assert view.tool_calls[0]["status"] == "done"
    statuses = [u["status"] for u in comm.updates() if "status" in u]
    assert statuses[-1] == "error"
    assert rebuild(comm.custom(), "reasoning") == view.reasoning != ""


def test_a_finished_stream_shows_its_final_document_at_once(comms):
    store = Store(":memory:")
    doc = start(ReplayProvider(Recording.bundled("hello"), speed=0), store=store).wait(10)
    view = StreamView(doc.stream_id, store=store)
    assert view.text == doc.text and view.status == "complete"
    assert "StreamView(" in repr(view) and "complete" in repr(view)


def test_unknown_arguments_are_rejected_clearly():
    with pytest.raises(TypeError, match="unexpected argument.*colour"):
        StreamView("s_x", store=Store(":memory:"), colour="red")
    with pytest.raises(TypeError, match="needs a StreamHandle, a stream id or an SDK stream"):
        StreamView(42)


def test_state_is_json_serializable_for_saved_notebooks(comms):
    store = Store(":memory:")
    doc = start(ReplayProvider(Recording.bundled("weather-tool-error"), speed=0), store=store).wait(
        10
    )
    view = StreamView(doc.stream_id, store=store)
    state = view.get_state()
    saved = json.loads(json.dumps(state))  # what a saved notebook holds, read back
    assert saved["status"] == doc.status and saved["text"] == doc.text
    assert saved["error"] == doc.error
    assert [c["name"] for c in saved["tool_calls"]] == [c.name for c in doc.tool_calls] != []


async def test_the_first_token_switches_the_status_to_streaming_in_the_next_frame(comms):
    store = Store(":memory:")
    handle = start(ReplayProvider(token_recording(40, gap=0.01), speed=1.0), store=store)
    view = StreamView(handle, frame_interval=0.02)
    deadline = time.monotonic() + 10
    while "tok tok " not in store.get(handle.id).text:
        assert time.monotonic() < deadline, "the replay never produced two tokens"
        await asyncio.sleep(0.005)
    await asyncio.sleep(0.05)
    assert view.status == "streaming"
    assert view.meta["first_token_t"] is not None
    await handle


async def test_a_front_end_that_spoke_gets_a_quiet_end_with_lengths_to_check(comms):
    # every front end asks for a resync when it connects; from then on it builds the text from
    # the deltas, so the end of the stream does not send the whole text a second time
    store = Store(":memory:")
    handle = start(ReplayProvider(token_recording(300, token="é🌧️ ", gap=0.001)), store=store)
    view = StreamView(handle, frame_interval=0.01)
    comm = comms[-1]
    view._handle_custom_msg({"kind": "resync"}, [])
    await handle
    final = "é🌧️ " * 300
    assert view.text == final and view.status == "complete"  # the kernel side has it
    assert all(u.get("text", "") == "" for u in comm.updates())  # ...but did not resend it
    last = comm.updates()[-1]
    assert last["status"] == "complete"
    assert last["meta"]["text_length"] == utf16_len(final) != len(final)
    snapshot = next(m for m in comm.custom() if m["kind"] == "snapshot")
    deltas = [m for m in comm.custom() if m["kind"] == "delta"]
    assert snapshot["text"] + rebuild(deltas)[len(snapshot["text"]) :] == final
    # a front end that lost something asks again after the end and gets the whole document
    view._handle_custom_msg({"kind": "resync"}, [])
    assert comm.custom()[-1] == {"kind": "snapshot", "text": final, "reasoning": ""}
    # and a front end that connects later (page reload) gets the full state
    assert view.get_state()["text"] == final


async def test_quiet_end_bytes_are_close_to_the_text(comms):
    store = Store(":memory:")
    handle = start(ReplayProvider(token_recording(4000)), store=store)
    view = StreamView(handle, static_fallback=False)
    comm = comms[-1]
    view._handle_custom_msg({"kind": "resync"}, [])
    await handle
    text_bytes = len(("tok " * 4000).encode())
    assert view.text == "tok " * 4000
    assert comm.nbytes() < 1.2 * text_bytes + 2_000


async def test_the_static_fallback_is_updated_at_the_end_unless_turned_off(monkeypatch, comms):
    import IPython.display

    updates: list[dict] = []

    class Handle:
        def update(self, data, **kwargs):
            updates.append(data)

    monkeypatch.setattr(IPython.display, "display", lambda *a, **k: Handle())
    for fallback, expected in ((True, 1), (False, 0)):
        updates.clear()
        store = Store(":memory:")
        handle = start(ReplayProvider(Recording.bundled("hello"), speed=0), store=store)
        view = StreamView(handle, static_fallback=fallback)
        view._ipython_display_()
        await handle
        assert len(updates) == expected
        if expected:
            assert view.text in updates[0]["text/markdown"]
