"""The delta sender StreamView and Chat share: text pieces from the store are coalesced and sent
at most once per ``frame_interval`` as ``{"kind": "delta", "field", "at", "text"}`` messages,
``at`` being the UTF-16 offset where the piece starts (so a front end can spot a gap)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from typing import Any

from ..parts import utf16_len


class DeltaFrames:
    """Pending text per field, sent as deltas once per frame.

    ``send(msg)`` gets each delta message (``tag`` items added to it); ``after_frame()`` runs
    after the deltas of every frame (where the owner sends its small state if it changed).
    ``offsets`` are the UTF-16 units of each field sent so far.
    """

    def __init__(
        self,
        fields: Iterable[str],
        *,
        frame_interval: float,
        send: Callable[[dict[str, Any]], None],
        after_frame: Callable[[], None],
        offsets: dict[str, int] | None = None,
        tag: dict[str, Any] | None = None,
    ):
        self.fields = tuple(fields)
        self.frame_interval = frame_interval
        self._send, self._after_frame = send, after_frame
        self._tag = tag or {}
        self.offsets = dict.fromkeys(self.fields, 0) if offsets is None else offsets
        # pieces joined once per frame (str += per token would copy the pending text each time)
        self._pending: dict[str, list[str]] = {name: [] for name in self.fields}
        self._timer: asyncio.TimerHandle | None = None
        self._last_frame = 0.0
        #: Delta messages sent so far.
        self.sent = 0

    def add(self, field: str, text: str) -> None:
        """Queue ``text`` for ``field`` (sent with the next frame)."""
        self._pending[field].append(text)

    def schedule(self) -> None:
        """Send a frame once ``frame_interval`` has passed since the last one."""
        if self._timer is not None:
            return
        wait = self.frame_interval - (time.monotonic() - self._last_frame)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (plain scripts): send now if a frame is due
            if wait <= 0:
                self.flush()
            return
        self._timer = loop.call_later(max(wait, 0.0), self.flush)

    def flush(self) -> None:
        """Send a frame now: the pending deltas, then ``after_frame``."""
        self.cancel()
        self._last_frame = time.monotonic()
        for name in self.fields:
            if self._pending[name]:
                piece = "".join(self._pending[name])
                self._pending[name] = []
                at = self.offsets[name]
                self._send({"kind": "delta", "field": name, "at": at, "text": piece, **self._tag})
                self.offsets[name] = at + utf16_len(piece)
                self.sent += 1
        self._after_frame()

    def cancel(self) -> None:
        """Drop the scheduled frame, if any (what is pending stays pending)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
