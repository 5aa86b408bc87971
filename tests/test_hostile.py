"""Hostile model output, kernel side: the text is data, kept exactly, never interpreted.

The browser half (nothing runs, nothing loads, the page keeps its styles) is in
tests/browser/test_hostile_output.py and js/test/hostile.test.ts. Here: every payload, whole
and split across two deltas at every position, goes provider → manager → store → StreamView
and comes out byte for byte, in the store, in the recording and in what the front end gets.
Guarantees listed in docs/guarantees.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import httpx
import pytest

from streamwidget import (
    Document,
    Recording,
    ReplayProvider,
    Store,
    StoreError,
    StreamView,
    start,
)
from streamwidget.providers.openai import OpenAIProvider
from streamwidget.widgets.stream_view import utf16_len

#: One payload per class named in the issue (kept in step with the browser test's list).
PAYLOADS = {
    "script": "A <script>window.__pwned = 1</script> B",
    "img-onerror": 'A <img src=x onerror="window.__pwned = 1"> B',
    "javascript-link": "A [click](javascript:window.__pwned=1) B",
    "data-link": "A [file](data:text/html;base64,PHNjcmlwdD5wYXJlbnQuX19wd25lZD0xPC9zY3JpcHQ+) B",
    "iframe-srcdoc": 'A <iframe srcdoc="<script>parent.__pwned=1</script>"></iframe> B',
    "svg-script": "A <svg><script>window.__pwned = 1</script></svg> B",
    "style": "A <style>body { display: none !important }</style> B",
    "form": 'A <form action="https://evil.example/x"><input name=q><button>Go</button></form> B',
    "external-image": "A ![pixel](https://evil.example/pixel.png) B",
    "astral-and-controls": "A 🌧️\u0000\u001b[31m\ufeff😀 B",
}


class Pieces:
    """A provider that sends the given text pieces, then finish."""

    name = "pieces"
    model = "pieces-1"

    def __init__(self, pieces: list[str]):
        self.pieces = pieces

    def describe(self, request: Any) -> dict[str, Any]:
        return {}

    async def stream(self, request: Any):
        for piece in self.pieces:
            yield {"type": "text", "text": piece}
        yield {"type": "finish", "reason": "stop"}


def splits(text: str) -> list[list[str]]:
    """The text whole, then cut in two at every position (UTF-16-aware is not needed here:
    Python strings are code points; the front end's own split test covers UTF-16 units)."""
    return [[text]] + [[text[:i], text[i:]] for i in range(1, len(text))]


def rebuild(messages: list[dict[str, Any]]) -> str:
    text = ""
    for msg in messages:
        if msg.get("kind") == "delta" and msg["field"] == "text":
            assert msg["at"] == utf16_len(text), "deltas are contiguous"
            text += msg["text"]
        elif msg.get("kind") == "snapshot":
            text = msg["text"]
    return text


@pytest.mark.parametrize("name", list(PAYLOADS))
async def test_a_hostile_payload_is_kept_byte_for_byte_whole_and_split_everywhere(name, comms):
    payload = PAYLOADS[name]
    store = Store(":memory:")
    for n, pieces in enumerate(splits(payload)):
        handle = start(Pieces(pieces), store=store)
        view = StreamView(handle, frame_interval=0)
        comm = comms[-1]
        doc = await handle
        assert doc.text == payload and doc.status == "complete"
        assert rebuild(comm.custom()) == payload  # what the front end is sent
        assert view.text == payload  # the final trait, what a saved notebook holds
        # no HTML is made in the kernel: the text only travels as text
        state = json.dumps([u for u in comm.updates()])
        assert "<p>" not in state and "innerHTML" not in state
        if n % 10 == 0:  # a store read per stream would dominate the run time
            recording = store.recording(doc.stream_id)
            assert Recording.loads(recording.dumps()).document().text == payload
    store.close()


async def test_hostile_strings_in_tool_calls_errors_and_model_names_stay_plain_state(comms):
    evil = '<img src=x onerror="window.__pwned=1">'
    events = [
        {"type": "tool_call_start", "id": evil, "name": evil},
        {"type": "tool_call_delta", "id": evil, "args_delta": evil},
        {"type": "tool_call_end", "id": evil, "arguments": {evil: evil}},
        {"type": "tool_result", "id": evil, "status": "done", "result": evil},
        {"type": "error", "kind": evil, "message": evil},
    ]

    class Evil(Pieces):
        model = evil

        async def stream(self, request: Any):
            for event in events:
                yield event

    store = Store(":memory:")
    handle = start(Evil([]), store=store)
    view = StreamView(handle)
    doc = await handle
    assert doc.status == "error" and doc.error == {"kind": evil, "message": evil}
    assert view.tool_calls[0]["name"] == evil and view.tool_calls[0]["result"] == evil
    assert view.meta["model"] == evil
    assert Document.from_events(store.events(doc.stream_id)).content_equal(doc)


# -- text that cannot be stored as UTF-8 ------------------------------------------------------

SSE = {"content-type": "text/event-stream"}


def openai_with_text(*pieces: str) -> OpenAIProvider:
    """A server that streams ``pieces`` as JSON-escaped content (as servers do)."""
    chunks = [{"choices": [{"index": 0, "delta": {"content": p}}]} for p in pieces]
    body = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=SSE, content=body.encode())

    return OpenAIProvider(
        "m", base_url="http://llm.test/v1", transport=httpx.MockTransport(handler)
    )


async def test_a_lone_surrogate_in_model_output_does_not_poison_the_store(tmp_path):
    store = Store(tmp_path / "s.duckdb")
    # an emoji whose surrogate halves arrive in two chunks, and a stray half
    doc = await start(openai_with_text("smile ", "\ud83d", "\ude00", " and \udfff"), store=store)
    assert doc.status == "complete"
    later = await start(ReplayProvider(Recording.bundled("hello"), speed=0), store=store)
    try:
        store.flush()  # raises StoreError while the bad row is stuck in the queue
    finally:
        with contextlib.suppress(StoreError):
            store.close()
    with Store(tmp_path / "s.duckdb") as again:
        stored = again.get(doc.stream_id)
        assert stored.text.startswith("smile ") and stored.text.endswith(" and \ufffd")
        stored.text.encode("utf-8")  # valid Unicode only
        assert Document.from_events(again.events(doc.stream_id)).content_equal(stored)
        assert again.get(later.stream_id).status == "complete"


async def test_many_concurrent_hostile_streams_keep_each_document_separate(comms):
    store = Store(":memory:")
    handles = [start(Pieces(list(payload)), store=store) for payload in PAYLOADS.values()]
    docs = await asyncio.gather(*handles)
    assert [d.text for d in docs] == list(PAYLOADS.values())


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85"])
async def test_unicode_line_separators_in_model_output_survive_export_and_import(
    separator, tmp_path
):
    """JSON leaves U+2028, U+2029 and U+0085 raw; they must not end a recording line."""
    from streamwidget.transfer import export_jsonl, import_jsonl

    text = f"line one{separator}line two"
    store = Store(tmp_path / "a.duckdb")
    doc = await start(Pieces([text[:5], text[5:]]), store=store)
    (path,) = export_jsonl(tmp_path / "out.jsonl", store=store, streams=doc.stream_id)
    assert Recording.load(path).document().text == text
    store.close()
    with Store(tmp_path / "b.duckdb") as other:
        (sid,) = import_jsonl(path, store=other).stream_ids
        assert other.get(sid).text == text
