"""Recordings: the JSON Lines format every stream is kept in (a contract, see the docs).

Line 1 is a header, every other line one event::

    {"streamwidget": "recording", "version": 1, "provider": "openai", "model": "...", ...}
    {"t": 0.412, "type": "text", "text": "Hel"}

:meth:`Recording.load` is strict by default and raises :class:`RecordingError` naming the
file, the line and what is wrong. With ``strict=False`` it keeps every valid line and lists
the problems in :attr:`Recording.problems`, so a damaged file still gives up what it holds.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from .document import Document
from .events import TERMINAL_TYPES, Event, EventError, validate_event

FORMAT_VERSION = 1
#: How much of an event's payload a one-line row shows (the Player's inspector, ``show --events``).
PAYLOAD_CHARS = 160


def event_row(index: int, event: dict[str, Any]) -> dict[str, Any]:
    """One event as a row: index, time, type and the payload as short JSON."""
    payload = {k: v for k, v in event.items() if k not in ("t", "type")}
    text = json.dumps(payload, ensure_ascii=False, default=str)
    short = text if len(text) <= PAYLOAD_CHARS else text[: PAYLOAD_CHARS - 1] + "…"
    return {
        "i": index,
        "t": float(event.get("t", 0.0)),
        "type": event.get("type"),
        "payload": short,
    }


class RecordingError(ValueError):
    """A recording cannot be read. ``source``/``line`` say where, the message says what."""

    def __init__(self, message: str, *, source: str = "<recording>", line: int | None = None):
        self.source = source
        self.line = line
        self.reason = message
        where = f"{source}, line {line}" if line is not None else source
        super().__init__(f"{where}: {message}")


@contextlib.contextmanager
def file_errors(source: str) -> Iterator[None]:
    """A recording file that cannot be opened or read raises :class:`RecordingError`."""
    try:
        yield
    except FileNotFoundError:
        raise RecordingError("no such file", source=source) from None
    except IsADirectoryError:
        raise RecordingError("is a directory, not a .jsonl recording", source=source) from None
    except OSError as exc:
        raise RecordingError(f"cannot be read: {exc.strerror}", source=source) from None


@dataclass
class Problem:
    """One bad line skipped by a lenient load."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass
