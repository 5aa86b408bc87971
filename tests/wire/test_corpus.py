"""Every real transcript of the corpus becomes the document its expectation describes:
through the provider alone (one read), and end to end through ``start()`` against a loopback
server writing the body in random 1-48-byte pieces, on several seeds. SSE bodies also run
with CRLF line endings (as sse-starlette servers send them)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from wire_corpus import Case, cases, mismatches
from wire_loopback import loopback

from streamwidget.document import Document
from streamwidget.events import validate_event
from streamwidget.manager import start
from streamwidget.providers.base import ChatRequest
from streamwidget.store import Store

CASES = cases()
SEEDS = (1, 2, 3)
REQUEST = ChatRequest(messages=[{"role": "user", "content": "hi"}])


def crlf(body: bytes) -> bytes:
    return body.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def provider_alone(case: Case, body: bytes) -> Document:
    """The provider's events for ``body`` served whole by a mock transport, folded."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": case.content_type}, content=body)

    provider = case.provider("http://corpus.test")
    provider._transport = httpx.MockTransport(handler)

    async def go() -> list[dict]:
        return [e async for e in provider.stream(REQUEST)]

    events = asyncio.run(go())
    for event in events:
        validate_event(event, require_t=False)
    assert events[-1]["type"] in ("finish", "error"), events[-1]
    return Document.from_events(events)


def test_the_corpus_is_big_enough() -> None:
    assert len(CASES) >= 40
    for case in CASES:
        assert case.meta.get("source"), case.id
        assert case.expected.get("status"), f"{case.id} has no expected status"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_provider_alone(case: Case) -> None:
    assert mismatches(provider_alone(case, case.body), case.expected) == []


@pytest.mark.parametrize("case", [c for c in CASES if c.content_type == "text/event-stream"],
                         ids=lambda c: c.id)  # fmt: skip
def test_provider_alone_crlf(case: Case) -> None:
    assert mismatches(provider_alone(case, crlf(case.body)), case.expected) == []


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_end_to_end_in_small_writes(case: Case) -> None:
    store = Store(":memory:")
    try:
        for seed in SEEDS:
            body = (
                crlf(case.body)
                if seed == 3 and case.content_type == "text/event-stream"
                else case.body
            )
            with loopback(body, case.content_type, seed) as url:
                doc = start(case.provider(url), request=REQUEST, store=store).wait(timeout=60)
            assert mismatches(doc, case.expected) == [], f"seed {seed}"
    finally:
        store.close()
