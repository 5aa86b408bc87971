"""Sending OTLP/JSON trace requests to an OTLP/HTTP receiver (``POST /v1/traces``) with httpx.

JSON needs nothing else; protobuf needs ``opentelemetry-proto`` (the official message
definitions), which turns the JSON mapping into the binary message.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Mapping
from typing import Any

from .transfer import TransferError


class OtelExportError(TransferError):
    """Spans could not be built or sent; the message says why."""


def send(
    request: Mapping[str, Any],
    endpoint: str,
    *,
    headers: Mapping[str, str] | None = None,
    protocol: str = "json",
    timeout: float = 10.0,
) -> None:
    """POST an OTLP/JSON request to an OTLP/HTTP receiver; raise :class:`OtelExportError`
    when it is not accepted (or accepted only in part)."""
    import httpx

    url = endpoint.rstrip("/")
    url = url if url.endswith("/v1/traces") else url + "/v1/traces"
    sent = dict(headers) if headers is not None else _env_headers()
    if protocol == "json":
        body = json.dumps(request, ensure_ascii=False).encode("utf-8")
        sent["Content-Type"] = "application/json"
    elif protocol == "protobuf":
        body = _protobuf(request)
        sent["Content-Type"] = "application/x-protobuf"
    else:
        raise OtelExportError(f"protocol must be 'json' or 'protobuf', not {protocol!r}")
    try:
        response = httpx.post(url, content=body, headers=sent, timeout=timeout)
    except httpx.HTTPError as exc:
        raise OtelExportError(f"could not send the spans to {url}: {exc}") from exc
    if not response.is_success:
        raise OtelExportError(
            f"the OTLP receiver at {url} answered {response.status_code}: {response.text[:300]}"
        )
    _check_partial(response, url)


def _check_partial(response: Any, url: str) -> None:
    """OTLP receivers report spans they rejected in ``partialSuccess`` (JSON answers only)."""
    if "json" not in response.headers.get("content-type", ""):
        return
    try:
        partial = (response.json() or {}).get("partialSuccess") or {}
    except ValueError:
        return
    rejected = int(partial.get("rejectedSpans") or 0)
    if rejected:
        raise OtelExportError(
            f"the OTLP receiver at {url} rejected {rejected} span(s): "
            f"{partial.get('errorMessage', '')}"
        )


def _protobuf(request: Mapping[str, Any]) -> bytes:
    try:
        from google.protobuf import json_format
        from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
    except ImportError:
        raise OtelExportError(
            "protocol='protobuf' needs opentelemetry-proto (pip install opentelemetry-proto);"
            " protocol='json' needs nothing"
        ) from None
    message = trace_service_pb2.ExportTraceServiceRequest()
    json_format.ParseDict(_base64_ids(request), message)
    return message.SerializeToString()


def _base64_ids(node: Any) -> Any:
    """OTLP/JSON writes trace and span ids as hex; protobuf's JSON mapping reads bytes as
    base64. Rewrite the ids so ``ParseDict`` gets the bytes the hex stands for."""
    if isinstance(node, list):
        return [_base64_ids(v) for v in node]
    if not isinstance(node, Mapping):
        return node
    return {
        k: base64.b64encode(bytes.fromhex(v)).decode()
        if k in ("traceId", "spanId", "parentSpanId") and isinstance(v, str)
        else _base64_ids(v)
        for k, v in node.items()
    }


def _env_headers() -> dict[str, str]:
    """``OTEL_EXPORTER_OTLP_HEADERS`` (``k=v,k2=v2``, values URL-encoded) as a dict."""
    from urllib.parse import unquote

    raw = os.environ.get("OTEL_EXPORTER_OTLP_HEADERS", "")
    pairs = (item.split("=", 1) for item in raw.split(",") if "=" in item)
    return {unquote(k.strip()): unquote(v.strip()) for k, v in pairs}
