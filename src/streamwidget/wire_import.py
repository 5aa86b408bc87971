"""Raw wire bytes → events, through the very providers that parse live traffic.

Two uses:

- :func:`import_wire` turns a body captured with ``curl -N`` (or copied from browser dev
  tools) into a stream in the store, so a failing production stream can be replayed in the
  Player. A raw capture has no timing: its events get ``t = index * pace`` (``pace=0``: all
  at 0).
- :func:`reparse` re-reads a stream recorded with ``record_wire=True`` (its ``wire`` events
  hold the body, secrets replaced) with today's parsers and writes the result as a new
  stream, which ``Compare(old, new)`` shows side by side: the way to check a parser fix
  against yesterday's traffic. Each reparsed event keeps the time of the wire piece that
  completed it (one event late where the recording held back a piece's last bytes, which
  could have begun a secret); a stream of several model steps (a tool loop) is cut into one
  body per step,
  and the tool results the app gave between steps are kept as they were.

Both keep the raw body as ``wire`` events in what they write, so the new stream can be
re-parsed again later.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

from .events import TERMINAL_TYPES, Event
from .providers.base import ChatRequest
from .recording import Recording
from .store import Store, default_store

#: Wire names and the provider name each one is recorded under.
WIRES = {
    "openai": "openai",
    "anthropic": "anthropic",
    "ollama": "ollama",
    "responses": "openai-responses",
    "openai-responses": "openai-responses",
    "gemini": "gemini",
}
_BASE = "http://wire.invalid/v1"


def _provider(wire: str, transport: httpx.AsyncBaseTransport) -> Any:
    """The live provider of ``wire``, reading from ``transport`` instead of the network."""
    name = WIRES.get(wire)
    if name is None:
        raise ValueError(f"unknown wire {wire!r}; one of: {', '.join(sorted(WIRES))}")
    http: dict[str, Any] = dict(
        base_url=_BASE,
        transport=transport,
        record_wire=True,
        stall_timeout=None,
        deadline=None,
        max_retries=0,
    )
    if name == "openai":
        from .providers.openai import OpenAIProvider

        return OpenAIProvider("wire", **http)
    if name == "anthropic":
        from .providers.anthropic import AnthropicProvider

        return AnthropicProvider("wire", api_key="no-key-for-wire-parsing", **http)
    if name == "ollama":
        from .providers.ollama import OllamaProvider

        return OllamaProvider("wire", **http)
    if name == "openai-responses":
        from .providers.responses import OpenAIResponsesProvider

        return OpenAIResponsesProvider("wire", **http)
    from .providers.gemini import GeminiProvider

    return GeminiProvider("wire", **http)


class _Pieces(httpx.AsyncByteStream):
    """The body, piece by piece, noting the time of the piece being read."""

    def __init__(self, pieces: list[tuple[float, bytes]], clock: list[float]) -> None:
        self.pieces, self.clock = pieces, clock

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for t, data in self.pieces:
            self.clock[0] = t
            yield data


def parse_pieces(pieces: list[tuple[float, bytes]], wire: str) -> list[Event]:
    """Events (with ``t``) of one response body given as ``(t, bytes)`` pieces."""
    clock = [pieces[0][0] if pieces else 0.0]
    ctype = "application/x-ndjson" if WIRES.get(wire) == "ollama" else "text/event-stream"

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": ctype}, stream=_Pieces(pieces, clock))

    provider = _provider(wire, httpx.MockTransport(handler))

    async def run() -> list[Event]:
        return [{**e, "t": clock[0]} async for e in provider.stream(ChatRequest())]

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(run())
    # Called from a running loop (a notebook cell): parse on a thread with a loop of its own.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, run()).result()


def parse_body(body: bytes, wire: str, *, pace: float = 0.0) -> list[Event]:
    """The events of a raw captured body; event ``i`` gets ``t = i * pace``."""
    events = parse_pieces([(0.0, body)], wire)
    return [{**e, "t": round(i * pace, 4)} for i, e in enumerate(events)]


def import_wire(
    path: str | os.PathLike[str],
    wire: str,
    *,
    store: Store | None = None,
    model: str = "unknown",
    pace: float = 0.0,
) -> str:
    """Import a raw captured body as a stream; return its id (see the module docstring)."""
    source = Path(path)
    events = parse_body(source.read_bytes(), wire, pace=pace)
    recording = Recording.new(
        provider=WIRES[wire],
        model=model,
        request={"imported_from": source.name},
        events=events,
        wire_import=wire,
    )
    return (store if store is not None else default_store()).import_recording(recording)


def reparse_events(events: list[Event], wire: str) -> list[Event]:
    """A recorded stream's events, its ``wire`` bodies parsed again (see the docstring)."""
    out: list[Event] = []
    usage: dict[str, Any] = {}
    segment: list[tuple[float, bytes]] = []
    original_end = events[-1] if events and events[-1].get("type") in TERMINAL_TYPES else None

    def flush(last: bool) -> bool:
        """Parse the body so far; False when it ended the stream."""
        parsed = parse_pieces(segment, wire) if segment else []
        segment.clear()
        for event in parsed:
            kind = event["type"]
            if kind == "usage":
                for key, value in event.items():
                    if isinstance(value, (int, float)) and key != "t":
                        usage[key] = usage.get(key, 0) + value
            elif kind == "finish" and not last:
                continue  # between steps the manager writes no finish
            elif kind in TERMINAL_TYPES:
                out.append(event)
                return False
            else:
                out.append(event)
        return True

    for event in events:
        kind = event.get("type")
        if kind == "wire":
            segment.append((float(event.get("t", 0.0)), str(event.get("data", "")).encode()))
        elif kind in ("tool_status", "tool_result") and not event.get("server"):
            if not flush(last=False):
                break
            out.append(event)  # what the app's tools gave: not on the wire
    else:
        flush(last=True)
    return _end(out, usage, original_end)


def _end(out: list[Event], usage: dict[str, Any], original: Event | None) -> list[Event]:
    """Usage before the terminal event; a stream that was cancelled (or whose process died)
    mid-body ends the same way again instead of as ``incomplete``."""
    terminal = out.pop() if out and out[-1]["type"] in TERMINAL_TYPES else None
    cut_short = terminal is None or terminal.get("kind") == "incomplete"
    if original is not None and (
        terminal is None or (cut_short and original["type"] in ("cancelled", "interrupted"))
    ):
        terminal = original
    t = terminal.get("t", out[-1]["t"] if out else 0.0) if terminal else 0.0
    if usage:
        out.append({"type": "usage", **usage, "t": t})
    if terminal is not None:
        out.append(terminal)
    return out


def reparse(stream_id: str, *, store: Store | None = None) -> str:
    """Re-parse a stream recorded with ``record_wire=True``; return the new stream's id."""
    store = store if store is not None else default_store()
    old = store.recording(stream_id)
    if not any(e.get("type") == "wire" for e in old.events):
        raise ValueError(
            f"stream {stream_id} has no recorded wire: record it with record_wire=True "
            "(e.g. start('openai:...', ...) with a provider made with record_wire=True)"
        )
    wire = str(old.header.get("wire_import") or old.provider)
    events = reparse_events(old.events, wire)
    header = {k: v for k, v in old.header.items() if k not in ("stream_id", "created_at")}
    header.update(reparse_of=stream_id)
    recording = Recording(header=header, events=events)
    return store.import_recording(recording)


__all__ = ["WIRES", "import_wire", "parse_body", "parse_pieces", "reparse", "reparse_events"]
