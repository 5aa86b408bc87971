"""Player at a million events: kernel memory, comm_open size and seeks, vs the previous path.

A recording of N events (default 1,000,000; ``--quick`` 100,000) is written to a temporary
``.jsonl`` (``tests/long_recording.py``). Each variant then runs in a fresh subprocess, so its
memory is its own:

- ``new``: ``Player(path)``, the file indexed lazily (``SeekIndex.from_file``); seeks as the
  front end sends them (a ``seek`` message naming a view that holds nothing yet: the reply
  carries a window of text) and the index's own seek without text.
- ``previous`` (the behaviour before this change, measured in the same run): the whole
  recording parsed into memory (``Recording.load``) and indexed from the list, the final text
  in the comm_open (the old ``text_full``/``reasoning_full`` traits), a seek building the
  document with its text (``SeekIndex.document``).

Memory is the process's resident set after opening, minus before (and the peak), in bytes,
after a first small Player (one-time costs: imports, the first widget);
the target is at most twice the file's size.

The same events are then written as one stream into a DuckDB store (appended as the manager
writes a live stream, committed in batches, the file closed) and played from there:

- ``stored``: ``Player(stream_id, store=...)``, the events read from the store by ``seq``
  range (:mod:`streamwidget.store.stored_events`): one scan in batches builds the index, a
  seek reads the events it folds and the inspector's rows.
- ``stored-previous``: the stream read whole into a ``Recording`` (``open_recording``), what
  the Player did before, with the previous seek.

Its memory is compared with the DuckDB file's size (DuckDB compresses: the file is a fraction
of the ``.jsonl``), measured once the store has let the file go (after ``idle_release``: DuckDB
keeps a cache of what it read while it holds the file); the row's note gives it just after
opening too. Standalone:
``python benchmarks/bench_player.py [--quick] [--events N] [--json PATH]``.
"""

from __future__ import annotations

import gc
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE))

SECTION = "player"


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def high_water() -> int:
    """The process's peak resident set (``VmHWM``). Not ``ru_maxrss``: that one carries the
    parent's peak across fork and exec, and the parent has just written a million events."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(int(0.95 * len(ordered)), len(ordered) - 1)]
    return {"p50": statistics.median(ordered), "p95": p95, "max": ordered[-1]}


def state_bytes(player: Any, extra: dict[str, Any]) -> int:
    """Bytes of the comm_open's state as JSON, without the front-end code (_esm, _css)."""
    state = {k: v for k, v in player.get_state().items() if k not in ("_esm", "_css")}
    return len(json.dumps({**state, **extra}, ensure_ascii=False).encode())


def child(variant: str, path: Path, seeks: int) -> dict[str, Any]:
    """One variant, in this (fresh) process."""
    from streamwidget import Store
    from streamwidget.recording import Recording
    from streamwidget.transfer import open_recording
    from streamwidget.widgets.player import Player

    Player("hello").close()  # one-time costs (imports, the first widget) are not the recording's
    store = Store(path) if variant.startswith("stored") else None
    if store is not None:  # (opening the store is one of them: the first query too)
        stream_id = store.streams(1)[0]["id"]
    gc.collect()
    before, start = rss(), time.perf_counter()
    extra: dict[str, Any] = {}
    if variant == "new":
        player = Player(path)
    elif variant == "stored":  # read by seq range from the store
        player = Player(stream_id, store=store)
    else:  # the previous path: the whole recording in memory, indexed from the list
        recording = Recording.load(path) if store is None else open_recording(stream_id, store)
        player = Player(recording)
        index = player.index
        if variant == "previous":  # (its comm_open carried the text: see the module docstring)
            extra = {"text_full": index.final_text, "reasoning_full": index.final_reasoning}
    opened = time.perf_counter() - start
    gc.collect()
    held = rss() - before
    peak = high_water() - before
    n = len(player.index)
    rng = random.Random(3)
    positions = [rng.randrange(n + 1) for _ in range(seeks)]
    sent: list[Any] = []
    player.send = lambda content, buffers=None: sent.append(content)  # type: ignore[method-assign]
    samples = []
    for k in positions:
        t0 = time.perf_counter()
        if variant in ("new", "stored"):  # a click's message; the reply (a window of text)
            have = {"text": [0, 0], "reasoning": [0, 0]}
            player._handle_custom_msg(
                {"kind": "seek", "position": k, "view": "v", "have": have}, []
            )
        else:  # the previous seek: the document with its text, then the cursor traits
            player.seek(k)
        samples.append(time.perf_counter() - t0)
    bare = []
    for k in positions:
        t0 = time.perf_counter()
        player.index.document(k, text=variant not in ("new", "stored"))
        bare.append(time.perf_counter() - t0)
    reply = max((len(json.dumps(m, ensure_ascii=False)) for m in sent), default=0)
    idle = None
    if store is not None:  # what stays once the store lets the file go (DuckDB's cache with it)
        time.sleep(store.idle_release + 1.5)
        gc.collect()
        idle = rss() - before
    return {
        "variant": variant,
        "events": n,
        "open_s": opened,
        "held_bytes": held,
        "held_idle_bytes": idle,
        "peak_bytes": peak,
        "comm_open_bytes": state_bytes(player, extra),
        "seek": percentiles(samples),
        "index_seek": percentiles(bare),
        "largest_reply_bytes": reply,
    }


