"""The shared HTTP layer: retries before the first byte, stall and deadline, cancellation and
the connection pool, status → error kind, and secrets kept out of everything recorded.

Most tests use ``httpx.MockTransport`` with bodies that split, stall or break on purpose; the
pool tests use a real loopback server so that real connections are opened and closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from streamwidget.providers import errors, http, secrets, wire
from streamwidget.providers.base import ChatRequest
from streamwidget.providers.openai import OpenAIProvider

URL = "http://llm.test/v1"
REQUEST = ChatRequest(messages=[{"role": "user", "content": "hi"}])
SSE = {"content-type": "text/event-stream"}


class Body(httpx.AsyncByteStream):
    """A response body: ``chunks`` with an optional ``gap`` between them, then ``then``:
    ``"hang"`` (never ends), an exception to raise, or None (a clean end)."""

    def __init__(self, chunks: list[bytes], *, gap: float = 0.0, then: Any = None) -> None:
        self.chunks = chunks
        self.gap = gap
        self.then = then
        self.closed = False
        self.sent = 0

    async def __aiter__(self):
        for chunk in self.chunks:
            if self.gap:
                await asyncio.sleep(self.gap)
            self.sent += 1
            yield chunk
        if self.then == "hang":
            await asyncio.sleep(3600)
        elif isinstance(self.then, BaseException):
            raise self.then

    async def aclose(self) -> None:
        self.closed = True


def chunk(text: str, finish: str | None = None) -> bytes:
    delta = {"content": text} if text else {}
    data = {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return f"data: {json.dumps(data)}\n\n".encode()


OK_BODY = [chunk("Hel"), chunk("lo"), chunk("", "stop"), b"data: [DONE]\n\n"]


def provider(handler: Callable[[httpx.Request], Any], **kwargs: Any) -> OpenAIProvider:
    kwargs.setdefault("backoff", 0.0)
    return OpenAIProvider("m", base_url=URL, transport=httpx.MockTransport(handler), **kwargs)


def collect(p: Any, request: ChatRequest = REQUEST) -> list[dict[str, Any]]:
    async def run() -> list[dict[str, Any]]:
        return [e async for e in p.stream(request)]

    return asyncio.run(run())


def text_of(events: list[dict[str, Any]]) -> str:
    return "".join(e["text"] for e in events if e["type"] == "text")


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Backoff delays the layer asked for (it does not actually wait)."""
    asked: list[float] = []

    async def fake_sleep(delay: float) -> None:
        asked.append(delay)

    monkeypatch.setattr(http, "_sleep", fake_sleep)
    return asked


# -- status, retry-after, helpers ---------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, "bad_request"),
        (401, "auth"),
        (403, "auth"),
        (404, "bad_request"),
        (408, "timeout"),
        (409, "server"),
        (422, "bad_request"),
        (429, "rate_limit"),
        (500, "server"),
        (502, "server"),
        (503, "overloaded"),
        (529, "overloaded"),
    ],
)
def test_status_kinds(status: int, kind: str) -> None:
    assert errors.kind_for_status(status) == kind


def test_retry_after_parsing() -> None:
    h = httpx.Headers
    assert errors.retry_after(h({"retry-after-ms": "250", "retry-after": "7"})) == 0.25
    assert errors.retry_after(h({"retry-after": "7"})) == 7.0
    assert errors.retry_after(h({"retry-after": "1.5"})) == 1.5
    assert errors.retry_after(h({"retry-after": "soon"})) is None
    assert errors.retry_after(h({})) is None
    date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    assert 25 < errors.retry_after(h({"retry-after": date})) <= 30


def test_error_text_shapes() -> None:
    assert errors.error_text({"error": {"message": "bad", "type": "x"}}) == ("x", "bad")
    assert errors.error_text(
        {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}
    ) == ("overloaded_error", "busy")
    assert errors.error_text({"error": "model not found"}) == (None, "model not found")
    assert errors.error_text({"error": {"code": 429, "message": "slow"}}) == ("429", "slow")
    assert errors.kind_for_code("429") == "rate_limit"
    assert errors.kind_for_code("overloaded_error") == "overloaded"
    assert errors.kind_for_code("invalid_request_error") == "bad_request"
    assert errors.kind_for_code(None) == "server"


