"""Reload mid-stream, a second view of the same stream, and frames lost on the way, in a real
JupyterLab + chromium.

The kernel's ``StreamView.send`` is wrapped to drop every 7th text frame and hold back every
11th until after the next one (the last frame before a pause always goes through). One stream
of numbered words is shown three times: a view, a second view of the same widget, and a second
widget on the same stream id. The stream waits at two gates the test opens:

1. at gate 1 every view shows exactly the words streamed so far (gaps were repaired by resync,
   nothing is doubled), although the stream is still ``streaming``;
2. gate 1 opens and the page is saved and reloaded while words flow: the restored views ask
   for the document, show a prefix of it, and reach exactly the words before gate 2;
3. gate 2 opens: at the end every view shows exactly the whole document, each word once and
   in order.

The kernel-side and front-end halves run without a browser in tests/test_transport_loss.py and
js/test/hostile_transport.test.ts. Guarantees listed in docs/guarantees.md.
"""

from __future__ import annotations

import re
import time

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

FIRST, MID, LAST = 200, 80, 80  # words before gate 1, between the gates, after gate 2
TOTAL = FIRST + MID + LAST

SETUP = f"""\
import asyncio
import streamwidget as sw
from streamwidget import StreamView

_send = StreamView.send
lossy = {{"frames": 0, "dropped": 0, "held": 0, "snapshots": 0}}
_held = []
PAUSES = ("w{FIRST - 1:04d} ", "w{FIRST + MID - 1:04d} ")

def lossy_send(self, content, buffers=None):
    if content.get("kind") == "snapshot":
        lossy["snapshots"] += 1
    if content.get("kind") == "delta" and content["field"] == "text":
        lossy["frames"] += 1
        before_pause = any(word in content["text"] for word in PAUSES)
        if lossy["frames"] % 7 == 0 and not before_pause:
            lossy["dropped"] += 1
            return
        if lossy["frames"] % 11 == 0 and not before_pause:
            lossy["held"] += 1
            _held.append((self, content))
            return
    _send(self, content, buffers)
    while _held:
        view, late = _held.pop(0)
        _send(view, late)

StreamView.send = lossy_send
gates = [asyncio.Event(), asyncio.Event()]

class Numbered:
    \"\"\"Numbered words, 100 a second, waiting at two gates the test opens.\"\"\"
    name, model = "numbered", "numbered-1"

    def describe(self, request):
        return {{}}

    async def stream(self, request):
        for i in range({TOTAL}):
            if i == {FIRST}:
                await gates[0].wait()
            if i == {FIRST + MID}:
                await gates[1].wait()
            await asyncio.sleep(0.01)
            yield {{"type": "text", "text": f"w{{i:04d}} "}}
        yield {{"type": "finish", "reason": "stop"}}
"""

CELLS = [
    ("code", SETUP),
    ("code", "view = sw.StreamView(sw.start(Numbered()))\nview"),
    ("code", "view  # a second view of the same widget"),
    ("code", "sw.StreamView(view.stream_id)  # another widget on the same stream"),
    ("code", "gates[0].set()"),
    ("code", "gates[1].set()"),
    ("code", "lossy"),
]
GATE_1, GATE_2, COUNTERS = 4, 5, 6

RUN_CELL = """(index) => {
  const panel = Array.from(window.jupyterapp.shell.widgets('main'))
    .find((w) => w.content && w.context);
  panel.content.activeCellIndex = index;
  return window.jupyterapp.commands.execute('notebook:run-cell');
}"""

WORDS = """() => Array.from(document.querySelectorAll('.sw-stream')).map((v) => ({
  status: v.dataset.status,
  text: (v.querySelector('.sw-text') || {}).innerText || '',
}))"""


def numbered(text: str) -> list[int]:
    return [int(w) for w in re.findall(r"\bw(\d{4})\b", text)]


def views(lab) -> list[dict[str, str]]:
    return lab.page.evaluate(WORDS)


def wait_until(lab, predicate, timeout: float, what: str) -> list[dict[str, str]]:
    deadline = time.monotonic() + timeout
    while True:
        shown = views(lab)
        if predicate(shown):
            return shown
        if time.monotonic() > deadline:
            tails = [(v["status"], v["text"][-60:]) for v in shown]
            raise AssertionError(f"{what}; views: {tails}")
        lab.page.wait_for_timeout(100)


def exactly(count: int):
    def check(shown):
        return len(shown) == 3 and all(numbered(v["text"]) == list(range(count)) for v in shown)

    return check


def test_reload_second_views_and_lost_frames_converge_without_duplicates(lab):
    notebook = lab.server.write_notebook("reload-loss.ipynb", CELLS[:4])
    lab.open(notebook)
    lab.run_all(timeout=120)
    for _kind, source in CELLS[4:]:  # added now, so Run All did not open the gates
        lab.page.evaluate(
            """(source) => {
              const panel = Array.from(window.jupyterapp.shell.widgets('main'))
                .find((w) => w.content && w.context);
              const model = panel.content.model;
              model.sharedModel.insertCell(model.sharedModel.cells.length,
                                           { cell_type: 'code', source });
            }""",
            source,
        )

    # 1. paused at gate 1: every view holds exactly the first words, still streaming
    shown = wait_until(lab, exactly(FIRST), 30, "the views did not converge at gate 1")
    assert [v["status"] for v in shown] == ["streaming"] * 3
    lab.screenshot("gate-1")

    # 2. open gate 1, save (so the outputs survive) and reload while words flow
    lab.page.evaluate(RUN_CELL, GATE_1)
    lab.page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    lab.page.wait_for_timeout(200)
    lab.page.reload(wait_until="domcontentloaded")
    # the views come back once the page has reconnected to the kernel and restored its widgets
    restored = wait_until(lab, lambda s: len(s) == 3, 90, "the views were not restored")
    for view in restored:
        words = numbered(view["text"])
        assert words == list(range(len(words))), "a restored view shows a prefix, no doubles"
    shown = wait_until(lab, exactly(FIRST + MID), 30, "restored views did not converge")
    assert [v["status"] for v in shown] == ["streaming"] * 3, "the reload was mid-stream"

    # 3. open gate 2: at the end, exactly the document everywhere
    lab.page.evaluate(RUN_CELL, GATE_2)

    def finished(shown):
        return exactly(TOTAL)(shown) and all(v["status"] == "complete" for v in shown)

    wait_until(lab, finished, 60, "the stream did not end exactly in every view")
    lab.screenshot("complete")

    # the link really lost frames, and resync really repaired them
    lab.page.evaluate(RUN_CELL, COUNTERS)
    deadline = time.monotonic() + 30
    while True:
        outputs = lab.cells()[COUNTERS]["outputs"]
        text = str(outputs[0]["data"]["text/plain"]) if outputs else ""
        if "'frames'" in text:
            break
        assert time.monotonic() < deadline, f"no loss counters: {outputs}"
        lab.page.wait_for_timeout(200)
    counters = {k: int(v) for k, v in re.findall(r"'(\w+)': (\d+)", text)}
    assert counters["dropped"] >= 3 and counters["held"] >= 2, counters
    assert counters["snapshots"] >= 2, counters  # resyncs after gaps, and after the reload
    assert lab.page_errors == []
