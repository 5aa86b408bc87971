"""A long generated recording written straight to a ``.jsonl`` file (never held in memory).

Used by the Player's scale tests, its browser test and ``benchmarks/bench_player.py``: a
reasoning prelude, then text tokens ~20 ms apart with paragraphs, the odd heading, a few
non-ASCII words (so UTF-16 offsets differ from code points), a tool call every ``n // 50``
events, the odd stall, usage and finish.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

WORDS = ["the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog", "streams"]
RARE = ["café", "naïve", "🌧️", "日本"]


def write_long_recording(path: Path, n: int, seed: int = 1) -> Path:
    """Write about ``n`` events to ``path``; returns it."""
    rng = random.Random(seed)
    dump = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    header = {"streamwidget": "recording", "version": 1, "provider": "bench", "model": "long"}
    header["title"] = f"{n:,} generated events"
    t, count = 0.4, 0
    tools_every = max(n // 50, 20)
    with open(path, "w", encoding="utf-8") as out:
        out.write(dump(header) + "\n")

        def emit(event: dict) -> None:
            nonlocal count
            count += 1
            out.write(dump({"t": round(t, 4), **event}) + "\n")

        for _ in range(min(200, n // 10)):
            t += 0.01
            emit({"type": "reasoning", "text": rng.choice(WORDS) + " "})
        paragraph = 0
        while count < n - 2:
            t += 0.6 if rng.random() < 0.0005 else rng.uniform(0.005, 0.035)
            if count % tools_every == 0:
                cid = f"call_{count}"
                emit({"type": "tool_call_start", "id": cid, "name": "lookup"})
                t += 0.01
                emit({"type": "tool_call_delta", "id": cid, "args_delta": '{"q": "x"}'})
                emit({"type": "tool_call_end", "id": cid, "arguments": {"q": "x"}})
                t += 0.2
                emit({"type": "tool_result", "id": cid, "status": "done", "result": count})
                continue
            roll = rng.random()
            if roll < 0.01:
                paragraph += 1
                token = f"\n\n## Part {paragraph}\n\n" if roll < 0.002 else "\n\n"
            else:
                word = rng.choice(RARE) if roll > 0.995 else rng.choice(WORDS)
                token = word + " "
            emit({"type": "text", "text": token})
        emit({"type": "usage", "output_tokens": count})
        emit({"type": "finish", "reason": "stop"})
    return path
