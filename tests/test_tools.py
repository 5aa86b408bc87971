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


# -- parameters from real types (through pydantic) ---------------------------------------------

import dataclasses  # noqa: E402
import datetime as dt  # noqa: E402
import enum  # noqa: E402
from typing import Any, TypedDict  # noqa: E402

import pydantic  # noqa: E402


class Unit(enum.Enum):
    CELSIUS = "celsius"
    FAHRENHEIT = "fahrenheit"


class Place(TypedDict):
    """Where."""

    city: str
    country: str


@dataclasses.dataclass
class Window:
    start: dt.date
    days: int = 1


class Filters(pydantic.BaseModel):
    """What to leave out."""

    min_temp: float = pydantic.Field(description="Lowest temperature shown.")
    tags: list[str] = []


seen: list[dict[str, Any]] = []


@tool
def forecast(
    place: Place,
    window: Window,
    unit: Unit = Unit.CELSIUS,
    filters: Filters | None = None,
    when: dt.datetime | None = None,
    mode: Literal["brief", "full"] | int = "brief",
    extra: dict[str, int] | None = None,
) -> dict:
    """A forecast.

    Args:
        place: The place.
        window: Which days.
        unit: Temperature unit.
        filters: Optional filters.
        when: As of this moment.
        mode: How much to say, or a number of lines.
        extra: Anything else, by name.
    """
    seen.append(dict(locals()))
    return {"place": place, "window": window, "unit": unit}


def test_schemas_come_from_real_types_with_docstring_descriptions():
    params = forecast.parameters
    props = params["properties"]
    assert params["required"] == ["place", "window"]
    assert params["additionalProperties"] is False
    defs = params["$defs"]

    def resolved(prop: dict[str, Any]) -> dict[str, Any]:
        ref = prop.get("$ref") or prop.get("allOf", [{}])[0].get("$ref", "")
        return defs[ref.split("/")[-1]] if ref else prop

    assert props["place"]["description"] == "The place."
    place = resolved(props["place"])
    assert place["type"] == "object" and place["required"] == ["city", "country"]
    assert place["properties"]["city"] == {"type": "string"}
    window = resolved(props["window"])
    assert window["properties"]["start"] == {"type": "string", "format": "date"}
    assert window["required"] == ["start"]
    unit = resolved(props["unit"])
    assert unit["enum"] == ["celsius", "fahrenheit"] and props["unit"]["default"] == "celsius"
    filters = props["filters"]
    assert filters["description"] == "Optional filters." and filters["default"] is None
    model = resolved(next(o for o in filters["anyOf"] if "$ref" in o))
    assert model["properties"]["min_temp"]["description"] == "Lowest temperature shown."
    assert props["when"]["type"] == ["string", "null"]
    assert props["when"]["format"] == "date-time"
    assert {"enum": ["brief", "full"], "type": "string"} in props["mode"]["anyOf"]
    assert {"type": "integer"} in props["mode"]["anyOf"]
    assert props["extra"]["anyOf"][0] == {
        "type": "object",
        "additionalProperties": {"type": "integer"},
    }
    assert "title" not in str(params)  # no generated titles for the model to read


def test_valid_arguments_arrive_as_the_functions_types():
    arguments = {
        "place": {"city": "Paris", "country": "FR"},
        "window": {"start": "2026-12-07", "days": 3},
        "unit": "fahrenheit",
        "filters": {"min_temp": 2, "tags": ["rain"]},
        "when": "2026-12-07T10:00:00Z",
        "mode": 12,
        "extra": {"a": 1},
    }
    got = forecast.validate(arguments)
    assert got["place"] == {"city": "Paris", "country": "FR"}
    assert got["window"] == Window(dt.date(2026, 12, 7), 3)
    assert got["unit"] is Unit.FAHRENHEIT
    assert got["filters"] == Filters(min_temp=2.0, tags=["rain"])
    assert got["when"] == dt.datetime(2026, 12, 7, 10, tzinfo=dt.UTC)
    assert got["mode"] == 12 and got["extra"] == {"a": 1}
    # Left out: the function's own defaults apply (not pydantic's copies).
    few = forecast.validate(
        {"place": {"city": "A", "country": "B"}, "window": {"start": "2026-01-01"}}
    )
    assert set(few) == {"place", "window"} and few["window"].days == 1


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"window": {"start": "2026-12-07"}}, "missing required argument(s) place"),
        (
            {"place": {"city": "Paris"}, "window": {"start": "2026-12-07"}},
            "argument 'place' is missing required field(s) country",
        ),
        (
            {"place": {"city": "P", "country": "F"}, "window": {"start": "7 Dec"}},
            "argument 'window'.start must be a date string, got str \"7 Dec\"",
        ),
        (
            {
                "place": {"city": "P", "country": "F"},
                "window": {"start": "2026-12-07"},
                "unit": "K",
            },
            "argument 'unit' must be one of ['celsius', 'fahrenheit'], got str \"K\"",
        ),
        (
            {
                "place": {"city": "P", "country": "F"},
                "window": {"start": "2026-12-07", "days": "2"},
            },
            "argument 'window'.days must be integer, got str \"2\"",
        ),
        (
            {
                "place": {"city": "P", "country": "F"},
                "window": {"start": "2026-12-07"},
                "filters": {"min_temp": "cold"},
            },
            "argument 'filters'.min_temp must be number, got str \"cold\"",
        ),
        (
            {
                "place": {"city": "P", "country": "F"},
                "window": {"start": "2026-12-07"},
                "mode": 2.5,
            },
            "argument 'mode' must be",
        ),
        (
            {
                "place": {"city": "P", "country": "F"},
                "window": {"start": "2026-12-07"},
                "extra": {"a": "b"},
            },
            "argument 'extra'.a must be integer, got str \"b\"",
        ),
        (
            {"place": [], "window": {"start": "2026-12-07"}, "colour": "red"},
            "unknown argument(s) colour; expected place, window, unit, filters, when, mode, extra",
        ),
    ],
)
def test_bad_arguments_of_real_types_get_a_message_the_model_can_act_on(arguments, message):
    with pytest.raises(ToolArgumentError) as caught:
        forecast.validate(arguments)
    assert str(caught.value).startswith("forecast: ")
    assert message in str(caught.value), str(caught.value)


