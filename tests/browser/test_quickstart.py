"""notebooks/01-quickstart.ipynb in a real JupyterLab: the replayed reply ends complete on screen.

Depends on the notebook (a temp copy is the server's root) and on the bundled recording
``markdown-tour``; the expected words are read from that recording, not copied here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
NOTEBOOK = "01-quickstart.ipynb"
RECORDING = REPO_ROOT / "src" / "streamwidget" / "recordings" / "markdown-tour.jsonl"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(240),
    pytest.mark.skipif(
        not (NOTEBOOKS_DIR / NOTEBOOK).exists(), reason=f"needs notebooks/{NOTEBOOK}"
    ),
]


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text)


def _final_words(recording: str, count: int = 8) -> list[str]:
    """The last words of the recorded reply as a reader sees them (link targets dropped)."""
    lines = recording.splitlines()[1:]  # line 1 is the header
    markdown = "".join(
        event.get("text", "") for event in map(json.loads, lines) if event["type"] == "text"
    )
    visible = re.sub(r"\]\([^)]*\)", "]", markdown)
    return _words(visible)[-count:]


def test_quickstart_replay_renders_complete_markdown(lab):
    expected_tail = " ".join(_final_words(RECORDING.read_text()))

    lab.open(NOTEBOOK)
    lab.run_all(timeout=150)

    stream = lab.wait_for(".sw-stream[data-status=complete]", timeout=60)
    text = stream.locator(".sw-text")
    rendered = " ".join(_words(text.inner_text()))
    assert expected_tail in rendered, f"final words {expected_tail!r} not on screen"
    # Fenced code from the reply is rendered as a code block, not as literal backticks.
    assert text.locator("pre code").count() >= 1
    assert "```" not in text.inner_text()
    assert lab.page_errors == []

    # The reply is taller than the window: one picture of its start, one of its end.
    stream.evaluate("el => el.scrollIntoView({block: 'start'})")
    lab.screenshot("stream-start")
    stream.evaluate("el => el.scrollIntoView({block: 'end'})")
    lab.screenshot("stream-end")
