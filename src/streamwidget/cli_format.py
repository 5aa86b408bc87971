"""What the command line prints: tables that fit the terminal, numbers, progress.

Tables fit the width (``$COLUMNS``, the terminal, else 80): optional columns are left out
first, then headers wrap at spaces and long text cells wrap onto more lines (or are cut, per
column); numbers are never cut. The caller notes what was left out (on stderr).
"""

from __future__ import annotations

import argparse
import json
import operator
import re
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TextIO

GAP = 2  # spaces between columns


class CommandError(Exception):
    """A command cannot go on; the message is printed as ``streamwidget: error: ...``."""


@dataclass(frozen=True)
class Column:
    """One column: its header, how a row shows in it, and how it gives way when narrow."""

    header: str
    show: Callable[[dict[str, Any]], Any]
    right: bool = False  # right-aligned, never cut (numbers)
    #: Text wider than the column: "wrap" onto more lines, "cut" with "…", or "prefix" (cut
    #: plainly: a stream id's prefix still names it).
    overflow: Literal["wrap", "cut", "prefix"] = "wrap"
    narrowest: int = 8  # text columns shrink down to this (or to their longest header word)
    #: Which columns give way first when the table is too wide: below OPTIONAL, a column is
    #: left out rather than wrap anything; from OPTIONAL up, only when even the narrowest
    #: layout does not fit. Lowest first; the rightmost among equals.
    keep: int = 5


OPTIONAL = 3


class Parser(argparse.ArgumentParser):
    """argparse, plus "did you mean" for a mistyped command or choice."""

    def error(self, message: str) -> Any:
        import difflib

        wrong = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if wrong:
            choices = re.findall(r"'([^']*)'", wrong[2]) or [c.strip() for c in wrong[2].split(",")]
            close = difflib.get_close_matches(wrong[1], choices, n=1)
            if close:
                message += f"; did you mean {close[0]!r}?"
        return super().error(message)


def version_line(prog: str) -> str:
    import platform

    from ._version import __version__

    return f"{prog} {__version__} (Python {platform.python_version()})"


def terminal_width() -> int:
    return max(40, shutil.get_terminal_size((80, 24)).columns)


def render(
    rows: Sequence[dict[str, Any]], columns: Sequence[Column], width: int | None = None
) -> tuple[str, list[str]]:
    """The table as text, and the headers of the columns left out to fit ``width``."""
    width = width or terminal_width()
    cells = [[str(col.show(row)) for col in columns] for row in rows]
    sizes = [_sizes(col, [r[i] for r in cells]) for i, col in enumerate(columns)]

    def room(shown: list[int]) -> int:
        return width - GAP * (len(shown) - 1)

    shown = list(range(len(columns)))
    # Optional columns go while anything would have to wrap; any column while nothing fits.
    for size, limit in ((0, OPTIONAL), (1, None)):
        while len(shown) > 1 and sum(sizes[i][size] for i in shown) > room(shown):
            candidates = [i for i in shown if limit is None or columns[i].keep < limit]
            if not candidates:
                break
            shown.remove(min(reversed(candidates), key=lambda i: columns[i].keep))
    used = [columns[i] for i in shown]
    widths = _widths(used, [sizes[i] for i in shown], room(shown))
    lines = _block([c.header for c in used], used, widths, header=True)
    for row in cells:
        lines += _block([row[i] for i in shown], used, widths)
    hidden = [c.header for i, c in enumerate(columns) if i not in shown]
    return "\n".join(lines), hidden


def _sizes(col: Column, values: Sequence[str]) -> tuple[int, int]:
    """A column's natural width (nothing wraps) and its narrowest."""
    longest = max((len(v) for v in values), default=0)
    word = max((len(w) for w in col.header.split()), default=0)
    natural = max(longest, len(col.header))
    return natural, max(longest, word) if col.right else min(natural, max(col.narrowest, word))


