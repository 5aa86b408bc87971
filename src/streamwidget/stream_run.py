"""One stream's run: model steps, the tool calls between them (validated, approved when a tool
asks for it, run), and exactly one terminal event; :mod:`streamwidget.manager` starts it and
hands out its :class:`~streamwidget.manager.StreamHandle`."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

from .document import Document
from .events import TEXT_FIELDS, is_terminal, validate_event
from .providers.base import ChatRequest, Provider
from .store import Store, StoreError
from .tools import Tool, ToolArgumentError

#: Longest stretch (seconds) a stream keeps the event loop without letting others run.
YIELD_EVERY = 0.01


class StreamRun:
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
        self._task: asyncio.Task[Any] | None = None
        self._cancel_asked = False

    def cancel(self) -> None:
        """Stop the run; called on its loop. The step running is cancelled and the run ends
        itself (one ``cancelled`` event, the text so far kept), even before it started."""
        self._cancel_asked = True
        if self._task is not None:
            self._task.cancel()

    def write(self, event: dict[str, Any]) -> None:
        self.store.append(
            self.stream_id, {**event, "t": round(time.perf_counter() - self.started, 4)}
        )

    async def run(self) -> Document:
        self._task = asyncio.current_task()
        ended = False
        try:
            if self._cancel_asked:
                raise asyncio.CancelledError
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
