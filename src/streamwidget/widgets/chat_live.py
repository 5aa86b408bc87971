"""The reply a Chat is streaming: follows its stream in the store and sends, at most once per
frame, the new text as deltas and the small state (status, tool calls, error, meta) when it
changed. Like StreamView's sync, for one message of a conversation at a time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from ..document import Document
from ..store import Change, Store
from .chat_log import state_of
from .stream_view import utf16_len

FIELDS = ("text", "reasoning")


class LiveReply:
    """Follows stream ``stream_id`` (shown as message ``message_id``) until it ends.

    ``send(msg)`` gets each delta message; ``on_state(state)`` the small state when it
    changed; ``on_end(document, lengths)`` the final document and :attr:`lengths`, once, after
    the last frame.
    """

    def __init__(
        self,
        store: Store,
        message_id: str,
        stream_id: str,
        *,
        frame_interval: float,
        send: Callable[[dict[str, Any]], None],
        on_state: Callable[[dict[str, Any]], None],
        on_end: Callable[[Document, dict[str, int]], None],
    ):
        self.message_id = message_id
        self.frame_interval = frame_interval
        self._send, self._on_state, self._on_end = send, on_state, on_end
        self._timer: asyncio.TimerHandle | None = None
        self._last_frame = 0.0
        self._status = ""
        self.ended = False
        self._unsubscribe: Callable[[], None] | None = None
        self.document, self._unsubscribe = store.follow(stream_id, self._on_change)
        #: UTF-16 units of each field sent so far (all of it once the reply has ended)
        self.offsets = dict.fromkeys(FIELDS, 0)
        self._pending = {name: getattr(self.document, name) for name in FIELDS}
        self._state_dirty = True
        if self.document.done:
            self._finish()
        else:
            self._schedule_frame()

    @property
    def lengths(self) -> dict[str, int]:
        """``text_length`` / ``reasoning_length`` sent (what the front end should hold)."""
        return {f"{name}_length": self.offsets[name] for name in FIELDS}

    def _on_change(self, change: Change) -> None:
        if self._unsubscribe is None:
            return  # stopped
        self.document = change.document
        event = change.event
        if event is None:
            return  # a commit: nothing new to show
        if event.get("type") in FIELDS:
            self._pending[event["type"]] += event["text"]
            if self._status != change.document.status:
                self._state_dirty = True  # the first token moves the status to streaming
        else:
            self._state_dirty = True
        if change.document.done:
            self._finish()
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
        for name in FIELDS:
            piece = self._pending[name]
            if piece:
                at = self.offsets[name]
                self._send(
                    {
                        "kind": "delta",
                        "field": name,
                        "at": at,
                        "text": piece,
                        "message_id": self.message_id,
                    }
                )
                self.offsets[name] = at + utf16_len(piece)
                self._pending[name] = ""
        if self._state_dirty:
            self._state_dirty = False
            self._status = self.document.status
            self._on_state({"message_id": self.message_id, **state_of(self.document)})

    def _finish(self) -> None:
        """The reply ended: the last frame out (without the state: the end carries it)."""
        self._state_dirty = False
        self._send_frame()
        self.stop()
        self.ended = True
        self._on_end(self.document, self.lengths)

    def stop(self) -> None:
        """Stop following (the reply goes on in the store if it was not cancelled)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
