"""Failures and secrets, shared by the live providers.

Failures never escape a provider's ``stream()``; each becomes one final ``error`` event.
Inside the HTTP layer they travel as exceptions of this tree::

    ProviderError                 .kind (an events.ERROR_KINDS value), .message
    ├── HTTPStatusFailure         the server answered >= 400 before streaming (.status)
    ├── NetworkFailure            could not connect, or the connection broke mid-stream
    ├── StreamTimeout             kind "timeout"
    │   ├── StallTimeout          no bytes for ``stall_timeout`` seconds
    │   └── DeadlineExceeded      the reply took longer than ``deadline`` seconds in all
    └── WireFailure               unreadable wire data, or an error object inside the stream

``MissingAPIKeyError`` is different: it is raised at construction, when there is no stream yet.
:data:`RETRY_STATUSES` and :func:`retry_after` say which failed responses are worth another
try, and when.

Secrets: keys live only in request headers. :func:`redact` scrubs them (and anything shaped
like a key) from messages and recorded wire text; :func:`strip_secrets` and :func:`safe_url`
make a request description fit for the recording header.
"""

from __future__ import annotations

import email.utils
import json
import os
import re
import time
from typing import Any

import httpx

from ..events import Event

#: Names (of options, headers, query parameters) whose values are secrets: the name is, or
#: ends in a segment that is, one of these words ("x-api-key", "auth_token"; not "max_tokens").
SECRET_NAME = re.compile(
    r"(?i)(^|[_\-.])(api_?key|key|token|secret|password|passwd|authorization|auth|cookie"
    r"|credentials?|session)$"
)
_KEY_LIKE = re.compile(r"\b(sk|sk-ant|sk-proj|rk)-[A-Za-z0-9_\-*.]{16,}")


class MissingAPIKeyError(RuntimeError):
    """A provider needs an API key and neither the argument nor the variable has one."""


class ProviderError(Exception):
    kind = "internal"

    def __init__(self, message: str, kind: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if kind is not None:
            self.kind = kind


class HTTPStatusFailure(ProviderError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}", kind_for_status(status))
        self.status = status


class NetworkFailure(ProviderError):
    kind = "network"


class StreamTimeout(ProviderError):
    kind = "timeout"


class StallTimeout(StreamTimeout):
    pass


class DeadlineExceeded(StreamTimeout):
    pass


class WireFailure(ProviderError):
    kind = "server"


#: What a parser raises when the server's JSON has a shape it does not expect (a string where
#: an object belongs, ...): turned into a WireFailure, not an "internal" error.
SHAPE_ERRORS = (AttributeError, TypeError, KeyError, IndexError)


def unexpected(data: str) -> WireFailure:
    return WireFailure(f"unexpected data in the stream: {data[:200]!r}")


def kind_for_status(status: int) -> str:
    """The error kind for an HTTP status (see events.ERROR_KINDS)."""
    if status in (401, 403):
        return "auth"
    if status == 429:
        return "rate_limit"
    if status == 408:
        return "timeout"
    if status in (503, 529):
        return "overloaded"
    if status >= 500 or status == 409:
        return "server"
    return "bad_request"


def kind_for_code(code: Any) -> str:
    """The error kind for an error object's ``type`` / ``code`` (OpenAI, Anthropic, others)."""
    if isinstance(code, int) or (isinstance(code, str) and code.isdigit()):
        return kind_for_status(int(code))
    c = str(code or "").lower()
    if "overload" in c or c == "slow_down":
        return "overloaded"
    if "rate_limit" in c or "quota" in c:
        return "rate_limit"
    if "auth" in c or "permission" in c or "api_key" in c:
        return "auth"
    if "timeout" in c:
        return "timeout"
    if any(word in c for word in ("invalid", "not_found", "too_large", "bad_request", "context")):
        return "bad_request"
    return "server"


def resolve_key(api_key: str | None, env: str | None, provider: str) -> str | None:
    """``api_key``, else the variable ``env`` (if named); a named but empty one is an error."""
    if api_key:
        return api_key
    if env is None:
        return None
    value = os.environ.get(env, "").strip()
    if not value:
        raise MissingAPIKeyError(
            f"{provider} needs an API key: set the {env} environment variable or pass api_key=..."
        )
    return value


def tool_call_end(call_id: str, name: str, args_text: str) -> Event:
    """``tool_call_end`` with the parsed arguments, or an ``error`` if they are not a JSON
    object (kind ``server``: the model produced them; the text so far is kept)."""
    try:
        arguments = json.loads(args_text) if args_text.strip() else {}
    except ValueError as exc:
        arguments = exc
    if not isinstance(arguments, dict):
        return {
            "type": "error",
            "kind": "server",
            "message": f"the model sent arguments for tool {name!r} ({call_id}) that are not "
            f"a JSON object: {args_text[:200]!r}",
        }
    return {"type": "tool_call_end", "id": call_id, "arguments": arguments}


def error_text(payload: Any) -> tuple[str | None, str | None]:
    """``(type_or_code, message)`` from an error body of any of the usual shapes.

    OpenAI ``{"error": {"message", "type", "code"}}``, Anthropic ``{"type": "error", "error":
    {"type", "message"}}``, Ollama ``{"error": "..."}``, FastAPI ``{"detail": ...}``.
    """
    if not isinstance(payload, dict):
        return None, None
    err = payload.get("error", payload.get("detail"))
    if isinstance(err, str):
        return None, err
    if isinstance(err, list):  # FastAPI validation errors
        return "invalid_request_error", json.dumps(err)[:500]
    if isinstance(err, dict):
        code = err.get("type") or err.get("code")
        message = err.get("message") or err.get("msg") or json.dumps(err)[:500]
        return (str(code) if code is not None else None), str(message)
    return None, None


def body_message(body: bytes) -> str:
    """The server's message from an error response body (JSON or text), trimmed."""
    text = body.decode("utf-8", errors="replace").strip()
    try:
        _, message = error_text(json.loads(text))
    except ValueError:
        message = None
    return (message or text or "(empty body)")[:1000]


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Remove known secrets and anything shaped like an API key from ``text``."""
    for secret in secrets:
        if secret and len(secret) >= 4 and secret in text:
            text = text.replace(secret, "***")
    return _KEY_LIKE.sub(lambda m: m.group(1) + "-***", text)


def strip_secrets(value: Any) -> Any:
    """A copy of ``value`` without mapping entries whose name looks secret (recursively)."""
    if isinstance(value, dict):
        return {
            k: strip_secrets(v)
            for k, v in value.items()
            if not (isinstance(k, str) and SECRET_NAME.search(k))
        }
    if isinstance(value, list):
        return [strip_secrets(v) for v in value]
    return value


def safe_url(url: str | httpx.URL) -> str:
    """``url`` without user info and without query parameters whose name looks secret."""
    url = httpx.URL(url)
    params = [(k, v) for k, v in url.params.multi_items() if not SECRET_NAME.search(k)]
    return str(url.copy_with(username=None, password=None, params=params or None))


#: Statuses worth retrying (before the first byte only).
RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504, 529})


def retry_after(headers: httpx.Headers) -> float | None:
    """Seconds the server asked us to wait: ``retry-after-ms`` wins over ``retry-after``."""
    value = headers.get("retry-after-ms")
    if value:
        try:
            return max(0.0, float(value) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:  # an HTTP date
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
