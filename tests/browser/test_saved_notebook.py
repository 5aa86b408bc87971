"""A saved notebook with several widgets renders them all after a reload, in JupyterLab and in
Notebook 7, although the front-end bundle is saved once (in the shared Bundle model) and each
widget's ``_esm`` is only the small loader.

The notebook is executed by a real kernel with nbclient (what ``jupyter nbconvert --execute``
does), which saves the widget state in the notebook's metadata. It is then opened in the
browser without running anything: the widget manager restores every model from the saved
state, and each widget's loader finds the Bundle model and imports the code, once per page.

Players keep no text in their traits: what the reopened page shows of them is the snapshot of
the text at the cursor that the kernel saved after each cell (no front end ran), bounded however
long the recording (a 20,000-event one here, its cursor moved in a later cell).
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

# the Notebook 7 server and page from test_notebook7 (tests/browser is on sys.path)
from test_notebook7 import notebook7, notebook7_server  # noqa: F401

import streamwidget
from long_recording import write_long_recording
from streamwidget import Recording
from streamwidget.widgets import base

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

SRC = Path(streamwidget.__file__).resolve().parents[1]
REPLAYS = ["hello", "markdown-tour", "code-review", "weather-tool-error"]
LONG_EVENTS = 20_000
#: the long Player's cursor after the last cell
LONG_AT = 15_000
CELLS = [
    "import streamwidget as sw\nfrom IPython.display import display",
    *(
        f"view = sw.replay({name!r}, speed=50)\ndisplay(view)\n_ = await view.handle"
        for name in REPLAYS
    ),
    "chat = sw.Chat()\n_ = await chat.send('Say hello')\nchat",
    "sw.Player('code-review')",
    "long = sw.Player(LONG_PATH, position=100)\nlong",
    f"_ = long.seek({LONG_AT})",
]

SHOWN = """() => {
  const runs = (el) => Array.from(el.querySelectorAll('.sw-text')).map((t) => t.textContent);
  const note = (p) => p.querySelector('.sw-player-unsaved');
  return {
    views: Array.from(document.querySelectorAll('.sw-stream:not(.sw-chat):not(.sw-player)')).map(
      (v) => ({ status: v.dataset.status, text: runs(v).join(' ') })),
    players: Array.from(document.querySelectorAll('.sw-player')).map((p) => ({
      status: p.dataset.status, position: p.dataset.position, from: p.dataset.drawnFrom,
      unsaved: note(p).hidden ? '' : note(p).textContent, text: runs(p).join(' ') })),
    chatTurns: Array.from(document.querySelectorAll('.sw-chat .sw-turn')).map((t) => t.textContent),
    bundles: Object.keys(window.__streamwidget__ || {}).length,
    styles: document.querySelectorAll('style').length,
  };
}"""


def executed_notebook(root: Path, name: str, tmp_path: Path) -> dict[str, Any]:
    """Run CELLS in a real kernel (nbclient) and save the notebook, widget state included."""
    import nbformat
    from nbclient import NotebookClient
    from nbformat.sign import NotebookNotary

    long_path = write_long_recording(tmp_path / "long.jsonl", LONG_EVENTS, seed=7)
    nb = nbformat.v4.new_notebook()
    cells = [source.replace("LONG_PATH", repr(str(long_path))) for source in CELLS]
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
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
    bundles = [s for s in state.values() if s.get("version") and "_sw_view" not in s]
    widgets = [s for s in state.values() if s.get("_sw_view")]
    assert len(bundles) == 1, "the bundle is saved once"
    assert len(widgets) == len(REPLAYS) + 3
    assert all(len(w["_esm"]) < 2000 and not w.get("_css") for w in widgets)
    players = [w for w in widgets if w["_sw_view"] == "player"]
    assert [p["snapshot"]["position"] for p in players] == [p["position"] for p in players]
    assert players[1]["position"] == LONG_AT
    # the long Player saves ~5 kB of the ~75 kB of text at its cursor (its other traits, tool
    # calls and timeline, are ~20 kB whatever the text)
    assert len(json.dumps(players[1]["snapshot"])) < 6_000, len(json.dumps(players[1]))
    assert len(json.dumps(players[1])) < 30_000, len(json.dumps(players[1]))


def last_word(name: str) -> str:
    return Recording.bundled(name).document().text.split()[-1].strip("*`.")


def long_tail(tmp_path: Path) -> str:
    """The last six words of the long Player's text at its saved cursor."""
    from streamwidget.widgets.player import Player

    player = Player(str(tmp_path / "long.jsonl"), position=LONG_AT)
    return " ".join(player.document.text.split()[-6:])


