"""The ``streamwidget`` command (also ``python -m streamwidget``).

::

    streamwidget ls                      streams in the store, with status and metrics
    streamwidget show ID                 one stream: metrics, tool calls, error, text
    streamwidget replay FILE|NAME|ID     print a stream at its recorded pace (--speed)
    streamwidget export [ID...] -o OUT   to JSONL (a file or a folder), Parquet or OTLP spans
    streamwidget import PATH...          JSONL recordings or a Parquet export (--from llm)
    streamwidget import --wire W FILE    a raw body captured with curl -N (W: openai, ...)
    streamwidget reparse ID              re-parse a record_wire stream with today's parsers
    streamwidget stats [--by model]      the analytics views
    streamwidget migrate TARGET          copy the whole store into another store
    streamwidget demo                    JupyterLab on the demo notebooks

``--store PATH`` works with every command (default: ``$STREAMWIDGET_STORE``, else the
per-user store). Stream ids may be shortened to any unique prefix. Tables fit the terminal
(``$COLUMNS``, else 80 columns; ``--json`` shows everything). Work that takes a while reports
progress on stderr. Exit codes: 0 ok, 1 the command failed (the message says why), 2 bad usage.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from .cli_demo import cmd_demo
from .cli_format import CommandError, Parser, Progress, table, version_line
from .cli_format import json_default as _json_default
from .cli_format import num as _num
from .cli_format import print_json as _print_json
from .cli_format import secs as _secs
from .cli_tables import LS, STATS, show_table

if TYPE_CHECKING:
    from .document import Document

PROG = "streamwidget"


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
    from .transfer import TransferError, resolve_stream_id

    try:
        return resolve_stream_id(store, text)
    except TransferError as exc:
        hint = f" (see `{PROG} ls`)" if str(exc).startswith("no stream") else ""
        raise CommandError(f"{exc}{hint}") from None


def _recording(store: Any, source: str) -> Any:
    """A recording from a file, a bundled name or a stream id (prefix) in the store."""
    from .recording import Recording

    found = Recording.lookup(source)
    if found is not None:
        return found
    try:
        return store.recording(_resolve_id(store, source))
    except CommandError as exc:
        if "matches several" in str(exc):
            raise
        raise CommandError(_not_a_source(source, store)) from None


def _not_a_source(source: str, store: Any) -> str:
    """Why ``source`` names nothing, with the names that would work."""
    import difflib

    from .recording import bundled_names

    names = bundled_names()
    ids = [row[0] for row in store.sql("SELECT id FROM streams").fetchall()]
    close = difflib.get_close_matches(source.removesuffix(".jsonl"), names + ids, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return (
        f"{source!r} is not a file, a bundled recording or a stream in the store "
        f"{store.path}.{hint} Bundled recordings are: {', '.join(names)}."
    )


# -- commands ---------------------------------------------------------------------------------


def cmd_ls(args: argparse.Namespace) -> int:
    from .analytics import stats

    with _open_store(args) as store:  # the newest, picked in SQL: only their events are read
        rows = _dicts(stats(store, status=args.status or None, limit=max(args.limit, 0)))
    if args.json:
        _print_json(rows)
    else:
        show_table(rows, LS)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from .analytics import stats
    from .document import Document
    from .widgets.player import event_row

    with _open_store(args) as store:
        sid = _resolve_id(store, args.id)
        [metrics] = _dicts(stats(store, streams=[sid]))
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
        with _open_store(args) as store:
            recording = _recording(store, args.source)
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
    from .redaction import Redactor
    from .transfer import export_jsonl, export_parquet, select_streams

    fmt = args.format or ("parquet" if (args.output or "").endswith(".parquet") else "jsonl")
    redact: Any = False if args.no_redact else Redactor(args.redact or None)
    if fmt == "otel":
        return _export_otel(args, redact)
    if not args.output:
        raise CommandError("-o/--output is required (--endpoint works only with --format otel)")
    progress = Progress("bar" if args.progress else "auto", what="streams")
    with _open_store(args) as store:
        wanted = [_resolve_id(store, i) for i in args.ids] or None
        ids = select_streams(store, wanted, args.conversation)
        export = export_parquet if fmt == "parquet" else export_jsonl
        export(args.output, store=store, streams=ids, redact=redact, progress=progress)
    note = f"{redact.count} secret(s) redacted" if redact else "not redacted"
    print(f"exported {len(ids)} stream(s) to {args.output} ({fmt}; {note})")
    return 0


def _export_otel(args: argparse.Namespace, redact: Any) -> int:
    from .otel import export_otel
    from .transfer import select_streams

    if not (args.output or args.endpoint):
        raise CommandError("--format otel needs -o FILE, --endpoint URL, or both")
    with _open_store(args) as store:
        wanted = [_resolve_id(store, i) for i in args.ids] or None
        ids = select_streams(store, wanted, args.conversation)
        out = export_otel(
            ids,
            args.output,
            endpoint=args.endpoint,
            store=store,
            redact=redact,
            content=args.content,
            protocol=args.protocol,
        )
    spans = sum(len(s["spans"]) for r in out["resourceSpans"] for s in r["scopeSpans"])
    where = " and ".join(x for x in (args.output, args.endpoint) if x)
    print(f"exported {len(ids)} stream(s) as {spans} span(s) to {where} (OTLP)")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from .transfer import BadLinesError, import_paths

    if args.wire:
        return _import_wire(args)

    progress = Progress("bar" if args.progress else "auto", what="recordings")
    with _open_store(args) as store:
        try:
            if args.origin == "llm":
                from .import_llm import import_llm

                result = import_llm(args.paths, store=store, progress=progress)
            else:
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


def _import_wire(args: argparse.Namespace) -> int:
    from .wire_import import import_wire

    with _open_store(args) as store:
        for path in args.paths:
            sid = import_wire(path, args.wire, store=store, model=args.model, pace=args.pace)
            doc = store.get(sid)
            calls = len(doc.tool_calls)
            print(f"{sid}  {doc.status}  {doc.text_length} chars, {calls} tool calls  {path}")
    return 0


def cmd_reparse(args: argparse.Namespace) -> int:
    from .wire_import import reparse

    with _open_store(args) as store:
        old_id = _resolve_id(store, args.id)
        new_id = reparse(old_id, store=store)
        old, new = store.get(old_id), store.get(new_id)
    rows = [
        [label, d.stream_id, d.status, d.finish_reason or "-", d.text_length, len(d.tool_calls)]
        for label, d in (("old", old), ("new", new))
    ]
    print(table(rows, ["", "id", "status", "finish", ">chars", ">tools"]))
    same = old.content_equal(new)
    print("same document" if same else f"documents differ: sw.Compare({old_id!r}, {new_id!r})")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    from .analytics import stats

    with _open_store(args) as store:
        limit = args.limit if args.by == "stream" and args.limit > 0 else None
        relation = stats(store, by=args.by, stall_threshold=args.stall_threshold, limit=limit)
        rows = _dicts(relation)
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


def cmd_migrate(args: argparse.Namespace) -> int:
    from .store import Store
    from .store_migrate import migrate

    progress = Progress("bar" if args.progress else "auto", what="streams")
    with _open_store(args) as source, Store(args.target) as target:
        result = migrate(source, target, progress=progress)
        print(
            f"copied {result.conversations} conversation(s), {result.messages} message(s) and "
            f"{len(result.streams)} stream(s) from {source.path} to {target.path}"
        )
    if result.skipped_open:
        print(f"{len(result.skipped_open)} stream(s) still streaming: run migrate again later")
    return 0


# -- the parser -------------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    main_parser = Parser(
        prog=PROG, description="Inspect, replay, export and import streamwidget streams."
    )
    main_parser.add_argument("--version", action="version", version=version_line(PROG))
    main_parser.add_argument(
        "--store",
        metavar="PATH",
        help="the store file (default: $STREAMWIDGET_STORE, else the per-user store)",
    )
    common = Parser(add_help=False)  # only its arguments are used, as parents=
    common.add_argument("--store", metavar="PATH", default=argparse.SUPPRESS, help="the store file")
    sub = main_parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=Parser
    )

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
    p.add_argument("--progress", action="store_true", help="show progress even off a terminal")
    p = add("export", "export streams to JSONL recordings or Parquet", cmd_export)
    p.add_argument("ids", nargs="*", metavar="ID", help="streams to export (default: all)")
    p.add_argument(
        "-o", "--output", help="a .jsonl file (one stream), a folder, a .parquet or OTLP file"
    )
    p.add_argument("--conversation", help="export this conversation's streams")
    p.add_argument("--format", choices=["jsonl", "parquet", "otel"])
    p.add_argument("--endpoint", metavar="URL", help="otel: POST to this OTLP/HTTP receiver")
    p.add_argument("--protocol", choices=["json", "protobuf"], default="json", help="otel")
    p.add_argument("--content", action="store_true", help="otel: include message content")
    p.add_argument("--no-redact", action="store_true", help="keep secrets (default: redact)")
    p.add_argument(
        "--redact",
        action="append",
        metavar="REGEX",
        help="a pattern to redact instead of the defaults (repeatable)",
    )
    p.add_argument("--progress", action="store_true", help="show progress even off a terminal")
    p = add(
        "import", "import recordings, a Parquet export, raw wire bodies or llm's logs", cmd_import
    )
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--wire", choices=["openai", "anthropic", "ollama", "responses", "gemini"])
    p.add_argument("--model", default="unknown", help="with --wire: the model to record")
    p.add_argument("--pace", type=float, default=0.0, help="with --wire: seconds per event")
    p.add_argument(
        "--from",
        dest="origin",
        choices=["streamwidget", "llm"],
        default="streamwidget",
        help="llm: PATH is llm's logs.db (`llm logs path`)",
    )
    p.add_argument(
        "--skip-bad", action="store_true", help="import the good lines of files with bad lines"
    )
    p.add_argument("--progress", action="store_true", help="show progress even off a terminal")
    p = add("reparse", "re-parse a stream recorded with record_wire=True", cmd_reparse)
    p.add_argument("id", help="stream id (or a unique prefix)")
    p = add("stats", "metrics per stream, model or tool call", cmd_stats)
    p.add_argument("--by", choices=["stream", "model", "tool"], default="stream")
    p.add_argument("--stall-threshold", type=float, default=0.5, metavar="SECONDS")
    p.add_argument(
        "--limit", type=int, default=100, help="--by stream: the newest N (0: all; default 100)"
    )
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
