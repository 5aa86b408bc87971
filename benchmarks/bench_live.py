"""4. Live path: a chunk's arrival on the socket → its delta frame leaving the kernel.

A local OpenAI-compatible server (``sse_server.py``, its own process) replays an SSE recording
and notes when each chunk reached the socket. In a real kernel, ``OpenAIProvider`` (httpx,
httpx-sse) streams it into a StreamView with the store on disk; the view's ``send`` is wrapped
to note when each text frame is handed to the comm, and this process notes when the frame
arrives on iopub. Offsets in the frames tell which chunk each frame carries, so every chunk gets
a latency. Both clocks are ``CLOCK_MONOTONIC`` of this machine.

- Full speed: the server writes chunks as fast as the socket takes them. Latency is then mostly
  queueing (the kernel parses what already arrived) plus the frame interval.
- Paced at 50 chunks/s (a fast model: several chunks per 1/30 s frame, so coalescing shows) and
  at 20 chunks/s (slower than the frame interval: each chunk goes out at once, so what is left
  is the pure overhead of the path).
"""

from __future__ import annotations

import bisect
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import HERE, Kernel, child_env, emit, log, parse_args, percentile, row
from workload import tokens

SECTION = "4 live path"

SETUP = r"""
import json, time
from IPython.display import display
from streamwidget import Store, StreamView, start
from streamwidget.providers.openai import OpenAIProvider
_store = Store({store!r})
"""

RUN = r"""
_p = OpenAIProvider("bench", base_url="http://127.0.0.1:{port}/{n}/{rate}/v1")
_view = StreamView(start(_p, store=_store))
_sends = []
_orig_send = _view.send

def _timed_send(content, buffers=None, _o=_orig_send, _s=_sends):
    if isinstance(content, dict) and content.get("kind") == "delta" and content["field"] == "text":
        _s.append((time.monotonic(), content["at"], len(content["text"].encode("utf-16-le")) // 2))
    return _o(content, buffers)

_view.send = _timed_send
display(_view)
_doc = await _view.handle
await _p.aclose()
"""

RESULT = (
    'json.dumps({"sends": _sends, "status": _doc.status, "text": _doc.text, "error": _doc.error})'
)


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def latencies(
    n: int, sent: list[float], frames: list[tuple[float, int, int]]
) -> tuple[list[float], int]:
    """Per chunk: the time of the first frame that covers its last character, minus the time
    it reached the socket. Returns the latencies and how many chunks no frame covered."""
    frames = sorted(frames, key=lambda f: f[1])
    ends = [at + length for _, at, length in frames]
    out, missing, offset = [], 0, 0
    for i, token in enumerate(tokens(n)):
        offset += utf16(token)
        k = bisect.bisect_left(ends, offset)
        if k == len(frames):
            missing += 1
            continue
        out.append(frames[k][0] - sent[i])
    return out, missing


def run(kernel: Kernel, port: int, times_dir: Path, n: int, rate: float) -> dict[str, Any]:
    rate_text = f"{rate:g}"
    kernel.iopub.take()
    kernel.run(RUN.format(port=port, n=n, rate=rate_text), timeout=300)
    messages = kernel.iopub.take()
    result = kernel.run("pass", expr=RESULT)
    sent_file = times_dir / f"{n}-{rate_text}.json"
    for _ in range(50):
        if sent_file.exists():
            break
        time.sleep(0.1)
    import json

    sent = json.loads(sent_file.read_text())
    sent_file.unlink()
    received = [
        (m.t, m.info["at"], utf16(m.info["text"]))
        for m in messages
        if m.info.get("kind") == "delta" and m.info.get("field") == "text"
    ]
    in_kernel, missing_k = latencies(n, sent, [tuple(s) for s in result["sends"]])
    on_iopub, missing_i = latencies(n, sent, received)
    ok = result["text"] == "".join(tokens(n)) and result["status"] == "complete"
    summary = {
        "n": n,
        "rate": rate,
        "ok": ok,
        "error": result["error"],
        "frames": len(received),
        "missing": (missing_k, missing_i),
        "kernel_ms": stats_ms(in_kernel),
        "iopub_ms": stats_ms(on_iopub),
        "span_s": (max(r[0] for r in received) - sent[0]) if received else None,
    }
    log(
        f"n={n:>5} rate={rate_text:>3}: ok={ok} frames={len(received)} "
        f"kernel median {summary['kernel_ms']['median']:.1f} ms p99 "
        f"{summary['kernel_ms']['p99']:.1f}; iopub median {summary['iopub_ms']['median']:.1f}"
        f" ms p99 {summary['iopub_ms']['p99']:.1f}"
    )
    return summary


def stats_ms(values: list[float]) -> dict[str, float]:
    ms = [v * 1e3 for v in values]
    return {
        "median": statistics.median(ms) if ms else float("nan"),
        "p99": percentile(ms, 99),
        "max": max(ms) if ms else float("nan"),
        "count": len(ms),
    }


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    plan = (
        [(2_000, 0.0), (150, 50.0), (60, 20.0)]
        if args.quick
        else [(5_000, 0.0), (5_000, 0.0), (500, 50.0), (200, 20.0)]
    )
    results = []
    with tempfile.TemporaryDirectory(prefix="swbench-live-") as tmp:
        tmp_path = Path(tmp)
        port_file = tmp_path / "port"
        server = subprocess.Popen(
            [sys.executable, str(HERE / "sse_server.py"), str(port_file), str(tmp_path / "t")],
            env=child_env(),
            stdin=subprocess.DEVNULL,
        )
        try:
            for _ in range(100):
                if port_file.exists() and port_file.read_text():
                    break
                time.sleep(0.1)
            port = int(port_file.read_text())
            store = str(tmp_path / "store.duckdb")
            with Kernel(child_env(STREAMWIDGET_STORE=store)) as kernel:
                kernel.run(SETUP.format(store=store), timeout=120)
                run(kernel, port, tmp_path / "t", 50, 0.0)  # warm up: imports, the client
                for n, rate in plan:
                    results.append(run(kernel, port, tmp_path / "t", n, rate))
        finally:
            server.terminate()
            server.wait(10)
    rows = []
    seen = set()
    for r in results:
        key = (r["n"], r["rate"])
        if key in seen:
            continue
        same = [x for x in results if (x["n"], x["rate"]) == key]
        best = sorted(same, key=lambda x: x["iopub_ms"]["median"])[len(same) // 2]
        seen.add(key)
        pace = "full speed" if r["rate"] == 0 else f"{r['rate']:g} chunks/s"
        rows.append(
            row(
                SECTION,
                f"chunk on socket → delta frame on iopub, {pace} ({r['n']:,} chunks), median",
                best["iopub_ms"]["median"],
                "ms",
                note=f"in-kernel (to comm.send): median {best['kernel_ms']['median']:.1f} ms; "
                f"{best['frames']} frames; text correct: {best['ok']}",
            )
        )
        rows.append(
            row(
                SECTION,
                f"chunk on socket → delta frame on iopub, {pace} ({r['n']:,} chunks), p99",
                best["iopub_ms"]["p99"],
                "ms",
                note=f"in-kernel p99 {best['kernel_ms']['p99']:.1f} ms; max "
                f"{best['iopub_ms']['max']:.1f} ms"
                + (
                    f"; all {r['n']:,} chunks in {best['span_s'] * 1e3:.0f} ms "
                    f"({r['n'] / best['span_s']:,.0f} chunks/s)"
                    if r["rate"] == 0 and best["span_s"]
                    else ""
                ),
            )
        )
    emit(args, rows, {"runs": results})


if __name__ == "__main__":
    main()
