"""A local OpenAI-compatible server that replays an SSE recording, for the live-path benchmark.

``python sse_server.py PORT_FILE TIMES_DIR`` listens on a free loopback port (written to
PORT_FILE) and answers ``POST /<n>/<rate>/v1/chat/completions`` with ``n`` chat completion
chunks (the workload's tokens), then usage, finish and ``[DONE]``; ``rate`` is chunks per
second, ``0`` for as fast as the socket takes them. Each chunk is written, then drained with
no user-space buffering, and the time (``time.monotonic()``, the system-wide clock a kernel on
this machine reads too) is noted: that is when the chunk reached the socket. The times go to
``TIMES_DIR/<n>-<rate>.json`` once the reply is written. Stops after an hour at most.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

from workload import tokens

LIFETIME = 3600.0


def chunk(delta: dict, finish: str | None = None, usage: dict | None = None) -> bytes:
    body = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "bench",
        "choices": [] if usage else [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    if usage:
        body["usage"] = usage
    data = f"data: {json.dumps(body, ensure_ascii=False)}\n\n".encode()
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, out: Path) -> None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        _method, path, _ = lines[0].split(" ", 2)
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        await reader.readexactly(length)
        parts = path.strip("/").split("/")
        n, rate = int(parts[0]), float(parts[1])
    except Exception:
        writer.write(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        writer.close()
        return
    writer.transport.set_write_buffer_limits(high=0)
    writer.write(
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
        b"transfer-encoding: chunked\r\nconnection: close\r\n\r\n"
    )
    await writer.drain()
    sent = []
    start = time.monotonic()
    for i, token in enumerate(tokens(n)):
        if rate > 0:
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        writer.write(chunk({"content": token}))
        await writer.drain()
        sent.append(time.monotonic())
    writer.write(chunk({}, finish="stop"))
    writer.write(chunk({}, usage={"prompt_tokens": 1, "completion_tokens": n}))
    data = b"data: [DONE]\n\n"
    writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n0\r\n\r\n")
    await writer.drain()
    writer.close()
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{n}-{parts[1]}.json").write_text(json.dumps(sent))


async def main() -> None:
    port_file, out = Path(sys.argv[1]), Path(sys.argv[2])
    server = await asyncio.start_server(lambda r, w: handle(r, w, out), "127.0.0.1", 0)
    port_file.write_text(str(server.sockets[0].getsockname()[1]))
    async with server:
        await asyncio.sleep(LIFETIME)


if __name__ == "__main__":
    asyncio.run(main())
