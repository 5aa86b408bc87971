"""6. Sharing one DuckDB store file between processes: hand-off latency and throughput.

Two kernels can use one store file: they take turns holding it (``streamwidget.store.lease``). Every
process here is a real one (this script in another role), the file is on disk.

- Hand-off: process A streams one reply at a steady pace (``--rate`` events/s) and holds the
  file between its commits. Process B appends 20 events to its own stream and calls
  ``flush()``, which waits until A lets go. Measured in B: append → ``flush()`` returned
  (B's events committed), median and p95 over the hand-offs; each starts while A holds the
  file (A reports when it takes and lets go of the file). Baseline: the same flush in B while
  no other process uses the file. Measured in A: the gap between its two commits around each
  hand-off (its events wait in memory meanwhile; ``append`` itself never waits), against its
  commit interval when nobody else wants the file, and how long it was without the file.
- Pause: A stops appending for a moment (a tool runs), B writes meanwhile, A goes on: the time
  from A's first event after the pause until it is committed.
- Throughput: two processes each stream one stream of M events into the file at once, as fast
  as they can; events/s from "go" until both ``flush()`` returned. Baseline: the same two
  streams from one process, in the same run. Afterwards every event of every stream must be
  in the file exactly once and in order (checked; a failed check fails the row).
"""

from __future__ import annotations

import itertools
import json
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from common import HERE, child_env, emit, log, parse_args, percentile, row

SECTION = "share"
BATCH = 20  # events B appends per hand-off


def now() -> float:
    return time.monotonic()  # CLOCK_MONOTONIC: one clock for every process of this machine


_SAY = threading.Lock()  # A's writer thread reports too


def say(line: str) -> None:
    with _SAY:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def text(name: str, i: int) -> dict[str, Any]:
    return {"t": i * 0.001, "type": "text", "text": f"{name}{i} "}


# --- the child processes ----------------------------------------------------------------------


def streamer(path: str, rate: float, out: str) -> None:
    """A: streams ``rate`` events/s until told to stop; reports when it holds the file."""
    from streamwidget import Store

    store = Store(path)
    sid = store.create_stream(provider="bench", model="A")
    commits: list[float] = []
    store.subscribe(sid, lambda change: change.committed and commits.append(now()))
    store.flush()
    # Instrument this process's lease: when it lets go of the file and when it has it again.
    lease = store._backend.lease
    releases: list[tuple[float, float]] = []
    opens: list[tuple[float, float]] = []
    real_release, real_open = lease.release, lease._open

    def release() -> None:
        started = now()
        real_release()
        releases.append((started, now()))
        say("released")

    def open_(timeout: float | None) -> None:
        started = now()
        real_open(timeout)
        opens.append((started, now()))
        say("holds")

    lease.release = release  # type: ignore[method-assign]
    lease._open = open_  # type: ignore[method-assign]
    say("ready")
    say("holds" if lease.held else "released")
    commands: dict[str, threading.Event] = {c: threading.Event() for c in ("pause", "stop")}

    def control() -> None:  # go, then: pause / resume / stop
        for line in sys.stdin:
            command = line.strip()
            if command == "resume":
                commands["pause"].clear()
            elif command in commands:
                commands[command].set()

    sys.stdin.readline()  # go
    threading.Thread(target=control, daemon=True).start()
    started, n, slowest = now(), 0, 0.0
    base: float | None = None  # when event 0 was due (set again after a pause)
    resumes: list[float] = []
    while not commands["stop"].is_set():
        if commands["pause"].is_set():
            base = None
        elif base is None:
            base = now() - n / rate
            resumes.append(now())
        while base is not None and n < int((now() - base) * rate):
            t0 = time.perf_counter()
            store.append(sid, text("a", n))
            slowest = max(slowest, time.perf_counter() - t0)
            n += 1
        time.sleep(0.002)
    stopped = now()
    store.append(sid, {"t": n * 0.001, "type": "finish", "reason": "stop"})
    store.flush()
    result = {
        "stream": sid,
        "started": started,
        "resumes": resumes,
        "stopped": stopped,
        "events": n,
        "commits": commits,
        "releases": releases,
        "opens": opens,
        "slowest_append": slowest,
    }
    store.close()
    Path(out).write_text(json.dumps(result))


