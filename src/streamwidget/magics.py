"""The ``%%chat`` cell magic: talk to a model from a cell.

::

    %load_ext streamwidget

    %%chat
    What is streaming, in one paragraph?

The first ``%%chat`` creates one :class:`~streamwidget.Chat` for the kernel (the keyless demo
model unless a model is named) and shows it under that cell; later ``%%chat`` cells send to
the same chat, so the conversation goes on there. Options on the magic line:

``%%chat MODEL``        answer with MODEL from now on (e.g. ``openai:gpt-4o-mini``)
``%%chat --new [MODEL]`` start a new chat, shown under this cell

The chat of the kernel is :func:`current_chat` (e.g. ``await current_chat().handle``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .widgets.chat import Chat

_chat: Chat | None = None
USAGE = "usage: %%chat [--new] [MODEL], then the message in the cell body"


def current_chat() -> Chat | None:
    """The chat that ``%%chat`` cells send to (``None`` before the first one)."""
    return _chat


def chat(line: str, cell: str) -> None:
    """Send the cell body to the kernel's chat (created and shown on first use)."""
    from IPython.core.error import UsageError
    from IPython.display import display

    from .widgets.chat import Chat

    global _chat
    words = line.split()
    new = "--new" in words
    models = [w for w in words if w != "--new"]
    if len(models) > 1 or any(m.startswith("-") for m in models):
        raise UsageError(f"%%chat: cannot read {line.strip()!r}; {USAGE}")
    if _chat is None or new or _chat.comm is None:  # none yet, asked for, or closed
        _chat = Chat(models[0] if models else "replay:demo")
        display(_chat)  # type: ignore[no-untyped-call]
    elif models:
        _chat.model = models[0]
    if cell.strip():
        _chat.send(cell)


def load_ipython_extension(ipython: Any) -> None:
    ipython.register_magic_function(chat, magic_kind="cell", magic_name="chat")
