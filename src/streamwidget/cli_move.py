"""The commands that move streams: ``export``, ``import``, ``reparse``, ``migrate``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .cli_format import CommandError, Progress, table
from .cli_store import PROG, open_store, resolve_id


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
    with open_store(args) as store:
        wanted = [resolve_id(store, i) for i in args.ids] or None
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
    with open_store(args) as store:
        wanted = [resolve_id(store, i) for i in args.ids] or None
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
    with open_store(args) as store:
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

    with open_store(args) as store:
        for path in args.paths:
            sid = import_wire(path, args.wire, store=store, model=args.model, pace=args.pace)
            doc = store.get(sid)
            calls = len(doc.tool_calls)
            print(f"{sid}  {doc.status}  {doc.text_length} chars, {calls} tool calls  {path}")
    return 0


def cmd_reparse(args: argparse.Namespace) -> int:
    from .wire_import import reparse

    with open_store(args) as store:
        old_id = resolve_id(store, args.id)
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


def cmd_migrate(args: argparse.Namespace) -> int:
    from .store import Store
    from .store_migrate import migrate

    progress = Progress("bar" if args.progress else "auto", what="streams")
    with open_store(args) as source, Store(args.target) as target:
        result = migrate(source, target, progress=progress)
        print(
            f"copied {result.conversations} conversation(s), {result.messages} message(s) and "
            f"{len(result.streams)} stream(s) from {source.path} to {target.path}"
        )
    if result.skipped_open:
        print(f"{len(result.skipped_open)} stream(s) still streaming: run migrate again later")
    return 0


# -- the parser -------------------------------------------------------------------------------
