"""2. Browser side: a real JupyterLab in headless chromium, StreamView vs ipywidgets.HTML.

For each size (2,000 and 20,000 tokens) and approach, a notebook is opened in a fresh kernel;
its first cell prepares the tokens (and, for StreamView, loads the front end once with a tiny
replay). Then, in the page:

- the clock starts when the bench cell is sent to the kernel (``notebook:run-cell``);
- it stops at the first animation frame after the final text is in the widget's DOM (a marker
  token at the very end of the text; for StreamView also ``data-status="complete"``);
- long tasks come from a ``PerformanceObserver`` (``longtask``) between those two moments;
- main-thread work is Chromium's ``TaskDuration`` counter (CDP ``Performance.getMetrics``),
  over the run, compared with showing the same final document once (a new view of the finished
  stream, or an HTML widget created with the whole text).

StreamView replays at speed 0 (as fast as possible); the baseline cell loops
``w.value += token``. Jupyter Server keeps its default iopub rate limits, as users have them.
Every wait has a time limit; a run that misses it is reported as such.
"""

from __future__ import annotations

import statistics
import time
import uuid
from typing import Any

from common import emit, log, parse_args, row
from lab import CLEAR_OUTPUT, RUN_CELL, WATCH_LONG_TASKS, Browser, LabServer, open_notebook

SECTION = "2 browser"
HTML_LIMIT = 60.0  # seconds the naive loop may run in the kernel
WAIT = {"streamview": 60.0, "html": 90.0}  # seconds to wait for the final text on screen

SETUP = """\
import time, ipywidgets, workload
import streamwidget as sw
from IPython.display import display
_N, _MARK = {n}, {mark!r}
_runs = {runs}
_toks = [workload.tokens(_N, marker=f"{{_MARK}}{{i}}") for i in range(_runs)]
_recs = [workload.recording(_N, marker=f"{{_MARK}}{{i}}") for i in range(_runs)]
_bi = -1
_View = sw.StreamView
if {esm!r}:  # another build of the front end (an experiment: --esm)
    import pathlib

    class _View(sw.StreamView):
        _esm = pathlib.Path({esm!r})

if {quiet_display!r}:  # no display update at the end (an experiment: --no-display-update)

    class _View(_View):
        def _update_displays(self):
            pass

if {streamview}:
    display(_View(sw.start(sw.ReplayProvider(workload.recording(20), speed=0))))  # loads the JS
    _done = sw.start(sw.ReplayProvider(workload.recording(_N, marker=_MARK + "once"), speed=0))
    await _done
else:
    display(ipywidgets.HTML("warm"))
None"""

BENCH = {
    "streamview": """\
_bi += 1
_View(sw.start(sw.ReplayProvider(_recs[_bi], speed=0)))""",
    "html": """\
_bi += 1
_w = ipywidgets.HTML()
display(_w)
_t0 = time.perf_counter()
for _tok in _toks[_bi]:
    _w.value += _tok
    if time.perf_counter() - _t0 > {limit}:
        break""",
}

ONCE = {
    "streamview": "_View(_done.id)",
    "html": 'ipywidgets.HTML("".join(workload.tokens(_N, marker=_MARK + "once")))',
}


START = """({ index, marker, kind }) => {
  const app = window.jupyterapp;
  const nb = app.shell.currentWidget.content;
  const cell = nb.widgets[index];
  const selector = kind === 'streamview'
    ? '.sw-stream[data-status="complete"] .sw-text' : '.widget-html-content';
  const state = { t0: 0, found: null, final: null, checks: 0, scheduled: false };
  const check = () => {
    state.scheduled = false;
    if (state.found !== null) return;
    state.checks += 1;
    const el = cell.node.querySelector(selector);
    if (el && el.textContent.includes(marker)) {
      state.found = performance.now();
      observer.disconnect();
      requestAnimationFrame(() => { state.final = performance.now(); });
    }
  };
  const observer = new MutationObserver(() => {
    if (!state.scheduled) { state.scheduled = true; setTimeout(check, 0); }
  });
  observer.observe(cell.node, { subtree: true, childList: true, characterData: true,
                                attributes: true, attributeFilter: ['data-status'] });
  window.__swRun = state;
  nb.activeCellIndex = index;
  state.t0 = performance.now();
  app.commands.execute('notebook:run-cell');
  return state.t0;
}"""