def wait_all_rendered(page: Any, long_word: str, timeout_s: float = 60) -> dict[str, Any]:
    """Until every view shows its reply's last word, the chat both its turns, and each Player
    the last word of the text at its cursor."""
    page.wait_for_function(
        f"""([words, players]) => {{
          const s = ({SHOWN})();
          return s.views.length === words.length
            && s.views.every((v, i) => v.text.includes(words[i]))
            && s.chatTurns.length === 2 && s.chatTurns.every((t) => t.trim())
            && s.players.length === players.length
            && s.players.every((p, i) => p.text.includes(players[i]));
        }}""",
        arg=[[last_word(name) for name in REPLAYS], [last_word("code-review"), long_word]],
        timeout=timeout_s * 1000,
        polling=250,
    )
    return page.evaluate(SHOWN)


def check_rendered(shown: dict[str, Any]) -> None:
    statuses = [v["status"] for v in shown["views"]]
    assert statuses == ["complete", "complete", "complete", "error"], statuses
    assert "Say hello" in shown["chatTurns"][0]
    assert shown["bundles"] == 1, "the bundle was imported once for the whole page"
    short, long = shown["players"]
    assert (short["status"], short["from"], short["unsaved"]) == ("complete", "snapshot", "")
    assert (long["status"], long["position"], long["from"]) == (
        "streaming",
        str(LONG_AT),
        "snapshot",
    )
    assert "earlier characters were not saved with the notebook" in long["unsaved"], long
    assert 2000 < len(long["text"]) < 5000, len(long["text"])


def test_a_saved_notebook_renders_every_widget_in_jupyterlab(lab, tmp_path):
    state = executed_notebook(lab.server.root, "saved-widgets.ipynb", tmp_path)
    check_saved_state(state)
    lab.open("saved-widgets.ipynb")
    shown = wait_all_rendered(lab.page, long_tail(tmp_path))
    check_rendered(shown)
    lab.screenshot("restored")
    players = lab.page.locator(".sw-player")
    for i, name in enumerate(["restored-player", "restored-long-player"]):
        players.nth(i).scroll_into_view_if_needed()
        lab.screenshot(name, players.nth(i))
    # the top of the long Player's text: the note that the earlier text was not saved
    players.nth(1).locator(".sw-player-scroll").evaluate("(el) => { el.scrollTop = 0; }")
    lab.screenshot("restored-long-player-top", players.nth(1))
    chat = lab.page.locator(".sw-chat").first
    chat.scroll_into_view_if_needed()
    lab.screenshot("restored-chat", chat)
    assert lab.page_errors == []
    assert lab.page.get_by_text("streamwidget did not load").count() == 0


def test_a_saved_notebook_renders_every_widget_in_notebook_7(notebook7, tmp_path):  # noqa: F811
    executed_notebook(notebook7.server.root, "saved-widgets.ipynb", tmp_path)
    notebook7.open("saved-widgets.ipynb")
    shown = wait_all_rendered(notebook7.page, long_tail(tmp_path))
    check_rendered(shown)
    notebook7.screenshot("restored-notebook7")
    long = notebook7.page.locator(".sw-player").nth(1)
    long.scroll_into_view_if_needed()
    notebook7.screenshot("restored-notebook7-long-player", long)
    assert notebook7.page.get_by_text("streamwidget did not load").count() == 0


