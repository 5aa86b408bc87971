"""Bring your own stream: the real openai and anthropic SDKs, talking to a loopback HTTP server
that replays real transcripts in small writes; their streams go to ``start()`` and
``StreamView()`` as they are."""

from __future__ import annotations

import asyncio
import http.server
import json
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from streamwidget.document import Document
from streamwidget.manager import start
from streamwidget.providers.models import resolve_model
from streamwidget.store import Store
from streamwidget.widgets.stream_view import StreamView

openai = pytest.importorskip("openai")
anthropic = pytest.importorskip("anthropic")

HERE = Path(__file__).parent


class Replay(http.server.BaseHTTPRequestHandler):
    body = b""
    content_type = "text/event-stream"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.send_response(200)
        self.send_header("content-type", self.content_type)
        self.end_headers()
        rng, at = random.Random(len(self.body)), 0
        while at < len(self.body):  # small writes: the SDK must reassemble events
            step = rng.randint(1, 48)
            self.wfile.write(self.body[at : at + step])
            self.wfile.flush()
            at += step
        self.close_connection = True

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def serve() -> Iterator[Any]:
    servers: list[http.server.ThreadingHTTPServer] = []

    def start_server(body: bytes) -> str:
        handler = type("Handler", (Replay,), {"body": body})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start_server
    for server in servers:
        server.shutdown()
        server.server_close()


def case(folder: str, name: str) -> tuple[bytes, dict[str, Any]]:
    meta = json.loads((HERE / folder / f"{name}.json").read_text())
    return (HERE / folder / f"{name}.txt").read_bytes(), meta["expected"]


def check(doc: Document, expected: dict[str, Any]) -> None:
    assert (doc.status, doc.error) == (expected["status"], None)
    assert doc.text == expected["text"]
    assert doc.reasoning == expected["reasoning"]
    assert doc.finish_reason == expected["finish_reason"]
    assert [(c.name, c.arguments) for c in doc.tool_calls] == [
        (c["name"], c["arguments"]) for c in expected["tool_calls"]
    ]
    for key in ("input_tokens", "output_tokens"):
        assert (doc.usage or {}).get(key) == expected.get("usage", {}).get(key), key


MESSAGES = [{"role": "user", "content": "hi"}]


def through(stream: Any, store: Store, expected: dict[str, Any]) -> Document:
    """``start(stream)``, or the provider alone for a reply that ends asking for tools: ending
    such a reply with its calls left to the caller is the manager's fix of failure class 8
    (another lane); without it the tool loop would ask the stream for a second step."""
    if expected["finish_reason"] != "tool_calls":
        return start(stream, store=store).wait(30)
    provider = resolve_model(stream)

    async def events() -> list[dict[str, Any]]:
        return [e async for e in provider.stream(None)]

    return Document.from_events(asyncio.run(events()))


@pytest.mark.parametrize("name", ["chat-text", "chat-reasoning-tool-call"])
def test_openai_chat_completions_sync(name: str, serve: Any, tmp_path: Path) -> None:
    body, expected = case("sdk", name)
    client = openai.OpenAI(base_url=serve(body), api_key="sk-test-000000", max_retries=0)
    stream = client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    with Store(tmp_path / "s.duckdb") as store:
        check(through(stream, store, expected), expected)


def test_openai_chat_completions_helper_and_async(serve: Any, tmp_path: Path) -> None:
    body, expected = case("sdk", "chat-text")
    url = serve(body)
    client = openai.OpenAI(base_url=url, api_key="sk-test-000000", max_retries=0)
    with Store(tmp_path / "s.duckdb") as store:
        with client.chat.completions.stream(model="m", messages=MESSAGES) as helper:
            handle = start(helper, store=store)
            check(handle.wait(30), expected)
            assert store.get(handle.id).provider == "openai"

        async def run_async() -> Document:
            aclient = openai.AsyncOpenAI(base_url=url, api_key="sk-test-000000", max_retries=0)
            stream = await aclient.chat.completions.create(
                model="m", messages=MESSAGES, stream=True
            )
            return await start(stream, store=store)

        check(asyncio.run(run_async()), expected)


@pytest.mark.parametrize("name", ["web-search", "reasoning-summary-id-rotation", "error-quota"])
def test_openai_responses_stream(name: str, serve: Any, tmp_path: Path) -> None:
    body, expected = case("responses", name)
    client = openai.OpenAI(base_url=serve(body), api_key="sk-test-000000", max_retries=0)
    stream = client.responses.create(model="m", input="hi", stream=True)
    with Store(tmp_path / "s.duckdb") as store:
        handle = start(stream, store=store)
        doc = handle.wait(30)
        events = store.events(handle.id)
        assert store.get(handle.id).provider == "openai"
    assert doc.status == expected["status"] and doc.text == expected["text"]
    assert doc.reasoning == expected["reasoning"]
    assert (doc.error or {}).get("kind") == expected["error_kind"]
    assert [c.arguments for c in doc.tool_calls] == [c["arguments"] for c in expected["tool_calls"]]
    server = [e["id"] for e in events if e["type"] == "tool_call_start" and e.get("server")]
    assert len(server) == sum(1 for c in expected["tool_calls"] if c.get("server"))


@pytest.mark.parametrize("name", ["anthropic-text", "anthropic-tool-no-args"])
def test_anthropic_raw_stream_and_helper(name: str, serve: Any, tmp_path: Path) -> None:
    body, expected = case("sdk", name)
    client = anthropic.Anthropic(base_url=serve(body), api_key="sk-ant-test-000", max_retries=0)
    with Store(tmp_path / "s.duckdb") as store:
        raw = client.messages.create(model="m", max_tokens=64, messages=MESSAGES, stream=True)
        check(through(raw, store, expected), expected)
        with client.messages.stream(model="m", max_tokens=64, messages=MESSAGES) as helper:
            check(through(helper, store, expected), expected)