# -- retries ------------------------------------------------------------------------------


def test_429_then_200_honours_retry_after(sleeps: list[float]) -> None:
    calls: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(time.monotonic())
        if len(calls) == 1:
            return httpx.Response(
                429, headers={"retry-after": "2"}, json={"error": {"message": "slow down"}}
            )
        return httpx.Response(200, headers=SSE, stream=Body(OK_BODY))

    events = collect(provider(handler))
    assert len(calls) == 2
    assert sleeps == [2.0]  # the server's value, not our backoff
    assert text_of(events) == "Hello"
    assert events[-1] == {"type": "finish", "reason": "stop"}


def test_retry_after_ms_is_really_waited() -> None:
    calls: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(time.monotonic())
        if len(calls) == 1:
            return httpx.Response(503, headers={"retry-after-ms": "150", "retry-after": "30"})
        return httpx.Response(200, headers=SSE, stream=Body(OK_BODY))

    events = collect(provider(handler))
    assert events[-1]["type"] == "finish"
    assert 0.14 <= calls[1] - calls[0] < 2.0  # ms wins over the 30 s header


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504, 529])
def test_retryable_statuses_retry_then_give_up(status: int, sleeps: list[float]) -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(status, json={"error": {"message": f"nope {len(calls)}"}})

    events = collect(provider(handler, max_retries=2, backoff=0.1))
    assert len(calls) == 3
    assert len(sleeps) == 2 and sleeps[1] > sleeps[0] > 0  # exponential backoff
    (error,) = events
    assert error["type"] == "error"
    assert error["kind"] == errors.kind_for_status(status)
    assert "nope 3" in error["message"] and f"HTTP {status}" in error["message"]
    assert "3 attempts" in error["message"]


@pytest.mark.parametrize(
    ("status", "kind"), [(400, "bad_request"), (401, "auth"), (403, "auth"), (404, "bad_request")]
)
def test_client_errors_fail_at_once_with_server_message(
    status: int, kind: str, sleeps: list[float]
) -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(status, json={"error": {"message": "the server says why"}})

    events = collect(provider(handler))
    assert len(calls) == 1 and sleeps == []
    assert events == [
        {"type": "error", "kind": kind, "message": f"HTTP {status}: the server says why"}
    ]


def test_plain_text_error_body_is_the_message() -> None:
    p = provider(lambda r: httpx.Response(400, text="<html>Bad gateway config</html>"))
    assert collect(p)[0]["message"] == "HTTP 400: <html>Bad gateway config</html>"


def test_connect_error_is_retried(sleeps: list[float]) -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) < 3:
            raise httpx.ConnectError("connection refused")
        return httpx.Response(200, headers=SSE, stream=Body(OK_BODY))

    assert text_of(collect(provider(handler))) == "Hello"
    assert len(calls) == 3


