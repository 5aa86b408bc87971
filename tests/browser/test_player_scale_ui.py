"""A Player on a long generated recording in a real JupyterLab: click at 50%, drag, look.

200,000 events by default (``SW_PLAYER_EVENTS`` to change it, e.g. 1,000,000 for the numbers
in the report; the benchmark measures the kernel at that size). The test checks that what is
on screen is the document at the position the player reports, after a click and after a drag,
and prints how long each took to draw (timings are asserted loosely: the targets are for the
benchmark, on a quiet machine).
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from long_recording import write_long_recording
from streamwidget.seek import SeekIndex

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

EVENTS = int(os.environ.get("SW_PLAYER_EVENTS", "200000"))
WORD = re.compile(r"[^\W\d_]+|\d+")

# Watches the player: when the user presses on the strip and releases, when the document's
# text last changed, and every main-thread task over 50 ms.
PROBE = """() => {
  const root = document.querySelector('.sw-player');
  const probe = window.__swProbe = { down: 0, up: 0, drawn: 0, long: [], draws: [] };
  new MutationObserver(() => probe.draws.push(Number(root.dataset.drawMs)))
    .observe(root, { attributes: true, attributeFilter: ['data-draw-ms'] });
  const strip = root.querySelector('.sw-strip');
  strip.addEventListener('pointerdown', () => { probe.down = performance.now(); }, true);
  document.addEventListener('pointerup', () => { probe.up = performance.now(); }, true);
  const all = { childList: true, subtree: true, characterData: true };
  new MutationObserver(() => { probe.drawn = performance.now(); })
    .observe(root.querySelector('.sw-player-scroll'), all);
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) probe.long.push(Math.round(entry.duration));
  }).observe({ type: 'longtask' });
}"""


# Drags the strip from x0 to x1 in ``ms`` milliseconds, one pointer move per animation frame.
DRAG = """async ({ x0, x1, y, ms }) => {
  const strip = document.querySelector('.sw-player .sw-strip');
  const fire = (target, type, x) => target.dispatchEvent(
    new PointerEvent(type, { clientX: x, clientY: y, button: 0, bubbles: true }));
  fire(strip, 'pointerdown', x0);
  const start = performance.now();
  await new Promise((done) => {
    const step = () => {
      const f = Math.min((performance.now() - start) / ms, 1);
      fire(document, 'pointermove', x0 + (x1 - x0) * f);
      if (f < 1) requestAnimationFrame(step); else done();
    };
    requestAnimationFrame(step);
  });
  fire(document, 'pointerup', x1);
  return performance.now() - start;
}"""


def words(text: str) -> list[str]:
    return WORD.findall(text)


def on_screen(player) -> str:
    """The reply's text as drawn: every text run (tool cards sit between them), in order."""
    return "\n".join(player.locator(".sw-text").all_inner_texts())


def settle(lab, quiet_ms: int = 400) -> dict:
    """Wait until nothing was drawn for ``quiet_ms``; the probe's numbers."""
    lab.page.wait_for_function(
        f"() => window.__swProbe.drawn && performance.now() - window.__swProbe.drawn > {quiet_ms}",
        timeout=60_000,
    )
    return lab.page.evaluate("() => ({...window.__swProbe})")


def check_shown(player, index: SeekIndex) -> int:
    """The text on screen ends with the document at the position the player shows; returns
    the position."""
    position = int(player.get_attribute("data-position"))
    expected = words(index.document(position).text)
    shown = words(on_screen(player))
    assert len(shown) > 200, "a window of text is on screen"
    assert shown[-150:] == expected[-150:], position
    return position


def test_a_long_recording_opens_clicks_and_drags(lab):
    path = write_long_recording(lab.server.root / "long.jsonl", EVENTS)
    _header, index = SeekIndex.from_file(path)
    notebook = lab.server.write_notebook(
        "player-long.ipynb",
        [("code", 'import streamwidget as sw\nplayer = sw.Player("long.jsonl")\nplayer')],
    )
    lab.open(notebook)
    lab.run_all(timeout=300)
    lab.wait_for(f'.sw-player[data-position="{len(index)}"]', timeout=120)
    player = lab.page.locator(".sw-player").first
    lab.page.wait_for_function(
        "() => Array.from(document.querySelectorAll('.sw-player .sw-text'))"
        ".reduce((n, e) => n + e.textContent.length, 0) > 1000",
        timeout=60_000,
    )
    check_shown(player, index)
    assert player.locator(".sw-player-earlier").is_visible(), "the text before the window"
    lab.page.evaluate(PROBE)

    strip = player.locator(".sw-strip")
    box = strip.bounding_box()
    y = box["y"] + box["height"] / 2
    lab.page.mouse.click(box["x"] + box["width"] / 2, y)  # a click at 50 %
    probe = settle(lab)
    position = check_shown(player, index)
    t = float(player.get_attribute("data-time"))
    assert abs(t - index.duration / 2) < index.duration * 0.01
    assert position == index.position_at(t)
    click_ms = probe["drawn"] - probe["down"]
    lab.screenshot("player-long-clicked", player)

    # a 0.5 s drag from 20 % to 80 % (a pointer move every frame), then release
    lab.page.evaluate("() => { window.__swProbe.long = []; window.__swProbe.draws = []; }")
    x0, x1 = box["x"] + box["width"] * 0.2, box["x"] + box["width"] * 0.8
    drag_ms = lab.page.evaluate(DRAG, {"x0": x0, "x1": x1, "y": y, "ms": 500})
    probe = settle(lab)
    position = check_shown(player, index)
    t = float(player.get_attribute("data-time"))
    assert abs(t - index.duration * 0.8) < index.duration * 0.01
    assert position == index.position_at(t)
    head = player.locator(".sw-strip-head").bounding_box()
    assert abs(head["x"] + head["width"] / 2 - (box["x"] + box["width"] * 0.8)) < 4
    settle_ms = probe["drawn"] - probe["up"]
    lab.screenshot("player-long-dragged", player)
    print(
        f"\n{len(index):,} events: click at 50% drawn after {click_ms:.0f} ms; "
        f"{drag_ms:.0f} ms drag settled {settle_ms:.0f} ms after release; "
        f"tasks > 50 ms during the drag: {probe['long']}; "
        f"draws during the drag: {len(probe['draws'])}, slowest {max(probe['draws'] or [0])} ms"
    )
    assert click_ms < 2000 and settle_ms < 2000, (click_ms, settle_ms)

    # scrolled up to the start of the window: the reader can ask for the text before it
    earlier = player.locator(".sw-player-earlier")
    earlier.scroll_into_view_if_needed()
    assert earlier.is_visible()
    lab.screenshot("player-long-top", player)
    label = earlier.text_content()
    before = int(re.sub(r"\D", "", label))
    earlier.click()
    lab.page.wait_for_function(
        "(label) => document.querySelector('.sw-player-earlier').textContent !== label",
        arg=label,
        timeout=30_000,
    )
    after = int(re.sub(r"\D", "", earlier.text_content()))
    assert before - 12_288 <= after < before - 10_000, (before, after)
    assert check_shown(player, index) == position
    assert lab.page_errors == []