def visitor(path: str, out: str) -> None:
    """B: on each command, appends ``BATCH`` events and flushes; answers with the time taken.

    ``alone``: as it is (it holds the file); ``cold``: let go of the file first, so the flush
    opens it; ``handoff``: another process holds the file."""
    from streamwidget import Store

    store = Store(path)
    sid = store.create_stream(provider="bench", model="B")
    store.flush()
    say("ready")
    n = 0
    for line in sys.stdin:
        command = line.strip()
        if command == "stop":
            break
        if command == "cold":
            with store._backend._lock:
                store._backend.lease.release()
        held = store._backend.lease.held
        started = now()
        for _ in range(BATCH):
            store.append(sid, text("b", n))
            n += 1
        store.flush()
        say(json.dumps({"seconds": now() - started, "held": held, "at": started}))
    store.append(sid, {"t": n * 0.001, "type": "finish", "reason": "stop"})
    store.close()
    Path(out).write_text(json.dumps({"stream": sid, "events": n}))


def writer(path: str, names: list[str], m: int, out: str) -> None:
    """Streams ``m`` events into each of ``names`` (interleaved) as fast as it can."""
    from streamwidget import Store

    store = Store(path)
    ids = [store.create_stream(provider="bench", model=name) for name in names]
    store.flush()
    say("ready")
    sys.stdin.readline()  # go
    commits0 = store.commits
    for i in range(m):
        for sid, name in zip(ids, names):
            store.append(sid, text(name, i))
    for sid in ids:
        store.append(sid, {"t": m * 0.001, "type": "finish", "reason": "stop"})
    store.flush()
    done = now()
    result = {
        "streams": dict(zip(names, ids)),
        "done": done,
        "commits": store.commits - commits0,
        "acquisitions": store._backend.lease.acquisitions,
    }
    store.close()
    Path(out).write_text(json.dumps(result))


# --- the parent -------------------------------------------------------------------------------


class Child:
    """This script in another role, spoken to by lines on stdin/stdout."""

    def __init__(self, *args: str):
        self.role = args[0]
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), *args],
            cwd=HERE,
            env=child_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def read(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.role} process exited ({self.proc.wait()})")
        return line.strip()

    def ask(self, command: str) -> dict[str, Any]:
        self.send(command)
        return json.loads(self.read())

    def finish(self, timeout: float = 60) -> None:
        if self.proc.wait(timeout) != 0:
            raise RuntimeError(f"the {self.role} process failed ({self.proc.returncode})")


class Holder(threading.Thread):
    """Follows A's reports: does it hold the file now, and since when."""

    def __init__(self, child: Child):
        super().__init__(daemon=True)
        self.child = child
        self.holds = False
        self.since = now()

    def run(self) -> None:
        while True:
            try:
                line = self.child.read()
            except RuntimeError:
                return
            if line in ("holds", "released"):
                self.holds, self.since = line == "holds", now()

    def held_for(self, seconds: float, timeout: float) -> bool:
        """Wait until A has held the file for ``seconds``."""
        deadline = now() + timeout
        while now() < deadline:
            if self.holds and now() - self.since >= seconds:
                return True
            time.sleep(0.005)
        return False


def stream_ok(store: Any, sid: str, name: str, n: int) -> bool:
    """The stream holds ``name``'s n text events, each once and in order, then a finish."""
    events = store.events(sid)
    texts = [e.get("text") for e in events[:-1]]
    return (
        len(events) == n + 1
        and texts == [text(name, i)["text"] for i in range(n)]
        and events[-1]["type"] == "finish"
        and store.get(sid).status == "complete"
    )


def distinct_rows(store: Any) -> bool:
    total, distinct = store.sql(
        "SELECT count(*), count(DISTINCT (stream_id, seq)) FROM events"
    ).fetchall()[0]
    return bool(total == distinct)


def gap_around(times: list[float], moment: float) -> float | None:
    """The interval between the last of ``times`` before ``moment`` and the first after."""
    before = [t for t in times if t <= moment]
    after = [t for t in times if t > moment]
    return after[0] - before[-1] if before and after else None


def pause_then_handoff(a: Child, b: Child, holder: Holder, wait: float) -> dict[str, Any]:
    """A pauses (a tool runs, the model thinks), B writes meanwhile, A resumes: then give A
    ``wait`` seconds to commit again (it has to take the file back)."""
    at = now()
    a.send("pause")
    time.sleep(0.3)  # A commits what it has
    if not holder.held_for(0.05, timeout=10):
        return {"handoff": None, "at": at}
    answer = b.ask("handoff")
    time.sleep(0.2)
    a.send("resume")
    took_back = holder.held_for(0, timeout=wait)
    return {"handoff": answer, "took_back": took_back, "waited": wait, "at": at}


