"""The Player's text on request: each view gets only the piece of the final text it lacks.

A view holds one segment ``[start, end)`` of the final text (and one of the reasoning), in
UTF-16 units, always cut at event boundaries (the kernel chose them). Asking for ``position``
(the cursor it is about to draw), it says what it holds (``have``) and gets per field either
nothing (the cursor's length is inside the segment: a seek back, or a step that added no
text), the missing piece appended to the segment (the gap is at most :data:`APPEND_MAX`), or
a new segment: the last :data:`WINDOW` units up to the cursor. A jump to the middle of a
million-event recording therefore costs one window, never the megabytes before the cursor.
"""

from __future__ import annotations

import bisect
from array import array
from typing import Any

from ..seek import SeekIndex

#: UTF-16 units of text a view gets before the cursor after a jump.
WINDOW = 32_768
#: The longest missing piece sent to extend a view's segment (more: a new window).
APPEND_MAX = 65_536


def reply(index: SeekIndex, request: dict[str, Any], position: int) -> dict[str, Any] | None:
    """The ``reply`` message to a view's request (``None`` if it did not name itself)."""
    view = request.get("view")
    if not isinstance(view, str):
        return None  # an older front end, or a request that wants no text
    have = request.get("have") if isinstance(request.get("have"), dict) else {}
    fields = (
        ("text", index.final_text, index.text_end, index.text_end16),
        ("reasoning", index.final_reasoning, index.reasoning_end, index.reasoning_end16),
    )
    answer: dict[str, Any] = {
        "kind": "reply",
        "view": view,
        "seq": request.get("seq"),
        "position": position,
    }
    for name, final, ends, ends16 in fields:
        answer[name] = segment(final, ends, ends16, _span(have.get(name)), position)
    return answer


def segment(
    final: str, ends: array, ends16: array, have: tuple[int, int], position: int
) -> dict[str, Any] | None:
    """What a view holding ``have`` needs of ``final`` to show it after ``position`` events:
    ``None``, or ``{"start", "end", "text", "append"}`` (offsets in UTF-16 units).

    ``ends[k]``/``ends16[k]``: the field's length after ``k`` events in code points / UTF-16.
    """
    start16, end16 = have
    target16 = ends16[position]
    if start16 <= target16 <= end16:
        return None
    target = ends[position]
    if end16 < target16 <= end16 + APPEND_MAX:
        k = bisect.bisect_left(ends16, end16, 0, position + 1)
        if ends16[k] == end16:  # the view's end is an event boundary: extend it
            return {
                "start": end16,
                "end": target16,
                "text": final[ends[k] : target],
                "append": True,
            }
    k = bisect.bisect_left(ends16, max(target16 - WINDOW, 0), 0, position + 1)
    return {"start": ends16[k], "end": target16, "text": final[ends[k] : target], "append": False}


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
