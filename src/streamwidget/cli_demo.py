"""``streamwidget demo``: JupyterLab on the demo notebooks (as root too)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from .cli_format import CommandError


def demo_folder(explicit: str | None = None) -> Path:
    """The notebooks to open: ``explicit``, a source checkout's ``notebooks/``, else a folder
    ``streamwidget-demo/`` in the current directory with a small notebook written into it."""
    if explicit:
        return Path(explicit)
    checkout = Path(__file__).resolve().parents[2] / "notebooks"
    if any(checkout.glob("*.ipynb")):
        return checkout
    folder = Path.cwd() / "streamwidget-demo"
    folder.mkdir(exist_ok=True)
    notebook = folder / "replay-demo.ipynb"
    if not notebook.exists():
        sources = [
            "import streamwidget as sw\nsw.bundled_recordings()",
            'sw.replay("markdown-tour", speed=8)',
            'sw.Player("weather-tool-error")',
            "sw.stats()",
        ]
        cell: dict[str, Any] = {
            "cell_type": "code",
            "metadata": {},
            "execution_count": None,
            "outputs": [],
        }
        cells = [{**cell, "id": f"c{i}", "source": src} for i, src in enumerate(sources)]
        meta = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}}
        notebook.write_text(json.dumps({**meta, "cells": cells}, indent=1))
    return folder


def cmd_demo(args: argparse.Namespace) -> int:
    folder = demo_folder(args.dir)
    command = [sys.executable, "-m", "jupyterlab", str(folder)]
    if args.port:
        command.append(f"--ServerApp.port={args.port}")
    if args.no_browser:
        command.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # Jupyter refuses root without it
        command.append("--allow-root")
    if args.dry_run:
        print(" ".join(command))
        return 0
    if shutil.which("jupyter-lab") is None and not _has_module("jupyterlab"):
        raise CommandError("JupyterLab is not installed: pip install 'streamwidget[demo]'")
    env = dict(os.environ)
    if args.store:
        env["STREAMWIDGET_STORE"] = args.store
    sys.stdout.flush()
    # JupyterLab takes this process's place, so a signal to it (Ctrl-C, a terminate) reaches
    # the server itself and no server is left running behind a stopped command.
    os.execve(sys.executable, command, env)
    return 0  # not reached


def _has_module(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None