def run_variant(variant: str, path: Path, seeks: int) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", variant, str(path), str(seeks)],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def rows_for(new: dict[str, Any], old: dict[str, Any], size: int) -> list[dict[str, Any]]:
    from common import row

    n = f"{new['events']:,} events"
    prev = {"baseline_label": "previous: whole recording in memory"}
    return [
        row(
            SECTION,
            f"kernel memory held ({n})",
            new["held_bytes"],
            "B",
            baseline=old["held_bytes"],
            target=f"<= 2x file ({2 * size:,} B)",
            # the target is for a million events; at --quick sizes one-time heap growth weighs
            # more than the recording, so the row only informs
            passed=new["held_bytes"] <= 2 * size if new["events"] >= 1_000_000 else None,
            note=f"{new['held_bytes'] / size:.2f}x the file; peak {new['peak_bytes']:,} B",
            **prev,
        ),
        row(
            SECTION,
            f"comm_open state ({n})",
            new["comm_open_bytes"],
            "B",
            baseline=old["comm_open_bytes"],
            target="no text",
            passed=None,
            note="without _esm/_css",
            **prev,
        ),
        row(
            SECTION,
            "front-end seek in the kernel (p50)",
            new["seek"]["p50"],
            "s",
            baseline=old["seek"]["p50"],
            target="fast (was 0.17 ms at p50 for the index)",
            passed=new["seek"]["p95"] < 0.01,
            note=f"p95 {new['seek']['p95'] * 1e3:.2f} ms, reply <= {new['largest_reply_bytes']:,}",
            **prev,
        ),
        row(
            SECTION,
            "SeekIndex.document (p50)",
            new["index_seek"]["p50"],
            "s",
            baseline=old["index_seek"]["p50"],
            note="new: without the text; previous: with it",
            **prev,
        ),
        row(SECTION, f"open ({n})", new["open_s"], "s", baseline=old["open_s"], **prev),
    ]


def stored_rows(
    stored: dict[str, Any],
    eager: dict[str, Any],
    file: dict[str, Any],
    size: int,
    recording_size: int,
) -> list[dict[str, Any]]:
    """The rows of the stored stream: read by seq range vs the whole recording in memory."""
    from common import row

    n = stored["events"]
    prev = {"baseline_label": "previous: the stream read whole into memory"}
    return [
        row(
            SECTION,
            f"kernel memory held, stored stream ({n:,} events)",
            stored["held_idle_bytes"],
            "B",
            baseline=eager["held_idle_bytes"],
            target=f"<= 2x the recording ({2 * recording_size:,} B as .jsonl)",
            passed=stored["held_idle_bytes"] <= 2 * recording_size if n >= 1_000_000 else None,
            note=f"{stored['held_idle_bytes'] / recording_size:.2f}x the recording,"
            f" {stored['held_idle_bytes'] / size:.2f}x the DuckDB file (which compresses it"
            f" {recording_size / size:.1f}x),"
            f" {stored['held_idle_bytes'] / n:.0f} B/event (previous"
            f" {eager['held_idle_bytes'] / n:.0f}) once the store let the file go; just after"
            f" opening {stored['held_bytes']:,} B (DuckDB's cache of the file),"
            f" peak {stored['peak_bytes']:,} B",
            **prev,
        ),
        row(
            SECTION,
            f"open, stored stream ({n:,} events)",
            stored["open_s"],
            "s",
            baseline=eager["open_s"],
            note=f"the same events from a .jsonl file: {file['open_s']:.2f} s",
            **prev,
        ),
        row(
            SECTION,
            "front-end seek in the kernel, stored stream (p50)",
            stored["seek"]["p50"],
            "s",
            baseline=eager["seek"]["p50"],
            target="fast: two range queries (the fold, the inspector)",
            passed=stored["seek"]["p95"] < 0.05,
            note=f"p95 {stored['seek']['p95'] * 1e3:.2f} ms; from the file:"
            f" {file['seek']['p50'] * 1e3:.2f} ms",
            **prev,
        ),
    ]


