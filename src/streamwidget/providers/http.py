"""Shared async HTTP plumbing for the live providers (OpenAI-compatible, Anthropic, Ollama).

A live provider subclasses :class:`HTTPProvider` and supplies the endpoint, the wire body for a
:class:`ChatRequest`, and a parser that turns the opened :class:`WireStream` into normalized
events. Everything else lives here: one pooled ``httpx.AsyncClient`` per provider and event
loop, retries with backoff *before the first byte* (honouring ``retry-after-ms`` /
``retry-after``), a stall timeout and an overall deadline, and closing the response whatever
happens (normal end, error, cancellation). Failures become one final ``error`` event; their
exception tree and the secret handling are in :mod:`.errors`.
"""

from __future__ import annotations

import asyncio
import base64
import codecs
import contextlib
import math
import random
import time
import urllib.parse
import weakref
from collections.abc import AsyncIterator, Awaitable
from typing import Any, TypeVar

import httpx
from httpx_sse import EventSource, ServerSentEvent

from ..events import Event
from .base import ChatRequest
from .errors import (
    RETRY_STATUSES,
    DeadlineExceeded,
    HTTPStatusFailure,
    NetworkFailure,
    ProviderError,
    StallTimeout,
    StreamTimeout,
    WireFailure,
    body_message,
    retry_after,
)
from .secrets import SECRET_NAME, TextScrubber, redact, safe_url, strip_secrets

T = TypeVar("T")


async def _timed(awaitable: Awaitable[T], timeout: float) -> T:
    """``await awaitable``, raising ``asyncio.TimeoutError`` after ``timeout`` seconds.

    Not ``asyncio.wait_for``: before Python 3.12 it can swallow a cancellation that arrives
    just as the awaited thing finishes, and then Stop would not stop the stream.
    """
    task = asyncio.ensure_future(awaitable)
    try:
        done, _ = await asyncio.wait({task}, timeout=None if math.isinf(timeout) else timeout)
    except BaseException:  # we are cancelled: stop the inner task, then go on being cancelled
        task.cancel()
        await asyncio.wait({task})
        _reap(task)
        raise
    if not done:
        task.cancel()
        await asyncio.wait({task})
        _reap(task)
        raise asyncio.TimeoutError
    return task.result()


def _reap(task: asyncio.Future[Any]) -> None:
    """Mark a finished inner task's exception as seen (no "never retrieved" warning)."""
    if not task.cancelled():
        task.exception()


# Tests replace this to observe backoff delays without waiting.
_sleep = asyncio.sleep

# Python 3.11+ counts a task's cancellations: a timeout can tell its own cancel from a Stop
# that lands at the same moment. Before, such a Stop ends the stream as a timeout instead.
_HAS_UNCANCEL = hasattr(asyncio.Task, "uncancel")


class _WatchedStream(httpx.AsyncByteStream):
    """The raw body of ``source``, chunk by chunk, under the stall timeout and the deadline.

    A task and a timer per read (as :func:`_timed` makes) cost as much as the rest of handling
    a chunk, so the reads are watched by one timer per stream: a read notes its task and when
    it began; when the timer finds a read that has waited too long, it cancels that task, and
    the read turns the cancellation into the timeout. (Our own client's read timeout is the
    stall timeout too; a given client or transport may have none.)
    """

    def __init__(self, source: httpx.Response, owner: WireStream) -> None:
        self._source = source
        self._owner = owner
        self.raw: AsyncIterator[bytes] | None = None
        self._reader: asyncio.Task[Any] | None = None  # the task waiting for a chunk, if any
        self._since = 0.0  # when that wait began
        self._timer: asyncio.TimerHandle | None = None
        self._fired: int | None = None  # the reader's cancel count before the timer's cancel

    async def __aiter__(self) -> AsyncIterator[bytes]:
        owner = self._owner
        self.raw = raw = self._source.aiter_bytes()  # decoded (gzip...), network-sized chunks
        try:
            while True:
                self._since = time.monotonic()
                if self._since >= owner.deadline_at:
                    raise DeadlineExceeded(owner.deadline_message())
                self._reader = asyncio.current_task()
                if self._timer is None:
                    self._arm()
                try:
                    chunk = await raw.__anext__()
                except StopAsyncIteration:
                    return
                except asyncio.CancelledError:
                    if not self._timed_out():
                        raise
                    raise self._timeout() from None
                except httpx.ReadTimeout:
                    raise self._timeout() from None
                except httpx.TransportError as exc:
                    raise NetworkFailure(
                        f"connection lost mid-stream: {type(exc).__name__}: {exc}"
                    ) from None
                finally:
                    self._reader = None
                if owner.record_wire:
                    owner.capture(chunk)
                yield chunk
        finally:
            self._stop_timer()

    def _arm(self) -> None:
        """Look again when the waiting read reaches the stall timeout or the deadline."""
        due = min(self._since + self._owner.stall_timeout, self._owner.deadline_at)
        if due < math.inf:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(due - time.monotonic(), self._check)

    def _check(self) -> None:
        self._timer = None
        reader = self._reader
        if reader is None:
            return  # nobody waits: the next read arms the timer again
        now = time.monotonic()
        if now - self._since < self._owner.stall_timeout and now < self._owner.deadline_at:
            self._arm()  # this read began after the timer was set
            return
        self._fired = reader.cancelling() if _HAS_UNCANCEL else 0  # type: ignore[attr-defined,unused-ignore]
        reader.cancel()

    def _timed_out(self) -> bool:
        """Is the cancellation just caught the timer's own, and nobody else's too?"""
        fired, self._fired = self._fired, None
        if fired is None:
            return False
        task = asyncio.current_task()
        return not _HAS_UNCANCEL or task is None or task.uncancel() <= fired  # type: ignore[attr-defined,unused-ignore]

    def _timeout(self) -> ProviderError:
        owner = self._owner
        if owner.deadline_at - self._since <= owner.stall_timeout:
            return DeadlineExceeded(owner.deadline_message())
        return StallTimeout(
            f"no data from the server for {owner.stall_timeout:g} s (stall timeout)"
        )

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def aclose(self) -> None:
        self._stop_timer()
        if self.raw is not None:
            await self.raw.aclose()  # type: ignore[attr-defined]
        await self._source.aclose()


