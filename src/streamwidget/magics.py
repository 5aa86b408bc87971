"""The ``%%chat`` cell magic: talk to a model from a cell.

::

    %load_ext streamwidget

    %%chat
    What is streaming, in one paragraph?

The first ``%%chat`` creates one :class:`~streamwidget.Chat` for the kernel (the keyless demo
model unless a model is named) and shows it under that cell; later ``%%chat`` cells send to
the same chat, so the conversation goes on there. Options on the magic line:

``%%chat MODEL``          answer with MODEL from now on (e.g. ``openai:gpt-4o-mini``)
``%%chat --new [MODEL]``  start a new chat, shown under this cell
``%%chat -o NAME``        when the reply ends, put its :class:`~streamwidget.Document` in the
                          variable NAME (``--output NAME`` too; combines with the others)

The chat of the kernel is :func:`current_chat` (e.g. ``await current_chat().handle``).
"""

from __future__ import annotations

import copy
import shlex
import threading
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from .document import Document
    from .manager import StreamHandle
    from .widgets.chat import Chat

_chat: Chat | None = None
USAGE = "usage: %%chat [--new] [-o NAME] [MODEL], then the message in the cell body"


def current_chat() -> Chat | None:
    """The chat that ``%%chat`` cells send to (``None`` before the first one)."""
    return _chat


def chat(line: str, cell: str) -> None:
    """Send the cell body to the kernel's chat (created and shown on first use)."""
    from IPython.core.error import UsageError
    from IPython.display import display

    from .widgets.chat import Chat

    global _chat
    try:
        new, output, model = _parse(line)
    except ValueError as exc:
        raise UsageError(f"%%chat: {exc}; {USAGE}") from None
    if output and not cell.strip():
        raise UsageError(f"%%chat: -o {output} needs a message in the cell body")
    if _chat is None or new or _chat.comm is None:  # none yet, asked for, or closed
        _chat = Chat(model or "replay:demo")
        display(_chat)  # type: ignore[no-untyped-call]
    elif model:
        _chat.model = model
    if cell.strip():
        handle = _chat.send(cell)
        if output:
            _store_when_done(handle, output, _namespace())


def _parse(line: str) -> tuple[bool, str | None, str | None]:
    """``--new``, the ``-o`` variable name and the model from the magic's line."""
    new, output, models = False, None, []
    words = iter(shlex.split(line))
    for word in words:
        if word == "--new":
            new = True
        elif word in ("-o", "--output") or word.startswith(("-o=", "--output=")):
            output = word.split("=", 1)[1] if "=" in word else next(words, "")
            if not output.isidentifier():
                raise ValueError(f"-o needs a variable name, not {output!r}")
        elif word.startswith("-"):
            raise ValueError(f"unknown option {word!r}")
        else:
            models.append(word)
    if len(models) > 1:
        raise ValueError(f"one model at most, not {' '.join(models)!r}")
    return new, output, models[0] if models else None


def _namespace() -> dict[str, Any]:
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        raise RuntimeError("%%chat -o needs an IPython shell")
    return cast("dict[str, Any]", shell.user_ns)  # IPython leaves user_ns untyped


def _store_when_done(handle: StreamHandle, name: str, namespace: dict[str, Any]) -> None:
    """Put the reply's final document in ``namespace[name]`` when the reply ends (at once
    if it already has). Until then the name keeps whatever it held."""
    output = _Output(namespace, name)
    document, output.unsubscribe = handle.store.follow(handle.id, output)
    if document.done:
        output.finish(document)
    elif output.stored:  # it ended between follow() and here
        output.unsubscribe()


class _Output:
    """A store subscriber that stores the document once, when it is done."""

    def __init__(self, namespace: dict[str, Any], name: str):
        self.namespace, self.name = namespace, name
        self.unsubscribe: Any = None
        self.stored = False
        self._lock = threading.Lock()

    def __call__(self, change: Any) -> None:
        if change.document.done:
            self.finish(change.document)

    def finish(self, document: Document) -> None:
        with self._lock:
            if self.stored:
                return
            self.stored = True
        self.namespace[self.name] = copy.deepcopy(document)
        if self.unsubscribe is not None:
            self.unsubscribe()


def load_ipython_extension(ipython: Any) -> None:
    ipython.register_magic_function(chat, magic_kind="cell", magic_name="chat")
