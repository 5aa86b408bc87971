"""What a timing strip draws, for the Player and Compare alike."""

from __future__ import annotations

from typing import Any

from ..seek import SeekIndex, Timing


def timeline_data(
    index: SeekIndex, timing_: Timing, span: float | None = None, bins: int = 240
) -> dict[str, Any]:
    """What a timing strip draws: the timing plus token arrivals binned over ``span``."""
    span = max(span if span is not None else index.duration, 1e-9)
    return {**timing_.to_dict(), "span": span, "bins": index.histogram(span, bins)}