class WireStream:
    """An opened streaming response: read it as SSE events or as lines."""

    def __init__(
        self,
        response: httpx.Response,
        *,
        stall_timeout: float,
        deadline_at: float,
        deadline: float,
        record_wire: bool,
        secrets: tuple[str, ...],
    ) -> None:
        self.source = response
        self.stall_timeout = stall_timeout
        self.deadline_at = deadline_at
        self.deadline = deadline
        self.record_wire = record_wire
        self._secrets = secrets
        self._pending = ""
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._body = _WatchedStream(response, self)
        # A second Response over the watched (already decoded) bytes: httpx still does charset
        # detection and incremental UTF-8, and httpx-sse reads it as usual.
        headers = httpx.Headers(response.headers)
        for name in ("content-encoding", "content-length"):
            headers.pop(name, None)
        self.response = httpx.Response(
            response.status_code,
            headers=headers,
            stream=self._body,
            request=response.request,
        )

    def deadline_message(self) -> str:
        return f"the reply took longer than the {self.deadline:g} s deadline"

    def capture(self, chunk: bytes) -> None:
        self._pending += self._decoder.decode(chunk)

    def take_wire(self, final: bool = False) -> list[str]:
        """Captured body text since the last call, secrets replaced by ``***``. Until
        ``final``, a tail that could be the start of a secret split across chunks waits."""
        text = redact(self._pending, self._secrets)
        keep = 0 if final else max((len(s) for s in self._secrets), default=1) - 1
        cut = max(len(text) - keep, 0)
        self._pending = text[cut:]
        return [text[:cut]] if cut else []

    async def sse(self) -> AsyncIterator[ServerSentEvent]:
        """Server-sent events, parsed by httpx-sse."""
        ctype = self.response.headers.get("content-type", "")
        if "text/event-stream" not in ctype:
            body = await self.response.aread()
            raise WireFailure(
                f"expected an event stream, got {ctype or 'no content type'}: "
                + redact(body_message(body), self._secrets)
            )
        async for sse in EventSource(self.response).aiter_sse():
            yield sse

    async def lines(self) -> AsyncIterator[str]:
        """Non-empty lines (NDJSON), any of LF / CRLF endings."""
        async for line in self.response.aiter_lines():
            if line.strip():
                yield line

    async def aclose(self, drain: bool = False) -> None:
        """Close the response. With ``drain``, first read what little is left after the
        terminal marker (bounded), so the connection can go back to the pool for reuse."""
        raw = self._body.raw
        if drain and raw is not None:
            with contextlib.suppress(Exception):
                await _timed(_exhaust(raw, limit=65536), 0.5)
        await self._body.aclose()


async def _close_fully(closing: Awaitable[None]) -> None:
    """Finish closing even if the task is cancelled meanwhile (then re-raise): a close cut
    short would leave the connection checked out of the pool."""
    task = asyncio.ensure_future(closing)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        await task
        raise


async def _exhaust(chunks: AsyncIterator[bytes], limit: int) -> None:
    seen = 0
    async for chunk in chunks:
        seen += len(chunk)
        if seen > limit:
            return


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
            for held in scrub.flush():
                yield held
            for data in wire.take_wire(final=True):
                yield {"type": "wire", "data": data}
            yield {
                "type": "error",
                "kind": "incomplete",
                "message": f"the stream ended without {self.terminal_marker}",
            }
        except ProviderError as exc:
            for held in scrub.flush():
                yield held
            if wire is not None:
                for data in wire.take_wire(final=True):
                    yield {"type": "wire", "data": data}
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
        except asyncio.TimeoutError:
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
