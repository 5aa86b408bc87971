"""StreamView: one stream document, live in a notebook.

Sync design (linear cost whatever the reply length):

- small state (status, tool calls, error, meta, and the parts: the order of text runs,
  reasoning runs, tool calls, steps and notices as offsets into the text, re-sent only when a
  part starts) goes through traitlets;
- text goes as deltas in custom messages, ``{"kind": "delta", "field", "at", "text"}``,
  coalesced to at most one frame per ``frame_interval``; ``at`` is the UTF-16 offset where the
  piece starts, so the front end can detect a gap and ask for a ``snapshot``;
- when the stream ends, the kernel-side ``text`` trait holds the full text. It is sent to the
  front end only if no front end has spoken (nbclient, nbconvert): a front end that has (every
  one asks for a ``resync`` when it connects) built the text from the deltas, and ``meta``
  carries the final UTF-16 lengths so it can check that and ask again if something was lost
  ("quiet end": the text crosses iopub once, not twice);
- the saved-notebook fallback (markdown in the output's mimebundle) is brought up to date once
  when the stream ends, unless ``static_fallback=False``.
"""

from __future__ import annotations

from typing import Any

import traitlets

from ..document import Document
from ..events import TEXT_FIELDS
from ..manager import StreamHandle, start
from ..parts import utf16_len
from ..store import Change, Store, default_store
from . import static
from .base import WithFallback
from .frames import DeltaFrames

__all__ = ["StreamView", "utf16_len"]


