"""Import and export: streams out to JSON Lines recordings or Parquet, and back in.

- JSONL: one recording file per stream (the contract format). One stream can go to a
  ``.jsonl`` file; several (a conversation, everything) go to a folder, one
  ``<stream_id>.jsonl`` each.
- Parquet: one file, one row per event (``stream_id, seq, t, type, payload``) with the stream's
  recording header (``header``, JSON) and ``provider``/``model`` on every row, written with
  DuckDB's ``COPY (SELECT ...) TO 'x.parquet' (FORMAT parquet)``.
- Import (:mod:`streamwidget.transfer_import`) writes each recording into the store with
  :meth:`Store.import_recording`: importing the same content again gives back the stream
  already there, never a copy. A file with bad lines raises :class:`BadLinesError` listing
  every bad line, and nothing is imported, unless ``skip_bad=True``: then the good lines are
  imported and the bad ones reported in :attr:`ImportResult.problems`.
- Redaction (on by default for exports; :mod:`streamwidget.redaction`): every string in event
  payloads and in the header's ``request`` is searched for the :class:`Redactor`'s patterns
  (API keys, emails by default). A secret split across two events (two text tokens) is not
  found: patterns match within one string.

Round trip: JSONL → store → Parquet → store → JSONL gives the same event lines, byte for byte
(``t`` is kept as a float: ``1`` comes back as ``1.0``). Exported headers gain ``stream_id`` (and
``conversation_id``/``conversation_title`` for streams in a conversation); the key order of
an exported header is fixed, so exporting an imported export gives the same bytes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, Unpack

from .events import Event
from .recording import Recording
from .redaction import DEFAULT_PATTERNS as DEFAULT_PATTERNS  # (importable from here too)
from .redaction import Redact, redactor
from .redaction import Redactor as Redactor

# the import side, and the names both sides share (importable from here)
from .transfer_import import BadLinesError as BadLinesError
from .transfer_import import ImportResult as ImportResult
from .transfer_import import Problem as Problem
from .transfer_import import Progress as Progress
from .transfer_import import TransferError as TransferError
from .transfer_import import _store as _store
from .transfer_import import import_jsonl as import_jsonl
from .transfer_import import import_parquet as import_parquet
from .transfer_import import import_paths as import_paths

if TYPE_CHECKING:
    from .store import Store

_FIXED_HEADER = ("streamwidget", "version", "provider", "model", "created_at", "request")
_TAIL_HEADER = ("conversation_id", "conversation_title", "stream_id")


# -- reading sources --------------------------------------------------------------------------


def open_recording(source: Any, store: Store | None = None, *, prefix: bool = False) -> Recording:
    """A :class:`Recording` from a Recording, a stream handle or view (``.id``/``.store``), a
    ``.jsonl`` path, a bundled recording's name, or a stream id in ``store`` (default store;
    with ``prefix``, a unique prefix of one: see :func:`resolve_stream_id`)."""
    if isinstance(source, Recording):
        return source
    if _is_handle(source):
        owner, stream_id = stored_stream(source)
        recording: Recording = owner.recording(stream_id)
        return recording
    _check_source(source)
    found = Recording.lookup(source)
    if found is not None:
        return found
    owner, stream_id = stored_stream(source, store, prefix=prefix)
    try:
        return owner.recording(stream_id)
    except KeyError:
        raise no_stream_error(stream_id, owner) from None


def stored_stream(
    source: Any, store: Store | None = None, *, prefix: bool = False
) -> tuple[Store, str]:
    """The store and stream id ``source`` names: a stream handle or view (``.id`` or
    ``.stream_id``, and ``.store``), else a stream id (or, with ``prefix``, a unique prefix of
    one) in ``store`` (default: the default store). Whether the stream exists is for the
    caller's read to find (a ``KeyError``; :func:`open_recording` turns it into a
    :class:`TransferError`). Files and bundled names are not looked at here."""
    if _is_handle(source):
        return source.store, getattr(source, "id", None) or source.stream_id
    _check_source(source)
    from .store import default_store

    name = os.fspath(source)
    store = store if store is not None else default_store()
    return store, resolve_stream_id(store, name) if prefix else name


def _is_handle(source: Any) -> bool:
    """A StreamHandle (.id) or a StreamView (.stream_id), with the store it lives in."""
    stream_id = getattr(source, "id", None) or getattr(source, "stream_id", None)
    return getattr(source, "store", None) is not None and isinstance(stream_id, str)


def _check_source(source: Any) -> None:
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(
            "expected a Recording, a stream handle, a .jsonl path, a bundled recording name or "
            f"a stream id; got {type(source).__name__}"
        )


def no_stream_error(name: str, store: Store) -> TransferError:
    """What a name that is no file, bundled recording or stream gets."""
    from .recording import bundled_names

    return TransferError(
        f"{name!r} is not a file, a bundled recording ({', '.join(bundled_names())}) or a "
        f"stream in the store {store.path}"
    )


def resolve_stream_id(store: Store, text: str) -> str:
    """The id of the stream ``text`` names: its id, or a unique prefix of it."""
    rows = store.fetchall(
        "SELECT id FROM streams WHERE starts_with(id, $1) ORDER BY id LIMIT 6", [text]
    )
    ids = [row[0] for row in rows]
    if text in ids:
        return text
    if len(ids) == 1:
        return str(ids[0])
    if not ids:
        raise TransferError(f"no stream {text!r} in the store {store.path}")
    raise TransferError(f"{text!r} matches several streams: {', '.join(ids)}")


# -- export -----------------------------------------------------------------------------------


def select_streams(
    store: Store, streams: str | Iterable[str] | None = None, conversation: str | None = None
) -> list[str]:
    """Stream ids to export, oldest first: ``streams``, a ``conversation``'s, else all."""
    if isinstance(streams, str):
        streams = [streams]
    if streams is not None:
        ids = list(streams)
        known = {  # only the ids asked for, not every id in the store
            row[0]
            for row in store.fetchall(
                "SELECT id FROM streams WHERE id IN (SELECT unnest($1::VARCHAR[]))", [ids]
            )
        }
        missing = [sid for sid in ids if sid not in known]
        if missing:
            raise TransferError(f"no stream(s) {', '.join(missing)} in the store {store.path}")
        return ids
    if conversation is not None:
        rows = store.fetchall(
            "SELECT id FROM streams WHERE conversation_id = $1 ORDER BY created_at, id",
            [conversation],
        )
        if not rows:
            raise TransferError(f"no streams in conversation {conversation!r} in {store.path}")
        return [row[0] for row in rows]
    return [row[0] for row in store.fetchall("SELECT id FROM streams ORDER BY created_at, id")]


