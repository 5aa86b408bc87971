"""A 2,000-exchange conversation in a real JupyterLab, checked the way a person would: it opens
on its last turns with the last reply in sight (a window, not the history), scrolling to the
top loads the turns before, and a new message shows at once while its reply streams in below.

The conversation is written into the server's store in bulk (tests/long_chat.py); the model is
a small provider defined in the notebook that streams numbered words after telling how many
messages it was given. How fast each step is gets measured by
benchmarks/bench_chat_browser.py, not here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

CHAT = ".sw-chat"
TURNS = f"{CHAT} .sw-turn"
EXCHANGES = 2000
WINDOW = 40  # widgets/chat_wire.py
WORDS = 60
TESTS = Path(__file__).resolve().parents[1]

SETUP = f"""\
import asyncio, sys, time
import streamwidget as sw
sys.path.insert(0, {str(TESTS)!r})
from long_chat import long_conversation

store = sw.default_store()
reply = "Here is the *answer*, with a list:\\n\\n- one point\\n- another point\\n\\nanswer"
cid = long_conversation(store, {EXCHANGES}, reply=reply)

# a store that takes its time with some messages (e.g. a busy shared database)
_add_message = store.add_message
def add_message(conversation_id, role, content="", **kw):
    if "slowly" in content:
        time.sleep(1.5)
    return _add_message(conversation_id, role, content, **kw)
store.add_message = add_message

class Counting:
    name, model = "counting", "counting-1"

    def describe(self, request):
        return {{}}

    async def stream(self, request):
        yield {{"type": "text", "text": f"got {{len(request.messages)}} messages: "}}
        for i in range({WORDS}):
            await asyncio.sleep(0.05)
            yield {{"type": "text", "text": f"n{{i:02d}} "}}
        yield {{"type": "finish", "reason": "stop"}}

chat = sw.Chat(Counting(), conversation_id=cid)
chat
"""

SHOWN = """(sel) => Array.from(document.querySelectorAll(sel)).map((t) => t.textContent)"""

# the part of an element inside the chat log's visible area, in pixels (0: scrolled away)
IN_SIGHT = """(el) => {
  const log = el.closest('.sw-chat-log').getBoundingClientRect();
  const r = el.getBoundingClientRect();
  return Math.max(0, Math.min(r.bottom, log.bottom) - Math.max(r.top, log.top));
}"""


def shown(lab) -> list[str]:
    return lab.page.evaluate(SHOWN, TURNS)


def test_a_long_conversation_opens_on_a_window_loads_older_turns_and_streams(lab):
    notebook = lab.server.write_notebook("chat-long.ipynb", [("code", SETUP)])
    lab.open(notebook)
    lab.run_all(timeout=120)
    last = f"answer {EXCHANGES - 1}"
    lab.page.wait_for_function(
        "([sel, last]) => { const t = document.querySelectorAll(sel);"
        " return t.length && t[t.length - 1].textContent.includes(last); }",
        arg=[TURNS, last],
        timeout=60_000,
    )
    lab.page.wait_for_function(
        "([sel, n]) => document.querySelectorAll(sel).length === n", arg=[TURNS, WINDOW]
    )
    turns = shown(lab)
    assert len(turns) == WINDOW, "the last turns only, not the history"
    assert f"question {EXCHANGES - WINDOW // 2}" in turns[0]
    last_turn = lab.page.locator(TURNS).last
    assert last_turn.evaluate(IN_SIGHT) > 0, "the chat opens on its last reply"
    assert last_turn.locator(".sw-text li").count() == 2, "replies are drawn as markdown"
    nodes = lab.page.evaluate(f"() => document.querySelectorAll('{CHAT} *').length")
    assert nodes < 2000, f"{nodes} DOM nodes for a window of {WINDOW} turns"
    lab.screenshot("window", lab.page.locator(CHAT))

    # scroll the log to the top: the page of turns before comes in front
    log = lab.page.locator(f"{CHAT} .sw-chat-log")
    log.evaluate("(el) => { el.scrollTop = 0; el.dispatchEvent(new Event('scroll')); }")
    lab.page.wait_for_function(
        "([sel, n]) => document.querySelectorAll(sel).length >= n",
        arg=[TURNS, 2 * WINDOW],
        timeout=30_000,
    )
    turns = shown(lab)
    assert f"question {EXCHANGES - WINDOW}" in turns[0]
    assert last in turns[-1]
    numbers = [int(n) for t in turns for n in re.findall(r"question (\d+)", t)]
    assert numbers == list(range(EXCHANGES - WINDOW, EXCHANGES)), "in order, no gaps or doubles"
    assert log.evaluate("(el) => el.scrollTop") > 0, "the reader stays where they were"
    lab.screenshot("older", lab.page.locator(CHAT))

    # a new message: it shows at once, and its reply streams in below, in sight
    box = lab.page.locator(f"{CHAT} .sw-input")
    box.click()
    box.fill("and now?")
    box.press("Enter")
    mine = lab.page.locator(f"{TURNS}[data-role=user]").filter(has_text="and now?")
    mine.first.wait_for()
    assert box.input_value() == "", "the box clears"
    streaming = lab.page.locator(f"{TURNS}[data-role=assistant][data-status=streaming]")
    streaming.filter(has_text="n05").wait_for(timeout=30_000)
    assert streaming.evaluate(IN_SIGHT) > 0, "the streaming reply is in sight (scrolled down)"
    lab.screenshot("streaming", lab.page.locator(CHAT))
    lab.page.wait_for_function(
        "(sel) => { const t = document.querySelectorAll(sel); const r = t[t.length - 1];"
        " return r.dataset.status === 'complete' && r.textContent.includes('n59'); }",
        arg=f"{TURNS}[data-role=assistant]",
        timeout=30_000,
    )
    reply = lab.page.locator(f"{TURNS}[data-role=assistant]").last.locator(".sw-text")
    text = reply.inner_text()
    # the model was given the whole conversation: every exchange and the new question
    assert text.startswith(f"got {2 * EXCHANGES + 1} messages:"), text[:80]
    assert re.findall(r"n(\d\d)", text) == [f"{i:02d}" for i in range(WORDS)]
    assert mine.count() == 1, "the message shows once (the kernel's turn took the echo's place)"
    assert mine.get_attribute("data-pending") is None
    assert "and now?" in shown(lab)[-2]
    lab.screenshot("streamed", lab.page.locator(CHAT))

    # the kernel is slow to take the next message (a slow store): it shows at once anyway,
    # waiting, and the kernel's turn takes its place
    replies = lab.page.locator(f"{TURNS}[data-role=assistant]").count()
    box.fill("slowly, please")
    box.press("Enter")
    waiting = lab.page.locator(f"{TURNS}[data-pending=true]").filter(has_text="slowly, please")
    waiting.wait_for(timeout=1_000)
    assert waiting.evaluate(IN_SIGHT) > 0
    lab.screenshot("waiting", lab.page.locator(CHAT))
    lab.page.wait_for_function(
        "([sel, n]) => { const t = document.querySelectorAll(sel); const r = t[t.length - 1];"
        " return t.length > n && r.dataset.status === 'complete'"
        " && r.textContent.includes('n59'); }",
        arg=[f"{TURNS}[data-role=assistant]", replies],
        timeout=30_000,
    )
    assert waiting.count() == 0
    again = lab.page.locator(f"{TURNS}[data-role=user]").filter(has_text="slowly, please")
    assert again.count() == 1
    assert f"got {2 * EXCHANGES + 3} messages:" in shown(lab)[-1]
    assert lab.page_errors == []
