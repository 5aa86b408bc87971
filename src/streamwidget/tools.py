"""Tools: plain Python functions (sync or async) a model may call.

The JSON schema comes from the parameters' real types (through pydantic, see
:mod:`.tool_schema`) and the docstring; arguments are validated before the call and arrive
as those types (an ``Enum`` member, a ``date``, a dataclass...). A bad call becomes a clear
message for the model, and the function does not run::

    class Unit(Enum):
        CELSIUS = "celsius"
        FAHRENHEIT = "fahrenheit"

    @sw.tool
    def get_weather(city: str, day: date | None = None, unit: Unit = Unit.CELSIUS) -> dict:
        '''Current weather for a city.

        Args:
            city: City name, e.g. "Paris".
            day: The day; today if left out.
            unit: Temperature unit.
        '''
"""

from __future__ import annotations

import asyncio
import inspect
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .tool_schema import ToolArgumentError, json_schema, parameters_model
from .tool_schema import validate as _validate

__all__ = ["Tool", "ToolArgumentError", "tool", "toolbox"]


@dataclass
class Tool:
    """A callable with the schema a model sees (made by :func:`tool`)."""

    name: str
    description: str
    parameters: dict[str, Any]
    function: Callable[..., Any]
    requires_approval: bool = False
    #: The pydantic model of the parameters, which validates what the model sends.
    model: Any = field(default=None, repr=False, compare=False)

    def spec(self) -> dict[str, Any]:
        """The provider-neutral tool description that goes in a request."""
        return {"name": self.name, "description": self.description, "parameters": self.parameters}

    def validate(self, arguments: Any) -> dict[str, Any]:
        """The arguments as the function's types if they fit; else :class:`ToolArgumentError`
        with a message for the model."""
        if self.model is None:
            self.model = parameters_model(self.function, {})
        return _validate(self.name, self.model, self.parameters, arguments)

    async def run(self, arguments: dict[str, Any]) -> Any:
        """Call the function; sync functions run in a worker thread, off the event loop.
        The result comes back as JSON-ready data (models and dataclasses as objects)."""
        from pydantic_core import to_jsonable_python

        if inspect.iscoroutinefunction(self.function):
            result = await self.function(**arguments)
        else:
            result = await asyncio.to_thread(self.function, **arguments)
        return to_jsonable_python(result, fallback=str)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.function(*args, **kwargs)


def tool(
    function: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    requires_approval: bool = False,
) -> Any:
    """Make a :class:`Tool` from a function (usable as ``@tool`` or ``@tool(...)``)."""

    def wrap(func: Callable[..., Any]) -> Tool:
        summary, param_docs = _parse_docstring(inspect.getdoc(func) or "")
        model = parameters_model(func, param_docs)
        return Tool(
            name=name or func.__name__,
            description=description or summary,
            parameters=json_schema(model),
            function=func,
            requires_approval=requires_approval,
            model=model,
        )

    return wrap(function) if function is not None else wrap


def toolbox(tools: Iterable[Tool | Callable[..., Any]] | None) -> dict[str, Tool]:
    """Tools by name, from tools or plain functions; duplicate names are an error."""
    result: dict[str, Tool] = {}
    for item in tools or ():
        t = item if isinstance(item, Tool) else tool(item)
        if t.name in result:
            raise ValueError(f"two tools are named {t.name!r}")
        result[t.name] = t
    return result


def _parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """First paragraph, and parameter descriptions from ``Args:`` or ``:param x:`` lines."""
    summary = doc.split("\n\n", 1)[0].replace("\n", " ").strip()
    params: dict[str, str] = {}
    for match in re.finditer(r"^\s*:param\s+(\w+):\s*(.+)$", doc, re.M):
        params[match.group(1)] = match.group(2).strip()
    section = re.search(r"^(?:Args|Arguments|Parameters):\s*\n((?:[ \t]+.*\n?)+)", doc, re.M)
    if section:
        for match in re.finditer(r"^\s+(\w+)(?:\s*\([^)]*\))?:\s*(.+)$", section.group(1), re.M):
            params[match.group(1)] = match.group(2).strip()
    return summary, params
