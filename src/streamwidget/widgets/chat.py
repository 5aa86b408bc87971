"""Chat: a conversation with a model, live in a notebook, kept in the store.

One anywidget shows the whole conversation (each anywidget instance ships the front-end
module, so there is never one widget per message). Sync:

- ``turns``: the message list — user text; per assistant turn its stream id, status, tool
  calls, error and meta, and its final text once the turn has ended;
- ``live``: status, tool calls, error and meta of the turn that is streaming, sent at most
  once per frame;
- the streaming text as deltas ``{"kind": "delta", "field", "at", "text", "message_id"}``,
  coalesced to one frame per ``frame_interval``; ``{"kind": "resync", "message_id"}`` gets a
  ``snapshot`` back.

Data flows one way: the chat asks the manager for a reply and follows the store for display.
The conversation (messages, and each reply's final document) lives in the store, so a chat
reopened after a kernel restart continues where it left off.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterable
from typing import Any

import traitlets

from ..document import Document
from ..manager import StreamHandle, start
from ..providers.base import ChatRequest, Provider
from ..providers.demo import demo_model
from ..store import Change, Store, default_store
from ..tools import Tool, toolbox
from . import static
from .base import WithFallback
from .stream_view import utf16_len

FIELDS = ("text", "reasoning")
TITLE_CHARS = 48
#: The saved output's markdown shows the conversation's last turns (it is re-sent per reply).
FALLBACK_TURNS = 20
DEFAULT_TITLE = "New chat"
_ARGS = "model, store=, tools=, system=, conversation_id=, max_steps=, frame_interval=, layout="


def resolve(model: Any) -> Provider:
    """A provider for ``model``: the demo models ("replay:demo", "demo:tools"), any spec
    :func:`~streamwidget.providers.models.resolve_model` knows, or a ready provider."""
    provider = demo_model(model)
    if provider is not None:
        return provider
    from ..providers.models import resolve_model

    return resolve_model(model)


def title_for(text: str) -> str:
    """A conversation title: the first user message on one line, cut to ``TITLE_CHARS``."""
    line = " ".join(text.split())
    return line if len(line) <= TITLE_CHARS else line[: TITLE_CHARS - 1].rstrip() + "…"


def state_of(doc: Document) -> dict[str, Any]:
    """The small state of a reply: what ``live`` carries and every turn has."""
    meta = ("model", "provider", "usage", "finish_reason", "first_token_t", "last_t")
    return {
        "stream_id": doc.stream_id,
        "status": doc.status,
        "tool_calls": [call.to_dict() for call in doc.tool_calls],
        "error": doc.error,
        "meta": {name: getattr(doc, name) for name in meta},
    }


def assistant_turn(message_id: str, doc: Document, *, final: bool = True) -> dict[str, Any]:
    """An assistant turn as the front end gets it; the text only once it is final."""
    return {
        "id": message_id,
        "role": "assistant",
        **state_of(doc),
        "text": doc.text if final else "",
        "reasoning": doc.reasoning if final else "",
    }


class Chat(WithFallback):
    """A chat with ``model`` (default: the keyless demo model), drivable from Python too:
    ``handle = chat.send("...")``, then ``await handle`` for the final document."""

    VIEW = "chat"

    conversation_id = traitlets.Unicode("").tag(sync=True)
    title = traitlets.Unicode(DEFAULT_TITLE).tag(sync=True)
    turns = traitlets.List(traitlets.Dict()).tag(sync=True)
    live = traitlets.Dict().tag(sync=True)
    busy = traitlets.Bool(False).tag(sync=True)
    conversations = traitlets.List(traitlets.Dict()).tag(sync=True)
    model_name = traitlets.Unicode("").tag(sync=True)
    #: A problem to show above the input (e.g. the model could not be reached).
    notice = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        model: str | dict[str, Any] | Provider = "replay:demo",
        *,
        store: Store | None = None,
        tools: Iterable[Tool | Callable[..., Any]] = (),
        system: str | None = None,
        conversation_id: str | None = None,
        max_steps: int = 8,
        frame_interval: float = 1 / 30,
        **kwargs: Any,
    ):
        unknown = set(kwargs) - {"layout"}
        if unknown:
            raise TypeError(
                f"Chat() got unexpected argument(s): {', '.join(sorted(unknown))}; expected {_ARGS}"
            )
        if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
            raise ValueError(f"max_steps must be an integer >= 1, got {max_steps!r}")
        provider = resolve(model)
        self.tools = toolbox(tools)
        super().__init__(**kwargs)
        self.store = store if store is not None else default_store()
        self.provider = provider
        self.model_name = str(provider.model)
        self.system = system
        self.max_steps = max_steps
        self.frame_interval = frame_interval
        #: The latest reply's stream (``await chat.handle`` for its final document).
        self.handle: StreamHandle | None = None
        self._live_id: str | None = None
        self._document: Document | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._last_frame = 0.0
        self._pending = dict.fromkeys(FIELDS, "")
        self._offsets = dict.fromkeys(FIELDS, 0)
        self._state_dirty = False
        self.on_msg(self._on_front_end_message)
        if conversation_id:
            self.open(conversation_id)
        else:
            self.new_chat()

    # -- the Python API ---------------------------------------------------------------------

    @property
    def model(self) -> Provider:
        return self.provider

    @model.setter
    def model(self, model: str | dict[str, Any] | Provider) -> None:
        """Answer the next turns with another model (the conversation goes on)."""
        self.provider = resolve(model)
        self.model_name = str(self.provider.model)

    def send(self, text: Any, buffers: Any = None) -> StreamHandle:  # type: ignore[override]
        """Send a user message; returns the reply's :class:`StreamHandle` (``await`` it).

        (A ``dict`` is sent to the front end as a custom message, as ``Widget.send`` does.)
        """
        if isinstance(text, dict):
            return super().send(text, buffers)  # type: ignore[func-returns-value]
        text = str(text).strip()
        if not text:
            raise ValueError("Chat.send() needs a non-empty message")
        self._check_idle()
        history = self._history()
        if not any(turn["role"] == "user" for turn in self.turns):
            self.title = title_for(text)
            self.store.rename_conversation(self.conversation_id, self.title)
        message_id = self.store.add_message(self.conversation_id, "user", text)
        self.turns = [*self.turns, {"id": message_id, "role": "user", "text": text}]
        return self._reply([*history, {"role": "user", "content": text}])

    def retry(self) -> StreamHandle:
        """Regenerate the last reply: a new stream for the same user message. The old stream
        stays in the store; the chat shows the new one."""
        self._check_idle()
        last = self.turns[-1] if self.turns else None
        if last is None or last["role"] != "assistant":
            raise RuntimeError("nothing to retry: the conversation does not end with a reply")
        return self._reply(self._history(before=last["id"]), message_id=last["id"])

    def stop(self) -> None:
        """Cancel the reply that is streaming; it ends ``cancelled`` with its text kept."""
        if self.handle is not None and not self.handle.done():
            self.handle.cancel()

    def new_chat(self) -> str:
        """Start a new conversation (a reply still streaming is stopped); returns its id."""
        self._leave()
        if self.conversation_id and not self.turns:
            return self.conversation_id  # already a fresh chat: keep the store tidy
        conversation_id = self.store.create_conversation(DEFAULT_TITLE)
        self._show(conversation_id, DEFAULT_TITLE, [])
        return conversation_id

    def open(self, conversation_id: str | None = None) -> None:
        """Show a stored conversation (its final documents); sending continues it.

        (Without an id this is ``Widget.open``, which opens the widget's comm.)
        """
        if conversation_id is None:
            return super().open()
        conversation = self.store.conversation(conversation_id)  # KeyError if unknown
        self._leave()
        turns = []
        for message in self.store.messages(conversation_id):
            if message["role"] == "user":
                turns.append({"id": message["id"], "role": "user", "text": message["content"]})
            elif message["role"] == "assistant" and message["stream_id"]:
                doc = self.store.get(message["stream_id"])
                turns.append(assistant_turn(message["id"], doc))
        self._show(conversation_id, conversation["title"] or DEFAULT_TITLE, turns)

    # -- replies ---------------------------------------------------------------------------

    def _check_idle(self) -> None:
        if self.busy:
            raise RuntimeError(
                "a reply is still streaming: call chat.stop() first, or wait for it "
                "(`await chat.handle`)"
            )

    def _history(self, before: str | None = None) -> list[dict[str, Any]]:
        """The conversation so far as model messages, read from the store: user text, and
        each reply's final document (its finished tool calls, then its text)."""
        messages: list[dict[str, Any]] = []
        if self.system:
            messages.append({"role": "system", "content": self.system})
        for message in self.store.messages(self.conversation_id):
            if message["id"] == before:
                break
            if message["role"] == "user":
                messages.append({"role": "user", "content": message["content"]})
            elif message["role"] == "assistant" and message["stream_id"]:
                messages += _reply_messages(self.store.get(message["stream_id"]))
        return messages

    def _reply(self, messages: list[dict[str, Any]], message_id: str | None = None) -> StreamHandle:
        handle = start(
            self.provider,
            request=ChatRequest(messages=messages),
            store=self.store,
            conversation_id=self.conversation_id,
            tools=list(self.tools.values()),
            max_steps=self.max_steps,
        )
        doc = Document(handle.id, model=self.provider.model, provider=self.provider.name)
        if message_id is None:
            message_id = self.store.add_message(
                self.conversation_id, "assistant", stream_id=handle.id
            )
            turns = [*self.turns, assistant_turn(message_id, doc, final=False)]
        else:
            self.store.set_message_stream(message_id, handle.id)
            turns = [
                assistant_turn(message_id, doc, final=False) if t["id"] == message_id else t
                for t in self.turns
            ]
        self.handle = handle
        with self.hold_sync():
            self.turns = turns
            self.busy = True
            self.notice = ""
        self._follow(message_id, handle.id)
        return handle

    # -- store → widget (like StreamView: deltas per frame, small state as traits) ---------

    def _follow(self, message_id: str, stream_id: str) -> None:
        self._live_id = message_id
        document, self._unsubscribe = self.store.follow(stream_id, self._on_change)
        self._document = document
        self._offsets = dict.fromkeys(FIELDS, 0)
        self._pending = {name: getattr(document, name) for name in FIELDS}
        self._state_dirty = True
        if document.done:
            self._finish(document)
        else:
            self._schedule_frame()

    def _on_change(self, change: Change) -> None:
        if self._live_id is None:
            return
        self._document = change.document
        event = change.event
        if event is None:
            return  # a commit: nothing new to show
        if event.get("type") in FIELDS:
            self._pending[event["type"]] += event["text"]
            if self.live.get("status") != change.document.status:
                self._state_dirty = True  # the first token moves the status to streaming
        else:
            self._state_dirty = True
        if change.document.done:
            self._finish(change.document)
        else:
            self._schedule_frame()

    def _schedule_frame(self) -> None:
        if self._timer is not None:
            return
        wait = self.frame_interval - (time.monotonic() - self._last_frame)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (plain scripts): send now if a frame is due
            if wait <= 0:
                self._send_frame()
            return
        self._timer = loop.call_later(max(wait, 0.0), self._send_frame)

    def _send_frame(self) -> None:
        self._timer = None
        self._last_frame = time.monotonic()
        if self._live_id is None or self._document is None:
            return
        for name in FIELDS:
            piece = self._pending[name]
            if piece:
                super().send(
                    {
                        "kind": "delta",
                        "field": name,
                        "at": self._offsets[name],
                        "text": piece,
                        "message_id": self._live_id,
                    }
                )
                self._offsets[name] += utf16_len(piece)
                self._pending[name] = ""
        if self._state_dirty:
            self._state_dirty = False
            self.live = {"message_id": self._live_id, **state_of(self._document)}

    def _finish(self, doc: Document) -> None:
        """The reply ended: last frame out, the final document into ``turns``, stop following."""
        if self._timer is not None:
            self._timer.cancel()
        self._state_dirty = False
        self._send_frame()
        message_id = self._live_id
        self._unfollow()
        turns = [assistant_turn(t["id"], doc) if t["id"] == message_id else t for t in self.turns]
        with self.hold_sync():
            self.turns = turns
            self.live = {}
            self.busy = False
        self._refresh_conversations()
        self._update_displays()

    def _unfollow(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self._live_id = None

    def _leave(self) -> None:
        """Before showing another conversation: stop the reply that is streaming here."""
        if self._live_id is not None:
            self.stop()
            self._unfollow()

    def _show(self, conversation_id: str, title: str, turns: list[dict[str, Any]]) -> None:
        with self.hold_sync():
            self.conversation_id = conversation_id
            self.title = title
            self.turns = turns
            self.live = {}
            self.busy = False
            self.notice = ""
        self._refresh_conversations()
        self._update_displays()

    def _refresh_conversations(self) -> None:
        self.conversations = [
            {
                "id": c["id"],
                "title": c["title"] or DEFAULT_TITLE,
                "updated_at": c["updated_at"].isoformat() if c["updated_at"] else "",
                "messages": c["messages"],
            }
            for c in self.store.conversations(limit=50)
            if c["messages"] or c["id"] == self.conversation_id
        ]

    # -- front end → widget ----------------------------------------------------------------

    def _on_front_end_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if not isinstance(content, dict):
            return
        kind = content.get("kind")
        try:
            if kind == "resync":
                self._snapshot(content.get("message_id"))
            elif kind == "send":
                self.send(str(content.get("text", "")))
            elif kind == "stop":
                self.stop()
            elif kind == "retry":
                self.retry()
            elif kind == "new_chat":
                self.new_chat()
            elif kind == "open":
                self.open(str(content.get("conversation_id", "")))
            elif kind in ("approve", "deny"):
                if content.get("message_id") == self._live_id and self.handle is not None:
                    decide = self.handle.approve if kind == "approve" else self.handle.deny
                    decide(str(content.get("call_id", "")))
            elif kind == "dismiss":
                self.notice = ""
        except Exception as exc:  # the person at the widget should see why nothing happened
            self.notice = ""  # the same problem twice is still news
            self.notice = f"{type(exc).__name__}: {exc}"

    def _snapshot(self, message_id: Any) -> None:
        if message_id == self._live_id and self._document is not None:
            doc = self._document
        else:
            turn = next((t for t in self.turns if t["id"] == message_id), None)
            if turn is None or turn["role"] != "assistant":
                return
            doc = Document(turn["stream_id"], text=turn["text"], reasoning=turn["reasoning"])
        super().send(
            {
                "kind": "snapshot",
                "message_id": message_id,
                "text": doc.text,
                "reasoning": doc.reasoning,
            }
        )

    def _fallback(self) -> dict[str, str]:
        """The conversation's last turns as safe markdown, for where no front end runs."""
        shown = self.turns[-FALLBACK_TURNS:]
        earlier = len(self.turns) - len(shown)
        count = f"{len(self.turns):,} message{'s' if len(self.turns) != 1 else ''}"
        return {
            "text/plain": f"Chat({self.title!r}, {count}, model={self.model_name!r})",
            "text/markdown": static.chat_markdown(self.title, shown, earlier),
        }

    def close(self) -> None:
        # also runs from __del__ of a half-built chat (bad constructor arguments)
        if getattr(self, "_unsubscribe", None) is not None or getattr(self, "_timer", None):
            self._unfollow()
        super().close()

    def __repr__(self) -> str:
        state = "streaming" if self.busy else "idle"
        return (
            f"Chat({self.model_name!r}, conversation_id={self.conversation_id!r}, "
            f"turns={len(self.turns)}, {state})"
        )


def _reply_messages(doc: Document) -> list[dict[str, Any]]:
    """One stored reply as model messages: finished tool calls with their results, then the
    text (the text around the calls is one string in the document)."""
    calls = [
        c
        for c in doc.tool_calls
        if c.status in ("done", "error", "denied") and c.arguments is not None
    ]
    messages: list[dict[str, Any]] = []
    if calls:
        messages.append(
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {"id": c.id, "name": c.name, "arguments": c.arguments} for c in calls
                ],
            }
        )
        for c in calls:
            if c.status == "done":
                content = c.result if isinstance(c.result, str) else json.dumps(c.result)
            elif c.status == "denied":  # what the manager told the model at the time
                content = "The user denied this tool call."
            else:
                content = f"Error: {c.error or c.status}"
            messages.append(
                {"role": "tool", "tool_call_id": c.id, "name": c.name, "content": content}
            )
    if doc.text:
        messages.append({"role": "assistant", "content": doc.text})
    return messages
