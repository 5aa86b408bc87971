"""Shared async HTTP plumbing for the live providers (OpenAI-compatible, Anthropic, Ollama).

A live provider subclasses :class:`HTTPProvider` and supplies the endpoint, the wire body for a
:class:`ChatRequest`, and a parser that turns the opened :class:`WireStream` into normalized
events. Everything else lives here: one pooled ``httpx.AsyncClient`` per provider and event
loop, retries with backoff *before the first byte* (honouring ``retry-after-ms`` /
``retry-after``), a stall timeout and an overall deadline, and closing the response whatever
happens (normal end, error, cancellation). Failures become one final ``error`` event; their
exception tree and the secret handling are in :mod:`.errors`; the opened response, read as SSE
or as lines, is :class:`.wire.WireStream`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import math
import random
import time
import urllib.parse
import weakref
from collections.abc import AsyncIterator, Awaitable, Iterator
from typing import Any, TypeVar

import httpx

from ..events import Event
from .base import ChatRequest
from .errors import (
    RETRY_STATUSES,
    DeadlineExceeded,
    HTTPStatusFailure,
    NetworkFailure,
    ProviderError,
    StreamTimeout,
    body_message,
    retry_after,
)
from .secrets import SECRET_NAME, TextScrubber, redact, safe_url, strip_secrets
from .wire import WireStream, _timed

T = TypeVar("T")

# Tests replace this to observe backoff delays without waiting.
_sleep = asyncio.sleep


async def _close_fully(closing: Awaitable[None]) -> None:
    """Finish closing even if the task is cancelled meanwhile (then re-raise): a close cut
    short would leave the connection checked out of the pool."""
    task = asyncio.ensure_future(closing)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        await task
        raise


def _held_back(scrub: TextScrubber, wire: WireStream | None) -> Iterator[Event]:
    """What is still held when a reply ends: scrubbed text, then the rest of the wire."""
    yield from scrub.flush()
    if wire is not None:
        for data in wire.take_wire(final=True):
            yield {"type": "wire", "data": data}


def endpoint_url(base_url: str, path: str) -> str:
    """``path`` appended to the path of ``base_url``, whose query stays at the end (Azure
    OpenAI's ``.../deployments/x?api-version=...``)."""
    parts = urllib.parse.urlsplit(base_url)
    return urllib.parse.urlunsplit(parts._replace(path=parts.path.rstrip("/") + path))


class HTTPProvider:
    """Base of the live providers. Subclasses set ``name``, ``default_base_url``, ``path``
    and implement :meth:`_headers`, :meth:`build_body` and :meth:`parse`."""

    name = "http"
    default_base_url = ""
    path = ""
    #: Environment variable holding the key (None: no key needed).
    api_key_env: str | None = None

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        headers: dict[str, str] | None = None,
        connect_timeout: float = 10.0,
        stall_timeout: float | None = 60.0,
        deadline: float | None = 600.0,
        max_retries: int = 3,
        backoff: float = 0.5,
        max_backoff: float = 8.0,
        max_retry_after: float = 60.0,
        record_wire: bool = False,
        client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not isinstance(model, str) or not model:
            raise ValueError(f"{type(self).__name__} needs a model name, got {model!r}")
        self.model = model
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        self._api_key = api_key
        self._extra_headers = dict(headers or {})
        self.connect_timeout = connect_timeout
        # None switches a limit off.
        self.stall_timeout = stall_timeout if stall_timeout is not None else math.inf
        self.deadline = deadline
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_retry_after = max_retry_after
        self.record_wire = record_wire
        self._given_client = client
        self._transport = transport
        # One pooled client per event loop: connections belong to the loop that opened them
        # (a notebook's kernel loop, the manager's background loop for scripts).
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient]
        self._clients = weakref.WeakKeyDictionary()

    def __repr__(self) -> str:  # never shows the key
        return f"{type(self).__name__}(model={self.model!r}, base_url={safe_url(self.base_url)!r})"

    # -- subclass hooks -------------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        return {}

    def build_body(self, request: ChatRequest) -> dict[str, Any]:
        raise NotImplementedError

    def parse(self, wire: WireStream) -> AsyncIterator[Event]:
        """Yield events; end with a terminal event, or simply stop if the marker never came."""
        raise NotImplementedError

    #: How the terminal marker reads on the wire, for the ``incomplete`` message.
    terminal_marker = "its terminal marker"

    # -- public ---------------------------------------------------------------------------
    def describe(self, request: ChatRequest) -> dict[str, Any]:
        """The request as recorded: no keys, no headers, no secret-looking option."""
        return {
            "base_url": safe_url(self.base_url),
            "endpoint": self.path,
            "messages": strip_secrets(request.messages),
            "tools": strip_secrets(request.tools),
            "options": strip_secrets(request.options),
        }

    @property
    def client(self) -> httpx.AsyncClient:
        """The pooled client for the running event loop (created on first use)."""
        if self._given_client is not None:
            return self._given_client
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None or client.is_closed:
            stall = None if math.isinf(self.stall_timeout) else self.stall_timeout
            client = httpx.AsyncClient(
                transport=self._transport,
                timeout=httpx.Timeout(
                    connect=self.connect_timeout, read=stall, write=stall, pool=stall
                ),
            )
            self._clients[loop] = client
        return client

    async def aclose(self) -> None:
        """Close the client this provider opened on the running loop (a given one is kept)."""
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()

    def pool_stats(self) -> dict[str, int]:
        """The running loop's pool (any loop's, outside one): connections, active, idle."""
        client = self._given_client
        if client is None:
            try:
                client = self._clients.get(asyncio.get_running_loop())
            except RuntimeError:
                client = next(iter(self._clients.values()), None)
        pool = getattr(getattr(client, "_transport", None), "_pool", None)  # httpcore's pool
        conns = list(getattr(pool, "connections", []))
        idle = sum(1 for c in conns if c.is_idle())
        return {"connections": len(conns), "active": len(conns) - idle, "idle": idle}

    async def stream(self, request: ChatRequest) -> AsyncIterator[Event]:
        """Yield the normalized events of one reply; failures end it with an ``error``."""
        secrets = self._secrets()
        deadline = self.deadline if self.deadline is not None else math.inf
        deadline_at = time.monotonic() + deadline
        wire: WireStream | None = None
        terminal = False
        scrub = TextScrubber(secrets)
        try:
            body = self.build_body(request)
            response = await self._send(body, deadline_at, deadline)
            wire = WireStream(
                response,
                stall_timeout=self.stall_timeout,
                deadline_at=deadline_at,
                deadline=deadline,
                record_wire=self.record_wire,
                secrets=secrets,
            )
            # parsers are async generators (aclose), though typed as iterators
            async with contextlib.aclosing(self.parse(wire)) as events:  # type: ignore[type-var]
                async for event in events:
                    kind = event.get("type")
                    terminal = kind in ("finish", "error")
                    if kind in ("text", "reasoning"):
                        text = scrub.feed(kind, event["text"])
                        if not text:
                            continue
                        event = {**event, "text": text}
                    else:
                        for held in scrub.flush():
                            yield held
                    for data in wire.take_wire(final=terminal):
                        yield {"type": "wire", "data": data}
                    if event.get("type") == "error":
                        event = {**event, "message": redact(event["message"], secrets)}
                    yield event
                    if terminal:
                        return
            for held in _held_back(scrub, wire):
                yield held
            yield {
                "type": "error",
                "kind": "incomplete",
                "message": f"the stream ended without {self.terminal_marker}",
            }
        except ProviderError as exc:
            for held in _held_back(scrub, wire):
                yield held
            yield {"type": "error", "kind": exc.kind, "message": redact(exc.message, secrets)}
        except Exception as exc:  # a bug here or in a parser: end the stream, say which
            message = f"{type(self).__name__}: {type(exc).__name__}: {exc}"
            yield {"type": "error", "kind": "internal", "message": redact(message, secrets)}
        finally:
            # Runs on normal end, error, cancel and aclose(): the connection goes back.
            if wire is not None:
                await _close_fully(wire.aclose(drain=terminal))

    # -- internals ------------------------------------------------------------------------
    def _secrets(self) -> tuple[str, ...]:
        values = [self._api_key or ""]
        values += [v for k, v in self._extra_headers.items() if SECRET_NAME.search(k)]
        url = httpx.URL(self.base_url)
        if url.password:  # httpx sends user:password@ as a Basic authorization header
            values.append(url.password)
            values.append(base64.b64encode(f"{url.username}:{url.password}".encode()).decode())
        values += [v for k, v in url.params.multi_items() if SECRET_NAME.search(k)]
        return tuple(v for v in values if v)

    async def _within(self, awaitable: Awaitable[T], deadline_at: float, deadline: float) -> T:
        remaining = deadline_at - time.monotonic()
        if remaining <= 0:
            raise DeadlineExceeded(f"the reply took longer than the {deadline:g} s deadline")
        try:
            return await _timed(awaitable, remaining)
        except TimeoutError:
            raise DeadlineExceeded(
                f"the reply took longer than the {deadline:g} s deadline"
            ) from None

    async def _send(
        self, body: dict[str, Any], deadline_at: float, deadline: float
    ) -> httpx.Response:
        """Open the response, retrying before the first byte; return it once it is 2xx."""
        client = self.client
        headers = {**self._headers(), **self._extra_headers}
        url = endpoint_url(self.base_url, self.path)
        attempt = 0
        while True:
            wait: float | None = None
            request = client.build_request("POST", url, json=body, headers=headers)
            try:
                response = await self._within(
                    client.send(request, stream=True), deadline_at, deadline
                )
            except httpx.TimeoutException as exc:
                failure: ProviderError = StreamTimeout(
                    f"no response from {safe_url(url)}: {type(exc).__name__}"
                )
            except httpx.TransportError as exc:
                failure = NetworkFailure(
                    f"could not reach {safe_url(url)}: {type(exc).__name__}: {exc}"
                )
            else:
                if response.status_code < 400:
                    return response
                try:
                    raw = await self._within(response.aread(), deadline_at, deadline)
                finally:
                    await response.aclose()
                failure = HTTPStatusFailure(response.status_code, body_message(raw))
                if response.status_code not in RETRY_STATUSES:
                    raise failure
                wait = retry_after(response.headers)
            if attempt >= self.max_retries:
                if attempt:
                    failure.message += f" (gave up after {attempt + 1} attempts)"
                raise failure
            if wait is None:
                wait = min(self.max_backoff, self.backoff * 2**attempt)
                wait *= 0.75 + 0.25 * random.random()
            if wait > self.max_retry_after or time.monotonic() + wait >= deadline_at:
                failure.message += f" (the server asked to retry in {wait:g} s)"
                raise failure
            await _sleep(wait)
            attempt += 1