def test_unreachable_server_is_a_network_error(sleeps: list[float]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    (error,) = collect(provider(handler, max_retries=1))
    assert error["kind"] == "network" and "llm.test" in error["message"]


def test_never_retries_after_text_started(sleeps: list[float]) -> None:
    calls = []
    body = Body([chunk("partial "), chunk("text")], then=httpx.ReadError("reset by peer"))

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(200, headers=SSE, stream=body)

    events = collect(provider(handler))
    assert len(calls) == 1 and sleeps == []
    assert text_of(events) == "partial text"
    assert events[-1]["type"] == "error" and events[-1]["kind"] == "network"
    assert body.closed


def test_retry_after_beyond_the_limit_fails_at_once(sleeps: list[float]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, headers={"retry-after": "3600"}, json={"error": "quota"})

    (error,) = collect(provider(handler))
    assert error["kind"] == "rate_limit" and "3600" in error["message"]
    assert sleeps == []


def test_retry_after_beyond_the_deadline_fails_at_once(sleeps: list[float]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, headers={"retry-after": "5"}, json={"error": "busy"})

    (error,) = collect(provider(handler, deadline=2.0))
    assert error["kind"] == "overloaded" and sleeps == []


# -- stall, deadline, incomplete ----------------------------------------------------------


def test_stall_ends_as_timeout_and_keeps_partial_text() -> None:
    body = Body([chunk("so far")], then="hang")
    p = provider(lambda r: httpx.Response(200, headers=SSE, stream=body), stall_timeout=0.3)
    started = time.monotonic()
    events = collect(p)
    assert time.monotonic() - started < 3
    assert text_of(events) == "so far"
    assert events[-1]["type"] == "error" and events[-1]["kind"] == "timeout"
    assert "stall" in events[-1]["message"]
    assert body.closed


def test_deadline_ends_a_stream_that_never_stalls() -> None:
    body = Body([chunk("x")] * 10_000, gap=0.02)
    p = provider(
        lambda r: httpx.Response(200, headers=SSE, stream=body), stall_timeout=5, deadline=0.5
    )
    started = time.monotonic()
    events = collect(p)
    assert 0.45 < time.monotonic() - started < 3
    assert events[-1]["kind"] == "timeout" and "deadline" in events[-1]["message"]
    assert 5 < len(text_of(events)) < 10_000
    assert body.closed


def test_deadline_covers_waiting_for_headers() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(30)
        raise AssertionError("not reached")

    started = time.monotonic()
    (error,) = collect(provider(handler, deadline=0.3))
    assert error["kind"] == "timeout" and time.monotonic() - started < 3


def test_stream_without_terminal_marker_is_incomplete() -> None:
    body = Body([chunk("cut "), chunk("", "stop")])  # no [DONE]
    events = collect(provider(lambda r: httpx.Response(200, headers=SSE, stream=body)))
    assert text_of(events) == "cut "
    assert events[-1] == {
        "type": "error",
        "kind": "incomplete",
        "message": "the stream ended without data: [DONE]",
    }
    assert not any(e["type"] == "finish" for e in events)


def test_non_stream_200_is_an_error_with_the_body() -> None:
    p = provider(lambda r: httpx.Response(200, json={"error": {"message": "no streaming"}}))
    (error,) = collect(p)
    assert error["kind"] == "server"
    assert "application/json" in error["message"] and "no streaming" in error["message"]


def test_a_parser_bug_ends_the_stream_as_internal() -> None:
    class Broken(OpenAIProvider):
        async def parse(self, wire: http.WireStream):
            yield {"type": "text", "text": "a"}
            raise RuntimeError("boom")

    body = Body(OK_BODY)
    p = Broken(
        "m",
        base_url=URL,
        transport=httpx.MockTransport(lambda r: httpx.Response(200, headers=SSE, stream=body)),
    )
    events = collect(p)
    assert events[-1]["kind"] == "internal" and "Broken" in events[-1]["message"]
    assert "boom" in events[-1]["message"] and body.closed


def test_deadline_passed_while_the_consumer_was_busy_ends_at_the_next_read() -> None:
    body = Body([chunk("a"), chunk("b"), *OK_BODY])
    p = provider(lambda r: httpx.Response(200, headers=SSE, stream=body), deadline=0.2)

    async def run() -> list[dict[str, Any]]:
        seen = []
        async for event in p.stream(REQUEST):
            seen.append(event)
            if len(seen) == 1:
                await asyncio.sleep(0.3)  # the chunks are all there; the deadline is not
        return seen

    events = asyncio.run(run())
    assert events[0]["text"] == "a" and events[-1]["kind"] == "timeout"
    assert "deadline" in events[-1]["message"] and body.closed


def test_reads_share_one_timer_and_create_no_task_per_chunk() -> None:
    # a task and a timer per read cost as much as the rest of a chunk (see wire._WatchedStream)
    body = Body([chunk(f"{i} ") for i in range(300)] + OK_BODY)
    p = provider(lambda r: httpx.Response(200, headers=SSE, stream=body), stall_timeout=30)

    async def run() -> tuple[list[dict[str, Any]], int, int]:
        loop = asyncio.get_running_loop()
        tasks, timers = 0, 0
        call_later = loop.call_later

        def counting_factory(loop: asyncio.AbstractEventLoop, coro: Any) -> asyncio.Task[Any]:
            nonlocal tasks
            tasks += 1
            return asyncio.Task(coro, loop=loop)

        def counting_call_later(delay: float, callback: Any, *args: Any) -> Any:
            nonlocal timers
            timers += 1
            return call_later(delay, callback, *args)

        loop.set_task_factory(counting_factory)
        loop.call_later = counting_call_later  # type: ignore[method-assign]
        events = [e async for e in p.stream(REQUEST)]
        return events, tasks, timers

    events, tasks, timers = asyncio.run(run())
    assert events[-1]["type"] == "finish" and len(text_of(events).split()) == 301  # + Hello
    assert tasks < 10 and timers < 10, (tasks, timers)


def test_a_stop_at_the_moment_of_a_stall_still_cancels() -> None:
    body = Body([chunk("one ")], then="hang")
    p = provider(lambda r: httpx.Response(200, headers=SSE, stream=body), stall_timeout=0.2)
    check = wire._WatchedStream._check

    async def run() -> list[dict[str, Any]]:
        seen: list[dict[str, Any]] = []

        async def consume() -> None:
            async for event in p.stream(REQUEST):
                seen.append(event)

        task = asyncio.create_task(consume())

        def check_then_stop(self: wire._WatchedStream) -> None:
            check(self)
            task.cancel()  # Stop, in the same loop step as the stall timer

        wire._WatchedStream._check = check_then_stop  # type: ignore[method-assign]
        try:
            with pytest.raises(asyncio.CancelledError):
                await task
        finally:
            wire._WatchedStream._check = check  # type: ignore[method-assign]
        return seen

    if not hasattr(asyncio.Task, "uncancel"):
        pytest.skip("before Python 3.11 such a Stop ends the stream as a timeout")
    assert asyncio.run(run()) == [{"type": "text", "text": "one "}]
    assert body.closed


# -- cancellation -------------------------------------------------------------------------


def test_cancel_while_waiting_closes_the_response() -> None:
    body = Body([chunk("one ")], then="hang")
    p = provider(lambda r: httpx.Response(200, headers=SSE, stream=body))

    async def run() -> list[dict[str, Any]]:
        seen: list[dict[str, Any]] = []
        first = asyncio.Event()

        async def consume() -> None:
            async with contextlib.aclosing(p.stream(REQUEST)) as events:
                async for event in events:
                    seen.append(event)
                    first.set()

        task = asyncio.create_task(consume())
        await asyncio.wait_for(first.wait(), 5)
        await asyncio.sleep(0.05)  # the generator is now awaiting the next chunk
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return seen

    seen = asyncio.run(run())
    assert seen == [{"type": "text", "text": "one "}]
    assert body.closed


def test_closing_the_generator_at_a_yield_closes_the_response() -> None:
    body = Body([chunk("a"), chunk("b")], then="hang")
    p = provider(lambda r: httpx.Response(200, headers=SSE, stream=body))

    async def run() -> None:
        async with contextlib.aclosing(p.stream(REQUEST)) as events:
            async for _ in events:
                break

    asyncio.run(run())
    assert body.closed and body.sent == 1


def test_a_cancel_that_lands_as_a_chunk_arrives_still_cancels() -> None:
    # asyncio.wait_for before Python 3.12 returns the chunk and drops such a cancel: Stop
    # would do nothing. The provider must not use it on the streaming path.
    async def run() -> list[dict[str, Any]]:
        gate, started = asyncio.Event(), asyncio.Event()

        class Gated(httpx.AsyncByteStream):
            async def __aiter__(self):
                yield chunk("first ")
                await gate.wait()
                for part in OK_BODY:
                    yield part

        p = provider(lambda r: httpx.Response(200, headers=SSE, stream=Gated()))
        seen: list[dict[str, Any]] = []

        async def consume() -> None:
            async with contextlib.aclosing(p.stream(REQUEST)) as events:
                async for event in events:
                    seen.append(event)
                    started.set()

        task = asyncio.create_task(consume())
        await started.wait()
        await asyncio.sleep(0.05)  # the provider now waits for the next chunk
        gate.set()  # the chunk arrives...
        task.cancel()  # ...in the same loop step as the cancel
        with pytest.raises(asyncio.CancelledError):
            await task
        return seen

    assert asyncio.run(run()) == [{"type": "text", "text": "first "}]


# -- secrets ------------------------------------------------------------------------------

KEY = "sk-proj-SECRETsecret1234567890"


def test_secrets_never_leave_the_provider() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        echo = f"Incorrect API key provided: {KEY}. Also Bearer {KEY}"
        return httpx.Response(401, json={"error": {"message": echo}})

    p = provider(handler, api_key=KEY, headers={"X-Api-Token": "tok-123456"})
    request = ChatRequest(
        messages=[{"role": "user", "content": "hi"}],
        options={
            "temperature": 0.1,
            "max_tokens": 5,
            "api_key": KEY,
            "extra": {"auth_token": "tok-123456", "budget_tokens": 9},
        },
    )
    events = collect(p, request)
    assert seen[0].headers["authorization"] == f"Bearer {KEY}"  # it was sent...
    assert seen[0].headers["x-api-token"] == "tok-123456"
    everything = json.dumps([events, p.describe(request), repr(p)])
    assert KEY not in everything and "SECRETsecret" not in everything  # ...and nowhere else
    assert "tok-123456" not in everything
    assert events[0]["kind"] == "auth" and "Incorrect API key provided" in events[0]["message"]
    assert p.describe(request)["options"] == {
        "temperature": 0.1,
        "max_tokens": 5,
        "extra": {"budget_tokens": 9},
    }


def test_safe_url() -> None:
    assert secrets.safe_url("https://user:pw@host/v1?key=abc&api-version=2") == (
        "https://host/v1?api-version=2"
    )
    assert secrets.safe_url("http://127.0.0.1:8080/v1") == "http://127.0.0.1:8080/v1"


def test_a_base_url_with_a_query_keeps_it_after_the_path() -> None:
    seen: list[httpx.URL] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        return httpx.Response(200, headers=SSE, stream=Body(OK_BODY))

    azure = "https://res.openai.azure.com/openai/deployments/gpt?api-version=2024-01-01"
    for base in (azure, azure.replace("gpt?", "gpt/?")):
        p = OpenAIProvider("m", base_url=base, transport=httpx.MockTransport(handler))
        assert collect(p)[-1]["type"] == "finish"
    assert [str(url) for url in seen] == [
        "https://res.openai.azure.com/openai/deployments/gpt/chat/completions"
        "?api-version=2024-01-01"
    ] * 2
    assert http.endpoint_url("http://h:1/v1/", "/chat") == "http://h:1/v1/chat"
    assert http.endpoint_url("http://h", "/api/chat") == "http://h/api/chat"


def test_wire_recording_is_the_body_without_secrets() -> None:
    seen: list[httpx.Request] = []
    raw = [chunk("Hé"), f'data: {{"note": "{KEY}"}}\n\n'.encode(), *OK_BODY]
    whole = b"".join(raw)
    pieces = [whole[i : i + 7] for i in range(0, len(whole), 7)]  # "é" is split somewhere

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, headers=SSE, stream=Body(pieces))

    events = collect(provider(handler, api_key=KEY, record_wire=True))
    wire = "".join(e["data"] for e in events if e["type"] == "wire")
    assert wire == whole.decode().replace(KEY, "***")
    assert text_of(events) == "HéHello" and events[-1]["type"] == "finish"
    # without record_wire there is no wire event at all
    plain = collect(provider(lambda r: httpx.Response(200, headers=SSE, stream=Body(pieces))))
    assert not [e for e in plain if e["type"] == "wire"]


