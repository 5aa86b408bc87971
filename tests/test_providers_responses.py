"""OpenAI Responses API: request → wire, and the cases the real corpus (tests/wire/responses)
does not hold: response.incomplete, refusals, a stream cut short, unknown event types."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from streamwidget.document import Document
from streamwidget.providers.base import ChatRequest
from streamwidget.providers.errors import MissingAPIKeyError
from streamwidget.providers.models import resolve_model
from streamwidget.providers.responses import OpenAIResponsesProvider, ResponsesFolder


def sse(*events: dict[str, Any]) -> bytes:
    return "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events).encode()


def run(body: bytes, request: ChatRequest | None = None, **kwargs: Any):
    seen: list[httpx.Request] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    p = OpenAIResponsesProvider(
        "gpt-5", api_key="sk-test-0000000", transport=httpx.MockTransport(handler), **kwargs
    )
    request = request or ChatRequest(messages=[{"role": "user", "content": "hi"}])

    async def go() -> list[dict[str, Any]]:
        return [e async for e in p.stream(request)]

    events = asyncio.run(go())
    return events, seen


MSG = {
    "type": "response.output_item.added",
    "output_index": 0,
    "item": {"id": "m1", "type": "message"},
}


def text(delta: str) -> dict[str, Any]:
    return {
        "type": "response.output_text.delta",
        "output_index": 0,
        "item_id": "m1",
        "delta": delta,
    }


def test_incomplete_max_output_tokens_keeps_text_and_usage() -> None:
    end = {
        "type": "response.incomplete",
        "response": {
            "incomplete_details": {"reason": "max_output_tokens"},
            "usage": {"input_tokens": 5, "output_tokens": 16},
        },
    }
    events, _ = run(sse(MSG, text("Half a sen"), text("tence"), end))
    doc = Document.from_events(events)
    assert (doc.status, doc.finish_reason, doc.text) == ("complete", "length", "Half a sentence")
    assert doc.usage == {"input_tokens": 5, "output_tokens": 16}


def test_refusal_is_text_and_finishes_as_content_filter() -> None:
    refusal = {
        "type": "response.refusal.delta",
        "output_index": 0,
        "item_id": "m1",
        "delta": "I can't help.",
    }
    events, _ = run(sse(MSG, refusal, {"type": "response.completed", "response": {}}))
    doc = Document.from_events(events)
    assert (doc.text, doc.finish_reason) == ("I can't help.", "content_filter")


def test_cut_short_is_incomplete_with_text_kept() -> None:
    events, _ = run(sse(MSG, text("partial")))
    doc = Document.from_events(events)
    assert (doc.status, doc.error["kind"], doc.text) == ("error", "incomplete", "partial")


def test_unknown_event_type_is_kept_raw() -> None:
    odd = {"type": "response.hologram.delta", "delta": "3D"}
    events, _ = run(sse(MSG, odd, text("ok"), {"type": "response.completed", "response": {}}))
    unknown = [e for e in events if e["type"] == "unknown"]
    assert unknown == [
        {
            "type": "unknown",
            "source": "responses",
            "raw": odd,
            "reason": "event type 'response.hologram.delta' is not understood",
        }
    ]


def test_done_text_that_contradicts_the_deltas_is_flagged() -> None:
    folder = ResponsesFolder()
    folder.feed(MSG)
    folder.feed(text("Hello"))
    out = folder.feed(
        {"type": "response.output_text.done", "output_index": 0, "content_index": 0, "text": "Bye"}
    )
    assert [e["type"] for e in out] == ["unknown"]


def test_function_call_without_deltas_takes_arguments_from_the_item() -> None:
    item = {"id": "fc1", "type": "function_call", "call_id": "call_9", "name": "f", "arguments": ""}
    done = dict(item, arguments='{"x": 1}', status="completed")
    events, _ = run(
        sse(
            {"type": "response.output_item.added", "output_index": 0, "item": item},
            {"type": "response.output_item.done", "output_index": 0, "item": done},
            {"type": "response.completed", "response": {}},
        )
    )
    doc = Document.from_events(events)
    assert doc.tool_calls[0].id == "call_9" and doc.tool_calls[0].arguments == {"x": 1}
    assert doc.finish_reason == "tool_calls"


def test_failed_web_search_is_a_server_result_with_error() -> None:
    item = {"id": "ws1", "type": "web_search_call", "status": "in_progress"}
    done = {"id": "ws1", "type": "web_search_call", "status": "failed", "action": {"query": "q"}}
    events, _ = run(
        sse(
            {"type": "response.output_item.added", "output_index": 0, "item": item},
            {"type": "response.output_item.done", "output_index": 0, "item": done},
            {"type": "response.completed", "response": {}},
        )
    )
    result = next(e for e in events if e["type"] == "tool_result")
    assert result["server"] is True and result["status"] == "error"
    assert Document.from_events(events).finish_reason == "stop"


def test_request_body_from_openai_shaped_history() -> None:
    history = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "w", "arguments": '{"city":"Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
    ]
    tools = [{"name": "w", "description": "weather", "parameters": {"type": "object"}}]
    _, seen = run(
        sse({"type": "response.completed", "response": {}}),
        ChatRequest(messages=history, tools=tools, options={"max_tokens": 50}),
        server_tools=[{"type": "web_search"}],
    )
    body = json.loads(seen[0].content)
    assert seen[0].url.path == "/v1/responses"
    assert seen[0].headers["authorization"] == "Bearer sk-test-0000000"
    assert body["instructions"] == "Be brief."
    assert body["input"] == [
        {"role": "user", "content": "Weather in Paris?"},
        {"type": "function_call", "call_id": "c1", "name": "w", "arguments": '{"city": "Paris"}'},
        {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
    ]
    assert body["tools"] == [
        {
            "type": "function",
            "name": "w",
            "description": "weather",
            "parameters": {"type": "object"},
        },
        {"type": "web_search"},
    ]
    assert (body["stream"], body["max_output_tokens"]) == (True, 50)


def test_model_strings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(MissingAPIKeyError, match="OPENAI_API_KEY"):
        resolve_model("openai-responses:gpt-5")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env-0000000")
    for spec in ("openai-responses:gpt-5", "openai-responses/gpt-5", "OpenAI-Responses/gpt-5"):
        p = resolve_model(spec)
        assert isinstance(p, OpenAIResponsesProvider) and p.model == "gpt-5"
    # A slash after an unknown word is part of the model name, not a provider prefix.
    p = resolve_model("openai:meta-llama/Llama-3@http://127.0.0.1:8080/v1")
    assert (p.name, p.model) == ("openai", "meta-llama/Llama-3")
    assert resolve_model("openai/meta-llama/Llama-3", base_url="http://x/v1").model == (
        "meta-llama/Llama-3"
    )
    with pytest.raises(ValueError, match="prefix"):
        resolve_model("meta-llama/Llama-3")
    assert resolve_model("ollama/llama3.2:3b").model == "llama3.2:3b"