def handoffs(folder: Path, count: int, rate: float, wait: float) -> dict[str, Any]:
    path = str(folder / "shared.duckdb")
    b = Child("visitor", path, str(folder / "b.json"))
    assert b.read() == "ready"
    alone = [b.ask("alone")["seconds"] for _ in range(10)]
    cold = [b.ask("cold")["seconds"] for _ in range(5)]
    a = Child("streamer", path, str(rate), str(folder / "a.json"))
    assert a.read() == "ready"
    holder = Holder(a)
    holder.start()
    a.send("go")
    rng = random.Random(6)
    answers, missed = [], 0
    for _ in range(count):
        # start once A has held the file a while (a random while: not in step with its commits)
        if holder.held_for(rng.uniform(0.05, 0.3), timeout=20):
            answers.append(b.ask("handoff"))
        else:
            missed += 1
    paused = pause_then_handoff(a, b, holder, wait)
    a.send("stop")
    a.finish()
    b.send("stop")
    b.finish()
    ra = json.loads((folder / "a.json").read_text())
    rb = json.loads((folder / "b.json").read_text())
    from streamwidget import Store

    with Store(path) as store:
        correct = (
            stream_ok(store, ra["stream"], "a", ra["events"])
            and stream_ok(store, rb["stream"], "b", rb["events"])
            and distinct_rows(store)
        )
    # the regular hand-offs: from "go" until the pause
    commits = [c for c in ra["commits"] if ra["started"] <= c < paused["at"]]
    releases = [r for r in ra["releases"] if r[0] < paused["at"]]
    starts = [r[0] for r in releases]
    pairs = list(itertools.pairwise(commits))
    across = [y - x for x, y in pairs if any(x < s <= y for s in starts)]
    normal = [y - x for x, y in pairs if not any(x < s <= y for s in starts)]
    without = [
        min(o[1] for o in ra["opens"] if o[0] >= r[1]) - r[0]
        for r in releases
        if any(o[0] >= r[1] for o in ra["opens"])
    ]
    resumed = ra["resumes"][-1]
    first = min((c for c in ra["commits"] if c > resumed), default=None)
    paused.update(
        resumed=resumed,
        committed_after=None if first is None else first - resumed,
        only_at_end=not paused.get("took_back"),
    )
    return {
        "rate": rate,
        "paused": paused,
        "latency": [x["seconds"] for x in answers if not x["held"]],
        "b_already_held": sum(x["held"] for x in answers),
        "missed": missed,
        "alone": alone,
        "cold": cold,
        "a_commit_gaps_across": across,
        "a_commit_gaps_normal": normal,
        "a_without_file": without,
        "a_release": [r[1] - r[0] for r in releases],
        "a_events": ra["events"],
        "a_slowest_append": ra["slowest_append"],
        "b_events": rb["events"],
        "correct": correct,
    }


def throughput(folder: Path, m: int, shared: bool) -> dict[str, Any]:
    """Two streams of m events: from two processes into one file, or from one process."""
    path = str(folder / ("shared.duckdb" if shared else "single.duckdb"))
    plans = [["p"], ["q"]] if shared else [["p", "q"]]
    outs = [folder / f"{'shared' if shared else 'single'}{i}.json" for i in range(len(plans))]
    children = [
        Child("writer", path, ",".join(names), str(m), str(out)) for names, out in zip(plans, outs)
    ]
    for child in children:
        assert child.read() == "ready"
    go = now()
    for child in children:
        child.send("go")
    for child in children:
        child.finish(300)
    results = [json.loads(out.read_text()) for out in outs]
    seconds = max(r["done"] for r in results) - go
    from streamwidget import Store

    with Store(path) as store:
        correct = distinct_rows(store) and all(
            stream_ok(store, sid, name, m) for r in results for name, sid in r["streams"].items()
        )
    return {
        "events": 2 * m,
        "seconds": seconds,
        "rate": 2 * m / seconds,
        "commits": [r["commits"] for r in results],
        "acquisitions": [r["acquisitions"] for r in results],
        "correct": correct,
    }


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:,.0f} ms"


