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
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from .cli_demo import cmd_demo
from .cli_format import CommandError, Parser, version_line
from .cli_move import cmd_export, cmd_import, cmd_migrate, cmd_reparse
from .cli_read import cmd_ls, cmd_replay, cmd_show, cmd_stats
from .cli_store import PROG

#: ``add(name, help, func)``: a subcommand with the options every command takes.
_Add = Callable[[str, str, Any], argparse.ArgumentParser]


def _reading_commands(add: _Add) -> None:
    """``ls``, ``show``, ``replay``: what reads the store."""
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


def _export_commands(add: _Add) -> None:
    """``migrate``, ``export``: what copies streams out."""
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


def _import_commands(add: _Add) -> None:
    """``import``, ``reparse``: what brings streams in."""
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


def _stats_and_demo(add: _Add) -> None:
    """``stats`` and ``demo``."""
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

    # in the order `--help` lists them
    _reading_commands(add)
    _export_commands(add)
    _import_commands(add)
    _stats_and_demo(add)
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
