"""Run every benchmark, print one table, keep the results.

    python benchmarks/run.py            # everything (make bench); ~20 minutes on 2 cores
    python benchmarks/run.py --quick    # smaller sizes, a smoke run of a few minutes
    python benchmarks/run.py --only kernel,store
    python benchmarks/run.py --only share,postgres --quick

Each benchmark is a script of its own, run as a subprocess with a time limit (a hung one
fails its line of the table, not the run). A full run writes ``benchmarks/results/latest.json``
(every number measured), ``benchmarks/results/latest.md`` (the table), the plot
``docs/img/bench-scaling.png`` and the results section of ``docs/benchmarks.md``; a quick run
writes ``benchmarks/results/quick.{json,md}`` only. Benchmarks are not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from common import HERE, REPO, child_env, fmt, log, machine, row

RESULTS = HERE / "results"
PLOT = REPO / "docs" / "img" / "bench-scaling.png"
DOC = REPO / "docs" / "benchmarks.md"
START_MARK = "<!-- bench:results:start -->"
END_MARK = "<!-- bench:results:end -->"

#: name, script, time limit in seconds (full run); the table's sections are numbered in this order
BENCHES = [
    ("kernel", "bench_kernel.py", 600),
    ("browser", "bench_browser.py", 900),
    ("store", "bench_store.py", 400),
    ("live", "bench_live.py", 300),
    ("seek", "bench_seek.py", 300),  # written separately; run when present
    ("share", "bench_share.py", 300),
    ("postgres", "bench_postgres.py", 600),  # skipped when PostgreSQL is not installed
    ("notebook", "bench_notebook.py", 300),
    ("chat", "bench_chat.py", 300),
    ("player", "bench_player.py", 600),
    ("listing", "bench_listing.py", 300),
    ("chatui", "bench_chat_browser.py", 600),
]


def run_bench(name: str, script: str, limit: float, quick: bool) -> dict[str, Any]:
    path = HERE / script
    if not path.exists():
        return {"skipped": f"{script} not found"}
    with tempfile.TemporaryDirectory(prefix=f"swbench-{name}-") as tmp:
        out = Path(tmp) / "result.json"
        command = [sys.executable, str(path), "--json", str(out), *(["--quick"] if quick else [])]
        log(f"{name}: {' '.join(command[1:])}")
        started = time.monotonic()
        try:
            proc = subprocess.run(
                command,
                cwd=HERE,
                env=child_env(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                text=True,
                timeout=limit,
            )
        except subprocess.TimeoutExpired:
            return {"error": f"did not finish within {limit:.0f} s", "seconds": limit}
        seconds = time.monotonic() - started
        if out.exists():
            result = json.loads(out.read_text())
        elif proc.returncode == 0:
            result = parse_stdout(name, proc.stdout)
        else:
            tail = (proc.stdout or "").strip().splitlines()[-5:]
            return {"error": f"exit code {proc.returncode}: {' / '.join(tail)}", "seconds": seconds}
        if proc.returncode != 0:
            result["error"] = f"exit code {proc.returncode}"
        result["seconds"] = seconds
        log(f"{name}: done in {seconds:.0f} s")
        return result


def parse_stdout(name: str, stdout: str) -> dict[str, Any]:
    """A benchmark that printed instead of writing --json: a JSON object with ``rows``, else
    every printed line becomes a note."""
    text = stdout.strip()
    try:
        data = json.loads(text)
        if isinstance(data, dict) and isinstance(data.get("rows"), list):
            return data
    except ValueError:
        pass
    lines = [line for line in text.splitlines() if line.strip()]
    return {
        "rows": [row(f"5 {name}", line.strip(), None, "") for line in lines[-20:]],
        "data": {"stdout": text},
    }


def show(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "B":
        for scale, name in ((1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
            if abs(value) >= scale:
                return f"{fmt(value / scale)} {name}"
        return f"{fmt(value)} B"
    if unit == "s" and abs(value) < 1:
        return f"{fmt(value * 1e3)} ms"
    if unit in ("", "x"):
        return fmt(value) + (" x" if unit == "x" else "")
    return f"{fmt(value)} {unit}"


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| | measure | value | baseline | ratio | target | pass | notes |",
        "|---|---|---:|---:|---:|---|:-:|---|",
    ]
    for r in rows:
        baseline = show(r["baseline"], r["unit"])
        if r["baseline"] is not None and r["baseline_label"]:
            baseline += f" ({r['baseline_label']})"
        ratio = f"{fmt(r['ratio'])} x" if r["ratio"] is not None else ""
        verdict = {True: "pass", False: "**FAIL**", None: ""}[r["passed"]]
        cells = [
            r["section"],
            r["what"],
            show(r["value"], r["unit"]),
            baseline,
            ratio,
            r["target"],
            verdict,
            r["note"],
        ]
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return "\n".join(lines)


def describe(info: dict[str, Any]) -> str:
    m = info["machine"]
    load = info.get("load") or ["?", "?"]
    return (
        f"{info['finished'][:16].replace('T', ' ')} UTC on {m['cpu']}, {m['cores']} cores, "
        f"{m['memory']}, {m['os']}; Python {m['python']}, DuckDB {m['duckdb']}, "
        f"ipykernel {m['ipykernel']}, JupyterLab {m['jupyterlab']}, "
        f"{m['chromium'] or 'no chromium'}"
        f"; load average {load[0]} before, {load[1]} after; the run took "
        f"{info['seconds'] / 60:.1f} min."
    )


def plot(results: dict[str, Any], path: Path, machine_line: str = "") -> bool:
    """The scaling plot, log-log: iopub bytes and kernel CPU against tokens (every approach of
    the kernel benchmark), and when measured, the chat's bytes per reply against the
    conversation's length and the Player's kernel memory against the recording's length."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("matplotlib is missing: no plot (pip install -e '.[bench]')")
        return False
    runs = results.get("kernel", {}).get("data", {}).get("runs", [])
    chat = results.get("chat", {}).get("data", {})
    player = results.get("player", {}).get("data", {}).get("curve", [])
    if not runs:
        return False
    more = bool(chat.get("runs")) or bool(player)
    fig, axes = plt.subplots(2 if more else 1, 2, figsize=(10, 8.4 if more else 4.2), dpi=90)
    top = axes[0] if more else axes
    plot_kernel(top[0], top[1], runs)
    if more:
        plot_chat(axes[1][0], chat)
        plot_player(axes[1][1], player)
    for ax in fig.axes:
        ax.grid(True, which="major", alpha=0.3)
    fig.suptitle(f"How costs grow with size (log-log); {machine_line}", size=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return True


def plot_kernel(left: Any, right: Any, runs: list[dict[str, Any]]) -> None:
    labels = {
        "streamview": ("StreamView", "C0", "o-"),
        "no_fallback": ("StreamView, static_fallback=False", "C2", "d-"),
        "html": ("ipywidgets.HTML  value += token", "C3", "s--"),
        "anywidget": ("anywidget trait  text += token", "C1", "^--"),
    }
    for approach, (label, color, style) in labels.items():
        points = sorted((r["n"], r) for r in runs if r["approach"] == approach)
        if not points:
            continue
        ns = [n for n, _ in points]
        left.plot(ns, [r["stream_bytes"] for _, r in points], style, color=color, label=label)
        right.plot(ns, [r["cpu"] for _, r in points], style, color=color, label=label)
    sv = sorted((r["n"], r["text_bytes"]) for r in runs if r["approach"] == "streamview")
    left.plot([n for n, _ in sv], [b for _, b in sv], ":", color="grey", label="the text itself")
    left.set(title="one reply of N tokens: iopub bytes", xlabel="tokens", ylabel="bytes")
    right.set(title="one reply of N tokens: kernel CPU (naive stop at 10k)", xlabel="tokens")
    right.set(ylabel="seconds")
    for ax in (left, right):
        ax.set(xscale="log", yscale="log")
    left.legend(fontsize=8, loc="best")


def plot_chat(ax: Any, chat: dict[str, Any]) -> None:
    points = sorted((r["exchanges"], r["reply_bytes"]) for r in chat.get("runs", []))
    if points:
        ax.plot(*zip(*points, strict=True), "o-", color="C0", label="Chat (deltas, a window)")
    before = sorted((int(n), b) for n, b in chat.get("v0.1", {}).items())
    if before:
        ax.plot(*zip(*before, strict=True), "s--", color="C3", label="v0.1 (turns re-sent whole)")
    ax.set(title="chat: iopub bytes per reply", xlabel="exchanges in the conversation")
    ax.set(ylabel="bytes", xscale="log", yscale="log")
    ax.legend(fontsize=8, loc="center right")


def plot_player(ax: Any, curve: list[dict[str, Any]]) -> None:
    points = sorted(curve, key=lambda p: p["events"])
    if points:
        events = [p["events"] for p in points]
        for key, label, style in (
            ("previous_held", "previous: the whole recording in memory", "s--"),
            ("held", "Player over the file (lazy)", "o-"),
            ("file_bytes", "the .jsonl file itself", ":"),
        ):
            values = [p.get(key) for p in points]
            if all(v is not None for v in values):
                ax.plot(events, values, style, label=label)
        ax.legend(fontsize=8, loc="upper left")
    ax.set(title="Player: kernel memory held", xlabel="events in the recording")
    ax.set(ylabel="bytes", xscale="log", yscale="log")


def update_doc(markdown: str) -> None:
    if not DOC.exists():
        log(f"{DOC} is missing: the results section was not written")
        return
    text = DOC.read_text()
    if START_MARK not in text or END_MARK not in text:
        log(f"{DOC} has no {START_MARK} … {END_MARK} section: not written")
        return
    head, rest = text.split(START_MARK, 1)
    _, tail = rest.split(END_MARK, 1)
    DOC.write_text(f"{head}{START_MARK}\n{markdown}\n{END_MARK}{tail}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    parser.add_argument("--only", help="comma-separated: " + ",".join(b[0] for b in BENCHES))
    parser.add_argument(
        "--replot", action="store_true", help="redo the plot and docs from results/latest.json"
    )
    args = parser.parse_args()
    if args.replot:
        saved = json.loads((RESULTS / "latest.json").read_text())
        publish(saved["info"], saved["rows"], saved["results"])
        return 0
    chosen = set(args.only.split(",")) if args.only else None
    started = time.monotonic()
    info: dict[str, Any] = {
        "started": datetime.now(UTC).isoformat(),
        "quick": args.quick,
        "machine": machine(),
    }
    load_before = f"{os.getloadavg()[0]:.1f}"
    results: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    for name, script, limit in BENCHES:
        if chosen is not None and name not in chosen:
            continue
        result = run_bench(name, script, limit, args.quick)
        results[name] = result
        number = 1 + [b[0] for b in BENCHES].index(name)
        if "skipped" in result:
            log(f"{name}: skipped ({result['skipped']})")
            rows.append(row(f"{number} {name}", f"skipped: {result['skipped']}", None, ""))
            continue
        for r in result.get("rows", []):
            if not str(r.get("section", "")).strip()[:1].isdigit():
                r["section"] = f"{number} {r.get('section') or name}"
            rows.append({**row("", "", None, ""), **r})
        if "error" in result:
            rows.append(
                row(name, f"{name} benchmark failed", None, "", passed=False, note=result["error"])
            )
    info.update(
        finished=datetime.now(UTC).isoformat(),
        seconds=time.monotonic() - started,
        load=[load_before, f"{os.getloadavg()[0]:.1f}"],
    )
    text = table(rows)
    summary = describe(info)
    failed = [r["what"] for r in rows if r["passed"] is False]
    print()
    print(text)
    print()
    print(summary)
    print(f"{sum(r['passed'] is True for r in rows)} targets met, {len(failed)} missed")

    RESULTS.mkdir(exist_ok=True)
    stem = "quick" if args.quick else "latest"
    (RESULTS / f"{stem}.json").write_text(
        json.dumps({"info": info, "rows": rows, "results": results}, indent=1, default=str)
    )
    markdown = f"Measured {summary}\n\n{text}\n"
    (RESULTS / f"{stem}.md").write_text(f"# Benchmark results ({stem})\n\n{markdown}")
    if not args.quick and chosen is None:
        publish(info, rows, results)
    return 0


def publish(info: dict[str, Any], rows: list[dict[str, Any]], results: dict[str, Any]) -> None:
    """The plot and the results section of the docs, from a full run."""
    m = info["machine"]
    when = info["finished"][:10]
    machine_line = f"{m['cpu']}, {m['cores']} cores, {when}"
    has_plot = plot(results, PLOT, machine_line)
    picture = (
        "\n![bytes, CPU and memory against size, log-log](img/bench-scaling.png)\n"
        if has_plot
        else ""
    )
    update_doc(f"Measured {describe(info)}\n\n{table(rows)}\n{picture}")
    written = [RESULTS / "latest.md", *([PLOT] if has_plot else []), DOC]
    log("wrote " + ", ".join(str(p.relative_to(REPO)) for p in written))


if __name__ == "__main__":
    sys.exit(main())
