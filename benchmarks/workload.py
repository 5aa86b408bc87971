"""The token streams every benchmark replays (imported by the runner *and* inside kernels).

Tokens are the text events of the bundled recordings (markdown with headings, lists, tables
and fenced code, ~4 characters a token), repeated until there are ``n`` of them. Each repeat is
a complete document, so the markdown stays well formed wherever a run stops; a blank line
separates repeats. Only the standard library and streamwidget are used here.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

RECORDINGS = Path(__file__).resolve().parents[1] / "src" / "streamwidget" / "recordings"
SOURCES = ("markdown-tour", "code-review")
#: Seconds between tokens in the recordings made here (50 tokens/s, a fast model); the
#: benchmarks replay them at speed 0 (as fast as possible) unless they say otherwise.
GAP = 0.02


@cache
def _source_tokens() -> tuple[str, ...]:
    out: list[str] = []
    for name in SOURCES:
        lines = (RECORDINGS / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()[1:]
        for line in lines:
            event = json.loads(line)
            if event.get("type") == "text" and event["text"]:
                out.append(event["text"])
        out.append("\n\n")
    return tuple(out)


def tokens(n: int, *, marker: str | None = None) -> list[str]:
    """``n`` realistic markdown tokens; with ``marker``, the last one is ``" " + marker``
    (something unique to look for on screen)."""
    source = _source_tokens()
    out = [source[i % len(source)] for i in range(n)]
    if marker is not None and out:
        out[-1] = f" {marker}"
    return out


def recording(n: int, *, marker: str | None = None, gap: float = GAP):
    """A streamwidget Recording of ``n`` text tokens and a ``finish``."""
    from streamwidget import Recording

    events = [
        {"t": round(i * gap, 4), "type": "text", "text": t}
        for i, t in enumerate(tokens(n, marker=marker))
    ]
    events.append({"t": round(n * gap, 4), "type": "finish", "reason": "stop"})
    return Recording.new(provider="bench", model="tokens", events=events)


def text_bytes(n: int, *, marker: str | None = None) -> int:
    """UTF-8 bytes of the text the ``n`` tokens make."""
    return len("".join(tokens(n, marker=marker)).encode("utf-8"))
