"""Bad input everywhere: each gets a precise error, and the data already stored stays intact.

Covers malformed recordings, invalid tool arguments, unknown and malformed event types,
oversized documents (a 5 MB reply), invalid model strings and store paths nobody can write.
Guarantees listed in docs/guarantees.md.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import pytest

from streamwidget import (
    ChatRequest,
    Document,
    Recording,
    RecordingError,
    ReplayProvider,
    Store,
    StoreError,
    StreamView,
    start,
)
from streamwidget.events import EventError
from streamwidget.providers.errors import MissingAPIKeyError
from streamwidget.providers.models import resolve_model
from streamwidget.tools import tool
from streamwidget.widgets.stream_view import utf16_len

HEADER = '{"streamwidget": "recording", "version": 1, "provider": "p", "model": "m"}'


class Scripted:
    """A provider that plays one list of events per model step and keeps the requests."""

    name = "scripted"
    model = "scripted-1"

    def __init__(self, *steps: list[dict[str, Any]]):
        self.steps = list(steps)
        self.requests: list[ChatRequest] = []

    def describe(self, request: ChatRequest) -> dict[str, Any]:
        return {}

    async def stream(self, request: ChatRequest):
        self.requests.append(request)
        for event in self.steps.pop(0):
            await asyncio.sleep(0)
            yield event


def finished_stream(store: Store, text: str = "kept safe") -> str:
    """A complete stream already in the store: what every bad input must leave alone."""
    recording = Recording.new(
        provider="p",
        model="m",
        events=[
            {"t": 0.0, "type": "text", "text": text},
            {"t": 0.1, "type": "finish", "reason": "stop"},
        ],
    )
    return store.import_recording(recording)


def assert_intact(store: Store, stream_id: str, text: str = "kept safe") -> None:
    doc = store.get(stream_id)
    assert (doc.status, doc.text) == ("complete", text)
    assert [e["type"] for e in store.events(stream_id)] == ["text", "finish"]


# -- malformed recordings ---------------------------------------------------------------------

BAD_RECORDINGS = [
    # (text, line the error names, words the message must contain)
    ("", None, "empty"),
    ("\n\n  \n", None, "empty"),
    ("not json at all", 1, "not valid JSON"),
    ('{"streamwidget": "recording", "version": 2}', 1, "version 2"),
    ('["streamwidget", "recording"]', 1, "header"),
    (HEADER + "\n{]", 2, "not valid JSON"),
    (HEADER + "\n[1, 2, 3]", 2, "JSON object"),
    (HEADER + '\n"text"', 2, "JSON object"),
    (HEADER + '\n{"t": 0}', 2, "'type'"),
    (HEADER + '\n{"t": 0, "type": ""}', 2, "'type'"),
    (HEADER + '\n{"t": 0, "type": 7}', 2, "'type'"),
    (HEADER + '\n{"type": "text", "text": "x"}', 2, "number 't'"),
    (HEADER + '\n{"t": "0.1", "type": "text", "text": "x"}', 2, "number 't'"),
    (HEADER + '\n{"t": true, "type": "text", "text": "x"}', 2, "number 't'"),
    (HEADER + '\n{"t": NaN, "type": "text", "text": "x"}', 2, "finite"),
    (HEADER + '\n{"t": Infinity, "type": "text", "text": "x"}', 2, "finite"),
    (HEADER + '\n{"t": -1, "type": "text", "text": "x"}', 2, ">= 0"),
    (HEADER + '\n{"t": 0, "type": "text"}', 2, "field 'text'"),
    (HEADER + '\n{"t": 0, "type": "text", "text": 5}', 2, "field 'text' (str), got int"),
    (HEADER + '\n{"t": 0, "type": "tool_call_end", "id": "c", "arguments": "{}"}', 2, "dict"),
    (HEADER + '\n{"t": 0, "type": "error", "kind": "x"}', 2, "field 'message'"),
    (
        HEADER + '\n{"t": 1, "type": "text", "text": "a"}\n{"t": 0.5, "type": "text", "text": "b"}',
        3,
        "back in time",
    ),
    (
        HEADER + '\n{"t": 0, "type": "finish", "reason": "stop"}\n{"t": 1, "type": "text", '
        '"text": "late"}',
        3,
        "after the stream already ended",
    ),
]


@pytest.mark.parametrize(("text", "line", "words"), BAD_RECORDINGS)
def test_a_malformed_recording_is_a_recording_error_naming_source_line_and_problem(
    text, line, words
):
    with pytest.raises(RecordingError) as info:
        Recording.loads(text, source="bad.jsonl")
    error = info.value
    assert error.source == "bad.jsonl" and error.line == line
    assert words in str(error) and str(error).startswith("bad.jsonl")


def test_a_lenient_load_keeps_every_good_line_around_bad_ones():
    text = "\n".join(
        [
            HEADER,
            '{"t": 0, "type": "text", "text": "one "}',
            "{broken",
            '{"t": 0.1, "type": "text"}',
            '{"t": 0.2, "type": "text", "text": "two"}',
            '{"t": 0.3, "type": "finish", "reason": "stop"}',
        ]
    )
    recording = Recording.loads(text, strict=False)
    assert [p.line for p in recording.problems] == [3, 4]
    assert recording.document().text == "one two"


def test_unreadable_recording_files_are_recording_errors(tmp_path):
    binary = tmp_path / "binary.jsonl"
    binary.write_bytes(b"\xff\xfe\x00garbage\x80")
    with pytest.raises(RecordingError, match=r"binary\.jsonl: not UTF-8"):
        Recording.load(binary)
    with pytest.raises(RecordingError, match="no such file"):
        Recording.load(tmp_path / "missing.jsonl")


def test_a_folder_given_as_a_recording_is_a_recording_error(tmp_path):
    with pytest.raises(RecordingError, match="director"):
        Recording.load(tmp_path)


def test_importing_a_malformed_recording_changes_nothing_in_the_store(tmp_path):
    from streamwidget.transfer import BadLinesError, import_jsonl

    store = Store(tmp_path / "s.duckdb")
    kept = finished_stream(store)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(HEADER + '\n{"t": 0, "type": "text", "text": "x"}\n{oops\n')
    with pytest.raises(BadLinesError, match="line 3"):
        import_jsonl(bad, store=store)
    assert [s["id"] for s in store.streams()] == [kept]
    assert_intact(store, kept)
    store.close()


# -- invalid tool arguments -------------------------------------------------------------------


@tool
def get_weather(city: str, days: int = 1) -> dict:
    """Weather for a city.

    Args:
        city: City name.
        days: How many days.
    """
    return {"city": city, "days": days}


def ask(call_id: str, name: str, arguments: Any) -> list[dict[str, Any]]:
    return [
        {"type": "tool_call_start", "id": call_id, "name": name},
        {"type": "tool_call_end", "id": call_id, "arguments": arguments},
        {"type": "finish", "reason": "tool_calls"},
    ]


@pytest.mark.parametrize(
    ("name", "arguments", "message"),
    [
        ("get_weather", {"city": 3}, "argument 'city' must be string, got int 3"),
        ("get_weather", {}, "missing required argument(s) city"),
        ("get_weather", {"city": "Paris", "when": "now"}, "unknown argument(s) when"),
        ("get_weather", {"city": "Paris", "days": "two"}, "argument 'days' must be integer"),
        ("get_weather", {"city": "Paris", "days": True}, "argument 'days' must be integer"),
        ("launch_rockets", {}, "there is no tool named 'launch_rockets'"),
    ],
)
async def test_invalid_tool_arguments_become_a_precise_message_and_the_stream_goes_on(
    name, arguments, message
):
    store = Store(":memory:")
    kept = finished_stream(store)
    provider = Scripted(
        ask("call_1", name, arguments),
        [{"type": "text", "text": "Sorry."}, {"type": "finish", "reason": "stop"}],
    )
    doc = await start(provider, store=store, tools=[get_weather])
    assert doc.status == "complete" and doc.text == "Sorry."
    (call,) = doc.tool_calls
    assert call.status == "error" and message in call.error
    told = provider.requests[1].messages[-1]  # what the model heard back
    assert told["role"] == "tool" and message in told["content"]
    assert Document.from_events(store.events(doc.stream_id)).content_equal(doc)
    assert_intact(store, kept)


async def test_tool_arguments_that_are_not_json_end_the_stream_with_a_server_error():
    import httpx

    from streamwidget.providers.openai import OpenAIProvider

    chunks = [
        {"choices": [{"index": 0, "delta": {"content": "Let me check."}}]},
        {
            "choices": [
                {
                    "index": 0,
                    "delta": {
                        "tool_calls": [
                            {
                                "index": 0,
                                "id": "call_9",
                                "function": {"name": "get_weather", "arguments": '{"city": Par'},
                            }
                        ]
                    },
                    "finish_reason": "tool_calls",
                }
            ]
        },
    ]
    body = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    provider = OpenAIProvider(
        "m", base_url="http://llm.test/v1", transport=httpx.MockTransport(handler)
    )
    store = Store(":memory:")
    doc = await start(provider, store=store, tools=[get_weather])
    assert doc.status == "error" and doc.error["kind"] == "server"
    assert "not a JSON object" in doc.error["message"] and "get_weather" in doc.error["message"]
    assert doc.text == "Let me check."  # the text so far is kept


# -- unknown and malformed event types --------------------------------------------------------


async def test_unknown_event_types_are_stored_replayed_and_skipped_by_the_document(comms):
    events = [
        {"type": "text", "text": "Hello"},
        {"type": "hologram", "frames": [1, 2, 3], "nested": {"deep": True}},
        {"type": "text", "text": " world"},
        {"type": "finish", "reason": "stop"},
    ]
    store = Store(":memory:")
    handle = start(Scripted(events), store=store)
    view = StreamView(handle)
    doc = await handle
    assert (doc.status, doc.text) == ("complete", "Hello world")
    stored = store.events(doc.stream_id)
    assert [e["type"] for e in stored] == ["text", "hologram", "text", "finish"]
    assert stored[1]["nested"] == {"deep": True}
    recording = Recording.loads(store.recording(doc.stream_id).dumps())
    assert recording.document().content_equal(doc)
    assert view.text == "Hello world" and view.status == "complete"


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"type": "text"}, "'text'"),
        ({"type": "text", "text": None}, "'text'"),
        ({"type": "tool_call_start", "id": 5, "name": "x"}, "'id'"),
        ({"type": "tool_call_end", "id": "c", "arguments": [1]}, "'arguments'"),
        ({"type": "error", "kind": "x"}, "'message'"),
        ({"type": ""}, "'type'"),
        ("not an event", "JSON object"),
    ],
)
async def test_a_malformed_event_from_a_provider_ends_the_stream_with_a_clear_error(event, field):
    store = Store(":memory:")
    kept = finished_stream(store)
    provider = Scripted([{"type": "text", "text": "so far"}, event, {"type": "text", "text": "!"}])
    doc = await start(provider, store=store)
    assert doc.status == "error" and doc.error["kind"] == "internal"
    assert field in doc.error["message"] and "scripted" in doc.error["message"]
    assert doc.text == "so far"
    assert Document.from_events(store.events(doc.stream_id)).content_equal(doc)
    assert_intact(store, kept)


def test_store_append_rejects_a_malformed_event_and_changes_nothing():
    store = Store(":memory:")
    sid = store.create_stream(provider="p", model="m")
    store.append(sid, {"t": 0.0, "type": "text", "text": "a"})
    before = store.get(sid).to_dict()
    with pytest.raises(EventError):
        store.append(sid, {"t": 0.1, "type": "text"})
    assert store.get(sid).to_dict() == before
    store.append(sid, {"t": 0.2, "type": "finish", "reason": "stop"})
    replayed, stored = Document.from_events(store.events(sid), sid), store.get(sid)
    assert replayed.content_equal(stored) and replayed.version == stored.version == 2


# -- oversized documents ----------------------------------------------------------------------

FIVE_MB = 5 * 1024 * 1024


def big_text(size: int) -> str:
    line = "Lorem ipsum dolor sit amet, émoji 🌧️, code `x < y` and **bold**. "
    text = (line * (size // len(line.encode()) + 1)).encode()[:size].decode("utf-8", "ignore")
    return text


async def test_a_5_mb_reply_streams_into_store_and_view_exactly_with_linear_bytes(comms, tmp_path):
    text = big_text(FIVE_MB)
    piece = 256
    events = [
        {"t": i * 1e-6, "type": "text", "text": text[i : i + piece]}
        for i in range(0, len(text), piece)
    ]
    events.append({"t": 1.0, "type": "finish", "reason": "stop"})
    recording = Recording.new(provider="p", model="big", events=events)
    store = Store(tmp_path / "big.duckdb")
    handle = start(ReplayProvider(recording, speed=0), store=store)
    view = StreamView(handle, frame_interval=0.02)
    comm = comms[-1]
    doc = await handle
    assert doc.status == "complete" and doc.text == text
    # the front end's rebuild of the deltas is the text, in order, without gaps
    rebuilt = ""
    for msg in comm.custom():
        if msg["kind"] == "delta" and msg["field"] == "text":
            assert msg["at"] == utf16_len(rebuilt)
            rebuilt += msg["text"]
    assert rebuilt == text and view.text == text
    # the text goes once as deltas and once as the final trait: linear, not quadratic
    assert comm.nbytes() < 2.1 * len(json.dumps(text)) + 100_000
    store.close()
    with Store(tmp_path / "big.duckdb") as again:
        stored = again.get(doc.stream_id)
        assert stored.text == text and stored.status == "complete"
        assert again.recording(doc.stream_id).document().text == text


def test_one_5_mb_event_and_its_recording_round_trip(tmp_path):
    text = big_text(FIVE_MB)
    recording = Recording.new(
        provider="p",
        model="m",
        events=[
            {"t": 0.0, "type": "text", "text": text},
            {"t": 0.1, "type": "finish", "reason": "stop"},
        ],
    )
    path = recording.save(tmp_path / "big.jsonl")
    assert Recording.load(path).document().text == text
    store = Store(tmp_path / "one.duckdb")
    sid = store.import_recording(Recording.load(path))
    assert store.get(sid).text == text
    store.close()


# -- invalid model strings --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "error", "words"),
    [
        ("", ValueError, "needs a prefix"),
        (
            "gpt-4o",
            ValueError,
            "needs a prefix: one of openai:, openai-responses:, anthropic:, gemini:, ollama:,"
            " replay:",
        ),
        ("openai:", ValueError, "needs a prefix"),
        ("mistral:large", ValueError, "unknown model prefix 'mistral'"),
        (":model", ValueError, "unknown model prefix ''"),
        (42, TypeError, "'prefix:model' string, a Provider or an SDK stream"),
        (None, TypeError, "'prefix:model' string, a Provider or an SDK stream"),
        ({"model": "x"}, ValueError, "needs 'provider' and 'model'"),
        ("replay:no-such-recording", RecordingError, "no bundled recording named"),
        ("openai:gpt-4o@ftp://x", MissingAPIKeyError, "OPENAI_API_KEY"),
    ],
)
def test_an_invalid_model_string_is_a_precise_error_and_creates_no_stream(
    spec, error, words, monkeypatch
):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(error) as info:
        resolve_model(spec)
    assert words in str(info.value)
    store = Store(":memory:")
    kept = finished_stream(store)
    if isinstance(spec, str):
        with pytest.raises(error):
            start(spec, store=store)
    assert [s["id"] for s in store.streams()] == [kept]


def test_a_bad_replay_speed_is_a_value_error():
    for speed in (-1, float("nan"), "fast", True):
        with pytest.raises(ValueError, match="speed must be a number >= 0"):
            ReplayProvider(Recording.bundled("hello"), speed=speed)


# -- store paths nobody can write -------------------------------------------------------------


def unwritable_paths(tmp_path: Path) -> list[str]:
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    return [
        str(a_file / "sub" / "store.duckdb"),  # the "folder" is a file
        "/proc/streamwidget-test/store.duckdb",  # cannot be created, even by root
    ]


def test_a_store_path_whose_folder_cannot_be_made_is_a_precise_store_error(tmp_path):
    for path in unwritable_paths(tmp_path):
        with pytest.raises(StoreError) as info:
            Store(path)
        message = str(info.value)
        assert path in message
        assert "writable place" in message and "STREAMWIDGET_STORE" in message


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a read-only folder")
def test_a_store_in_a_read_only_folder_is_a_precise_store_error(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(StoreError, match="not writable.*STREAMWIDGET_STORE"):
            Store(folder / "store.duckdb")
    finally:
        folder.chmod(0o755)


def test_a_store_on_a_read_only_file_system_says_to_choose_a_writable_place():
    with pytest.raises(StoreError, match="writable place"):
        Store("/sys/streamwidget-store.duckdb")


def test_a_bad_default_store_path_leaves_import_working_and_errors_each_time(tmp_path, monkeypatch):
    import streamwidget
    from streamwidget.store import core as store_module  # where the default store lives

    monkeypatch.setenv("STREAMWIDGET_STORE", unwritable_paths(tmp_path)[0])
    monkeypatch.setattr(store_module, "_default", None)
    assert streamwidget.StreamView and streamwidget.Recording  # the package still works
    for _ in range(2):  # an error each time, never a half-open store that sticks
        with pytest.raises(StoreError, match="writable place"):
            streamwidget.default_store()
        with pytest.raises(StoreError, match="writable place"):
            streamwidget.replay("hello", speed=0)