def test_the_saved_file_is_valid_json_with_one_bundle(tmp_path):
    """No browser: what the file holds (quick to read when the browser tests fail)."""
    (tmp_path / "data").mkdir()
    (tmp_path / "root").mkdir()
    state = executed_notebook(tmp_path / "root", "x.ipynb", tmp_path)
    check_saved_state(state)
    path = tmp_path / "root" / "x.ipynb"
    saved = json.loads(path.read_text())
    # the bundle's code and CSS: gzip-compressed, base64 in the file, once
    entries = saved["metadata"]["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    [bundle] = [e["state"] for e in entries.values() if e["state"].get("version")]
    code, css, _ = base._bundle_files()
    assert gzip.decompress(base64.b64decode(bundle["code"])) == code.encode()
    assert gzip.decompress(base64.b64decode(bundle["css"])) == css.encode()
    outputs = [o for c in saved["cells"] for o in c.get("outputs", [])]
    markdown = [o["data"].get("text/markdown") for o in outputs if "data" in o]
    assert sum(1 for m in markdown if m) >= len(REPLAYS) + 3, "every widget has a fallback"
    # the long Player's fallback is the document at its last cursor, bounded
    long = "".join(saved["cells"][-2]["outputs"][0]["data"]["text/markdown"])
    assert long_tail(tmp_path) in long and "earlier characters are not shown here" in long
    assert len(long) < 25_000, len(long)
    # nbconvert shows each Player's document at its cursor
    import nbformat
    from nbconvert import MarkdownExporter

    converted, _ = MarkdownExporter().from_notebook_node(nbformat.read(path, as_version=4))
    assert last_word("code-review") in converted and long_tail(tmp_path) in converted
    players = [s for s in state.values() if s.get("_sw_view") == "player"]
    print(
        f"saved notebook: {path.stat().st_size:,} bytes; the long Player's saved state: "
        f"{len(json.dumps(players[1])):,} bytes, its markdown fallback: {len(long):,}"
    )


WIDGETS_PLUGIN = "/lab/api/settings/@jupyter-widgets/jupyterlab-manager:plugin"


def saved_player(path: Path) -> dict[str, Any] | None:
    """The Player model's state in a notebook JupyterLab saved (None while there is none)."""
    nb = json.loads(path.read_text())
    widgets = nb.get("metadata", {}).get("widgets", {})
    state = widgets.get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    found = [e["state"] for e in state.values() if e["state"].get("_sw_view") == "player"]
    return found[0] if found else None


def test_a_player_saved_by_jupyterlab_keeps_the_text_its_front_end_drew(lab, tmp_path):
    """Run in JupyterLab, the cursor moved in the page, saved with widget state: the snapshot
    is the one the front end kept on the model (the kernel sends none once a front end
    spoke), and the reopened notebook shows it with no kernel that knows the Player.

    (The kernel cannot tell a page from nbclient before the page's first request: after the
    cell that made the first Player it sends one snapshot of ~4 kB, which the page's own
    replaces.)"""
    from streamwidget.widgets.player import Player

    lab.server.api("PUT", WIDGETS_PLUGIN, {"raw": '{"saveState": true}'})
    try:
        notebook = lab.server.write_notebook(
            "player-saved-by-lab.ipynb",
            [("code", "import streamwidget as sw\nsw.Player('markdown-tour', position=40)")],
        )
        lab.open(notebook)
        lab.run_all()
        lab.wait_for('.sw-player[data-position="40"][data-drawn-from="kernel"]')
        for _ in range(3):
            lab.page.locator(".sw-player .sw-step-forward").click()
        lab.wait_for('.sw-player[data-position="43"]')
        lab.page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
        path = lab.server.root / notebook
        deadline = time.monotonic() + 30
        while (saved := saved_player(path)) is None and time.monotonic() < deadline:
            time.sleep(0.25)
    finally:
        lab.server.api("PUT", WIDGETS_PLUGIN, {"raw": "{}"})
    assert saved is not None, "JupyterLab saved the widget state"
    expected = Player("markdown-tour", position=43).document.text
    assert saved["position"] == 43 and saved["snapshot"]["position"] == 43
    assert saved["snapshot"]["text"] == {"start": 0, "text": expected}

    lab.server.shutdown_sessions()
    lab.open(notebook)  # a new kernel, which knows no Player
    player = lab.wait_for('.sw-player[data-drawn-from="snapshot"][data-position="43"]')
    shown = " ".join(player.locator(".sw-text").all_inner_texts())
    assert " ".join(expected.split()[-4:]) in shown, (expected[-80:], shown[-200:])
    lab.screenshot("reopened-saved-by-lab", player)
