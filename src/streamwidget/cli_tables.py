"""The tables of ``streamwidget ls`` and ``stats``: which columns, how each shows a row, and
which give way first on a narrow terminal (see :mod:`.cli_format`)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from .cli_format import Column, render
from .cli_format import num as _num
from .cli_format import secs as _secs


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


def _tools(row: dict[str, Any]) -> str:
    failed = row["tool_failures"]
    return f"{row['tool_calls']}" + (f" ({failed} failed)" if failed else "")


#: The tables' columns; ``keep`` says what stays when the terminal is narrow.
LS: list[Column] = [
    Column("id", lambda r: r["stream_id"], overflow="prefix", narrowest=10, keep=9),
    Column("created", lambda r: _when(r["created_at"]), narrowest=10, keep=2),
    Column("status", lambda r: r["status"], keep=9),
    Column("model", lambda r: "/".join(x for x in (r["provider"], r["model"]) if x), keep=8),
    Column("events", lambda r: _num(r["events"]), right=True, keep=0),
    Column("ttft", lambda r: _secs(r["ttft"]), right=True, keep=5),
    Column("duration", lambda r: _secs(r["duration"]), right=True, keep=4),
    Column("tokens", lambda r: _num(r["output_tokens"]), right=True, keep=6),
    Column("tok/s", lambda r: _num(r["tokens_per_s"]), right=True, keep=1),
    Column("stalls", lambda r: r["stalls"], right=True, keep=1),
    Column("tools", _tools, right=True, keep=3),
]


def _cell(name: str, show: Callable[[Any], str]) -> Callable[[dict[str, Any]], str]:
    """How a row shows in the column of field ``name``."""
    return lambda row: show(row[name])


def _columns(spec: str) -> list[Column]:
    """Columns straight from a stats relation: ``"name:kind:keep[:header]; ..."``."""
    shown: dict[str, Callable[[Any], str]] = {
        "secs": _secs,
        "num": _num,
        "str": lambda v: "" if v is None else str(v),
    }
    out: list[Column] = []
    for item in spec.split(";"):
        name, kind, keep, *header = item.strip().split(":")
        show = shown[kind]
        out.append(
            Column(
                header[0] if header else name,
                _cell(name, show),
                right=kind != "str",
                overflow="prefix" if name.endswith("_id") else "cut" if name == "error" else "wrap",
                narrowest=10 if name.endswith("_id") else 8,
                keep=int(keep),
            )
        )
    return out


STATS: dict[str, list[Column]] = {
    "stream": _columns(
        "stream_id:str:9:id; status:str:9; model:str:8; ttft:secs:5; duration:secs:4; "
        "output_tokens:num:6:tokens; tokens_per_s:num:2:tok/s; gap_p50:secs:1:gap p50; "
        "gap_p95:secs:2:gap p95; gap_max:secs:4:gap max; stalls:num:3; "
        "tool_failures:num:1:tool fails"
    ),
    "model": _columns(
        "provider:str:9; model:str:9; streams:num:8; complete:num:1; errors:num:6; "
        "ttft_p50:secs:7:ttft p50; ttft_p95:secs:4:ttft p95; tokens_per_s_avg:num:5:tok/s avg; "
        "output_tokens:num:4:out tokens; stalls:num:3; tool_calls:num:2:tool calls; "
        "tool_failures:num:3:tool fails"
    ),
    "tool": _columns(
        "stream_id:str:9:stream; name:str:9; call_id:str:2:call; status:str:9; "
        "duration:secs:5; run_time:secs:4:run time; error:str:6"
    ),
}


def show_table(rows: list[dict[str, Any]], columns: list[Column]) -> None:
    if not rows:
        print("no streams in the store")
        return
    text, hidden = render(rows, columns)
    print(text)
    if hidden:
        print(
            f"({len(hidden)} column(s) left out to fit the width: {', '.join(hidden)}; "
            "set COLUMNS wider, or use --json)",
            file=sys.stderr,
        )
