"""Ollama /api/chat: NDJSON lines → normalized events, and request → wire."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from streamwidget.events import validate_event
from streamwidget.providers.base import ChatRequest
from streamwidget.providers.ollama import OllamaProvider

NDJSON = {"content-type": "application/x-ndjson"}


class Body(httpx.AsyncByteStream):
    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks

    async def __aiter__(self):
        for chunk in self.chunks:
            yield chunk


def line(content: str = "", done: bool = False, eol: str = "\n", **extra: Any) -> str:
    data: dict[str, Any] = {
        "model": "llama3.2",
        "created_at": "2026-01-01T00:00:00Z",
        "message": {"role": "assistant", "content": content, **extra.pop("message", {})},
        "done": done,
        **extra,
    }
    return json.dumps(data, ensure_ascii=False) + eol


def final(reason: str = "stop", eol: str = "\n") -> str:
    return line(
        done=True,
        done_reason=reason,
        prompt_eval_count=26,
        eval_count=5,
        total_duration=123,
        eol=eol,
    )


HELLO = line("Hel") + line("lo ") + line("wörld ✓") + final()
HELLO_EVENTS = [
    {"type": "text", "text": "Hel"},
    {"type": "text", "text": "lo "},
    {"type": "text", "text": "wörld ✓"},
    {"type": "usage", "input_tokens": 26, "output_tokens": 5},
    {"type": "finish", "reason": "stop"},
]


def run(body: str | list[bytes], request: ChatRequest | None = None, status: int = 200, **kw):
    chunks = body if isinstance(body, list) else [body.encode()]
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, headers=NDJSON, stream=Body(chunks))

    p = OllamaProvider("llama3.2", transport=httpx.MockTransport(handler), **kw)
    request = request or ChatRequest(messages=[{"role": "user", "content": "hi"}])

    async def go() -> list[dict[str, Any]]:
        return [e async for e in p.stream(request)]

    events = asyncio.run(go())
    for event in events:
        validate_event(event, require_t=False)
    return events, seen


def test_text_usage_finish() -> None:
    assert run(HELLO)[0] == HELLO_EVENTS


@pytest.mark.parametrize("size", [1, 2, 5, 13, 1000])
@pytest.mark.parametrize("eol", ["\n", "\r\n"])
def test_split_chunks_crlf_and_multibyte(size: int, eol: str) -> None:
    text = line("Hel", eol=eol) + line("lo ", eol=eol) + line("wörld ✓", eol=eol) + final(eol=eol)
    data = text.encode()
    events, _ = run([data[i : i + size] for i in range(0, len(data), size)])
    assert events == HELLO_EVENTS


def test_last_line_without_newline_still_counts() -> None:
    events, _ = run(line("x") + final().rstrip("\n"))
    assert events[-1] == {"type": "finish", "reason": "stop"}


def test_error_line_with_http_200() -> None:
    body = line("partial") + json.dumps({"error": "model runner has unexpectedly stopped"}) + "\n"
    events, _ = run(body + line("never"))
    assert events == [
        {"type": "text", "text": "partial"},
        {"type": "error", "kind": "server", "message": "model runner has unexpectedly stopped"},
    ]


def test_missing_done_is_incomplete() -> None:
    events, _ = run(line("cut"))
    assert events[-1]["kind"] == "incomplete" and '"done": true' in events[-1]["message"]


def test_done_reason_length() -> None:
    assert run(line("x") + final("length"))[0][-1] == {"type": "finish", "reason": "length"}


def test_thinking_and_whole_tool_calls() -> None:
    calls = [
        {"function": {"name": "get_weather", "arguments": {"city": "Paris"}}},
        {"id": "call_x", "function": {"name": "get_time", "arguments": {}}},
    ]
    body = (
        line(message={"thinking": "Need weather."})
        + line(message={"tool_calls": calls})
        + final("stop")
    )
    events, _ = run(body)
    assert events == [
        {"type": "reasoning", "text": "Need weather."},
        {"type": "tool_call_start", "id": "call_0", "name": "get_weather"},
        {"type": "tool_call_delta", "id": "call_0", "args_delta": '{"city": "Paris"}'},
        {"type": "tool_call_end", "id": "call_0", "arguments": {"city": "Paris"}},
        {"type": "tool_call_start", "id": "call_x", "name": "get_time"},
        {"type": "tool_call_delta", "id": "call_x", "args_delta": "{}"},
        {"type": "tool_call_end", "id": "call_x", "arguments": {}},
        {"type": "usage", "input_tokens": 26, "output_tokens": 5},
        {"type": "finish", "reason": "tool_calls"},  # Ollama says "stop"
    ]


def test_malformed_line_is_a_server_error() -> None:
    events, _ = run(line("ok") + "<html>proxy error</html>\n")
    assert events[-1]["kind"] == "server" and "proxy error" in events[-1]["message"]


def test_model_not_found_404() -> None:
    events, seen = run(json.dumps({"error": "model 'nope' not found"}), status=404)
    assert len(seen) == 1
    assert events == [
        {"type": "error", "kind": "bad_request", "message": "HTTP 404: model 'nope' not found"}
    ]


def test_request_body(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    request = ChatRequest(
        messages=[
            {"role": "user", "content": "Weather?"},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {"id": "call_0", "name": "get_weather", "arguments": {"city": "Paris"}}
                ],
            },
            {"role": "tool", "tool_call_id": "call_0", "content": {"temp_c": 21}},
        ],
        tools=[
            {
                "name": "get_weather",
                "description": "Weather now",
                "parameters": {"type": "object", "properties": {}},
            }
        ],
        options={"temperature": 0, "max_tokens": 20, "think": True, "keep_alive": "1m"},
    )
    _, seen = run(HELLO, request)
    assert seen[0].url == "http://localhost:11434/api/chat"
    assert "authorization" not in seen[0].headers
    assert json.loads(seen[0].content) == {
        "model": "llama3.2",
        "stream": True,
        "think": True,
        "keep_alive": "1m",
        "options": {"temperature": 0, "num_predict": 20},
        "messages": [
            {"role": "user", "content": "Weather?"},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}
                ],
            },
            {"role": "tool", "content": '{"temp_c": 21}', "tool_name": "get_weather"},
        ],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "description": "Weather now",
                    "parameters": {"type": "object", "properties": {}},
                },
            }
        ],
    }


def test_ollama_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_HOST", "10.0.0.5:11434")
    assert OllamaProvider("m").base_url == "http://10.0.0.5:11434"
    assert OllamaProvider("m", base_url="http://h:1/").base_url == "http://h:1"
