"""Live tests against a real OpenAI-compatible server (llama.cpp + Gemma 3 270M, see conftest).

Real tokens go through the whole path: provider → manager → store → widget; one stream is
cancelled mid-way, one is recorded and replayed into an identical document.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from streamwidget import Recording, Store, StreamView, start
from streamwidget.providers.base import ChatRequest
from streamwidget.providers.models import resolve_model

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

# llama.cpp ignores the key unless started with --api_key; it is here to prove it is never
# stored anywhere.
SECRET = "sk-live-test-SECRET-4f2a9c"


def gemma(url: str, **kwargs):
    return resolve_model(f"openai:gemma@{url}", api_key=SECRET, **kwargs)


def ask(prompt: str, max_tokens: int) -> ChatRequest:
    return ChatRequest(
        messages=[{"role": "user", "content": prompt}],
        options={"max_tokens": max_tokens, "temperature": 0, "seed": 1},
    )


async def wait_for_text(store: Store, stream_id: str, chars: int, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while len(text := store.get(stream_id).text) < chars:
        assert time.monotonic() < deadline, f"no {chars} characters after {timeout} s: {text!r}"
        await asyncio.sleep(0.02)
    return text


async def test_real_tokens_stream_into_the_store_and_a_widget(
    llama_url: str, comms, tmp_path: Path, record_property
) -> None:
    path = tmp_path / "live.duckdb"
    store = Store(path)
    provider = gemma(llama_url)
    handle = start(provider, request=ask("Name three colors of the rainbow.", 60), store=store)
    view = StreamView(handle)
    doc = await handle

    assert doc.status == "complete", doc.error
    assert doc.finish_reason in ("stop", "length")
    assert doc.text.strip() and doc.provider == "openai" and doc.model == "gemma"
    events = store.events(handle.id)
    texts = [e for e in events if e["type"] == "text"]
    assert len(texts) >= 5  # real streaming: many deltas, not one blob
    assert "".join(e["text"] for e in texts) == doc.text
    assert [e["t"] for e in events] == sorted(e["t"] for e in events)

    # the widget saw the same reply, as coalesced deltas and then as final state
    assert view.status == "complete" and view.text == doc.text
    deltas = [m for m in comms[-1].custom() if m.get("kind") == "delta"]
    assert "".join(d["text"] for d in deltas if d["field"] == "text") == doc.text

    span = texts[-1]["t"] - texts[0]["t"]
    rate = (len(texts) - 1) / span if span > 0 else float("inf")
    record_property("llama_tokens_per_s", round(rate, 1))
    record_property("llama_first_token_s", doc.first_token_t)
    print(
        f"\nllama.cpp: {len(texts)} tokens, {rate:.1f} tokens/s, first after "
        f"{doc.first_token_t:.3f} s"
    )
    assert rate > 1.0

    # no key anywhere: not in events, not in the recording, not in the database file
    recording = store.recording(handle.id)
    assert SECRET not in recording.dumps()
    assert SECRET not in json.dumps([view.get_state(), events], default=str)
    store.close()
    for file in tmp_path.iterdir():
        assert SECRET.encode() not in file.read_bytes(), file


async def test_cancel_mid_stream_keeps_the_text_and_frees_the_connection(llama_url: str) -> None:
    store = Store(":memory:")
    provider = gemma(llama_url)
    prompt = ask("Write a long story about a lighthouse keeper.", 400)
    handle = start(provider, request=prompt, store=store)
    seen = await wait_for_text(store, handle.id, 40)
    handle.cancel()
    doc = await handle

    assert doc.status == "cancelled"
    assert doc.text.startswith(seen) and len(doc.text) < 2000
    assert store.events(handle.id)[-1]["type"] == "cancelled"
    assert provider.pool_stats()["active"] == 0

    # many more cancels, some before the first byte: the pool still ends with nothing active
    for i in range(12):
        h = start(provider, request=prompt, store=store)
        if i % 3:
            await wait_for_text(store, h.id, 1)
        h.cancel()
        assert (await h).status == "cancelled"
    assert provider.pool_stats()["active"] == 0

    # and the server is not stuck generating for nobody: a short reply comes back promptly
    started = time.monotonic()
    after = await start(provider, request=ask("Say hi.", 8), store=store)
    assert after.status == "complete" and time.monotonic() - started < 30


async def test_record_and_replay_rebuild_the_same_document(llama_url: str, tmp_path: Path) -> None:
    store = Store(":memory:")
    provider = gemma(llama_url, record_wire=True)
    live = await start(provider, request=ask("Count from one to ten in words.", 50), store=store)
    assert live.status == "complete"

    recording = store.recording(live.stream_id)
    assert recording.header["provider"] == "openai" and recording.header["model"] == "gemma"
    assert recording.header["request"]["base_url"] == llama_url
    wire = "".join(e["data"] for e in recording.events if e["type"] == "wire")
    assert "data: [DONE]" in wire  # the raw wire chunks were recorded too
    assert SECRET not in recording.dumps()

    path = recording.save(tmp_path / "live.jsonl")
    loaded = Recording.load(path)
    assert loaded.document().content_equal(live)

    replayed = await start(resolve_model(f"replay:{path}", speed=0), store=store)
    assert replayed.stream_id != live.stream_id
    assert replayed.content_equal(live)
    assert (replayed.text, replayed.status, replayed.usage) == (live.text, live.status, live.usage)
