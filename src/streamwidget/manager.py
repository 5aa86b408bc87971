"""The manager runs streams: provider events in, store writes out, one terminal state each.

A stream is an asyncio task on the running loop (in a notebook: the kernel's loop, so the
kernel keeps handling comm messages and Stop works). Outside a loop (scripts, tests) streams
run on one background loop thread; :meth:`StreamHandle.wait` blocks for the result there.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import threading
from collections.abc import Callable, Generator, Iterable
from typing import Any

from .document import Document
from .providers.base import ChatRequest, Provider
from .store import Store, StoreError, default_store
from .stream_run import StreamRun
from .tools import Tool, toolbox


class StreamHandle:
    """A running (or finished) stream: ``.id``, ``await handle`` → final :class:`Document`,
    ``.cancel()``, and ``.wait()`` for code outside an event loop."""

    def __init__(
        self,
        stream_id: str,
        store: Store,
        task: asyncio.Task[Document] | concurrent.futures.Future[Document],
        loop: asyncio.AbstractEventLoop,
        run: StreamRun | None = None,
    ):
        self.id = stream_id
        self.store = store
        self._task = task
        self._loop = loop
        self._run = run

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
        if self._run is not None:  # the run ends itself, then the task or future completes
            self._loop.call_soon_threadsafe(self._run.cancel)
        elif isinstance(self._task, asyncio.Task):
            self._loop.call_soon_threadsafe(self._task.cancel)
        else:
            self._task.cancel()

    def approve(self, call_id: str) -> None:
        """Let a tool call that ``requires_approval`` run."""
        self._decide(call_id, True)

    def deny(self, call_id: str) -> None:
        """Refuse a tool call that ``requires_approval``; the model is told it was denied."""
        self._decide(call_id, False)

    def _decide(self, call_id: str, approve: bool) -> None:
        if self._run is None:
            raise RuntimeError("this stream has no tool loop")
        self._loop.call_soon_threadsafe(self._run.decide, call_id, approve)

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


def as_request(request: ChatRequest | str | list[dict[str, Any]] | None) -> ChatRequest:
    """A :class:`ChatRequest` from what ``start`` accepts."""
    if request is None:
        return ChatRequest()
    if isinstance(request, ChatRequest):
        return request
    if isinstance(request, str):
        return ChatRequest(messages=[{"role": "user", "content": request}])
    if isinstance(request, list) and all(isinstance(m, dict) for m in request):
        return ChatRequest(messages=list(request))
    raise TypeError(
        "request= takes a ChatRequest, a list of message dicts ({'role': ..., 'content': ...}) "
        f"or a string, not {type(request).__name__}"
    )


def start(
    provider: Provider | str | Any,
    *,
    request: ChatRequest | str | list[dict[str, Any]] | None = None,
    store: Store | None = None,
    conversation_id: str | None = None,
    header: dict[str, Any] | None = None,
    tools: Iterable[Tool | Callable[..., Any] | dict[str, Any]] | None = None,
    max_steps: int = 8,
) -> StreamHandle:
    """Start streaming ``provider``'s reply to ``request`` into ``store`` (default store).

    With ``tools``, the manager runs the tool loop: the model asks, the tool runs, the result
    goes back, the model continues — at most ``max_steps`` model responses, all in one
    document. Replays never run tools: their results come from the recording. Tools given as
    JSON specs (dicts ``{"name", "description", "parameters"}``) are sent to the model but not
    run: with no executable tool, a reply that calls tools ends after the model's step with
    finish reason ``tool_calls`` and its calls ``pending`` for the caller. Calls the provider's
    server runs itself (web search, code execution) are recorded, never run here.

    ``request`` is a :class:`ChatRequest`, a list of messages, or a string (one user message).
    """
    if not isinstance(provider, Provider):  # "openai:gpt-4o-mini", or an SDK's stream
        from .providers.models import resolve_model

        provider = resolve_model(provider)
    store = store if store is not None else default_store()
    request = as_request(request)
    stream_id = store.create_stream(
        provider=provider.name,
        model=provider.model,
        request=provider.describe(request),
        conversation_id=conversation_id,
        header=header,
    )
    given = list(tools or ())
    specs = [t for t in given if isinstance(t, dict)]  # JSON specs: the caller runs them
    if specs:
        request = ChatRequest(request.messages, [*request.tools, *specs], request.options)
    executable = toolbox([t for t in given if not isinstance(t, dict)])
    run = StreamRun(provider, request, store, stream_id, executable, max_steps)
    coro = run.run()
    task: asyncio.Task[Document] | concurrent.futures.Future[Document]
    try:
        loop = asyncio.get_running_loop()
        # An empty context: in a kernel, what the stream sends is then attributed to the cell
        # running at that moment, not to the cell that started it (tools such as nbconvert
        # only listen to the running cell).
        task = contextvars.Context().run(loop.create_task, coro)
    except RuntimeError:
        loop = _background_loop()
        task = asyncio.run_coroutine_threadsafe(coro, loop)
    task.add_done_callback(lambda _: _end_if_open(store, stream_id))
    return StreamHandle(stream_id, store, task, loop, run)


def start_replay(recording: Any, *, speed: float = 1.0, store: Store | None = None) -> StreamHandle:
    """Replay a recording (bundled name, path, or :class:`~streamwidget.Recording`) as a new
    stream, the same path a live model takes; its title and description go with it."""
    from .providers.replay import ReplayProvider

    provider = ReplayProvider(recording, speed=speed)
    header = {k: v for k, v in provider.recording.header.items() if k in ("title", "description")}
    return start(provider, store=store, header=header)


def _end_if_open(store: Store, stream_id: str) -> None:
    """A task cancelled before its first step never ran its own handlers: end it here."""
    with contextlib.suppress(StoreError, KeyError):
        if not store.get(stream_id).done:
            store.append(stream_id, {"type": "cancelled", "t": 0.0})


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
