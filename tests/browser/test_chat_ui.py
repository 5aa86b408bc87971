"""The Chat widget in a real JupyterLab: type, watch the reply stream, Stop, approve a tool.

Each test writes a small notebook into the server's root, runs it, then drives the chat the
way a person would: typing in the box, pressing Enter, clicking buttons. The expected words
come from the bundled recordings the demo model replays, not from copies here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
RECORDINGS = REPO_ROOT / "src" / "streamwidget" / "recordings"

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

CHAT = ".sw-chat"
REPLY = f"{CHAT} .sw-turn[data-role=assistant]"


def recorded_text(name: str) -> str:
    lines = (RECORDINGS / f"{name}.jsonl").read_text().splitlines()[1:]
    return "".join(e.get("text", "") for e in map(json.loads, lines) if e["type"] == "text")


def words(text: str) -> list[str]:
    return re.findall(r"\w+", text)


def open_chat(lab, name: str, setup: str) -> None:
    notebook = lab.server.write_notebook(name, [("code", setup)])
    lab.open(notebook)
    lab.run_all()
    lab.wait_for(f"{CHAT} .sw-input")


def ask(lab, text: str) -> None:
    box = lab.page.locator(f"{CHAT} .sw-input")
    box.click()
    box.fill(text)
    box.press("Enter")


def test_type_a_message_and_see_the_streamed_reply(lab):
    open_chat(
        lab,
        "chat-reply.ipynb",
        "import streamwidget as sw\nchat = sw.Chat('replay:demo')\nchat",
    )
    lab.screenshot("empty-chat", lab.page.locator(CHAT))
    box = lab.page.locator(f"{CHAT} .sw-input")
    box.click()
    box.fill("Say hello")
    box.press("Shift+Enter")  # a new line, not a send
    assert lab.page.locator(f"{CHAT} .sw-turn").count() == 0
    assert box.input_value() == "Say hello\n"
    box.fill("Say hello")
    box.press("Enter")
    assert lab.page.locator(f"{CHAT} .sw-turn[data-role=user] .sw-bubble").inner_text() == (
        "Say hello"
    )

    reply = lab.wait_for(f"{REPLY}[data-status=complete]", timeout=60)
    expected = " ".join(words(recorded_text("hello")))
    assert " ".join(words(reply.locator(".sw-text").inner_text())) == expected
    assert lab.page.locator(f"{CHAT} .sw-send").is_visible()
    assert reply.locator(".sw-retry").is_visible()
    assert lab.page.locator(f"{CHAT} .sw-chat-title").inner_text() == "Say hello"
    lab.screenshot("reply-complete", lab.page.locator(CHAT))

    # a second turn, then a new chat, then reopen the first from the list
    ask(lab, "Can you review my code?")
    lab.wait_for(f"{CHAT} .sw-turn[data-role=assistant]:nth-child(4)[data-status=complete]")
    assert "average_latency" in lab.page.locator(CHAT).inner_text()  # code-review recording
    lab.page.locator(f"{CHAT} .sw-new-chat").click()
    lab.wait_for(f"{CHAT} .sw-chat-empty", timeout=10)
    assert lab.page.locator(f"{CHAT} .sw-turn").count() == 0
    lab.page.locator(f"{CHAT} .sw-history-toggle").click()
    earlier = lab.wait_for(f"{CHAT} .sw-conv:has-text('Say hello')", timeout=10)
    lab.screenshot("conversation-list", lab.page.locator(CHAT))
    earlier.click()
    lab.wait_for(f"{REPLY}[data-status=complete]", timeout=10)
    assert lab.page.locator(f"{CHAT} .sw-turn").count() == 4
    assert lab.page_errors == []


def test_stop_mid_stream_keeps_the_partial_text(lab):
    open_chat(
        lab,
        "chat-stop.ipynb",
        "import streamwidget as sw\n"
        "from streamwidget.providers.demo import DemoProvider\n"
        "chat = sw.Chat(DemoProvider(speed=0.25))\nchat",  # ~2 s to the first token
    )
    ask(lab, "Explain how streaming works")
    # Stop is offered at once, while the model has said nothing yet
    lab.wait_for(f"{CHAT} .sw-stop", timeout=1)
    lab.wait_for(f"{REPLY} .sw-typing", timeout=1.5)
    assert lab.page.locator(f"{REPLY} .sw-text").is_hidden()
    lab.wait_for(f"{REPLY}[data-status=streaming]", timeout=30)
    reply = lab.page.locator(REPLY).first
    lab.page.wait_for_function(
        f"() => (document.querySelector('{REPLY} .sw-text')?.innerText || '').length > 80",
        timeout=30_000,
    )
    lab.screenshot("streaming", lab.page.locator(CHAT))
    lab.page.locator(f"{CHAT} .sw-stop").click()
    lab.wait_for(f"{REPLY}[data-status=cancelled]", timeout=15)
    partial = reply.locator(".sw-text").inner_text()
    full = recorded_text("markdown-tour")
    assert 80 < len(partial) < len(full) / 2, "the partial reply stays on screen"
    assert words(partial)[:6] == words(full)[:6]
    assert reply.locator(".sw-notice").inner_text() == "Stopped — partial reply kept"
    assert lab.page.locator(f"{CHAT} .sw-send").is_visible()
    lab.page.wait_for_timeout(700)  # the stopped stream sends nothing more
    assert reply.locator(".sw-text").inner_text() == partial
    lab.screenshot("stopped", lab.page.locator(CHAT))
    assert lab.page_errors == []


def test_approve_a_tool_call_by_clicking(lab):
    open_chat(
        lab,
        "chat-tools.ipynb",
        "import streamwidget as sw\n\n"
        "@sw.tool(requires_approval=True)\n"
        "def get_weather(city: str) -> dict:\n"
        '    """Current weather for a city."""\n'
        "    return {'city': city, 'temperature': 19, 'conditions': 'sunny'}\n\n"
        "chat = sw.Chat('demo:tools', tools=[get_weather])\nchat",
    )
    ask(lab, "What's the weather in Lisbon?")
    card = lab.wait_for(f"{REPLY} .sw-tool[data-status=pending_approval]", timeout=30)
    assert card.locator(".sw-tool-name").inner_text() == "get_weather"
    assert 'city: "Lisbon"' in card.locator(".sw-tool-summary").inner_text()
    lab.screenshot("awaiting-approval", lab.page.locator(CHAT))
    card.locator("button[data-action=approve]").click()
    lab.wait_for(f"{REPLY} .sw-tool[data-status=done]", timeout=30)
    reply = lab.wait_for(f"{REPLY}[data-status=complete]", timeout=30)
    # the answer comes after the card, where the model wrote it (the reply's last text run)
    assert "temperature: 19" in reply.locator(".sw-parts > .sw-text").last.inner_text()
    assert reply.locator(".sw-parts > :last-child").get_attribute("class") == "sw-md sw-text"
    lab.screenshot("tool-approved", lab.page.locator(CHAT))

    # the same chat in the dark theme (switched back so later tests see the default)
    commands = "window.jupyterapp.commands"
    lab.page.evaluate(f"{commands}.execute('apputils:change-theme', {{theme: 'JupyterLab Dark'}})")
    try:
        lab.page.wait_for_function(
            "() => document.body.dataset.jpThemeLight === 'false'", timeout=15_000
        )
        lab.page.wait_for_timeout(500)
        lab.screenshot("tool-approved-dark", lab.page.locator(CHAT))
    finally:
        lab.page.evaluate(
            f"{commands}.execute('apputils:change-theme', {{theme: 'JupyterLab Light'}})"
        )
        lab.page.wait_for_function(
            "() => document.body.dataset.jpThemeLight === 'true'", timeout=15_000
        )
    assert lab.page_errors == []


def test_the_chat_notebook_runs_and_shows_its_chats(lab):
    lab.open("03-chat-and-tools.ipynb")
    lab.run_all(timeout=240)
    chats = lab.page.locator(CHAT)
    assert chats.count() == 4  # the demo chat, the same chat reopened, tools, %%chat
    for index in range(4):
        last = chats.nth(index).locator(".sw-turn[data-role=assistant]").last
        last.wait_for(timeout=30_000)
        assert last.get_attribute("data-status") == "complete"
    # the reopened chat shows what the first one holds, read back from the store
    assert chats.nth(1).locator(".sw-turn").count() == chats.nth(0).locator(".sw-turn").count()
    assert chats.nth(2).locator(".sw-tool[data-status=done]").count() == 1
    assert lab.page_errors == []
    chats.nth(2).scroll_into_view_if_needed()
    lab.screenshot("notebook-tools")