def test_several_problems_are_told_at_once():
    with pytest.raises(ToolArgumentError) as caught:
        forecast.validate({"place": {"city": 1, "country": "F"}, "when": "soon", "x": 1})
    message = str(caught.value)
    assert "unknown argument(s) x" in message and "missing required argument(s) window" in message
    assert "argument 'place'.city must be string, got int 1" in message
    assert "argument 'when' must be a date-time string or null, got str \"soon\"" in message


def test_a_type_pydantic_cannot_describe_accepts_anything():
    class Opaque:
        pass

    def use(thing: Opaque, n: int = 0) -> str:
        """Use a thing."""
        return "ok"

    t = tool(use)
    assert t.parameters["properties"]["thing"] == {}
    assert t.validate({"thing": {"any": "json"}}) == {"thing": {"any": "json"}}


async def test_results_come_back_as_json_ready_data():
    window_tool = tool(lambda start: Window(dt.date.fromisoformat(start)), name="w")
    assert await window_tool.run({"start": "2026-12-07"}) == {"start": "2026-12-07", "days": 1}
    result = await forecast.run(
        forecast.validate(
            {"place": {"city": "P", "country": "F"}, "window": {"start": "2026-12-07"}}
        )
    )
    assert result["unit"] == "celsius" and result["window"]["start"] == "2026-12-07"


async def test_in_the_tool_loop_a_bad_call_is_answered_with_the_message_and_not_run():
    from streamwidget import Store, start

    class TwoSteps:
        name, model = "scripted", "steps-1"

        def __init__(self) -> None:
            self.requests: list[Any] = []

        def describe(self, request: Any) -> dict[str, Any]:
            return {}

        async def stream(self, request: Any) -> Any:
            self.requests.append(request)
            if len(self.requests) == 1:
                bad = {"place": {"city": "Paris"}, "window": {"start": "tomorrow"}}
                good = {
                    "place": {"city": "Paris", "country": "FR"},
                    "window": {"start": "2026-12-08"},
                }
                for call_id, arguments in (("c1", bad), ("c2", good)):
                    yield {"type": "tool_call_start", "id": call_id, "name": "forecast"}
                    yield {"type": "tool_call_end", "id": call_id, "arguments": arguments}
                yield {"type": "finish", "reason": "tool_calls"}
            else:
                yield {"type": "text", "text": "Done."}
                yield {"type": "finish", "reason": "stop"}

    seen.clear()
    provider = TwoSteps()
    doc = await start(provider, store=Store(":memory:"), tools=[forecast])
    assert doc.status == "complete"
    calls = {c.id: c for c in doc.tool_calls}
    assert calls["c1"].status == "error" and calls["c2"].status == "done"
    assert "'place' is missing required field(s) country" in calls["c1"].error
    assert "'window'.start must be a date string" in calls["c1"].error
    assert len(seen) == 1 and seen[0]["window"] == Window(dt.date(2026, 12, 8))  # only c2 ran
    told = {
        m["tool_call_id"]: m["content"]
        for m in provider.requests[1].messages
        if m["role"] == "tool"
    }
    assert told["c1"].startswith("Error: forecast: ") and "country" in told["c1"]
    assert provider.requests[0].tools[0]["parameters"] == forecast.parameters  # the model saw it
