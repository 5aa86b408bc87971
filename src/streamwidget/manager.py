"""The manager runs streams: provider events in, store writes out, one terminal state each.

A stream is an asyncio task on the running loop (in a notebook: the kernel's loop, so the
kernel keeps handling comm messages and Stop works). Outside a loop (scripts, tests) streams
run on one background loop thread; :meth:`StreamHandle.wait` blocks for the result there.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
import time
from collections.abc import Generator
from typing import Any

from .document import Document
from .events import is_terminal, validate_event
from .providers.base import ChatRequest, Provider
from .store import Store, StoreError, default_store


class StreamHandle:
    """A running (or finished) stream: ``.id``, ``await handle`` → final :class:`Document`,
    ``.cancel()``, and ``.wait()`` for code outside an event loop."""

    def __init__(
        self,
        stream_id: str,
        store: Store,
        task: asyncio.Task[Document] | concurrent.futures.Future[Document],
        loop: asyncio.AbstractEventLoop,
    ):
        self.id = stream_id
        self.store = store
        self._task = task
        self._loop = loop

    @property
    def document(self) -> Document:
        """The document now (a copy)."""
        return self.store.get(self.id)

    @property
    def status(self) -> str:
        return self.document.status

    def done(self) -> bool:
        return self._task.done()

    def cancel(self) -> None:
        """Stop the stream: the provider's request is closed, the partial text is kept."""
        if isinstance(self._task, asyncio.Task):
            self._loop.call_soon_threadsafe(self._task.cancel)
        else:
            self._task.cancel()

    def __await__(self) -> Generator[Any, None, Document]:
        return self._result().__await__()

    async def _result(self) -> Document:
        task = self._task
        try:
            if isinstance(task, asyncio.Task):
                return await task
            return await asyncio.wrap_future(task)
        except asyncio.CancelledError:
            if task.cancelled():  # cancelled before it ran: the done-callback ended it
                return self.store.get(self.id)
            raise

    def wait(self, timeout: float | None = None) -> Document:
        """Block until the stream ends (scripts and tests; in a notebook use ``await``)."""
        if isinstance(self._task, asyncio.Task):
            raise RuntimeError(
                "this stream runs on the notebook's event loop; blocking would "
                "freeze it. Use `await handle` instead of handle.wait()."
            )
        try:
            return self._task.result(timeout)
        except concurrent.futures.CancelledError:
            return self.store.get(self.id)

    def __repr__(self) -> str:
        state = "done" if self.done() else "running"
        return f"<StreamHandle {self.id} {state}>"


def start(
    provider: Provider,
    *,
    request: ChatRequest | None = None,
    store: Store | None = None,
    conversation_id: str | None = None,
    header: dict[str, Any] | None = None,
) -> StreamHandle:
    """Start streaming ``provider``'s reply to ``request`` into ``store`` (default store)."""
    store = store if store is not None else default_store()
    request = request or ChatRequest()
    stream_id = store.create_stream(
        provider=provider.name,
        model=provider.model,
        request=provider.describe(request),
        conversation_id=conversation_id,
        header=header,
    )
    coro = run_stream(provider, request, store, stream_id)
    task: asyncio.Task[Document] | concurrent.futures.Future[Document]
    try:
        loop = asyncio.get_running_loop()
        task = loop.create_task(coro)
    except RuntimeError:
        loop = _background_loop()
        task = asyncio.run_coroutine_threadsafe(coro, loop)
    task.add_done_callback(lambda _: _end_if_open(store, stream_id))
    return StreamHandle(stream_id, store, task, loop)


def _end_if_open(store: Store, stream_id: str) -> None:
    """A task cancelled before its first step never ran its own handlers: end it here."""
    with contextlib.suppress(StoreError, KeyError):
        if not store.get(stream_id).done:
            store.append(stream_id, {"type": "cancelled", "t": 0.0})


async def run_stream(
    provider: Provider, request: ChatRequest, store: Store, stream_id: str
) -> Document:
    """Drive one stream to exactly one terminal event; never lose what was streamed."""
    started = time.perf_counter()

    def write(event: dict[str, Any]) -> None:
        event = {**event, "t": round(time.perf_counter() - started, 4)}
        store.append(stream_id, event)

    ended = False
    try:
        async with contextlib.aclosing(provider.stream(request)) as events:
            async for event in events:
                write(validate_event(event, require_t=False))
                if is_terminal(event):
                    ended = True
                    break
        if not ended:
            ended = True
            write(
                {
                    "type": "error",
                    "kind": "incomplete",
                    "message": f"{provider.name} stopped sending before the reply was finished "
                    "(no end marker); the text so far is kept.",
                }
            )
    except asyncio.CancelledError:
        ended = True
        write({"type": "cancelled"})
    except StoreError as exc:
        ended = True
        _end_in_memory(store, stream_id, write, "internal", str(exc))
    except Exception as exc:  # a provider bug must still end the stream cleanly
        ended = True
        _end_in_memory(
            store, stream_id, write, "internal", f"{type(exc).__name__} in {provider.name}: {exc}"
        )
    finally:
        if not ended:  # e.g. KeyboardInterrupt, GeneratorExit
            _end_in_memory(store, stream_id, write, "internal", "the stream was torn down")
    return store.get(stream_id)


def _end_in_memory(store: Store, stream_id: str, write: Any, kind: str, message: str) -> None:
    """Record the error; if the store cannot be written, the document in memory still ends."""
    with contextlib.suppress(StoreError):
        write({"type": "error", "kind": kind, "message": message})
    with contextlib.suppress(StoreError):
        store.flush()


_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()


def _background_loop() -> asyncio.AbstractEventLoop:
    """One daemon thread with an event loop, for streams started outside any loop."""
    global _loop
    with _loop_lock:
        if _loop is None or _loop.is_closed():
            _loop = asyncio.new_event_loop()
            thread = threading.Thread(
                target=_loop.run_forever, name="streamwidget-loop", daemon=True
            )
            thread.start()
        return _loop