def smaller_sizes(
    folder: Path, n: int, quick: bool
) -> list[tuple[int, int, dict[str, Any], dict[str, Any]]]:
    """The file path at 1/100 and 1/10 of ``n`` events (the plot's curve); none when quick."""
    from long_recording import write_long_recording

    out = []
    for k in () if quick else (n // 100, n // 10):
        path = write_long_recording(folder / f"long-{k}.jsonl", k)
        out.append(
            (
                k,
                path.stat().st_size,
                run_variant("new", path, 20),
                run_variant("previous", path, 20),
            )
        )
    return out


def write_stored(folder: Path, n: int) -> Path:
    """A DuckDB store holding one stream of ``n`` events, written as the manager writes one
    (appended, committed in batches), closed (checkpointed) so its size is what it holds."""
    from long_recording import write_long_stream
    from streamwidget import Store

    path = folder / "store.duckdb"
    with Store(path, batch_size=8192) as store:
        write_long_stream(store, n)
    return path


def main() -> int:
    from common import emit, log, parse_args

    args = parse_args(
        __doc__.splitlines()[0],
        ("--events", {"type": int, "help": "events in the recording (default 1,000,000)"}),
    )
    n = args.events or (100_000 if args.quick else 1_000_000)
    seeks = 100 if args.quick else 300
    from long_recording import write_long_recording

    with tempfile.TemporaryDirectory(prefix="swbench-player-") as tmp:
        path = write_long_recording(Path(tmp) / "long.jsonl", n)
        size = path.stat().st_size
        log(f"player: {n:,} events, {size:,} bytes")
        new = run_variant("new", path, seeks)
        old = run_variant("previous", path, seeks)
        started = time.perf_counter()
        db = write_stored(Path(tmp), n)
        db_size = db.stat().st_size
        log(
            f"player: stored stream written in {time.perf_counter() - started:.1f} s,"
            f" {db_size:,} bytes"
        )
        stored = run_variant("stored", db, seeks)
        eager = run_variant("stored-previous", db, seeks)
        curve = [
            {
                "events": k,
                "file_bytes": f,
                "held": a["held_bytes"],
                "previous_held": b["held_bytes"],
            }
            for k, f, a, b in smaller_sizes(Path(tmp), n, args.quick)
        ]
    curve.append(
        {
            "events": n,
            "file_bytes": size,
            "held": new["held_bytes"],
            "previous_held": old["held_bytes"],
        }
    )
    rows = rows_for(new, old, size) + stored_rows(stored, eager, new, db_size, size)
    print(f"{'':44}{'new':>16}{'previous':>16}{'ratio':>10}", file=sys.stderr)
    for r in rows:
        ratio = f"{r['ratio']:.1f}x" if r["ratio"] else ""
        print(
            f"{r['what']:44}{r['value']:>16,.6g}{r['baseline']:>16,.6g}{ratio:>10}  {r['note']}",
            file=sys.stderr,
        )
    data = {"file_bytes": size, "new": new, "previous": old, "duckdb_file_bytes": db_size}
    emit(args, rows, {**data, "stored": stored, "stored_previous": eager, "curve": curve})
    return 0 if all(r["passed"] is not False for r in rows) else 1


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(child(sys.argv[2], Path(sys.argv[3]), int(sys.argv[4]))))
        sys.exit(0)
    sys.exit(main())
