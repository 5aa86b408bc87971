"""Compare: two streams or recordings side by side — timing on one time axis, text as a diff.

Typical pairs: two models answering the same prompt, or a live run and its recording. The
widget draws both timing strips on one shared axis (so "B started later and stalled twice"
is visible at a glance) with their metrics, and a word-level diff of the final documents
(insertions and deletions highlighted).

The diff works line by line first and then word by word inside changed lines, so long replies
stay fast (difflib on whole word lists is quadratic in the worst case).
"""

from __future__ import annotations

import difflib
import re
from typing import Any

import traitlets

from ..recording import Recording
from ..seek import STALL_THRESHOLD, SeekIndex, timing
from ..store import Store
from ..transfer import open_recording
from .base import BundledWidget
from .timeline import timeline_data

_TOKENS = re.compile(r"\s+|\w+|[^\w\s]")
_ARGS = "a, b, labels=, store=, stall_threshold=, layout="


def diff_words(a: str, b: str) -> list[tuple[str, str]]:
    """Turn ``a`` into ``b``: ``(op, text)`` pieces with op ``=`` (both), ``-`` (only in a)
    or ``+`` (only in b). Joining the ``=``/``-`` pieces gives ``a``; ``=``/``+`` gives ``b``."""
    out: list[tuple[str, str]] = []

    def add(op: str, text: str) -> None:
        if not text:
            return
        if out and out[-1][0] == op:
            out[-1] = (op, out[-1][1] + text)
        else:
            out.append((op, text))

    lines_a, lines_b = a.splitlines(keepends=True), b.splitlines(keepends=True)
    by_line = difflib.SequenceMatcher(None, lines_a, lines_b, autojunk=False)
    for tag, i1, i2, j1, j2 in by_line.get_opcodes():
        old, new = "".join(lines_a[i1:i2]), "".join(lines_b[j1:j2])
        if tag == "equal":
            add("=", old)
            continue
        words_a, words_b = _TOKENS.findall(old), _TOKENS.findall(new)
        by_word = difflib.SequenceMatcher(None, words_a, words_b, autojunk=False)
        for wtag, k1, k2, m1, m2 in by_word.get_opcodes():
            if wtag == "equal":
                add("=", "".join(words_a[k1:k2]))
            else:
                add("-", "".join(words_a[k1:k2]))
                add("+", "".join(words_b[m1:m2]))
    return out


def diff_summary(ops: list[tuple[str, str]]) -> dict[str, Any]:
    """Words kept, deleted and inserted, and the share of words kept (0..1)."""

    def words(op: str) -> int:
        return sum(len(re.findall(r"\w+", text)) for o, text in ops if o == op)

    same, deleted, inserted = words("="), words("-"), words("+")
    total = max(same + deleted, same + inserted, 1)
    return {"same": same, "deleted": deleted, "inserted": inserted, "similarity": same / total}


class Compare(BundledWidget):
    """Two recordings or stored streams (anything :class:`Player` accepts), compared."""

    VIEW = "compare"

    #: Per side: label, model, provider, status, source, and the timing strip data.
    sides = traitlets.List(traitlets.Dict()).tag(sync=True)
    #: ``[op, text]`` pieces of the text diff (see :func:`diff_words`).
    diff = traitlets.List(traitlets.List()).tag(sync=True)
    summary = traitlets.Dict().tag(sync=True)

    def __init__(
        self,
        a: Any,
        b: Any,
        *,
        labels: tuple[str, str] | None = None,
        store: Store | None = None,
        stall_threshold: float = STALL_THRESHOLD,
        **kwargs: Any,
    ):
        unknown = set(kwargs) - {"layout"}
        if unknown:
            raise TypeError(
                f"Compare() got unexpected argument(s): {', '.join(sorted(unknown))}"
                f"; expected {_ARGS}"
            )
        self.recordings: tuple[Recording, Recording] = (
            open_recording(a, store),
            open_recording(b, store),
        )
        indexes = [SeekIndex(r.events) for r in self.recordings]
        self.documents = tuple(index.final for index in indexes)
        self.timings = tuple(
            timing(index.events, doc, stall_threshold=stall_threshold)
            for index, doc in zip(indexes, self.documents)
        )
        span = max(index.duration for index in indexes)
        labels = labels or (_label("A", self.recordings[0]), _label("B", self.recordings[1]))
        self.ops = diff_words(self.documents[0].text, self.documents[1].text)
        sides = [
            {
                "label": label,
                "model": recording.model,
                "provider": recording.provider,
                "source": recording.source,
                "status": doc.status,
                "events": len(index),
                "timeline": timeline_data(index, timing_, span),
            }
            for label, recording, index, doc, timing_ in zip(
                labels, self.recordings, indexes, self.documents, self.timings
            )
        ]
        super().__init__(
            sides=sides,
            diff=[list(op) for op in self.ops],
            summary=diff_summary(self.ops),
            **kwargs,
        )

    @property
    def similarity(self) -> float:
        """The share of words the two final texts have in common (0..1)."""
        return float(self.summary["similarity"])

    def __repr__(self) -> str:
        a, b = (side["label"] for side in self.sides)
        return f"Compare({a!r}, {b!r}, similarity={self.similarity:.0%})"


def _label(letter: str, recording: Recording) -> str:
    name = recording.header.get("title") or recording.model or recording.source
    return f"{letter} · {name}"