KERNEL_IDLE = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  return Boolean(kernel && kernel.status === 'idle');
}"""

OUTPUT_TEXT = """(index) => {
  const nb = window.jupyterapp.shell.currentWidget.content;
  return nb.widgets[index].node.querySelector('.jp-OutputArea').innerText.slice(0, 4000);
}"""


def timed_run(browser: Browser, index: int, marker: str, kind: str, wait: float) -> dict:
    """Run cell ``index``; wait for ``marker`` on screen; what it cost the page."""
    page = browser.page
    before = browser.metrics()
    t0 = page.evaluate(START, {"index": index, "marker": marker, "kind": kind})
    shown = True
    try:
        page.wait_for_function(
            "() => window.__swRun.final !== null", timeout=wait * 1000, polling=50
        )
    except Exception:  # playwright's TimeoutError
        shown = False
    page.wait_for_timeout(300)  # let the last frame settle
    after = browser.metrics()
    state = page.evaluate("() => window.__swRun")
    end = state["final"] if shown else page.evaluate("() => performance.now()")
    tasks = page.evaluate(
        "([a, b]) => window.__swLong.filter(([s, d]) => s >= a && s <= b)", [t0, end]
    )
    return {
        "shown": shown,
        "ms": (state["final"] - t0) if shown else None,
        "waited_ms": end - t0,
        "task_s": after["TaskDuration"] - before["TaskDuration"],
        "script_s": after["ScriptDuration"] - before["ScriptDuration"],
        "layout_s": after["LayoutDuration"] - before["LayoutDuration"],
        "style_s": after["RecalcStyleDuration"] - before["RecalcStyleDuration"],
        "longest_task_ms": max((d for _, d in tasks), default=0.0),
        "long_tasks": len(tasks),
        "long_tasks_ms": sum(d for _, d in tasks),
        "checks": state["checks"],
    }


def measure(
    server: LabServer,
    browser: Browser,
    kind: str,
    n: int,
    runs: int,
    esm: str = "",
    quiet_display: bool = False,
) -> dict:
    mark = f"END{uuid.uuid4().hex[:8]}"
    name = server.write_notebook(
        f"bench-{kind}-{n}-{mark}.ipynb",
        [
            SETUP.format(
                n=n,
                mark=mark,
                runs=runs,
                streamview=kind == "streamview",
                esm=esm,
                quiet_display=quiet_display,
            ),
            ONCE[kind],
            BENCH[kind].format(limit=HTML_LIMIT),
        ],
    )
    page = browser.new_page()
    open_notebook(page, server, name)
    page.evaluate(WATCH_LONG_TASKS)
    page.evaluate(RUN_CELL, 0)
    page.wait_for_function(KERNEL_IDLE, timeout=120_000, polling=100)
    results = []
    dropped = False
    for i in range(runs):
        result = timed_run(browser, 2, f"{mark}{i}", kind, WAIT[kind])
        text = page.evaluate(OUTPUT_TEXT, 2)
        result["rate_limited"] = "IOPub message rate exceeded" in text
        dropped = dropped or result["rate_limited"]
        results.append(result)
        log(
            f"{kind:>10} n={n:>6,} run {i}: "
            + (f"{result['ms']:8.0f} ms" if result["shown"] else "  not shown")
            + f", longest task {result['longest_task_ms']:.0f} ms, "
            f"main thread {result['task_s']:.2f} s"
            + (", iopub rate limited" if result["rate_limited"] else "")
        )
        # the next run must start with an idle kernel; a flooded one is not waited for
        try:
            page.wait_for_function(KERNEL_IDLE, timeout=30_000, polling=100)
        except Exception:
            break
    once = None
    with_idle = True
    try:
        page.wait_for_function(KERNEL_IDLE, timeout=5_000, polling=100)
    except Exception:
        with_idle = False
    if with_idle:
        page.evaluate(CLEAR_OUTPUT, 2)
        page.wait_for_timeout(300)
        once = timed_run(browser, 1, f"{mark}once", kind, 60)
        log(f"{kind:>10} n={n:>6,} rendered once: {once['task_s']:.2f} s main thread")
    server.shutdown_sessions()
    return {"kind": kind, "n": n, "runs": results, "once": once, "rate_limited": dropped}


def summary(m: dict) -> dict[str, Any]:
    shown = [r for r in m["runs"] if r["shown"]]
    return {
        "shown": len(shown),
        "runs": len(m["runs"]),
        "ms": statistics.median(r["ms"] for r in shown) if shown else None,
        "waited_ms": max(r["waited_ms"] for r in m["runs"]),
        "longest_task_ms": max(r["longest_task_ms"] for r in m["runs"]),
        "task_s": statistics.median(r["task_s"] for r in m["runs"]),
        "once_task_s": m["once"]["task_s"] if m["once"] else None,
    }


def main() -> None:
    args = parse_args(
        __doc__.splitlines()[0],
        ("--esm", {"default": "", "help": "StreamView front end to load instead (experiments)"}),
        ("--sizes", {"default": "", "help": "comma-separated token counts (experiments)"}),
        ("--no-baseline", {"action": "store_true", "help": "StreamView only (experiments)"}),
        ("--no-display-update", {"action": "store_true", "help": "(experiments)"}),
    )
    plan = [(2_000, 1, 1)] if args.quick else [(2_000, 3, 3), (20_000, 2, 1)]
    if args.sizes:
        plan = [(int(n), 2, 1) for n in args.sizes.split(",")]
    measurements = []
    server = LabServer()
    browser = Browser()
    try:
        for n, sv_runs, html_runs in plan:
            measurements.append(
                measure(server, browser, "streamview", n, sv_runs, args.esm, args.no_display_update)
            )
            if not args.no_baseline:
                measurements.append(measure(server, browser, "html", n, html_runs))
    finally:
        browser.close()
        server.stop()
    by = {(m["kind"], m["n"]): summary(m) for m in measurements}
    data = {"measurements": measurements, "summary": {str(k): v for k, v in by.items()}}
    if args.no_baseline:  # an experiment: the log and the data are what is wanted
        emit(args, [], data)
        return
    rows = []
    for n, _, _ in plan:
        sv, html = by[("streamview", n)], by[("html", n)]
        html_label = "ipywidgets.HTML value +="
        not_shown = (
            f"HTML: final text not on screen in {html['shown']} of {html['runs']} runs"
            if html["shown"] < html["runs"]
            else ""
        )
        html_ms = html["ms"] if html["ms"] is not None else None
        ratio = None
        note = f"StreamView shown in {sv['shown']} of {sv['runs']} runs"
        if html_ms is None:
            # never shown: the baseline takes longer than we waited (a lower bound)
            html_ms = html["waited_ms"]
            html_label = "ipywidgets.HTML value +=, not shown when we stopped waiting"
            ratio = html_ms / sv["ms"] if sv["ms"] else None
            note += "; HTML never showed the final text: the ratio is a lower bound"
        elif not_shown:
            note += "; " + not_shown
        if any(r["rate_limited"] for m in measurements if m["kind"] == "html" for r in m["runs"]):
            note += "; the server dropped HTML updates (iopub rate limit)"
        rows.append(
            row(
                SECTION,
                f"start → final text on screen, {n:,} tokens",
                sv["ms"],
                "ms",
                baseline=html_ms,
                baseline_label=html_label,
                ratio=ratio,
                target="≥ 4x faster" if n == 2_000 else "",
                passed=(
                    (ratio or (html_ms / sv["ms"] if html_ms and sv["ms"] else 0)) >= 4
                    if n == 2_000 and sv["ms"]
                    else None
                    if n != 2_000
                    else False
                ),
                note=note,
            )
        )
        rows.append(
            row(
                SECTION,
                f"longest main-thread task while streaming, {n:,} tokens",
                sv["longest_task_ms"],
                "ms",
                baseline=html["longest_task_ms"],
                baseline_label=html_label,
                target="≤ 50 ms at 20,000" if n == 20_000 else "",
                passed=sv["longest_task_ms"] <= 50 if n == 20_000 else None,
                note="0 = no task over 50 ms",
            )
        )
        if sv["once_task_s"]:
            cost = sv["task_s"] / sv["once_task_s"]
            rows.append(
                row(
                    SECTION,
                    f"main-thread time streaming ÷ rendering the final document once, {n:,}",
                    cost,
                    "x",
                    baseline=(
                        html["task_s"] / html["once_task_s"] if html["once_task_s"] else None
                    ),
                    baseline_label=html_label,
                    ratio=(
                        (html["task_s"] / html["once_task_s"]) / cost
                        if html["once_task_s"]
                        else None
                    ),
                    target="close to 1 (≤ 2x)",
                    passed=cost <= 2,
                    note=f"{sv['task_s']:.2f} s streaming vs {sv['once_task_s']:.2f} s once; "
                    f"HTML {html['task_s']:.2f} s",
                )
            )
    emit(args, rows, data)


if __name__ == "__main__":
    start = time.monotonic()
    main()
    log(f"browser benchmark took {time.monotonic() - start:.0f} s")
