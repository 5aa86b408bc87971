"""Rows and JSON for the store: events as payload JSON, documents from rows, imported
recordings as rows, and query results held in memory. Shared by both store backends."""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import threading
import uuid
import weakref
from typing import Any

import duckdb

try:  # the C string encoder behind json.dumps(ensure_ascii=False)
    from json.encoder import c_encode_basestring as _encode_string
except ImportError:  # pragma: no cover - pure-Python builds
    from json.encoder import py_encode_basestring as _encode_string

from .document import Document, ToolCall
from .events import Event, is_terminal
from .parts import Parts
from .recording import Recording

_scratch = threading.local()


def _materialize(relation: duckdb.DuckDBPyRelation) -> duckdb.DuckDBPyRelation:
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


def _first(cursor: duckdb.DuckDBPyConnection) -> tuple[Any, ...] | None:
    """The first row, reading the whole result: a half-read result would block the cursor."""
    rows = cursor.fetchall()
    return rows[0] if rows else None


def _document_from_row(row: dict[str, Any], parts: Parts | None = None) -> Document:
    """The document of a ``streams`` row; its parts from the row, else ``parts`` (folded from
    the events by the caller), else the legacy order."""
    if row.get("parts"):
        parts = Parts.restore(json.loads(row["parts"]))
    return Document(
        stream_id=row["id"],
        status=row["status"],
        text=row["content"] or "",
        reasoning=row["reasoning"] or "",
        tool_calls=[ToolCall(**c) for c in json.loads(row["tool_calls"] or "[]")],
        error=json.loads(row["error"]) if row["error"] else None,
        usage=json.loads(row["usage"]) if row["usage"] else None,
        finish_reason=row["finish_reason"],
        model=row["model"],
        provider=row["provider"],
        version=row["version"] or 0,
        first_token_t=row["first_token_t"],
        last_t=row["last_t"] or 0.0,
        parts=parts,
    )


#: A lone UTF-16 surrogate (half of an emoji split across chunks): UTF-8 cannot hold it.
_SURROGATE = re.compile("[\ud800-\udfff]")


def _without_lone_surrogates(event: Event) -> tuple[Event, str]:
    """The event with lone surrogates replaced by U+FFFD, so the document, the event log and
    every later commit agree (DuckDB would refuse the text, and every batch after it)."""
    cleaned = json.loads(_SURROGATE.sub("\ufffd", json.dumps(event, ensure_ascii=False)))
    return cleaned, _payload_json(cleaned)


def _payload_json(event: Event) -> str:
    """An event's fields other than ``t`` and ``type``, as JSON (text events on a fast path:
    they are nearly all of a stream)."""
    if len(event) == 3 and "text" in event and "t" in event:
        return '{"text":' + _encode_string(event["text"]) + "}"
    return _json({k: v for k, v in event.items() if k not in ("t", "type")})


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:16]}"


# -- imports (see Store.import_recording) ------------------------------------------------------

#: Header keys that say where a copy of a recording came from, not what it holds.
_PROVENANCE_KEYS = frozenset({"stream_id"})
#: One import at a time, so two threads importing the same recording cannot both write it.
_IMPORT_LOCK = threading.Lock()


