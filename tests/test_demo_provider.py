"""The keyless demo models: recordings chosen by keyword, and a scripted tool caller."""

import pytest

from streamwidget import ChatRequest, Recording, Store, start, tool
from streamwidget.providers.demo import (
    DemoProvider,
    ScriptedToolProvider,
    demo_model,
    guess_arguments,
    match_tool,
    pick_recording,
)


def ask(text):
    return ChatRequest(messages=[{"role": "user", "content": text}])


@pytest.mark.parametrize(
    ("message", "recording"),
    [
        ("What's the weather like in Paris?", "weather-tool-error"),
        ("Could you review this function?", "code-review"),
        ("Explain how streaming works", "markdown-tour"),
        ("Hi!", "hello"),
        ("the forecast and my code", "weather-tool-error"),  # first rule wins
        ("a decoder", "hello"),  # keywords start words: "decoder" is not "code"
    ],
)
def test_the_documented_rule_picks_the_recording(message, recording):
    assert pick_recording(message) == recording


def test_the_demo_model_replays_the_recording_for_the_last_user_message():
    provider = DemoProvider(speed=0)
    request = ChatRequest(
        messages=[
            {"role": "user", "content": "Explain streaming"},
            {"role": "assistant", "content": "..."},
            {"role": "user", "content": "Now review my code"},
        ]
    )
    store = Store(":memory:")
    doc = start(provider, request=request, store=store).wait(10)
    assert doc.content_equal(Recording.bundled("code-review").document())
    assert provider.describe(request)["replay_of"] == "bundled:code-review"
    assert doc.model == "replay:demo"


def test_replayed_tool_calls_come_with_their_results_and_nothing_runs():
    ran = []

    @tool
    def get_weather(city: str) -> str:
        """Weather."""
        ran.append(city)
        return "sunny"

    doc = start(
        DemoProvider(speed=0), request=ask("weather?"), store=Store(":memory:"), tools=[get_weather]
    ).wait(10)
    assert ran == []
    assert doc.tool_calls[0].status == "done" and doc.tool_calls[0].result["city"] == "Paris"
    assert doc.status == "error" and doc.error["kind"] == "overloaded"  # as recorded


def test_demo_speed_is_checked_and_defaults_to_three():
    assert DemoProvider().speed == 3.0
    with pytest.raises(ValueError, match="speed"):
        DemoProvider(speed=-1)


def test_model_strings_for_the_demo_models():
    assert isinstance(demo_model("replay:demo"), DemoProvider)
    assert isinstance(demo_model(" Demo:Tools "), ScriptedToolProvider)
    assert demo_model("replay:hello") is None and demo_model(42) is None


@tool(requires_approval=False)
def get_weather(city: str, unit: str = "celsius") -> dict:
    """Current weather.

    Args:
        city: City name.
        unit: celsius or fahrenheit.
    """
    return {"city": city, "temperature": 21, "unit": unit}


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def test_the_scripted_model_calls_a_real_tool_then_writes_up_the_result():
    store = Store(":memory:")
    doc = start(
        ScriptedToolProvider(token_delay=0),
        request=ask("What's the weather in New York today?"),
        store=store,
        tools=[get_weather, add],
    ).wait(10)
    assert doc.status == "complete"
    (call,) = doc.tool_calls
    assert (call.name, call.arguments, call.status) == ("get_weather", {"city": "New York"}, "done")
    assert call.result == {"city": "New York", "temperature": 21, "unit": "celsius"}
    assert "Let me call `get_weather`" in doc.text and "**temperature**: 21" in doc.text
    kinds = [e["type"] for e in store.events(doc.stream_id)]
    assert kinds.count("tool_call_delta") >= 2  # the arguments stream in pieces


def test_numbers_become_integer_arguments():
    doc = start(
        ScriptedToolProvider(token_delay=0),
        request=ask("please add 2 and 40"),
        store=Store(":memory:"),
        tools=[get_weather, add],
    ).wait(10)
    assert doc.tool_calls[0].arguments == {"a": 2, "b": 40}
    assert "returned:\n\n`42`" in doc.text


def test_a_call_the_tool_rejects_is_reported_not_hidden():
    doc = start(
        ScriptedToolProvider(token_delay=0),
        request=ask("What's the weather?"),  # no place named: the call misses `city`
        store=Store(":memory:"),
        tools=[get_weather],
    ).wait(10)
    assert doc.tool_calls[0].status == "error"
    assert "missing required argument(s) city" in doc.tool_calls[0].error
    assert "The `get_weather` call failed" in doc.text


def test_without_a_matching_tool_the_scripted_model_says_what_it_is():
    doc = start(
        ScriptedToolProvider(token_delay=0),
        request=ask("tell me a joke"),
        store=Store(":memory:"),
        tools=[get_weather],
    ).wait(10)
    assert doc.tool_calls == []
    assert "scripted demo model" in doc.text and "`get_weather`" in doc.text


def test_tool_matching_and_argument_rules():
    specs = [get_weather.spec(), add.spec()]
    assert match_tool("is it going to rain? weather!", specs)["name"] == "get_weather"
    assert match_tool("get me something", specs) is None  # "get" alone names nothing
    params = get_weather.parameters
    assert guess_arguments("weather for Paris", params) == {"city": "Paris"}
    assert guess_arguments("weather Berlin please", params) == {"city": "Berlin"}
    assert guess_arguments("What about the weather?", params) == {}
