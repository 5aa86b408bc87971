"""Chat: a conversation with a model, live in a notebook, kept in the store.

One anywidget shows the whole conversation (never one widget per message). What crosses iopub
per reply is what changed, whatever the length of the conversation:

- custom messages carry the turns (:mod:`.chat_wire`): ``window``, ``turn`` (a reply's final
  state comes without its text, with its UTF-16 lengths in ``meta``, since the front end built
  the text from the deltas and asks for a ``snapshot`` if it does not match), ``older``;
- ``live``: status, tool calls, error and meta of the reply that is streaming, at most once
  per frame; its text as deltas ``{"kind": "delta", "field", "at", "text", "message_id"}``;
  ``{"kind": "resync", "message_id"}`` gets a ``snapshot`` back;
- ``recent``: the last ``WINDOW`` turns with their final text, for whoever has not spoken
  (nbclient saving a notebook) and for a page that loads later (it gets the widget's state).
  Once a front end has spoken (``hello``), it is no longer sent: the front end keeps its own
  copy, which JupyterLab saves with the notebook.

The model's context for the next request is kept incrementally (:mod:`.chat_log`). Data flows
one way: the chat asks the manager for a reply and follows the store for display. The
conversation lives in the store, so a chat reopened after a kernel restart continues.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import traitlets

from ..document import Document
from ..manager import StreamHandle, start
from ..providers.base import ChatRequest, Provider
from ..providers.demo import demo_model
from ..store import Store, default_store
from ..tools import Tool, toolbox
from . import static
from .base import WithFallback
from .chat_live import LiveReply
from .chat_log import ConversationLog, assistant_turn
from .chat_wire import (
    DEFAULT_TITLE,
    WINDOW,
    conversation_list,
    older_message,
    snapshot_message,
    turn_message,
    window_message,
)

TITLE_CHARS = 48
#: The saved output's markdown shows the conversation's last turns (it is re-sent per reply).
FALLBACK_TURNS = 20
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


class Chat(WithFallback):
    """A chat with ``model`` (default: the keyless demo model), drivable from Python too:
    ``handle = chat.send("...")``, then ``await handle`` for the final document."""

    VIEW = "chat"

    conversation_id = traitlets.Unicode("").tag(sync=True)
    title = traitlets.Unicode(DEFAULT_TITLE).tag(sync=True)
    #: The last ``WINDOW`` turns (see the module docstring: sent until a front end speaks).
    recent = traitlets.List(traitlets.Dict()).tag(sync=True)
    #: How many turns the conversation has (the front end shows ``recent`` and pages before).
    turn_count = traitlets.Int(0).tag(sync=True)
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
        self._log = ConversationLog(self.store, "", system)
        #: Set by the first message from a front end: ``recent`` is then its business.
        self._front_end_seen = False
        self._live: LiveReply | None = None
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

    @property
    def turns(self) -> list[dict[str, Any]]:
        """Every turn of the conversation (read from the store where not cached: for long
        conversations, ``chat.recent`` holds the last ones)."""
        return self._log.turns()

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
        if not any(row["role"] == "user" for row in self._log.rows):
            self.title = title_for(text)
            self.store.rename_conversation(self.conversation_id, self.title)
        self._log.add_user(text)
        self._send_turn(len(self._log) - 1)  # the user's message shows before any reading
        return self._reply(self._log.context())

    def retry(self) -> StreamHandle:
        """Regenerate the last reply: a new stream for the same user message. The old stream
        stays in the store; the chat shows the new one."""
        self._check_idle()
        last = self._log.rows[-1] if self._log.rows else None
        if last is None or last["role"] != "assistant":
            raise RuntimeError("nothing to retry: the conversation does not end with a reply")
        return self._reply(self._log.context(before=last["id"]), message_id=last["id"])

    def stop(self) -> None:
        """Cancel the reply that is streaming; it ends ``cancelled`` with its text kept."""
        if self.handle is not None and not self.handle.done():
            self.handle.cancel()

    def new_chat(self) -> str:
        """Start a new conversation (a reply still streaming is stopped); returns its id."""
        self._leave()
        if self.conversation_id and not len(self._log):
            return self.conversation_id  # already a fresh chat: keep the store tidy
        conversation_id = self.store.create_conversation(DEFAULT_TITLE)
        self._show(conversation_id, DEFAULT_TITLE)
        return conversation_id

    def open(self, conversation_id: str | None = None) -> None:
        """Show a stored conversation (its last turns); sending continues it.

        (Without an id this is ``Widget.open``, which opens the widget's comm.)
        """
        if conversation_id is None:
            return super().open()
        conversation = self.store.conversation(conversation_id)  # KeyError if unknown
        self._leave()
        self._show(conversation_id, conversation["title"] or DEFAULT_TITLE)

    # -- replies ---------------------------------------------------------------------------

    def _check_idle(self) -> None:
        if self.busy:
            raise RuntimeError(
                "a reply is still streaming: call chat.stop() first, or wait for it "
                "(`await chat.handle`)"
            )

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
            message_id = self._log.add_reply(handle.id)
        else:
            self._log.set_reply_stream(message_id, handle.id)
        self._log.live = (message_id, doc)
        self.handle = handle
        with self.hold_sync():
            self._send_turn(self._log.index(message_id) or 0)
            self.busy = True
            self.notice = ""
        self._follow(message_id, handle.id)
        return handle

    def _send_turn(self, index: int, turn: dict[str, Any] | None = None) -> None:
        """One turn to the front end (new, retried or ended), and the counters with it."""
        turn = turn if turn is not None else self._log.turn(index)
        super().send(turn_message(self.conversation_id, index, turn))
        self.turn_count = len(self._log)

    def _sync_recent(self) -> None:
        """``recent`` as of now (when a conversation opens and when a reply ends). Sent only
        while no front end has spoken (nbclient); kept current for a page that loads later
        and asks for the widget's state."""
        self.recent = self._log.recent(WINDOW)

    def _should_send_property(self, key: str, value: Any) -> bool:
        # a front end that said hello keeps its own `recent` (from the turn messages)
        if key == "recent" and getattr(self, "_front_end_seen", False):
            return False
        return super()._should_send_property(key, value)

    # -- store → widget (a LiveReply per reply: deltas per frame, small state in `live`) ----

    def _follow(self, message_id: str, stream_id: str) -> None:
        def on_state(state: dict[str, Any]) -> None:
            self.live = state

        live = LiveReply(
            self.store,
            message_id,
            stream_id,
            frame_interval=self.frame_interval,
            send=lambda msg: super(Chat, self).send(msg),
            on_state=on_state,
            on_end=lambda doc, lengths: self._finish(message_id, doc, lengths),
        )
        self._live = None if live.ended else live

    def _finish(self, message_id: str, doc: Document, lengths: dict[str, int]) -> None:
        """The reply ended: its final state to the front end, without its text (the front end
        has it from the deltas; ``lengths`` let it check)."""
        self._live = None
        self._log.finished(message_id, doc)
        turn = assistant_turn(message_id, doc, final=False)
        turn["meta"] = {**turn["meta"], **lengths}
        with self.hold_sync():
            self._send_turn(self._log.index(message_id) or 0, turn)
            self._sync_recent()
            self.live = {}
            self.busy = False
        self._refresh_conversations()
        self._update_displays()

    def _unfollow(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def _leave(self) -> None:
        """Before showing another conversation: stop the reply that is streaming here."""
        if self._live is not None:
            self.stop()
            self._unfollow()

    def _show(self, conversation_id: str, title: str) -> None:
        """Show a conversation: its rows read once, its last ``WINDOW`` turns sent."""
        self._log = ConversationLog(self.store, conversation_id, self.system)
        with self.hold_sync():
            self.conversation_id = conversation_id
            self.title = title
            self.turn_count = len(self._log)
            self._sync_recent()
            self.live = {}
            self.busy = False
            self.notice = ""
        self._send_window()
        self._refresh_conversations()
        self._update_displays()

    def _send_window(self) -> None:
        super().send(window_message(self._log, self.conversation_id))

    def _refresh_conversations(self) -> None:
        self.conversations = conversation_list(self.store, self.conversation_id)

    # -- front end → widget ----------------------------------------------------------------

    def _on_front_end_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if not isinstance(content, dict):
            return
        kind = content.get("kind")
        try:
            if kind == "hello":  # a front end connected: the window, and no more `recent`
                self._front_end_seen = True
                self._send_window()
            elif kind == "resync":
                self._snapshot(content.get("message_id"))
            elif kind == "older":
                older = older_message(self._log, self.conversation_id, content)
                if older is not None:
                    super().send(older)
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
                live = self._live
                if (
                    live is not None
                    and content.get("message_id") == live.message_id
                    and self.handle is not None
                ):
                    decide = self.handle.approve if kind == "approve" else self.handle.deny
                    decide(str(content.get("call_id", "")))
            elif kind == "dismiss":
                self.notice = ""
        except Exception as exc:  # the person at the widget should see why nothing happened
            self.notice = ""  # the same problem twice is still news
            self.notice = f"{type(exc).__name__}: {exc}"

    def _snapshot(self, message_id: Any) -> None:
        if self._live is not None and message_id == self._live.message_id:
            doc = self._live.document
        else:
            index = self._log.index(str(message_id))
            row = self._log.rows[index] if index is not None else None
            if row is None or row["role"] != "assistant":
                return
            doc = self._log.document(row["stream_id"])
        super().send(snapshot_message(message_id, doc))

    def _fallback(self) -> dict[str, str]:
        """The conversation's last turns as safe markdown, for where no front end runs."""
        shown = self._log.recent(FALLBACK_TURNS)
        total = len(self._log)
        earlier = total - len(shown)
        count = f"{total:,} message{'s' if total != 1 else ''}"
        return {
            "text/plain": f"Chat({self.title!r}, {count}, model={self.model_name!r})",
            "text/markdown": static.chat_markdown(self.title, shown, earlier),
        }

    def close(self) -> None:
        # also runs from __del__ of a half-built chat (bad constructor arguments)
        if getattr(self, "_live", None) is not None:
            self._unfollow()
        super().close()

    def __repr__(self) -> str:
        state = "streaming" if self.busy else "idle"
        return (
            f"Chat({self.model_name!r}, conversation_id={self.conversation_id!r}, "
            f"turns={len(self._log)}, {state})"
        )
