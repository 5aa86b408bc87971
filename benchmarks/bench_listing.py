"""11. Listings and imports at 100k and 1M streams: they cost what they touch, not the store.

A store file is filled in bulk with SQL (N finished streams of 6 events each: five text pieces
and a finish), then, in a fresh process each time, ``stats(store, limit=20)`` (what ``ls
--limit 20`` runs: the newest streams are picked in the query, so only their events are read)
is timed against the way listings used to work: metrics for every stream, cut in Python (run
at the smaller size only: it reads every event). Target: ``ls --limit 20`` ≤ 0.3 s at 1M.
Imports into each store: ``import_recordings`` (batched, what ``streamwidget import`` runs)
against one ``import_recording`` (a transaction) each. Target: ≤ 1 ms per stream, flat.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import child_env, emit, in_fresh_python, log, parse_args, row

SECTION = "11 listing"
EVENTS_EACH = 6

FILL = """
INSERT INTO streams (id, status, content, reasoning, tool_calls, finish_reason, model, provider,
                     request, header, first_token_t, last_t, version, created_at)
SELECT 's_' || lpad(i::VARCHAR, 8, '0'), 'complete', 'token token token token token ', '',
       '[]', 'stop', 'm' || (i % 5)::VARCHAR, 'bench', '{}', '{}', 0.1, 0.6, 6,
       TIMESTAMPTZ '2026-01-01' + to_seconds(i)
FROM range($1) t(i);
INSERT INTO events (stream_id, seq, t, type, payload)
SELECT 's_' || lpad(i::VARCHAR, 8, '0'), j, 0.1 * (j + 1),
       CASE WHEN j = 5 THEN 'finish' ELSE 'text' END,
       CASE WHEN j = 5 THEN '{"reason": "stop"}' ELSE '{"text": "token "}' END
FROM range($1) t(i), range(6) u(j);
"""

LIST = r"""
import json, sys, time
from streamwidget.analytics import stats
from streamwidget.store import Store
store = Store(sys.argv[1])
t0 = time.perf_counter()
if sys.argv[2] == "limit":
    rows = stats(store, limit=20).fetchall()
else:  # every stream's metrics, then the newest 20 kept in Python
    rows = stats(store).fetchall()[:20]
t1 = time.perf_counter()
store.close()
print(json.dumps({"seconds": t1 - t0, "rows": len(rows)}))
"""


IMPORT = r"""
import json, sys, time
from streamwidget.recording import Recording
from streamwidget.store import Store
store = Store(sys.argv[1])
count = int(sys.argv[2])
recordings = [
    Recording.new(
        provider="bench", model="bench-import",
        events=[{"type": "text", "t": 0.1, "text": f"imported answer {i} "},
                {"type": "finish", "t": 0.2, "reason": "stop"}],
    )
    for i in range(count)
]
store.import_recording(recordings[0])  # the first write pays for the store's warm-up
half = count // 2
t0 = time.perf_counter()
for recording in recordings[1:half]:  # one at a time: a transaction each
    store.import_recording(recording)
t1 = time.perf_counter()
outcomes = store.import_recordings(recordings[half:])  # what `streamwidget import` does
t2 = time.perf_counter()
assert all(outcome.written for outcome in outcomes)
store.import_recording(recordings[1])  # already there: found by its hash, not written
t3 = time.perf_counter()
store.close()
print(json.dumps({"single": (t1 - t0) / (half - 1), "per_stream": (t2 - t1) / (count - half),
                  "duplicate": t3 - t2}))
"""
IMPORTS = 1001


def build(path: str, streams: int) -> float:
    import duckdb

    from streamwidget.store import Store

    started = time.perf_counter()
    Store(path).close()  # the schema, as a store writes it
    con = duckdb.connect(path)
    for statement in FILL.split(";"):
        if statement.strip():
            con.execute(statement, [streams])
    con.close()
    return time.perf_counter() - started


def listing(path: str, how: str) -> dict[str, Any]:
    return in_fresh_python(LIST, path, how, timeout=900)


def command(*argv: str) -> float:
    """Wall time of ``python -m streamwidget ARGV`` in a fresh process."""
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "streamwidget", *argv],
        capture_output=True,
        env=child_env(COLUMNS="120"),
        check=True,
        timeout=900,
    )
    return time.perf_counter() - started


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    small, big = (10_000, 100_000) if args.quick else (100_000, 1_000_000)
    rows, data = [], {}
    with tempfile.TemporaryDirectory(prefix="swbench-listing-") as tmp:
        times: dict[int, float] = {}
        imported: dict[int, dict[str, Any]] = {}
        for n in (small, big):
            path = str(Path(tmp) / f"{n}.duckdb")
            built = build(path, n)
            log(f"{n:,} streams ({n * EVENTS_EACH:,} events) built in {built:.1f} s")
            runs = [listing(path, "limit") for _ in range(3)]
            times[n] = statistics.median(r["seconds"] for r in runs)
            data[f"limit_{n}"] = runs
            log(f"stats(limit=20) at {n:,}: {times[n] * 1000:.0f} ms")
            imported[n] = in_fresh_python(IMPORT, path, str(IMPORTS), timeout=900)
            data[f"import_{n}"] = imported[n]
            log(
                f"import at {n:,}: {imported[n]['per_stream'] * 1000:.2f} ms per stream "
                f"(one at a time: {imported[n]['single'] * 1000:.2f} ms)"
            )
            if n == small:
                everything = listing(path, "all")
                data[f"all_{n}"] = everything
                log(f"every stream's metrics at {n:,}: {everything['seconds']:.2f} s")
                rows.append(
                    row(
                        SECTION,
                        f"ls --limit 20 at {n:,} streams",
                        times[n],
                        "s",
                        baseline=everything["seconds"],
                        baseline_label="metrics for every stream, cut in Python",
                        note="median of 3, a fresh process each",
                    )
                )
        cli = statistics.median(command("--store", path, "ls", "--limit", "20") for _ in range(3))
        startup = statistics.median(command("--version") for _ in range(3))
        data.update(cli_s=cli, startup_s=startup)
        log(f"the command at {big:,}: {cli:.2f} s (starting the command alone: {startup:.2f} s)")
        rows.append(
            row(
                SECTION,
                f"`streamwidget ls --limit 20` at {big:,} streams, the whole command",
                cli,
                "s",
                note=f"of which {startup:.2f} s is starting Python and the command (--version)",
            )
        )
        rows.append(
            row(
                SECTION,
                f"ls --limit 20 at {big:,} streams (the query)",
                times[big],
                "s",
                target="≤ 0.3 s",
                passed=times[big] <= 0.3,
                note=f"{times[big] / times[small]:.2f}x the time at {small:,} streams",
            )
        )
        per = {n: imported[n]["per_stream"] for n in (small, big)}
        rows.append(
            row(
                SECTION,
                f"import recordings into a store of {big:,} streams (per stream)",
                per[big],
                "s",
                baseline=imported[big]["single"],
                baseline_label="one transaction per recording; v0.1 took 3 → 5 ms",
                target="≤ 1 ms, flat",
                passed=per[big] <= 0.001 and per[big] <= 1.5 * per[small],
                note=(
                    f"`import_recordings` ({IMPORTS // 2} at once); {per[big] / per[small]:.2f}x "
                    f"the time at {small:,} streams; a duplicate found in "
                    f"{imported[big]['duplicate'] * 1000:.2f} ms"
                ),
            )
        )
    emit(args, rows, data)


if __name__ == "__main__":
    main()
