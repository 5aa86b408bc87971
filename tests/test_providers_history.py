"""History in any shape (OpenAI chat format, Anthropic blocks, ours) → one neutral shape."""

import asyncio

import httpx
import pytest

from streamwidget.providers.base import ChatRequest
from streamwidget.providers.history import HistoryError, normalize
from streamwidget.providers.openai import OpenAIProvider


def test_ours_passes_unchanged() -> None:
    ours = [
        {"role": "user", "content": "hi"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": "c", "name": "f", "arguments": {}}],
        },
        {"role": "tool", "tool_call_id": "c", "content": "ok"},
    ]
    assert normalize(ours) == ours


def test_openai_shapes() -> None:
    got = normalize(
        [
            {
                "role": "user",
                "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
            },
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "f", "arguments": ""}}
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": [{"type": "text", "text": "r"}]},
            {
                "role": "assistant",
                "content": None,
                "function_call": {"name": "g", "arguments": "{}"},
            },
            {"role": "function", "name": "g", "content": "old"},
        ]
    )
    assert got == [
        {"role": "user", "content": "ab"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": "c1", "name": "f", "arguments": {}}],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "r"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": "call_0", "name": "g", "arguments": {}}],
        },
        {"role": "tool", "tool_call_id": "g", "content": "old", "name": "g"},
    ]


def test_anthropic_blocks() -> None:
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "x"}}
    got = normalize(
        [
            {"role": "user", "content": [{"type": "text", "text": "look"}, image]},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "hm", "signature": "s"},
                    {"type": "tool_use", "id": "t1", "name": "f", "input": {"a": 1}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "t1", "content": "no", "is_error": True}
                ],
            },
        ]
    )
    assert got == [
        {"role": "user", "content": [{"type": "text", "text": "look"}, image]},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": "t1", "name": "f", "arguments": {"a": 1}}],
        },
        {"role": "tool", "tool_call_id": "t1", "content": "no", "is_error": True},
    ]


@pytest.mark.parametrize(
    "message",
    [
        {
            "role": "assistant",
            "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "{nope"}}],
        },
        {
            "role": "assistant",
            "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "[1]"}}],
        },
        {"role": "tool", "content": "no id"},
        "not a dict",
    ],
)
def test_a_history_no_wire_can_carry_is_a_bad_request_naming_the_message(message) -> None:
    with pytest.raises(HistoryError, match="message 1"):
        normalize([{"role": "user", "content": "hi"}, message])
    provider = OpenAIProvider(
        "m", base_url="http://x", transport=httpx.MockTransport(lambda r: httpx.Response(500))
    )

    async def go():
        return [e async for e in provider.stream(ChatRequest(messages=[{"role": "user"}, message]))]

    (event,) = asyncio.run(go())
    assert (event["type"], event["kind"]) == ("error", "bad_request")
    assert "message 1" in event["message"]
