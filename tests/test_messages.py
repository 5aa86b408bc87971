"""A reply as history messages (OpenAI and Anthropic formats), from events and from a Document."""

from __future__ import annotations

import json

import pytest

from streamwidget.document import Document
from streamwidget.messages import to_messages
from streamwidget.providers.history_wires import to_gemini_contents, to_responses_input
from streamwidget.recording import Recording

CALL = "toolu_01A9GTMw8a4ZBNFsV7NDWqfV"


@pytest.fixture
def events() -> list[dict]:
    """Text, a get_weather call and its result, more text, then an error (a real recording)."""
    return Recording.bundled("weather-tool-error").events


def texts(events: list[dict]) -> tuple[str, str]:
    """The text before the tool call and the text after its result."""
    at = next(i for i, e in enumerate(events) if e["type"] == "tool_result")
    before = "".join(e["text"] for e in events[:at] if e["type"] == "text")
    return before, "".join(e["text"] for e in events[at:] if e["type"] == "text")


def test_openai_format_from_events_splits_the_steps(events: list[dict]) -> None:
    before, after = texts(events)
    messages = to_messages(events, "openai")
    assert [m["role"] for m in messages] == ["assistant", "tool", "assistant"]
    first, tool, last = messages
    assert first["content"] == before and before.startswith("Let")
    assert first["tool_calls"] == [
        {
            "id": CALL,
            "type": "function",
            "function": {
                "name": "get_weather",
                "arguments": '{"city": "Paris", "unit": "celsius"}',
            },
        }
    ]
    assert tool["tool_call_id"] == CALL and json.loads(tool["content"])["temperature"] == 14
    assert last == {"role": "assistant", "content": after}


def test_anthropic_format_from_events(events: list[dict]) -> None:
    before, after = texts(events)
    messages = to_messages(events, "anthropic")
    assert [m["role"] for m in messages] == ["assistant", "user", "assistant"]
    assert messages[0]["content"] == [
        {"type": "text", "text": before},
        {
            "type": "tool_use",
            "id": CALL,
            "name": "get_weather",
            "input": {"city": "Paris", "unit": "celsius"},
        },
    ]
    result = messages[1]["content"][0]
    assert (
        result["type"] == "tool_result"
        and result["tool_use_id"] == CALL
        and "is_error" not in result
    )
    assert messages[2]["content"] == [{"type": "text", "text": after}]


def test_document_gives_one_step_with_results(events: list[dict]) -> None:
    doc = Document.from_events(events)
    messages = doc.to_messages("openai")
    assert [m["role"] for m in messages] == ["assistant", "tool"]
    assert messages[0]["content"] == doc.text and messages[0]["tool_calls"][0]["id"] == CALL


def test_errors_pending_calls_and_server_calls() -> None:
    events = [
        {"type": "tool_call_start", "id": "ws", "name": "web_search", "server": True},
        {"type": "tool_call_end", "id": "ws", "arguments": {"query": "q"}},
        {"type": "tool_result", "id": "ws", "status": "done", "server": True, "result": "x"},
        {"type": "text", "text": "Checking two things."},
        {"type": "tool_call_start", "id": "a", "name": "lookup"},
        {"type": "tool_call_end", "id": "a", "arguments": {"k": 1}},
        {"type": "tool_call_start", "id": "b", "name": "client_side"},
        {"type": "tool_call_end", "id": "b", "arguments": {}},
        {"type": "tool_result", "id": "a", "status": "error", "error": "boom"},
        {"type": "finish", "reason": "tool_calls"},
    ]
    openai = to_messages(events)
    assert [c["id"] for c in openai[0]["tool_calls"]] == ["a", "b"]  # no server call
    assert openai[1:] == [{"role": "tool", "tool_call_id": "a", "content": "Error: boom"}]
    anthropic = to_messages(events, "anthropic")
    assert anthropic[1]["content"] == [
        {"type": "tool_result", "tool_use_id": "a", "content": "Error: boom", "is_error": True}
    ]


def test_the_messages_continue_a_conversation_on_other_wires(events: list[dict]) -> None:
    history = [{"role": "user", "content": "Weather in Paris?"}, *to_messages(events)]
    _, items = to_responses_input(history)
    assert [i.get("type", i.get("role")) for i in items] == [
        "user",
        "assistant",
        "function_call",
        "function_call_output",
        "assistant",
    ]
    _, contents = to_gemini_contents(history)
    assert [c["role"] for c in contents] == ["user", "model", "user", "model"]
    assert contents[2]["parts"][0]["functionResponse"]["name"] == "get_weather"


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="openai, anthropic"):
        to_messages([], "gemini")
    with pytest.raises(TypeError, match="Document or a list of events"):
        to_messages("text")
