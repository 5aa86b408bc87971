"""Real-browser harness: a throwaway JupyterLab server driven by Debian's headless chromium.

Fixtures
    lab_server  (session)   ``jupyter lab`` on a free loopback port; its root dir is a temporary
                            copy of ``notebooks/``; private config/data/runtime/workspace/
                            settings dirs, a random token, and ``STREAMWIDGET_STORE`` pointing
                            at a temp file.
    browser     (module)    ``/usr/bin/chromium`` through Playwright's sync API (never Playwright's
                            own browser download).
    lab         (function)  a fresh page plus helpers: :meth:`Lab.open`, :meth:`Lab.run_all`,
                            :meth:`Lab.wait_for`, :meth:`Lab.screenshot`, :meth:`Lab.outputs_text`.

On a failing test the report gets the browser console, a screenshot path and the tail of the
server log (kernel tracebacks land there). Artifacts go to ``test-artifacts/<test-name>/``.

When ``/usr/bin/chromium`` or the ``playwright`` package is missing the browser tests are
skipped, except under ``CI=true``, where they fail instead.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
IN_CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}

SERVER_START_TIMEOUT_S = 90
SERVER_STOP_TIMEOUT_S = 15
DEFAULT_TIMEOUT_MS = 30_000
VIEWPORT = {"width": 1280, "height": 900}

# The notebook in the main area that the user is looking at.
CURRENT_PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"

# Settings a first-time user would dismiss by hand: the news/update prompt would otherwise
# pop a toast over the notebook in every screenshot (and try to reach the network).
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}


# --- collection -----------------------------------------------------------------------------


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test under tests/browser carries the ``browser`` mark (``-m 'not browser'``)."""
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.browser)


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: the browser tests must run, not skip)", pytrace=False)
    pytest.skip(reason)


