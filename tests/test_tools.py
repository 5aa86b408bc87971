from typing import Literal

import pytest

from streamwidget.tools import Tool, ToolArgumentError, tool, toolbox


@tool
def get_weather(
    city: str, unit: Literal["celsius", "fahrenheit"] = "celsius", days: int | None = None
) -> dict:
    """Current weather for a city.

    Args:
        city: City name, e.g. "Paris".
        unit: Temperature unit.
    """
    return {"city": city, "unit": unit}


def test_schema_comes_from_hints_and_docstring():
    assert isinstance(get_weather, Tool)
    assert get_weather.description == "Current weather for a city."
    params = get_weather.parameters
    assert params["required"] == ["city"]
    assert params["properties"]["city"] == {
        "type": "string",
        "description": 'City name, e.g. "Paris".',
    }
    assert params["properties"]["unit"]["enum"] == ["celsius", "fahrenheit"]
    assert params["properties"]["unit"]["default"] == "celsius"
    assert params["properties"]["days"]["type"] == ["integer", "null"]


def test_sphinx_style_params_and_lists():
    def add(values: list[float], note: str = "") -> float:
        """Add numbers.

        :param values: the numbers
        """
        return sum(values)

    t = tool(add)
    assert t.parameters["properties"]["values"] == {
        "type": "array",
        "items": {"type": "number"},
        "description": "the numbers",
    }
    assert t.validate({"values": [1, 2.5]}) == {"values": [1, 2.5]}
    with pytest.raises(ToolArgumentError, match=r"values'\[1\] must be number"):
        t.validate({"values": [1, "2"]})


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({}, "missing required argument.*city"),
        ({"city": 3}, "'city' must be string, got int"),
        ({"city": "Paris", "unit": "kelvin"}, "must be one of"),
        ({"city": "Paris", "colour": "red"}, "unknown argument.*colour"),
        ({"city": "Paris", "days": True}, "'days' must be integer or null"),
        ("Paris", "must be a JSON object"),
    ],
)
def test_bad_arguments_get_a_message_the_model_can_act_on(arguments, message):
    with pytest.raises(ToolArgumentError, match=message):
        get_weather.validate(arguments)


def test_valid_arguments_pass_including_none_for_optional():
    assert get_weather.validate({"city": "Paris", "days": None})


async def test_sync_tools_run_off_the_loop_and_async_tools_are_awaited():
    import threading

    main = threading.get_ident()

    def where() -> int:
        """Which thread."""
        return threading.get_ident()

    async def twice(x: int) -> int:
        """Double."""
        return 2 * x

    assert await tool(where).run({}) != main
    assert await tool(twice).run({"x": 4}) == 8


def test_toolbox_rejects_duplicate_names():
    with pytest.raises(ValueError, match="two tools are named 'get_weather'"):
        toolbox([get_weather, get_weather])
    assert list(toolbox([get_weather, len])) == ["get_weather", "len"]
