"""The manager's tool loop, driven by a scripted provider (one script per model step)."""

import asyncio
import json

from streamwidget import ChatRequest, Store, start
from streamwidget.providers.replay import ReplayProvider
from streamwidget.recording import Recording
from streamwidget.tools import tool


class StepsProvider:
    name = "scripted"
    model = "steps-1"

    def __init__(self, *steps):
        self.steps = list(steps)
        self.requests: list[ChatRequest] = []

    def describe(self, request):
        return {}

    async def stream(self, request):
        self.requests.append(request)
        for event in self.steps.pop(0):
            await asyncio.sleep(0)
            yield event


def call(call_id, name, arguments):
    text = json.dumps(arguments)
    return [
        {"type": "tool_call_start", "id": call_id, "name": name},
        {"type": "tool_call_delta", "id": call_id, "args_delta": text[:5]},
        {"type": "tool_call_delta", "id": call_id, "args_delta": text[5:]},
        {"type": "tool_call_end", "id": call_id, "arguments": arguments},
    ]


def say(text, reason="stop"):
    return [
        {"type": "text", "text": text},
        {"type": "usage", "output_tokens": 3},
        {"type": "finish", "reason": reason},
    ]


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool
def boom() -> str:
    """Always fails."""
    raise RuntimeError("disk on fire")


async def test_model_asks_tool_runs_result_goes_back_model_continues():
    provider = StepsProvider(
        [
            {"type": "text", "text": "Let me add. "},
            *call("c1", "add", {"a": 2, "b": 3}),
            {"type": "usage", "output_tokens": 5},
            {"type": "finish", "reason": "tool_calls"},
        ],
        say("It is 5."),
    )
    store = Store(":memory:")
    doc = await start(
        provider,
        store=store,
        tools=[add],
        request=ChatRequest(messages=[{"role": "user", "content": "2+3?"}]),
    )
    assert doc.status == "complete" and doc.text == "Let me add. It is 5."
    assert [(c.name, c.status, c.arguments, c.result) for c in doc.tool_calls] == [
        ("add", "done", {"a": 2, "b": 3}, 5)
    ]
    assert doc.usage == {"output_tokens": 8}  # summed over both steps
    second = provider.requests[1]
    assert second.tools[0]["name"] == "add"
    assert second.messages[-2] == {
        "role": "assistant",
        "content": "Let me add. ",
        "tool_calls": [{"id": "c1", "name": "add", "arguments": {"a": 2, "b": 3}}],
    }
    assert second.messages[-1] == {
        "role": "tool",
        "tool_call_id": "c1",
        "name": "add",
        "content": "5",
    }
    statuses = [e.get("status") for e in store.events(doc.stream_id) if e.get("id") == "c1"]
    assert statuses[-2:] == ["running", "done"]
    assert [e["type"] for e in store.events(doc.stream_id)].count("finish") == 1


async def test_parallel_calls_run_together_and_failures_go_back_to_the_model():
    provider = StepsProvider(
        [
            *call("c1", "add", {"a": 1, "b": 1}),
            *call("c2", "boom", {}),
            *call("c3", "add", {"a": "x", "b": 1}),
            *call("c4", "nope", {}),
            {"type": "finish", "reason": "tool_calls"},
        ],
        say("Done."),
    )
    doc = await start(provider, store=Store(":memory:"), tools=[add, boom])
    by_id = {c.id: c for c in doc.tool_calls}
    assert by_id["c1"].status == "done" and by_id["c1"].result == 2
    assert by_id["c2"].status == "error" and by_id["c2"].error == "RuntimeError: disk on fire"
    assert by_id["c3"].status == "error" and "'a' must be integer" in by_id["c3"].error
    assert by_id["c4"].status == "error" and "no tool named 'nope'" in by_id["c4"].error
    told = {
        m["tool_call_id"]: m["content"]
        for m in provider.requests[1].messages
        if m["role"] == "tool"
    }
    assert told["c1"] == "2" and told["c2"].startswith("Error: RuntimeError")
    assert doc.status == "complete"


async def test_a_tool_that_needs_approval_waits_and_can_be_denied():
    @tool(requires_approval=True)
    def delete_file(path: str) -> str:
        """Delete a file."""
        raise AssertionError("must not run when denied")

    store = Store(":memory:")
    provider = StepsProvider(
        [
            *call("c1", "delete_file", {"path": "/etc/hosts"}),
            {"type": "finish", "reason": "tool_calls"},
        ],
        say("Okay, I won't."),
    )
    handle = start(provider, store=store, tools=[delete_file])
    while (
        store.get(handle.id).tool_calls[:1] == []
        or store.get(handle.id).tool_calls[0].status != "pending_approval"
    ):
        await asyncio.sleep(0.01)
    handle.deny("c1")
    doc = await handle
    assert doc.tool_calls[0].status == "denied"
    assert provider.requests[1].messages[-1]["content"] == "The user denied this tool call."
    assert doc.text == "Okay, I won't."


