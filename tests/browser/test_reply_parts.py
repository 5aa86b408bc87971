"""A multi-step agent reply (thinking → text → tool → text → tool awaiting approval → text) in
StreamView, the Chat and the Player of a real JupyterLab: the parts show in the order they
happened, on screen (top to bottom), mid-stream and at the end; Copy on a code block copies
that block in all three; the maths in the last step renders as MathML.

The reply is tests/data/agent-steps.jsonl (made up, paced over ~8 s; the second tool waits
2.5 s for approval), replayed at its own pace.
"""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.timeout(400)]

AGENT = Path(__file__).resolve().parents[1] / "data" / "agent-steps.jsonl"

VIEW = ".sw-stream:not(.sw-chat):not(.sw-player)"
CHAT = ".sw-chat"
REPLY = f"{CHAT} .sw-turn[data-role=assistant]"
PLAYER = ".sw-player"

MID = [
    "thinking",
    "text:Let me check the weather in Paris.",
    "tool:call_1:done",
    "step",
    "text:It is 19 °C and sunny.",
    "tool:call_2:pending_approval",
]
END = [*MID[:-1], "tool:call_2:done", "step", "text:The week stays dry, so"]

# Each visible part of the reply under `root`, top to bottom as laid out on screen.
_PARTS = """(root) => {
  const box = root.querySelector('.sw-reply .sw-parts');
  return Array.from(box.children).filter((el) => !el.hidden).map((el) => {
    const r = el.getBoundingClientRect();
    const card = el.querySelector('.sw-tool');
    let kind = 'other';
    if (el.classList.contains('sw-thinking')) kind = 'thinking';
    else if (card) kind = `tool:${card.dataset.toolId}:${card.dataset.status}`;
    else if (el.classList.contains('sw-step')) kind = 'step';
    else if (el.classList.contains('sw-text')) kind = 'text:' + el.innerText.trim();
    return { kind, top: r.top, bottom: r.bottom };
  });
}"""


def parts_on_screen(lab, selector: str) -> list[str]:
    """The parts' labels in on-screen order; checks that no part overlaps the next."""
    shown = lab.page.locator(selector).last.evaluate(_PARTS)
    for above, below in itertools.pairwise(shown):
        assert above["bottom"] <= below["top"] + 0.5, (above, below)
    return [p["kind"] for p in shown]


def check_order(lab, selector: str, expected: list[str]) -> None:
    """The parts on screen, in order, as soon as the status they go with shows: a view draws
    its status and its text together (the Player too: no final status over older text)."""
    labels = parts_on_screen(lab, selector)
    assert len(labels) == len(expected), labels
    for label, want in zip(labels, expected):
        assert label.startswith(want), (labels, expected)


def copy_first_code_block(lab, selector: str) -> str:
    """Click Copy on the reply's first code block; return what the clipboard holds."""
    lab.page.evaluate("() => navigator.clipboard.writeText('nothing yet')")
    root = lab.page.locator(selector).last
    button = root.locator(".sw-codeblock .sw-copy").first
    button.click()
    lab.page.wait_for_function(
        "(el) => el.textContent === 'Copied'", arg=button.element_handle(), timeout=5000
    )
    return lab.page.evaluate("() => navigator.clipboard.readText()")


def watch(lab, selector: str, name: str) -> None:
    """Mid-stream (second tool awaiting approval) and at the end, in one view."""
    lab.wait_for(f"{selector} .sw-tool[data-tool-id=call_2][data-status=pending_approval]")
    check_order(lab, selector, MID)
    root = lab.page.locator(selector).last
    assert root.locator(".sw-thinking").get_attribute("open") is None, "thinking folded"
    lab.screenshot(f"{name}-mid", root)
    lab.wait_for(f"{selector}[data-status=complete]", timeout=60)
    check_order(lab, selector, END)
    last_text = root.locator(".sw-parts > .sw-text").last
    assert last_text.locator("math msup").count() == 1, "x^2 as MathML"
    assert "Thought for" in root.locator(".sw-thinking-label").inner_text()
    lab.screenshot(f"{name}-end", root)
    assert copy_first_code_block(lab, selector) == "print('step two')"


def test_agent_reply_in_order_in_stream_view_chat_and_player(lab):
    shutil.copy(AGENT, lab.server.root / "agent-steps.jsonl")
    lab.page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=lab.server.url)
    setup = (
        "import streamwidget as sw\n"
        "from streamwidget.providers.replay import ReplayProvider\n"
        "rec = sw.Recording.load('agent-steps.jsonl')"
    )
    notebook = lab.server.write_notebook(
        "agent-parts.ipynb",
        [
            ("code", setup),
            ("code", "sw.StreamView(sw.start(ReplayProvider(rec, speed=1)))"),
            ("code", "chat = sw.Chat(ReplayProvider(rec, speed=1))\nchat"),
            ("code", "player = sw.Player('agent-steps.jsonl', position=0)\nplayer"),
        ],
    )
    lab.open(notebook)
    lab.run_all(timeout=90)
    watch(lab, VIEW, "stream-view")

    box = lab.page.locator(f"{CHAT} .sw-input")
    box.click()
    box.fill("Weather in Paris this week?")
    box.press("Enter")
    watch(lab, REPLY, "chat")

    lab.page.locator(f"{PLAYER} .sw-play").click()
    watch(lab, PLAYER, "player")
    assert lab.page_errors == []
