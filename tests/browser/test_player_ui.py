"""The Player and Compare widgets in a real JupyterLab: scrub, step, play; notebook 04 runs.

The scrub test drags the timing strip with the mouse to its middle and checks that the text on
screen is exactly the recording's text prefix at the time the player reports, and that the
position is the number of events up to that time (the recording has a stall in the middle, so
the middle of the time axis is not the middle event).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from streamwidget import Recording

REPO_ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_04 = "04-replay-debugging.ipynb"

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

WORDS = [f"w{i:03d}" for i in range(160)]


def words_recording() -> Recording:
    """160 one-word tokens, 40 ms apart, with a 3 s stall after the 20th."""
    events = []
    for i, word in enumerate(WORDS):
        t = 0.5 + 0.04 * i + (3.0 if i >= 20 else 0.0)
        events.append({"t": round(t, 3), "type": "text", "text": word + " "})
    events.append({"t": round(events[-1]["t"] + 0.05, 3), "type": "finish", "reason": "stop"})
    return Recording.new(provider="test", model="words", events=events, title="Words")


def shown_words(player) -> list[str]:
    return re.findall(r"w\d{3}", player.locator(".sw-text").inner_text())


def wait_for_position(lab, check: str) -> None:
    """Wait until the player's root satisfies ``check`` (a JS expression over ``el``)."""
    lab.page.wait_for_function(
        f"() => {{ const el = document.querySelector('.sw-player'); return el && ({check}); }}",
        timeout=30_000,
    )


def test_dragging_the_scrubber_to_the_middle_shows_the_prefix_at_that_time(lab):
    recording = words_recording()
    recording.save(lab.server.root / "words.jsonl")
    events = recording.events
    notebook = lab.server.write_notebook(
        "player-scrub.ipynb",
        [("code", 'import streamwidget as sw\nplayer = sw.Player("words.jsonl")\nplayer')],
    )
    lab.open(notebook)
    lab.run_all(timeout=90)
    lab.wait_for(f'.sw-player[data-position="{len(events)}"]', timeout=60)
    player = lab.page.locator(".sw-player").first
    assert shown_words(player) == WORDS

    strip = player.locator(".sw-strip")
    box = strip.bounding_box()
    y = box["y"] + box["height"] / 2
    lab.page.mouse.move(box["x"] + box["width"] - 2, y)  # grab the playhead at the end
    lab.page.mouse.down()
    lab.page.mouse.move(box["x"] + box["width"] / 2, y, steps=12)
    lab.page.mouse.up()
    wait_for_position(lab, "el.dataset.status === 'streaming'")
    lab.page.wait_for_timeout(300)  # let the last answer land

    t = float(player.get_attribute("data-time"))
    position = int(player.get_attribute("data-position"))
    span = recording.duration
    assert abs(t - span / 2) < span * 0.02, (t, span)
    assert position == sum(1 for e in events if e["t"] <= t)
    assert 20 < position < 60, "after the stall the middle of the time is well before word 80"
    expected = "".join(e["text"] for e in events[:position]).split()
    assert shown_words(player) == expected
    assert player.locator(".sw-text .sw-caret").count() == 1
    head = player.locator(".sw-strip-head").bounding_box()
    assert abs(head["x"] + head["width"] / 2 - (box["x"] + box["width"] / 2)) < 4
    lab.screenshot("player-scrubbed", player)

    player.locator(".sw-step-forward").click()
    wait_for_position(lab, f"el.dataset.position === '{position + 1}'")
    assert shown_words(player) == [*expected, WORDS[position]]
    player.locator(".sw-step-back").click()
    player.locator(".sw-step-back").click()
    wait_for_position(lab, f"el.dataset.position === '{position - 1}'")
    assert shown_words(player) == expected[:-1]

    player.locator('.sw-speed[data-speed="10"]').click()
    wait_for_position(lab, "el.dataset.speed === '10'")
    player.locator(".sw-play").click()
    wait_for_position(lab, "el.dataset.playing === 'true'")
    wait_for_position(lab, "el.dataset.status === 'complete' && el.dataset.playing === 'false'")
    assert shown_words(player) == WORDS
    assert lab.page_errors == []


def test_notebook_04_runs_and_draws_the_player_and_the_comparison(lab):
    if not (REPO_ROOT / "notebooks" / NOTEBOOK_04).exists():
        pytest.skip(f"needs notebooks/{NOTEBOOK_04}")
    lab.open(NOTEBOOK_04)
    lab.run_all(timeout=200)
    players = lab.page.locator(".sw-player")
    players.first.wait_for(timeout=60_000)
    assert players.count() == 2
    tour, weather = players.nth(0), players.nth(1)
    # The notebook moved the cursor to the start of the first stall.
    assert tour.get_attribute("data-status") == "streaming"
    assert float(tour.get_attribute("data-time")) == pytest.approx(42.569)
    assert tour.locator(".sw-strip-stall").count() == 2
    assert "2 stalls" in tour.locator(".sw-player-stats").text_content()
    # The document scrolled to the cursor: the caret (the end of the text) is in sight.
    tour.scroll_into_view_if_needed()
    scroller, caret = tour.locator(".sw-player-scroll"), tour.locator(".sw-text .sw-caret")
    top, bottom = scroller.bounding_box(), caret.bounding_box()
    assert top["y"] <= bottom["y"] <= top["y"] + top["height"]
    weather.scroll_into_view_if_needed()
    lab.page.wait_for_function(
        "() => document.querySelectorAll('.sw-player')[1]?.dataset.status === 'error'",
        timeout=30_000,
    )
    assert weather.locator(".sw-tool[data-status=done]").count() == 1
    assert "overloaded" in weather.locator(".sw-error").text_content()
    weather.locator(".sw-inspector-summary").click()
    assert weather.locator(".sw-ev[data-when=current]").count() == 1

    compare = lab.wait_for(".sw-compare", timeout=30)
    assert compare.locator(".sw-compare-side").count() == 2
    assert compare.locator("del.sw-diff-del").text_content() == "nice"
    assert compare.locator("ins.sw-diff-ins").text_content() == "great"
    assert lab.page_errors == []

    for theme in ["light", "dark"]:
        if theme == "dark":
            lab.page.evaluate(
                "() => window.jupyterapp.commands.execute("
                "'apputils:change-theme', {theme: 'JupyterLab Dark'})"
            )
            lab.page.wait_for_function(
                "() => document.body.dataset.jpThemeLight === 'false'", timeout=30_000
            )
            lab.page.wait_for_timeout(500)
        tour.scroll_into_view_if_needed()
        lab.screenshot(f"player-tour-{theme}", tour)
        weather.scroll_into_view_if_needed()
        lab.screenshot(f"player-weather-{theme}", weather)
        compare.scroll_into_view_if_needed()
        lab.screenshot(f"compare-{theme}", compare)
