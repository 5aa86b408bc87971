"""The rows a store writes and reads, by name: what the core hands a backend and back.

Every backend gets the same named tuples (a new stream, an event, a document's update, an
imported recording) and writes them in its own dialect; none indexes another's positional rows.
Also the JSON helpers shared by both backends and the in-memory copy of a query result.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import json.encoder
import re
import threading
import uuid
import weakref
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import duckdb

from ..document import Document, ToolCall
from ..events import Event, is_terminal
from ..parts import Parts
from ..recording import Recording

#: The C string encoder behind json.dumps(ensure_ascii=False) (pure Python on other builds).
_encode_string: Callable[[str], str] = (
    getattr(json.encoder, "c_encode_basestring", None) or json.encoder.py_encode_basestring
)

Owner = tuple[int, str, "float | None"]


class NewStream(NamedTuple):
    """A ``pending`` stream to insert (the columns a create sets)."""

    id: str
    conversation_id: str | None
    model: str | None
    provider: str | None
    request: str  # JSON
    header: str  # JSON
    owner_pid: int
    owner_host: str
    owner_started: float | None


#: One row of the ``events`` log: ``(stream_id, seq, t, type, payload)``, the payload being the
#: event's fields other than ``t`` and ``type`` as JSON. A plain tuple, not a named tuple: one is
#: made per token, and CPython builds and indexes exact tuples about twice as fast.
EventRow = tuple[str, int, float, str, str]


class DocumentUpdate(NamedTuple):
    """A document's ``UPDATE`` after a batch: ``text`` and ``reasoning`` are only what was
    added since the last commit (appended with ``||``)."""

    status: str
    text: str
    reasoning: str
    tool_calls: str  # JSON
    error: str  # JSON
    usage: str  # JSON
    finish_reason: str | None
    first_token_t: float | None
    last_t: float
    version: int
    warnings: str | None  # JSON, None while there are none
    parts: str  # JSON: the ordered parts
    stream_id: str
    text_length: int  # after this update (not a column: the core's bookkeeping)
    reasoning_length: int

    def sql_params(self) -> list[Any]:
        """The parameters of :data:`UPDATE_SQL`'s placeholders, in order."""
        return list(self[:13])


#: Appends only the new text: rewriting the whole text per batch would make the log of the
#: database grow with the square of the reply length. ``$13`` is the stream id.
UPDATE_COLUMNS = (
    "status = $1, content = content || $2, reasoning = reasoning || $3, tool_calls = $4,"
    " error = $5, usage = $6, finish_reason = $7, first_token_t = $8, last_t = $9,"
    " version = $10, warnings = $11, parts = $12, updated_at = now()"
)


#: The same for many documents in one statement: ``u`` is the updates as columns (the
#: parameters of :data:`UPDATE_COLUMNS`, ``id`` last; see :func:`update_columns`).
UPDATE_MANY_COLUMNS = (
    "status = u.status, content = streams.content || u.added, reasoning = streams.reasoning"
    " || u.added_reasoning, tool_calls = u.tool_calls, error = u.error, usage = u.usage,"
    " finish_reason = u.finish_reason, first_token_t = u.first_token_t, last_t = u.last_t,"
    " version = u.version, warnings = u.warnings, parts = u.parts, updated_at = now()"
)
UPDATE_MANY_NAMES = (
    "status, added, added_reasoning, tool_calls, error, usage, finish_reason, first_token_t,"
    " last_t, version, warnings, parts, id"
)


def update_columns(updates: Sequence[DocumentUpdate]) -> list[list[Any]]:
    """Updates as the thirteen columns of :data:`UPDATE_MANY_NAMES` (for ``unnest``)."""
    return [list(column) for column in zip(*(u.sql_params() for u in updates))]


class OpenStream(NamedTuple):
    """A stream still ``pending`` or ``streaming``, and the process that writes it."""

    id: str
    owner_pid: int | None
    owner_host: str | None
    owner_started: float | None


