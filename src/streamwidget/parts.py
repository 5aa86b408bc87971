"""A reply's ordered parts: what the model did, in the order it did it.

A reply is read as a sequence of parts derived purely from the order of its events:

- ``text`` / ``reasoning``: a run of consecutive pieces of that field, as offsets into
  ``Document.text`` / ``Document.reasoning`` (``doc.text[part.start:part.end]``);
- ``tool``: a tool call, placed where the call started (``call_id`` names it);
- ``step``: a step boundary — a tool result followed by more model output;
- ``notice``: something the reader should know about (an event streamwidget did not
  understand, a warning), with its ``message``.

Events that do not start a part (tool argument deltas, results, usage, ...) change nothing
here, and a piece of text right after more text extends the last run: appending is O(1).
Offsets are kept in code points (Python's ``str``) and in UTF-16 units (what a browser's
``string.length`` counts), so the front end can slice the buffers it holds.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from .events import TEXT_FIELDS, Event

#: Event types shown as a notice part (``unknown``: a wire event streamwidget did not parse).
NOTICE_TYPES = frozenset({"unknown", "warning"})
#: Events that are model output after a tool result: they start a new step.
_OUTPUT_TYPES = frozenset({*TEXT_FIELDS, "tool_call_start"})


@dataclass
class Part:
    """One part of a reply. ``start``/``end`` (code points) and ``start16``/``end16`` (UTF-16)
    are set for text and reasoning runs; ``t0``/``t1`` are the recording times the part
    spans (``t1`` of a run: its last piece, or the event that ended it)."""

    kind: str
    start: int = 0
    end: int = 0
    start16: int = 0
    end16: int = 0
    call_id: str | None = None
    message: str | None = None
    t0: float | None = None
    t1: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def wire(self, last_run: bool) -> dict[str, Any]:
        """The small form the front end gets: UTF-16 offsets; a run that is the last part of
        a live reply (the only one that can grow) is open-ended (``end`` None: to the end of
        the buffer), so growing text changes nothing here."""
        if self.kind in TEXT_FIELDS:
            out: dict[str, Any] = {"kind": self.kind, "start": self.start16}
            out["end"] = None if last_run else self.end16
            if self.kind == "reasoning":
                out.update(t0=self.t0, t1=None if last_run else self.t1)
            return out
        if self.kind == "tool":
            return {"kind": "tool", "id": self.call_id}
        if self.kind == "notice":
            return {"kind": "notice", "message": self.message}
        return {"kind": self.kind}


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units (JavaScript's ``string.length``)."""
    return len(text) if text.isascii() else len(text.encode("utf-16-le")) // 2


def notice_message(event: Event) -> str:
    """What a notice part says about ``event``."""
    for key in ("message", "warning", "reason"):
        value = event.get(key)
        if isinstance(value, str) and value:
            return value
    wire = event.get("wire_type") or event.get("raw_type") or event.get("event")
    if isinstance(wire, str) and wire:
        return f"The provider sent something streamwidget does not show ({wire})"
    return "The provider sent something streamwidget does not show"


class Parts:
    """The ordered parts of one reply, folded event by event (O(1) per event).

    Keeps its own field lengths, so it does not depend on how the document holds its text.
    ``boundaries`` counts changes other than a run growing: a view re-sends the parts only
    when it moves.
    """

    __slots__ = ("_after_result", "_length", "_length16", "boundaries", "items")

    def __init__(self) -> None:
        self.items: list[Part] = []
        self._length = {name: 0 for name in TEXT_FIELDS}
        self._length16 = {name: 0 for name in TEXT_FIELDS}
        self._after_result = False
        self.boundaries = 0

    @classmethod
    def legacy(cls, text: str, reasoning: str, call_ids: list[str]) -> Parts:
        """Parts for a document known only by its fields (no events): reasoning, tools, text."""
        parts = cls()
        if reasoning:
            parts._run("reasoning", reasoning, None)
        for call_id in call_ids:
            parts.tool(call_id, None)
        if text:
            parts._run("text", text, None)
        return parts

    @classmethod
    def restore(cls, items: list[dict[str, Any]], after_result: bool = False) -> Parts:
        """Parts saved with ``[part.to_dict() for part in parts]`` (a store's column), ready to
        go on folding: runs tile their field, so the lengths are the ends of the last runs.
        ``after_result``: the last folded event was a tool result (the next output is a step)."""
        parts = cls()
        parts.items = [Part(**item) for item in items]
        for part in parts.items:
            if part.kind in TEXT_FIELDS:
                parts._length[part.kind] = max(parts._length[part.kind], part.end)
                parts._length16[part.kind] = max(parts._length16[part.kind], part.end16)
        parts._after_result = after_result
        parts.boundaries = len(parts.items)
        return parts

    def apply(self, event: Event, t: float) -> None:
        """Fold one event that the document accepted. (Tool parts come from :meth:`tool`, which
        the document calls when it first sees a call id, after this.)"""
        kind = event.get("type")
        if self._after_result and kind in _OUTPUT_TYPES:
            self._after_result = False
            self._add(Part("step", t0=t, t1=t))
        if kind in TEXT_FIELDS:
            self._run(kind, event["text"], t)
        elif kind == "tool_result":
            self._after_result = True
        elif kind in NOTICE_TYPES:
            self._add(Part("notice", message=notice_message(event), t0=t, t1=t))

    def tool(self, call_id: str, t: float | None) -> None:
        """A tool call shows from here (called once per call id by the document)."""
        self._add(Part("tool", call_id=call_id, t0=t, t1=t))

    def _run(self, field: str, piece: str, t: float | None) -> None:
        if not piece:
            return
        n, n16 = len(piece), utf16_len(piece)
        last = self.items[-1] if self.items else None
        if last is not None and last.kind == field:
            last.end += n
            last.end16 += n16
            last.t1 = t
        else:
            start, start16 = self._length[field], self._length16[field]
            self._add(Part(field, start, start + n, start16, start16 + n16, t0=t, t1=t))
        self._length[field] += n
        self._length16[field] += n16

    def _add(self, part: Part) -> None:
        if self.items and self.items[-1].kind == "reasoning" and part.kind != "reasoning":
            # thinking lasts until the model does something else
            self.items[-1].t1 = part.t0 if part.t0 is not None else self.items[-1].t1
        self.items.append(part)
        self.boundaries += 1

    def wire(self, done: bool = False) -> list[dict[str, Any]]:
        """All parts in the front end's form; a finished reply's runs are all closed."""
        last = -1 if done else len(self.items) - 1
        return [part.wire(index == last) for index, part in enumerate(self.items)]

    def copy(self) -> Parts:
        """An independent copy. Only the last part ever changes (a run grows, a thinking run
        ends), so the others are shared: the Player's checkpoints stay small."""
        twin = Parts()
        twin.items = self.items[:-1] + [Part(**part.to_dict()) for part in self.items[-1:]]
        twin._length, twin._length16 = dict(self._length), dict(self._length16)
        twin._after_result = self._after_result
        twin.boundaries = self.boundaries
        return twin

    def __deepcopy__(self, memo: dict[int, Any]) -> Parts:
        return self.copy()