# -- a real loopback server: the pool after many cancelled streams -------------------------


class LoopbackSSE:
    """A tiny HTTP/1.1 server streaming chunked SSE: ``tokens`` tokens then [DONE], or
    forever when ``tokens`` is None. Counts the connections it has open."""

    def __init__(self, tokens: int | None = None, gap: float = 0.005) -> None:
        self.tokens = tokens
        self.gap = gap
        self.open = 0
        self.accepted = 0

    async def __aenter__(self) -> LoopbackSSE:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/v1"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.open += 1
        self.accepted += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = re.search(rb"(?i)content-length: *(\d+)", head)
                await reader.readexactly(int(length.group(1)) if length else 0)
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                    b"transfer-encoding: chunked\r\n\r\n"
                )
                i = 0
                while self.tokens is None or i < self.tokens:
                    data = chunk(f"t{i} ")
                    writer.write(b"%x\r\n%s\r\n" % (len(data), data))
                    await writer.drain()
                    await asyncio.sleep(self.gap)
                    i += 1
                done = chunk("", "stop") + b"data: [DONE]\n\n"
                writer.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(done), done))
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # the client went away, or the test is over
        finally:
            self.open -= 1
            writer.close()


def test_pool_is_empty_after_50_cancelled_streams() -> None:
    async def run() -> tuple[dict[str, int], int, int, list[dict[str, Any]]]:
        async with LoopbackSSE(tokens=None) as server:
            p = OpenAIProvider("m", base_url=server.url)
            for i in range(50):
                first = asyncio.Event()

                async def consume(stop_at_yield: bool, first: asyncio.Event = first) -> None:
                    async with contextlib.aclosing(p.stream(REQUEST)) as events:
                        async for event in events:
                            assert event["type"] == "text", event
                            first.set()
                            if stop_at_yield:
                                return  # the consumer walks away at a yield
                            await asyncio.sleep(3600)  # cancelled while busy

                task = asyncio.create_task(consume(stop_at_yield=i % 2 == 0))
                await asyncio.wait_for(first.wait(), 5)
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            stats = p.pool_stats()
            for _ in range(200):  # the server notices the closed sockets shortly after
                if server.open == 0:
                    break
                await asyncio.sleep(0.01)
            server_open, accepted = server.open, server.accepted
            server.tokens = 3  # the same client still works afterwards
            events = [e async for e in p.stream(REQUEST)]
            await p.aclose()
            return stats, server_open, accepted, events

    stats, server_open, accepted, events = asyncio.run(run())
    assert stats["active"] == 0, stats
    assert server_open == 0 and accepted == 50
    assert text_of(events) == "t0 t1 t2 " and events[-1]["type"] == "finish"


