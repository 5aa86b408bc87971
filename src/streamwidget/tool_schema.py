"""Tool parameters from real types, through pydantic: the JSON schema a model sees, the
validation of what it sends back, and messages about bad arguments the model can act on.

Every parameter type pydantic knows works: ``str``/``int``/``float``/``bool``, ``list[...]``,
``dict[...]``, ``Literal``, ``Enum``, ``Optional``/``Union``, ``date``/``datetime``,
``TypedDict``, dataclasses and pydantic models (nested too). A parameter whose type pydantic
cannot describe accepts anything, as an unannotated one does.

Arguments are validated in pydantic's strict JSON mode: no silent coercion of ``"2"`` to ``2``
or ``true`` to ``1``, but ISO strings become ``date``/``datetime`` and values become ``Enum``
members, as JSON cannot carry those types otherwise.
"""

from __future__ import annotations

import inspect
import json
import sys
import types
import typing
from collections.abc import Callable
from typing import Any


class ToolArgumentError(ValueError):
    """Arguments a model sent do not fit the tool's schema; the message is for the model."""


def parameters_model(func: Callable[..., Any], docs: dict[str, str]) -> Any:
    """A pydantic model of ``func``'s parameters (descriptions from ``docs``)."""
    from pydantic import ConfigDict, Field, create_model

    hints = typing.get_type_hints(func, include_extras=True)
    fields: dict[str, Any] = {}
    filled: list[str] = []  # optional here, but the function has no default: pass None
    for param in inspect.signature(func).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        annotation = _describable(hints.get(param.name, Any))
        default = param.default
        if default is param.empty:
            default = None if _allows_none(annotation) else ...  # Optional: may be left out
            filled.append(param.name)
        fields[param.name] = (annotation, Field(default, description=docs.get(param.name)))
    config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)
    model = create_model(f"{func.__name__}_arguments", __config__=config, **fields)
    model.__streamwidget_filled__ = frozenset(filled)
    return model


def _describable(annotation: Any) -> Any:
    """The annotation if pydantic can validate it and write its JSON schema, else ``Any``."""
    from pydantic import TypeAdapter

    if annotation is Any:
        return annotation
    if sys.version_info < (3, 12):
        annotation = _modern_typeddicts(annotation)
    try:
        TypeAdapter(annotation).json_schema()
    except Exception:  # a type pydantic does not know (any error it raises for it)
        return Any
    return annotation


def _modern_typeddicts(annotation: Any) -> Any:
    """``typing.TypedDict`` classes (in the annotation, at any depth) as
    ``typing_extensions.TypedDict``, which pydantic needs before Python 3.12."""
    import typing_extensions as te

    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if typing.is_typeddict(annotation) and type(annotation).__module__ == "typing":
        hints = typing.get_type_hints(annotation, include_extras=True)
        required = annotation.__required_keys__
        fields = {
            key: (te.Required if key in required else te.NotRequired)[_modern_typeddicts(hint)]
            for key, hint in hints.items()
        }
        # A TypedDict made at run time: mypy only checks the literal, class-like form.
        modern = te.TypedDict(annotation.__name__, fields)  # type: ignore[misc]
        modern.__doc__ = annotation.__doc__
        return modern
    if origin is None or not args:
        return annotation
    if origin is typing.Annotated:
        return typing.Annotated[(_modern_typeddicts(args[0]), *annotation.__metadata__)]
    if origin is typing.Literal:
        return annotation
    new = tuple(_modern_typeddicts(a) for a in args)
    if new == args:
        return annotation
    if origin in (types.UnionType, typing.Union):
        return typing.Union[new]  # noqa: UP007 (a union built from a tuple)
    if not isinstance(origin, type):
        return annotation
    generic: Any = origin  # list, dict, a Generic...: subscripted through __class_getitem__
    return generic[new]


def _allows_none(annotation: Any) -> bool:
    return type(None) in typing.get_args(annotation)


def json_schema(model: Any) -> dict[str, Any]:
    """The model's JSON schema, tidied for a model to read: no generated titles, and
    ``{"type": [T, "null"]}`` for a plain optional value."""
    schema: dict[str, Any] = _tidy(model.model_json_schema())
    schema.pop("description", None)  # the tool's description says it
    schema.setdefault("required", [])
    return schema


