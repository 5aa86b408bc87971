"""Prototypes of changes proposed for ``src/`` (experiments; not used by ``make bench``).

``python bench_kernel.py --prototypes view`` applies them inside the kernel, so
their effect is measured on the same path as the real code. Each one is small and says what
the change in ``src/`` would be; delete a prototype once its change has landed.

- ``view``: ``StreamView._on_change`` collects text pieces in a list joined once per frame
  (``self._pending[kind] += text`` copies the pending text on every token) and notes the
  first token with a plain flag instead of reading two synced traits per token.
- ``summary_plain``: the static ``text/plain`` fallback is a summary (status line, tool
  lines, the length) instead of a second full copy of the text next to ``text/markdown``.
- ``no_display_update``: no display update when the stream ends (a measurement of what that
  update costs; not a proposal as such, see docs/benchmarks.md).
"""

from __future__ import annotations

from typing import Any


def _list_pending_view() -> None:
    from streamwidget.widgets import stream_view as sv

    cls = sv.StreamView
    original_init, original_send = cls.__init__, cls._send_frame

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        self._pieces = {name: [] for name in sv.TEXT_FIELDS}
        self._first_token_seen = False
        original_init(self, *args, **kwargs)

    def _on_change(self: Any, change: Any) -> None:
        self._document = change.document
        event = change.event
        if event is None:
            return
        kind = event.get("type")
        if kind in sv.TEXT_FIELDS:
            self._pieces[kind].append(event["text"])
            if not self._first_token_seen:
                self._first_token_seen = True
                self._state_dirty = True
        else:
            self._state_dirty = True
        if change.document.done:
            self._finish(change.document)
        elif self._timer is None:
            self._schedule_frame()

    def _send_frame(self: Any) -> None:
        for name in sv.TEXT_FIELDS:
            pieces = self._pieces[name]
            if pieces:
                self._pending[name] += "".join(pieces)
                pieces.clear()
        original_send(self)

    cls.__init__ = __init__
    cls._on_change = _on_change
    cls._send_frame = _send_frame


def _summary_plain() -> None:
    from streamwidget.widgets import static

    def plain(document: Any) -> str:
        lines = [static._status_line(document).strip("*")]
        lines += [f"[tool] {c.name}: {c.status}" for c in document.tool_calls]
        if document.text:
            lines.append(f"({document.text_length:,} characters of text)")
        return "\n".join(lines)

    static.plain = plain


def _no_display_update() -> None:
    from streamwidget.widgets.stream_view import StreamView

    StreamView._update_displays = lambda self: None


PROTOTYPES = {
    "view": _list_pending_view,
    "summary_plain": _summary_plain,
    "no_display_update": _no_display_update,
}


def apply(names: str) -> list[str]:
    """Apply the comma-separated prototypes; returns their names."""
    chosen = [n for n in names.split(",") if n]
    for name in chosen:
        PROTOTYPES[name]()
    return chosen