def _widths(columns: Sequence[Column], sizes: Sequence[tuple[int, int]], room: int) -> list[int]:
    """Widths within ``room``, from the narrowest up. Spare room goes to wrapping text first
    (whole columns smallest-need first, so few wrap; then to the one missing most), then to
    number headers, last to columns that cut (a cut id still works as a prefix)."""
    widths = [least for _, least in sizes]
    spare = room - sum(widths)
    groups = [
        [i for i, c in enumerate(columns) if not c.right and c.overflow == "wrap"],
        [i for i, c in enumerate(columns) if c.right],
        [i for i, c in enumerate(columns) if not c.right and c.overflow != "wrap"],
    ]
    for group in groups:
        for i in sorted(group, key=lambda k: sizes[k][0] - sizes[k][1]):
            need = sizes[i][0] - widths[i]
            if 0 < need <= spare:
                widths[i] += need
                spare -= need
        while spare > 0 and any(widths[i] < sizes[i][0] for i in group):
            i = max(group, key=lambda k: sizes[k][0] - widths[k])
            widths[i] += 1
            spare -= 1
    return widths


def _block(
    values: Sequence[str], columns: Sequence[Column], widths: Sequence[int], header: bool = False
) -> list[str]:
    """One row (or the header) as one or more lines."""
    parts = [_lines(v, c, w, header) for v, c, w in zip(values, columns, widths)]
    height = max(len(p) for p in parts)
    lines = []
    for k in range(height):
        line = []
        for part, col, w in zip(parts, columns, widths):
            text = part[k] if k < len(part) else ""
            line.append(text.rjust(w) if col.right else text.ljust(w))
        lines.append((" " * GAP).join(line).rstrip())
    return lines


def _lines(value: str, col: Column, width: int, header: bool) -> list[str]:
    if len(value) <= width:
        return [value]
    if header or col.overflow == "wrap":
        return wrap(value, width)
    if col.overflow == "prefix":
        return [value[:width]]
    return [value[: width - 1] + "…"]


def wrap(text: str, width: int) -> list[str]:
    """Lines of at most ``width``, broken after spaces, '/', '-', '_' or '.' where possible."""
    lines: list[str] = []
    line = ""
    for piece in re.findall(r"[^ /_.-]*[ /_.-]?", text):
        if len(line) + len(piece.rstrip()) <= width:
            line += piece
            continue
        if line.strip():
            lines.append(line.rstrip())
        while len(piece.rstrip()) > width:  # a word longer than the column: break it
            lines.append(piece[:width])
            piece = piece[width:]
        line = piece
    if line.strip() or not lines:
        lines.append(line.rstrip())
    return lines


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str], width: int | None = None) -> str:
    """A plain table from lists; headers starting with '>' are right-aligned (numbers)."""
    columns = [
        Column(h.lstrip(">"), operator.itemgetter(i), right=h.startswith(">"), overflow="cut")
        for i, h in enumerate(headers)
    ]
    text, _ = render([dict(enumerate(r)) for r in rows], columns, width)  # type: ignore[arg-type]
    return text


def secs(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def num(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}"


def json_default(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False, default=json_default))


class Progress:
    """Progress on stderr, as ``progress(done, total, label)`` is called.

    ``"bar"``: a one-line bar redrawn in place (a terminal, or ``--progress``). ``"lines"``:
    when stderr is not a terminal (e.g. ``!streamwidget ...`` in a notebook), a plain line at
    most once a second, and only once the work has taken a second. ``"off"``: nothing.
    """

    def __init__(
        self,
        mode: Literal["auto", "bar", "lines", "off"] | bool = "auto",
        stream: TextIO | None = None,
        width: int = 24,
        what: str = "",
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.stream = stream or sys.stderr
        if mode is True or mode == "auto":  # True: the old "enabled" flag
            mode = "bar" if mode is True or self.stream.isatty() else "lines"
        self.mode = "off" if mode is False else mode
        self.width, self.what, self.interval, self.clock = width, what, interval, clock
        self.started = clock()
        self.last = self.started
        self.printed = False

    def __call__(self, done: int, total: int, label: str) -> None:
        if self.mode == "off" or total <= 0:
            return
        if self.mode == "bar":
            self._bar(done, total, label)
            return
        now = self.clock()
        final = done >= total
        if (now - self.last < self.interval or now - self.started < self.interval) and not (
            final and self.printed
        ):
            return
        self.last, self.printed = now, True
        what = f" {self.what}" if self.what else ""
        self.stream.write(f"{done}/{total}{what} ({now - self.started:.1f} s) {label}\n")
        self.stream.flush()

    def _bar(self, done: int, total: int, label: str) -> None:
        filled = round(self.width * done / total)
        bar = "#" * filled + "." * (self.width - filled)
        name = label if len(label) <= 40 else "…" + label[-39:]
        self.stream.write(f"\r[{bar}] {done}/{total} {name:<40}")
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()
