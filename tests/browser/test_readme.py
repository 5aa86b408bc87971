"""The README's notebook example, as written, in a real JupyterLab (each block a cell).

tests/test_docs.py runs the same blocks without a front end; this shows them on screen: the
replay ends complete in its view, the document's tuple prints, the chat renders, the SQL
relation prints, and no cell raises.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("docblocks", REPO_ROOT / "tests" / "docblocks.py")
docblocks = sys.modules.setdefault("docblocks", importlib.util.module_from_spec(_spec))  # type: ignore[arg-type]
if not hasattr(docblocks, "parse_blocks"):
    _spec.loader.exec_module(docblocks)  # type: ignore[union-attr]

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]


def readme_cells() -> list[str]:
    """The README's notebook blocks: not the script, nor those needing a key or server."""
    blocks = docblocks.parse_blocks(REPO_ROOT / "README.md")
    return [b.code for b in blocks if not (b.script or b.skip or b.requires)]


def test_the_readme_example_runs_as_written_in_jupyterlab(lab, lab_server):
    cells = readme_cells()
    assert len(cells) >= 3 and "await view.handle" in "".join(cells)
    lab.open(lab_server.write_notebook("readme.ipynb", [("code", c) for c in cells]))
    lab.run_all(timeout=150)

    lab.wait_for(".sw-stream:not(.sw-chat)[data-status=complete]", timeout=60)
    lab.wait_for(".sw-chat", timeout=30)
    outputs = [  # from the notebook's model: off-screen cells may not be rendered
        "".join(o.get("data", {}).get("text/plain", ""))
        for cell in lab.cells()
        for o in cell["outputs"]
    ]
    assert any(re.match(r"\('complete', \d+, \{", text) for text in outputs), outputs
    assert any('length("content")' in text and "complete" in text for text in outputs), outputs
    assert outputs[0].startswith("streamwidget · replay · gpt-4o-mini · complete"), outputs
    assert any(text.startswith("Chat(") and "replay:demo" in text for text in outputs), outputs
    assert lab.page_errors == []
    lab.screenshot("readme-start")
    chat = lab.wait_for(".sw-chat", timeout=30)
    chat.evaluate("el => el.scrollIntoView({block: 'center'})")
    lab.page.wait_for_timeout(500)  # the notebook renders cells as they scroll into view
    lab.screenshot("readme-chat")
