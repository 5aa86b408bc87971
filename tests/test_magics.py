"""The ``%%chat`` magic in a real IPython shell: ``-o NAME`` stores the reply's document."""

from __future__ import annotations

import time
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell

from streamwidget import Document, Recording, magics


@pytest.fixture
def shell(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(magics, "_chat", None)
    ip = InteractiveShell.instance()
    ip.run_cell("%load_ext streamwidget", store_history=False)
    yield ip
    chat = magics.current_chat()
    if chat is not None and chat.handle is not None:
        chat.handle.wait(30)
    for name in ("reply", "second"):
        ip.user_ns.pop(name, None)


def wait_for(namespace: dict[str, Any], name: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while name not in namespace and time.monotonic() < deadline:
        time.sleep(0.02)
    return namespace[name]


def test_chat_o_puts_the_reply_document_in_a_variable(shell):
    shell.user_ns["reply"] = "before"
    result = shell.run_cell("%%chat -o reply replay:hello\nSay hello", store_history=False)
    assert result.success, result.error_in_exec
    assert shell.user_ns["reply"] == "before"  # the reply is still streaming: not yet
    deadline = time.monotonic() + 30
    while shell.user_ns["reply"] == "before" and time.monotonic() < deadline:
        time.sleep(0.02)
    reply = shell.user_ns["reply"]
    assert isinstance(reply, Document) and reply.status == "complete"
    assert reply.text == Recording.bundled("hello").document().text
    chat = magics.current_chat()
    assert reply.stream_id == chat.handle.id
    assert chat.store.get(reply.stream_id).text == reply.text

    # The same chat goes on; --output= works too, and the variable is the new reply's.
    result = shell.run_cell("%%chat --output=second\nAnd again", store_history=False)
    assert result.success, result.error_in_exec
    second = wait_for(shell.user_ns, "second")
    assert magics.current_chat() is chat and second.stream_id != reply.stream_id
    assert second.status == "complete" and second.text


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("%%chat -o 2x\nhi", "-o needs a variable name, not '2x'"),
        ("%%chat -o\nhi", "-o needs a variable name, not ''"),
        ("%%chat -o reply\n \n", "-o reply needs a message in the cell body"),
        ("%%chat -x\nhi", "unknown option '-x'"),
        ("%%chat a b\nhi", "one model at most"),
    ],
)
def test_bad_magic_lines_are_usage_errors(shell, capsys, cell, message):
    result = shell.run_cell(cell, store_history=False)
    assert not result.success
    assert message in str(result.error_before_exec or result.error_in_exec)
    assert "reply" not in shell.user_ns
