"""What recording the raw wire (``record_wire=True``) costs: store bytes and CPU per token.

N realistic tokens (workload.tokens) are served as a real-shaped OpenAI chat-completions SSE
body (each chunk as the API sends it: id, object, created, model, system_fingerprint,
choices, obfuscation) or an Anthropic Messages body, in 1 kB network-sized pieces, through
the real provider and manager into a DuckDB store on disk — once with ``record_wire=False``
and once with ``record_wire=True``. Measured per token:

- CPU: ``time.process_time()`` around ``start(...).wait()`` (every thread of this process:
  the event loop, the parser, the store's writer), median of the runs;
- store: the bytes of the event payloads (``sum(length(payload))``) and of the DuckDB file
  after closing (checkpointed).

Run: ``python benchmarks/bench_wire.py [--tokens 2000 20000] [--runs 3]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import httpx
from workload import tokens

from streamwidget.manager import start
from streamwidget.providers.anthropic import AnthropicProvider
from streamwidget.providers.openai import OpenAIProvider
from streamwidget.store import Store


def openai_body(words: list[str]) -> bytes:
    base = {
        "id": "chatcmpl-D8Z5oo6uDh67AD85p73ksdT1KxhE0",
        "object": "chat.completion.chunk",
        "created": 1770933892,
        "model": "gpt-4.1-nano-2025-04-14",
        "service_tier": "default",
        "system_fingerprint": "fp_de604bd877",
    }
    out = []
    for word in words:
        choice = {"index": 0, "delta": {"content": word}, "logprobs": None, "finish_reason": None}
        out.append({**base, "choices": [choice], "usage": None, "obfuscation": "yhjoJbEF"})
    done = {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}
    out.append({**base, "choices": [done], "usage": None})
    usage = {"prompt_tokens": 16, "completion_tokens": len(words), "total_tokens": 16 + len(words)}
    out.append({**base, "choices": [], "usage": usage})
    lines = [f"data: {json.dumps(c, separators=(',', ':'))}\n\n" for c in out]
    return ("".join(lines) + "data: [DONE]\n\n").encode()


def anthropic_body(words: list[str]) -> bytes:
    def ev(data: dict[str, Any]) -> str:
        return f"event: {data['type']}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"

    message = {"id": "msg_01QC4g3HwBThD4BaNtBckFDJ", "type": "message", "role": "assistant"}
    parts = [ev({"type": "message_start", "message": {**message, "usage": {"input_tokens": 12}}})]
    parts.append(
        ev(
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            }
        )
    )
    for word in words:
        delta = {"type": "text_delta", "text": word}
        parts.append(ev({"type": "content_block_delta", "index": 0, "delta": delta}))
    parts.append(ev({"type": "content_block_stop", "index": 0}))
    stop = {"stop_reason": "end_turn", "stop_sequence": None}
    parts.append(
        ev({"type": "message_delta", "delta": stop, "usage": {"output_tokens": len(words)}})
    )
    parts.append(ev({"type": "message_stop"}))
    return "".join(parts).encode()


class Pieces(httpx.AsyncByteStream):
    def __init__(self, body: bytes, size: int = 1024) -> None:
        self.body, self.size = body, size

    async def __aiter__(self):
        for at in range(0, len(self.body), self.size):
            yield self.body[at : at + self.size]


def provider(wire: str, body: bytes, record_wire: bool) -> Any:
    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"content-type": "text/event-stream"}
        return httpx.Response(200, headers=headers, stream=Pieces(body))

    common = dict(transport=httpx.MockTransport(handler), record_wire=record_wire, max_retries=0)
    if wire == "openai":
        return OpenAIProvider("bench", base_url="http://bench.invalid/v1", **common)
    return AnthropicProvider("bench", api_key="sk-ant-bench-0000", **common)


def one_run(wire: str, body: bytes, record_wire: bool, folder: Path) -> dict[str, float]:
    path = folder / f"{wire}-{record_wire}-{time.monotonic_ns()}.duckdb"
    store = Store(path)
    p = provider(wire, body, record_wire)
    cpu = time.process_time()
    doc = start(p, request="hi", store=store).wait(600)
    store.flush()
    cpu = time.process_time() - cpu
    assert doc.status == "complete", doc.error
    rows = store.sql(
        "SELECT type = 'wire', count(*), sum(length(payload)) FROM events GROUP BY 1"
    ).fetchall()
    store.close()
    payload = {bool(w): (int(n), int(b)) for w, n, b in rows}
    return {
        "cpu": cpu,
        "payload": sum(b for _, b in payload.values()),
        "wire_payload": payload.get(True, (0, 0))[1],
        "wire_events": payload.get(True, (0, 0))[0],
        "file": path.stat().st_size,
    }


def measure(wire: str, n: int, runs: int, folder: Path) -> dict[str, Any]:
    words = tokens(n)
    body = (openai_body if wire == "openai" else anthropic_body)(words)
    result: dict[str, Any] = {"wire": wire, "tokens": n, "body_bytes": len(body)}
    for record in (False, True):
        samples = [one_run(wire, body, record, folder) for _ in range(runs)]
        key = "on" if record else "off"
        result[f"cpu_us_per_token_{key}"] = statistics.median(s["cpu"] for s in samples) / n * 1e6
        result[f"payload_bytes_per_token_{key}"] = samples[0]["payload"] / n
        result[f"file_bytes_per_token_{key}"] = statistics.median(s["file"] for s in samples) / n
        result[f"wire_events_{key}"] = samples[0]["wire_events"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, nargs="+", default=[2000, 20000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for wire in ("openai", "anthropic"):
            for n in args.tokens:
                results.append(measure(wire, n, args.runs, Path(tmp)))
    head = f"{'wire':<10}{'tokens':>8}{'CPU µs/tok off':>16}{'on':>8}{'payload B/tok off':>19}"
    print(head + f"{'on':>8}{'file B/tok off':>16}{'on':>8}{'wire events':>13}")
    for r in results:
        print(
            f"{r['wire']:<10}{r['tokens']:>8}{r['cpu_us_per_token_off']:>16.1f}"
            f"{r['cpu_us_per_token_on']:>8.1f}{r['payload_bytes_per_token_off']:>19.1f}"
            f"{r['payload_bytes_per_token_on']:>8.1f}{r['file_bytes_per_token_off']:>16.1f}"
            f"{r['file_bytes_per_token_on']:>8.1f}{r['wire_events_on']:>13}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
