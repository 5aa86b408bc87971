import asyncio
import time

import pytest

from streamwidget import ChatRequest, Recording, ReplayProvider, Store, start


class ScriptedProvider:
    """A provider that yields given events, optionally pausing or failing midway."""

    name = "scripted"
    model = "script-1"

    def __init__(self, events, *, pause_after=None, fail_after=None):
        self.events = events
        self.pause_after = pause_after
        self.fail_after = fail_after
        self.closed = False

    def describe(self, request):
        return {"messages": request.messages}

    async def stream(self, request):
        try:
            for i, event in enumerate(self.events):
                if i == self.fail_after:
                    raise ConnectionResetError("peer went away")
                if i == self.pause_after:
                    await asyncio.sleep(3600)
                yield event
                await asyncio.sleep(0)
        finally:
            self.closed = True


def words(n):
    return [{"type": "text", "text": f"w{i} "} for i in range(n)]


FINISH = {"type": "finish", "reason": "stop"}


async def test_a_stream_runs_on_the_running_loop_and_ends_complete():
    store = Store(":memory:")
    handle = start(
        ScriptedProvider([*words(5), FINISH]),
        store=store,
        request=ChatRequest(messages=[{"role": "user", "content": "hi"}]),
    )
    assert asyncio.get_running_loop() is handle._loop
    doc = await handle
    assert doc.status == "complete" and doc.text == "w0 w1 w2 w3 w4 "
    assert store.recording(handle.id).header["request"] == {
        "messages": [{"role": "user", "content": "hi"}]
    }
    ts = [e["t"] for e in store.events(handle.id)]
    assert ts == sorted(ts)


async def test_cancel_keeps_the_partial_text_and_closes_the_provider():
    store = Store(":memory:")
    provider = ScriptedProvider([*words(10), FINISH], pause_after=4)
    handle = start(provider, store=store)
    while store.get(handle.id).text.count("w") < 4:
        await asyncio.sleep(0.01)
    handle.cancel()
    doc = await handle
    assert doc.status == "cancelled"
    assert doc.text == "w0 w1 w2 w3 "
    assert provider.closed
    assert store.events(handle.id)[-1]["type"] == "cancelled"


async def test_cancel_before_the_first_step_still_ends_the_stream():
    store = Store(":memory:")
    handle = start(ScriptedProvider([*words(3), FINISH]), store=store)
    handle.cancel()
    doc = await handle
    assert doc.status == "cancelled"
    assert store.get(handle.id).status == "cancelled"


def test_cancel_outside_a_loop_waits_for_the_stream_to_end_once():
    # a script (no running loop): the stream runs on the background loop; wait() after
    # cancel() returns the ended document, with exactly one terminal event
    for pause in (None, 4):  # before the first step, and in the middle of the reply
        store = Store(":memory:")
        provider = ScriptedProvider([*words(10), FINISH], pause_after=pause or 0)
        handle = start(provider, store=store)
        if pause:
            deadline = time.monotonic() + 10
            while store.get(handle.id).text.count("w") < pause and time.monotonic() < deadline:
                time.sleep(0.005)
        handle.cancel()
        doc = handle.wait(10)
        assert doc.status == "cancelled", pause
        assert handle.done()
        kinds = [e["type"] for e in store.events(handle.id)]
        assert kinds.count("cancelled") == 1 and kinds[-1] == "cancelled", kinds
        if pause:
            assert doc.text == "w0 w1 w2 w3 " and provider.closed
        store.close()


async def test_a_provider_failing_midway_ends_in_error_with_text_kept():
    store = Store(":memory:")
    handle = start(ScriptedProvider([*words(6), FINISH], fail_after=3), store=store)
    doc = await handle
    assert doc.status == "error"
    assert doc.error["kind"] == "internal"
    assert "ConnectionResetError" in doc.error["message"]
    assert doc.text == "w0 w1 w2 "


