"""Saved notebooks: the front-end bundle once per notebook, not once per widget.

A real kernel (nbclient, like ``jupyter nbconvert --execute``) runs a notebook of N replays of
the bundled recordings (each cell shows one StreamView and waits for its reply) and
saves it with its widget state. Measured per run: the ``.ipynb`` size, the sizes of the
widgets' comm_open messages (their JSON content, as nbclient received it on iopub), and the
reply text the notebook holds.

Two runs in the same process:

- ``per-widget``: each StreamView ships the whole bundle (code + CSS) as its own ``_esm`` /
  ``_css``, the way every anywidget did before (v0.1: 4.33 MB for 20 replays);
- ``shared``: the default. The bundle travels once, in the shared Bundle model
  (widgets/base.py); every widget's ``_esm`` is the small loader.

Targets (issue 15): ``.ipynb`` ≤ one bundle + N x (2 x reply text + 5 kB), the bundle and the
texts counted as the file holds them (base64 of the gzip-compressed bundle; JSON strings); every
comm_open after the first widget's ≤ 5 kB.

Standalone: ``python benchmarks/bench_notebook.py [--quick] [--json PATH]``.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from common import child_env, emit, log, parse_args, row

SECTION = "notebook"
RECORDINGS = ["hello", "markdown-tour", "code-review", "weather-tool-error"]
PER_WIDGET_SETUP = """\
from streamwidget.widgets import base, StreamView
_code, _css, _ = base._bundle_files()
StreamView._esm, StreamView._css = _code, _css  # every widget ships the bundle (before)
"""


def replays(n: int) -> list[str]:
    return [RECORDINGS[i % len(RECORDINGS)] for i in range(n)]


def notebook(n: int, per_widget: bool) -> Any:
    import nbformat

    cells = ["import streamwidget as sw\nfrom IPython.display import display"]
    if per_widget:
        cells.insert(0, PER_WIDGET_SETUP)
    for name in replays(n):
        # shown while it streams (a small comm_open), finished within the cell (nbclient
        # keeps only the messages of the cell it is running)
        cells.append(f"view = sw.replay({name!r}, speed=50)\ndisplay(view)\n_ = await view.handle")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


def execute(n: int, per_widget: bool, workdir: Path) -> dict[str, Any]:
    """Run the notebook in a real kernel; sizes of the saved file and of each comm_open."""
    import nbformat
    from nbclient import NotebookClient

    opens: list[dict[str, Any]] = []

    class Client(NotebookClient):
        def process_message(self, msg: dict[str, Any], cell: Any, cell_index: int) -> Any:
            if msg["msg_type"] == "comm_open":
                state = (msg["content"].get("data") or {}).get("state") or {}
                opens.append(
                    {
                        "bytes": len(json.dumps(msg["content"]).encode())
                        + sum(len(b) for b in msg.get("buffers") or ()),
                        "model": state.get("_model_name"),
                        "view": state.get("_sw_view", ""),
                    }
                )
            return super().process_message(msg, cell, cell_index)

    nb = notebook(n, per_widget)
    env = child_env(STREAMWIDGET_STORE=str(workdir / f"store-{per_widget}.duckdb"))
    import os

    saved_env = dict(os.environ)
    os.environ.update(env)  # the kernel inherits this process's environment
    try:
        Client(nb, timeout=300, kernel_name="python3", store_widget_state=True).execute()
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
    path = workdir / f"replays-{'per-widget' if per_widget else 'shared'}.ipynb"
    nbformat.write(nb, path)
    text = json.loads(path.read_text())
    state = text["metadata"]["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    views = [s["state"] for s in state.values() if s["state"].get("_sw_view") == "stream_view"]
    from streamwidget import Recording

    texts = [Recording.bundled(r).document().text for r in replays(n)]
    reply_bytes = sum(len(text.encode()) for text in texts)
    widget_opens = [o for o in opens if o["view"]]
    return {
        "ipynb_bytes": path.stat().st_size,
        "widget_models": len(state),
        "views_saved": len(views),
        "views_with_final_text": sum(1 for v in views if v.get("status") == "complete"),
        "reply_text_bytes": reply_bytes,
        "reply_text_json_bytes": sum(len(json.dumps(text)) for text in texts),
        "comm_opens": opens,
        "first_widget_open": widget_opens[0]["bytes"] if widget_opens else None,
        "max_later_widget_open": max((o["bytes"] for o in widget_opens[1:]), default=None),
        "all_opens_bytes": sum(o["bytes"] for o in opens),
    }


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    n = 6 if args.quick else 20
    from streamwidget.widgets import base

    # one bundle as the notebook saves it: gzip-compressed code and CSS, base64-encoded
    code, css, _ = base._compressed_bundle()
    bundle = len(code) + len(css)
    with tempfile.TemporaryDirectory(prefix="swbench-notebook-") as tmp:
        log(f"notebook: {n} replays, bundle shipped per widget (before)")
        before = execute(n, True, Path(tmp))
        log(f"notebook: {n} replays, one shared bundle")
        after = execute(n, False, Path(tmp))
    # the text as the file holds it (JSON strings: a newline or a quote takes two bytes), the
    # bundle as the file holds it (gzip-compressed, base64)
    budget = bundle + 2 * after["reply_text_json_bytes"] + n * 5000
    # what each widget adds beyond the bundle and two JSON copies of its text (this includes
    # nbformat's indentation and its one-string-per-line markdown)
    per_widget = (after["ipynb_bytes"] - bundle - 2 * after["reply_text_json_bytes"]) / n
    rows = [
        row(
            SECTION,
            f"saved .ipynb, {n} replays",
            after["ipynb_bytes"] / 1e6,
            "MB",
            baseline=before["ipynb_bytes"] / 1e6,
            baseline_label="bundle per widget",
            target=f"≤ bundle + {n} x (2 x text + 5 kB) = {budget / 1e6:.3f} MB",
            passed=after["ipynb_bytes"] <= budget,
        ),
        row(
            SECTION,
            "largest comm_open after the first widget",
            after["max_later_widget_open"] / 1e3,
            "kB",
            baseline=before["max_later_widget_open"] / 1e3,
            baseline_label="bundle per widget",
            target="≤ 5 kB",
            passed=after["max_later_widget_open"] <= 5000,
        ),
        row(
            SECTION,
            "saved bytes per widget beyond bundle and 2 JSON copies of its text",
            per_widget / 1e3,
            "kB",
            target="≤ 5 kB",
            passed=per_widget <= 5000,
        ),
        row(
            SECTION,
            f"all comm_opens, {n} replays",
            after["all_opens_bytes"] / 1e6,
            "MB",
            baseline=before["all_opens_bytes"] / 1e6,
            baseline_label="bundle per widget",
        ),
    ]
    data = {"n": n, "bundle_bytes": bundle, "budget_bytes": budget, "before": before}
    data["per_widget_bytes"] = per_widget
    data["after"] = after
    for name, run in (("before", before), ("after", after)):
        log(
            f"{name}: .ipynb {run['ipynb_bytes'] / 1e6:.3f} MB, {run['widget_models']} models, "
            f"reply text {run['reply_text_bytes'] / 1e3:.1f} kB, first widget open "
            f"{run['first_widget_open'] / 1e3:.1f} kB, later opens ≤ "
            f"{run['max_later_widget_open'] / 1e3:.2f} kB, "
            f"complete views {run['views_with_final_text']}/{run['views_saved']}"
        )
    log(
        f"ratios before/after: .ipynb {before['ipynb_bytes'] / after['ipynb_bytes']:.1f}x, "
        f"later comm_open {before['max_later_widget_open'] / after['max_later_widget_open']:.0f}x"
        f"; budget {budget / 1e6:.3f} MB; per widget beyond bundle and text "
        f"{per_widget / 1e3:.2f} kB"
    )
    emit(args, rows, data)


if __name__ == "__main__":
    main()
