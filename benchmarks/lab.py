"""A throwaway JupyterLab server and Debian's headless chromium, for the browser benchmark.

The same approach as the browser tests (tests/browser/conftest.py) without pytest: private
config, data, runtime, workspace and settings folders, a random token, a free loopback port,
the store in a temporary file, and ``/usr/bin/chromium`` driven through Playwright (never
Playwright's own browser download). Jupyter Server keeps its default iopub rate limits, as a
user's would.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from common import child_env

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
SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}


#: Page scripts for ``page.evaluate``: record long tasks (``window.__swLong``: start, duration),
#: run the notebook's cell ``index`` and clear its output.
WATCH_LONG_TASKS = """() => {
  if (window.__swLong) return;
  window.__swLong = [];
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) window.__swLong.push([e.startTime, e.duration]);
  }).observe({ type: 'longtask', buffered: true });
}"""
RUN_CELL = """async (index) => {
  const app = window.jupyterapp;
  const nb = app.shell.currentWidget.content;
  nb.activeCellIndex = index;
  await app.commands.execute('notebook:run-cell');
}"""
CLEAR_OUTPUT = """(index) => {
  const nb = window.jupyterapp.shell.currentWidget.content;
  nb.widgets[index].model.outputs.clear();
}"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LabServer:
    """``jupyter lab`` in a temporary folder; ``stop()`` ends it and its kernels."""

    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="swbench-lab-"))
        self.root = self.base / "root"
        dirs = {n: self.base / n for n in ("config", "data", "runtime", "workspaces", "settings")}
        for path in [self.root, *dirs.values()]:
            path.mkdir()
        for name, value in SETTINGS.items():
            target = dirs["settings"] / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(value))
        self.token = secrets.token_hex(16)
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.store = self.base / "store.duckdb"
        env = child_env(
            JUPYTER_CONFIG_DIR=str(dirs["config"]),
            JUPYTER_DATA_DIR=str(dirs["data"]),
            JUPYTER_RUNTIME_DIR=str(dirs["runtime"]),
            JUPYTERLAB_WORKSPACES_DIR=str(dirs["workspaces"]),
            JUPYTERLAB_SETTINGS_DIR=str(dirs["settings"]),
            IPYTHONDIR=str(self.base / "ipython"),
            STREAMWIDGET_STORE=str(self.store),
        )
        self.log_path = self.base / "server.log"
        command = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
            "--ServerApp.allow_root=True",
            "--ServerApp.terminals_enabled=False",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.news_url=None",
            "--LabApp.expose_app_in_browser=True",
            "--ServerApp.shutdown_no_activity_timeout=1800",
        ]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command,
                cwd=self.root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        self._wait_ready(90)

    def api(self, method: str, path: str, body: Any = None, timeout: float = 10) -> Any:
        request = urllib.request.Request(
            self.url + path,
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with self._opener.open(request, timeout=timeout) as response:
            raw = response.read()
        return json.loads(raw) if raw else None

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("jupyter lab exited:\n" + self.log_tail())
            try:
                self.api("GET", "/api/status", timeout=2)
                return
            except (OSError, urllib.error.URLError):
                time.sleep(0.25)
        raise TimeoutError("jupyter lab did not start:\n" + self.log_tail())

    def write_notebook(self, name: str, cells: list[str]) -> str:
        notebook = {
            "nbformat": 4,
            "nbformat_minor": 5,
            "metadata": {
                "kernelspec": {
                    "name": "python3",
                    "display_name": "Python 3 (ipykernel)",
                    "language": "python",
                }
            },
            "cells": [
                {
                    "cell_type": "code",
                    "id": f"c{i}",
                    "metadata": {},
                    "source": source,
                    "execution_count": None,
                    "outputs": [],
                }
                for i, source in enumerate(cells)
            ],
        }
        (self.root / name).write_text(json.dumps(notebook))
        return name

    def shutdown_sessions(self) -> None:
        for session in self.api("GET", "/api/sessions") or []:
            with contextlib.suppress(OSError, urllib.error.URLError):
                self.api("DELETE", f"/api/sessions/{session['id']}", timeout=30)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(OSError, urllib.error.URLError):
                self.shutdown_sessions()
            with contextlib.suppress(OSError, urllib.error.URLError):
                self.api("POST", "/api/shutdown", timeout=5)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)


class Browser:
    """Debian's chromium through Playwright's sync API; one page at a time."""

    def __init__(self) -> None:
        from playwright.sync_api import sync_playwright

        if not CHROMIUM.exists():
            raise RuntimeError(f"{CHROMIUM} is missing (make test installs Debian's chromium)")
        self._playwright = sync_playwright().start()
        self.chromium = self._playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS, timeout=60_000
        )
        self.context = None
        self.page = None
        self.cdp = None

    def new_page(self) -> Any:
        if self.context is not None:
            self.context.close()
        self.context = self.chromium.new_context(viewport={"width": 1280, "height": 900})
        self.context.set_default_timeout(60_000)
        self.page = self.context.new_page()
        self.cdp = self.context.new_cdp_session(self.page)
        self.cdp.send("Performance.enable")
        return self.page

    def metrics(self) -> dict[str, float]:
        """Chromium's renderer counters (TaskDuration: seconds the main thread was busy)."""
        return {m["name"]: m["value"] for m in self.cdp.send("Performance.getMetrics")["metrics"]}

    def close(self) -> None:
        with contextlib.suppress(Exception):
            if self.context is not None:
                self.context.close()
        with contextlib.suppress(Exception):
            self.chromium.close()
        with contextlib.suppress(Exception):
            self._playwright.stop()


def open_notebook(page: Any, server: LabServer, name: str, timeout: float = 120) -> None:
    """Open ``name`` in a fresh workspace and wait until its kernel is idle."""
    query = urllib.parse.urlencode({"token": server.token})
    workspace = f"bench-{uuid.uuid4().hex[:8]}"
    page.goto(
        f"{server.url}/lab/workspaces/{workspace}/tree/{urllib.parse.quote(name)}?reset&{query}",
        wait_until="domcontentloaded",
        timeout=timeout * 1000,
    )
    page.wait_for_function(
        """(name) => {
          const app = window.jupyterapp;
          const panel = app && app.shell.currentWidget;
          if (!panel || !panel.context || panel.context.path !== name) return false;
          const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
          return Boolean(kernel && kernel.status === 'idle' && panel.content.widgets.length);
        }""",
        arg=name,
        timeout=timeout * 1000,
        polling=200,
    )
