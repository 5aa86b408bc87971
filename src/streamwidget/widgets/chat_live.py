"""The reply a Chat is streaming: follows its stream in the store and sends, at most once per
frame, the new text as deltas and the small state (status, tool calls, error, meta) when it
changed. Like StreamView's sync, for one message of a conversation at a time."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..document import Document
from ..store import Change, Store
from .chat_log import state_of
from .frames import DeltaFrames

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
        self._on_state, self._on_end = on_state, on_end
        self._status = ""
        self.ended = False
        self._unsubscribe: Callable[[], None] | None = None
        self._frames = DeltaFrames(
            FIELDS,
            frame_interval=frame_interval,
            send=send,
            after_frame=self._send_state,
            tag={"message_id": message_id},
        )
        self.document, self._unsubscribe = store.follow(stream_id, self._on_change)
        #: UTF-16 units of each field sent so far (all of it once the reply has ended)
        self.offsets = self._frames.offsets
        for name in FIELDS:
            if getattr(self.document, name):
                self._frames.add(name, getattr(self.document, name))
        self._state_dirty = True
        if self.document.done:
            self._finish()
        else:
            self._frames.schedule()

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
            self._frames.add(event["type"], event["text"])
            if self._status != change.document.status:
                self._state_dirty = True  # the first token moves the status to streaming
        else:
            self._state_dirty = True
        if change.document.done:
            self._finish()
        else:
            self._frames.schedule()

    def _send_state(self) -> None:
        if self._state_dirty:
            self._state_dirty = False
            self._status = self.document.status
            self._on_state({"message_id": self.message_id, **state_of(self.document)})

    def _finish(self) -> None:
        """The reply ended: the last frame out (without the state: the end carries it)."""
        self._state_dirty = False
        self._frames.flush()
        self.stop()
        self.ended = True
        self._on_end(self.document, self.lengths)

    def stop(self) -> None:
        """Stop following (the reply goes on in the store if it was not cancelled)."""
        self._frames.cancel()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
