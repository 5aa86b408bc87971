"""Seek: the document at any point of a 100,000-event recording, vs a full re-fold.

A generated recording (text tokens with ~20 ms gaps, some stalls, a reasoning prelude, 50 tool
calls with streamed arguments, usage and finish) is indexed once (:class:`SeekIndex`), then:

- ``SeekIndex.document(k)`` at random positions: the seek itself;
- ``Player.seek(k)`` and ``Player.seek_time(t)``: the widget's whole path (document, traits,
  inspector rows; no front end attached);
- baseline, in the same run: ``Document.from_events(events[:k])`` at random positions, the
  full re-fold a seek would cost without the index.

Standalone: ``python benchmarks/bench_seek.py [--quick] [--json PATH]`` prints a report; with
``--json`` it also writes ``{"rows": [...], "data": {...}}`` (rows shaped like
``benchmarks/common.py``'s ``Row``) for the benchmark runner.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from streamwidget.document import Document
from streamwidget.recording import Recording
from streamwidget.seek import SeekIndex

SECTION = "seek"
TARGET = 0.1  # seconds: "seeking answers in well under a tenth of a second"
WORDS = ["the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog", "streams"]


def recording(n: int, seed: int = 1) -> Recording:
    """About ``n`` events: see the module docstring."""
    rng = random.Random(seed)
    events: list[dict[str, Any]] = []
    t = 0.4
    tools_every = max(n // 50, 20)
    for _ in range(200):
        t += 0.01
        events.append({"t": round(t, 4), "type": "reasoning", "text": rng.choice(WORDS) + " "})
    while len(events) < n - 2:
        t += 0.6 if rng.random() < 0.001 else rng.uniform(0.005, 0.035)  # the odd stall
        if len(events) % tools_every == 0:
            cid = f"call_{len(events)}"
            events.append({"t": round(t, 4), "type": "tool_call_start", "id": cid, "name": "f"})
            for piece in ['{"city"', ': "Par', 'is"}']:
                t += 0.01
                events.append(
                    {"t": round(t, 4), "type": "tool_call_delta", "id": cid, "args_delta": piece}
                )
            t += 0.01
            events.append(
                {
                    "t": round(t, 4),
                    "type": "tool_call_end",
                    "id": cid,
                    "arguments": {"city": "Paris"},
                }
            )
            t += 0.2
            events.append(
                {"t": round(t, 4), "type": "tool_result", "id": cid, "status": "done", "result": 14}
            )
            continue
        token = rng.choice(WORDS) + ("\n\n" if rng.random() < 0.02 else " ")
        events.append({"t": round(t, 4), "type": "text", "text": token})
    events.append({"t": round(t, 4), "type": "usage", "output_tokens": n})
    events.append({"t": round(t, 4), "type": "finish", "reason": "stop"})
    return Recording.new(provider="bench", model="generated", events=events)


def timed(fn: Any, args: list[Any]) -> list[float]:
    out = []
    for arg in args:
        start = time.perf_counter()
        fn(arg)
        out.append(time.perf_counter() - start)
    return out


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "n": len(ordered),
        "p50": statistics.median(ordered),
        "p95": ordered[min(int(0.95 * len(ordered)), len(ordered) - 1)],
        "max": ordered[-1],
        "mean": statistics.fmean(ordered),
    }


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 events, fewer samples")
    parser.add_argument("--events", type=int, help="events in the recording (default 100,000)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    n = args.events or (10_000 if args.quick else 100_000)
    seeks, refolds = (300, 8) if args.quick else (2000, 20)
    rng = random.Random(2)

    rec = recording(n)
    events = rec.events
    start = time.perf_counter()
    index = SeekIndex(events, model=rec.model, provider=rec.provider)
    build = time.perf_counter() - start
    positions = [rng.randrange(len(events) + 1) for _ in range(seeks)]
    seek = summary(timed(index.document, positions))

    from streamwidget.widgets.player import Player

    start = time.perf_counter()
    player = Player(rec)
    player_build = time.perf_counter() - start
    widget_seek = summary(timed(player.seek, positions[: seeks // 4]))
    times = [rng.uniform(0, index.duration) for _ in range(seeks // 4)]
    widget_seek_time = summary(timed(player.seek_time, times))
    steps = summary(timed(lambda _: player.step(1), range(seeks // 4)))

    baseline_positions = [rng.randrange(len(events) + 1) for _ in range(refolds)]
    baseline = summary(timed(lambda k: Document.from_events(events[:k]).text, baseline_positions))
    # Correctness spot check while we are here (tests/test_seek.py checks every position).
    for k in baseline_positions[:3]:
        assert index.document(k) == Document.from_events(
            events[:k], model=rec.model, provider=rec.provider
        )

    print(
        f"recording: {len(events):,} events, {index.duration:.1f} s, "
        f"{len(index.final_text):,} characters of text"
    )
    print(f"index build: {build:.3f} s   Player(...) build: {player_build:.3f} s")
    print(f"{'':28}{'p50':>12}{'p95':>12}{'max':>12}")
    table = [
        ("SeekIndex.document(k)", seek),
        ("Player.seek(k)", widget_seek),
        ("Player.seek_time(t)", widget_seek_time),
        ("Player.step(1)", steps),
        ("baseline: full re-fold", baseline),
    ]
    for name, s in table:
        print(f"{name:28}{ms(s['p50']):>12}{ms(s['p95']):>12}{ms(s['max']):>12}")
    ratio = baseline["p50"] / widget_seek["p50"]
    # p95, not max: on a shared 2-core machine the slowest samples measure the neighbours
    # (a busy scheduler), not the seek; the max is printed too.
    passed = widget_seek["p95"] < TARGET and widget_seek_time["p95"] < TARGET
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"Player.seek is {ratio:,.0f}x faster than a re-fold (p50); "
        f"widget seeks under {TARGET * 1000:.0f} ms at p95: {passed} (load average {load:.1f})"
    )

    if args.json:
        common = {"section": SECTION, "unit": "s", "baseline_label": "full re-fold (p50)"}
        rows = [
            {
                **common,
                "what": f"seek in {len(events):,} events (Player.seek, p50)",
                "value": widget_seek["p50"],
                "baseline": baseline["p50"],
                "ratio": ratio,
                "target": f"p95 < {TARGET} s",
                "passed": passed,
                "note": f"p95 {ms(widget_seek['p95'])}, max {ms(widget_seek['max'])}",
            },
            {
                **common,
                "what": "SeekIndex.document (p50)",
                "value": seek["p50"],
                "baseline": baseline["p50"],
                "ratio": baseline["p50"] / seek["p50"],
                "target": "",
                "passed": None,
                "note": f"max {ms(seek['max'])}",
            },
            {
                **common,
                "what": f"index build ({len(events):,} events)",
                "value": build,
                "baseline": None,
                "baseline_label": "",
                "ratio": None,
                "target": "",
                "passed": None,
                "note": "once per Player",
            },
        ]
        data = {
            "events": len(events),
            "build_s": build,
            "player_build_s": player_build,
            "load_average": load,
            **{name: s for name, s in table},
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"rows": rows, "data": data}, indent=1))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
