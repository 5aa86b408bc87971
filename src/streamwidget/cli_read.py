"""The commands that read: ``ls``, ``show``, ``replay``, ``stats``."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import TYPE_CHECKING

from .cli_format import CommandError, table
from .cli_format import json_default as _json_default
from .cli_format import num as _num
from .cli_format import print_json as _print_json
from .cli_format import secs as _secs
from .cli_store import dicts, open_store, recording_of, resolve_id
from .cli_tables import LS, STATS, show_table

if TYPE_CHECKING:
    from .document import Document


def cmd_ls(args: argparse.Namespace) -> int:
    from .analytics import stats

    with open_store(args) as store:  # the newest, picked in SQL: only their events are read
        rows = dicts(stats(store, status=args.status or None, limit=max(args.limit, 0)))
    if args.json:
        _print_json(rows)
    else:
        show_table(rows, LS)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from .analytics import stats
    from .document import Document
    from .recording import event_row

    with open_store(args) as store:
        sid = resolve_id(store, args.id)
        [metrics] = dicts(stats(store, streams=[sid]))
        doc = store.get(sid)
        events = store.events(sid)
    if args.json:
        _print_json({"document": doc.to_dict(), "metrics": metrics, "events": events})
        return 0
    where = "/".join(x for x in (doc.provider, doc.model) if x)
    print(f"{sid}  {doc.status}  {where}  created {metrics['created_at']:%Y-%m-%d %H:%M:%S}")
    source = "usage" if metrics["tokens_source"] == "usage" else "text events"
    print(
        f"{metrics['events']} events · TTFT {_secs(metrics['ttft'])} · duration "
        f"{_secs(metrics['duration'])} · {_num(metrics['output_tokens'])} tokens ({source}) · "
        f"{_num(metrics['tokens_per_s'])} tok/s · gaps p50 {_secs(metrics['gap_p50'])} "
        f"p95 {_secs(metrics['gap_p95'])} max {_secs(metrics['gap_max'])} · "
        f"{metrics['stalls']} stalls > 0.5 s"
    )
    if doc.error:
        print(f"error: {doc.error['kind']}: {doc.error['message']}")
    if args.events:
        rows = [event_row(i, e) for i, e in enumerate(events)]
        print(
            table(
                [[r["i"] + 1, f"{r['t']:.3f}", r["type"], r["payload"]] for r in rows],
                [">#", ">t", "type", "payload"],
            )
        )
    # The reply in the order it happened, from its events (the store keeps no parts yet).
    replayed = Document.from_events(events)
    print("\n--- reply ---")
    print("\n".join(_reply_lines(replayed)) or "(no text)")
    return 0


def _reply_lines(doc: Document) -> list[str]:
    """A document's parts in order: thinking labelled and indented, tool calls, text."""
    lines: list[str] = []
    for part, content in doc.read_parts():
        if part.kind == "reasoning":
            lines.append(f"[thinking{_took(part.t0, part.t1)}]")
            lines += ["  " + line for line in content.strip("\n").split("\n")]
            lines.append("[/thinking]")
        elif part.kind == "text":
            lines.append(content.strip("\n"))
        elif part.kind == "tool" and content is not None:
            lines.append(
                f"[tool {content.name} ({content.id}): {content.status}"
                f"{_took(content.started_at, content.ended_at)}]"
            )
            if content.error:
                lines.append(f"  error: {content.error}")
        elif part.kind == "notice":
            lines.append(f"[notice] {content}")
    return lines


def _took(t0: float | None, t1: float | None) -> str:
    return f", {_secs(t1 - t0)}" if t0 is not None and t1 is not None else ""


#: Event types replay prints something for (a thinking block ends before any of them).
_SHOWN = frozenset(
    {
        "text",
        "tool_call_end",
        "tool_result",
        "error",
        "finish",
        "cancelled",
        "interrupted",
        "unknown",
    }
)


def cmd_replay(args: argparse.Namespace) -> int:
    from .parts import notice_message
    from .recording import Recording

    if args.speed < 0:
        raise CommandError("--speed must be >= 0 (0: as fast as possible)")
    recording = Recording.lookup(args.source)
    if recording is None:  # a stream id (or a unique prefix) in the store
        with open_store(args) as store:
            recording = recording_of(store, args.source)
    out = sys.stdout
    color = out.isatty() and not os.environ.get("NO_COLOR")
    dim, reset = ("\033[2m", "\033[0m") if color else ("", "")
    start, names, thinking = time.monotonic(), {}, False
    for event in recording.events:
        if args.speed:
            delay = float(event["t"]) / args.speed - (time.monotonic() - start)
            if delay > 0:
                time.sleep(delay)
        kind = event["type"]
        if thinking and kind != "reasoning" and kind in _SHOWN:
            thinking = False  # the model moved on: close the thinking block
            out.write(f"{reset}\n[/thinking]\n\n")
        if kind == "text":
            out.write(event["text"])
        elif kind == "reasoning":
            if not thinking:  # reasoning is labelled and set apart from the answer
                thinking = True
                out.write(f"\n[thinking]\n{dim}  ")
            out.write(event["text"].replace("\n", "\n  "))
        elif kind == "tool_call_start":
            names[event["id"]] = event["name"]
        elif kind == "tool_call_end":
            name = names.get(event["id"], event.get("name", "?"))
            out.write(f"\n[tool] {name} {json.dumps(event['arguments'], ensure_ascii=False)}\n")
        elif kind == "tool_result":
            detail = event.get("error") or json.dumps(event.get("result"), ensure_ascii=False)
            detail = detail if len(detail) <= 120 else detail[:119] + "…"
            out.write(f"[tool] {names.get(event['id'], '?')} -> {event['status']}: {detail}\n")
        elif kind == "error":
            out.write(f"\n[error] {event['kind']}: {event['message']}")
        elif kind == "unknown":
            out.write(f"\n[notice] {notice_message(event)}\n")
        elif kind in ("finish", "cancelled", "interrupted"):
            out.write(f"\n[{kind}{': ' + event['reason'] if kind == 'finish' else ''}]")
        out.flush()
    out.write("\n")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    from .analytics import stats

    with open_store(args) as store:
        limit = args.limit if args.by == "stream" and args.limit > 0 else None
        relation = stats(store, by=args.by, stall_threshold=args.stall_threshold, limit=limit)
        rows = dicts(relation)
    if limit is not None and len(rows) == limit:
        print(f"(the newest {limit} streams; --limit 0 for all)", file=sys.stderr)
    if args.json:
        _print_json(rows)
    elif args.csv:
        import csv

        writer = csv.writer(sys.stdout)
        writer.writerow(relation.columns)
        for row in rows:
            writer.writerow(["" if v is None else _json_default(v) for v in row.values()])
    else:
        show_table(rows, STATS[args.by])
    return 0
