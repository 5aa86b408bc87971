"""The built wheel installs and runs as the README says, in fresh virtual environments.

The front end is built with npm first (the wheel must carry static/*.js); the wheel is then
installed into a new venv (no system site-packages) of every Python this machine has that
``requires-python`` claims, with no Node.js on PATH, and the README's script quickstart runs
there. A wheel of the same tree (same file contents) is reused from ``build/wheel-cache/``;
pip's own cache keeps the dependency installs fast.
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from docblocks import parse_blocks

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "build" / "wheel-cache"
SUPPORTED = ["3.11", "3.12", "3.13"]  # the classifiers in pyproject.toml
FRONT_END = ["bundle.js", "bundle.css", "loader.js"]


TOOL_CHECK = """
import datetime, typing
import streamwidget as sw

class Place(typing.TypedDict):
    city: str

@sw.tool
def plan(place: Place, day: datetime.date) -> str:
    "Plan a day."
    return "ok"

print(plan.parameters["properties"]["day"]["format"])
try:
    plan.validate({"place": {}, "day": "2026-12-08"})
except ValueError as error:
    assert "missing required field(s) city" in str(error), error
print(plan(**plan.validate({"place": {"city": "Paris"}, "day": "2026-12-08"})))
"""


def _tree_digest() -> str:
    """A hash of everything that goes into the wheel (after the front end was built)."""
    digest = hashlib.sha256()
    files = [ROOT / "pyproject.toml", ROOT / "README.md"]
    files += sorted(p for p in (ROOT / "src").rglob("*") if p.is_file() and _packaged(p))
    for path in files:
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _packaged(path: Path) -> bool:
    return "__pycache__" not in path.parts and path.suffix not in (".pyc", ".duckdb")


@pytest.fixture(scope="module")
def wheel() -> Path:
    """The wheel of the current tree, built once per tree."""
    if shutil.which("npm") is None:
        pytest.skip("npm is needed to build the front end")
    subprocess.run(["npm", "run", "build"], cwd=ROOT / "js", check=True, capture_output=True)
    folder = CACHE / _tree_digest()
    found = sorted(folder.glob("streamwidget-*.whl"))
    if not found:
        tmp = folder.with_suffix(".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp), str(ROOT)],
            check=True,
        )
        shutil.rmtree(folder, ignore_errors=True)
        tmp.rename(folder)
        found = sorted(folder.glob("streamwidget-*.whl"))
    return found[0]


def _python(version: str) -> str | None:
    """An interpreter of this version on this machine (PATH or pyenv), or None."""
    home = Path.home() / ".pyenv" / "versions"
    candidates = [shutil.which(f"python{version}") or ""]
    candidates += sorted(glob.glob(f"{home}/{version}.*/bin/python{version}"), reverse=True)
    for exe in filter(None, candidates):
        run = subprocess.run([exe, "--version"], capture_output=True, text=True)
        if run.returncode == 0 and run.stdout.startswith(f"Python {version}."):
            return exe
    return None


def _fresh_venv(python: str, where: Path) -> tuple[Path, dict[str, str]]:
    """A new venv without system site-packages, and an environment whose PATH has no node."""
    subprocess.run([python, "-m", "venv", str(where)], check=True)
    config = (where / "pyvenv.cfg").read_text()
    assert "include-system-site-packages = false" in config
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(PATH=str(where / "bin"), VIRTUAL_ENV=str(where), PIP_DISABLE_PIP_VERSION_CHECK="1")
    assert shutil.which("node", path=env["PATH"]) is None
    return where / "bin" / "python", env


def test_the_wheel_carries_the_front_end_and_true_metadata(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        meta = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert {f"streamwidget/static/{name}" for name in FRONT_END} <= names
    assert "streamwidget/recordings/hello.jsonl" in names
    assert "Requires-Python: >=3.11" in meta
    assert "Requires-Dist: httpx<1,>=0.27" in meta
    for version in SUPPORTED:
        assert f"Classifier: Programming Language :: Python :: {version}" in meta


@pytest.mark.parametrize("version", SUPPORTED)
def test_the_wheel_installs_and_runs_the_readme_quickstart(
    version: str, wheel: Path, tmp_path: Path
) -> None:
    python = _python(version)
    if python is None:
        pytest.skip(f"no Python {version} on this machine")
    venv_python, env = _fresh_venv(python, tmp_path / "venv")
    install = subprocess.run(
        [venv_python, "-m", "pip", "install", "-q", str(wheel)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    script = next(b for b in parse_blocks(ROOT / "README.md") if b.script)
    env["STREAMWIDGET_STORE"] = str(tmp_path / "store.duckdb")
    run = subprocess.run(
        [venv_python, "-c", script.code],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    from streamwidget.recording import Recording

    expected = Recording.bundled("hello").document().text
    assert expected and run.stdout == f"complete\n{expected}\n"
    # Tools from real types: pydantic came with the wheel, typing.TypedDict works on 3.11.
    tools = subprocess.run([venv_python, "-c", TOOL_CHECK], env=env, capture_output=True, text=True)
    assert tools.returncode == 0 and tools.stdout.split() == ["date", "ok"], tools.stderr
    # The installed package is the wheel's, with its front end, not the checkout's.
    where = subprocess.run(
        [
            venv_python,
            "-c",
            "import streamwidget, pathlib; print(pathlib.Path(streamwidget.__file__).parent)",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert where.startswith(str(tmp_path)) and (Path(where) / "static/bundle.js").is_file()


def test_pip_refuses_the_wheel_on_python_3_10(wheel: Path, tmp_path: Path) -> None:
    """requires-python is honest: where DuckDB 2.x cannot install, neither can we."""
    python = _python("3.10")
    if python is None:
        pytest.skip("no Python 3.10 on this machine")
    venv_python, env = _fresh_venv(python, tmp_path / "venv")
    run = subprocess.run(
        [venv_python, "-m", "pip", "install", "--no-deps", str(wheel)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode != 0
    assert "requires a different Python" in run.stderr + run.stdout
