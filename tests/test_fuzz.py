"""Fuzzing (hypothesis): the recording loader and each provider's wire parser.

Documented outcomes (docs/guarantees.md):

- ``Recording.loads`` either returns a recording or raises :class:`RecordingError`; a
  recording that loads folds into a document and survives ``dumps``/``loads`` unchanged.
- A provider's ``stream()`` never raises, whatever bytes the server sends: it yields valid
  events and ends with exactly one terminal event (``finish`` or ``error``), last.

Example counts are kept small (100) so each test takes about a second; run with
``--hypothesis-seed=...`` (printed on failure) to reproduce one.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from streamwidget import Recording, RecordingError, Store
from streamwidget.events import ERROR_KINDS, validate_event
from streamwidget.providers.anthropic import AnthropicProvider
from streamwidget.providers.base import ChatRequest
from streamwidget.providers.ollama import OllamaProvider
from streamwidget.providers.openai import OpenAIProvider

FAST = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# -- the recording loader ---------------------------------------------------------------------

HEADER = {"streamwidget": "recording", "version": 1, "provider": "p", "model": "m"}
EVENT_TYPES = [
    "text",
    "reasoning",
    "tool_call_start",
    "tool_call_delta",
    "tool_call_end",
    "tool_status",
    "tool_result",
    "usage",
    "finish",
    "error",
    "cancelled",
    "interrupted",
    "some_future_type",
]
FIELD_NAMES = ["t", "type", "text", "id", "name", "args_delta", "arguments", "status", "reason"]
FIELD_NAMES += ["kind", "message", "result", "error", "input_tokens"]

no_surrogates = st.characters(blacklist_categories=("Cs",))
json_leaf = (
    st.none()
    | st.booleans()
    | st.integers(-5, 10**6)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(no_surrogates, max_size=8)
)
json_value = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(no_surrogates, max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
event_like = st.fixed_dictionaries(
    {"type": st.sampled_from(EVENT_TYPES) | json_leaf},
    optional={name: json_value for name in FIELD_NAMES if name != "type"}
    | {"t": st.floats(min_value=-1, max_value=100) | st.just(float("nan")) | json_leaf},
)


def dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


line = event_like.map(dump) | json_value.map(dump) | st.text(no_surrogates, max_size=30)
recording_text = st.builds(
    lambda header, lines, eol: eol.join([header, *lines]),
    st.just(dump(HEADER)) | json_value.map(dump) | st.text(max_size=20),
    st.lists(line, max_size=12),
    st.sampled_from(["\n", "\r\n", "\n\n"]),
)


def check_loaded(recording: Recording) -> None:
    document = recording.document()  # a loaded recording always folds into a document
    assert document.version == len(recording.events)
    again = Recording.loads(recording.dumps())
    assert again.events == recording.events and again.header == recording.header


@FAST
@given(st.text(max_size=300))
def test_recording_loads_of_any_text_is_a_recording_or_a_recording_error(text):
    for strict in (True, False):
        with contextlib.suppress(RecordingError):
            check_loaded(Recording.loads(text, strict=strict))


@FAST
@given(recording_text)
def test_recording_loads_of_json_lines_is_a_recording_or_a_recording_error(text):
    try:
        recording = Recording.loads(text)
    except RecordingError as exc:
        assert exc.line is None or exc.line >= 1
        lenient = None
    else:
        check_loaded(recording)
        lenient = Recording.loads(text, strict=False)
        assert lenient.events == recording.events and not lenient.problems
    if lenient is None:
        try:
            lenient = Recording.loads(text, strict=False)
        except RecordingError as exc:  # only a missing or bad header stops a lenient load
            # JSON Lines break at "\n" only (not at U+2028, \x85, ...: JSON strings hold those)
            lines = [i for i, s in enumerate(text.split("\n"), 1) if s.strip()]
            assert exc.line == (lines[0] if lines else None)
            return
        check_loaded(lenient)


BUNDLED = Recording.bundled("weather-tool-error").dumps()


@st.composite
def mutated_recording(draw: st.DrawFn) -> str:
    text = BUNDLED
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(text)))
        cut = draw(st.integers(0, 12))
        insert = draw(st.sampled_from(['"', "{", "}", ",", ":", "\n", "-1", "1e999", "null", "\\"]))
        text = text[:at] + insert + text[at + cut :]
    return text


@FAST
@given(mutated_recording())
def test_damaged_bundled_recordings_load_or_fail_with_a_recording_error(text):
    for strict in (True, False):
        with contextlib.suppress(RecordingError):
            check_loaded(Recording.loads(text, strict=strict))


@settings(max_examples=40, deadline=None)
@given(recording_text)
def test_what_loads_imports_into_a_store_as_the_same_document(text):
    try:
        recording = Recording.loads(text, strict=False)
    except RecordingError:
        return
    store = Store(":memory:")
    try:
        stream_id = store.import_recording(recording)
        stored = store.get(stream_id)
        events = store.events(stream_id)
        assert (
            Recording.new(provider="p", model="m", events=events).document().content_equal(stored)
        )
    finally:
        store.close()


# -- provider parsers -------------------------------------------------------------------------


class Body(httpx.AsyncByteStream):
    def __init__(self, chunks: list[bytes]):
        self.chunks = chunks

    async def __aiter__(self):
        for chunk in self.chunks:
            yield chunk

    async def aclose(self) -> None:
        pass


def provider(kind: str, chunks: list[bytes], content_type: str | None = None):
    if content_type is None:
        content_type = "application/x-ndjson" if kind == "ollama" else "text/event-stream"

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": content_type}, stream=Body(chunks))

    common = {"transport": httpx.MockTransport(handler), "max_retries": 0}
    if kind == "openai":
        return OpenAIProvider("m", base_url="http://llm.test/v1", **common)
    if kind == "anthropic":
        return AnthropicProvider("m", api_key="test-key-123", **common)
    return OllamaProvider("m", base_url="http://llm.test", **common)


def stream_events(kind: str, chunks: list[bytes], content_type: str | None = None):
    """Every event of one reply; fails the test if ``stream()`` raises."""
    p = provider(kind, chunks, content_type)

    async def go() -> list[dict[str, Any]]:
        request = ChatRequest(messages=[{"role": "user", "content": "hi"}])
        return [event async for event in p.stream(request)]

    return asyncio.run(go())


def check_events(events: list[dict[str, Any]]) -> None:
    assert events, "a stream yields at least its terminal event"
    for event in events:
        validate_event(event, require_t=False)
    terminals = [i for i, e in enumerate(events) if e["type"] in ("finish", "error")]
    assert terminals == [len(events) - 1], f"exactly one terminal event, last: {events}"
    if events[-1]["type"] == "error":
        assert events[-1]["kind"] in ERROR_KINDS and events[-1]["message"]


@st.composite
def chunked(draw: st.DrawFn, body: bytes) -> list[bytes]:
    """``body`` cut at random places (network chunks)."""
    cuts = sorted(draw(st.sets(st.integers(0, len(body)), max_size=6)))
    bounds = [0, *cuts, len(body)]
    return [body[a:b] for a, b in itertools.pairwise(bounds)]


def transcript(kind: str) -> bytes:
    """A valid reply on the wire, with text, a tool call and usage."""
    if kind == "openai":
        chunks = [
            {"choices": [{"index": 0, "delta": {"content": "Hi 👋"}}]},
            {
                "choices": [
                    {
                        "index": 0,
                        "delta": {
                            "tool_calls": [
                                {"index": 0, "id": "c1", "function": {"name": "f", "arguments": ""}}
                            ]
                        },
                    }
                ]
            },
            {
                "choices": [
                    {
                        "index": 0,
                        "delta": {
                            "tool_calls": [{"index": 0, "function": {"arguments": '{"a":1}'}}]
                        },
                    }
                ]
            },
            {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
            {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4}},
        ]
        return ("".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n").encode()
    if kind == "anthropic":
        items = [
            {"type": "message_start", "message": {"usage": {"input_tokens": 3}}},
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text"}},
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": "Hi 👋"},
            },
            {"type": "content_block_stop", "index": 0},
            {
                "type": "content_block_start",
                "index": 1,
                "content_block": {"type": "tool_use", "id": "t1", "name": "f", "input": {}},
            },
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "input_json_delta", "partial_json": '{"a":1}'},
            },
            {"type": "content_block_stop", "index": 1},
            {
                "type": "message_delta",
                "delta": {"stop_reason": "tool_use"},
                "usage": {"output_tokens": 4},
            },
            {"type": "message_stop"},
        ]
        return "".join(f"event: {i['type']}\ndata: {json.dumps(i)}\n\n" for i in items).encode()
    lines = [
        {"message": {"role": "assistant", "content": "Hi 👋"}, "done": False},
        {
            "message": {"tool_calls": [{"function": {"name": "f", "arguments": {"a": 1}}}]},
            "done": False,
        },
        {"done": True, "done_reason": "stop", "prompt_eval_count": 3, "eval_count": 4},
    ]
    return "".join(json.dumps(x) + "\n" for x in lines).encode()


KINDS = ["openai", "anthropic", "ollama"]


@pytest.mark.parametrize("kind", KINDS)
def test_the_valid_transcripts_parse_to_a_finished_reply(kind):
    events = stream_events(kind, [transcript(kind)])
    check_events(events)
    assert events[-1]["type"] == "finish"
    assert "".join(e["text"] for e in events if e["type"] == "text") == "Hi 👋"


@pytest.mark.parametrize("kind", KINDS)
@FAST
@given(data=st.data())
def test_any_bytes_from_the_server_end_the_stream_with_one_terminal_event(kind, data):
    body = data.draw(st.binary(max_size=400) | st.text(max_size=200).map(str.encode))
    content_type = data.draw(
        st.none() | st.sampled_from(["text/event-stream", "application/json", ""])
    )
    check_events(stream_events(kind, data.draw(chunked(body)), content_type))


@pytest.mark.parametrize("kind", KINDS)
@FAST
@given(data=st.data())
def test_a_damaged_transcript_ends_the_stream_with_one_terminal_event(kind, data):
    body = bytearray(transcript(kind))
    for _ in range(data.draw(st.integers(1, 5))):
        at = data.draw(st.integers(0, len(body)))
        cut = data.draw(st.integers(0, 20))
        body[at : at + cut] = data.draw(
            st.sampled_from([b"", b"\n", b"\n\n", b'"', b"{", b"}", b"data: ", b"\xff", b"null"])
        )
    check_events(stream_events(kind, data.draw(chunked(bytes(body)))))


# Wire shapes: the right framing with JSON of the wrong types inside (the parsers' own logic).
leaf = st.none() | st.booleans() | st.integers(-2, 3) | st.text(no_surrogates, max_size=5)
leaf |= st.just({}) | st.just([])


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return strategy | leaf


def obj(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional={k: maybe(v) for k, v in fields.items()})


openai_chunk = obj(
    choices=st.lists(
        maybe(
            obj(
                index=st.just(0),
                finish_reason=st.sampled_from(["stop", "tool_calls", "length"]),
                delta=obj(
                    content=st.text(no_surrogates, max_size=5),
                    reasoning_content=st.text(no_surrogates, max_size=5),
                    tool_calls=st.lists(
                        maybe(
                            obj(
                                index=st.integers(0, 2),
                                id=st.sampled_from(["c1", "c2", ""]),
                                function=obj(
                                    name=st.sampled_from(["f", "g", ""]),
                                    arguments=st.sampled_from(['{"a"', ": 1}", "{}", "x", ""]),
                                ),
                            )
                        ),
                        max_size=3,
                    ),
                ),
            )
        ),
        max_size=2,
    ),
    usage=obj(prompt_tokens=st.integers(0, 9), completion_tokens=st.integers(0, 9)),
    error=obj(message=st.text(max_size=5), type=st.sampled_from(["overloaded_error", "x"])),
)
anthropic_event = st.one_of(
    st.builds(
        dict, type=st.just("message_start"), message=maybe(obj(usage=obj(input_tokens=leaf)))
    ),
    st.builds(
        dict,
        type=st.just("content_block_start"),
        index=maybe(st.integers(0, 2)),
        content_block=maybe(
            obj(
                type=st.sampled_from(["text", "tool_use", "thinking"]),
                id=st.just("t1"),
                name=st.just("f"),
            )
        ),
    ),
    st.builds(
        dict,
        type=st.just("content_block_delta"),
        index=maybe(st.integers(0, 2)),
        delta=maybe(
            obj(
                type=st.sampled_from(["text_delta", "input_json_delta", "thinking_delta"]),
                text=st.text(no_surrogates, max_size=4),
                partial_json=st.sampled_from(['{"a"', ":1}", "x"]),
                thinking=st.text(no_surrogates, max_size=4),
            )
        ),
    ),
    st.builds(dict, type=st.just("content_block_stop"), index=maybe(st.integers(0, 2))),
    st.builds(
        dict,
        type=st.just("message_delta"),
        delta=maybe(obj(stop_reason=st.sampled_from(["end_turn", "tool_use"]))),
    ),
    st.just({"type": "message_stop"}),
    st.builds(dict, type=st.just("error"), error=maybe(obj(type=leaf, message=leaf))),
)
ollama_line = obj(
    message=obj(
        content=st.text(no_surrogates, max_size=5),
        thinking=st.text(no_surrogates, max_size=5),
        tool_calls=st.lists(
            maybe(obj(function=obj(name=st.just("f"), arguments=st.just({"a": 1})))), max_size=2
        ),
    ),
    done=st.booleans(),
    done_reason=st.just("stop"),
    eval_count=st.integers(0, 5),
    error=st.text(max_size=4),
)
SHAPES = {"openai": openai_chunk, "anthropic": anthropic_event, "ollama": ollama_line}


def frame(kind: str, items: list[Any], done: bool) -> bytes:
    if kind == "ollama":
        return "".join(json.dumps(i) + "\n" for i in items).encode()
    if kind == "openai":
        tail = "data: [DONE]\n\n" if done else ""
        return ("".join(f"data: {json.dumps(i)}\n\n" for i in items) + tail).encode()
    return "".join(f"event: {i['type']}\ndata: {json.dumps(i)}\n\n" for i in items).encode()


@pytest.mark.parametrize("kind", KINDS)
@FAST
@given(data=st.data())
def test_well_framed_json_of_any_shape_ends_the_stream_with_one_terminal_event(kind, data):
    items = data.draw(st.lists(SHAPES[kind], max_size=8))
    body = frame(kind, items, data.draw(st.booleans()))
    check_events(stream_events(kind, data.draw(chunked(body))))


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=300, deadline=None, phases=[Phase.generate])
@given(data=st.data())
def test_json_of_an_unexpected_shape_is_a_server_error_not_an_internal_one(kind, data):
    items = data.draw(st.lists(SHAPES[kind], max_size=8))
    events = stream_events(kind, [frame(kind, items, data.draw(st.booleans()))])
    check_events(events)
    assert events[-1].get("kind") != "internal", events[-1]["message"]