class ImportedStream(NamedTuple):
    """A recording as one finished stream: its ``streams`` row, its events, its conversation."""

    stream: dict[str, Any]  # column -> value; created_at as the header's text (or None)
    events: list[EventRow]
    conversation_id: str | None
    conversation_title: str

    def insert_sql(self, created_at: str) -> str:
        """The ``INSERT`` of :attr:`stream` (``$n`` placeholders in its order); ``created_at``
        is the dialect's expression around its placeholder ``{}`` (``now()`` if unreadable)."""
        names = list(self.stream)
        values = [f"${i + 1}" for i in range(len(names))]
        at = names.index("created_at")
        values[at] = created_at.format(values[at])
        return f"INSERT INTO streams ({', '.join(names)}) VALUES ({', '.join(values)})"


def event_columns(imported: Sequence[ImportedStream]) -> list[list[Any]]:
    """The events of ``imported`` streams as five columns (for ``unnest``)."""
    columns: list[list[Any]] = [[], [], [], [], []]
    for one in imported:
        for event in one.events:
            for column, value in zip(columns, event, strict=True):
                column.append(value)
    return columns


#: The ``streams`` columns a document is read from, in order (see :func:`document_from_row`).
STREAM_COLUMNS = (
    "id",
    "status",
    "content",
    "reasoning",
    "tool_calls",
    "error",
    "usage",
    "finish_reason",
    "model",
    "provider",
    "version",
    "first_token_t",
    "last_t",
    "warnings",
    "parts",
)


def document_from_row(row: tuple[Any, ...], parts: Parts | None = None) -> Document:
    """A document from the :data:`STREAM_COLUMNS` of its row; its parts from the row, else
    ``parts`` (folded from its events by the caller), else in the legacy order."""
    r = dict(zip(STREAM_COLUMNS, row))
    if r["parts"]:
        parts = Parts.restore(json.loads(r["parts"]))
    return Document(
        stream_id=r["id"],
        status=r["status"],
        text=r["content"] or "",
        reasoning=r["reasoning"] or "",
        tool_calls=[ToolCall(**c) for c in json.loads(r["tool_calls"] or "[]")],
        error=json.loads(r["error"]) if r["error"] else None,
        usage=json.loads(r["usage"]) if r["usage"] else None,
        finish_reason=r["finish_reason"],
        model=r["model"],
        provider=r["provider"],
        version=r["version"] or 0,
        first_token_t=r["first_token_t"],
        last_t=r["last_t"] or 0.0,
        warnings=json.loads(r["warnings"]) if r["warnings"] else None,
        parts=parts,
    )


def document_update(document: Document, since_text: int, since_reasoning: int) -> DocumentUpdate:
    """The update that brings a document's row from the committed lengths to ``document``."""
    return DocumentUpdate(
        document.status,
        document.text_since(since_text),
        document.reasoning_since(since_reasoning),
        to_json([c.to_dict() for c in document.tool_calls]),
        to_json(document.error),
        to_json(document.usage),
        document.finish_reason,
        document.first_token_t,
        document.last_t,
        document.version,
        to_json(document.warnings) if document.warnings else None,
        to_json([part.to_dict() for part in document.parts]),
        document.stream_id,
        document.text_length,
        document.reasoning_length,
    )


# -- JSON -------------------------------------------------------------------------------------

#: A lone UTF-16 surrogate (half of an emoji split across chunks): UTF-8 cannot hold it.
SURROGATE = re.compile("[\ud800-\udfff]")


def without_lone_surrogates(event: Event) -> tuple[Event, str]:
    """The event with lone surrogates replaced by U+FFFD, so the document, the event log and
    every later commit agree (a database would refuse the text, and every batch after it)."""
    cleaned = json.loads(SURROGATE.sub("\ufffd", json.dumps(event, ensure_ascii=False)))
    return cleaned, payload_json(cleaned)


def event_from_row(t: float, kind: str, payload: str) -> Event:
    """An event read back from its ``events`` row: ``t``, ``type`` and the payload's fields."""
    return {"t": t, "type": kind, **json.loads(payload)}


def payload_json(event: Event) -> str:
    """An event's fields other than ``t`` and ``type``, as JSON (text events on a fast path:
    they are nearly all of a stream)."""
    if len(event) == 3 and "text" in event and "t" in event:
        return '{"text":' + _encode_string(event["text"]) + "}"
    return to_json({k: v for k, v in event.items() if k not in ("t", "type")})


def to_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:16]}"


# -- imports (see Store.import_recording) ------------------------------------------------------