def test_anthropic_async_stream(serve: Any, tmp_path: Path) -> None:
    body, expected = case("sdk", "anthropic-text")
    url = serve(body)

    async def run() -> Document:
        client = anthropic.AsyncAnthropic(base_url=url, api_key="sk-ant-test-000", max_retries=0)
        stream = await client.messages.create(
            model="m", max_tokens=64, messages=MESSAGES, stream=True
        )
        with Store(tmp_path / "s.duckdb") as store:
            return await start(stream, store=store)

    check(asyncio.run(run()), expected)


def test_stream_view_takes_an_sdk_stream(serve: Any, tmp_path: Path, comms: list) -> None:
    body, expected = case("sdk", "chat-text")
    client = openai.OpenAI(base_url=serve(body), api_key="sk-test-000000", max_retries=0)
    stream = client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    with Store(tmp_path / "s.duckdb") as store:
        view = StreamView(stream, store=store)
        assert view.handle is not None
        check(view.handle.wait(30), expected)


def test_plain_chunk_dicts_and_a_stream_cut_short(tmp_path: Path) -> None:
    """litellm-style streams are iterables of chunk objects; dicts work the same way."""
    blocks = (HERE / "sdk" / "chat-text.txt").read_text().split("\n\n")
    # the chunks without [DONE]: an SDK's iterator just stops
    chunks = [json.loads(b[6:]) for b in blocks if b.startswith("data: {")]
    with Store(tmp_path / "s.duckdb") as store:
        doc = start(iter(chunks), store=store).wait(30)
        assert doc.status == "complete" and doc.text.startswith("**Holiday Name:**")
        anthropic_events = [
            json.loads(block.split("data: ", 1)[1])
            for block in (HERE / "sdk" / "anthropic-text.txt").read_text().split("\n\n")
            if block.strip()
        ]
        cut = start(anthropic_events[:-2], store=store).wait(30)  # no message_delta / stop
    assert (cut.status, cut.error["kind"]) == ("error", "incomplete")
    assert cut.text.startswith("Hello!")


def test_an_sdk_failure_mid_stream_keeps_the_text(tmp_path: Path) -> None:
    class Broken(Exception):
        status_code = 529

    def chunks() -> Iterator[dict[str, Any]]:
        yield {"choices": [{"index": 0, "delta": {"content": "partial"}}]}
        raise Broken("overloaded")

    with Store(tmp_path / "s.duckdb") as store:
        doc = start(chunks(), store=store).wait(30)
    assert (doc.status, doc.text, doc.error["kind"]) == ("error", "partial", "overloaded")


def test_helper_events_never_reach_the_wire_folders(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK helpers' own events (Anthropic's ``text`` with its snapshot, OpenAI's
    ``content.delta``) repeat what the raw chunks carry: fed to a folder they would count
    twice, or show as unknown events once folders flag every type they do not know."""
    from streamwidget.providers import sdk

    def refuse(self: Any, data: dict[str, Any]) -> list[dict[str, Any]]:
        raise AssertionError(f"fed {data['type']}")

    monkeypatch.setattr(sdk.AnthropicFolder, "feed", refuse)
    monkeypatch.setattr(sdk.ChunkFolder, "feed", refuse)
    anthropic_wire = sdk.detect({"type": "text", "text": "x", "snapshot": "x"})
    assert anthropic_wire is not None and anthropic_wire.name == "anthropic"
    for kind in ("text", "input_json", "thinking", "signature", "citation"):
        assert anthropic_wire.feed({"type": kind}) == []
    chat = sdk.detect({"type": "chunk", "chunk": {"choices": []}})
    assert chat is not None and chat.feed({"type": "content.delta", "delta": "x"}) == []


class Stalls(Replay):
    """Sends the first event, then nothing for a long time (a stalled model)."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.end_headers()
        first = self.body.split(b"\n\n")[1] + b"\n\n"  # the first chunk with text
        self.wfile.write(first)
        self.wfile.flush()
        time.sleep(5)


def test_cancel_closes_a_stalled_sdk_stream(tmp_path: Path) -> None:
    body = (HERE / "sdk" / "chat-text.txt").read_bytes()
    handler = type("Handler", (Stalls,), {"body": body})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.block_on_close = False  # do not wait out the stalls when closing
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"

    async def run(store: Store, stream: Any) -> tuple[Document, float]:
        handle = start(stream, store=store)  # on this loop, as in a notebook
        while not store.get(handle.id).text:
            await asyncio.sleep(0.02)
        began = time.monotonic()
        handle.cancel()
        return await handle, time.monotonic() - began

    try:
        client = openai.OpenAI(base_url=url, api_key="sk-test-000000", max_retries=0)
        sync_stream = client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
        aclient = openai.AsyncOpenAI(base_url=url, api_key="sk-test-000000", max_retries=0)

        async def both(store: Store) -> list[tuple[Document, float]]:
            async_stream = await aclient.chat.completions.create(
                model="m", messages=MESSAGES, stream=True
            )
            return [await run(store, sync_stream), await run(store, async_stream)]

        with Store(tmp_path / "s.duckdb") as store:
            for doc, took in asyncio.run(both(store)):
                assert (doc.status, doc.text) == ("cancelled", "**")
                assert took < 2  # not the server's 5 s stall
        assert sync_stream.response.is_closed  # the SDK's response was closed, not left open
    finally:
        server.shutdown()
        server.server_close()
