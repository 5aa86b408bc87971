"""Bring your own stream: a stream an SDK already opened, read through our wire parsers.

``sw.start(stream)`` and ``sw.StreamView(stream)`` accept, sync or async:

- the OpenAI SDK's chat completions stream (``create(stream=True)`` or the
  ``chat.completions.stream()`` helper), and its Responses stream;
- the Anthropic SDK's raw event stream (``messages.create(stream=True)`` or the
  ``messages.stream()`` helper, whose derived events are skipped: the raw ones carry it all);
- a litellm stream, the google-genai SDK's ``generate_content_stream``, or any iterable of
  chunk dicts in one of these shapes.

Each chunk becomes a dict (``model_dump()``, ``to_dict()`` or a dict as is) and goes to the
same folder the HTTP provider of that wire uses; the first chunk says which wire it is. No
SDK is imported here. A stream can be read once: the tool loop cannot ask the model again
through it, so a second step ends with an error saying so.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any

from ..events import Event
from .anthropic import _Folder as AnthropicFolder
from .base import ChatRequest
from .errors import SHAPE_ERRORS, kind_for_code, kind_for_status
from .gemini_fold import GeminiFolder
from .openai_fold import ChunkFolder
from .responses_fold import ResponsesFolder

#: The Anthropic ``messages.stream()`` helper's own events (the raw events come too).
_ANTHROPIC_DERIVED = frozenset({"text", "input_json", "thinking", "signature", "citation"})
_ANTHROPIC = frozenset(
    {
        "message_start",
        "message_delta",
        "message_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "ping",
    }
)
_DONE = object()


def as_dict(chunk: Any) -> dict[str, Any] | None:
    """A chunk of any SDK as a plain dict (None: not a mapping at all)."""
    if isinstance(chunk, dict):
        return chunk
    dump = getattr(chunk, "model_dump", None)
    if callable(dump):
        try:
            data = dump(mode="json", by_alias=True, exclude_none=True)
        except TypeError:  # a model_dump without pydantic's keywords
            data = dump()
        return data if isinstance(data, dict) else None
    to_dict = getattr(chunk, "to_dict", None)
    data = to_dict() if callable(to_dict) else None
    return data if isinstance(data, dict) else None


class _Wire:
    """The folder for one wire, fed chunk dicts, with what to do at the stream's end."""

    def __init__(
        self,
        name: str,
        feed: Callable[[dict[str, Any]], list[Event]],
        end: Callable[[], list[Event]],
    ):
        self.name, self.feed, self.end = name, feed, end


def detect(chunk: dict[str, Any]) -> _Wire | None:
    """Which wire a first chunk belongs to."""
    kind = chunk.get("type")
    if isinstance(kind, str) and (
        kind.startswith("response.") or (kind == "error" and "sequence_number" in chunk)
    ):
        folder = ResponsesFolder()
        return _Wire("openai-responses", folder.feed, folder.finish)
    if kind in _ANTHROPIC or kind in _ANTHROPIC_DERIVED or (kind == "error" and "error" in chunk):
        return _anthropic()
    if "candidates" in chunk or "promptFeedback" in chunk:
        gemini = GeminiFolder()
        return _Wire("gemini", gemini.feed, gemini.finish)
    if kind == "chunk" or "choices" in chunk or chunk.get("object") == "chat.completion.chunk":
        return _chat()
    return None


def _chat() -> _Wire:
    folder = ChunkFolder()

    def feed(chunk: dict[str, Any]) -> list[Event]:
        if chunk.get("type") == "chunk" and isinstance(chunk.get("chunk"), dict):
            chunk = chunk["chunk"]  # the chat.completions.stream() helper's wrapper
        elif isinstance(chunk.get("type"), str) and "choices" not in chunk:
            return []  # the helper's derived events (content.delta, ...)
        return folder.feed(chunk)

    return _Wire("openai", feed, folder.done)


def _anthropic() -> _Wire:
    folder = AnthropicFolder()
    state = {"stopped": False}

    def feed(chunk: dict[str, Any]) -> list[Event]:
        if chunk.get("type") in _ANTHROPIC_DERIVED:
            return []
        if chunk.get("type") == "message_stop":
            state["stopped"] = True
        return folder.feed(chunk)

    def end() -> list[Event]:
        if state["stopped"]:
            return []
        return [
            {
                "type": "error",
                "kind": "incomplete",
                "message": "the stream ended without message_stop",
            }
        ]

    return _Wire("anthropic", feed, end)


