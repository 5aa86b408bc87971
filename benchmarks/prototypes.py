"""Prototypes of changes proposed for ``src/`` (experiments; not used by ``make bench``).

``python bench_kernel.py --prototypes writer,change,view`` applies them inside the kernel, so
their effect is measured on the same path as the real code. Each one is small and says what
the change in ``src/`` would be; delete a prototype once its change has landed.

- ``writer``: ``Store._write`` inserts each stream's events of a batch with one
  ``INSERT ... SELECT`` whose stream id is a scalar and whose ``seq`` is generated from the
  first one (a stream's rows in a batch are consecutive), and payloads go in as
  ``VARCHAR[]`` (no ``JSON[]`` cast of the array: the JSON column still checks each value).
  Fewer Python values to bind: about 2 µs less per event.
- ``change``: ``store.Change`` as a plain class with ``__slots__`` instead of a frozen
  dataclass (whose ``__init__`` goes through ``object.__setattr__`` per field).
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


def _grouped_writer() -> None:
    from streamwidget import store as store_module

    original = store_module.Store._write

    def _write(self: Any, creates: list, rows: list, updates: list) -> None:
        groups: dict[str, list] = {}
        for r in rows:
            groups.setdefault(r[0], []).append(r)
        consecutive = all(g[-1][1] - g[0][1] == len(g) - 1 for g in groups.values())
        if not consecutive:  # never expected; keep the original path for safety
            return original(self, creates, rows, updates)
        cur = self._cursor()
        cur.execute("BEGIN TRANSACTION")
        try:
            if creates:
                cur.execute(
                    "INSERT INTO streams (id, conversation_id, status, model, provider, request,"
                    " header, owner_pid, owner_host, owner_started) SELECT unnest($1::VARCHAR[]),"
                    " unnest($2::VARCHAR[]), 'pending', unnest($3::VARCHAR[]),"
                    " unnest($4::VARCHAR[]), unnest($5::JSON[]), unnest($6::JSON[]),"
                    " unnest($7::INTEGER[]), unnest($8::VARCHAR[]), unnest($9::DOUBLE[])",
                    [list(column) for column in zip(*creates)],
                )
            for stream_id, group in groups.items():
                cur.execute(
                    "INSERT INTO events SELECT $1, $2 + unnest(range(len($3::DOUBLE[]))),"
                    " unnest($3::DOUBLE[]), unnest($4::VARCHAR[]), unnest($5::VARCHAR[])",
                    [
                        stream_id,
                        group[0][1],
                        [r[2] for r in group],
                        [r[3] for r in group],
                        [r[4] for r in group],
                    ],
                )
            for update in updates:
                cur.execute(
                    "UPDATE streams SET status = ?, content = content || ?,"
                    " reasoning = reasoning || ?, tool_calls = ?, error = ?, usage = ?,"
                    " finish_reason = ?, first_token_t = ?, last_t = ?, version = ?,"
                    " updated_at = now() WHERE id = ?",
                    update[:10] + update[-1:],
                )
            cur.execute("COMMIT")
        except Exception:
            cur.execute("ROLLBACK")
            raise

    store_module.Store._write = _write


def _slotted_change() -> None:
    from streamwidget import store as store_module

    class Change:
        __slots__ = ("committed", "document", "event", "stream_id")

        def __init__(self, stream_id: str, document: Any, event: Any, committed: bool):
            self.stream_id = stream_id
            self.document = document
            self.event = event
            self.committed = committed

    store_module.Change = Change


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
    "writer": _grouped_writer,
    "change": _slotted_change,
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
