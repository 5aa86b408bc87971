"""The Player's text on request: each view gets only the piece of the final text it lacks.

A view holds one segment ``[start, end)`` of the final text (and one of the reasoning), in
UTF-16 units, always cut at event boundaries (the kernel chose them). Asking for ``position``
(the cursor it is about to draw), it says what it holds (``have``) and gets per field either
nothing (the cursor's length is inside the segment: a seek back, or a step that added no
text), the missing piece appended to the segment (the gap is at most :data:`APPEND_MAX`), or
a new segment: the last :data:`WINDOW` units up to the cursor. A view can also ask for the
:data:`WINDOW` units before its segment (``earlier``: the reader wants to scroll further up).
A jump to the middle of a million-event recording therefore costs one window, never the
megabytes before the cursor.

While the Player plays, each frame's new text goes to every view (:func:`played`, ``view``
null) just before the cursor traits: a view that holds the previous frame's text appends it
and draws the new cursor with no round trip. Where no front end runs (nbclient, nbconvert),
:func:`snapshot` gives the tail of the text at the cursor that a saved notebook keeps (see
``js/src/player_saved.ts``, which keeps the same on the model when a front end runs).
"""

from __future__ import annotations

import bisect
from array import array
from typing import Any

from ..parts import utf16_len
from ..seek import FinalText, SeekIndex

#: UTF-16 units of text a view gets before the cursor after a jump.
WINDOW = 12_288
#: The longest missing piece sent to extend a view's segment (more: a new window).
APPEND_MAX = 16_384
#: The most a view holds after an append (more: a new window), so that playing or dragging
#: forward through a long text keeps what is drawn bounded.
HELD_MAX = 65_536
#: UTF-16 units of the text (and of the reasoning) at the cursor a saved notebook keeps.
SNAPSHOT_TEXT = 4_096
SNAPSHOT_REASONING = 1_024


def reply(index: SeekIndex, request: dict[str, Any], position: int) -> dict[str, Any] | None:
    """The ``reply`` message to a view's request (``None`` if it did not name itself)."""
    view = request.get("view")
    if not isinstance(view, str):
        return None  # an older front end, or a request that wants no text
    given = request.get("have")
    have: dict[str, Any] = given if isinstance(given, dict) else {}
    fields = (
        ("text", index.text, index.text_end16),
        ("reasoning", index.reasoning, index.reasoning_end16),
    )
    answer: dict[str, Any] = {
        "kind": "reply",
        "view": view,
        "seq": request.get("seq"),
        "position": position,
    }
    earlier = request.get("earlier") is True
    for name, final, ends in fields:
        held = _span(have.get(name))
        piece = before(final, ends, held) if earlier else segment(final, ends, held, position)
        answer[name] = piece
    return answer


def played(index: SeekIndex, old: int, new: int) -> dict[str, Any] | None:
    """The text events ``old`` to ``new`` added, for every view (``None``: none, or a move
    back, or a piece longer than :data:`APPEND_MAX`: the views ask for a window then)."""
    if new <= old:
        return None
    answer: dict[str, Any] = {"kind": "reply", "view": None, "seq": None, "position": new}
    fields = (
        ("text", index.text, index.text_end16),
        ("reasoning", index.reasoning, index.reasoning_end16),
    )
    for name, final, ends in fields:
        start, end = ends[old], ends[new]
        answer[name] = (
            {"start": start, "end": end, "text": final.slice(start, end), "append": True}
            if 0 < end - start <= APPEND_MAX
            else None
        )
    return answer if answer["text"] or answer["reasoning"] else None


def snapshot(index: SeekIndex, position: int) -> dict[str, Any]:
    """What a saved notebook keeps of the text at ``position``: the last
    :data:`SNAPSHOT_TEXT` units of the text and :data:`SNAPSHOT_REASONING` of the reasoning,
    each as ``{"start", "text"}`` (the same cut as ``tail`` in ``js/src/player_saved.ts``)."""
    return {
        "position": position,
        "text": _tail(index.text, index.text_end16[position], SNAPSHOT_TEXT),
        "reasoning": _tail(index.reasoning, index.reasoning_end16[position], SNAPSHOT_REASONING),
    }


def _tail(final: FinalText, end: int, limit: int) -> dict[str, Any]:
    """The last ``limit`` units before ``end``: never from half a surrogate pair, and from
    the start of a line when one begins in the first quarter."""
    start = max(end - limit, 0)
    if start and "\udc00" <= final.slice(start, start + 1) <= "\udfff":
        start += 1
    text = final.slice(start, end)
    if start:
        line = text.find("\n")
        if line >= 0 and utf16_len(text[:line]) < limit / 4:
            start += utf16_len(text[: line + 1])
            text = text[line + 1 :]
    return {"start": start, "text": text}


def before(final: FinalText, ends: array[int], have: tuple[int, int]) -> dict[str, Any] | None:
    """Up to :data:`WINDOW` units just before a view's segment (the reader scrolled up and
    asked for more): ``{"start", "end", "text", "prepend": True}``, or ``None`` when the
    segment starts the text or does not start at an event boundary."""
    start = have[0]
    k = bisect.bisect_left(ends, start)
    if start == 0 or k >= len(ends) or ends[k] != start:
        return None
    j = bisect.bisect_left(ends, max(start - WINDOW, 0), 0, k)
    piece = final.slice(ends[j], start)
    return {"start": ends[j], "end": start, "text": piece, "append": False, "prepend": True}


def segment(
    final: FinalText, ends: array[int], have: tuple[int, int], position: int
) -> dict[str, Any] | None:
    """What a view holding ``have`` needs of ``final`` to show it after ``position`` events:
    ``None``, or ``{"start", "end", "text", "append"}`` (offsets in UTF-16 units).

    ``ends[k]``: the field's length after ``k`` events. Pieces start and end at event
    boundaries (never inside a character).
    """
    start, end = have
    target = ends[position]
    if start <= target <= end:
        return None
    if end < target <= end + APPEND_MAX and target - start <= HELD_MAX:
        k = bisect.bisect_left(ends, end, 0, position + 1)
        if ends[k] == end:  # the view's end is an event boundary: extend it
            return {"start": end, "end": target, "text": final.slice(end, target), "append": True}
    k = bisect.bisect_left(ends, max(target - WINDOW, 0), 0, position + 1)
    piece = final.slice(ends[k], target)
    return {"start": ends[k], "end": target, "text": piece, "append": False}


def _span(value: Any) -> tuple[int, int]:
    """A view's ``[start, end]`` as two ints with ``0 <= start <= end``; ``(0, 0)`` (nothing
    held) for anything else."""
    if (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        and 0 <= value[0] <= value[1]
    ):
        return value[0], value[1]
    return 0, 0
