"""Player: any recording or stored stream, played into a stream view you can scrub.

One anywidget shows the document at a cursor through the same front-end modules as
StreamView (header, tool cards, incremental markdown), with play/pause, speeds (1x, 2x, 10x,
instant), step back/forward, a timing strip that doubles as the scrubber, and an event
inspector around the cursor.

Sync design. The kernel owns the cursor; the front end asks (``seek``, ``step``, ``play``,
``pause``, ``speed`` messages) and the kernel answers with traits, plus text on request:

- the cursor traits (position, time, status, tool calls, error, meta, inspector rows) are
  small, changed together under ``hold_sync`` (one message per move). ``text_len`` and
  ``reasoning_len`` give the length of the text at the cursor in UTF-16 units (what
  JavaScript's ``string.length`` counts). No trait holds text: the comm_open is small however
  long the recording.
- a document's text only grows by appending, so the text at any position is a prefix of the
  final text. Each view holds one *segment* ``[start, end)`` of it per field and says which in
  its requests (``have``); the kernel's ``reply`` (sent before the cursor traits move) carries
  only what that view lacks for the position: the missing piece when it is short (playing,
  stepping), else a window of the last :data:`WINDOW` units up to the cursor (a jump). A seek
  back inside the segment costs no text at all. See :mod:`streamwidget.widgets.player_text`.
- while playing, each frame's new text goes to every view just before the cursor traits
  (``played``: one piece per frame, at most ``APPEND_MAX``), so a view draws the cursor, its
  status and its text together with no round trip;
- the document at a position comes from a :class:`~streamwidget.seek.SeekIndex` (a prefix
  plus the nearest checkpoint folded forward), never from a full re-fold; a ``.jsonl`` file is
  indexed without holding its events (:meth:`SeekIndex.from_file`).

The saved notebook. A front end keeps the tail of the text at the cursor in the model's
``snapshot`` (not sent back), so the widget manager saves it and a notebook reopened without a
kernel shows the reply at the cursor. Where no front end runs, the kernel does it, and keeps
the output's markdown fallback (the last :data:`FALLBACK_CHARS` characters of the document at
the cursor) up to date: see :mod:`streamwidget.widgets.player_saved`.

Playback is an asyncio task on the kernel's loop that moves the cursor along the recording's
clock at most once per ``frame_interval``; ``speed=0`` (instant) jumps to the end.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

import traitlets

from ..document import Document
from ..recording import Recording, event_row
from ..seek import STALL_THRESHOLD
from ..store import Store
from . import player_saved, static
from .base import WithFallback
from .player_source import open_source
from .player_text import played, reply, snapshot
from .timeline import timeline_data

#: Speeds the front end offers (0 is instant).
SPEEDS = (1.0, 2.0, 10.0, 0.0)
#: Characters of the text at the cursor the output's markdown fallback keeps (nbconvert).
FALLBACK_CHARS = 16_384
_ARGS = "source, store=, position=, speed=, stall_threshold=, context=, frame_interval=, layout="


class Player(WithFallback):
    """Play a recording (a :class:`Recording`, a ``.jsonl`` path, a bundled name) or a stored
    stream (an id, a handle or a view) with a scrubber, speeds, steps and an event inspector."""

    VIEW = "player"

    info = traitlets.Dict().tag(sync=True)
    timeline = traitlets.Dict().tag(sync=True)
    # the cursor: ``position`` events applied, at ``time`` on the recording's clock
    position = traitlets.Int(0).tag(sync=True)
    time = traitlets.Float(0.0).tag(sync=True)
    text_len = traitlets.Int(0).tag(sync=True)
    reasoning_len = traitlets.Int(0).tag(sync=True)
    status = traitlets.Unicode("pending").tag(sync=True)
    tool_calls = traitlets.List(traitlets.Dict()).tag(sync=True)
    #: The ordered parts at the cursor (UTF-16 offsets into the text at the cursor).
    parts = traitlets.List(traitlets.Dict()).tag(sync=True)
    error = traitlets.Dict(allow_none=True, default_value=None).tag(sync=True)
    meta = traitlets.Dict().tag(sync=True)
    inspector = traitlets.List(traitlets.Dict()).tag(sync=True)
    playing = traitlets.Bool(False).tag(sync=True)
    speed = traitlets.Float(1.0).tag(sync=True)
    #: The tail of the text at a cursor, for the saved notebook (``player_text.snapshot``):
    #: set here only where no front end runs; a front end keeps its own on the model.
    snapshot = traitlets.Dict().tag(sync=True)

    def __init__(
        self,
        source: Any,
        *,
        store: Store | None = None,
        position: int | None = None,
        speed: float = 1.0,
        stall_threshold: float = STALL_THRESHOLD,
        context: int = 6,
        frame_interval: float = 1 / 30,
        **kwargs: Any,
    ):
        unknown = set(kwargs) - {"layout"}
        if unknown:
            raise TypeError(
                f"Player() got unexpected argument(s): {', '.join(sorted(unknown))}"
                f"; expected {_ARGS}"
            )
        _check_speed(speed)
        self.header, self.index, self.source, self._load = open_source(source, store)
        self._recording: Recording | None = None
        self.timing = self.index.timing(stall_threshold=stall_threshold)
        self.context = context
        self.frame_interval = frame_interval
        self._task: asyncio.Task[None] | None = None
        self._anchor = (0.0, 0.0)  # (monotonic clock, recording time) playback runs from
        start = self.index.clamp(len(self.index) if position is None else position)
        # the document at the cursor without its text (what the traits need), and the whole
        # document, built when Python asks for it (its text costs a copy up to the cursor)
        self._state = self.index.document(start, text=False)
        self._full: Document | None = None
        super().__init__(
            info={
                "title": self.header.get("title") or "",
                "source": self.source,
                "model": str(self.header.get("model", "")),
                "provider": str(self.header.get("provider", "")),
                "events": len(self.index),
                "duration": self.index.duration,
            },
            timeline=timeline_data(self.index, self.timing),
            speed=float(speed),
            **self._cursor(start, self.index.time_at(start)),
            **kwargs,
        )
        self.on_msg(self._on_front_end_message)
        self._fallback_at = -1  # the position the output's fallback shows
        player_saved.watch(self)

    # -- moving the cursor ----------------------------------------------------------------

    def seek(self, position: int) -> Document:
        """Show the document after the first ``position`` events; returns it."""
        position = self.index.clamp(position)
        self._move(position, self.index.time_at(position), by_user=True)
        return self.document

    def seek_time(self, t: float) -> Document:
        """Show the document at time ``t`` (seconds on the recording's clock); returns it."""
        t = min(max(float(t), 0.0), self.index.duration)
        self._move(self.index.position_at(t), t, by_user=True)
        return self.document

    def step(self, by: int = 1) -> Document:
        """Move ``by`` events forward (negative: back); returns the document."""
        return self.seek(self.position + int(by))

    def _move(self, position: int, t: float, *, by_user: bool) -> None:
        """Move the cursor. A frame of playback sends the text it adds to every view first
        (a move the user asked for: each view asks for the text it lacks)."""
        if not by_user and player_saved.front_end_seen():  # else no one to send it to
            frame = played(self.index, self.position, position)
            if frame is not None:
                self.send(frame)
        state = self._cursor(position, t)
        with self.hold_sync():
            for name, value in state.items():
                setattr(self, name, value)
        if by_user and self.playing:
            self._reanchor()  # playing on from where the user put the cursor

    def _cursor(self, position: int, t: float) -> dict[str, Any]:
        """The cursor traits at ``position`` (and the document there, kept for reads)."""
        if self._state.version != position:  # version = events applied
            self._state = self.index.document(position, text=False)
        doc = self._state
        text_len, reasoning_len = self.index.lengths16(position)
        return {
            "position": position,
            "time": t,
            "text_len": text_len,
            "reasoning_len": reasoning_len,
            "status": doc.status,
            "tool_calls": [call.to_dict() for call in doc.tool_calls],
            "parts": doc.parts_wire(),
            "error": doc.error,
            "meta": {
                "model": doc.model,
                "provider": doc.provider,
                "usage": doc.usage,
                "finish_reason": doc.finish_reason,
                "first_token_t": doc.first_token_t,
                "last_t": doc.last_t,
                "version": doc.version,
            },
            "inspector": self._rows(position, self.context),
        }

    @property
    def document(self) -> Document:
        """The document at the cursor."""
        if self._full is None or self._full.version != self.position:
            self._full = self.index.document(self.position)
        return self._full

    def events_around(self, context: int | None = None) -> list[dict[str, Any]]:
        """Inspector rows for the events around the cursor: ``context`` before, as many after
        (the last applied event is ``position - 1``)."""
        return self._rows(self.position, self.context if context is None else context)

    def _rows(self, position: int, context: int) -> list[dict[str, Any]]:
        start, stop = max(position - context, 0), min(position + context, len(self.index))
        return [event_row(i, e) for i, e in enumerate(self.index.events[start:stop], start)]

    # -- playback -----------------------------------------------------------------------

    def play(self, speed: float | None = None) -> asyncio.Task[None]:
        """Play from the cursor (from the start when at the end) as a task on the running
        loop; ``await`` it to wait for the end. ``speed``: 1, 2, 10, ... or 0 for instant."""
        if speed is not None:
            _check_speed(speed)
            self.speed = float(speed)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise RuntimeError(
                "Player.play() runs on the notebook's event loop; outside one, move the "
                "cursor with seek(), seek_time() or step()"
            ) from None
        if self._task is not None and not self._task.done():
            return self._task
        if self.position >= len(self.index):
            self.seek(0)
        self.playing = True
        self._reanchor()
        self._task = loop.create_task(self._run())
        return self._task

    def pause(self) -> None:
        """Stop playing; the cursor stays where it is."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = None
        self.playing = False

    def _reanchor(self) -> None:
        self._anchor = (time.monotonic(), self.time)

    @traitlets.observe("speed")
    def _speed_changed(self, change: dict[str, Any]) -> None:
        if self.playing:
            self._reanchor()

    async def _run(self) -> None:
        end = len(self.index)
        try:
            while self.position < end:
                started, base = self._anchor
                target = base + (time.monotonic() - started) * self.speed
                if self.speed == 0 or target >= self.index.duration:
                    self._move(end, self.index.duration, by_user=False)
                    break
                self._move(self.index.position_at(target), target, by_user=False)
                await asyncio.sleep(self.frame_interval)
        finally:
            self.playing = False

    # -- front end → kernel ---------------------------------------------------------------

    def _on_front_end_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if not isinstance(content, dict):
            return
        kind = content.get("kind")
        if isinstance(content.get("view"), str) and not player_saved.front_end_seen():
            player_saved.front_end_spoke()
        target = self._target(content)
        if target is not None or kind == "text":
            # the text the asking view lacks goes out before the cursor traits that need it
            position = (
                target[0]
                if target is not None
                else self.index.clamp(_int(content, "position", self.position))
            )
            answer = reply(self.index, content, position)
            if answer is not None:
                self.send(answer)
        if target is not None:
            self._move(*target, by_user=True)
        elif kind == "play":
            self.play()
        elif kind == "pause":
            self.pause()
        elif kind == "speed" and content.get("value") in SPEEDS:
            self.speed = float(content["value"])

    def _target(self, content: dict[str, Any]) -> tuple[int, float] | None:
        """Where a ``seek`` or ``step`` request puts the cursor: ``(position, time)``."""
        kind = content.get("kind")
        if kind == "seek" and _is_number(content.get("position")):
            position = self.index.clamp(int(content["position"]))
            return position, self.index.time_at(position)
        if kind == "seek" and _is_number(content.get("t")):
            t = min(max(float(content["t"]), 0.0), self.index.duration)
            return self.index.position_at(t), t
        if kind == "step" and _is_number(content.get("by")):
            position = self.index.clamp(self.position + int(content["by"]))
            return position, self.index.time_at(position)
        return None

    # -- the saved notebook ---------------------------------------------------------------

    def _save_cursor(self) -> None:
        """Where no front end runs: the snapshot and the output's fallback follow the cursor
        (called after each cell; cheap when the cursor did not move)."""
        if player_saved.front_end_seen() or self.comm is None:
            return
        if self.snapshot.get("position") != self.position:
            self.snapshot = snapshot(self.index, self.position)
        if self._fallback_at != self.position:
            self._update_displays()

    def _fallback(self) -> dict[str, str]:
        self._fallback_at = self.position
        document = self.document
        return {
            "text/plain": static.summary(document),
            "text/markdown": static.markdown(document, limit=FALLBACK_CHARS),
        }

    # -- more -----------------------------------------------------------------------------

    def to_store(self, *, store: Store | None = None, speed: float = 0.0) -> Any:
        """Replay the recording through the manager into ``store`` (a new stream, like any
        live one); returns the :class:`~streamwidget.StreamView` that follows it."""
        from ..manager import start_replay
        from .stream_view import StreamView

        return StreamView(start_replay(self.recording, speed=speed, store=store))

    @property
    def recording(self) -> Recording:
        """The whole recording in memory: read (every event) on first use from a file or the
        store (the events the Player plays: a stream's events appended since it opened are not
        in it) — the Player itself only keeps an index of it. A :class:`Recording` the Player
        was given is returned as it is."""
        if self._recording is None:
            self._recording = self._load()
        return self._recording

    def close(self) -> None:
        if getattr(self, "_task", None) is not None:
            self.pause()
        super().close()

    def __repr__(self) -> str:
        return (
            f"Player({self.source!r}, position={self.position}/{len(self.index)}, "
            f"t={self.time:.2f}s, status={self.status!r})"
        )


def _check_speed(speed: Any) -> None:
    if (
        isinstance(speed, bool)
        or not isinstance(speed, (int, float))
        or math.isnan(speed)
        or speed < 0
        or math.isinf(speed)
    ):
        raise ValueError(f"speed must be a number >= 0 (0 is instant), got {speed!r}")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _int(content: dict[str, Any], name: str, default: int) -> int:
    value = content.get(name)
    return int(value) if value is not None and _is_number(value) else default
