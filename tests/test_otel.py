"""Traces out: OTLP spans following the GenAI conventions, checked by hand and by a receiver
that decodes them with the official ``opentelemetry-proto`` definitions (otlp_receiver.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from opentelemetry.proto.trace.v1 import trace_pb2

import streamwidget as sw
from otlp_receiver import Receiver
from streamwidget import Recording, Store
from streamwidget.analytics import stats
from streamwidget.cli import main
from streamwidget.otel import OtelExportError, span_id, trace_id

# weather-tool-error: created 2025-06-02T09:31:05Z; last event (overloaded error) at t=5.6271
T0 = int(datetime(2025, 6, 2, 9, 31, 5, tzinfo=UTC).timestamp()) * 10**9
CALL = "toolu_01A9GTMw8a4ZBNFsV7NDWqfV"


def at(t: float) -> int:
    return T0 + round(t * 1e9)


def attrs(span: trace_pb2.Span | trace_pb2.Span.Event) -> dict[str, object]:
    """Attributes of a decoded span as plain Python values."""
    out: dict[str, object] = {}
    for kv in span.attributes:
        kind = kv.value.WhichOneof("value")
        value = getattr(kv.value, kind)
        if kind == "array_value":
            value = [getattr(v, v.WhichOneof("value")) for v in value.values]
        out[kv.key] = value
    return out


def received_spans(receiver: Receiver) -> list[trace_pb2.Span]:
    return [
        span
        for request in receiver.requests
        for rs in request.resource_spans
        for ss in rs.scope_spans
        for span in ss.spans
    ]


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "a.duckdb") as store:
        yield store


@pytest.mark.parametrize("protocol", ["json", "protobuf"])
def test_weather_tool_error_decoded_by_the_official_definitions(protocol):
    with Receiver() as receiver:
        sw.export_otel("weather-tool-error", endpoint=receiver.url, protocol=protocol)
    assert receiver.paths == ["/v1/traces"]
    assert receiver.content_types[0].startswith(
        "application/json" if protocol == "json" else "application/x-protobuf"
    )
    request = receiver.requests[0]
    resource = {
        kv.key: kv.value.string_value for kv in request.resource_spans[0].resource.attributes
    }
    assert resource == {"service.name": "streamwidget"}
    assert request.resource_spans[0].scope_spans[0].scope.name == "streamwidget"
    chat, tool = received_spans(receiver)

    assert chat.name == "chat claude-sonnet-4-5"
    assert chat.kind == trace_pb2.Span.SPAN_KIND_CLIENT
    assert len(chat.trace_id) == 16 and len(chat.span_id) == 8 and chat.parent_span_id == b""
    assert (chat.start_time_unix_nano, chat.end_time_unix_nano) == (T0, at(5.6271))
    assert chat.status.code == trace_pb2.Status.STATUS_CODE_ERROR
    assert chat.status.message.startswith("overloaded: Overloaded")
    a = attrs(chat)
    assert a["gen_ai.operation.name"] == "chat"
    assert a["gen_ai.provider.name"] == a["gen_ai.system"] == "anthropic"
    assert a["gen_ai.request.model"] == a["gen_ai.response.model"] == "claude-sonnet-4-5"
    assert a["error.type"] == "overloaded"
    assert a["gen_ai.request.max_tokens"] == 4096  # an int64, decoded as one
    assert a["gen_ai.request.stream"] is True
    assert a["gen_ai.response.time_to_first_chunk"] == 0.5502  # the first reasoning token
    assert "gen_ai.response.finish_reasons" not in a  # it never finished
    assert "gen_ai.usage.output_tokens" not in a  # no usage event in this recording
    assert "gen_ai.input.messages" not in a  # content is opt-in

    # first token (the first text, not reasoning) and two stalls; the 0.54 s wait for the
    # tool's result is not a stall
    events = [(e.name, e.time_unix_nano, attrs(e)) for e in chat.events]
    assert events == [
        ("streamwidget.first_token", at(1.7593), {"streamwidget.ttft_s": 1.7593}),
        (
            "streamwidget.stall",
            at(2.9604),
            {"streamwidget.stall.duration_s": 0.6312, "streamwidget.stall.next_event": "text"},
        ),
        (
            "streamwidget.stall",
            at(4.8747),
            {"streamwidget.stall.duration_s": 0.7524, "streamwidget.stall.next_event": "error"},
        ),
    ]

    assert tool.name == "execute_tool get_weather"
    assert tool.kind == trace_pb2.Span.SPAN_KIND_INTERNAL
    assert tool.trace_id == chat.trace_id and tool.parent_span_id == chat.span_id
    assert tool.span_id != chat.span_id
    # from the tool starting to run to its result
    assert (tool.start_time_unix_nano, tool.end_time_unix_nano) == (at(2.4214), at(2.9604))
    assert tool.status.code == trace_pb2.Status.STATUS_CODE_UNSET
    assert attrs(tool) == {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "get_weather",
        "gen_ai.tool.call.id": CALL,
        "gen_ai.tool.type": "function",
        "streamwidget.tool.status": "done",
    }


def test_stalls_agree_with_the_analytics_views(store):
    sid = store.import_recording(Recording.bundled("weather-tool-error"))
    spans = sw.export_otel(store)["resourceSpans"][0]["scopeSpans"][0]["spans"]
    stalls = [e for e in spans[0]["events"] if e["name"] == "streamwidget.stall"]
    row = stats(store).fetchall()
    columns = stats(store).columns
    metrics = dict(zip(columns, row[0]))
    assert metrics["stream_id"] == sid and metrics["stalls"] == len(stalls) == 2


def test_ids_are_derived_from_the_stream_id_and_stable(store):
    a = store.import_recording(Recording.bundled("weather-tool-error"))
    b = store.import_recording(Recording.bundled("hello"))
    first = sw.export_otel([a, b], store=store)
    assert sw.export_otel([a, b], store=store) == first
    spans = first["resourceSpans"][0]["scopeSpans"][0]["spans"]
    everything = sw.export_otel(store)["resourceSpans"][0]["scopeSpans"][0]["spans"]
    assert sorted(everything, key=lambda s: s["spanId"]) == sorted(spans, key=lambda s: s["spanId"])
    assert [s["traceId"] for s in spans] == [trace_id(a), trace_id(a), trace_id(b)]
    assert [s["spanId"] for s in spans] == [span_id(a), span_id(a, CALL), span_id(b)]
    assert len({s["spanId"] for s in spans}) == 3 and trace_id(a) != trace_id(b)
    # OTLP/JSON: hex ids, nanoseconds and int64 as strings, enums as numbers
    assert all(len(s["traceId"]) == 32 and len(s["spanId"]) == 16 for s in spans)
    assert isinstance(spans[0]["startTimeUnixNano"], str) and spans[0]["kind"] == 3


def test_a_complete_stream_has_usage_finish_reasons_and_no_error(store):
    sid = store.import_recording(Recording.bundled("hello"))
    hello = store.recording(sid)
    (span,) = sw.export_otel(sid, store=store)["resourceSpans"][0]["scopeSpans"][0]["spans"]
    a = {kv["key"]: next(iter(kv["value"].values())) for kv in span["attributes"]}
    usage = next(e for e in hello.events if e["type"] == "usage")
    assert a["gen_ai.usage.output_tokens"] == str(usage["output_tokens"])
    assert a["gen_ai.usage.input_tokens"] == str(usage["input_tokens"])
    finish = next(e for e in hello.events if e["type"] == "finish")["reason"]
    assert a["gen_ai.response.finish_reasons"] == {"values": [{"stringValue": finish}]}
    assert "error.type" not in a and span["status"] == {"code": 0}


def test_cancelled_and_interrupted_streams_are_errors(store):
    events = [{"t": 0.2, "type": "text", "text": "Hi"}]
    for end in ("cancelled", "interrupted"):
        rec = Recording.new(provider="openai", model="m", events=[*events, {"t": 0.3, "type": end}])
        (span,) = sw.export_otel(rec)["resourceSpans"][0]["scopeSpans"][0]["spans"]
        a = {kv["key"]: kv["value"] for kv in span["attributes"]}
        assert span["status"] == {"code": 2, "message": end}
        assert a["error.type"] == {"stringValue": end}


def test_content_is_opt_in_and_redacted(store):
    rec = Recording.new(
        provider="openai",
        model="gpt-x",
        request={"messages": [{"role": "user", "content": "mail bob@example.com"}]},
        events=[
            {"t": 0.1, "type": "text", "text": "Key: sk-abcdefghijklmnopqrstuvwxyz123"},
            {"t": 0.2, "type": "finish", "reason": "stop"},
        ],
    )
    (span,) = sw.export_otel(rec, content=True)["resourceSpans"][0]["scopeSpans"][0]["spans"]
    a = {kv["key"]: kv["value"].get("stringValue") for kv in span["attributes"]}
    inputs = json.loads(a["gen_ai.input.messages"])
    outputs = json.loads(a["gen_ai.output.messages"])
    assert inputs == [
        {"role": "user", "parts": [{"type": "text", "content": "mail [REDACTED:email]"}]}
    ]
    assert outputs == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": "Key: [REDACTED:api_key]"}],
            "finish_reason": "stop",
        }
    ]
    (raw,) = sw.export_otel(rec, content=True, redact=False)["resourceSpans"][0]["scopeSpans"][0][
        "spans"
    ]
    assert "sk-abcdefghijklmnopqrstuvwxyz123" in json.dumps(raw)


def test_tool_content_and_failed_tools(store):
    rec = Recording.bundled("weather-tool-error")
    rec.events[-1:] = [
        {"t": 5.0, "type": "tool_call_start", "id": "c2", "name": "rm_rf"},
        {"t": 5.1, "type": "tool_call_end", "id": "c2", "arguments": {}},
        {"t": 5.2, "type": "tool_result", "id": "c2", "status": "denied", "error": "denied"},
        {"t": 5.3, "type": "finish", "reason": "tool_use"},
    ]
    spans = sw.export_otel(rec, content=True)["resourceSpans"][0]["scopeSpans"][0]["spans"]
    weather, denied = spans[1], spans[2]
    a = {kv["key"]: kv["value"].get("stringValue") for kv in weather["attributes"]}
    assert json.loads(a["gen_ai.tool.call.arguments"]) == {"city": "Paris", "unit": "celsius"}
    assert json.loads(a["gen_ai.tool.call.result"])["temperature"] == 14
    assert denied["name"] == "execute_tool rm_rf" and denied["status"]["code"] == 2
    d = {kv["key"]: kv["value"].get("stringValue") for kv in denied["attributes"]}
    assert d["error.type"] == "tool_denied"
    assert (int(denied["startTimeUnixNano"]) - T0, int(denied["endTimeUnixNano"]) - T0) == (
        5_100_000_000,
        5_200_000_000,
    )


def test_receiver_refusals_are_clear_errors():
    with Receiver() as receiver:
        receiver.answer = (200, {"partialSuccess": {"rejectedSpans": "1", "errorMessage": "no"}})
        with pytest.raises(OtelExportError, match="rejected 1 span"):
            sw.export_otel("hello", endpoint=receiver.url)
        receiver.answer = (503, {"message": "busy"})
        with pytest.raises(OtelExportError, match="answered 503"):
            sw.export_otel("hello", endpoint=receiver.url + "/v1/traces")
        url = receiver.url
    with pytest.raises(OtelExportError, match="could not send"):
        sw.export_otel("hello", endpoint=url, timeout=2)
    with pytest.raises(OtelExportError, match="protocol must be"):
        sw.export_otel("hello", endpoint=url, protocol="grpc")
    bad = Recording.new(provider="x", model="y", created_at="yesterday")
    with pytest.raises(OtelExportError, match="not an ISO-8601 time"):
        sw.export_otel(bad)


def test_cli_writes_a_file_and_sends_to_an_endpoint(tmp_path, capsys):
    db = str(tmp_path / "s.duckdb")
    with Store(db) as store:
        sid = store.import_recording(Recording.bundled("weather-tool-error"))
    out = tmp_path / "traces.json"
    with Receiver() as receiver:
        code = main(
            ["--store", db, "export", "--format", "otel", "-o", str(out), "--endpoint",
             receiver.url, "--protocol", "protobuf"]
        )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert "exported 1 stream(s) as 2 span(s)" in capsys.readouterr().out
    written = json.loads(out.read_text())
    assert [s["spanId"] for s in written["resourceSpans"][0]["scopeSpans"][0]["spans"]] == [
        span_id(sid),
        span_id(sid, CALL),
    ]
    assert [s.span_id.hex() for s in received_spans(receiver)] == [span_id(sid), span_id(sid, CALL)]
    assert main(["--store", db, "export", "--format", "otel"]) == 1
    assert "needs -o FILE, --endpoint URL" in capsys.readouterr().err


def test_many_spans_go_in_several_posts(store, monkeypatch):
    import streamwidget.otel as otel

    monkeypatch.setattr(otel, "SPANS_PER_POST", 2)
    store.import_recording(Recording.bundled("weather-tool-error"))
    store.import_recording(Recording.bundled("hello"))
    with Receiver() as receiver:
        request = sw.export_otel(store, endpoint=receiver.url)
    assert [len(list(received_spans_of(r))) for r in receiver.requests] == [2, 1]
    sent = [s.span_id.hex() for r in receiver.requests for s in received_spans_of(r)]
    assert sent == [s["spanId"] for s in request["resourceSpans"][0]["scopeSpans"][0]["spans"]]


def received_spans_of(request):
    return (span for rs in request.resource_spans for ss in rs.scope_spans for span in ss.spans)
