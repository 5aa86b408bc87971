"""Traces out: streams as OpenTelemetry spans (OTLP/JSON), following the GenAI conventions.

:func:`export_otel` turns streams into one ``ExportTraceServiceRequest`` in the OTLP/JSON
mapping (``resourceSpans → scopeSpans → spans``; hex ``traceId``/``spanId``; times as strings
of nanoseconds since the epoch; attributes as ``AnyValue``), writes it to a file and/or POSTs it
to an OTLP/HTTP endpoint (``/v1/traces``) with httpx. No OpenTelemetry package is needed; with
``opentelemetry-proto`` installed the body can also be sent as protobuf.

Each stream becomes one trace (ids derived from the stream id, so exporting again gives the
same ids and a collector sees the same spans):

- a ``CLIENT`` span ``chat {model}`` from the request (``created_at``) to the stream's last
  event, with ``gen_ai.operation.name``, ``gen_ai.provider.name`` (and the older
  ``gen_ai.system``), ``gen_ai.request.model``, ``gen_ai.response.model``, the usage,
  ``gen_ai.response.finish_reasons``, ``gen_ai.response.time_to_first_chunk`` and
  ``gen_ai.conversation.id``; status ``ERROR`` with ``error.type`` (the error kind,
  ``cancelled`` or ``interrupted``) when the stream did not complete;
- span events ``streamwidget.first_token`` (the first text) and ``streamwidget.stall`` (at the
  start of each gap between events longer than the stall threshold, as ``streamwidget stats``
  counts them: waits for a tool's result are not stalls);
- one ``INTERNAL`` child span ``execute_tool {name}`` per tool call, from the tool starting
  (``running``, else the end of its arguments) to its result, with ``gen_ai.tool.name``,
  ``gen_ai.tool.call.id`` and ``gen_ai.tool.type``; status ``ERROR`` when it failed or was denied.

Message content (``gen_ai.input.messages``, ``gen_ai.output.messages``, tool arguments and
results) is opt-in, as the conventions ask: ``content=True``. It is redacted like every export
(:class:`streamwidget.transfer.Redactor`) unless ``redact=False``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .document import Document, ToolCall
from .otel_content import content_attributes, json_text
from .otel_send import OtelExportError, send
from .recording import Recording
from .redaction import Redact, redactor
from .seek import STALL_THRESHOLD
from .transfer import open_recording, select_streams

if TYPE_CHECKING:
    from .store import Store

__all__ = ["OtelExportError", "export_otel", "otlp_request", "span_id", "stream_spans", "trace_id"]

SCOPE = "streamwidget"
SPAN_KIND_INTERNAL, SPAN_KIND_CLIENT = 1, 3
STATUS_UNSET, STATUS_ERROR = 0, 2
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: Spans per POST to an endpoint (collectors refuse bodies over a few MB by default).
SPANS_PER_POST = 1000
_REQUEST_PARAMS = ("max_tokens", "temperature", "top_p", "top_k", "seed")


# -- ids and values ---------------------------------------------------------------------------


def trace_id(stream_id: str) -> str:
    """The trace id of a stream: 32 hex digits derived from its id."""
    return hashlib.sha256(f"streamwidget trace {stream_id}".encode()).hexdigest()[:32]


def span_id(stream_id: str, tool_call_id: str | None = None) -> str:
    """16 hex digits: the stream's chat span, or the span of one of its tool calls."""
    key = f"streamwidget span {stream_id}" + (f" tool {tool_call_id}" if tool_call_id else "")
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def any_value(value: Any) -> dict[str, Any]:
    """A Python value as an OTLP/JSON ``AnyValue`` (dicts and other objects as JSON text)."""
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}  # int64 is a string in the JSON mapping
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, (list, tuple)):
        return {"arrayValue": {"values": [any_value(v) for v in value]}}
    return {"stringValue": json.dumps(value, ensure_ascii=False, default=str)}


