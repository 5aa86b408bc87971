"""7. The PostgreSQL store under load: many writer processes, a few follower processes.

    python benchmarks/bench_postgres.py [--quick] [--json PATH] [--dsn postgresql://...]
                                        [--writers 20] [--followers 5] [--speed 5]

Each writer process streams one bundled recording (cycling through them) into its own stream,
*held* at its recorded pace (``--speed`` times faster; ``--speed 0``: as fast as it can).
Each follower process follows every stream from before the first event (LISTEN/NOTIFY, then
reading the missing range). Afterwards the database is checked: every event stored exactly
once and in order per stream, every document equal to the fold of its recording, every
follower's document equal to the stored one.

Measured: follow latency (an event's append in its writer → its arrival in a follower), median
and p99, at the recorded pace; no baseline (a DuckDB store file cannot be followed from another
process). Events/s written (all writers, from "go" to the last commit) with the writers at full
speed and no followers, against the same writer processes into one DuckDB store file (they take
turns holding it) in the same run. Without ``--dsn`` a throwaway server is started with
``scripts/start-postgres.sh``; without PostgreSQL installed the benchmark is skipped.

``run()`` is what ``tests/pg/test_pg_load.py`` calls.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # common (which puts src/ first), also when a test loads this file

from common import REPO, emit, emit_skipped, log, parse_args, percentile, row  # noqa: E402

from streamwidget import Document, Recording, Store  # noqa: E402

SECTION = "postgres"
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


class LoadFailed(RuntimeError):
    """A writer or follower process failed (its last line of stderr says why)."""


def _spawn(tmp: str, key: str, *args: str) -> subprocess.Popen[str]:
    with open(f"{tmp}/{key}.err", "w") as err:  # the child keeps its own copy
        return subprocess.Popen(
            [sys.executable, __file__, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )


def _check(tmp: str, procs: dict[str, subprocess.Popen[str]], failed: list[str]) -> None:
    """Stop everything and raise if any process failed."""
    if not failed:
        return
    for proc in procs.values():
        proc.kill()
        proc.wait()
    why = (Path(f"{tmp}/{failed[0]}.err").read_text().strip().splitlines() or ["?"])[-1]
    raise LoadFailed(f"{len(failed)} of {len(procs)} processes failed: {why}")


def _ready(tmp: str, procs: dict[str, subprocess.Popen[str]], keys: list[str]) -> None:
    """Wait until each of ``keys`` said it is ready."""
    failed = []
    for key in keys:
        out = procs[key].stdout
        assert out is not None
        if out.readline().strip() != "ready":
            failed.append(key)
    _check(tmp, procs, failed)


def _go(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None
    proc.stdin.write("go\n")
    proc.stdin.flush()


def _ms(values: list[float], q: float | None = None) -> float | None:
    """The median (or the ``q`` percentile) in milliseconds; None without values."""
    if not values:
        return None
    return round(1000 * (statistics.median(values) if q is None else percentile(values, q)), 2)


def run(dsn: str, writers: int = 20, followers: int = 5, speed: float = 5.0) -> dict[str, Any]:
    """Run the load; return the measurements and the checks (see the module docstring).

    ``dsn`` may also be the path of a DuckDB store file (then ``followers`` must be 0: a file
    cannot be followed from another process)."""
    tag = uuid.uuid4().hex[:8]
    plan = {f"load_{tag}_{i}": RECORDINGS[i % len(RECORDINGS)] for i in range(writers)}
    with tempfile.TemporaryDirectory() as tmp:
        procs = {
            sid: _spawn(tmp, sid, "writer", dsn, sid, name, str(speed), f"{tmp}/{sid}.w")
            for sid, name in plan.items()
        }
        _ready(tmp, procs, list(plan))
        ids = ",".join(plan)
        watchers = [f"f{j}" for j in range(followers)]
        for key in watchers:
            procs[key] = _spawn(tmp, key, "follower", dsn, ids, f"{tmp}/{key}.f")
        _ready(tmp, procs, watchers)
        go = time.time()
        for sid in plan:
            _go(procs[sid])
        _check(tmp, procs, [key for key, proc in procs.items() if proc.wait(900) != 0])
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
        "follow_latency_ms_median": _ms(latencies),
        "follow_latency_ms_p99": _ms(latencies, 99),
        "deliveries": len(latencies),
        "deliveries_expected": total * followers,
        "exactly_once_in_order": exactly_once_in_order and rows[0] == rows[1] == total,
        "documents_match_recordings": folds,
        "followers_converged": all(all(f["converged"].values()) for f in followed),
    }


def unavailable(server: bool) -> str | None:
    """Why this cannot run here (``server``: a throwaway server is needed), if it cannot."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg not installed (pip install 'streamwidget[postgres]')"
    if server and not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")):
        return "PostgreSQL not installed (see scripts/start-postgres.sh)"
    return None


