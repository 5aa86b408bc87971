"""OpenAI-compatible chat completions: wire format → normalized events, and request → wire."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from streamwidget.document import Document
from streamwidget.events import validate_event
from streamwidget.providers.base import ChatRequest
from streamwidget.providers.errors import MissingAPIKeyError
from streamwidget.providers.openai import OpenAIProvider

URL = "http://llm.test/v1"
SSE = {"content-type": "text/event-stream; charset=utf-8"}


class Body(httpx.AsyncByteStream):
    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.closed = False

    async def __aiter__(self):
        for chunk in self.chunks:
            yield chunk

    async def aclose(self) -> None:
        self.closed = True


def sse(*payloads: Any, done: bool = True, eol: str = "\n") -> bytes:
    lines = [
        f"data: {p if isinstance(p, str) else json.dumps(p, ensure_ascii=False)}{eol}{eol}"
        for p in payloads
    ]
    if done:
        lines.append(f"data: [DONE]{eol}{eol}")
    return "".join(lines).encode()


def delta(index: int = 0, finish: str | None = None, **fields: Any) -> dict[str, Any]:
    return {"choices": [{"index": index, "delta": fields, "finish_reason": finish}]}


def call(index: int, id: str | None = None, name: str | None = None, args: str | None = None):
    fragment: dict[str, Any] = {"index": index, "function": {}}
    if id:
        fragment.update(id=id, type="function")
    if name:
        fragment["function"]["name"] = name
    if args is not None:
        fragment["function"]["arguments"] = args
    return fragment


def split(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def run(body: bytes | list[bytes], request: ChatRequest | None = None, **kwargs: Any):
    """Events for ``body`` (one chunk, or the given chunks), and the requests made."""
    chunks = body if isinstance(body, list) else [body]
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, headers=SSE, stream=Body(chunks))

    kwargs.setdefault("base_url", URL)
    p = OpenAIProvider("test-model", transport=httpx.MockTransport(handler), **kwargs)
    request = request or ChatRequest(messages=[{"role": "user", "content": "hi"}])

    async def go() -> list[dict[str, Any]]:
        return [e async for e in p.stream(request)]

    events = asyncio.run(go())
    for event in events:
        validate_event(event, require_t=False)
    return events, seen


HELLO = sse(
    delta(role="assistant"),
    delta(content="Hel"),
    delta(content="lo, "),
    delta(content="wörld ✓"),
    delta(finish="stop"),
    {
        "choices": [],
        "usage": {
            "prompt_tokens": 9,
            "completion_tokens": 4,
            "total_tokens": 13,
            "prompt_tokens_details": {"cached_tokens": 2},
        },
    },
)
HELLO_EVENTS = [
    {"type": "text", "text": "Hel"},
    {"type": "text", "text": "lo, "},
    {"type": "text", "text": "wörld ✓"},
    {"type": "usage", "input_tokens": 9, "output_tokens": 4, "cached_input_tokens": 2},
    {"type": "finish", "reason": "stop"},
]


def test_text_usage_then_finish() -> None:
    events, _ = run(HELLO)
    assert events == HELLO_EVENTS  # usage came after finish_reason on the wire, before here


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 64])
def test_chunks_split_anywhere_give_the_same_events(size: int) -> None:
    # size 1 splits every line, every "\n\n" and both multi-byte characters (ö, ✓)
    assert run(split(HELLO, size))[0] == HELLO_EVENTS


@pytest.mark.parametrize("size", [1, 4, 1000])
def test_crlf_line_endings(size: int) -> None:
    body = sse(delta(content="a"), delta(content="b"), delta(finish="stop"), eol="\r\n")
    events, _ = run(split(body, size))
    assert events == [
        {"type": "text", "text": "a"},
        {"type": "text", "text": "b"},
        {"type": "finish", "reason": "stop"},
    ]


def test_a_multibyte_character_split_across_chunks() -> None:
    body = sse(delta(content="€"), delta(finish="stop"))
    at = body.index("€".encode()) + 1  # between the first and second byte of three
    events, _ = run([body[:at], body[at:]])
    assert events[0] == {"type": "text", "text": "€"}


def test_comments_and_keepalives_are_ignored() -> None:
    body = b": keep-alive\n\n" + sse(delta(content="x"), delta(finish="length"))
    events, _ = run(body)
    assert events == [{"type": "text", "text": "x"}, {"type": "finish", "reason": "length"}]


def test_reasoning_deltas() -> None:
    body = sse(
        delta(reasoning_content="think "),
        delta(reasoning="more"),
        delta(content="answer"),
        delta(finish="stop"),
    )
    events, _ = run(body)
    assert events[:3] == [
        {"type": "reasoning", "text": "think "},
        {"type": "reasoning", "text": "more"},
        {"type": "text", "text": "answer"},
    ]


def test_parallel_tool_calls_merged_by_index() -> None:
    body = sse(
        delta(tool_calls=[call(0, "call_a", "get_weather", "")]),
        delta(tool_calls=[call(0, args='{"city": "Pa')]),
        delta(tool_calls=[call(1, "call_b", "get_time", '{"tz"')]),
        delta(tool_calls=[call(0, args='ris"}')]),
        delta(tool_calls=[call(1, args=': "CET"}')]),
        delta(finish="tool_calls"),
    )
    events, _ = run(body)
    assert events == [
        {"type": "tool_call_start", "id": "call_a", "name": "get_weather"},
        {"type": "tool_call_delta", "id": "call_a", "args_delta": '{"city": "Pa'},
        {"type": "tool_call_start", "id": "call_b", "name": "get_time"},
        {"type": "tool_call_delta", "id": "call_b", "args_delta": '{"tz"'},
        {"type": "tool_call_delta", "id": "call_a", "args_delta": 'ris"}'},
        {"type": "tool_call_delta", "id": "call_b", "args_delta": ': "CET"}'},
        {"type": "tool_call_end", "id": "call_a", "arguments": {"city": "Paris"}},
        {"type": "tool_call_end", "id": "call_b", "arguments": {"tz": "CET"}},
        {"type": "finish", "reason": "tool_calls"},
    ]
    doc = Document.from_events(events)
    assert [(c.id, c.arguments) for c in doc.tool_calls] == [
        ("call_a", {"city": "Paris"}),
        ("call_b", {"tz": "CET"}),
    ]


def test_servers_that_reuse_index_zero_are_told_apart_by_id() -> None:
    body = sse(
        delta(tool_calls=[call(0, "c1", "add", '{"a": 1}')]),
        delta(tool_calls=[call(0, "c2", "add", '{"a": ')]),
        delta(tool_calls=[call(0, args="2}")]),  # no id: continues the latest call
        delta(finish="tool_calls"),
    )
    events, _ = run(body)
    ends = [e for e in events if e["type"] == "tool_call_end"]
    assert ends == [
        {"type": "tool_call_end", "id": "c1", "arguments": {"a": 1}},
        {"type": "tool_call_end", "id": "c2", "arguments": {"a": 2}},
    ]


def test_same_id_repeated_on_every_fragment_is_one_call() -> None:
    body = sse(
        delta(tool_calls=[call(0, "c1", "f", '{"x"')]),
        delta(tool_calls=[call(0, "c1", None, ": 1}")]),
        delta(finish="tool_calls"),
    )
    events, _ = run(body)
    assert [e for e in events if e["type"] == "tool_call_end"] == [
        {"type": "tool_call_end", "id": "c1", "arguments": {"x": 1}}
    ]


def test_tool_call_without_id_or_arguments_gets_an_id_and_empty_arguments() -> None:
    events, _ = run(sse(delta(tool_calls=[call(0, name="now")]), delta(finish="tool_calls")))
    assert events[0] == {"type": "tool_call_start", "id": "call_0", "name": "now"}
    assert events[1] == {"type": "tool_call_end", "id": "call_0", "arguments": {}}


def test_invalid_tool_arguments_end_the_stream_as_server_error() -> None:
    body = sse(
        delta(content="Let me check."),
        delta(tool_calls=[call(0, "c1", "f", '{"x": ')]),
        delta(finish="tool_calls"),
    )
    events, _ = run(body)
    assert events[0] == {"type": "text", "text": "Let me check."}
    assert events[-1]["type"] == "error" and events[-1]["kind"] == "server"
    assert "'f'" in events[-1]["message"] and "not a JSON object" in events[-1]["message"]
    assert not any(e["type"] == "finish" for e in events)


def test_error_object_mid_stream() -> None:
    body = sse(
        delta(content="partial"),
        {"error": {"message": "The server had an error", "type": "server_error"}},
        delta(content="never seen"),
    )
    events, _ = run(body)
    assert events == [
        {"type": "text", "text": "partial"},
        {"type": "error", "kind": "server", "message": "The server had an error"},
    ]


def test_error_object_with_a_status_code_and_an_error_event_name() -> None:
    body = b'event: error\ndata: {"code": 429, "message": "Rate limit exceeded"}\n\n'
    events, _ = run(body)
    assert events == [{"type": "error", "kind": "rate_limit", "message": "Rate limit exceeded"}]


def test_missing_done_is_incomplete() -> None:
    events, _ = run(sse(delta(content="cut"), delta(finish="stop"), done=False))
    assert events[-1]["kind"] == "incomplete" and "[DONE]" in events[-1]["message"]


def test_malformed_json_is_a_server_error() -> None:
    events, _ = run(sse(delta(content="ok"), "{not json"))
    assert events[0] == {"type": "text", "text": "ok"}
    assert events[-1]["kind"] == "server" and "malformed" in events[-1]["message"]


# -- request → wire -----------------------------------------------------------------------

CONVERSATION = ChatRequest(
    messages=[
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": "call_1", "name": "get_weather", "arguments": {"city": "Paris"}}],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": {"temp_c": 21}},
        {"role": "user", "content": "Thanks"},
    ],
    tools=[
        {
            "name": "get_weather",
            "description": "Weather now",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        }
    ],
    options={"temperature": 0.2, "max_tokens": 50, "stream": False, "seed": 7},
)


def test_request_body() -> None:
    _, seen = run(HELLO, CONVERSATION, api_key="sk-test-key-123456")
    request = seen[0]
    assert request.url == f"{URL}/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-test-key-123456"
    body = json.loads(request.content)
    assert body == {
        "model": "test-model",
        "stream": True,  # an option cannot turn streaming off
        "stream_options": {"include_usage": True},
        "temperature": 0.2,
        "max_tokens": 50,
        "seed": 7,
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Weather in Paris?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": '{"temp_c": 21}'},
            {"role": "user", "content": "Thanks"},
        ],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "description": "Weather now",
                    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
                },
            }
        ],
    }


def test_include_usage_can_be_turned_off_and_custom_servers_need_no_key(monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-real-openai-key-0000")
    _, seen = run(HELLO, include_usage=False)
    assert "stream_options" not in json.loads(seen[0].content)
    # a custom base_url never receives the OpenAI key from the environment
    assert "authorization" not in seen[0].headers


def test_openai_itself_needs_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(MissingAPIKeyError, match="OPENAI_API_KEY"):
        OpenAIProvider("gpt-4o-mini")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env-123456")
    p = OpenAIProvider("gpt-4o-mini")
    assert p.base_url == "https://api.openai.com/v1"
    assert "sk-from-env" not in repr(p) and "sk-from-env" not in json.dumps(
        p.describe(CONVERSATION)
    )


def test_api_key_env_for_other_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    with pytest.raises(MissingAPIKeyError, match="OPENROUTER_API_KEY"):
        OpenAIProvider(
            "x", base_url="https://openrouter.ai/api/v1", api_key_env="OPENROUTER_API_KEY"
        )
    monkeypatch.setenv("OPENROUTER_API_KEY", "or-key-123456")
    _, seen = run(HELLO, api_key_env="OPENROUTER_API_KEY")
    assert seen[0].headers["authorization"] == "Bearer or-key-123456"


def test_describe_is_the_neutral_request() -> None:
    p = OpenAIProvider("m", base_url="http://user:pw@127.0.0.1:8080/v1")
    described = p.describe(CONVERSATION)
    assert described["base_url"] == "http://127.0.0.1:8080/v1"
    assert described["messages"] == CONVERSATION.messages
    assert described["tools"] == CONVERSATION.tools
    assert json.loads(json.dumps(described)) == described  # JSON-ready for the header
