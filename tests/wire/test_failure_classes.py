"""The nine failure classes of issue 13, each on a real transcript of the corpus (or, where
the class is about the request or the manager, a real transcript driving it). Every test here
failed before its fix."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from wire_corpus import HERE, WIRES, Case, cases
from wire_loopback import loopback

from streamwidget.document import Document
from streamwidget.manager import start
from streamwidget.providers.anthropic import AnthropicProvider
from streamwidget.providers.base import ChatRequest
from streamwidget.providers.ollama import OllamaProvider
from streamwidget.providers.openai import OpenAIProvider
from streamwidget.providers.replay import ReplayProvider
from streamwidget.recording import Recording
from streamwidget.store import Store

BY_ID = {c.id: c for c in cases()}
HI = ChatRequest(messages=[{"role": "user", "content": "hi"}])


def alone(case: Case, body: bytes | None = None, request: ChatRequest = HI) -> Document:
    """``body`` (the case's own by default) through the case's provider, without the manager."""

    def handler(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": case.content_type}, content=body)

    body = case.body if body is None else body
    provider = case.provider("http://wire.test")
    provider._transport = httpx.MockTransport(handler)

    async def go() -> list[dict[str, Any]]:
        return [e async for e in provider.stream(request)]

    return Document.from_events(asyncio.run(go()))


class Served:
    """A mock server answering request ``n`` with ``bodies[n]``; keeps the requests."""

    def __init__(self, content_type: str, *bodies: bytes) -> None:
        self.content_type = content_type
        self.bodies = list(bodies)
        self.requests: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(json.loads(request.content))
        body = self.bodies[min(len(self.requests), len(self.bodies)) - 1]
        return httpx.Response(200, headers={"content-type": self.content_type}, content=body)


# -- 1. Anthropic tool input given whole in content_block_start --------------------------------


def test_1_tool_input_in_block_start_is_kept() -> None:
    doc = alone(BY_ID["anthropic/vercel_programmatic_step1"])
    (call,) = [c for c in doc.tool_calls if c.name == "rollDie"]
    assert call.arguments == {"player": "player1"}
    assert json.loads(call.args_text) == {"player": "player1"}


# -- 2. server tools: recorded with their results, never run here, no second request ---------


def test_2_server_tools_are_recorded_not_run() -> None:
    case = BY_ID["anthropic/vercel_web_search"]
    served = Served(case.content_type, case.body)
    provider = AnthropicProvider("m", api_key="k", transport=httpx.MockTransport(served))
    doc = start(provider, request=HI, store=Store(":memory:")).wait(timeout=60)
    assert len(served.requests) == 1  # no second model request
    assert doc.status == "complete"
    (call,) = doc.tool_calls
    assert (call.name, call.status, getattr(call, "server", None)) == ("web_search", "done", True)
    assert call.arguments == {"query": "tech news today September 26 2025"}
    assert call.result[0]["type"] == "web_search_result"  # the server's result, as sent
    assert "there is no tool" not in json.dumps(doc.to_dict())


def test_2_code_execution_results_carry_their_status() -> None:
    doc = alone(BY_ID["anthropic/vercel_code_execution"])
    assert [(c.name, c.status) for c in doc.tool_calls] == [
        ("text_editor_code_execution", "done"),
        ("bash_code_execution", "done"),
    ]
    assert "The 10th Fibonacci number is: 34" in doc.tool_calls[1].result["stdout"]


# -- 3. OpenAI refusals ------------------------------------------------------------------------


def test_3_refusal_is_the_reply_text() -> None:
    doc = alone(BY_ID["openai/openai_python_refusal"])
    assert (doc.status, doc.text) == ("complete", "I'm sorry, I can't assist with that request.")


# -- 4. delta.content as a list of typed parts (Magistral) -------------------------------------


def test_4_content_parts_become_text_and_reasoning() -> None:
    doc = alone(BY_ID["openai/vercel_mistral_reasoning"])
    assert doc.text == "2 + 2 = 4"
    assert doc.reasoning == "The user is asking for 2+2. This is basic arithmetic. 2+2=4."


# -- 5. a flat error object in the SSE stream --------------------------------------------------


def test_5_flat_error_object_ends_the_stream_as_an_error() -> None:
    # The first chunk of a real capture, then the error frame in the shape vLLM's
    # serving code writes (ErrorResponse: object, message, type, param, code) and [DONE].
    case = BY_ID["openai/openai_python_text"]
    first = case.body.split(b"\n\n")[:3]
    frame = b'data: {"object":"error","message":"CUDA out of memory","code":500}'
    body = b"\n\n".join([*first, frame, b"data: [DONE]", b""])
    doc = alone(case, body)
    assert doc.status == "error"
    assert doc.error == {"kind": "server", "message": "CUDA out of memory"}
    assert doc.text.startswith("I'm unable")


# -- 6. usage survives an error, live and in replay --------------------------------------------


def test_6_usage_before_an_error_is_kept() -> None:
    case = BY_ID["anthropic/sdk_basic"]
    cut = case.body.split(b"event: message_delta")[0]
    overloaded = (
        b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error",'
        b'"message":"Overloaded"}}\n\n'
    )
    provider = AnthropicProvider(
        "m", api_key="k", transport=httpx.MockTransport(Served(case.content_type, cut + overloaded))
    )
    store = Store(":memory:")
    doc = start(provider, request=HI, store=store).wait(timeout=60)
    assert doc.status == "error" and doc.text == "Hello there!"
    assert doc.usage == {"input_tokens": 11, "output_tokens": 1}
    # The recording of that stream replays into the same document.
    recording = Recording.new(provider="anthropic", model="m", events=store.events(doc.stream_id))
    again = start(ReplayProvider(recording, speed=0), store=store).wait(timeout=60)
    assert again.content_equal(doc)


def test_6_replay_of_usage_then_error_keeps_the_usage() -> None:
    events = [
        {"t": 0.1, "type": "text", "text": "partial"},
        {"t": 0.2, "type": "usage", "input_tokens": 5, "output_tokens": 2},
        {"t": 0.3, "type": "error", "kind": "overloaded", "message": "Overloaded"},
    ]
    recording = Recording.new(provider="anthropic", model="m", events=events)
    doc = start(ReplayProvider(recording, speed=0), store=Store(":memory:")).wait(timeout=60)
    assert doc.usage == {"input_tokens": 5, "output_tokens": 2}
    assert doc.content_equal(Document.from_events(events))


# -- 7. OpenAI-format (and Anthropic-block) history on every provider ---------------------------

OPENAI_HISTORY = [
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
    {"role": "tool", "tool_call_id": "call_1", "content": "18 C"},
    {"role": "user", "content": [{"type": "text", "text": "And tomorrow?"}]},
]
ANTHROPIC_HISTORY = [
    {"role": "user", "content": "Weather in Paris?"},
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
        ],
    },
    {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18 C"},
            {"type": "text", "text": "And tomorrow?"},
        ],
    },
]


def test_7_openai_history_streams_on_every_wire() -> None:
    for wire in ("openai", "anthropic", "ollama"):
        case = next(c for c in cases() if c.wire == wire and c.expected["status"] == "complete")
        for history in (OPENAI_HISTORY, ANTHROPIC_HISTORY):
            with loopback(case.body, case.content_type, seed=7) as url:
                doc = start(case.provider(url), request=history, store=Store(":memory:")).wait(60)
            assert doc.status == "complete", (wire, doc.error)


def test_7_history_is_converted_for_each_wire() -> None:
    request = ChatRequest(messages=OPENAI_HISTORY)
    openai = OpenAIProvider("m", base_url="http://x", api_key="k").build_body(request)
    assistant = openai["messages"][2]
    assert assistant["tool_calls"][0]["function"] == {
        "name": "get_weather",
        "arguments": '{"city": "Paris"}',
    }
    assert openai["messages"][3] == {"role": "tool", "tool_call_id": "call_1", "content": "18 C"}
    assert openai["messages"][4]["content"] == "And tomorrow?"
    anthropic = AnthropicProvider("m", api_key="k").build_body(request)
    assert anthropic["system"] == "Be brief."
    assert anthropic["messages"][1]["content"] == [
        {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}}
    ]
    assert anthropic["messages"][2]["content"][0] == {
        "type": "tool_result",
        "tool_use_id": "call_1",
        "content": "18 C",
    }
    ollama = OllamaProvider("m").build_body(ChatRequest(messages=ANTHROPIC_HISTORY))
    assert ollama["messages"][1]["tool_calls"] == [
        {"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}
    ]
    assert ollama["messages"][2] == {"role": "tool", "content": "18 C", "tool_name": "get_weather"}
    assert ollama["messages"][3] == {"role": "user", "content": "And tomorrow?"}


# -- 8. tool calls with no tool to run end the step ---------------------------------------------


def test_8_calls_with_no_executable_tool_are_left_to_the_caller() -> None:
    case = BY_ID["openai/openai_python_parallel_tools"]
    served = Served(case.content_type, case.body)
    provider = OpenAIProvider("m", base_url="http://x", transport=httpx.MockTransport(served))
    spec = {"name": "GetWeatherArgs", "parameters": {"type": "object"}}
    for tools in (None, [spec]):
        served.requests.clear()
        doc = start(provider, request=HI, tools=tools, store=Store(":memory:")).wait(60)
        assert len(served.requests) == 1
        assert (doc.status, doc.finish_reason) == ("complete", "tool_calls")
        assert [(c.name, c.status) for c in doc.tool_calls] == [
            ("GetWeatherArgs", "pending"),
            ("get_stock_price", "pending"),
        ]
    assert served.requests[0]["tools"][0]["function"]["name"] == "GetWeatherArgs"


def test_8_with_executable_tools_an_unknown_name_still_gets_an_error_result() -> None:
    calls = BY_ID["openai/openai_python_tool"]  # asks for GetWeatherArgs
    answer = BY_ID["openai/openai_python_text"]
    served = Served(calls.content_type, calls.body, answer.body)
    provider = OpenAIProvider("m", base_url="http://x", transport=httpx.MockTransport(served))

    def get_time(zone: str) -> str:
        """The time in a zone."""
        return "12:00"

    doc = start(provider, request=HI, tools=[get_time], store=Store(":memory:")).wait(60)
    assert len(served.requests) == 2
    (call,) = doc.tool_calls
    assert call.status == "error" and "no tool named 'GetWeatherArgs'" in call.error
    assert doc.status == "complete" and doc.text.startswith("I'm unable")


# -- 9. NDJSON lines end only at \n -----------------------------------------------------------


def test_9_ndjson_keeps_unicode_line_separators_inside_strings() -> None:
    case = BY_ID["ollama/docs_chat_stream"]
    odd = "The\u2028next\u0085line\u2029end\r"
    body = case.body.replace(
        b'"content":"The"', json.dumps({"content": odd}, ensure_ascii=False)[1:-1].encode()
    )
    assert "\u2028".encode() in body
    doc = alone(case, body)
    assert (doc.status, doc.text) == ("complete", odd)


def test_the_wires_and_folders_agree() -> None:
    assert sorted(WIRES) == sorted(p.name for p in HERE.iterdir() if p.is_dir() and p.name in WIRES)
