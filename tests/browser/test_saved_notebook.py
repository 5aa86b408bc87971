"""A saved notebook with several widgets renders them all after a reload, in JupyterLab and in
Notebook 7, although the front-end bundle is saved once (in the shared Bundle model) and each
widget's ``_esm`` is only the small loader.

The notebook is executed by a real kernel with nbclient (what ``jupyter nbconvert --execute``
does), which saves the widget state in the notebook's metadata. It is then opened in the
browser without running anything: the widget manager restores every model from the saved
state, and each widget's loader finds the Bundle model and imports the code, once per page.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

# the Notebook 7 server and page from test_notebook7 (tests/browser is on sys.path)
from test_notebook7 import notebook7, notebook7_server  # noqa: F401

import streamwidget
from streamwidget import Recording

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

SRC = Path(streamwidget.__file__).resolve().parents[1]
REPLAYS = ["hello", "markdown-tour", "code-review", "weather-tool-error"]
CELLS = [
    "import streamwidget as sw\nfrom IPython.display import display",
    *(
        f"view = sw.replay({name!r}, speed=50)\ndisplay(view)\n_ = await view.handle"
        for name in REPLAYS
    ),
    "chat = sw.Chat()\n_ = await chat.send('Say hello')\nchat",
]

SHOWN = """() => ({
  views: Array.from(document.querySelectorAll('.sw-stream:not(.sw-chat)')).map((v) => ({
    status: v.dataset.status,
    text: Array.from(v.querySelectorAll('.sw-text')).map((t) => t.textContent).join(' ') })),
  chatTurns: Array.from(document.querySelectorAll('.sw-chat .sw-turn')).map((t) => t.textContent),
  bundles: Object.keys(window.__streamwidget__ || {}).length,
  styles: document.querySelectorAll('style').length,
})"""


def executed_notebook(root: Path, name: str, tmp_path: Path) -> dict[str, Any]:
    """Run CELLS in a real kernel (nbclient) and save the notebook, widget state included."""
    import nbformat
    from nbclient import NotebookClient
    from nbformat.sign import NotebookNotary

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    saved = dict(os.environ)
    os.environ["STREAMWIDGET_STORE"] = str(tmp_path / "executed.duckdb")
    os.environ["PYTHONPATH"] = str(SRC) + os.pathsep + saved.get("PYTHONPATH", "")
    try:
        NotebookClient(nb, timeout=120, kernel_name="python3", store_widget_state=True).execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    # trusted, as if the person who ran it saved it: an untrusted notebook shows the
    # markdown fallback instead of the widgets (the server keeps its key in <base>/data)
    NotebookNotary(data_dir=str(root.parent / "data")).sign(nb)
    nbformat.write(nb, root / name)
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    return {model_id: entry["state"] for model_id, entry in state.items()}


def check_saved_state(state: dict[str, Any]) -> None:
    bundles = [s for s in state.values() if "code" in s and "version" in s]
    widgets = [s for s in state.values() if s.get("_sw_view")]
    assert len(bundles) == 1, "the bundle is saved once"
    assert len(widgets) == len(REPLAYS) + 1
    assert all(len(w["_esm"]) < 2000 and not w.get("_css") for w in widgets)


def last_word(name: str) -> str:
    return Recording.bundled(name).document().text.split()[-1].strip("*`.")


def wait_all_rendered(page: Any, timeout_s: float = 60) -> dict[str, Any]:
    """Until every view shows its reply's last word and the chat both its turns."""
    page.wait_for_function(
        f"""(words) => {{
          const s = ({SHOWN})();
          return s.views.length === words.length
            && s.views.every((v, i) => v.text.includes(words[i]))
            && s.chatTurns.length === 2 && s.chatTurns.every((t) => t.trim());
        }}""",
        arg=[last_word(name) for name in REPLAYS],
        timeout=timeout_s * 1000,
        polling=250,
    )
    return page.evaluate(SHOWN)


def check_rendered(shown: dict[str, Any]) -> None:
    statuses = [v["status"] for v in shown["views"]]
    assert statuses == ["complete", "complete", "complete", "error"], statuses
    assert "Say hello" in shown["chatTurns"][0]
    assert shown["bundles"] == 1, "the bundle was imported once for the whole page"


def test_a_saved_notebook_renders_every_widget_in_jupyterlab(lab, tmp_path):
    state = executed_notebook(lab.server.root, "saved-widgets.ipynb", tmp_path)
    check_saved_state(state)
    lab.open("saved-widgets.ipynb")
    shown = wait_all_rendered(lab.page)
    check_rendered(shown)
    lab.screenshot("restored")
    chat = lab.page.locator(".sw-chat").first
    chat.scroll_into_view_if_needed()
    lab.screenshot("restored-chat", chat)
    assert lab.page_errors == []
    console = "\n".join(lab.console)
    assert "front end did not load" not in console


def test_a_saved_notebook_renders_every_widget_in_notebook_7(notebook7, tmp_path):  # noqa: F811
    executed_notebook(notebook7.server.root, "saved-widgets.ipynb", tmp_path)
    notebook7.open("saved-widgets.ipynb")
    shown = wait_all_rendered(notebook7.page)
    check_rendered(shown)
    notebook7.screenshot("restored-notebook7")
    assert "front end did not load" not in "\n".join(notebook7.console)


def test_the_saved_file_is_valid_json_with_one_bundle(tmp_path):
    """No browser: what the file holds (quick to read when the browser tests fail)."""
    (tmp_path / "data").mkdir()
    (tmp_path / "root").mkdir()
    state = executed_notebook(tmp_path / "root", "x.ipynb", tmp_path)
    check_saved_state(state)
    saved = json.loads((tmp_path / "root" / "x.ipynb").read_text())
    outputs = [o for c in saved["cells"] for o in c.get("outputs", [])]
    markdown = [o["data"].get("text/markdown") for o in outputs if "data" in o]
    assert sum(1 for m in markdown if m) >= len(REPLAYS) + 1, "every widget has a fallback"