def handoff_rows(h: dict[str, Any]) -> list[dict[str, Any]]:
    lat, alone = h["latency"], h["alone"]
    across, normal = h["a_commit_gaps_across"], h["a_commit_gaps_normal"]
    checked = (
        "every event of A and B in the file once, in order"
        if h["correct"]
        else "LOST OR DUPLICATED"
    )
    base = {"unit": "s", "baseline_label": "the same flush, file not shared"}
    return [
        row(
            SECTION,
            f"hand-off: B's {BATCH} events committed while A streams (append → flush), median",
            statistics.median(lat),
            baseline=statistics.median(alone),
            target="every event once, in order",
            passed=h["correct"],
            note=f"{len(lat)} hand-offs ({h['missed']} not started: A did not take the file "
            f"back); B opening the free file first: {ms(statistics.median(h['cold']))}; {checked}",
            **base,
        ),
        row(
            SECTION,
            "hand-off: B's events committed, p95",
            percentile(lat, 95),
            baseline=percentile(alone, 95),
            note=f"max {ms(max(lat))}",
            **base,
        ),
        row(
            SECTION,
            f"A's commit gap across a hand-off (A streams {h['rate']:,.0f} ev/s), median",
            statistics.median(across) if across else None,
            "s",
            baseline=statistics.median(normal) if normal else None,
            baseline_label="A's commit interval when nobody waits",
            note=f"p95 {ms(percentile(across, 95))}, max {ms(max(across, default=0))}; A without "
            f"the file: median {ms(statistics.median(h['a_without_file'] or [0]))}, max "
            f"{ms(max(h['a_without_file'], default=0))}; letting go (CHECKPOINT, close): median "
            f"{ms(statistics.median(h['a_release'] or [0]))}; A's slowest append() "
            f"{h['a_slowest_append'] * 1e3:.2f} ms",
        ),
    ]


def pause_row(h: dict[str, Any]) -> dict[str, Any]:
    p = h["paused"]
    what = "A pauses, B writes, A resumes: A's next events committed after"
    if p["handoff"] is None:
        return row(SECTION, what, None, "s", note="not run: A did not hold the file")
    value = p["committed_after"]
    note = f"B's hand-off {ms(p['handoff']['seconds'])}; "
    if p["only_at_end"]:
        note += f"not committed until A's stream ended ({p['waited']:.0f} s later)"
    else:
        note += f"{value * h['rate']:,.0f} events waited (the writer takes the file back on its "
        note += "batch clock while a stream is live)"
    return row(
        SECTION,
        what,
        value,
        "s",
        target="≤ 0.5 s (a hand-off)",
        passed=value is not None and value <= 0.5 and not p["only_at_end"],
        note=note,
    )


def throughput_rows(pairs: list[tuple[dict[str, Any], dict[str, Any]]], m: int) -> dict[str, Any]:
    shared, single = (sorted((p[k] for p in pairs), key=lambda r: r["rate"]) for k in (0, 1))
    two, one = shared[len(shared) // 2], single[len(single) // 2]
    correct = all(p[0]["correct"] and p[1]["correct"] for p in pairs)
    runs = [", ".join(f"{r['rate']:,.0f}" for r in rs) for rs in (shared, single)]
    return row(
        SECTION,
        f"events per second, 2 processes x 1 stream of {m:,} events into one file",
        two["rate"],
        "ev/s",
        baseline=one["rate"],
        baseline_label="the same 2 streams from one process",
        ratio=two["rate"] / one["rate"],
        target="every event once, in order",
        passed=correct,
        note=f"runs {runs[0]} vs {runs[1]} ev/s; the processes opened the file "
        f"{' + '.join(map(str, two['acquisitions']))} times, committed "
        f"{' + '.join(map(str, two['commits']))} times",
    )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] in ("streamer", "visitor", "writer"):
        role, rest = sys.argv[1], sys.argv[2:]
        if role == "streamer":
            streamer(rest[0], float(rest[1]), rest[2])
        elif role == "visitor":
            visitor(rest[0], rest[1])
        else:
            writer(rest[0], rest[1].split(","), int(rest[2]), rest[3])
        return
    args = parse_args(
        __doc__.splitlines()[0],
        ("--rate", {"type": float, "default": 200.0, "help": "A's events per second"}),
    )
    count, m, reps, wait = (5, 20_000, 1, 3.0) if args.quick else (15, 100_000, 5, 5.0)
    with tempfile.TemporaryDirectory(prefix="swbench-share-") as tmp:
        folder = Path(tmp)
        (folder / "handoff").mkdir()
        h = handoffs(folder / "handoff", count, args.rate, wait)
        log(f"hand-offs: {len(h['latency'])}, median {ms(statistics.median(h['latency']))}")
        pairs = []
        for i in range(reps):
            (folder / f"t{i}").mkdir()
            pair = throughput(folder / f"t{i}", m, True), throughput(folder / f"t{i}", m, False)
            log(f"2 processes: {pair[0]['rate']:,.0f} ev/s; one process: {pair[1]['rate']:,.0f}")
            pairs.append(pair)
    rows = [*handoff_rows(h), pause_row(h), throughput_rows(pairs, m)]
    emit(args, rows, {"handoff": h, "throughput": pairs})


if __name__ == "__main__":
    main()
