"""3. Store: events per second into DuckDB, opening a store of 10,000 streams, import time.

- Sustained writes: one producer appends text events as fast as it can (``Store.append``: fold
  into the document, notify, queue) while the writer thread commits batches; the rate is events
  over the time until the last one is committed. Baseline: one ``INSERT`` per event in
  auto-commit mode, the obvious way (run on a few hundred events: it is slow).
- Open: a store file holding 10,000 finished streams (20 events each) is opened in a fresh
  process: ``Store(path)`` (schema check, orphan recovery) and its first ``streams()`` listing.
  Baseline: ``duckdb.connect(path)`` and a ``count(*)`` on the same file.
- ``import streamwidget`` in a fresh interpreter (median of several), and what the first use of
  the widget pulls in, for comparison.
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

SECTION = "3 store"


def sustained(path: str, n: int, streams: int) -> dict[str, Any]:
    from streamwidget import Store

    store = Store(path)
    ids = [store.create_stream(provider="bench", model="tokens") for _ in range(streams)]
    store.flush()
    commits0 = store.commits
    event = {"t": 0.0, "type": "text", "text": "tok "}
    started = time.perf_counter()
    for i in range(n):
        store.append(ids[i % streams], {**event, "t": i * 0.001})
    appended = time.perf_counter()
    store.flush()
    done = time.perf_counter()
    commits = store.commits - commits0
    for sid in ids:
        store.append(sid, {"t": n * 0.001, "type": "finish", "reason": "stop"})
    store.flush()
    count = store.sql("SELECT count(*) FROM events").fetchall()[0][0]
    store.close()
    return {
        "events": n,
        "streams": streams,
        "append_s": appended - started,
        "total_s": done - started,
        "rate": n / (done - started),
        "commits": commits,
        "events_in_file": count,
    }


def short_streams(path: str, count: int) -> dict[str, Any]:
    """``count`` streams of a few events each, one after another (a batch job of short calls,
    an eval run): every stream's document changes once per write, so the writer's backlog
    holds many small updates."""
    from streamwidget import Store

    store = Store(path)
    store.flush()
    commits0 = store.commits
    started = time.perf_counter()
    for _ in range(count):
        sid = store.create_stream(provider="bench", model="short")
        for i in range(5):
            store.append(sid, {"t": 0.01 * i, "type": "text", "text": "tok "})
        store.append(sid, {"t": 0.06, "type": "finish", "reason": "stop"})
    store.flush()
    elapsed = time.perf_counter() - started
    done = store.sql("SELECT count(*) FROM streams WHERE status = 'complete'").fetchall()[0][0]
    commits = store.commits - commits0
    store.close()
    return {
        "streams": count,
        "seconds": elapsed,
        "per_stream": elapsed / count,
        "commits": commits,
        "complete": done,
    }


def naive(path: str, n: int) -> dict[str, Any]:
    import duckdb

    con = duckdb.connect(path)
    con.execute("CREATE TABLE events (stream_id VARCHAR, seq BIGINT, t DOUBLE, payload VARCHAR)")
    started = time.perf_counter()
    for i in range(n):
        con.execute(
            "INSERT INTO events VALUES (?, ?, ?, ?)", ["s", i, i * 0.001, '{"text":"tok "}']
        )
    elapsed = time.perf_counter() - started
    con.close()
    return {"events": n, "total_s": elapsed, "rate": n / elapsed}


def build_store(path: str, streams: int, events_each: int) -> float:
    from streamwidget import Store

    started = time.perf_counter()
    store = Store(path, batch_size=50_000)
    for s in range(streams):
        sid = store.create_stream(provider="bench", model="tokens", request={"n": s})
        for i in range(events_each):
            store.append(sid, {"t": i * 0.02, "type": "text", "text": f"token {i} "})
        store.append(sid, {"t": events_each * 0.02, "type": "finish", "reason": "stop"})
    store.close()
    return time.perf_counter() - started


OPEN = r"""
import json, sys, time
t0 = time.perf_counter()
from streamwidget.store import Store
t1 = time.perf_counter()
store = Store(sys.argv[1])
t2 = time.perf_counter()
listing = store.streams(limit=20)
t3 = time.perf_counter()
total = store.sql("SELECT count(*) FROM streams").fetchall()[0][0]
store.close()
print(json.dumps({"import": t1 - t0, "open": t2 - t1, "list": t3 - t2, "streams": total,
                  "listed": len(listing)}))