def _start_server(folder: str) -> str:
    out = subprocess.run(
        ["bash", str(REPO / "scripts" / "start-postgres.sh"), folder],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if out.returncode != 0:
        raise RuntimeError(f"start-postgres.sh exited {out.returncode}: {out.stderr[-500:]}")
    return out.stdout.strip().splitlines()[-1]


def _stop_server(folder: str) -> None:
    pg_ctl = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))[-1]
    stop = [str(pg_ctl), "-D", f"{folder}/data", "stop", "-m", "fast", "-w"]
    if os.geteuid() == 0:
        stop = ["runuser", "-u", "postgres", "--", *stop]
    subprocess.run(stop, capture_output=True, timeout=60)
    shutil.rmtree(folder, ignore_errors=True)


def checks(result: dict[str, Any]) -> bool:
    """Every event stored once and in order, documents right, every follower heard all."""
    return bool(
        result["exactly_once_in_order"]
        and result["documents_match_recordings"]
        and result["followers_converged"]
        and result["deliveries"] == result["deliveries_expected"]
    )


def seconds(ms: float | None) -> float | None:
    return None if ms is None else ms / 1000


def make_rows(
    paced: dict[str, Any], fast: dict[str, Any], duck: dict[str, Any]
) -> list[dict[str, Any]]:
    load = f"{paced['writers']} writers at {paced['speed']:g}x pace, {paced['followers']} followers"
    verdict = "all checks pass" if checks(paced) else "CHECKS FAILED"
    median = seconds(paced["follow_latency_ms_median"])
    if "error" in duck:
        baseline = {"baseline": None, "note": f"the same into one DuckDB file: {duck['error']}"}
    else:
        baseline = {
            "baseline": duck["events_per_s"],
            "ratio": fast["events_per_s"] / duck["events_per_s"],
            "note": f"{fast['events']:,} events in {fast['seconds']:.2f} s vs "
            f"{duck['seconds']:.2f} s; no followers",
        }
    return [
        row(
            SECTION,
            f"events per second written, {fast['writers']} writer processes at full speed",
            fast["events_per_s"],
            "ev/s",
            baseline_label=f"the same {duck['writers']} processes into one DuckDB file",
            target="every event once, in order",
            passed=checks(fast) and ("error" in duck or checks(duck)),
            **baseline,
        ),
        row(
            SECTION,
            f"follow latency (append → heard in another process), {load}, median",
            median,
            "s",
            target="≤ 0.2 s (batch interval + a round trip)",
            passed=median is not None and median <= 0.2,
            note="no baseline: a DuckDB file cannot be followed from another process; "
            f"{paced['events']:,} events, {paced['events_per_s']:,.0f} ev/s written",
        ),
        row(
            SECTION,
            "follow latency, p99",
            seconds(paced["follow_latency_ms_p99"]),
            "s",
            target="every follower hears every event, documents converge",
            passed=checks(paced),
            note=f"{paced['deliveries']:,} of {paced['deliveries_expected']:,} deliveries; "
            + verdict,
        ),
    ]


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "writer":
        _writer(sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5]), sys.argv[6])
        return
    if len(sys.argv) > 1 and sys.argv[1] == "follower":
        _follower(sys.argv[2], sys.argv[3].split(","), sys.argv[4])
        return
    args = parse_args(
        __doc__.split("\n\n")[0],
        ("--dsn", {"default": os.environ.get("STREAMWIDGET_PG_DSN"), "help": "a running server"}),
        ("--writers", {"type": int, "help": "writer processes (20; --quick: 8)"}),
        ("--followers", {"type": int, "help": "follower processes (5; --quick: 2)"}),
        ("--speed", {"type": float, "help": "times the recorded pace (5; --quick: 10)"}),
    )
    quick = (8, 2, 10.0) if args.quick else (20, 5, 5.0)
    given = (args.writers, args.followers, args.speed)
    writers, followers, speed = (q if g is None else g for g, q in zip(given, quick))
    reason = unavailable(server=not args.dsn)
    if reason:
        emit_skipped(args, reason)
        return
    folder = None
    dsn = args.dsn
    try:
        if not dsn:
            folder = tempfile.mkdtemp(prefix="sw-bench-pg-")
            dsn = _start_server(folder)
        log(f"PostgreSQL: {writers} writers at {speed:g}x, {followers} followers")
        paced = run(dsn, writers, followers, speed)
        log(f"PostgreSQL: {writers} writers at full speed")
        fast = run(dsn, writers, 0, 0.0)
    finally:
        if folder:
            _stop_server(folder)
    log(f"DuckDB file: {writers} writers at full speed")
    with tempfile.TemporaryDirectory(prefix="sw-bench-duck-") as tmp:
        try:
            duck = run(str(Path(tmp) / "shared.duckdb"), writers, 0, 0.0)
        except LoadFailed as exc:  # e.g. a process that waited too long for its turn
            duck = {"writers": writers, "error": str(exc)}
    emit(args, make_rows(paced, fast, duck), {"paced": paced, "fast": fast, "duckdb": duck})


if __name__ == "__main__":
    main()
