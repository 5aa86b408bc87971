"""The package's layering contract (pyproject.toml, [tool.importlinter]), checked by
import-linter: one-way layers, the store's core apart from its backends, and the backends
apart from each other. See docs/architecture.md."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import streamwidget

pytest.importorskip("importlinter")

ROOT = Path(__file__).resolve().parents[1]
SRC = Path(streamwidget.__file__).resolve().parents[1]


def test_the_import_layering_contract_holds():
    tool = shutil.which("lint-imports", path=os.path.dirname(sys.executable))
    assert tool is not None, "import-linter is installed but lint-imports is not on its path"
    env = {**os.environ, "PYTHONPATH": str(SRC)}  # this checkout's package, not an installed one
    out = subprocess.run(
        [tool, "--no-cache"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "0 broken" in out.stdout
