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
import time
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
  const probe = window.__swProbe = { down: 0, up: 0, drawn: 0, long: [] };
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


def words(text: str) -> list[str]:
    return WORD.findall(text)


def on_screen(player) -> str:
    return player.locator(".sw-text").inner_text()


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
        "() => document.querySelector('.sw-player .sw-text')?.textContent.length > 1000",
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

    # a 0.5 s drag from 20 % to 80 %, then release
    lab.page.evaluate("() => { window.__swProbe.long = []; }")
    lab.page.mouse.move(box["x"] + box["width"] * 0.2, y)
    lab.page.mouse.down()
    started = time.monotonic()
    for step in range(1, 31):
        lab.page.mouse.move(box["x"] + box["width"] * (0.2 + 0.6 * step / 30), y)
        lab.page.wait_for_timeout(16)
    drag_s = time.monotonic() - started
    lab.page.mouse.up()
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
        f"{drag_s:.2f} s drag settled {settle_ms:.0f} ms after release; "
        f"tasks > 50 ms during the drag: {probe['long']}"
    )
    assert click_ms < 2000 and settle_ms < 2000, (click_ms, settle_ms)
    assert lab.page_errors == []