def _recording_sha256(recording: Recording) -> str:
    """The sha256 of a recording's canonical JSON Lines: header without provenance keys, every
    line with sorted keys, ``t`` as a float (the store keeps it as a DOUBLE)."""
    digest = hashlib.sha256()
    header = {k: v for k, v in recording.header.items() if k not in _PROVENANCE_KEYS}
    lines = [header] + [{**e, "t": float(e.get("t", 0.0))} for e in recording.events]
    for line in lines:
        text = json.dumps(line, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        digest.update(text.encode("utf-8") + b"\n")
    return digest.hexdigest()


def import_rows(
    recording: Recording, stream_id: str, owner: tuple[int, str, float | None]
) -> tuple[str | None, list[Any], list[list[Any]]]:
    """A recording as one finished stream: its conversation id (if the header names one), the
    ``streams`` row (created_at last but one, as the header's text) and the event columns.
    A recording without a terminal event ends ``interrupted`` at its last time."""
    events = [{**e, "t": float(e.get("t", 0.0))} for e in recording.events]
    if not events or not is_terminal(events[-1]):
        events.append({"t": events[-1]["t"] if events else 0.0, "type": "interrupted"})
    header = recording.header
    provider, model = recording.provider or None, recording.model or None
    doc = Document.from_events(events, stream_id, model=model, provider=provider)
    fixed = ("streamwidget", "version", "provider", "model", "request", "stream_id")
    extra = {k: v for k, v in header.items() if k not in fixed}
    conversation = header.get("conversation_id")
    conversation = conversation if isinstance(conversation, str) else None
    pid, host, started = owner
    row = [
        stream_id,
        conversation,
        doc.status,
        doc.text,
        doc.reasoning,
        _json([c.to_dict() for c in doc.tool_calls]),
        _json(doc.error),
        _json(doc.usage),
        doc.finish_reason,
        model,
        provider,
        _json(header.get("request") or {}),
        _json(extra),
        doc.first_token_t,
        doc.last_t,
        doc.version,
        pid,
        host,
        started,
        header.get("created_at"),
        _recording_sha256(recording),
    ]
    columns = [
        [stream_id] * len(events),
        list(range(len(events))),
        [e["t"] for e in events],
        [str(e["type"]) for e in events],
        [_json({k: v for k, v in e.items() if k not in ("t", "type")}) for e in events],
    ]
    return conversation, row, columns


def _insert_events(cur: duckdb.DuckDBPyConnection, rows: list[tuple[Any, ...]]) -> None:
    """Insert a batch's event rows: one ``INSERT`` per stream, whose id is a scalar and whose
    ``seq`` is generated from its first, and whose columns are bound as one string each. The
    payloads go in as text; the JSON column still checks each one."""
    groups = _by_stream(rows)
    if groups is None:  # not expected; write every row as it is
        cur.execute(
            "INSERT INTO events SELECT unnest($1::VARCHAR[]), unnest($2::BIGINT[]),"
            " unnest($3::DOUBLE[]), unnest($4::VARCHAR[]), unnest($5::JSON[])",
            [list(column) for column in zip(*rows)],
        )
        return
    for stream_id, group in groups.items():
        # Each column goes in as one string split by DuckDB: binding a Python list costs a
        # conversion per element. JSON escapes control characters, so the separator (ASCII
        # record separator) never occurs in a payload; types come from a fixed vocabulary.
        types = _SEP.join([r[3] for r in group])
        payloads = _SEP.join([r[4] for r in group])
        cur.execute(
            "INSERT INTO events SELECT $1, $2 + generate_subscripts(p, 1) - 1,"
            " unnest(string_split($3, ','))::DOUBLE, unnest(string_split($4, $6)), unnest(p)"
            " FROM (SELECT string_split($5, $6) AS p)",
            [
                stream_id,
                group[0][1],
                ",".join([repr(r[2]) for r in group]),
                types,
                payloads,
                _SEP,
            ],
        )


_SEP = "\x1e"


def _by_stream(rows: list[tuple[Any, ...]]) -> dict[str, list[tuple[Any, ...]]] | None:
    """The rows of each stream, or ``None`` if a stream's ``seq`` are not consecutive.

    They always are: :meth:`Store.append` numbers a stream's rows 0, 1, 2... under the state
    lock, and a batch that failed is put back before the rows queued since."""
    groups: dict[str, list[tuple[Any, ...]]] = {}
    for row in rows:
        group = groups.get(row[0])
        if group is None:
            groups[row[0]] = [row]
        elif group[-1][1] + 1 == row[1]:
            group.append(row)
        else:
            return None
    return groups