#: Header keys that say where a copy of a recording came from, not what it holds.
_PROVENANCE_KEYS = frozenset({"stream_id"})


def recording_sha256(recording: Recording) -> str:
    """The sha256 of a recording's canonical JSON Lines: header without provenance keys, every
    line with sorted keys, ``t`` as a float (the store keeps it as a DOUBLE)."""
    digest = hashlib.sha256()
    header = {k: v for k, v in recording.header.items() if k not in _PROVENANCE_KEYS}
    lines = [header] + [{**e, "t": float(e.get("t", 0.0))} for e in recording.events]
    for line in lines:
        text = json.dumps(line, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        digest.update(text.encode("utf-8") + b"\n")
    return digest.hexdigest()


def imported_stream(
    recording: Recording, stream_id: str, owner: Owner, digest: str | None = None
) -> ImportedStream:
    """A recording as one finished stream. One without a terminal event ends ``interrupted``
    at its last time. ``digest``: its :func:`recording_sha256`, when already known."""
    events = [{**e, "t": float(e.get("t", 0.0))} for e in recording.events]
    if not events or not is_terminal(events[-1]):
        events.append({"t": events[-1]["t"] if events else 0.0, "type": "interrupted"})
    header = recording.header
    provider, model = recording.provider or None, recording.model or None
    doc = Document.from_events(events, stream_id, model=model, provider=provider)
    fixed = ("streamwidget", "version", "provider", "model", "request", "stream_id")
    conversation = header.get("conversation_id")
    conversation = conversation if isinstance(conversation, str) else None
    created_at = header.get("created_at")
    stream = {
        "id": stream_id,
        "conversation_id": conversation,
        "status": doc.status,
        "content": doc.text,
        "reasoning": doc.reasoning,
        "tool_calls": to_json([c.to_dict() for c in doc.tool_calls]),
        "error": to_json(doc.error),
        "usage": to_json(doc.usage),
        "finish_reason": doc.finish_reason,
        "model": model,
        "provider": provider,
        "request": to_json(header.get("request") or {}),
        "header": to_json({k: v for k, v in header.items() if k not in fixed}),
        "first_token_t": doc.first_token_t,
        "last_t": doc.last_t,
        "version": doc.version,
        "warnings": to_json(doc.warnings) if doc.warnings else None,
        "parts": to_json([part.to_dict() for part in doc.parts]),
        "owner_pid": owner[0],
        "owner_host": owner[1],
        "owner_started": owner[2],
        "created_at": created_at if isinstance(created_at, str) and created_at else None,
        "recording_sha256": digest or recording_sha256(recording),
    }
    rows = [
        (stream_id, seq, e["t"], str(e["type"]), payload_json_all(e))
        for seq, e in enumerate(events)
    ]
    title = str(header.get("conversation_title") or "Imported")
    return ImportedStream(stream, rows, conversation, title)


def payload_json_all(event: Event) -> str:
    return to_json({k: v for k, v in event.items() if k not in ("t", "type")})


# -- query results held in memory ------------------------------------------------------------

_scratch = threading.local()


def materialize(relation: duckdb.DuckDBPyRelation) -> duckdb.DuckDBPyRelation:
    """Copy a result into an in-memory table (dropped when the relation is collected)."""
    con = getattr(_scratch, "con", None)
    if con is None:
        con = _scratch.con = duckdb.connect(":memory:")
    name = f"result_{uuid.uuid4().hex[:12]}"
    columns = [f'"{_quote(c)}" {t}' for c, t in zip(relation.columns, relation.types)]
    con.execute(f"CREATE TABLE {name} ({', '.join(columns)})")
    rows = relation.fetchall()
    if rows:
        casts = ", ".join(f"unnest(${i + 1}::{t}[])" for i, t in enumerate(relation.types))
        con.execute(f"INSERT INTO {name} SELECT {casts}", [list(c) for c in zip(*rows)])
    result = con.table(name)
    weakref.finalize(result, _drop, con, name)
    return result


def _quote(name: str) -> str:
    return name.replace('"', '""')


def _drop(con: duckdb.DuckDBPyConnection, name: str) -> None:
    with contextlib.suppress(duckdb.Error):
        con.execute(f"DROP TABLE IF EXISTS {name}")