# --- the Jupyter server ---------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _proc_table() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, start time) for every process we can see (Linux /proc)."""
    table: dict[int, tuple[int, str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ... starttime(22nd field)"; comm may hold spaces and parens.
        fields = stat[stat.rindex(")") + 2 :].split()
        table[int(entry.name)] = (int(fields[1]), fields[19])
    return table


def _descendants(pid: int) -> dict[int, str]:
    """All processes below ``pid`` (kernels run in sessions of their own), with start times."""
    table = _proc_table()
    found: dict[int, str] = {}
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        for child, (ppid, started) in table.items():
            if ppid == parent and child not in found:
                found[child] = started
                frontier.append(child)
    return found


class LabServer:
    """A running ``jupyter lab`` owned by the test session."""

    def __init__(
        self,
        *,
        process: subprocess.Popen[bytes],
        url: str,
        token: str,
        root: Path,
        store: Path,
        log_path: Path,
    ) -> None:
        self.process = process
        self.url = url
        self.token = token
        self.root = root
        self.store = store
        self.log_path = log_path
        # Never send loopback requests through a proxy from the environment.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def api(self, method: str, path: str, body: Any = None, timeout: float = 10) -> Any:
        """Call the server's REST API; returns the decoded JSON body (None when empty)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path,
            data=data,
            method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with self._opener.open(request, timeout=timeout) as response:
            raw = response.read()
        return json.loads(raw) if raw else None

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                raise RuntimeError(
                    f"jupyter lab exited with code {code} before it was ready; log:\n"
                    + self.log_tail()
                )
            try:
                self.api("GET", "/api/status", timeout=2)
                return
            except (OSError, urllib.error.URLError) as exc:  # not listening yet
                last_error = exc
            time.sleep(0.25)
        raise TimeoutError(
            f"jupyter lab did not answer /api/status within {timeout}s "
            f"(last error: {last_error!r}); log:\n{self.log_tail()}"
        )

    def write_notebook(
        self, name: str, cells: list[tuple[str, str]], *, kernel: str | None = "python3"
    ) -> str:
        """Write a notebook into the server's root; ``cells`` are ``("code"|"markdown", source)``.

        ``kernel=None`` leaves out the kernelspec, so JupyterLab asks which kernel to start.
        Returns the notebook's path relative to the root (what :meth:`Lab.open` takes).
        """
        notebook: dict[str, Any] = {
            "nbformat": 4,
            "nbformat_minor": 5,
            "metadata": {},
            "cells": [],
        }
        if kernel is not None:
            notebook["metadata"]["kernelspec"] = {
                "name": kernel,
                "display_name": "Python 3 (ipykernel)",
                "language": "python",
            }
        for index, (kind, source) in enumerate(cells):
            cell: dict[str, Any] = {
                "cell_type": kind,
                "id": f"cell-{index}",
                "metadata": {},
                "source": source,
            }
            if kind == "code":
                cell.update(execution_count=None, outputs=[])
            notebook["cells"].append(cell)
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(notebook, indent=1))
        return name

    def kernel_state(self, notebook: str) -> str | None:
        """The server's view of the notebook's kernel (``idle``, ``busy``, ...), or None."""
        for session in self.api("GET", "/api/sessions") or []:
            if session.get("path") == notebook and session.get("kernel"):
                return session["kernel"].get("execution_state")
        return None

    def shutdown_sessions(self) -> None:
        """Stop every kernel the tests started, so they do not pile up on a 2-core machine."""
        for session in self.api("GET", "/api/sessions") or []:
            with contextlib.suppress(OSError, urllib.error.URLError):
                self.api("DELETE", f"/api/sessions/{session['id']}", timeout=15)

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no server log)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """Shut the server down cleanly (kernels too); kill whatever is left."""
        children = _descendants(self.process.pid)
        if self.process.poll() is None:
            with contextlib.suppress(OSError, urllib.error.URLError):
                self.api("POST", "/api/shutdown", timeout=5)
            try:
                self.process.wait(SERVER_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                for sig in (signal.SIGTERM, signal.SIGKILL):
                    try:
                        os.killpg(self.process.pid, sig)
                    except ProcessLookupError:
                        break
                    try:
                        self.process.wait(5)
                        break
                    except subprocess.TimeoutExpired:
                        continue
        # Kernels live in process groups of their own: end any that outlived the server,
        # checking the start time so a recycled pid is never hit.
        table = _proc_table()
        for pid, started in children.items():
            if pid in table and table[pid][1] == started:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    base = tmp_path_factory.mktemp("jupyterlab")
    root = base / "root"
    if NOTEBOOKS_DIR.is_dir():
        shutil.copytree(NOTEBOOKS_DIR, root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    else:
        root.mkdir()
    dirs = {
        name: base / name
        for name in ("config", "data", "runtime", "workspaces", "settings", "ipython", "store")
    }
    for path in dirs.values():
        path.mkdir()
    for name, settings in LAB_SETTINGS.items():
        target = dirs["settings"] / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(settings))

    token = secrets.token_hex(24)
    port = _free_port()
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
        "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--ServerApp.allow_root=True",
        "--ServerApp.terminals_enabled=False",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.news_url=None",
        "--LabApp.expose_app_in_browser=True",
        # Safety nets should teardown never run (pytest killed): idle kernels go away after
        # 10 minutes, the server itself after 30 minutes without activity.
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
    server = LabServer(
        process=process,
        url=f"http://127.0.0.1:{port}",
        token=token,
        root=root,
        store=store,
        log_path=log_path,
    )
    try:
        server.wait_ready(SERVER_START_TIMEOUT_S)
        yield server
    finally:
        server.stop()


# --- the browser ----------------------------------------------------------------------------


# Module scope, not session: while Playwright's sync API is started it marks its event loop as
# running in the main thread, so any later test calling asyncio.run() would fail. Stopping it
# after each browser module gives the other tests their thread back.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing (make test installs Debian's chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the Python package 'playwright' is missing (pip install -e '.[test]')")
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS, timeout=60_000
        )
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        playwright.stop()


# Arm a watcher that records when the notebook goes busy (a prompt shows [*] or the kernel
# indicator says busy), so "all done" can never be read from the state before the run.
_ARM_RUN_WATCH = """(panelSelector) => {
  const root = document.querySelector(panelSelector);
  if (window.__swRun) window.__swRun.observer.disconnect();
  const run = { sawBusy: false, observer: null };
  const check = () => {
    const indicator = root.querySelector('.jp-Notebook-ExecutionIndicator');
    if (indicator && indicator.dataset.status === 'busy') run.sawBusy = true;
    for (const prompt of root.querySelectorAll('.jp-InputPrompt')) {
      if (prompt.textContent.includes('*')) run.sawBusy = true;
    }
  };
  run.observer = new MutationObserver(check);
  run.observer.observe(root, { subtree: true, childList: true, characterData: true,
                               attributes: true, attributeFilter: ['data-status'] });
  window.__swRun = run;
}"""

_RUN_FINISHED = """(panelSelector) => {
  const root = document.querySelector(panelSelector);
  const run = window.__swRun;
  if (!root || !run || !run.sawBusy) return false;
  const indicator = root.querySelector('.jp-Notebook-ExecutionIndicator');
  if (indicator && indicator.dataset.status !== 'idle') return false;
  for (const prompt of root.querySelectorAll('.jp-InputPrompt')) {
    if (prompt.textContent.includes('*')) return false;
  }
  run.observer.disconnect();
  return true;
}"""

# The notebook's model as JupyterLab holds it (needs --LabApp.expose_app_in_browser): what
# the DOM cannot tell apart, e.g. an error output from text on stderr.
_NOTEBOOK_CELLS = """(path) => {
  const app = window.jupyterapp;
  if (!app) throw new Error('window.jupyterapp missing: start lab with expose_app_in_browser');
  const panel = Array.from(app.shell.widgets('main')).find(
    (widget) => widget.context && widget.context.path === path && widget.content);
  if (!panel) throw new Error(`no notebook open at ${path}`);
  return panel.content.widgets.map((cell) => ({
    cell_type: cell.model.type,
    source: cell.model.sharedModel.getSource(),
    execution_count: cell.model.type === 'code' ? cell.model.executionCount : null,
    outputs: cell.model.type === 'code' ? cell.model.outputs.toJSON() : [],
  }));
}"""


class Lab:
    """One browser page on the test JupyterLab, with the steps a person would take."""

    def __init__(self, page: Any, server: LabServer, artifacts: Path) -> None:
        self.page = page
        self.server = server
        self.artifacts = artifacts
        self.notebook: str | None = None
        self.console: list[str] = []
        self.page_errors: list[str] = []
        page.on("console", self._on_console)
        page.on("pageerror", self._on_page_error)
        page.on("crash", lambda _page: self.console.append("[crash] the page crashed"))

    def _on_console(self, message: Any) -> None:
        location = message.location or {}
        where = location.get("url", "")
        if where:
            where = f" ({where.rsplit('/', 1)[-1]}:{location.get('lineNumber', '?')})"
        self.console.append(f"[{message.type}] {message.text}{where}")

    def _on_page_error(self, error: Any) -> None:
        self.page_errors.append(str(error))
        self.console.append(f"[pageerror] {error}")

    @property
    def panel(self) -> Any:
        """Locator of the notebook panel currently shown."""
        return self.page.locator(CURRENT_PANEL)

    def open(self, notebook: str, *, timeout: float = 90) -> None:
        """Open ``notebook`` (path relative to the server root) in a fresh workspace.

        Accepts the kernel-selection dialog if JupyterLab shows one, and returns once the
        kernel is idle.
        """
        workspace = f"sw-{uuid.uuid4().hex[:12]}"
        query = urllib.parse.urlencode({"token": self.server.token})
        url = (
            f"{self.server.url}/lab/workspaces/{workspace}/tree/"
            f"{urllib.parse.quote(notebook)}?reset&{query}"
        )
        self.notebook = notebook
        self.page.goto(url, wait_until="domcontentloaded", timeout=timeout * 1000)
        self._wait_kernel_idle(timeout, accept_dialogs=True)

    def _wait_kernel_idle(self, timeout: float, *, accept_dialogs: bool = False) -> None:
        deadline = time.monotonic() + timeout
        idle_indicator = self.page.locator(
            f'{CURRENT_PANEL} .jp-Notebook-ExecutionIndicator[data-status="idle"]'
        )
        dialog = self.page.locator(".jp-Dialog")
        while True:
            if accept_dialogs and dialog.count() and dialog.first.is_visible():
                text = dialog.first.inner_text()
                if "kernel" not in text.lower():
                    raise AssertionError(f"unexpected dialog while opening {self.notebook}: {text}")
                dialog.first.locator(".jp-Dialog-button.jp-mod-accept").click()
            elif idle_indicator.count() and idle_indicator.first.is_visible():
                state = self.server.kernel_state(self.notebook) if self.notebook else None
                if state == "idle":
                    return
            if time.monotonic() > deadline:
                state = self.server.kernel_state(self.notebook) if self.notebook else None
                raise AssertionError(
                    f"{self.notebook}: kernel not idle within {timeout}s "
                    f"(server says execution_state={state!r})"
                )
            self.page.wait_for_timeout(250)

    def run_all(self, *, timeout: float = 120, allow_errors: bool = False) -> None:
        """Run > Run All Cells from the menu bar; wait until every cell has run.

        Raises if a cell's output is an error (unless ``allow_errors``) or a cell was left
        unexecuted.
        """
        self.page.evaluate(_ARM_RUN_WATCH, CURRENT_PANEL)
        self.page.locator("#jp-MainMenu .lm-MenuBar-itemLabel").filter(
            has_text=re.compile(r"^\s*Run\s*$")
        ).click()
        # The Run menu's entry is "runmenu:run-all", which runs notebook:run-all-cells.
        self.page.locator(
            '#jp-mainmenu-run .lm-Menu-item[data-command="runmenu:run-all"],'
            '#jp-mainmenu-run .lm-Menu-item[data-command="notebook:run-all-cells"]'
        ).first.click()
        self.page.wait_for_function(
            _RUN_FINISHED, arg=CURRENT_PANEL, timeout=timeout * 1000, polling=250
        )
        if allow_errors:
            return
        cells = self.cells()
        errors = [
            f"cell {index}: {output.get('ename')}: {output.get('evalue')}"
            for index, cell in enumerate(cells)
            for output in cell["outputs"]
            if output.get("output_type") == "error"
        ]
        if errors:
            raise AssertionError(f"{self.notebook}: a cell raised:\n" + "\n".join(errors))
        unexecuted = [
            index
            for index, cell in enumerate(cells)
            if cell["cell_type"] == "code"
            and cell["source"].strip()
            and cell["execution_count"] is None
        ]
        if unexecuted:
            raise AssertionError(f"{self.notebook}: cells {unexecuted} did not run")

    def cells(self) -> list[dict[str, Any]]:
        """The open notebook's cells from JupyterLab's model: type, source, count, outputs."""
        return self.page.evaluate(_NOTEBOOK_CELLS, self.notebook)

    def wait_for(self, selector: str, *, timeout: float = 60, state: str = "visible") -> Any:
        """Wait for the first element matching ``selector`` in the page; return its locator."""
        locator = self.page.locator(selector).first
        locator.wait_for(state=state, timeout=timeout * 1000)
        return locator

    def outputs_text(self) -> str:
        """The text of every cell output in the current notebook."""
        return "\n".join(self.panel.locator(".jp-OutputArea-output").all_inner_texts())

    def screenshot(self, name: str, target: Any = None) -> Path:
        """Save a PNG of the page (or of a locator) to ``test-artifacts/<test>/<name>.png``."""
        self.artifacts.mkdir(parents=True, exist_ok=True)
        path = self.artifacts / f"{name}.png"
        (target if target is not None else self.page).screenshot(path=str(path))
        return path

    def console_text(self) -> str:
        return "\n".join(self.console) or "(no console messages)"


def _artifact_dir(request: pytest.FixtureRequest) -> Path:
    base = Path(
        os.environ.get("STREAMWIDGET_ARTIFACTS", request.config.rootpath / "test-artifacts")
    )
    path = base / re.sub(r"[^\w.-]+", "_", request.node.name)
    shutil.rmtree(path, ignore_errors=True)
    return path


@pytest.fixture
def lab(request: pytest.FixtureRequest, browser: Any, lab_server: LabServer) -> Iterator[Lab]:
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    page = context.new_page()
    session = Lab(page, lab_server, _artifact_dir(request))
    request.node._streamwidget_lab = session
    try:
        yield session
    finally:
        if session.console:
            session.artifacts.mkdir(parents=True, exist_ok=True)
            (session.artifacts / "console.log").write_text(session.console_text() + "\n")
        context.close()
        lab_server.shutdown_sessions()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """On failure, show what the browser saw: console, a screenshot, the server log."""
    report = yield
    session: Lab | None = getattr(item, "_streamwidget_lab", None)
    if session is not None and report.when == "call" and report.failed:
        try:
            shot = f"screenshot: {session.screenshot('failure')}"
        except Exception as exc:  # the page may be gone
            shot = f"screenshot failed: {exc!r}"
        report.sections.append(("browser console", f"{session.console_text()}\n{shot}"))
        report.sections.append(("jupyter server log (tail)", session.server.log_tail()))
    return report
