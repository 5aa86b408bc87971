"""A loopback OTLP/HTTP trace receiver that parses what it gets with the official definitions.

Bodies are decoded into ``opentelemetry.proto``'s ``ExportTraceServiceRequest`` (from the
``opentelemetry-proto`` package), so a field name, a type or an enum value that is not OTLP
fails here, not in our own reader:

- ``application/x-protobuf``: ``ExportTraceServiceRequest.ParseFromString``;
- ``application/json``: ``google.protobuf.json_format.ParseDict`` (unknown fields rejected),
  after the one deviation the OTLP specification makes from protobuf's JSON mapping: trace and
  span ids are hex strings, not base64 (the Collector's JSON unmarshaler does the same). An id
  that is not hex of the right length is refused with 400, as the Collector does.
"""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

_ID_BYTES = {"traceId": 16, "spanId": 8, "parentSpanId": 8}


class BadOtlp(ValueError):
    pass


def hex_ids_to_base64(node: Any) -> Any:
    """The OTLP/JSON request with its hex ids rewritten as protobuf JSON (base64) wants."""
    if isinstance(node, list):
        return [hex_ids_to_base64(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key in _ID_BYTES and isinstance(value, str) and value:
            try:
                raw = bytes.fromhex(value)
            except ValueError:
                raise BadOtlp(f"{key} {value!r} is not hex") from None
            if len(raw) != _ID_BYTES[key]:
                raise BadOtlp(f"{key} {value!r} is not {_ID_BYTES[key]} bytes")
            out[key] = base64.b64encode(raw).decode()
        else:
            out[key] = hex_ids_to_base64(value)
    return out


def parse(body: bytes, content_type: str) -> trace_service_pb2.ExportTraceServiceRequest:
    message = trace_service_pb2.ExportTraceServiceRequest()
    if content_type.startswith("application/x-protobuf"):
        message.ParseFromString(body)
    elif content_type.startswith("application/json"):
        json_format.ParseDict(hex_ids_to_base64(json.loads(body)), message)
    else:
        raise BadOtlp(f"unsupported content type {content_type!r}")
    return message


class Receiver:
    """``with Receiver() as r:`` serves ``r.url``; ``r.requests`` holds the parsed messages,
    ``r.content_types`` what they came as. ``r.answer`` may be set to (status, body)."""

    def __init__(self) -> None:
        self.requests: list[trace_service_pb2.ExportTraceServiceRequest] = []
        self.content_types: list[str] = []
        self.paths: list[str] = []
        self.answer: tuple[int, dict[str, Any]] | None = None
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                kind = self.headers.get("Content-Type", "")
                receiver.paths.append(self.path)
                status, reply = 200, {}
                try:
                    if self.path != "/v1/traces":
                        status, reply = 404, {"message": "not found"}
                    else:
                        receiver.requests.append(parse(body, kind))
                        receiver.content_types.append(kind)
                        status, reply = receiver.answer or (200, {})
                except (BadOtlp, json_format.ParseError, ValueError) as exc:
                    status, reply = 400, {"message": str(exc)}
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