def attributes(values: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``key → value`` as OTLP attributes, leaving out ``None`` values."""
    return [{"key": k, "value": any_value(v)} for k, v in values.items() if v is not None]


def _nanos(start_ns: int, t: float) -> str:
    return str(start_ns + round(t * 1e9))


def _start_ns(recording: Recording) -> int:
    created = recording.header.get("created_at")
    try:
        when = datetime.fromisoformat(str(created).replace("Z", "+00:00"))
    except ValueError:
        raise OtelExportError(
            f"{recording.source}: the header's created_at {created!r} is not an ISO-8601 time,"
            " so the spans cannot be placed in time"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return (when - _EPOCH) // timedelta(microseconds=1) * 1000


# -- one stream → spans -----------------------------------------------------------------------


def stream_spans(
    recording: Recording,
    *,
    content: bool = False,
    stall_threshold: float = STALL_THRESHOLD,
) -> list[dict[str, Any]]:
    """The spans of one stream: its ``chat`` span first, then one per tool call."""
    sid = recording.header.get("stream_id") or _content_id(recording)
    doc = Document.from_events(recording.events, stream_id=sid)
    start = _start_ns(recording)
    trace, chat = trace_id(sid), span_id(sid)
    end_t = doc.last_t
    attrs, status = _chat_attributes(recording, doc, sid), _status(doc)
    if content:
        attrs.update(content_attributes(recording, doc))
    model = attrs.get("gen_ai.request.model") or ""
    span = {
        "traceId": trace,
        "spanId": chat,
        "name": f"chat {model}".strip(),
        "kind": SPAN_KIND_CLIENT,
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": _nanos(start, end_t),
        "attributes": attributes(attrs),
        "events": _span_events(recording.events, start, stall_threshold),
        "status": status,
    }
    spans = [span]
    runs = _tool_run_starts(recording.events)
    for call in doc.tool_calls:
        window = (runs.get(call.id, call.started_at or 0.0), call.ended_at or end_t)
        spans.append(_tool_span(call, sid, start, window, content))
    return spans


def _tool_span(
    call: ToolCall, sid: str, start: int, window: tuple[float, float], content: bool
) -> dict[str, Any]:
    """The ``execute_tool`` child span of one tool call, over ``window`` (seconds)."""
    failed = call.status in ("error", "denied")
    attrs: dict[str, Any] = {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": call.name,
        "gen_ai.tool.call.id": call.id,
        "gen_ai.tool.type": "function",
        "error.type": ("tool_denied" if call.status == "denied" else "tool_error")
        if failed
        else None,
        "streamwidget.tool.status": call.status,
    }
    if content:
        attrs["gen_ai.tool.call.arguments"] = call.args_text or None
        attrs["gen_ai.tool.call.result"] = json_text(call.error if failed else call.result)
    return {
        "traceId": trace_id(sid),
        "spanId": span_id(sid, call.id),
        "parentSpanId": span_id(sid),
        "name": f"execute_tool {call.name}",
        "kind": SPAN_KIND_INTERNAL,
        "startTimeUnixNano": _nanos(start, window[0]),
        "endTimeUnixNano": _nanos(start, window[1]),
        "attributes": attributes(attrs),
        "status": {"code": STATUS_ERROR, "message": call.error or call.status}
        if failed
        else {"code": STATUS_UNSET},
    }


def _chat_attributes(recording: Recording, doc: Document, sid: str) -> dict[str, Any]:
    header, request = recording.header, recording.header.get("request") or {}
    provider = recording.provider or None
    usage = doc.usage or {}
    first_chunk = next(
        (e["t"] for e in recording.events if e.get("type") in ("text", "reasoning")), None
    )
    attrs: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": provider,
        "gen_ai.system": provider,  # the name before semantic conventions 1.37
        "gen_ai.request.model": request.get("model") or recording.model or None,
        "gen_ai.response.model": recording.model or None,
        "gen_ai.conversation.id": header.get("conversation_id"),
        "gen_ai.request.stream": request.get("stream") if "stream" in request else None,
        "gen_ai.usage.input_tokens": _int(usage.get("input_tokens")),
        "gen_ai.usage.output_tokens": _int(usage.get("output_tokens")),
        "gen_ai.response.finish_reasons": [doc.finish_reason] if doc.finish_reason else None,
        "gen_ai.response.time_to_first_chunk": None if first_chunk is None else float(first_chunk),
        "error.type": _error_type(doc),
        "streamwidget.stream.id": sid,
        "streamwidget.status": doc.status,
    }
    for name in _REQUEST_PARAMS:
        value = request.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            attrs[f"gen_ai.request.{name}"] = value
    return attrs


def _error_type(doc: Document) -> str | None:
    if doc.status == "error":
        return (doc.error or {}).get("kind") or "error"
    if doc.status in ("cancelled", "interrupted"):
        return doc.status
    return None


def _status(doc: Document) -> dict[str, Any]:
    if doc.status == "error":
        error = doc.error or {}
        return {"code": STATUS_ERROR, "message": f"{error.get('kind')}: {error.get('message')}"}
    if doc.status in ("cancelled", "interrupted"):
        return {"code": STATUS_ERROR, "message": doc.status}
    if doc.status != "complete":
        return {"code": STATUS_ERROR, "message": f"the stream ended {doc.status}"}
    return {"code": STATUS_UNSET}  # the conventions leave a success unset


def _span_events(events: list[dict[str, Any]], start: int, threshold: float) -> list[Any]:
    out: list[dict[str, Any]] = []
    first = next((e for e in events if e.get("type") == "text"), None)
    if first is not None:
        out.append(
            {
                "timeUnixNano": _nanos(start, first["t"]),
                "name": "streamwidget.first_token",
                "attributes": attributes({"streamwidget.ttft_s": float(first["t"])}),
            }
        )
    for before, after in itertools.pairwise(events):
        gap = float(after["t"]) - float(before["t"])
        if gap > threshold and after.get("type") != "tool_result":
            out.append(
                {
                    "timeUnixNano": _nanos(start, before["t"]),
                    "name": "streamwidget.stall",
                    "attributes": attributes(
                        {
                            "streamwidget.stall.duration_s": round(gap, 6),
                            "streamwidget.stall.next_event": str(after.get("type")),
                        }
                    ),
                }
            )
    return sorted(out, key=lambda e: int(e["timeUnixNano"]))


def _tool_run_starts(events: list[dict[str, Any]]) -> dict[str, float]:
    """When each tool started running: its ``running`` status, else the end of its arguments."""
    starts: dict[str, float] = {}
    for event in events:
        kind, call = event.get("type"), event.get("id")
        if not isinstance(call, str):  # every tool event has one (see events.py)
            continue
        if kind == "tool_status" and event.get("status") == "running":
            starts[call] = float(event["t"])
        elif kind == "tool_call_end":
            starts.setdefault(call, float(event["t"]))
    return starts


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _content_id(recording: Recording) -> str:
    """An id for a recording that never was in a store: the hash of its content."""
    return "r" + hashlib.sha256(recording.dumps().encode()).hexdigest()[:24]


# -- many streams → one request; where it goes ------------------------------------------------


def otlp_request(
    recordings: Iterable[Recording],
    *,
    content: bool = False,
    service_name: str = "streamwidget",
    stall_threshold: float = STALL_THRESHOLD,
) -> dict[str, Any]:
    """An ``ExportTraceServiceRequest`` (OTLP/JSON mapping) holding every stream's spans."""
    spans = [
        span
        for recording in recordings
        for span in stream_spans(recording, content=content, stall_threshold=stall_threshold)
    ]
    return _request(spans, service_name)


def _request(spans: list[dict[str, Any]], service_name: str) -> dict[str, Any]:
    from ._version import __version__

    return {
        "resourceSpans": [
            {
                "resource": {"attributes": attributes({"service.name": service_name})},
                "scopeSpans": [{"scope": {"name": SCOPE, "version": __version__}, "spans": spans}],
            }
        ]
    }


def export_otel(
    source: Any = None,
    path: str | os.PathLike[str] | None = None,
    *,
    endpoint: str | None = None,
    store: Store | None = None,
    conversation: str | None = None,
    content: bool = False,
    redact: Redact = True,
    headers: Mapping[str, str] | None = None,
    protocol: str = "json",
    service_name: str = "streamwidget",
    stall_threshold: float = STALL_THRESHOLD,
    timeout: float = 10.0,
) -> dict[str, Any]:
    """Export streams as OpenTelemetry GenAI spans; return the OTLP/JSON request.

    ``source``: a :class:`Store` (every stream in it), a stream id, a recording (file, bundled
    name or :class:`Recording`), or a list of those; ``None``: every stream in ``store`` (the
    default store), or a ``conversation``'s. ``path``: write the request there as one line of
    JSON (the OTLP file format). ``endpoint``: POST it to ``{endpoint}/v1/traces`` (an
    endpoint that already ends in ``/v1/traces`` is used as it is) as ``protocol`` ``"json"``
    or ``"protobuf"`` (needs ``opentelemetry-proto``), with ``headers`` (default: the
    ``OTEL_EXPORTER_OTLP_HEADERS`` environment variable, ``k=v,k2=v2``).
    """
    recordings = _recordings(source, store, conversation, redact)
    request = otlp_request(
        recordings, content=content, service_name=service_name, stall_threshold=stall_threshold
    )
    if path is not None:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(request, ensure_ascii=False) + "\n", encoding="utf-8")
    if endpoint is not None:  # in batches, so a big store is not one huge POST
        spans = request["resourceSpans"][0]["scopeSpans"][0]["spans"]
        for start in range(0, max(len(spans), 1), SPANS_PER_POST):
            batch = _request(spans[start : start + SPANS_PER_POST], service_name)
            send(batch, endpoint, headers=headers, protocol=protocol, timeout=timeout)
    return request


def _recordings(
    source: Any, store: Store | None, conversation: str | None, redact: Redact
) -> list[Recording]:
    """The redacted recordings to export, each with its ``stream_id`` in the header."""
    from .store import Store
    from .transfer import _store, stream_recording

    if isinstance(source, Store):
        store, source = source, None
    if source is None:
        store = _store(store)
        return [
            stream_recording(store, sid, redact)
            for sid in select_streams(store, None, conversation)
        ]
    items = [source] if isinstance(source, (str, os.PathLike, Recording)) else list(source)
    scrub = redactor(redact)
    out: list[Recording] = []
    for item in items:
        if isinstance(item, str) and not Path(item).is_file() and _in_store(store, item):
            out.append(stream_recording(_store(store), item, redact))
            continue
        recording = open_recording(item, store)
        out.append(scrub.recording(recording) if scrub else recording)
    return out


def _in_store(store: Store | None, stream_id: str) -> bool:
    from .recording import bundled_names
    from .transfer import _store

    if stream_id.removesuffix(".jsonl") in bundled_names():
        return False
    rows = _store(store).fetchall("SELECT 1 FROM streams WHERE id = $1", [stream_id])
    return bool(rows)
