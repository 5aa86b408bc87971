"""Failures, shared by the live providers.

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

Secrets (keys, redaction, the scrubber of streamed text) are in :mod:`.secrets`.
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import httpx

T = TypeVar("T")
P = ParamSpec("P")


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


def json_object(
    text: str,
    malformed: str = "malformed JSON in the event stream",
    expected: str = "expected a JSON object in the stream",
) -> dict[str, Any]:
    """One message of a stream parsed as a JSON object; anything else is a :class:`WireFailure`
    quoting it (``malformed: ...`` when it is not JSON, ``expected, got ...`` otherwise)."""
    try:
        data = json.loads(text)
    except ValueError:
        raise WireFailure(f"{malformed}: {text[:200]!r}") from None
    if not isinstance(data, dict):
        raise WireFailure(f"{expected}, got {text[:200]!r}")
    return data


def folded(raw: str, fold: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``fold(*args)``, a folder reading the message ``raw``; a shape it did not expect (a
    missing key, a wrong type) becomes a :class:`WireFailure` quoting ``raw``."""
    try:
        return fold(*args, **kwargs)
    except SHAPE_ERRORS:
        raise unexpected(raw) from None


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
