"""Who owns a stream: the process writing it, told apart from a later process with its PID."""

from __future__ import annotations

import os
import socket
from pathlib import Path


def process_started(pid: int) -> float | None:
    """When ``pid`` started (clock ticks since boot on Linux), or ``None`` if unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may hold spaces: count fields after its closing parenthesis
    return float(stat.rsplit(")", 1)[1].split()[19])


def current() -> tuple[int, str, float | None]:
    """This process as (pid, host, start time)."""
    pid = os.getpid()
    return pid, socket.gethostname(), process_started(pid)


def alive(pid: int | None, host: str | None, started: float | None) -> bool:
    """Is that process still running? Other hosts cannot be checked: assume yes."""
    if not pid:
        return False
    if host != socket.gethostname():
        return True
    if pid == os.getpid():
        return started is None or started == process_started(pid)
    now = process_started(pid)
    if now is not None:
        return started is None or now == started
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