def test_a_stall_on_a_real_socket_frees_the_connection() -> None:
    # a given client without a read timeout: only the provider's own timer sees the stall
    async def run() -> tuple[list[dict[str, Any]], dict[str, int]]:
        server = LoopbackSSE(tokens=None, gap=3600)  # sends one token, then nothing
        async with server, httpx.AsyncClient(timeout=None) as client:
            p = OpenAIProvider("m", base_url=server.url, client=client, stall_timeout=0.3)
            events = [e async for e in p.stream(REQUEST)]
            return events, p.pool_stats()

    events, stats = asyncio.run(run())
    assert text_of(events) == "t0 " and events[-1]["kind"] == "timeout"
    assert "stall" in events[-1]["message"]
    assert stats == {"connections": 0, "active": 0, "idle": 0}  # closed, not left checked out


def test_finished_streams_reuse_one_connection_and_loops_get_their_own_client() -> None:
    async def run(server: LoopbackSSE, p: OpenAIProvider) -> dict[str, int]:
        for _ in range(3):
            events = [e async for e in p.stream(REQUEST)]
            assert events[-1]["type"] == "finish"
        return p.pool_stats()

    async def main() -> None:
        async with LoopbackSSE(tokens=2) as server:
            p = OpenAIProvider("m", base_url=server.url)
            stats = await run(server, p)
            assert stats == {"connections": 1, "active": 0, "idle": 1}
            assert server.accepted == 1  # keep-alive: one connection for three streams

            # the manager runs scripts' streams on another loop: the provider must cope
            def other_loop() -> dict[str, int]:
                return asyncio.run(run(server, p))

            assert (await asyncio.to_thread(other_loop))["active"] == 0
            assert server.accepted == 2

    asyncio.run(main())


def test_one_message_is_read_as_a_json_object_or_a_wire_failure_quoting_it() -> None:
    from streamwidget.providers.errors import WireFailure, folded, json_object

    assert json_object('{"a": 1}') == {"a": 1}
    with pytest.raises(WireFailure, match=r"malformed JSON in the event stream: '\{nope'"):
        json_object("{nope")
    with pytest.raises(WireFailure, match=r"expected a JSON object per line, got '\[1\]'"):
        json_object("[1]", "malformed JSON line", "expected a JSON object per line")
    assert folded("raw", lambda d, n: d["x"] * n, {"x": 2}, 3) == 6
    with pytest.raises(WireFailure, match="unexpected data in the stream: 'raw'"):
        folded("raw", lambda d: d["missing"], {})