async def test_an_approved_tool_runs():
    ran = []

    @tool(requires_approval=True)
    def send(to: str) -> str:
        """Send."""
        ran.append(to)
        return "sent"

    store = Store(":memory:")
    handle = start(
        StepsProvider(
            [*call("c1", "send", {"to": "bob"}), {"type": "finish", "reason": "tool_calls"}],
            say("Sent."),
        ),
        store=store,
        tools=[send],
    )
    while (
        not store.get(handle.id).tool_calls
        or store.get(handle.id).tool_calls[0].status != "pending_approval"
    ):
        await asyncio.sleep(0.01)
    handle.approve("c1")
    doc = await handle
    assert ran == ["bob"] and doc.tool_calls[0].status == "done"


async def test_cancel_while_a_tool_runs_cancels_it_and_keeps_the_text():
    started, cancelled = asyncio.Event(), []

    @tool
    async def slow() -> str:
        """Takes forever."""
        started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise
        return "never"

    store = Store(":memory:")
    handle = start(
        StepsProvider(
            [
                {"type": "text", "text": "Working on it. "},
                *call("c1", "slow", {}),
                {"type": "finish", "reason": "tool_calls"},
            ]
        ),
        store=store,
        tools=[slow],
    )
    await started.wait()
    handle.cancel()
    doc = await handle
    assert doc.status == "cancelled" and doc.text == "Working on it. "
    assert cancelled == [True]
    assert doc.tool_calls[0].status == "error"  # not left looking alive


async def test_the_step_limit_ends_a_model_that_keeps_asking():
    steps = [
        [*call(f"c{i}", "add", {"a": i, "b": 0}), {"type": "finish", "reason": "tool_calls"}]
        for i in range(3)
    ]
    doc = await start(StepsProvider(*steps), store=Store(":memory:"), tools=[add], max_steps=3)
    assert doc.status == "error" and doc.error["kind"] == "tool"
    assert "after 3 model steps" in doc.error["message"]
    assert len(doc.tool_calls) == 3


async def test_replayed_tool_results_are_never_re_run():
    from streamwidget import Recording, ReplayProvider

    ran = []

    @tool
    def get_weather(city: str, unit: str = "celsius") -> dict:
        """Weather."""
        ran.append(city)
        return {}

    recording = Recording.bundled("weather-tool-error")
    doc = await start(
        ReplayProvider(recording, speed=0), store=Store(":memory:"), tools=[get_weather]
    )
    assert ran == []
    assert doc.content_equal(recording.document())


def server_call(call_id, name, arguments, result):
    start, *rest = call(call_id, name, arguments)
    done = {"type": "tool_result", "id": call_id, "status": "done", "result": result}
    return [{**start, "server": True}, *rest, done]


async def test_server_calls_are_never_run_and_the_app_calls_are():
    provider = StepsProvider(
        [
            *server_call("srv_1", "web_search", {"query": "x"}, [{"title": "hit"}]),
            *call("c1", "add", {"a": 2, "b": 3}),
            {"type": "finish", "reason": "tool_calls"},
        ],
        say("5, and the search found a hit."),
    )
    doc = await start(provider, request="go", tools=[add], store=Store(":memory:"))
    assert doc.status == "complete"
    assert [(c.name, c.status, c.server, c.result) for c in doc.tool_calls] == [
        ("web_search", "done", True, [{"title": "hit"}]),
        ("add", "done", False, 5),
    ]
    # The second request carries only the app's call and its result.
    second = provider.requests[1].messages
    assert [m["tool_calls"] for m in second if m.get("tool_calls")] == [
        [{"id": "c1", "name": "add", "arguments": {"a": 2, "b": 3}}]
    ]
    assert [m["tool_call_id"] for m in second if m["role"] == "tool"] == ["c1"]


async def test_a_server_call_without_a_result_is_not_run_either():
    provider = StepsProvider(
        [*call("srv_1", "code_execution", {"code": "1"}), {"type": "finish", "reason": "stop"}]
    )
    provider.steps[0][0]["server"] = True
    doc = await start(provider, request="go", tools=[add], store=Store(":memory:"))
    assert len(provider.requests) == 1
    assert doc.status == "complete" and doc.tool_calls[0].server


async def test_a_reply_left_to_the_caller_replays_to_the_same_document():
    store = Store(":memory:")
    provider = StepsProvider(
        [*call("c1", "lookup", {"q": "x"}), {"type": "finish", "reason": "stop"}]
    )
    doc = await start(provider, request="go", store=store)
    assert (doc.finish_reason, doc.tool_calls[0].status) == ("tool_calls", "pending")
    events = store.events(doc.stream_id)
    again = await start(
        ReplayProvider(Recording.new(provider="scripted", model="m", events=events), speed=0),
        store=store,
    )
    assert again.content_equal(doc)
    assert len(store.events(again.stream_id)) == len(events)  # no status written twice