def stream_recording(store: Store, stream_id: str, redact: Redact = True) -> Recording:
    """A stream as the recording an export writes: fixed header order, redacted."""
    recording = store.recording(stream_id)
    rows = store.fetchall(
        "SELECT s.conversation_id, c.title FROM streams s LEFT JOIN conversations c"
        " ON c.id = s.conversation_id WHERE s.id = $1",
        [stream_id],
    )
    header = dict(recording.header)
    row = rows[0] if rows else None
    if row is not None and row[0]:
        header["conversation_id"] = row[0]
        header["conversation_title"] = row[1] or header.get("conversation_title")
    ordered = {k: header[k] for k in _FIXED_HEADER if k in header}
    ordered.update(
        (k, v) for k, v in header.items() if k not in _FIXED_HEADER and k not in _TAIL_HEADER
    )
    ordered.update((k, header[k]) for k in _TAIL_HEADER if header.get(k) is not None)
    out = Recording(ordered, recording.events, recording.source)
    scrub = redactor(redact)
    return scrub.recording(out) if scrub else out


class ExportOptions(TypedDict, total=False):
    """What every export takes: the ``streams`` (ids or prefixes) or the ``conversation`` to
    export from ``store`` (everything by default), ``redact`` (see
    :func:`~streamwidget.redaction.redactor`; on by default) and ``progress``."""

    store: Store | None
    streams: str | Iterable[str] | None
    conversation: str | None
    redact: Redact
    progress: Progress | None


def _selection(options: ExportOptions) -> tuple[Store, list[str]]:
    """The store and the ids of the streams an export's options select."""
    store = _store(options.get("store"))
    return store, select_streams(store, options.get("streams"), options.get("conversation"))


def export_jsonl(target: str | os.PathLike[str], **options: Unpack[ExportOptions]) -> list[Path]:
    """Write recordings: one stream to ``target`` if it ends in ``.jsonl``, else one file per
    stream in the folder ``target``. Returns the files written."""
    store, ids = _selection(options)
    redact, progress = options.get("redact", True), options.get("progress")
    target = Path(target)
    if target.suffix == ".jsonl":
        if len(ids) != 1:
            raise TransferError(
                f"{len(ids)} streams selected: give a folder, not a .jsonl file, as the target"
            )
        paths = [target]
    else:
        target.mkdir(parents=True, exist_ok=True)
        paths = [target / f"{sid}.jsonl" for sid in ids]
    for done, (sid, path) in enumerate(zip(ids, paths), 1):
        stream_recording(store, sid, redact).save(path)
        if progress:
            progress(done, len(ids), sid)
    return paths


def export_parquet(target: str | os.PathLike[str], **options: Unpack[ExportOptions]) -> Path:
    """Write the selected streams to one Parquet file (see the module docstring)."""
    import duckdb

    store, ids = _selection(options)
    redact, progress = options.get("redact", True), options.get("progress")
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = duckdb.connect(":memory:")
    try:
        scratch.execute(
            "CREATE TABLE rows (n BIGINT, stream_id VARCHAR, seq BIGINT, t DOUBLE, type VARCHAR,"
            " payload JSON, header JSON, provider VARCHAR, model VARCHAR)"
        )
        n = 0
        for done, sid in enumerate(ids, 1):
            recording = stream_recording(store, sid, redact)
            header = json.dumps(recording.header, ensure_ascii=False)
            events: list[Event | None] = [*recording.events] or [None]  # a row even if none
            rows = [
                [n + i, sid, None if e is None else i]
                + ([None, None, None] if e is None else [e["t"], e["type"], _payload(e)])
                + [header, recording.provider, recording.model]
                for i, e in enumerate(events)
            ]
            n += len(rows)
            scratch.execute(
                "INSERT INTO rows SELECT unnest($1::BIGINT[]), unnest($2::VARCHAR[]),"
                " unnest($3::BIGINT[]), unnest($4::DOUBLE[]), unnest($5::VARCHAR[]),"
                " unnest($6::JSON[]), unnest($7::JSON[]), unnest($8::VARCHAR[]),"
                " unnest($9::VARCHAR[])",
                [list(column) for column in zip(*rows)],
            )
            if progress:
                progress(done, len(ids), sid)
        scratch.execute(
            "COPY (SELECT stream_id, seq, t, type, payload, header, provider, model FROM rows"
            f" ORDER BY n) TO '{_sql_path(target)}' (FORMAT parquet)"
        )
    finally:
        scratch.close()
    return target


def _payload(event: dict[str, Any]) -> str:
    return json.dumps(
        {k: v for k, v in event.items() if k not in ("t", "type")}, ensure_ascii=False
    )


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")