async def test_a_stream_without_an_end_marker_is_incomplete_not_complete():
    doc = await start(ScriptedProvider(words(3)), store=Store(":memory:"))
    assert doc.status == "error" and doc.error["kind"] == "incomplete"
    assert doc.text == "w0 w1 w2 "


async def test_a_malformed_event_from_a_provider_is_an_error_not_a_crash():
    doc = await start(ScriptedProvider([words(1)[0], {"type": "text"}]), store=Store(":memory:"))
    assert doc.status == "error" and "needs field 'text'" in doc.error["message"]
    assert doc.text == "w0 "


async def test_exactly_one_terminal_event_whatever_happens():
    store = Store(":memory:")
    for provider in (
        ScriptedProvider([*words(2), FINISH, *words(2)]),
        ScriptedProvider(words(2), fail_after=1),
        ScriptedProvider(words(2)),
    ):
        handle = start(provider, store=store)
        await handle
        kinds = [e["type"] for e in store.events(handle.id)]
        assert sum(k in ("finish", "error", "cancelled") for k in kinds) == 1
        assert kinds[-1] in ("finish", "error", "cancelled")


def test_start_outside_a_loop_runs_in_the_background_and_wait_blocks():
    store = Store(":memory:")
    handle = start(ReplayProvider(Recording.bundled("hello"), speed=0), store=store)
    doc = handle.wait(timeout=10)
    assert doc.content_equal(Recording.bundled("hello").document())


async def test_wait_inside_the_loop_explains_to_use_await():
    handle = start(ScriptedProvider([FINISH]), store=Store(":memory:"))
    with pytest.raises(RuntimeError, match="await handle"):
        handle.wait()
    await handle


@pytest.mark.parametrize("name", ["markdown-tour", "weather-tool-error", "hello"])
async def test_replaying_any_recording_rebuilds_the_same_document(name):
    store = Store(":memory:")
    recording = Recording.bundled(name)
    doc = await start(ReplayProvider(recording, speed=0), store=store)
    assert doc.content_equal(recording.document())
    # ... and the stored stream's own recording replays to the same document again
    again = await start(ReplayProvider(store.recording(doc.stream_id), speed=0), store=store)
    assert again.content_equal(doc)


async def test_replay_keeps_the_recorded_pace():
    recording = Recording.new(
        provider="p",
        model="m",
        events=[
            {"t": 0.0, "type": "text", "text": "a"},
            {"t": 0.3, "type": "text", "text": "b"},
            {"t": 0.4, "type": "finish", "reason": "stop"},
        ],
    )
    store = Store(":memory:")
    handle = start(ReplayProvider(recording, speed=2.0), store=store)
    await handle
    ts = [e["t"] for e in store.events(handle.id)]
    assert ts[1] == pytest.approx(0.15, abs=0.05) and ts[2] == pytest.approx(0.2, abs=0.05)


def test_replay_speed_must_be_sensible():
    with pytest.raises(ValueError, match="speed must be a number >= 0"):
        ReplayProvider(Recording.bundled("hello"), speed=-1)


async def test_start_and_ask_take_a_model_string(comms):
    from streamwidget.shortcuts import ask

    store = Store(":memory:")
    doc = await start("replay:hello", store=store)
    assert doc.content_equal(Recording.bundled("hello").document())
    view = ask("replay:hello", "Say hello", system="Be brief", store=store)
    final = await view.handle
    assert final.status == "complete" and view.text == final.text
    assert store.recording(final.stream_id).header["request"]["replay_of"] == "bundled:hello"


def test_a_request_may_be_a_string_or_a_list_of_messages_and_anything_else_is_refused():
    from streamwidget.manager import as_request

    assert as_request("hi").messages == [{"role": "user", "content": "hi"}]
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]
    assert as_request(messages).messages == messages
    assert as_request(None).messages == []
    with pytest.raises(TypeError, match="request= takes a ChatRequest"):
        as_request(42)  # type: ignore[arg-type]
