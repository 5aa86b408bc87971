"""How a reply arrived over time: what the timing strip draws and the analytics views report.

:func:`timing` over a list of events, :func:`timing_columns` over columns (each event's time
and kind: what :class:`~streamwidget.seek.SeekIndex` keeps); the SQL in
:mod:`streamwidget.analytics` follows the same definitions (the tests compare them).
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .document import Document
from .events import TEXT_FIELDS, Event

#: A wait between two events longer than this (seconds) is a stall.
STALL_THRESHOLD = 0.5


@dataclass
class Timing:
    """How a reply arrived over time: what the timing strip draws and the analytics report.

    Definitions (the SQL views use the same ones):

    - ``ttft``: ``t`` of the first ``text`` event; ``duration``: ``t`` of the last event.
    - ``output_tokens``: ``usage.output_tokens`` of the document when the provider reported
      it (``tokens_source="usage"``), else the number of ``text`` events (``"events"``).
    - ``tokens_per_s``: ``output_tokens / (duration - ttft)`` — the rate the StreamView header
      shows; ``None`` when the reply has no text or no time passed.
    - gaps: the waits between consecutive events, except waits that end in a ``tool_result``
      (that is time a tool ran, see ``tools``); the wait before the first event is ``ttft``.
      ``stalls``: gaps longer than ``stall_threshold``, as ``(start, end)`` times.
    """

    duration: float
    ttft: float | None
    text_events: int
    output_tokens: int
    tokens_source: str
    tokens_per_s: float | None
    gap_p50: float | None
    gap_p95: float | None
    gap_max: float | None
    stall_threshold: float
    stalls: list[tuple[float, float]] = field(default_factory=list)
    #: ``(started_at, ended_at, name, status)`` per tool call.
    tools: list[tuple[float, float, str, str]] = field(default_factory=list)

    @property
    def stall_time(self) -> float:
        return sum(end - start for start, end in self.stalls)

    def to_dict(self) -> dict[str, Any]:
        return {
            "duration": self.duration,
            "ttft": self.ttft,
            "text_events": self.text_events,
            "output_tokens": self.output_tokens,
            "tokens_source": self.tokens_source,
            "tokens_per_s": self.tokens_per_s,
            "gap_p50": self.gap_p50,
            "gap_p95": self.gap_p95,
            "gap_max": self.gap_max,
            "stall_threshold": self.stall_threshold,
            "stalls": [list(s) for s in self.stalls],
            "stall_time": self.stall_time,
            "tools": [list(s) for s in self.tools],
        }


def quantile(values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (DuckDB's ``quantile_cont``)."""
    if not values:
        return None
    ordered = sorted(values)
    pos = q * (len(ordered) - 1)
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def timing(
    events: Sequence[Event],
    final: Document | None = None,
    *,
    stall_threshold: float = STALL_THRESHOLD,
) -> Timing:
    """The :class:`Timing` of ``events`` (``final``: their document, when already built)."""
    final = final if final is not None else Document.from_events(list(events))
    times = array("d", (float(e.get("t", 0.0)) for e in events))
    kinds = [e.get("type") for e in events]
    return timing_columns(
        times, kinds, final, ("text", "tool_result"), stall_threshold=stall_threshold
    )


def timing_columns(
    times: Sequence[float],
    kinds: Sequence[Any],
    final: Document,
    text_and_result: tuple[Any, Any],
    *,
    stall_threshold: float = STALL_THRESHOLD,
) -> Timing:
    """:func:`timing` over columns: each event's time and kind (``text_and_result`` name the
    kinds of ``text`` and ``tool_result`` events in ``kinds``)."""
    text_kind, result_kind = text_and_result
    duration = times[-1] if times else 0.0
    text_events, ttft = 0, None
    widths = array("d")
    stalls: list[tuple[float, float]] = []
    previous = None
    for t, kind in zip(times, kinds):
        if kind == text_kind:
            text_events += 1
            ttft = t if ttft is None else ttft
        if previous is not None and kind != result_kind:
            widths.append(t - previous)
            if t - previous > stall_threshold:
                stalls.append((previous, t))
        previous = t
    usage_tokens = (final.usage or {}).get("output_tokens")
    if isinstance(usage_tokens, (int, float)) and not isinstance(usage_tokens, bool):
        output_tokens, source = int(usage_tokens), "usage"
    else:
        output_tokens, source = text_events, "events"
    rate = None
    if ttft is not None and duration > ttft:
        rate = output_tokens / (duration - ttft)
    return Timing(
        duration=duration,
        ttft=ttft,
        text_events=text_events,
        output_tokens=output_tokens,
        tokens_source=source,
        tokens_per_s=rate,
        gap_p50=quantile(widths, 0.5),
        gap_p95=quantile(widths, 0.95),
        gap_max=max(widths) if widths else None,
        stall_threshold=stall_threshold,
        stalls=stalls,
        tools=[
            (
                call.started_at or 0.0,
                call.ended_at if call.ended_at is not None else duration,
                call.name,
                call.status,
            )
            for call in final.tool_calls
        ],
    )


def histogram(events: Sequence[Event], span: float, bins: int = 240) -> dict[str, list[int]]:
    """Token arrivals per time bin over ``[0, span]``: ``{"text": [...], "reasoning": [...]}``."""
    pairs = ((float(e.get("t", 0.0)), e.get("type")) for e in events)
    return histogram_pairs(pairs, {name: name for name in TEXT_FIELDS}, span, bins)


def histogram_pairs(
    pairs: Iterable[tuple[float, Any]], fields: dict[Any, str], span: float, bins: int
) -> dict[str, list[int]]:
    counts = {name: [0] * bins for name in TEXT_FIELDS}
    width = span / bins if span > 0 else 1.0
    for t, kind in pairs:
        name = fields.get(kind)
        if name is not None:
            index = min(int(t / width), bins - 1)
            counts[name][max(index, 0)] += 1
    return counts