class SDKStreamProvider:
    """A provider over a stream someone else opened (see the module docstring)."""

    def __init__(self, source: Any, *, model: str | None = None) -> None:
        if not (hasattr(source, "__aiter__") or hasattr(source, "__iter__")):
            raise TypeError(
                f"expected an SDK stream (an iterable of chunks), got {type(source).__name__}"
            )
        if isinstance(source, (str, bytes, dict)):
            raise TypeError(
                f"expected an SDK stream (an iterable of chunks), got {type(source).__name__}"
            )
        self.source = source
        root = type(source).__module__.split(".")[0]
        self.name = root if root in ("openai", "anthropic", "litellm", "google") else "sdk"
        self.model = model or getattr(source, "model", None) or "unknown"
        self.used = False

    def describe(self, request: ChatRequest | None = None) -> dict[str, Any]:
        return {
            "source": "sdk-stream",
            "stream_type": f"{type(self.source).__module__}.{type(self.source).__name__}",
        }

    async def stream(self, request: ChatRequest | None = None) -> AsyncIterator[Event]:
        if self.used:
            message = (
                "a stream passed in can be read once: the tool loop cannot ask the model again"
            )
            yield {"type": "error", "kind": "bad_request", "message": message}
            return
        self.used = True
        wire: _Wire | None = None
        try:
            async with contextlib.aclosing(_chunks(self.source)) as chunks:
                async for chunk in chunks:
                    data = as_dict(chunk)
                    if data is None:
                        yield _not_understood(chunk, "a chunk that is not a mapping")
                        continue
                    wire = wire or detect(data)
                    if wire is None:
                        yield _not_understood(data, "a chunk of no known wire")
                        continue
                    for event in wire.feed(data):
                        yield event
                        if event["type"] in ("finish", "error"):
                            return
            if wire is None:
                yield {"type": "error", "kind": "incomplete", "message": "the stream had no chunks"}
                return
            for event in wire.end():
                yield event
        except SHAPE_ERRORS as exc:
            message = f"unexpected chunk: {type(exc).__name__}: {exc}"
            yield {"type": "error", "kind": "server", "message": message}
        except Exception as exc:  # the SDK's own failure (HTTP status, lost connection)
            yield {"type": "error", "kind": _kind(exc), "message": f"{type(exc).__name__}: {exc}"}

    def __repr__(self) -> str:
        return f"<SDKStreamProvider {self.name} over {type(self.source).__name__}>"


def _kind(exc: Exception) -> str:
    """The error kind of an SDK's exception: its HTTP status, else the error code it read
    from an error event in the stream (the OpenAI SDK raises those as ``APIError``)."""
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        return kind_for_status(status)
    code = getattr(exc, "code", None) or getattr(exc, "type", None)
    return kind_for_code(code) if isinstance(code, str) else "server"


def _not_understood(raw: Any, reason: str) -> Event:
    return {
        "type": "unknown",
        "source": "sdk",
        "raw": raw if isinstance(raw, dict) else repr(raw)[:2000],
        "reason": reason,
    }


async def _chunks(source: Any) -> AsyncGenerator[Any, None]:
    """The stream's chunks; a sync stream is read on a thread so the event loop stays free."""
    if hasattr(source, "__aiter__"):
        try:
            async for chunk in source:
                yield chunk
        finally:
            close = getattr(source, "close", None) or getattr(source, "aclose", None)
            if callable(close):
                with contextlib.suppress(Exception):
                    closing = close()
                    if hasattr(closing, "__await__"):
                        await closing
        return
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()
    stop = threading.Event()

    def post(item: Any) -> None:
        if not stop.is_set():  # once the reader is gone, its loop may be closed too
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(queue.put_nowait, item)

    def pump() -> None:
        try:
            for chunk in source:
                if stop.is_set():
                    return
                post(chunk)
        except BaseException as exc:  # handed to the reader, who raises it
            post(exc)
        post(_DONE)

    thread = threading.Thread(target=pump, name="streamwidget-sdk-stream", daemon=True)
    thread.start()
    try:
        while True:
            item = await queue.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        close = getattr(source, "close", None)
        if callable(close) and thread.is_alive():
            with contextlib.suppress(Exception):
                close()  # unblocks a read waiting for the network


__all__ = ["SDKStreamProvider", "as_dict", "detect"]
