"""Anthropic Messages: SSE events → normalized events, and request → wire."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from streamwidget.document import Document
from streamwidget.events import validate_event
from streamwidget.providers import http
from streamwidget.providers.anthropic import AnthropicProvider
from streamwidget.providers.base import ChatRequest
from streamwidget.providers.errors import MissingAPIKeyError

KEY = "sk-ant-test-0123456789"
SSE = {"content-type": "text/event-stream"}


class Body(httpx.AsyncByteStream):
    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks

    async def __aiter__(self):
        for chunk in self.chunks:
            yield chunk


def ev(data: dict[str, Any], eol: str = "\n") -> str:
    payload = json.dumps(data, ensure_ascii=False)
    return f"event: {data['type']}{eol}data: {payload}{eol}{eol}"


def start(input_tokens: int = 12) -> dict[str, Any]:
    return {
        "type": "message_start",
        "message": {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "content": [],
            "model": "claude-test",
            "stop_reason": None,
            "usage": {
                "input_tokens": input_tokens,
                "output_tokens": 1,
                "cache_read_input_tokens": 3,
            },
        },
    }


def block_start(index: int, block: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_start", "index": index, "content_block": block}


def block_delta(index: int, **delta: Any) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": index, "delta": delta}


def stop(index: int) -> dict[str, Any]:
    return {"type": "content_block_stop", "index": index}


def message_delta(reason: str, output_tokens: int) -> dict[str, Any]:
    return {
        "type": "message_delta",
        "delta": {"stop_reason": reason, "stop_sequence": None},
        "usage": {"output_tokens": output_tokens},
    }


FULL = [
    start(),
    {"type": "ping"},
    block_start(0, {"type": "thinking", "thinking": ""}),
    block_delta(0, type="thinking_delta", thinking="The user wants "),
    block_delta(0, type="thinking_delta", thinking="the weather."),
    block_delta(0, type="signature_delta", signature="EqQBCgIYAhIM..."),
    stop(0),
    block_start(1, {"type": "text", "text": ""}),
    block_delta(1, type="text_delta", text="Checking "),
    block_delta(1, type="text_delta", text="Zürich…"),
    stop(1),
    {"type": "brand_new_event", "whatever": True},  # unknown types are kept as `unknown`
    block_start(2, {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}),
    block_delta(2, type="input_json_delta", partial_json=""),
    block_delta(2, type="input_json_delta", partial_json='{"city": "Zü'),
    block_delta(2, type="input_json_delta", partial_json='rich"}'),
    stop(2),
    message_delta("tool_use", 57),
    {"type": "message_stop"},
]
FULL_EVENTS = [
    {"type": "reasoning", "text": "The user wants "},
    {"type": "reasoning", "text": "the weather."},
    {"type": "text", "text": "Checking "},
    {"type": "text", "text": "Zürich…"},
    {
        "type": "unknown",
        "source": "anthropic",
        "raw": {"type": "brand_new_event", "whatever": True},
        "reason": "unknown event type 'brand_new_event'",
    },
    {"type": "tool_call_start", "id": "toolu_1", "name": "get_weather"},
    {"type": "tool_call_delta", "id": "toolu_1", "args_delta": '{"city": "Zü'},
    {"type": "tool_call_delta", "id": "toolu_1", "args_delta": 'rich"}'},
    {"type": "tool_call_end", "id": "toolu_1", "arguments": {"city": "Zürich"}},
    {"type": "usage", "input_tokens": 12, "output_tokens": 57, "cached_input_tokens": 3},
    {"type": "finish", "reason": "tool_calls"},
]


def run(
    body: bytes | list[bytes],
    request: ChatRequest | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **kwargs: Any,
):
    chunks = body if isinstance(body, list) else [body]
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, headers=headers or SSE, stream=Body(chunks))

    kwargs.setdefault("api_key", KEY)
    p = AnthropicProvider("claude-test", transport=httpx.MockTransport(handler), **kwargs)
    request = request or ChatRequest(messages=[{"role": "user", "content": "hi"}])

    async def go() -> list[dict[str, Any]]:
        return [e async for e in p.stream(request)]

    events = asyncio.run(go())
    for event in events:
        validate_event(event, require_t=False)
    return events, seen


def body_of(events: list[dict[str, Any]], eol: str = "\n") -> bytes:
    return "".join(ev(e, eol) for e in events).encode()


def test_full_stream() -> None:
    events, _ = run(body_of(FULL))
    assert events == FULL_EVENTS
    doc = Document.from_events(events)
    assert doc.status == "complete" and doc.text == "Checking Zürich…"
    assert doc.reasoning == "The user wants the weather."


@pytest.mark.parametrize("size", [1, 3, 10, 100])
@pytest.mark.parametrize("eol", ["\n", "\r\n"])
def test_split_chunks_and_crlf(size: int, eol: str) -> None:
    data = body_of(FULL, eol)
    events, _ = run([data[i : i + size] for i in range(0, len(data), size)])
    assert events == FULL_EVENTS


def test_stop_reasons_are_normalized() -> None:
    for theirs, ours in [
        ("end_turn", "stop"),
        ("max_tokens", "length"),
        ("stop_sequence", "stop"),
        ("pause_turn", "pause_turn"),
    ]:
        body = body_of([start(), message_delta(theirs, 1), {"type": "message_stop"}])
        assert run(body)[0][-1] == {"type": "finish", "reason": ours}


def test_overloaded_error_mid_stream_keeps_the_text() -> None:
    body = body_of(
        [
            start(),
            block_start(0, {"type": "text", "text": ""}),
            block_delta(0, type="text_delta", text="Half an ans"),
            {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
        ]
    )
    events, _ = run(body)
    assert events == [
        {"type": "text", "text": "Half an ans"},
        # the usage so far is not lost to the error (issue 13, class 6)
        {"type": "usage", "input_tokens": 12, "output_tokens": 1, "cached_input_tokens": 3},
        {"type": "error", "kind": "overloaded", "message": "Overloaded"},
    ]
    doc = Document.from_events(events)
    assert (doc.status, doc.text) == ("error", "Half an ans")


def test_missing_message_stop_is_incomplete() -> None:
    events, _ = run(body_of(FULL[:-1]))
    assert events[-1]["kind"] == "incomplete" and "message_stop" in events[-1]["message"]
    assert not any(e["type"] == "finish" for e in events)


def test_invalid_tool_input_is_a_server_error() -> None:
    body = body_of(
        [
            start(),
            block_start(0, {"type": "tool_use", "id": "t", "name": "f"}),
            block_delta(0, type="input_json_delta", partial_json='{"a": '),
            stop(0),
            {"type": "message_stop"},
        ]
    )
    events, _ = run(body)
    assert events[-1]["type"] == "error" and events[-1]["kind"] == "server"


def test_529_overloaded_is_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    async def no_wait(delay: float) -> None:
        pass

    monkeypatch.setattr(http, "_sleep", no_wait)
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) == 1:
            error = {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}
            return httpx.Response(529, json=error)
        return httpx.Response(200, headers=SSE, stream=Body([body_of(FULL)]))

    p = AnthropicProvider("c", api_key=KEY, transport=httpx.MockTransport(handler))

    async def go() -> list[dict[str, Any]]:
        return [e async for e in p.stream(ChatRequest())]

    assert asyncio.run(go()) == FULL_EVENTS and len(calls) == 2


def test_401_fails_at_once_with_the_message() -> None:
    error = {
        "type": "error",
        "error": {"type": "authentication_error", "message": "invalid x-api-key"},
    }
    events, seen = run(
        json.dumps(error).encode(), status=401, headers={"content-type": "application/json"}
    )
    assert len(seen) == 1
    assert events == [{"type": "error", "kind": "auth", "message": "HTTP 401: invalid x-api-key"}]


# -- request → wire -----------------------------------------------------------------------


def test_request_body_and_headers() -> None:
    request = ChatRequest(
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Weather in Paris and Rome?"},
            {
                "role": "assistant",
                "content": "Checking.",
                "tool_calls": [
                    {"id": "toolu_1", "name": "get_weather", "arguments": {"city": "Paris"}},
                    {"id": "toolu_2", "name": "get_weather", "arguments": {"city": "Rome"}},
                ],
            },
            {"role": "tool", "tool_call_id": "toolu_1", "content": "21 C"},
            {
                "role": "tool",
                "tool_call_id": "toolu_2",
                "content": {"error": "down"},
                "is_error": True,
            },
            {"role": "user", "content": "Thanks"},
        ],
        tools=[
            {
                "name": "get_weather",
                "description": "Weather now",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            }
        ],
        options={"temperature": 0.3, "stop": "END", "seed": 1},
    )
    _, seen = run(body_of(FULL), request)
    sent = seen[0]
    assert sent.url == "https://api.anthropic.com/v1/messages"
    assert sent.headers["x-api-key"] == KEY
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert json.loads(sent.content) == {
        "model": "claude-test",
        "max_tokens": 1024,
        "stream": True,
        "system": "Be brief.",
        "temperature": 0.3,
        "stop_sequences": ["END"],  # seed has no equivalent: dropped
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Weather in Paris and Rome?"}]},
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Checking."},
                    {
                        "type": "tool_use",
                        "id": "toolu_1",
                        "name": "get_weather",
                        "input": {"city": "Paris"},
                    },
                    {
                        "type": "tool_use",
                        "id": "toolu_2",
                        "name": "get_weather",
                        "input": {"city": "Rome"},
                    },
                ],
            },
            # both results and the next user text share one user turn
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "21 C"},
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_2",
                        "content": '{"error": "down"}',
                        "is_error": True,
                    },
                    {"type": "text", "text": "Thanks"},
                ],
            },
        ],
        "tools": [
            {
                "name": "get_weather",
                "description": "Weather now",
                "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
            }
        ],
    }


def test_max_tokens_option() -> None:
    request = ChatRequest(messages=[{"role": "user", "content": "hi"}], options={"max_tokens": 9})
    _, seen = run(body_of(FULL), request)
    assert json.loads(seen[0].content)["max_tokens"] == 9


def test_missing_key_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(MissingAPIKeyError, match="ANTHROPIC_API_KEY"):
        AnthropicProvider("claude-test")
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    p = AnthropicProvider("claude-test")
    assert KEY not in repr(p) and KEY not in json.dumps(p.describe(ChatRequest()))
