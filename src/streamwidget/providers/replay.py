"""Replay: a recording is just another provider, so replays take the live path exactly."""

from __future__ import annotations

import asyncio
import math
import os
from collections.abc import AsyncIterator
from typing import Any

from ..events import Event
from ..recording import Recording
from .base import ChatRequest


class ReplayProvider:
    """Yield a recording's events at ``speed`` times their recorded pace.

    ``speed=1`` is the original timing, ``2`` twice as fast, ``0`` or ``math.inf`` as fast as
    possible. Tool calls and results come from the recording: nothing is re-run.
    """

    name = "replay"

    def __init__(self, recording: Recording | str | os.PathLike[str], speed: float = 1.0):
        if not isinstance(recording, Recording):
            recording = Recording.find(recording)
        if (
            isinstance(speed, bool)
            or not isinstance(speed, (int, float))
            or speed < 0
            or math.isnan(speed)
        ):
            raise ValueError(
                f"speed must be a number >= 0 (0 or inf: as fast as possible), got {speed!r}"
            )
        self.recording = recording
        self.speed = float(speed)
        self.model = recording.model

    def describe(self, request: ChatRequest | None = None) -> dict[str, Any]:
        return {
            "replay_of": self.recording.source,
            "original_provider": self.recording.provider,
            "speed": self.speed,
            **self.recording.header.get("request", {}),
        }

    async def stream(self, request: ChatRequest | None = None) -> AsyncIterator[Event]:
        instant = self.speed == 0 or math.isinf(self.speed)
        loop = asyncio.get_running_loop()
        start = loop.time()
        for index, event in enumerate(self.recording.events):
            if instant:
                if index % 256 == 255:
                    await asyncio.sleep(0)  # let the kernel breathe (Stop must still work)
            else:
                delay = float(event["t"]) / self.speed - (loop.time() - start)
                if delay > 0.001:
                    await asyncio.sleep(delay)
            yield {k: v for k, v in event.items() if k != "t"}

    def __repr__(self) -> str:
        return f"<ReplayProvider {self.recording.source} speed={self.speed:g}>"
