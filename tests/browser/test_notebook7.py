"""notebooks/01-quickstart.ipynb in Jupyter Notebook 7 (``jupyter notebook``), headless chromium.

Notebook 7 is built from JupyterLab's components, so the harness's page helpers (kernel-idle
wait, Run menu, the notebook model through ``window.jupyterapp``) work unchanged; only the
server command and the URL of a notebook differ. This file starts its own ``jupyter notebook``
(module scope, private dirs and token, like the harness's ``lab_server``) and reuses the
harness's classes and its ``browser`` fixture.

The expected words are read from the bundled recording, not copied here.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
NOTEBOOK = "01-quickstart.ipynb"
RECORDING = REPO_ROOT / "src" / "streamwidget" / "recordings" / "markdown-tour.jsonl"
# Notebook 7.6's own start-up error (its keyboard-shortcuts plugin reads the schema of a
# settings plugin it does not hold). It is raised while the page loads, before any cell runs,
# and also with the widget extensions disabled, so it is not streamwidget's.
NOTEBOOK7_STARTUP_ERROR = "Cannot read properties of undefined (reading 'schema')"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(180),
    pytest.mark.skipif(
        not (REPO_ROOT / "notebooks" / NOTEBOOK).exists(), reason=f"needs notebooks/{NOTEBOOK}"
    ),
]


def _harness(config: pytest.Config) -> ModuleType:
    """tests/browser/conftest.py as pytest loaded it (one module, one set of classes)."""
    module = config.pluginmanager.get_plugin(str(HERE / "conftest.py"))
    assert module is not None, "tests/browser/conftest.py is not loaded"
    return module


@pytest.fixture(scope="module")
def notebook7_server(
    pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    """A throwaway ``jupyter notebook`` (Notebook 7) whose root is a copy of notebooks/."""
    harness = _harness(pytestconfig)
    if importlib.util.find_spec("notebook") is None:
        harness._unavailable("the Python package 'notebook' (Notebook 7) is missing")
    base = tmp_path_factory.mktemp("notebook7")
    root = base / "root"
    shutil.copytree(
        harness.NOTEBOOKS_DIR, root, ignore=shutil.ignore_patterns(".ipynb_checkpoints")
    )
    dirs = {
        name: base / name
        for name in ("config", "data", "runtime", "workspaces", "settings", "ipython", "store")
    }
    for path in dirs.values():
        path.mkdir()
    for name, settings in harness.LAB_SETTINGS.items():
        target = dirs["settings"] / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(settings))

    token = secrets.token_hex(24)
    port = harness._free_port()
    store = dirs["store"] / "streamwidget.duckdb"
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(dirs["config"]),
        "JUPYTER_DATA_DIR": str(dirs["data"]),
        "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]),
        "JUPYTERLAB_WORKSPACES_DIR": str(dirs["workspaces"]),
        "JUPYTERLAB_SETTINGS_DIR": str(dirs["settings"]),
        "IPYTHONDIR": str(dirs["ipython"]),
        "STREAMWIDGET_STORE": str(store),
        "PYTHONUNBUFFERED": "1",
    }
    command = [
        sys.executable,
        "-m",
        "notebook",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--ServerApp.allow_root=True",
        "--ServerApp.terminals_enabled=False",
        "--JupyterNotebookApp.expose_app_in_browser=True",
        "--MappingKernelManager.cull_idle_timeout=600",
        "--MappingKernelManager.cull_interval=60",
        "--ServerApp.shutdown_no_activity_timeout=1800",
    ]
    log_path = base / "jupyter-server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = harness.LabServer(
        process=process,
        url=f"http://127.0.0.1:{port}",
        token=token,
        root=root,
        store=store,
        log_path=log_path,
    )
    try:
        server.wait_ready(harness.SERVER_START_TIMEOUT_S)
        yield server
    finally:
        server.stop()


@pytest.fixture
def notebook7(request: pytest.FixtureRequest, browser: Any, notebook7_server: Any) -> Iterator[Any]:
    """A page on the Notebook 7 server with the harness's helpers (``open`` goes to /notebooks/)."""
    harness = _harness(request.config)

    class Notebook7Page(harness.Lab):
        def open(self, notebook: str, *, timeout: float = 90) -> None:
            query = urllib.parse.urlencode({"token": self.server.token})
            url = f"{self.server.url}/notebooks/{urllib.parse.quote(notebook)}?{query}"
            self.notebook = notebook
            self.page.goto(url, wait_until="domcontentloaded", timeout=timeout * 1000)
            self._wait_kernel_idle(timeout, accept_dialogs=True)

    context = browser.new_context(viewport=harness.VIEWPORT)
    context.set_default_timeout(harness.DEFAULT_TIMEOUT_MS)
    session = Notebook7Page(context.new_page(), notebook7_server, harness._artifact_dir(request))
    request.node._streamwidget_lab = session  # the harness's failure report uses it
    try:
        yield session
    finally:
        if session.console:
            session.artifacts.mkdir(parents=True, exist_ok=True)
            (session.artifacts / "console.log").write_text(session.console_text() + "\n")
        context.close()
        notebook7_server.shutdown_sessions()


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text)


def _final_words(count: int = 8) -> list[str]:
    """The last words of the recorded reply as a reader sees them (link targets dropped)."""
    lines = RECORDING.read_text().splitlines()[1:]  # line 1 is the header
    markdown = "".join(
        event.get("text", "") for event in map(json.loads, lines) if event["type"] == "text"
    )
    return _words(re.sub(r"\]\([^)]*\)", "]", markdown))[-count:]


def test_quickstart_in_notebook_7(notebook7):
    page = notebook7.page
    notebook7.open(NOTEBOOK)
    # Notebook 7 itself, not JupyterLab: its page template and its application name.
    assert page.locator("body[data-notebook=notebooks]").count() == 1
    assert page.evaluate("() => window.jupyterapp.name") == "Jupyter Notebook"
    startup = [e for e in notebook7.page_errors if NOTEBOOK7_STARTUP_ERROR not in e]
    assert startup == [], "page errors while Notebook 7 opened the notebook"
    notebook7.page_errors.clear()  # from here on, any page error fails the test

    notebook7.run_all(timeout=120)

    stream = notebook7.wait_for(".sw-stream[data-status=complete]", timeout=60)
    text = stream.locator(".sw-text")
    expected_tail = " ".join(_final_words())
    assert expected_tail in " ".join(_words(text.inner_text())), "final words not on screen"
    assert text.locator("pre code").count() >= 1, "fenced code is not a code block"
    assert "```" not in text.inner_text()
    # The second replay ends in a provider error, with its tool card and the text kept.
    weather = notebook7.wait_for(".sw-stream[data-status=error]", timeout=30)
    assert weather.locator(".sw-tool").count() == 1
    # its text before the tool call, then the card, then the text after it (parts in order)
    assert weather.locator(".sw-parts > .sw-text").count() == 2
    assert weather.locator(".sw-parts > .sw-text").last.inner_text().strip()
    assert notebook7.page_errors == []

    # Notebook 7's page: its own header and toolbar, the cell, the start of the reply...
    stream.evaluate("el => el.closest('.jp-Cell').scrollIntoView({block: 'start'})")
    notebook7.screenshot("notebook7-quickstart")
    # ...and the reply's first code block.
    text.locator("pre code").first.evaluate("el => el.scrollIntoView({block: 'center'})")
    notebook7.screenshot("notebook7-code-block")
    notebook7.screenshot("notebook7-weather", weather)
