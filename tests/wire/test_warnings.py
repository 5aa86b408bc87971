"""A document's warnings (folded from ``unknown`` events) survive the store: committed, read
back after the stream ends, after a reopen, and in files made before the column existed."""

from __future__ import annotations

from pathlib import Path

import duckdb
import httpx
from wire_corpus import cases

from streamwidget.document import Document
from streamwidget.events import unknown, validate_event
from streamwidget.manager import start
from streamwidget.providers.base import ChatRequest
from streamwidget.recording import Recording
from streamwidget.store import Store

HI = ChatRequest(messages=[{"role": "user", "content": "hi"}])
EVENTS = [
    {"t": 0.1, "type": "text", "text": "Hello"},
    {"t": 0.2, **unknown("anthropic", {"type": "fallback"}, "unknown content block type 'x'")},
    {"t": 0.3, "type": "finish", "reason": "stop"},
]


def test_unknown_events_are_valid_and_fold_into_warnings() -> None:
    for event in EVENTS:
        validate_event(event)
    doc = Document.from_events(EVENTS)
    assert doc.warnings == ["anthropic: unknown content block type 'x'"]
    assert doc.to_dict()["warnings"] == doc.warnings
    assert doc.text == "Hello" and doc.status == "complete"


def test_a_streams_warnings_are_stored(tmp_path: Path) -> None:
    case = next(c for c in cases() if c.id == "anthropic/sdk_fallback")

    def handler(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": case.content_type}, content=case.body)

    provider = case.provider("http://wire.test")
    provider._transport = httpx.MockTransport(handler)
    path = tmp_path / "s.duckdb"
    store = Store(path)
    doc = start(provider, request=HI, store=store).wait(timeout=60)
    store.flush()
    assert doc.warnings == ["anthropic: unknown content block type 'fallback'"]
    assert store.get(doc.stream_id).warnings == doc.warnings  # read from the row now
    store.close()
    again = Store(path)
    try:
        assert again.get(doc.stream_id).warnings == doc.warnings
        assert again.get(doc.stream_id).content_equal(
            Document.from_events(again.events(doc.stream_id))
        )
    finally:
        again.close()


def test_a_store_made_before_warnings_gets_the_column(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    Store(path).close()
    con = duckdb.connect(str(path))
    con.execute("DROP INDEX IF EXISTS streams_sha256")  # as files made before both
    con.execute("ALTER TABLE streams DROP COLUMN warnings")
    con.close()
    store = Store(path)
    try:
        sid = store.create_stream(provider="p", model="m", request={})
        for event in EVENTS:
            store.append(sid, event)
        store.flush()
        assert store.get(sid).warnings == ["anthropic: unknown content block type 'x'"]
    finally:
        store.close()


def test_an_imported_recording_keeps_its_warnings() -> None:
    store = Store(":memory:")
    try:
        sid = store.import_recording(Recording.new(provider="p", model="m", events=EVENTS))
        assert store.get(sid).warnings == ["anthropic: unknown content block type 'x'"]
    finally:
        store.close()
