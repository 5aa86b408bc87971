"""Gemini: request → wire, keys, and the cases the real corpus (tests/wire/gemini) does not
hold: a SAFETY stop mid-reply, an error object in the stream, a body without finishReason,
unknown part types, a malformed function call."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from streamwidget.document import Document
from streamwidget.providers.base import ChatRequest
from streamwidget.providers.errors import MissingAPIKeyError
from streamwidget.providers.gemini import GeminiProvider
from streamwidget.providers.models import resolve_model


def body(*chunks: dict[str, Any]) -> bytes:
    return "".join(f"data: {json.dumps(c)}\r\n\r\n" for c in chunks).encode()


def part(finish: str | None = None, **fields: Any) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": [fields]}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    return {"candidates": [candidate]}


def run(data: bytes, request: ChatRequest | None = None, **kwargs: Any):
    seen: list[httpx.Request] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=data)

    p = GeminiProvider(
        "gemini-2.5-flash",
        api_key="AIza-test-000",
        transport=httpx.MockTransport(handler),
        **kwargs,
    )
    request = request or ChatRequest(messages=[{"role": "user", "content": "hi"}])

    async def go() -> list[dict[str, Any]]:
        return [e async for e in p.stream(request)]

    return asyncio.run(go()), seen


def test_safety_stop_keeps_text_and_says_why() -> None:
    events, _ = run(body(part(text="Here is how to"), part(finish="SAFETY", text="")))
    doc = Document.from_events(events)
    assert (doc.status, doc.text, doc.finish_reason) == (
        "complete",
        "Here is how to",
        "content_filter",
    )
    assert next(e for e in events if e["type"] == "finish")["detail"] == "SAFETY"


def test_error_object_in_the_stream_keeps_text() -> None:
    error = {"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}
    events, _ = run(body(part(text="Par"), error))
    doc = Document.from_events(events)
    assert (doc.status, doc.text) == ("error", "Par")
    assert doc.error == {"kind": "overloaded", "message": "The model is overloaded."}


def test_body_without_finish_reason_is_incomplete() -> None:
    events, _ = run(body(part(text="cut")))
    doc = Document.from_events(events)
    assert (doc.status, doc.error["kind"], doc.text) == ("error", "incomplete", "cut")


def test_unknown_part_is_kept_as_unknown_event() -> None:
    image = {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}}
    events, _ = run(body(part(**image), part(finish="STOP", text="done")))
    unknown = [e for e in events if e["type"] == "unknown"]
    assert len(unknown) == 1 and unknown[0]["raw"] == image and unknown[0]["source"] == "gemini"
    assert Document.from_events(events).status == "complete"


def test_malformed_function_call_is_an_error() -> None:
    events, _ = run(body({"candidates": [{"finishReason": "MALFORMED_FUNCTION_CALL", "index": 0}]}))
    doc = Document.from_events(events)
    assert doc.status == "error" and "MALFORMED_FUNCTION_CALL" in doc.error["message"]


def test_request_body_and_url_from_openai_shaped_history() -> None:
    history = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {
            "role": "assistant",
            "content": "Checking.",
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "w", "arguments": '{"city":"Paris"}'},
                },
                {"id": "c2", "name": "w", "arguments": {"city": "Rome"}},
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
        {"role": "tool", "tool_call_id": "c2", "content": {"sky": "rain"}},
    ]
    tools = [{"name": "w", "description": "weather", "parameters": {"type": "object"}}]
    request = ChatRequest(messages=history, tools=tools, options={"max_tokens": 64, "stop": "END"})
    _, seen = run(
        body(part(finish="STOP", text="ok")),
        request,
        include_thoughts=True,
        server_tools=[{"google_search": {}}],
    )
    sent = json.loads(seen[0].content)
    assert str(seen[0].url) == (
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:"
        "streamGenerateContent?alt=sse"
    )
    assert seen[0].headers["x-goog-api-key"] == "AIza-test-000"
    assert sent["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert sent["contents"] == [
        {"role": "user", "parts": [{"text": "Weather in Paris and Rome?"}]},
        {
            "role": "model",
            "parts": [
                {"text": "Checking."},
                {"functionCall": {"name": "w", "args": {"city": "Paris"}}},
                {"functionCall": {"name": "w", "args": {"city": "Rome"}}},
            ],
        },
        {
            "role": "user",
            "parts": [
                {"functionResponse": {"name": "w", "response": {"result": "sunny"}, "id": "c1"}},
                {
                    "functionResponse": {
                        "name": "w",
                        "response": {"result": '{"sky": "rain"}'},
                        "id": "c2",
                    }
                },
            ],
        },
    ]
    assert sent["tools"] == [
        {
            "functionDeclarations": [
                {"name": "w", "description": "weather", "parametersJsonSchema": {"type": "object"}}
            ]
        },
        {"google_search": {}},
    ]
    assert sent["generationConfig"] == {
        "maxOutputTokens": 64,
        "stopSequences": ["END"],
        "thinkingConfig": {"includeThoughts": True},
    }


def test_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(MissingAPIKeyError, match="GEMINI_API_KEY"):
        resolve_model("gemini:gemini-2.5-flash")
    monkeypatch.setenv("GOOGLE_API_KEY", "AIza-google")
    assert resolve_model("gemini/gemini-2.5-flash")._api_key == "AIza-google"
    monkeypatch.setenv("GEMINI_API_KEY", "AIza-gemini")
    p = resolve_model("gemini:gemini-2.5-flash")
    assert (p.name, p.model, p._api_key) == ("gemini", "gemini-2.5-flash", "AIza-gemini")
    assert "AIza" not in repr(p)


def test_the_key_never_reaches_events_wire_or_description() -> None:
    key = "AIza-test-000"
    echo = body(part(text=f"your key is {key}"), part(finish="STOP", text=""))
    events, seen = run(echo, record_wire=True)
    p = GeminiProvider("m", api_key=key)
    assert seen[0].headers["x-goog-api-key"] == key and key not in str(seen[0].url)
    assert key not in json.dumps(events) and key not in json.dumps(p.describe(ChatRequest()))
    assert any(e["type"] == "wire" and "***" in e["data"] for e in events)
    assert Document.from_events(events).text == "your key is ***"