class StreamView(WithFallback):
    """Shows one stream (a :class:`StreamHandle`, a stream id in ``store``, or a stream an SDK
    opened, which it starts) as it grows."""

    VIEW = "stream_view"

    stream_id = traitlets.Unicode("").tag(sync=True)
    status = traitlets.Unicode("pending").tag(sync=True)
    #: Full text; set when the stream ends (while streaming, text travels as deltas).
    text = traitlets.Unicode("").tag(sync=True)
    reasoning = traitlets.Unicode("").tag(sync=True)
    tool_calls = traitlets.List(traitlets.Dict()).tag(sync=True)
    #: The reply's ordered parts as run boundaries (UTF-16 offsets; see ``Part.wire``).
    parts = traitlets.List(traitlets.Dict()).tag(sync=True)
    error = traitlets.Dict(allow_none=True, default_value=None).tag(sync=True)
    meta = traitlets.Dict().tag(sync=True)

    def __init__(
        self,
        stream: StreamHandle | str | Any,
        *,
        store: Store | None = None,
        frame_interval: float = 1 / 30,
        static_fallback: bool = True,
        **kwargs: Any,
    ):
        """``static_fallback``: when the stream ends, update the output's markdown fallback so
        a saved notebook (GitHub, nbviewer, nbconvert) shows the final reply. It costs one more
        copy of the text over iopub per reply; ``False`` leaves the fallback as first shown."""
        unknown = set(kwargs) - {"layout"}
        if unknown:
            raise TypeError(
                f"StreamView() got unexpected argument(s): {', '.join(sorted(unknown))}"
                "; expected stream, store=, frame_interval=, static_fallback=, layout="
            )
        if not isinstance(stream, (StreamHandle, str)) and (
            hasattr(stream, "__iter__") or hasattr(stream, "__aiter__")
        ):  # a stream an SDK opened (providers/sdk.py): start streaming it
            stream = start(stream, store=store)
        #: The running stream when the view was made from a handle (``await view.handle``).
        self.handle = stream if isinstance(stream, StreamHandle) else None
        if isinstance(stream, StreamHandle):
            store, stream_id = stream.store, stream.id
        elif isinstance(stream, str):
            store, stream_id = store or default_store(), stream
        else:
            raise TypeError(
                f"StreamView() needs a StreamHandle, a stream id or an SDK stream, got "
                f"{type(stream).__name__}"
            )
        super().__init__(stream_id=stream_id, **kwargs)
        self.store = store
        self.frame_interval = frame_interval
        self.static_fallback = static_fallback
        #: Set by the first message from a front end; from then on the end is quiet.
        self._front_end_seen = False
        self._state_dirty = False
        self._first_token_seen = False
        self._displays: list[Any] = []
        self._parts_version = -1
        self._frames = DeltaFrames(
            TEXT_FIELDS,
            frame_interval=frame_interval,
            send=lambda msg: self.send(msg),  # looked up per call: tests stand in for send
            after_frame=self._send_state,
        )
        document, self._unsubscribe = store.follow(stream_id, self._on_change)
        self._document = document
        for name in TEXT_FIELDS:  # what the front end gets with the first state
            self._frames.offsets[name] = utf16_len(getattr(document, name))
        self._first_token_seen = document.first_token_t is not None
        self._sync_state(document)
        if document.done:
            self._finish(document)
        self.on_msg(self._on_front_end_message)

    # -- store → widget -------------------------------------------------------------------

    def _on_change(self, change: Change) -> None:
        self._document = change.document
        event = change.event
        if event is None:
            return  # a commit: nothing new to show
        kind = event.get("type")
        if kind in TEXT_FIELDS:
            self._frames.add(kind, event["text"])
            if not self._first_token_seen:  # it moves the status to streaming and sets TTFT
                self._first_token_seen = True
                self._state_dirty = True
        else:
            self._state_dirty = True
        if change.document.done:
            self._finish(change.document)
        else:
            self._frames.schedule()

    @property
    def frames_sent(self) -> int:
        """Delta messages sent so far."""
        return self._frames.sent

    def _send_state(self) -> None:
        if self._state_dirty:
            self._state_dirty = False
            self._sync_state(self._document)

    def _sync_state(self, document: Document) -> None:
        with self.hold_sync():
            self.status = document.status
            self.tool_calls = [call.to_dict() for call in document.tool_calls]
            if document.parts_version != self._parts_version:  # not when a run merely grows
                self._parts_version = document.parts_version
                self.parts = document.parts_wire()
            self.error = document.error
            self.meta = {
                "model": document.model,
                "provider": document.provider,
                "usage": document.usage,
                "finish_reason": document.finish_reason,
                "first_token_t": document.first_token_t,
                "last_t": document.last_t,
                "version": document.version,
                "warnings": list(document.warnings),
                # what the front end should have once all deltas arrived (UTF-16 units)
                "text_length": self._frames.offsets["text"],
                "reasoning_length": self._frames.offsets["reasoning"],
            }

    def _finish(self, document: Document) -> None:
        """The stream ended: last frame out, full text into state, stop following."""
        self._state_dirty = False  # the state goes below, in one message with the full text
        self._frames.flush()
        with self.hold_sync():
            self.text = document.text
            self.reasoning = document.reasoning
            self._sync_state(document)
        self._unsubscribe()
        if self.static_fallback:
            self._update_displays()

    def _should_send_property(self, key: str, value: Any) -> bool:
        # A front end that has spoken built the text from the deltas: it is set here only.
        # (Set once, at the end; a front end that connects later gets it with the full state.)
        if key in TEXT_FIELDS and getattr(self, "_front_end_seen", False):
            return False
        return super()._should_send_property(key, value)

    # -- front end → widget ---------------------------------------------------------------

    def _on_front_end_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if isinstance(content, dict) and content.get("kind") == "resync":
            self._front_end_seen = True
            document = self._document
            self.send({"kind": "snapshot", "text": document.text, "reasoning": document.reasoning})

    # -- where no widget front end runs ---------------------------------------------------

    def _fallback(self) -> dict[str, str]:
        return {
            "text/plain": static.summary(self._document),
            "text/markdown": static.markdown(self._document),
        }

    @property
    def document(self) -> Document:
        """The document as this view knows it."""
        return self._document

    def close(self) -> None:
        # also runs from __del__ of a half-built view (bad constructor arguments)
        frames = getattr(self, "_frames", None)
        if frames is not None:
            frames.cancel()
        unsubscribe = getattr(self, "_unsubscribe", None)
        if unsubscribe is not None:
            unsubscribe()
        super().close()

    def __repr__(self) -> str:
        return (
            f"StreamView({self.stream_id!r}, status={self.status!r}, "
            f"chars={self._document.text_length})"
        )