"""

OPEN_RAW = r"""
import json, sys, time
import duckdb
t1 = time.perf_counter()
con = duckdb.connect(sys.argv[1])
total = con.execute("SELECT count(*) FROM streams").fetchall()[0][0]
t2 = time.perf_counter()
con.close()
print(json.dumps({"open": t2 - t1, "streams": total}))
"""


IMPORT = (
    "import time; t = time.perf_counter(); import {module}; {extra}print(time.perf_counter() - t)"
)


def import_time(module: str, extra: str = "", runs: int = 7) -> list[float]:
    times = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", IMPORT.format(module=module, extra=extra)],
            capture_output=True,
            text=True,
            env=child_env(),
            timeout=120,
            check=True,
        )
        times.append(float(out.stdout.strip()))
    return times


def heaviest_imports(code: str, top: int = 8) -> list[tuple[str, float]]:
    """The slowest top-level imports (cumulative) of ``code`` under ``python -X importtime``."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=120,
    )
    found = []
    for line in out.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            found.append((parts[2].rstrip(), int(parts[1]) / 1e6))
    startup = {"site", "encodings", "_frozen_importlib_external", "io", "zipimport"}
    top_level = [
        (name.strip(), t)
        for name, t in found
        if not name.startswith("   ") and name.strip() not in startup
    ]
    return sorted(top_level, key=lambda x: -x[1])[:top]


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    n = 50_000 if args.quick else 200_000
    stream_count = 2_000 if args.quick else 10_000
    data: dict[str, Any] = {}
    rows = []
    with tempfile.TemporaryDirectory(prefix="swbench-store-") as tmp:
        tmp_path = Path(tmp)
        runs = [sustained(str(tmp_path / f"w{i}.duckdb"), n, 1) for i in range(3)]
        one = sorted(runs, key=lambda r: r["rate"])[1]
        many = sustained(str(tmp_path / "many.duckdb"), n, 8)
        slow = naive(str(tmp_path / "naive.duckdb"), 300)
        short = short_streams(str(tmp_path / "short.duckdb"), 500 if args.quick else 5_000)
        data["short_streams"] = short
        log(f"short streams: {short['per_stream'] * 1e3:.2f} ms each, {short['commits']} commits")
        rows.append(
            row(
                SECTION,
                f"{short['streams']:,} short streams one after another (per stream)",
                short["per_stream"],
                "s",
                baseline=0.0018,
                baseline_label="v0.1: an UPDATE per stream",
                note=f"6 events each; {short['commits']} commits; "
                f"{short['complete']:,} complete in the file",
            )
        )
        data.update(sustained_one=runs, sustained_many=many, naive=slow)
        log(f"writer: {one['rate']:,.0f} events/s (1 stream), {many['rate']:,.0f} (8 streams)")
        rows.append(
            row(
                SECTION,
                f"events per second into the store file (1 stream, {n:,} events)",
                one["rate"],
                "ev/s",
                baseline=slow["rate"],
                baseline_label="INSERT per event (auto-commit)",
                ratio=one["rate"] / slow["rate"],
                note=f"{one['commits']} commits, {n / max(one['commits'], 1):,.0f} events each; "
                f"all {one['events_in_file'] - 1:,} in the file",
            )
        )
        rows.append(
            row(
                SECTION,
                "events per second, 8 streams at once",
                many["rate"],
                "ev/s",
                baseline=slow["rate"],
                baseline_label="INSERT per event (auto-commit)",
                ratio=many["rate"] / slow["rate"],
                note=f"{many['commits']} commits",
            )
        )

        path = str(tmp_path / "big.duckdb")
        built = build_store(path, stream_count, 20)
        size = Path(path).stat().st_size
        log(f"built a store of {stream_count:,} streams in {built:.1f} s ({size / 1e6:.1f} MB)")
        opens = [in_fresh_python(OPEN, path) for _ in range(5)]
        raws = [in_fresh_python(OPEN_RAW, path) for _ in range(5)]
        open_s = statistics.median(o["open"] for o in opens)
        list_s = statistics.median(o["list"] for o in opens)
        raw_s = statistics.median(o["open"] for o in raws)
        data.update(open=opens, open_raw=raws, build_s=built, file_bytes=size)
        rows.append(
            row(
                SECTION,
                f"open a store of {opens[0]['streams']:,} streams (Store(path))",
                open_s * 1e3,
                "ms",
                baseline=raw_s * 1e3,
                baseline_label="duckdb.connect + count(*)",
                ratio=raw_s / open_s,
                note=f"file {size / 1e6:.1f} MB; first streams() listing {list_s * 1e3:.1f} ms; "
                "Store also checks the schema and looks for orphans",
            )
        )

    times = import_time("streamwidget")
    widget = import_time("streamwidget", "streamwidget.StreamView; ")
    heavy = heaviest_imports("import streamwidget")
    heavy_widget = heaviest_imports("import streamwidget; streamwidget.StreamView")
    data.update(
        import_s=times,
        import_widget_s=widget,
        import_heaviest=heavy,
        import_widget_heaviest=heavy_widget,
    )
    median = statistics.median(times)
    rows.append(
        row(
            SECTION,
            "import streamwidget (fresh interpreter, median of 7)",
            median,
            "s",
            target="≤ 0.3 s",
            passed=median <= 0.3,
            note="heaviest: " + ", ".join(f"{name} {t * 1e3:.0f} ms" for name, t in heavy[:3]),
        )
    )
    rows.append(
        row(
            SECTION,
            "import streamwidget + first use of sw.StreamView",
            statistics.median(widget),
            "s",
            note="loaded on first use: "
            + ", ".join(f"{name} {t * 1e3:.0f} ms" for name, t in heavy_widget[:4]),
        )
    )
    emit(args, rows, data)


if __name__ == "__main__":
    main()
