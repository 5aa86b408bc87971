"""Where no widget runs, a reply's parts show in order: the saved-notebook markdown and the
command line (``show``, ``replay``), with the reasoning labelled and set apart."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from streamwidget import Recording
from streamwidget.widgets import static

SRC = Path(__file__).resolve().parents[1] / "src"
AGENT = Path(__file__).parent / "data" / "agent-steps.jsonl"

#: What the agent recording shows, in order (each a piece of one line).
ORDER = [
    "Thinking",
    "I should call the tool first.",
    "Let me check the weather in Paris.",
    "get_weather",
    "It is 19 °C and sunny.",
    "print('step two')",
    "get_forecast",
    "The week stays dry",
    "print('final')",
]


def positions(out: str, pieces: list[str]) -> list[int]:
    found = [out.find(piece) for piece in pieces]
    assert -1 not in found, [p for p, at in zip(pieces, found) if at < 0]
    return found


def test_static_markdown_shows_the_parts_in_order_with_thinking_quoted():
    doc = Recording.load(AGENT).document()
    md = static.markdown(doc)
    at = positions(md, ORDER)
    assert at == sorted(at)
    assert "> 💭 **Thinking** · 0.6 s" in md
    assert "> The user wants the weather." in md  # set apart as a quote
    assert "- 🔧 `get_forecast(" in md


def test_static_markdown_shows_notices_where_they_happened():
    events = [
        {"t": 0.0, "type": "text", "text": "before"},
        {"t": 0.1, "type": "unknown", "message": "an event <b>nobody</b> parsed"},
        {"t": 0.2, "type": "text", "text": "after"},
    ]
    from streamwidget import Document

    md = static.markdown(Document.from_events(events))
    assert md.index("before") < md.index("> ⚠️ an event &lt;b&gt;nobody") < md.index("after")


@pytest.fixture
def run(tmp_path):
    env = {
        **os.environ,
        "STREAMWIDGET_STORE": str(tmp_path / "store.duckdb"),
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
        "NO_COLOR": "1",
    }

    def run(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "streamwidget", *args],
            env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr + done.stdout
        return done.stdout

    return run


def test_cli_replay_and_show_print_the_parts_in_order(run):
    replayed = run("replay", str(AGENT), "--speed", "0")
    at = positions(replayed, ["[thinking]", *ORDER[1:]])
    assert at == sorted(at)
    thinking = replayed[replayed.index("[thinking]") : replayed.index("[/thinking]")]
    assert "  The user wants the weather." in thinking  # indented, apart from the answer
    assert "Let me check" not in thinking

    run("import", str(AGENT))
    shown = run("show", "s_")  # the only stream
    reply = shown[shown.index("--- reply ---") :]
    at = positions(reply, ["[thinking, ", *ORDER[1:]])
    assert at == sorted(at)
    assert "[tool get_forecast (call_2): done, " in reply


def test_nbconvert_html_carries_the_parts_in_order(tmp_path):
    import json
    import re

    import nbformat

    shutil.copy(AGENT, tmp_path / "agent-steps.jsonl")
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "import streamwidget as sw\nview = sw.replay('agent-steps.jsonl', speed=20)\nview"
        ),
        nbformat.v4.new_code_cell("await view.handle"),
    ]
    nbformat.write(nb, tmp_path / "parts.ipynb")
    env = {
        **os.environ,
        "STREAMWIDGET_STORE": str(tmp_path / "s.duckdb"),
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    out = subprocess.run(
        [sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", "--execute",
         "parts.ipynb"],
        capture_output=True, text=True, env=env, timeout=180, cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    html = (tmp_path / "parts.html").read_text()
    # An export shows the widget from its saved state (nbconvert renders no fallback beside a
    # widget view): the state carries the parts, which the front end draws in order.
    saved = re.search(r'widget-state\+json">\s*(.*?)</script>', html, re.S)
    assert saved is not None
    views = [m["state"] for m in json.loads(saved.group(1))["state"].values()]
    view = next(v for v in views if v.get("parts"))
    assert [p["kind"] for p in view["parts"]] == [
        "reasoning", "text", "tool", "step", "text", "tool", "step", "text",
    ]  # fmt: skip
    runs = [view["text"][p["start"] : p["end"]] for p in view["parts"] if p["kind"] == "text"]
    assert runs[0].startswith("Let me check") and runs[2].startswith("The week stays dry")
    assert [p.get("id") for p in view["parts"] if p["kind"] == "tool"] == ["call_1", "call_2"]
