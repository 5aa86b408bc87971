"""A long generated recording written straight to a ``.jsonl`` file (never held in memory).

Used by the Player's scale tests, its browser test and ``benchmarks/bench_player.py``: a
reasoning prelude, then text tokens ~20 ms apart with paragraphs, the odd heading, a few
non-ASCII words (so UTF-16 offsets differ from code points), a tool call every ``n // 50``
events, the odd stall, usage and finish. :func:`write_long_stream` writes the same events into
a store, as one stream.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

from streamwidget import Store

WORDS = ["the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog", "streams"]
RARE = ["café", "naïve", "🌧️", "日本"]


def long_header(n: int) -> dict:
    header = {"streamwidget": "recording", "version": 1, "provider": "bench", "model": "long"}
    header["title"] = f"{n:,} generated events"
    return header


def long_events(n: int, seed: int = 1) -> Iterator[dict]:
    """About ``n`` generated events, one at a time."""
    rng = random.Random(seed)
    t, count = 0.4, 0
    tools_every = max(n // 50, 20)

    def event(fields: dict) -> dict:
        nonlocal count
        count += 1
        return {"t": round(t, 4), **fields}

    for _ in range(min(200, n // 10)):
        t += 0.01
        yield event({"type": "reasoning", "text": rng.choice(WORDS) + " "})
    paragraph = 0
    while count < n - 2:
        t += 0.6 if rng.random() < 0.0005 else rng.uniform(0.005, 0.035)
        if count % tools_every == 0:
            cid = f"call_{count}"
            yield event({"type": "tool_call_start", "id": cid, "name": "lookup"})
            t += 0.01
            yield event({"type": "tool_call_delta", "id": cid, "args_delta": '{"q": "x"}'})
            yield event({"type": "tool_call_end", "id": cid, "arguments": {"q": "x"}})
            t += 0.2
            yield event({"type": "tool_result", "id": cid, "status": "done", "result": count})
            continue
        roll = rng.random()
        if roll < 0.01:
            paragraph += 1
            token = f"\n\n## Part {paragraph}\n\n" if roll < 0.002 else "\n\n"
        else:
            word = rng.choice(RARE) if roll > 0.995 else rng.choice(WORDS)
            token = word + " "
        yield event({"type": "text", "text": token})
    yield event({"type": "usage", "output_tokens": count})
    yield event({"type": "finish", "reason": "stop"})


def write_long_recording(path: Path, n: int, seed: int = 1) -> Path:
    """Write about ``n`` events to ``path``; returns it."""
    dump = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    with open(path, "w", encoding="utf-8") as out:
        out.write(dump(long_header(n)) + "\n")
        for event in long_events(n, seed):
            out.write(dump(event) + "\n")
    return path


def write_long_stream(store: Store, n: int, seed: int = 1) -> str:
    """Write about ``n`` events into ``store`` as one finished stream, the way the manager
    writes a live one (create, append each event, commit in batches); returns its id."""
    header = long_header(n)
    stream_id = store.create_stream(
        provider=header["provider"], model=header["model"], header={"title": header["title"]}
    )
    for event in long_events(n, seed):
        store.append(stream_id, event)
    store.flush()
    return stream_id