def _tidy(node: Any) -> Any:
    if isinstance(node, list):
        return [_tidy(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "title" and isinstance(value, str):
            continue
        if key in ("properties", "$defs"):  # maps of names: keep every name, tidy each schema
            out[key] = {name: _tidy(sub) for name, sub in value.items()}
        else:
            out[key] = _tidy(value)
    options = out.get("anyOf")
    if isinstance(options, list) and len(options) == 2 and {"type": "null"} in options:
        other = next(o for o in options if o != {"type": "null"})
        if set(other) <= {"type", "format"} and isinstance(other.get("type"), str):
            del out["anyOf"]
            out = {**other, "type": [other["type"], "null"], **out}
    return out


def validate(name: str, model: Any, schema: dict[str, Any], arguments: Any) -> dict[str, Any]:
    """Validated arguments as the function's own types; else :class:`ToolArgumentError`."""
    from pydantic import ValidationError

    if not isinstance(arguments, dict):
        raise ToolArgumentError(f"{name}: arguments must be a JSON object")
    try:
        parsed = model.model_validate_json(json.dumps(arguments), strict=True)
    except ValidationError as exc:
        raise ToolArgumentError(explain(name, exc, schema, arguments)) from None
    # What the model sent, as the function's types; left out: the function's own defaults.
    given = parsed.model_fields_set | getattr(model, "__streamwidget_filled__", frozenset())
    return {field: getattr(parsed, field) for field in type(parsed).model_fields if field in given}


def explain(name: str, exc: Any, schema: dict[str, Any], arguments: dict[str, Any]) -> str:
    """One message for all that is wrong, in the terms of the JSON schema the model saw."""
    missing: list[str] = []
    unknown: list[str] = []
    problems: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for error in exc.errors():
        loc = error["loc"]
        if error["type"] == "missing":  # the last part names the missing key
            path = [*_real_path(loc[:-1], arguments), loc[-1]]
            if len(path) == 1:
                missing.append(str(path[0]))
            else:
                problems.setdefault(tuple(path[:-1]), []).append(error)
            continue
        path = _real_path(loc, arguments)
        if error["type"] == "extra_forbidden" and len(path) == 1:
            unknown.append(str(path[0]))
        else:
            problems.setdefault(tuple(path), []).append(error)
    parts = []
    if unknown:
        expected = ", ".join(schema["properties"]) or "none"
        parts.append(f"unknown argument(s) {', '.join(unknown)}; expected {expected}")
    if missing:
        parts.append(f"missing required argument(s) {', '.join(missing)}")
    for at, errors in problems.items():
        parts.append(_problem(at, errors, schema, arguments))
    return f"{name}: " + "; ".join(parts)


def _real_path(loc: tuple[Any, ...], arguments: Any) -> list[Any]:
    """The location in the arguments, without the union-member tags pydantic adds to it."""
    path, value = [], arguments
    for part in loc:
        in_dict = isinstance(value, dict) and part in value
        in_list = isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value)
        if in_dict or in_list:
            value = value[part]
        else:
            continue  # a tag such as 'int' or 'function-after[...]'
        path.append(part)
    return path


def _problem(
    path: tuple[Any, ...], errors: list[dict[str, Any]], schema: dict[str, Any], arguments: Any
) -> str:
    where = "argument " + "".join(
        f"'{p}'" if i == 0 else f"[{p}]" if isinstance(p, int) else f".{p}"
        for i, p in enumerate(path)
    )
    kinds = {e["type"] for e in errors}
    if kinds == {"missing"}:
        keys = ", ".join(str(e["loc"][-1]) for e in errors)
        return f"{where} is missing required field(s) {keys}"
    value = arguments
    for part in path:
        value = value[part]
    node = _schema_at(schema, path)
    got = f"got {type(value).__name__} {json.dumps(value, ensure_ascii=False, default=str)}"
    if all(k.endswith(("_type", "_parsing")) or k in _WRONG_VALUE for k in kinds):
        return f"{where} must be {_expected(node, schema)}, {got}"[:300]
    reasons = "; ".join(dict.fromkeys(e["msg"] for e in errors))
    return f"{where} is not valid: {reasons} ({got})"[:300]


#: Errors that mean "not one of the values allowed" (told from the schema, like type errors).
_WRONG_VALUE = {"literal_error", "enum", "union_tag_invalid"}


def _resolve(node: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref", "")
    if ref.startswith("#/$defs/"):
        target: dict[str, Any] = schema.get("$defs", {}).get(ref.removeprefix("#/$defs/"), {})
        return target
    return node


def _schema_at(schema: dict[str, Any], path: tuple[Any, ...]) -> dict[str, Any]:
    node = schema
    for part in path:
        node = _resolve(node, schema)
        options = [_resolve(o, schema) for o in node.get("anyOf", [])]
        node = next((o for o in options if o.get("type") not in ("null", None)), node)
        if isinstance(part, int):
            node = node.get("items") or {}
        else:
            node = node.get("properties", {}).get(part) or node.get("additionalProperties") or {}
        node = node if isinstance(node, dict) else {}
    return _resolve(node, schema)


def _expected(node: dict[str, Any], schema: dict[str, Any]) -> str:
    node = _resolve(node, schema)
    if "enum" in node or "const" in node:
        return f"one of {node.get('enum', [node.get('const')])}"
    if "anyOf" in node:
        kinds = [_expected(option, schema) for option in node["anyOf"]]
        return " or ".join(dict.fromkeys(kinds))
    kind = node.get("type")
    if isinstance(kind, list):
        return " or ".join(_expected({**node, "type": k}, schema) for k in kind)
    if kind == "string" and "format" in node:
        return f"a {node['format']} string"
    if kind == "object" and "properties" in node:
        return f"object with {', '.join(node['properties'])}"
    return str(kind) if kind else "valid"