class Recording:
    """A header and its timed events; the unit of replay, export and import."""

    header: dict[str, Any]
    events: list[Event] = field(default_factory=list)
    #: Where it was loaded from (a path or a bundled name), for messages.
    source: str = "<recording>"
    #: Lines skipped by ``load(..., strict=False)``.
    problems: list[Problem] = field(default_factory=list)

    # -- construction -----------------------------------------------------------------

    @classmethod
    def new(
        cls,
        *,
        provider: str,
        model: str,
        request: dict[str, Any] | None = None,
        events: Iterable[Event] = (),
        **extra: Any,
    ) -> Recording:
        header = {
            "streamwidget": "recording",
            "version": FORMAT_VERSION,
            "provider": provider,
            "model": model,
            "created_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "request": request or {},
            **extra,
        }
        return cls(header, list(events))

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, strict: bool = True) -> Recording:
        """Read a ``.jsonl`` recording file."""
        source = os.fspath(path)
        try:
            with file_errors(source):
                text = Path(path).read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise RecordingError(
                f"not UTF-8 text ({exc.reason} at byte {exc.start})", source=source
            ) from None
        return cls.loads(text, source=source, strict=strict)

    @classmethod
    def loads(cls, text: str, *, source: str = "<recording>", strict: bool = True) -> Recording:
        """Parse recording text. See the module docstring for ``strict``."""
        # JSON Lines ends lines with \n only: str.splitlines() would also split inside a
        # string at U+2028 and other separators that JSON allows unescaped
        lines = [line.removesuffix("\r") for line in text.split("\n")]
        first = next((i for i, line in enumerate(lines) if line.strip()), None)
        if first is None:
            raise RecordingError("empty: a recording needs a header line", source=source)
        header = _parse_header(lines[first], source, first + 1)
        recording = cls(header, [], source)
        last_t = 0.0
        terminal_seen = False
        for index in range(first + 1, len(lines)):
            line = lines[index]
            if not line.strip():
                continue
            try:
                event = validate_event(_json_line(line))
                if event["t"] < last_t:
                    raise EventError(f"t={event['t']} goes back in time (previous t={last_t})")
                if terminal_seen:
                    raise EventError(f"'{event['type']}' event after the stream already ended")
            except (EventError, ValueError) as exc:
                if strict:
                    raise RecordingError(str(exc), source=source, line=index + 1) from None
                recording.problems.append(Problem(index + 1, str(exc)))
                continue
            last_t = float(event["t"])
            terminal_seen = event["type"] in TERMINAL_TYPES
            recording.events.append(event)
        return recording

    @classmethod
    def bundled(cls, name: str) -> Recording:
        """A recording that ships with streamwidget, by name (see :func:`bundled_names`)."""
        stem = name.removesuffix(".jsonl")
        resource = resources.files("streamwidget") / "recordings" / f"{stem}.jsonl"
        if not resource.is_file():
            known = ", ".join(bundled_names()) or "none"
            raise RecordingError(
                f"no bundled recording named {name!r} (bundled: {known})", source=name
            )
        return cls.loads(resource.read_text(encoding="utf-8"), source=f"bundled:{stem}")

    @classmethod
    def find(cls, name_or_path: str | os.PathLike[str], *, strict: bool = True) -> Recording:
        """A path to a ``.jsonl`` file, or the name of a bundled recording."""
        found = cls.lookup(name_or_path, strict=strict)
        return found if found is not None else cls.bundled(os.fspath(name_or_path))

    @classmethod
    def lookup(
        cls, name_or_path: str | os.PathLike[str], *, strict: bool = True
    ) -> Recording | None:
        """The recording a name means without a store: a ``.jsonl`` file at that path, else a
        bundled recording of that name; ``None`` if it is neither (it may be a stream id).
        The one place a recording's name is resolved; :func:`streamwidget.transfer.
        open_recording` adds handles and stream ids."""
        path = Path(name_or_path)
        if (path.suffix == ".jsonl" and path.exists()) or path.is_file():
            return cls.load(path, strict=strict)
        name = os.fspath(name_or_path)
        if name.removesuffix(".jsonl") in bundled_names():
            return cls.bundled(name)
        return None

    # -- output -----------------------------------------------------------------------

    def dumps(self) -> str:
        lines = [_dump(self.header)]
        lines.extend(_dump(event) for event in self.events)
        return "\n".join(lines) + "\n"

    def save(self, path: str | os.PathLike[str]) -> Path:
        path = Path(path)
        path.write_text(self.dumps(), encoding="utf-8")
        return path

    # -- reading ----------------------------------------------------------------------

    @property
    def provider(self) -> str:
        return str(self.header.get("provider", ""))

    @property
    def model(self) -> str:
        return str(self.header.get("model", ""))

    @property
    def duration(self) -> float:
        return float(self.events[-1]["t"]) if self.events else 0.0

    def document(self) -> Document:
        """The document these events build (what the store holds for this stream)."""
        return Document.from_events(
            self.events, model=self.model or None, provider=self.provider or None
        )

    def __len__(self) -> int:
        return len(self.events)

    def __repr__(self) -> str:
        return (
            f"<Recording {self.source} provider={self.provider!r} model={self.model!r} "
            f"events={len(self.events)} duration={self.duration:.2f}s>"
        )


def bundled_names() -> list[str]:
    """Names of the recordings that ship with streamwidget."""
    folder = resources.files("streamwidget") / "recordings"
    return sorted(
        p.name.removesuffix(".jsonl") for p in folder.iterdir() if p.name.endswith(".jsonl")
    )


def _dump(obj: dict[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def _json_line(line: str) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        raise EventError(f"not valid JSON ({exc.msg} at column {exc.colno})") from None


def _parse_header(line: str, source: str, number: int) -> dict[str, Any]:
    try:
        header = _json_line(line)
    except EventError as exc:
        raise RecordingError(f"header {exc}", source=source, line=number) from None
    if not isinstance(header, dict) or header.get("streamwidget") != "recording":
        raise RecordingError(
            'the first line must be a header like {"streamwidget": "recording", "version": 1, ...}'
            " — is this a streamwidget recording?",
            source=source,
            line=number,
        )
    version = header.get("version")
    if version != FORMAT_VERSION:
        raise RecordingError(
            f"recording format version {version!r} is not supported (this streamwidget reads "
            f"version {FORMAT_VERSION}); upgrade streamwidget",
            source=source,
            line=number,
        )
    return header
