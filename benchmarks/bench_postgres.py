"""The PostgreSQL store under load: many writer processes, a few follower processes.

    python benchmarks/bench_postgres.py [--dsn postgresql://...] [--writers 20] [--followers 5]
                                        [--speed 5] [--json]

Each writer process streams one bundled recording (cycling through them) into its own stream,
*held* at its recorded pace (``--speed`` times faster; ``--speed 0``: as fast as it can).
Each follower process follows every stream from before the first event (LISTEN/NOTIFY, then
reading the missing range). Afterwards the database is checked: every event stored exactly
once and in order per stream, every document equal to the fold of its recording, every
follower's document equal to the stored one. Printed: events/s written (all writers, from
"go" to the last commit) and follow latency (an event's append in its writer → its arrival
in a follower) median and p99. Without ``--dsn`` a throwaway server is started with
``scripts/start-postgres.sh``.

``run()`` is what ``tests/pg/test_pg_load.py`` calls.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from streamwidget import Document, Recording, Store  # noqa: E402

RECORDINGS = ["code-review", "hello", "weather-tool-error", "markdown-tour"]


def _writer(dsn: str, stream_id: str, name: str, speed: float, out: str) -> None:
    recording = Recording.bundled(name)
    store = Store(dsn)
    store.create_stream(stream_id=stream_id, provider=recording.provider, model=recording.model)
    store.flush()
    print("ready", flush=True)
    sys.stdin.readline()
    start = time.time()
    stamps = []
    for event in recording.events:
        if speed:
            delay = start + float(event.get("t", 0.0)) / speed - time.time()
            if delay > 0:
                time.sleep(delay)
        stamps.append(time.time())
        store.append(stream_id, event)
    store.close()
    Path(out).write_text(json.dumps({"stamps": stamps, "done": time.time()}))


def _follower(dsn: str, stream_ids: list[str], out: str) -> None:
    store = Store(dsn)
    arrivals: dict[str, list[float]] = {sid: [] for sid in stream_ids}
    final: dict[str, Document] = {}
    for sid in stream_ids:

        def heard(change, sid=sid):
            if change.event is not None:
                arrivals[sid].append(time.time())
                if change.document.done:
                    final[sid] = change.document

        doc, _ = store.follow(sid, heard)
        if doc.done:
            final[sid] = doc
    print("ready", flush=True)
    deadline = time.monotonic() + 600
    while len(final) < len(stream_ids) and time.monotonic() < deadline:
        time.sleep(0.02)
    converged = {
        sid: sid in final
        and final[sid].content_equal(store.get(sid))
        and final[sid].content_equal(Document.from_events(store.events(sid)))
        for sid in stream_ids
    }
    store.close()
    Path(out).write_text(json.dumps({"arrivals": arrivals, "converged": converged}))


def _spawn(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, __file__, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(dsn: str, writers: int = 20, followers: int = 5, speed: float = 5.0) -> dict:
    """Run the load; return the measurements and the checks (see the module docstring)."""
    tag = uuid.uuid4().hex[:8]
    plan = {f"load_{tag}_{i}": RECORDINGS[i % len(RECORDINGS)] for i in range(writers)}
    with tempfile.TemporaryDirectory() as tmp:
        procs = [
            _spawn("writer", dsn, sid, name, str(speed), f"{tmp}/{sid}.w")
            for sid, name in plan.items()
        ]
        for proc in procs:
            assert proc.stdout.readline().strip() == "ready"
        ids = ",".join(plan)
        fprocs = [_spawn("follower", dsn, ids, f"{tmp}/f{j}.f") for j in range(followers)]
        for proc in fprocs:
            assert proc.stdout.readline().strip() == "ready"
        go = time.time()
        for proc in procs:
            proc.stdin.write("go\n")
            proc.stdin.flush()
        for proc in procs + fprocs:
            proc.wait(900)
        written = {sid: json.loads(Path(f"{tmp}/{sid}.w").read_text()) for sid in plan}
        followed = [json.loads(Path(f"{tmp}/f{j}.f").read_text()) for j in range(followers)]
    end = max(w["done"] for w in written.values())
    expected = {sid: Recording.bundled(name).events for sid, name in plan.items()}
    total = sum(len(e) for e in expected.values())
    latencies = [
        arrival - written[sid]["stamps"][i]
        for f in followed
        for sid, times in f["arrivals"].items()
        for i, arrival in enumerate(times)
    ]
    with Store(dsn) as store:
        exactly_once_in_order = all(
            [(e["type"], e.get("text")) for e in store.events(sid)]
            == [(e["type"], e.get("text")) for e in events]
            for sid, events in expected.items()
        )
        stored = {sid: store.get(sid) for sid in plan}
        folds = all(stored[sid].content_equal(Document.from_events(expected[sid])) for sid in plan)
        rows = store.sql(
            "SELECT count(*), count(DISTINCT stream_id || ':' || seq) FROM events"
            " WHERE stream_id LIKE $1",
            [f"load_{tag}_%"],
        ).fetchall()[0]
    return {
        "writers": writers,
        "followers": followers,
        "speed": speed,
        "events": total,
        "events_stored": rows[0],
        "events_distinct": rows[1],
        "seconds": round(end - go, 3),
        "events_per_s": round(total / (end - go), 1),
        "follow_latency_ms_median": round(1000 * statistics.median(latencies), 2),
        "follow_latency_ms_p99": round(1000 * _percentile(latencies, 0.99), 2),
        "deliveries": len(latencies),
        "deliveries_expected": total * followers,
        "exactly_once_in_order": exactly_once_in_order and rows[0] == rows[1] == total,
        "documents_match_recordings": folds,
        "followers_converged": all(all(f["converged"].values()) for f in followed),
    }


def _start_server(folder: str) -> str:
    out = subprocess.run(
        ["bash", str(ROOT / "scripts" / "start-postgres.sh"), folder],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return out.stdout.strip().splitlines()[-1]


def _stop_server(folder: str) -> None:
    pg_ctl = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))[-1]
    stop = [str(pg_ctl), "-D", f"{folder}/data", "stop", "-m", "fast", "-w"]
    if os.geteuid() == 0:
        stop = ["runuser", "-u", "postgres", "--", *stop]
    subprocess.run(stop, capture_output=True, timeout=60)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "writer":
        _writer(sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5]), sys.argv[6])
        return
    if len(sys.argv) > 1 and sys.argv[1] == "follower":
        _follower(sys.argv[2], sys.argv[3].split(","), sys.argv[4])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dsn", default=os.environ.get("STREAMWIDGET_PG_DSN"))
    parser.add_argument("--writers", type=int, default=20)
    parser.add_argument("--followers", type=int, default=5)
    parser.add_argument("--speed", type=float, default=5.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    folder = None
    dsn = args.dsn
    if not dsn:
        folder = tempfile.mkdtemp(prefix="sw-bench-pg-")
        dsn = _start_server(folder)
    try:
        result = run(dsn, args.writers, args.followers, args.speed)
    finally:
        if folder:
            _stop_server(folder)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            print(f"{key:28} {value}")


if __name__ == "__main__":
    main()
