"""An opened streaming response, read as server-sent events or as NDJSON lines.

:class:`WireStream` wraps the response of :class:`~.http.HTTPProvider`: its body is read under
the stall timeout and the overall deadline (one timer per stream, see :class:`_WatchedStream`),
optionally captured for ``record_wire``, and closed whatever happens.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import math
import time
from collections.abc import AsyncIterator, Awaitable
from typing import Any, TypeVar

import httpx
from httpx_sse import EventSource, ServerSentEvent

from .errors import (
    DeadlineExceeded,
    NetworkFailure,
    ProviderError,
    StallTimeout,
    WireFailure,
    body_message,
)
from .secrets import redact

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
        raise TimeoutError
    return task.result()


def _reap(task: asyncio.Future[Any]) -> None:
    """Mark a finished inner task's exception as seen (no "never retrieved" warning)."""
    if not task.cancelled():
        task.exception()


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
        tail = b""  # the body's last bytes
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
                    if owner.end_last_event and _last_event_unended(tail):
                        yield b"\n"  # the blank line that dispatches it (not recorded)
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
                tail = (tail + chunk)[-4:]
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
        self._fired = reader.cancelling() if _HAS_UNCANCEL else 0
        reader.cancel()

    def _timed_out(self) -> bool:
        """Is the cancellation just caught the timer's own, and nobody else's too?"""
        fired, self._fired = self._fired, None
        if fired is None:
            return False
        task = asyncio.current_task()
        return not _HAS_UNCANCEL or task is None or task.uncancel() <= fired

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


def _last_event_unended(tail: bytes) -> bool:
    """Does the body end with a whole line but no blank line after it? Then its last SSE
    event was sent in full (a server or capture that drops the final blank line), and is
    read rather than lost. A body cut inside a line stays cut."""
    return tail.endswith(b"\n") and not tail.endswith((b"\n\n", b"\n\r\n"))


class WireStream:
    """An opened streaming response: read it as SSE events or as lines."""

    #: Set by :meth:`sse`: a last event with no blank line after it is still dispatched.
    end_last_event = False

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
        self.end_last_event = True
        async for sse in EventSource(self.response).aiter_sse():
            yield sse

    async def lines(self) -> AsyncIterator[str]:
        """Non-empty lines (NDJSON), LF or CRLF endings. Only ``\n`` ends a line: JSON
        strings may hold U+0085, U+2028 or U+2029 raw, which ``str.splitlines`` would cut."""
        held: list[str] = []  # the pieces of a line not yet ended (no re-joining per piece)
        async for text in self.response.aiter_text():
            if "\n" not in text:
                held.append(text)
                continue
            first, *rest = text.split("\n")
            lines = ["".join([*held, first]), *rest[:-1]]
            held = [rest[-1]]
            for line in lines:
                if line.strip():
                    yield line.removesuffix("\r")
        last = "".join(held)
        if last.strip():
            yield last.removesuffix("\r")

    async def aclose(self, drain: bool = False) -> None:
        """Close the response. With ``drain``, first read what little is left after the
        terminal marker (bounded), so the connection can go back to the pool for reuse."""
        raw = self._body.raw
        if drain and raw is not None:
            with contextlib.suppress(Exception):
                await _timed(_exhaust(raw, limit=65536), 0.5)
        await self._body.aclose()


async def _exhaust(chunks: AsyncIterator[bytes], limit: int) -> None:
    seen = 0
    async for chunk in chunks:
        seen += len(chunk)
        if seen > limit:
            return
