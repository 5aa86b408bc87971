"""Nothing is lost silently: inject what the parsers do not know — unknown delta and chunk
fields, unknown event types, unknown content parts and blocks — into real transcripts. The
known content must come out unchanged, the injected content must be kept in an ``unknown``
event, and the document must carry a warning (never a quiet ``complete``)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wire_corpus import Case, cases

from streamwidget.document import Document
from streamwidget.providers.base import ChatRequest

HI = ChatRequest(messages=[{"role": "user", "content": "hi"}])
CASES = [
    c for c in cases() if c.expected.get("status") == "complete" and not c.expected.get("warnings")
]


def payloads(case: Case) -> list[dict[str, Any]]:
    """The JSON objects of a body (SSE data payloads or NDJSON lines), in order."""
    text = case.body.decode().replace("\r\n", "\n")
    if case.wire == "ollama":
        return [json.loads(line) for line in text.split("\n") if line.strip()]
    found = []
    for block in text.split("\n\n"):
        data = "\n".join(
            line[5:].lstrip() for line in block.split("\n") if line.startswith("data:")
        )
        if data.strip() and data.strip() != "[DONE]":
            found.append(json.loads(data))
    return found


def body_of(case: Case, objects: list[dict[str, Any]]) -> bytes:
    if case.wire == "ollama":
        return "".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objects).encode()
    out = "".join(f"data: {json.dumps(o, ensure_ascii=False)}\n\n" for o in objects)
    return (out + ("data: [DONE]\n\n" if case.wire == "openai" else "")).encode()


def parse(case: Case, body: bytes) -> tuple[Document, list[dict[str, Any]]]:
    def handler(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": case.content_type}, content=body)

    provider = case.provider("http://wire.test")
    provider._transport = httpx.MockTransport(handler)

    async def go() -> list[dict[str, Any]]:
        return [e async for e in provider.stream(HI)]

    events = asyncio.run(go())
    return Document.from_events(events), events


def known(doc: Document) -> tuple[Any, ...]:
    calls = [(c.name, c.arguments, c.status, c.result) for c in doc.tool_calls]
    return doc.status, doc.text, doc.reasoning, calls, doc.finish_reason, doc.error


names = st.from_regex(r"zz_[a-z]{1,8}", fullmatch=True)
values = st.one_of(
    st.text(min_size=1, max_size=20),
    st.dictionaries(st.sampled_from(["text", "data", "n"]), st.text(min_size=1), min_size=1),
    st.lists(st.integers(), min_size=1, max_size=3),
)


def inject(case: Case, objects: list[dict[str, Any]], data: st.DataObject) -> Any:
    """Put one unknown thing carrying ``marker`` into ``objects`` (in place); return marker."""
    marker = {"zz_marker": data.draw(values)}
    at = data.draw(st.integers(0, len(objects) - 1))
    if case.wire == "openai":
        with_delta = [i for i, o in enumerate(objects) if o.get("choices")]
        how = data.draw(st.sampled_from(["delta_field", "chunk_field", "content_part"]))
        if how == "chunk_field":
            objects[at][data.draw(names)] = marker
        else:
            chunk = objects[data.draw(st.sampled_from(with_delta))]
            delta = chunk["choices"][0].setdefault("delta", {})
            if how == "delta_field":
                delta[data.draw(names)] = marker
            else:  # a content part of an unknown type, beside the known content
                part = {"type": data.draw(names), **marker}
                content = delta.get("content")
                parts = content if isinstance(content, list) else []
                if isinstance(content, str) and content:
                    parts = [{"type": "text", "text": content}]
                delta["content"] = [*parts, part]
    elif case.wire == "anthropic":
        how = data.draw(st.sampled_from(["event", "block", "delta", "message_delta"]))
        at = max(1, at)  # after message_start
        if how == "event":
            objects.insert(at, {"type": data.draw(names), **marker})
        elif how == "block":
            index = 1000
            start = {"type": "content_block_start", "index": index}
            start["content_block"] = {"type": data.draw(names), **marker}
            objects[at:at] = [start, {"type": "content_block_stop", "index": index}]
        elif how == "delta":
            delta = {"type": "content_block_delta", "index": 1000}
            delta["delta"] = {"type": data.draw(names), **marker}
            objects[at:at] = [
                {"type": "content_block_start", "index": 1000, "content_block": {"type": "text"}},
                delta,
                {"type": "content_block_stop", "index": 1000},
            ]
        else:
            deltas = [o for o in objects if o.get("type") == "message_delta"]
            if deltas:
                deltas[-1].setdefault("delta", {})[data.draw(names)] = marker
            else:  # a message that arrived whole in message_start has no message_delta
                objects.insert(at, {"type": data.draw(names), **marker})
    else:
        line = objects[min(at, len(objects) - 2)]
        if data.draw(st.booleans()):
            line.setdefault("message", {})[data.draw(names)] = marker
        else:
            line[data.draw(names)] = marker
    return marker


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=st.sampled_from(CASES), data=st.data())
def test_unknown_content_is_kept_and_warned(case: Case, data: st.DataObject) -> None:
    objects = payloads(case)
    before, _ = parse(case, body_of(case, objects))
    marker = inject(case, objects, data)
    after, events = parse(case, body_of(case, objects))
    assert known(after) == known(before)  # what was understood is unchanged
    kept = [e for e in events if e["type"] == "unknown" and _holds(e["raw"], marker)]
    assert kept, "the injected content is in no unknown event"
    assert after.warnings and after.status == "complete"


def _holds(raw: Any, marker: dict[str, Any]) -> bool:
    if isinstance(raw, dict):
        return all(raw.get(k) == v for k, v in marker.items()) or any(
            _holds(v, marker) for v in raw.values()
        )
    if isinstance(raw, list):
        return any(_holds(v, marker) for v in raw)
    return False


def test_the_property_covers_every_wire() -> None:
    assert {c.wire for c in CASES} == {"openai", "anthropic", "ollama"}
