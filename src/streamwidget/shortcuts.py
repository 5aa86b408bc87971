"""One-line entry points for notebooks."""

from __future__ import annotations

import os

from .manager import start
from .providers.replay import ReplayProvider
from .recording import Recording
from .store import Store
from .widgets.stream_view import StreamView


def replay(
    recording: Recording | str | os.PathLike[str], *, speed: float = 1.0, store: Store | None = None
) -> StreamView:
    """Replay a recording (bundled name, path, or :class:`Recording`) into a new StreamView.

    The replay takes the same path as a live model: it is written to the store as a new
    stream and the view follows the store.
    """
    provider = ReplayProvider(recording, speed=speed)
    header = {k: v for k, v in provider.recording.header.items() if k in ("title", "description")}
    return StreamView(start(provider, store=store, header=header))
