"""Tools: plain Python functions (sync or async) a model may call.

The JSON schema comes from type hints and the docstring; arguments are validated before the
call and a bad call becomes a clear message for the model, not an exception in the kernel::

    @sw.tool
    def get_weather(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> dict:
        '''Current weather for a city.

        Args:
            city: City name, e.g. "Paris".
            unit: Temperature unit.
        '''
"""

from __future__ import annotations

import asyncio
import inspect
import re
import types
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal, Union, get_args, get_origin


class ToolArgumentError(ValueError):
    """Arguments a model sent do not fit the tool's schema; the message is for the model."""


@dataclass
class Tool:
    """A callable with the schema a model sees."""

    name: str
    description: str
    parameters: dict[str, Any]
    function: Callable[..., Any]
    requires_approval: bool = False

    def spec(self) -> dict[str, Any]:
        """The provider-neutral tool description that goes in a request."""
        return {"name": self.name, "description": self.description, "parameters": self.parameters}

    def validate(self, arguments: Any) -> dict[str, Any]:
        """Return the arguments if they fit the schema; else raise :class:`ToolArgumentError`."""
        if not isinstance(arguments, dict):
            raise ToolArgumentError(f"{self.name}: arguments must be a JSON object")
        properties = self.parameters["properties"]
        unknown = sorted(set(arguments) - set(properties))
        if unknown:
            raise ToolArgumentError(
                f"{self.name}: unknown argument(s) {', '.join(unknown)}; "
                f"expected {', '.join(properties) or 'none'}"
            )
        missing = [n for n in self.parameters.get("required", []) if n not in arguments]
        if missing:
            raise ToolArgumentError(
                f"{self.name}: missing required argument(s) {', '.join(missing)}"
            )
        for key, value in arguments.items():
            _check(value, properties[key], f"{self.name}: argument '{key}'")
        return arguments

    async def run(self, arguments: dict[str, Any]) -> Any:
        """Call the function; sync functions run in a worker thread, off the event loop."""
        if inspect.iscoroutinefunction(self.function):
            return await self.function(**arguments)
        return await asyncio.to_thread(self.function, **arguments)

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
        return Tool(
            name=name or func.__name__,
            description=description or summary,
            parameters=_schema(func, param_docs),
            function=func,
            requires_approval=requires_approval,
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


# -- schema from type hints ------------------------------------------------------------------

_SIMPLE = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    dict: "object",
    list: "array",
    type(None): "null",
}


def _schema(func: Callable[..., Any], docs: dict[str, str]) -> dict[str, Any]:
    hints = typing.get_type_hints(func)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for param in inspect.signature(func).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        annotation = hints.get(param.name, Any)
        prop, optional = _type_schema(annotation)
        if optional and "type" in prop:
            prop["type"] = [prop["type"], "null"]
        if param.name in docs:
            prop["description"] = docs[param.name]
        if param.default is not param.empty:
            prop["default"] = param.default
        elif not optional:
            required.append(param.name)
        properties[param.name] = prop
    return {"type": "object", "properties": properties, "required": required}


def _type_schema(annotation: Any) -> tuple[dict[str, Any], bool]:
    """JSON schema for a type hint, and whether ``None`` is allowed (optional)."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin in (Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        inner, _ = _type_schema(rest[0]) if len(rest) == 1 else ({}, False)
        return inner, len(rest) < len(args)
    if origin is Literal:
        return {"enum": list(args)}, False
    if origin in (list, tuple, set, frozenset) or annotation in (list, tuple):
        items = _type_schema(args[0])[0] if args else {}
        return {"type": "array", "items": items}, False
    if origin is dict or annotation is dict:
        return {"type": "object"}, False
    if annotation in _SIMPLE:
        return {"type": _SIMPLE[annotation]}, False
    return {}, False  # Any or something we cannot describe: accept anything


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


def _check(value: Any, schema: dict[str, Any], where: str) -> None:
    if "enum" in schema and value not in schema["enum"]:
        raise ToolArgumentError(f"{where} must be one of {schema['enum']}, got {value!r}")
    expected = schema.get("type")
    allowed = expected if isinstance(expected, list) else [expected]
    if expected is not None and not any(_is(value, str(kind)) for kind in allowed):
        wanted = " or ".join(map(str, allowed))
        raise ToolArgumentError(
            f"{where} must be {wanted}, got {type(value).__name__} {value!r}"[:300]
        )
    if value is not None and "array" in allowed and schema.get("items"):
        for index, item in enumerate(value):
            _check(item, schema["items"], f"{where}[{index}]")


def _is(value: Any, kind: str) -> bool:
    checks: dict[str, Callable[[Any], bool]] = {
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "object": lambda v: isinstance(v, dict),
        "array": lambda v: isinstance(v, list),
        "null": lambda v: v is None,
    }
    return checks.get(kind, lambda v: True)(value)
