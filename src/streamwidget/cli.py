"""The ``streamwidget`` command (also ``python -m streamwidget``).

::

    streamwidget ls                      streams in the store, with status and metrics
    streamwidget show ID                 one stream: metrics, tool calls, error, text
    streamwidget replay FILE|NAME|ID     print a stream at its recorded pace (--speed)
    streamwidget export [ID...] -o OUT   to JSONL (a file or a folder) or Parquet
    streamwidget import PATH...          JSONL recordings or a Parquet export
    streamwidget stats [--by model]      the analytics views
    streamwidget demo                    JupyterLab on the demo notebooks

``--store PATH`` works with every command (default: ``$STREAMWIDGET_STORE``, else the
per-user store). Stream ids may be shortened to any unique prefix. Exit codes: 0 ok, 1 the
command failed (the message says why), 2 bad usage.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from .document import Document

PROG = "streamwidget"


class CommandError(Exception):
    """A command cannot go on; the message is printed as ``streamwidget: error: ...``."""


class Progress:
    """A one-line progress bar on stderr (only when stderr is a terminal, or when forced)."""

    def __init__(self, enabled: bool, stream: TextIO = sys.stderr, width: int = 24):
        self.enabled = enabled
        self.stream = stream
        self.width = width

    def __call__(self, done: int, total: int, label: str) -> None:
        if not self.enabled or total <= 0:
            return
        filled = round(self.width * done / total)
        bar = "#" * filled + "." * (self.width - filled)
        name = label if len(label) <= 40 else "…" + label[-39:]
        self.stream.write(f"\r[{bar}] {done}/{total} {name:<40}")
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()


# -- formatting -------------------------------------------------------------------------------


def _secs(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def _num(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}"


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str:
    """A plain text table; columns whose header starts with '>' are right-aligned."""
    right = [h.startswith(">") for h in headers]
    names = [h.lstrip(">") for h in headers]
    cells = [[str(c) for c in row] for row in rows]
    widths = [max([len(n)] + [len(r[i]) for r in cells]) for i, n in enumerate(names)]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if r else v.ljust(w) for v, w, r in zip(values, widths, right)]
        return "  ".join(parts).rstrip()

    return "\n".join([line(names)] + [line(r) for r in cells])


def _json_default(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False, default=_json_default))


def _dicts(relation: Any) -> list[dict[str, Any]]:
    return [dict(zip(relation.columns, row)) for row in relation.fetchall()]


# -- the store --------------------------------------------------------------------------------


@contextlib.contextmanager
def _open_store(args: argparse.Namespace) -> Iterator[Any]:
    from .store import Store

    store = Store(args.store) if args.store else Store()
    try:
        yield store
    finally:
        store.close()


def _resolve_id(store: Any, text: str) -> str:
    """A stream id from a unique prefix of it."""
    rows = store.sql(
        "SELECT id FROM streams WHERE starts_with(id, $1) ORDER BY id LIMIT 6", [text]
    ).fetchall()
    ids = [row[0] for row in rows]
    if text in ids:
        return text
    if len(ids) == 1:
        return ids[0]
    if not ids:
        raise CommandError(f"no stream {text!r} in the store {store.path} (see `{PROG} ls`)")
    raise CommandError(f"{text!r} matches several streams: {', '.join(ids)}")


def _recording(store: Any, source: str) -> Any:
    """A recording from a file, a bundled name or a stream id (prefix) in the store."""
    from .recording import Recording, bundled_names

    if Path(source).is_file():
        return Recording.load(source)
    if source.removesuffix(".jsonl") in bundled_names():
        return Recording.bundled(source)
    return store.recording(_resolve_id(store, source))


# -- commands ---------------------------------------------------------------------------------


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


def _tools(row: dict[str, Any]) -> str:
    failed = row["tool_failures"]
    return f"{row['tool_calls']}" + (f" ({failed} failed)" if failed else "")


#: Columns of the tables: (header, '>' = right-aligned, how to show a row).
Column = tuple[str, bool, Any]
_LS: list[Column] = [
    ("id", False, lambda r: r["stream_id"]),
    ("created", False, lambda r: _when(r["created_at"])),
    ("status", False, lambda r: r["status"]),
    ("model", False, lambda r: "/".join(x for x in (r["provider"], r["model"]) if x)),
    ("events", True, lambda r: _num(r["events"])),
    ("ttft", True, lambda r: _secs(r["ttft"])),
    ("duration", True, lambda r: _secs(r["duration"])),
    ("tokens", True, lambda r: _num(r["output_tokens"])),
    ("tok/s", True, lambda r: _num(r["tokens_per_s"])),
    ("stalls", True, lambda r: r["stalls"]),
    ("tools", True, _tools),
]


def _columns(names: str) -> list[Column]:
    """Columns straight from the stats relation: ``"name:secs other:num ..."``."""
    shown = {"secs": _secs, "num": _num, "str": lambda v: "" if v is None else str(v)}
    out: list[Column] = []
    for item in names.split():
        name, kind = item.split(":")
        out.append((name, kind != "str", lambda r, n=name, f=shown[kind]: f(r[n])))
    return out


_STATS: dict[str, list[Column]] = {
    "stream": _columns(
        "stream_id:str status:str model:str ttft:secs duration:secs output_tokens:num "
        "tokens_per_s:num gap_p50:secs gap_p95:secs gap_max:secs stalls:num tool_failures:num"
    ),
    "model": _columns(
        "provider:str model:str streams:num complete:num errors:num ttft_p50:secs "
        "ttft_p95:secs tokens_per_s_avg:num output_tokens:num stalls:num tool_calls:num "
        "tool_failures:num"
    ),
    "tool": _columns(
        "stream_id:str name:str call_id:str status:str duration:secs run_time:secs error:str"
    ),
}


def _show_table(rows: list[dict[str, Any]], columns: list[Column]) -> None:
    if not rows:
        print("no streams in the store")
        return
    headers = [(">" if right else "") + name for name, right, _ in columns]
    print(table([[show(r) for _, _, show in columns] for r in rows], headers))


def cmd_ls(args: argparse.Namespace) -> int:
    from .analytics import stats

    with _open_store(args) as store:
        rows = _dicts(stats(store))
    rows = [r for r in rows if not args.status or r["status"] == args.status][: args.limit]
    if args.json:
        _print_json(rows)
    else:
        _show_table(rows, _LS)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from .analytics import stats
    from .document import Document
    from .widgets.player import event_row

    with _open_store(args) as store:
        sid = _resolve_id(store, args.id)
        metrics = next(r for r in _dicts(stats(store)) if r["stream_id"] == sid)
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
    from .recording import Recording, bundled_names

    if args.speed < 0:
        raise CommandError("--speed must be >= 0 (0: as fast as possible)")
    source = args.source
    if Path(source).is_file() or source.removesuffix(".jsonl") in bundled_names():
        recording = Recording.find(source)
    else:
        with _open_store(args) as store:
            recording = _recording(store, source)
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


def cmd_export(args: argparse.Namespace) -> int:
    from .transfer import Redactor, export_jsonl, export_parquet, select_streams

    fmt = args.format or ("parquet" if args.output.endswith(".parquet") else "jsonl")
    redact: Any = False if args.no_redact else Redactor(args.redact or None)
    progress = Progress(args.progress or sys.stderr.isatty())
    with _open_store(args) as store:
        wanted = [_resolve_id(store, i) for i in args.ids] or None
        ids = select_streams(store, wanted, args.conversation)
        export = export_parquet if fmt == "parquet" else export_jsonl
        export(args.output, store=store, streams=ids, redact=redact, progress=progress)
    note = f"{redact.count} secret(s) redacted" if redact else "not redacted"
    print(f"exported {len(ids)} stream(s) to {args.output} ({fmt}; {note})")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from .transfer import BadLinesError, import_paths

    progress = Progress(args.progress or sys.stderr.isatty())
    with _open_store(args) as store:
        try:
            result = import_paths(
                args.paths, store=store, skip_bad=args.skip_bad, progress=progress
            )
        except BadLinesError as exc:
            for problem in exc.problems:
                print(f"{PROG}: bad line: {problem}", file=sys.stderr)
            print(
                f"{PROG}: error: {len(exc.problems)} bad line(s); nothing was imported "
                "(--skip-bad imports the good lines)",
                file=sys.stderr,
            )
            return 1
    for problem in result.problems:
        print(f"{PROG}: skipped: {problem}", file=sys.stderr)
    print(
        f"imported {len(result.imported)} stream(s), {len(result.duplicates)} already in the "
        f"store" + (f", {len(result.problems)} bad line(s) skipped" if result.problems else "")
    )
    for sid in result.imported:
        print(f"  {sid}")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    from .analytics import stats

    with _open_store(args) as store:
        relation = stats(store, by=args.by, stall_threshold=args.stall_threshold)
        rows = _dicts(relation)
    if args.json:
        _print_json(rows)
    elif args.csv:
        import csv

        writer = csv.writer(sys.stdout)
        writer.writerow(relation.columns)
        for row in rows:
            writer.writerow(["" if v is None else _json_default(v) for v in row.values()])
    else:
        _show_table(rows, _STATS[args.by])
    return 0


def demo_folder(explicit: str | None = None) -> Path:
    """The notebooks to open: ``explicit``, a source checkout's ``notebooks/``, else a folder
    ``streamwidget-demo/`` in the current directory with a small notebook written into it."""
    if explicit:
        return Path(explicit)
    checkout = Path(__file__).resolve().parents[2] / "notebooks"
    if any(checkout.glob("*.ipynb")):
        return checkout
    folder = Path.cwd() / "streamwidget-demo"
    folder.mkdir(exist_ok=True)
    notebook = folder / "replay-demo.ipynb"
    if not notebook.exists():
        sources = [
            "import streamwidget as sw\nsw.bundled_recordings()",
            'sw.replay("markdown-tour", speed=8)',
            'sw.Player("weather-tool-error")',
            "sw.stats()",
        ]
        cell = {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": []}
        cells = [{**cell, "id": f"c{i}", "source": src} for i, src in enumerate(sources)]
        meta = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}}
        notebook.write_text(json.dumps({**meta, "cells": cells}, indent=1))
    return folder


def cmd_demo(args: argparse.Namespace) -> int:
    folder = demo_folder(args.dir)
    command = [sys.executable, "-m", "jupyterlab", str(folder)]
    if args.port:
        command.append(f"--ServerApp.port={args.port}")
    if args.no_browser:
        command.append("--no-browser")
    if args.dry_run:
        print(" ".join(command))
        return 0
    if shutil.which("jupyter-lab") is None and not _has_module("jupyterlab"):
        raise CommandError("JupyterLab is not installed: pip install 'streamwidget[demo]'")
    env = dict(os.environ)
    if args.store:
        env["STREAMWIDGET_STORE"] = args.store
    with contextlib.suppress(KeyboardInterrupt):
        return subprocess.call(command, env=env)
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from .store import Store
    from .store_migrate import migrate

    with _open_store(args) as source, Store(args.target) as target:
        result = migrate(source, target)
        print(
            f"copied {result.conversations} conversation(s), {result.messages} message(s) and "
            f"{len(result.streams)} stream(s) from {source.path} to {target.path}"
        )
    if result.skipped_open:
        print(f"{len(result.skipped_open)} stream(s) still streaming: run migrate again later")
    return 0


def _has_module(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


# -- the parser -------------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    main_parser = argparse.ArgumentParser(
        prog=PROG, description="Inspect, replay, export and import streamwidget streams."
    )
    main_parser.add_argument(
        "--store",
        metavar="PATH",
        help="the store file (default: $STREAMWIDGET_STORE, else the per-user store)",
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--store", metavar="PATH", default=argparse.SUPPRESS, help="the store file")
    sub = main_parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, help_: str, func: Any) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_, parents=[common])
        p.set_defaults(func=func)
        return p

    p = add("ls", "list the streams in the store with status and metrics", cmd_ls)
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--status", help="only streams with this status")
    p.add_argument("--json", action="store_true")
    p = add("show", "one stream: metrics, tool calls, error and text", cmd_show)
    p.add_argument("id", help="stream id (or a unique prefix)")
    p.add_argument("--events", action="store_true", help="list every event too")
    p.add_argument("--json", action="store_true")
    p = add("replay", "print a stream to the terminal at its recorded pace", cmd_replay)
    p.add_argument(
        "source",
        metavar="FILE|NAME|ID",
        help="a .jsonl recording, a bundled recording's name, or a stream id",
    )
    p.add_argument("--speed", type=float, default=1.0, help="1: recorded pace; 0: instant")
    p = add(
        "migrate",
        "copy the whole store (conversations, messages, streams) into another store",
        cmd_migrate,
    )
    p.add_argument("target", metavar="TARGET", help="a .duckdb file or a postgresql:// DSN")
    p = add("export", "export streams to JSONL recordings or Parquet", cmd_export)
    p.add_argument("ids", nargs="*", metavar="ID", help="streams to export (default: all)")
    p.add_argument(
        "-o",
        "--output",
        required=True,
        help="a .jsonl file (one stream), a folder, or a .parquet file",
    )
    p.add_argument("--conversation", help="export this conversation's streams")
    p.add_argument("--format", choices=["jsonl", "parquet"])
    p.add_argument("--no-redact", action="store_true", help="keep secrets (default: redact)")
    p.add_argument(
        "--redact",
        action="append",
        metavar="REGEX",
        help="a pattern to redact instead of the defaults (repeatable)",
    )
    p.add_argument("--progress", action="store_true", help="show progress even off a terminal")
    p = add("import", "import JSONL recordings or a Parquet export", cmd_import)
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument(
        "--skip-bad", action="store_true", help="import the good lines of files with bad lines"
    )
    p.add_argument("--progress", action="store_true", help="show progress even off a terminal")
    p = add("stats", "metrics per stream, model or tool call", cmd_stats)
    p.add_argument("--by", choices=["stream", "model", "tool"], default="stream")
    p.add_argument("--stall-threshold", type=float, default=0.5, metavar="SECONDS")
    form = p.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true")
    form.add_argument("--csv", action="store_true")
    p = add("demo", "open JupyterLab on the demo notebooks", cmd_demo)
    p.add_argument("--dir", help="the folder to open (default: the checkout's notebooks/)")
    p.add_argument("--port", type=int)
    p.add_argument("--no-browser", action="store_true")
    p.add_argument("--dry-run", action="store_true", help="print the command, do not run it")
    return main_parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    from .recording import RecordingError
    from .store import StoreError
    from .transfer import TransferError

    try:
        args = parser().parse_args(argv)
    except SystemExit as exc:  # --help, or bad usage (argparse printed why)
        return int(exc.code or 0)
    try:
        return int(args.func(args))
    except (CommandError, TransferError, StoreError, RecordingError, KeyError, ValueError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `streamwidget ls | head`
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
