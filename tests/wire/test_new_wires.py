"""Real transcripts of the Responses and Gemini wires, served byte for byte in random small
writes, through the provider alone and end to end through ``start()``.

Each case is ``tests/wire/<wire>/<case>.txt`` (the raw body) and ``<case>.json`` with its
provenance and the document expected, written by hand from the transcript.
"""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path
from typing import Any

import httpx
import pytest

from streamwidget.document import Document
from streamwidget.manager import start
from streamwidget.providers.base import ChatRequest
from streamwidget.providers.models import resolve_model
from streamwidget.store import Store

HERE = Path(__file__).parent
#: The model string per wire directory; the key is given, the server is the loopback mock.
WIRES = {"responses": "openai-responses:gpt-test", "gemini": "gemini:gemini-test"}
CASES = sorted(
    (wire, path.stem) for wire in WIRES for path in (HERE / wire).glob("*.txt") if path.stem
)
SEEDS = (1, 7, 42)


class Chunks(httpx.AsyncByteStream):
    def __init__(self, body: bytes, seed: int) -> None:
        rng = random.Random(seed)
        self.parts, at = [], 0
        while at < len(body):
            step = rng.randint(1, 48)
            self.parts.append(body[at : at + step])
            at += step

    async def __aiter__(self):
        for part in self.parts:
            yield part


def transport(body: bytes, seed: int, seen: list[httpx.Request]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        headers = {"content-type": "text/event-stream"}
        return httpx.Response(200, headers=headers, stream=Chunks(body, seed))

    return httpx.MockTransport(handler)


def make(wire: str, mock: httpx.MockTransport) -> Any:
    return resolve_model(
        WIRES[wire], api_key="test-key-000000", base_url="http://llm.test/v1", transport=mock
    )


def load(wire: str, case: str) -> tuple[bytes, dict[str, Any]]:
    """The body and the expectation; ``reasons`` (from the file's ``warning_reasons``) are
    words each of the reply's unknown events must account for, one per event."""
    body = (HERE / wire / f"{case}.txt").read_bytes()
    meta = json.loads((HERE / wire / f"{case}.json").read_text())
    assert meta["source"].get("repo") or meta["source"].get("url"), "provenance is required"
    return body, {**meta["expected"], "reasons": meta.get("warning_reasons", [])}


def check(doc: Document, events: list[dict[str, Any]], expected: dict[str, Any]) -> None:
    assert doc.status == expected["status"]
    assert doc.text == expected["text"]
    assert doc.reasoning == expected["reasoning"]
    assert doc.finish_reason == expected["finish_reason"]
    assert (doc.error or {}).get("kind") == expected["error_kind"]
    assert doc.usage == expected.get("usage")
    server = {e["id"] for e in events if e["type"] == "tool_call_start" and e.get("server")}
    calls = doc.tool_calls
    assert [c.name for c in calls] == [c["name"] for c in expected["tool_calls"]]
    for call, want in zip(calls, expected["tool_calls"]):
        assert call.arguments == want["arguments"], call.name
        assert (call.id in server) == bool(want.get("server")), call.name
        if want.get("server"):
            assert call.status == want["status"]
    reasons = [e["reason"] for e in events if e["type"] == "unknown"]
    assert bool(reasons) == expected["warnings"], reasons
    assert len(reasons) == len(expected["reasons"]), reasons
    for word in expected["reasons"]:
        assert any(word in r for r in reasons), (word, reasons)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("wire", "case"), CASES)
def test_provider_alone(wire: str, case: str, seed: int) -> None:
    body, expected = load(wire, case)
    seen: list[httpx.Request] = []
    provider = make(wire, transport(body, seed, seen))

    request = ChatRequest(messages=[{"role": "user", "content": "hi"}])

    async def go() -> list[dict[str, Any]]:
        return [e async for e in provider.stream(request)]

    events = asyncio.run(go())
    check(Document.from_events(events), events, expected)
    assert len(seen) == 1


@pytest.mark.parametrize(("wire", "case"), CASES)
def test_end_to_end(wire: str, case: str, tmp_path: Path) -> None:
    body, expected = load(wire, case)
    seen: list[httpx.Request] = []
    provider = make(wire, transport(body, 3, seen))
    with Store(tmp_path / "s.duckdb") as store:
        doc = start(provider, request="hi", store=store).wait(30)
        events = store.events(doc.stream_id)
    check(doc, events, expected)
    assert len(seen) == 1, "server-run tools must not cause another request"


def chunk_dicts(body: bytes) -> list[dict[str, Any]]:
    """The JSON of every SSE event: what an SDK hands over as chunk objects."""
    text = body.decode().replace("\r\n", "\n")
    return [
        json.loads(line[6:])
        for block in text.split("\n\n")
        for line in block.split("\n")
        if line.startswith("data: {")
    ]


@pytest.mark.parametrize(("wire", "case"), CASES)
def test_as_sdk_chunks(wire: str, case: str) -> None:
    """The same transcripts as chunk dicts (an SDK's stream): the same documents."""
    body, expected = load(wire, case)
    provider = resolve_model(chunk_dicts(body))

    async def go() -> list[dict[str, Any]]:
        return [e async for e in provider.stream(None)]

    events = asyncio.run(go())
    check(Document.from_events(events), events, expected)


def inject(wire: str, chunks: list[dict[str, Any]], rng: random.Random) -> list[dict[str, Any]]:
    """The chunks with things this parser cannot know about: an unknown event type and an
    unknown output item (Responses), an unknown part type (Gemini), at random places before
    the end."""
    out = list(chunks)
    at = rng.randint(0, max(len(out) - 1, 0))
    if wire == "responses":
        item = {"id": "fut_1", "type": "future_item", "payload": "something new"}
        out[at:at] = [
            {"type": "response.hologram.delta", "delta": "3D"},
            {"type": "response.output_item.added", "output_index": 99, "item": item},
            {"type": "response.output_item.done", "output_index": 99, "item": item},
        ]
    else:
        part = {"futurePart": {"payload": "something new"}}
        out.insert(
            at, {"candidates": [{"content": {"role": "model", "parts": [part]}, "index": 0}]}
        )
    return out


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("wire", "case"), CASES)
def test_unknown_things_are_kept_and_change_nothing_else(wire: str, case: str, seed: int) -> None:
    body, expected = load(wire, case)
    chunks = inject(wire, chunk_dicts(body), random.Random(seed))
    provider = resolve_model(chunks)

    async def go() -> list[dict[str, Any]]:
        return [e async for e in provider.stream(None)]

    events = asyncio.run(go())
    unknown = [e for e in events if e["type"] == "unknown"]
    terminal_first = len(chunk_dicts(body)) == 1 and expected["status"] == "error"
    if not terminal_first:
        # every injected thing is kept, raw, with a reason (a document warning)
        assert len(unknown) == len(expected["reasons"]) + (2 if wire == "responses" else 1)
        assert any("something new" in json.dumps(e["raw"]) for e in unknown)
    known = [e for e in events if e["type"] != "unknown"]
    check(Document.from_events(known), known, {**expected, "warnings": False, "reasons": []})
