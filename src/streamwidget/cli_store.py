"""What every command shares: the store it works on and the names it is given."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from typing import Any

from .cli_format import CommandError

PROG = "streamwidget"


def dicts(relation: Any) -> list[dict[str, Any]]:
    return [dict(zip(relation.columns, row)) for row in relation.fetchall()]


# -- the store --------------------------------------------------------------------------------


@contextlib.contextmanager
def open_store(args: argparse.Namespace) -> Iterator[Any]:
    from .store import Store

    store = Store(args.store) if args.store else Store()
    try:
        yield store
    finally:
        store.close()


def resolve_id(store: Any, text: str) -> str:
    """A stream id from a unique prefix of it."""
    from .transfer import TransferError, resolve_stream_id

    try:
        return resolve_stream_id(store, text)
    except TransferError as exc:
        hint = f" (see `{PROG} ls`)" if str(exc).startswith("no stream") else ""
        raise CommandError(f"{exc}{hint}") from None


def recording_of(store: Any, source: str) -> Any:
    """A recording from a file, a bundled name or a stream id (prefix) in the store."""
    from .recording import Recording

    found = Recording.lookup(source)
    if found is not None:
        return found
    try:
        return store.recording(resolve_id(store, source))
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
