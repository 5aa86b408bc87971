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
import json
import threading
import time
from collections.abc import Callable, Generator, Iterable
from typing import Any

from .document import Document
from .events import TEXT_FIELDS, is_terminal, validate_event
from .providers.base import ChatRequest, Provider
from .store import Store, StoreError, default_store
from .tools import Tool, ToolArgumentError, toolbox


class StreamHandle:
    """A running (or finished) stream: ``.id``, ``await handle`` → final :class:`Document`,
    ``.cancel()``, and ``.wait()`` for code outside an event loop."""

    def __init__(
        self,
        stream_id: str,
        store: Store,
        task: asyncio.Task[Document] | concurrent.futures.Future[Document],
        loop: asyncio.AbstractEventLoop,
        run: _Run | None = None,
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
        if isinstance(self._task, asyncio.Task):
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
    run = _Run(provider, request, store, stream_id, executable, max_steps)
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


def _end_if_open(store: Store, stream_id: str) -> None:
    """A task cancelled before its first step never ran its own handlers: end it here."""
    with contextlib.suppress(StoreError, KeyError):
        if not store.get(stream_id).done:
            store.append(stream_id, {"type": "cancelled", "t": 0.0})


#: Longest stretch (seconds) a stream keeps the event loop without letting others run.
YIELD_EVERY = 0.01


class _Run:
    """One stream: model steps, tool calls between them, exactly one terminal event."""

    def __init__(
        self,
        provider: Provider,
        request: ChatRequest,
        store: Store,
        stream_id: str,
        tools: dict[str, Tool],
        max_steps: int,
    ):
        self.provider = provider
        self.request = request
        self.store = store
        self.stream_id = stream_id
        self.tools = tools
        self.max_steps = max_steps
        self.approvals: dict[str, asyncio.Future[bool]] = {}
        self.usage: dict[str, Any] = {}
        self.started = time.perf_counter()

    def write(self, event: dict[str, Any]) -> None:
        self.store.append(
            self.stream_id, {**event, "t": round(time.perf_counter() - self.started, 4)}
        )

    async def run(self) -> Document:
        ended = False
        try:
            await self._steps()
            ended = True
        except asyncio.CancelledError:
            ended = True
            self._write_usage()
            self.write({"type": "cancelled"})
        except StoreError as exc:
            ended = True
            self._end_in_memory("internal", str(exc))
        except Exception as exc:  # a provider or tool-loop bug must still end the stream
            ended = True
            self._end_in_memory("internal", f"{type(exc).__name__} in {self.provider.name}: {exc}")
        finally:
            if not ended:  # e.g. KeyboardInterrupt, GeneratorExit
                self._end_in_memory("internal", "the stream was torn down")
        return self.store.get(self.stream_id)

    async def _steps(self) -> None:
        messages = list(self.request.messages)
        specs = [t.spec() for t in self.tools.values()]
        specs += [t for t in self.request.tools if t.get("name") not in self.tools]
        for _ in range(self.max_steps):
            step = ChatRequest(messages=messages, tools=specs, options=self.request.options)
            text, calls, answered, finish = await self._model_step(step)
            if finish is None:
                return  # the step wrote its own terminal event
            # Replays carry their results; the server's own tools are never run here.
            to_run = [c for c in calls if c["id"] not in answered and not c.get("server")]
            if to_run and not self.tools:
                # No tool to run: the calls are the caller's (client-side tools).
                for call in to_run:
                    self.write({"type": "tool_status", "id": call["id"], "status": "pending"})
                finish = {**finish, "reason": "tool_calls"}
            if not to_run or not self.tools:
                self._write_usage()
                self.write(finish)
                return
            results = await asyncio.gather(*(self._call_tool(c) for c in to_run))
            messages.append({"role": "assistant", "content": text, "tool_calls": to_run})
            messages.extend(
                {"role": "tool", "tool_call_id": c["id"], "name": c["name"], "content": r}
                for c, r in zip(to_run, results)
            )
        self._write_usage()
        self.write(
            {
                "type": "error",
                "kind": "tool",
                "message": f"stopped after {self.max_steps} model steps that each asked "
                "for tools (raise max_steps if this is expected)",
            }
        )

    async def _model_step(
        self, request: ChatRequest
    ) -> tuple[str, list[dict[str, Any]], set[str], dict[str, Any] | None]:
        """Stream one model response. Returns its text, tool calls, the calls already answered
        in the stream, and the ``finish`` event (``None`` if the stream already ended)."""
        text, calls, answered = "", list[dict[str, Any]](), set[str]()
        names: dict[str, str] = {}
        server: set[str] = set()
        breathe = time.perf_counter() + YIELD_EVERY
        # providers are async generators (aclose), though the protocol says iterator
        async with contextlib.aclosing(self.provider.stream(request)) as events:  # type: ignore[type-var]
            async for event in events:
                if time.perf_counter() > breathe:
                    # A provider with data buffered never suspends: let the loop send frames
                    # and hear Stop now and then.
                    await asyncio.sleep(0)
                    breathe = time.perf_counter() + YIELD_EVERY
                kind = event.get("type") if type(event) is dict else None
                if kind not in TEXT_FIELDS or type(event.get("text")) is not str:
                    validate_event(event, require_t=False)  # text pieces are checked above
                    kind = event["type"]
                if kind == "usage":  # summed over steps, written once before the end
                    for key, value in event.items():
                        if isinstance(value, (int, float)) and not isinstance(value, bool):
                            self.usage[key] = self.usage.get(key, 0) + value
                    continue
                if kind == "finish":
                    return text, calls, answered, event
                if is_terminal(event):  # the usage so far goes first: it is not lost
                    self._write_usage()
                self.write(event)
                if kind == "text":
                    text += event["text"]
                elif kind == "tool_call_start":
                    names[event["id"]] = event["name"]
                    if event.get("server") is True:
                        server.add(event["id"])
                elif kind == "tool_call_end":
                    name = names.get(event["id"]) or event.get("name", "?")
                    call = {"id": event["id"], "name": name, "arguments": event["arguments"]}
                    if event["id"] in server:
                        call["server"] = True
                    calls.append(call)
                elif kind in ("tool_result", "tool_status"):  # answered, or left to the caller
                    answered.add(event["id"])
                elif is_terminal(event):
                    return text, calls, answered, None
        self._write_usage()
        self.write(
            {
                "type": "error",
                "kind": "incomplete",
                "message": f"{self.provider.name} stopped sending before the reply was "
                "finished (no end marker); the text so far is kept.",
            }
        )
        return text, calls, answered, None

    async def _call_tool(self, call: dict[str, Any]) -> str:
        """Run one tool call; return what the model is told. Never raises (but cancels)."""
        call_id, name = call["id"], call["name"]
        tool = self.tools.get(name)
        try:
            if tool is None:
                known = ", ".join(self.tools) or "none"
                raise ToolArgumentError(f"there is no tool named {name!r} (tools: {known})")
            arguments = tool.validate(call["arguments"])
        except ToolArgumentError as exc:
            self.write({"type": "tool_result", "id": call_id, "status": "error", "error": str(exc)})
            return f"Error: {exc}"
        if tool.requires_approval and not await self._approved(call_id):
            self.write(
                {
                    "type": "tool_result",
                    "id": call_id,
                    "status": "denied",
                    "error": "denied by the user",
                }
            )
            return "The user denied this tool call."
        self.write({"type": "tool_status", "id": call_id, "status": "running"})
        try:
            result = await tool.run(arguments)
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}"
            self.write({"type": "tool_result", "id": call_id, "status": "error", "error": message})
            return f"Error: {message}"
        result = json.loads(json.dumps(result, default=str))  # what is stored is what is sent
        self.write({"type": "tool_result", "id": call_id, "status": "done", "result": result})
        return result if isinstance(result, str) else json.dumps(result, ensure_ascii=False)

    async def _approved(self, call_id: str) -> bool:
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.approvals[call_id] = future
        self.write({"type": "tool_status", "id": call_id, "status": "pending_approval"})
        try:
            return await future
        finally:
            self.approvals.pop(call_id, None)

    def decide(self, call_id: str, approve: bool) -> bool:
        """Answer a pending approval (called on the stream's loop)."""
        future = self.approvals.get(call_id)
        if future is None or future.done():
            return False
        future.set_result(approve)
        return True

    def _write_usage(self) -> None:
        if self.usage:
            self.write({"type": "usage", **self.usage})
            self.usage = {}

    def _end_in_memory(self, kind: str, message: str) -> None:
        """Record the error; if the store cannot be written, the document in memory still ends."""
        with contextlib.suppress(StoreError):
            self.write({"type": "error", "kind": kind, "message": message})
        with contextlib.suppress(StoreError):
            self.store.flush()


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
