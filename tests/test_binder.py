"""Binder, built the way repo2docker builds it, then every notebook run with nbval.

mybinder.org cannot be reached from here, so this test repeats repo2docker's steps for a
repository with ``binder/requirements.txt`` and ``binder/postBuild``:

1. the repository's tracked files (``git ls-files``, working-tree contents) are copied to a
   temporary directory; the built front end (``src/streamwidget/static/``, gitignored) is
   not, so the Binder build has to build it itself;
2. a fresh virtual environment is made (``python -m venv``) and
   ``pip install -r binder/requirements.txt`` runs in it, from the repository root;
3. ``binder/postBuild`` is made executable and run from the repository root with the venv's
   ``bin`` first on ``PATH`` (repo2docker: ``chmod +x binder/postBuild && ./binder/postBuild``);
4. ``python -m pytest --nbval-lax notebooks/`` runs with the venv's python in that copy.

Only the files in ``binder/`` decide what is installed: the environment of the steps is built
from an allow-list (``PATH``, ``HOME``, locale, proxy, certificate, pip and npm settings), so
no API key, ``STREAMWIDGET_*`` variable, ``PYTHONPATH`` or Jupyter path from the caller leaks
in. With ``STREAMWIDGET_REQUIRE_LLAMA`` unset, the live-models notebook skips its model cells.

One shortcut: when the checkout has ``js/node_modules`` it is *copied* into the temporary
repository (never linked: ``npm install`` in the copy must not touch the caller's tree), so
``npm install`` has nothing to download. The front end is still built from source by
``pip install .`` (hatch-jupyter-builder runs ``npm install`` and ``npm run build``).
Without ``js/node_modules`` npm fetches the packages (its cache makes that quick).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
IN_CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

# Variables a Binder build may see. Everything else from the caller's environment is dropped.
_KEEP = {"PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TERM", "TMPDIR"}
_KEEP_PREFIXES = ("PIP_", "NPM_CONFIG_", "XDG_")
_KEEP_SUFFIXES = ("_PROXY", "_CA_BUNDLE", "_CA_CERTS")
_KEEP_CERTS = {"SSL_CERT_FILE", "SSL_CERT_DIR", "NODE_EXTRA_CA_CERTS", "PIP_CERT"}

STEP_TIMEOUT_S = {"venv": 120, "requirements": 420, "postBuild": 420, "nbval": 600}


def _tracked_files() -> list[str]:
    if shutil.which("git") is None or not (REPO_ROOT / ".git").exists():
        message = "needs a git checkout (the Binder copy is made from `git ls-files`)"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--cached"],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
    ).stdout.decode()
    return [name for name in listing.split("\0") if name]


def _binder_env(venv: Path, home: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key in _KEEP
        or key in _KEEP_CERTS
        or key.upper().startswith(_KEEP_PREFIXES)
        or key.upper().endswith(_KEEP_SUFFIXES)
    }
    env.update(
        PATH=f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', os.defpath)}",
        VIRTUAL_ENV=str(venv),
        PIP_NO_INPUT="1",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PYTHONUNBUFFERED="1",
        # Private Jupyter/IPython dirs, so no kernelspec or config of the caller is found.
        JUPYTER_CONFIG_DIR=str(home / "jupyter-config"),
        JUPYTER_DATA_DIR=str(home / "jupyter-data"),
        JUPYTER_RUNTIME_DIR=str(home / "jupyter-runtime"),
        IPYTHONDIR=str(home / "ipython"),
        # Where the notebooks' store goes (a Binder user's home; a temp dir here).
        STREAMWIDGET_STORE=str(home / "store.duckdb"),
    )
    return env


def _run(step: str, command: list[str], *, cwd: Path, env: dict[str, str], log: Path) -> str:
    """Run one build step; on failure show its last lines (the whole log is kept in ``log``)."""
    try:
        done = subprocess.run(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=STEP_TIMEOUT_S[step],
            check=False,
        )
        output, code = done.stdout.decode(errors="replace"), done.returncode
    except subprocess.TimeoutExpired as exc:
        output = (exc.stdout or b"").decode(errors="replace")
        code = f"timeout after {STEP_TIMEOUT_S[step]} s"
    with log.open("a") as handle:
        handle.write(f"\n===== {step}: {' '.join(command)}\n{output}")
    if code != 0:
        tail = "\n".join(output.splitlines()[-80:])
        pytest.fail(f"Binder step {step!r} failed ({code}); full log: {log}\n{tail}")
    return output


def _nbval_results(report: Path) -> dict[str, Counter[str]]:
    """JUnit class name (``notebooks.01-quickstart.ipynb``) -> outcome counts of its cells."""
    results: dict[str, Counter[str]] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        outcome = "passed"
        for child in case:
            if child.tag in {"failure", "error", "skipped"}:
                outcome = child.tag
        results.setdefault(case.get("classname", ""), Counter())[outcome] += 1
    return results


def _code_cells(notebook: Path) -> int:
    cells = json.loads(notebook.read_text())["cells"]
    return sum(1 for cell in cells if cell["cell_type"] == "code")


def test_binder_build_runs_every_notebook(tmp_path: Path) -> None:
    repo, venv, home = tmp_path / "repo", tmp_path / "venv", tmp_path / "home"
    home.mkdir()
    log = tmp_path / "binder-build.log"

    for name in _tracked_files():
        source = REPO_ROOT / name
        if not source.is_file():  # tracked but deleted in the working tree
            continue
        target = repo / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    static = repo / "src" / "streamwidget" / "static"
    assert not static.exists(), "the built front end is gitignored and must not be copied"
    if (REPO_ROOT / "js" / "node_modules").is_dir():
        shutil.copytree(
            REPO_ROOT / "js" / "node_modules", repo / "js" / "node_modules", symlinks=True
        )

    notebooks = sorted(p.relative_to(repo).as_posix() for p in (repo / "notebooks").glob("*.ipynb"))
    assert notebooks, "no notebooks/*.ipynb among the tracked files"
    requirements = repo / "binder" / "requirements.txt"
    post_build = repo / "binder" / "postBuild"
    assert requirements.is_file() and post_build.is_file()

    env = _binder_env(venv, home)
    python = str(venv / "bin" / "python")
    _run("venv", [sys.executable, "-m", "venv", str(venv)], cwd=tmp_path, env=env, log=log)
    _run(
        "requirements",
        [python, "-m", "pip", "install", "-r", "binder/requirements.txt"],
        cwd=repo,
        env=env,
        log=log,
    )
    post_build.chmod(post_build.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    _run("postBuild", ["./binder/postBuild"], cwd=repo, env=env, log=log)

    # The package the notebooks import is the one postBuild installed into the venv (not the
    # copy's src/ on a path), and it carries the front end the build produced.
    where = subprocess.run(
        [
            python,
            "-c",
            "import pathlib, streamwidget; print(pathlib.Path(streamwidget.__file__).parent)",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    package = Path(where)
    assert venv in package.parents, f"streamwidget imported from {package}, not from the venv"
    built = sorted(p.name for p in (package / "static").glob("*.js"))
    assert {"bundle.js", "loader.js"} <= set(built), built

    report = tmp_path / "nbval.xml"
    output = _run(
        "nbval",
        [
            python,
            "-m",
            "pytest",
            "--nbval-lax",
            "notebooks/",
            "-p",
            "no:cacheprovider",
            f"--junitxml={report}",
        ],
        cwd=repo,
        env=env,
        log=log,
    )
    # nbval makes one item per code cell; pytest's JUnit class name is the path with dots.
    results = _nbval_results(report)
    for notebook in notebooks:
        counts = results.get(notebook.replace("/", "."), Counter())
        assert counts, f"{notebook} was not collected by nbval\n{output[-3000:]}"
        assert set(counts) == {"passed"}, f"{notebook}: {dict(counts)}\n{output[-3000:]}"
        assert counts["passed"] == _code_cells(repo / notebook), f"{notebook}: {dict(counts)}"
