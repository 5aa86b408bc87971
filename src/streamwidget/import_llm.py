"""Logs in: the conversations that Simon Willison's ``llm`` tool logged, as streams.

``llm`` logs every prompt and reply to a SQLite file (``llm logs path``). :func:`import_llm`
reads that file with the standard library's ``sqlite3`` (``llm`` itself need not be installed)
and writes each logged model call into the store as one finished stream, and each ``llm``
conversation as a streamwidget conversation (its user prompts and the replies' streams), so a
:class:`~streamwidget.Chat` or ``streamwidget ls`` shows them.

Both schemas ``llm`` has written are read:

- ``turns`` (llm 0.30 and later): threads of content-addressed messages made of parts (text,
  reasoning, tool calls, tool results); a turn is one model call;
- ``responses`` (older versions): one row per call, with ``tool_calls`` and ``tool_results``
  tables from llm 0.26 on.

What the logs hold, the stream gets: the prompt and the system prompt (the header's
``request``), the text, reasoning, tool calls and their results (a result logged in the next
call's prompt is put on the call that asked for it), usage, the model (``resolved_model`` when
llm recorded one) and the times: ``created_at`` is llm's ``datetime_utc``; llm keeps no
per-token times, only ``duration_ms``, so every event of an imported stream sits at that
duration (its time to first token is its duration). Failed calls are not logged by llm.

Importing again adds nothing: stream ids are ``llm-<llm's id>``, conversation ids
``llm-<llm's conversation or thread id>``; calls logged since the last import are added to
their conversations.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .recording import Recording
from .transfer import ImportResult, Progress, TransferError

if TYPE_CHECKING:
    from .store import Store

PREFIX = "llm-"


@dataclass
class LoggedCall:
    """One model call from the logs, in the shape a stream needs."""

    id: str
    model: str
    created_at: str
    duration_s: float
    conversation_id: str | None = None
    conversation_title: str | None = None
    #: OpenAI-style ``{"role", "content"}`` messages sent (system first).
    messages: list[dict[str, Any]] = field(default_factory=list)
    #: The user's own prompt in this call (None for a call that only carried tool results).
    prompt: str | None = None
    text: str = ""
    reasoning: str = ""
    #: ``{"id", "name", "arguments", "output", "error"}``; output/error None when unknown.
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    input_tokens: int | None = None
    output_tokens: int | None = None

    def recording(self) -> Recording:
        t = self.duration_s
        events: list[dict[str, Any]] = []

        def add(kind: str, **fields: Any) -> None:
            events.append({"t": t, "type": kind, **fields})

        if self.reasoning:
            add("reasoning", text=self.reasoning)
        if self.text:
            add("text", text=self.text)
        for call in self.tool_calls:
            add("tool_call_start", id=call["id"], name=call["name"])
            add("tool_call_end", id=call["id"], arguments=call["arguments"])
            if call.get("error") is not None:
                add("tool_result", id=call["id"], status="error", error=call["error"])
            elif call.get("output") is not None:
                add("tool_result", id=call["id"], status="done", result=call["output"])
        usage = {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens}
        if any(v is not None for v in usage.values()):
            add("usage", **{k: v for k, v in usage.items() if v is not None})
        reason = "tool_calls" if self.tool_calls else "stop"
        events.append({"t": t, "type": "finish", "reason": reason})
        extra: dict[str, Any] = {"source": "llm", "llm_id": self.id}
        if self.conversation_id:
            extra["conversation_id"] = PREFIX + self.conversation_id
            extra["conversation_title"] = self.conversation_title or "llm conversation"
        recording = Recording.new(
            provider="llm",
            model=self.model,
            request={"model": self.model, "messages": self.messages},
            events=events,
            **extra,
        )
        recording.header["created_at"] = self.created_at
        recording.source = f"llm:{self.id}"
        return recording


# -- reading the logs -------------------------------------------------------------------------


def read_llm_logs(path: str | os.PathLike[str]) -> list[LoggedCall]:
    """Every logged call in an ``llm`` logs database, oldest first."""
    source = Path(path)
    if not source.is_file():
        raise TransferError(f"{source}: no such file (llm's logs: `llm logs path`)")
    try:
        con = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        tables = {row[0] for row in con.execute("SELECT name FROM sqlite_master")}
    except sqlite3.DatabaseError as exc:
        raise TransferError(f"{source}: not an llm logs database ({exc})") from None
    try:
        con.row_factory = sqlite3.Row
        calls: list[LoggedCall] = []
        if "turns" in tables:
            calls.extend(_turn_calls(con))
        if "responses" in tables:
            calls.extend(_response_calls(con, tables))
        if not tables & {"turns", "responses"}:
            raise TransferError(f"{source}: not an llm logs database (no turns or responses)")
    finally:
        con.close()
    return sorted(calls, key=lambda c: (c.created_at, c.id))


def _turn_calls(con: sqlite3.Connection) -> Iterator[LoggedCall]:
    """Calls from the message store: a turn's own messages are those after its parent."""
    for turn in con.execute(
        "SELECT t.*, th.name AS thread_name FROM turns t LEFT JOIN threads th"
        " ON th.id = t.thread_id ORDER BY t.datetime_utc, t.id"
    ).fetchall():
        chain = _chain(con, turn["tip_message_hash"])
        cut = next(
            (i + 1 for i, m in enumerate(chain) if m["hash"] == turn["parent_message_hash"]), 0
        )
        inputs, outputs = chain[:cut], chain[cut:]
        call = LoggedCall(
            id=turn["id"],
            model=turn["resolved_model"] or turn["model"] or "",
            created_at=_iso(turn["datetime_utc"]),
            duration_s=(turn["duration_ms"] or 0) / 1000,
            conversation_id=turn["thread_id"],
            conversation_title=turn["thread_name"],
            messages=[m for message in inputs for m in _openai_messages(message)],
            prompt=_text(inputs[-1]["parts"]) if inputs and inputs[-1]["role"] == "user" else None,
            input_tokens=turn["input_tokens"],
            output_tokens=turn["output_tokens"],
        )
        for message in outputs:
            for part in message["parts"]:
                _add_part(call, part)
        _attach_results(call, _results_after(con, turn["tip_message_hash"]))
        yield call


def _chain(con: sqlite3.Connection, tip: str | None) -> list[dict[str, Any]]:
    """The messages from the root to ``tip``, each with its parts (fragments resolved)."""
    chain: list[dict[str, Any]] = []
    while tip:
        row = con.execute("SELECT hash, parent_hash, role FROM messages WHERE hash = ?", [tip])
        message = row.fetchone()
        if message is None:
            break
        chain.append({"hash": message["hash"], "role": message["role"], "parts": _parts(con, tip)})
        tip = message["parent_hash"]
    return chain[::-1]


def _parts(con: sqlite3.Connection, message_hash: str) -> list[dict[str, Any]]:
    parts = []
    for row in con.execute(
        "SELECT type, text, payload FROM parts WHERE message_hash = ? ORDER BY position",
        [message_hash],
    ):
        part = {**json.loads(row["payload"] or "{}"), "type": row["type"]}
        if row["text"] is not None:
            part["text"] = row["text"]
        elif "text_ref" in part:  # text that borrows llm fragments
            part["text"] = "".join(
                piece.get("literal") or _fragment(con, piece.get("fragment"))
                for piece in part.pop("text_ref")
            )
        parts.append(part)
    return parts


def _fragment(con: sqlite3.Connection, fragment_id: Any) -> str:
    row = con.execute("SELECT content FROM fragments WHERE id = ?", [fragment_id]).fetchone()
    return row[0] if row else ""


def _results_after(con: sqlite3.Connection, tip: str | None) -> list[dict[str, Any]]:
    """Tool results sent back after a turn: parts of the tool messages that follow it."""
    children = con.execute(
        "SELECT hash FROM messages WHERE parent_hash = ? AND role = 'tool'", [tip]
    ).fetchall()
    return [p for child in children for p in _parts(con, child[0]) if p["type"] == "tool_result"]


def _add_part(call: LoggedCall, part: dict[str, Any]) -> None:
    kind = part["type"]
    if kind == "text":
        call.text += part.get("text", "")
    elif kind == "reasoning":
        call.reasoning += part.get("text", "")
    elif kind == "tool_call":
        call.tool_calls.append(
            {
                "id": part.get("tool_call_id") or f"call_{len(call.tool_calls) + 1}",
                "name": part.get("name", ""),
                "arguments": part.get("arguments") or {},
            }
        )
    elif kind == "tool_result":  # a server-executed tool's result, inside the reply
        _attach_results(call, [part])


def _attach_results(call: LoggedCall, results: list[dict[str, Any]]) -> None:
    by_id = {r.get("tool_call_id"): r for r in results}
    for tool_call in call.tool_calls:
        result = by_id.get(tool_call["id"])
        if result is not None:
            tool_call["output"] = result.get("output")
            tool_call["error"] = result.get("exception")


def _text(parts: list[dict[str, Any]]) -> str:
    return "".join(p.get("text", "") for p in parts if p["type"] == "text")


def _openai_messages(message: dict[str, Any]) -> list[dict[str, Any]]:
    """One llm message as OpenAI-style messages (a tool message: one per result)."""
    parts = message["parts"]
    results = [p for p in parts if p["type"] == "tool_result"]
    if results:
        return [
            {"role": "tool", "tool_call_id": p.get("tool_call_id"), "content": p.get("output", "")}
            for p in results
        ]
    out: dict[str, Any] = {"role": message["role"], "content": _text(parts)}
    calls = [p for p in parts if p["type"] == "tool_call"]
    if calls:
        out["tool_calls"] = [
            {
                "id": p.get("tool_call_id"),
                "type": "function",
                "function": {"name": p.get("name"), "arguments": json.dumps(p.get("arguments"))},
            }
            for p in calls
        ]
    return [out]


def _response_calls(con: sqlite3.Connection, tables: set[str]) -> Iterator[LoggedCall]:
    """Calls from the ``responses`` table that llm versions before 0.30 wrote."""
    columns = {row[1] for row in con.execute("PRAGMA table_info(responses)")}
    has_tools = {"tool_calls", "tool_results"} <= tables
    names = {}
    if "conversations" in tables:
        names = {r[0]: r[1] for r in con.execute("SELECT id, name FROM conversations")}
    for row in con.execute("SELECT * FROM responses ORDER BY datetime_utc, id").fetchall():
        get = {c: row[c] for c in columns}.get
        messages = [{"role": "system", "content": get("system")}] if get("system") else []
        if get("prompt"):
            messages.append({"role": "user", "content": get("prompt")})
        if has_tools:  # results sent with this prompt, answering the previous call's tools
            messages.extend(
                {"role": "tool", "tool_call_id": r[0], "content": r[1] or ""}
                for r in con.execute(
                    "SELECT tool_call_id, output FROM tool_results WHERE response_id = ?"
                    " ORDER BY id",
                    [row["id"]],
                )
            )
        call = LoggedCall(
            id=row["id"],
            model=get("resolved_model") or get("model") or "",
            created_at=_iso(get("datetime_utc")),
            duration_s=(get("duration_ms") or 0) / 1000,
            conversation_id=get("conversation_id"),
            conversation_title=names.get(get("conversation_id")),
            messages=messages,
            prompt=get("prompt") or None,
            text=get("response") or "",
            reasoning=get("reasoning") or "",
            input_tokens=get("input_tokens"),
            output_tokens=get("output_tokens"),
        )
        if has_tools:
            _legacy_tools(con, call)
        yield call


def _legacy_tools(con: sqlite3.Connection, call: LoggedCall) -> None:
    for tool in con.execute(
        "SELECT name, arguments, tool_call_id FROM tool_calls WHERE response_id = ? ORDER BY id",
        [call.id],
    ):
        try:
            arguments = json.loads(tool["arguments"] or "{}")
        except ValueError:
            arguments = {"_raw": tool["arguments"]}
        call_id = tool["tool_call_id"] or f"call_{len(call.tool_calls) + 1}"
        call.tool_calls.append({"id": call_id, "name": tool["name"] or "", "arguments": arguments})
    ids = [c["id"] for c in call.tool_calls]
    if ids:
        columns = {row[1] for row in con.execute("PRAGMA table_info(tool_results)")}
        error = "exception" if "exception" in columns else "NULL"
        marks = ", ".join("?" * len(ids))
        rows = con.execute(
            f"SELECT tool_call_id, output, {error} AS exception FROM tool_results"
            f" WHERE tool_call_id IN ({marks})",
            ids,
        ).fetchall()
        _attach_results(call, [dict(r) for r in rows])


def _iso(value: Any) -> str:
    """llm's ``datetime_utc`` (``2025-01-02T03:04:05.678+00:00`` or with a space) as ISO."""
    text = str(value or "").replace(" ", "T", 1)
    return text if "+" in text[10:] or text.endswith("Z") else (text + "+00:00" if text else "")


# -- writing them into the store --------------------------------------------------------------


def import_llm(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    *,
    store: Store | None = None,
    progress: Progress | None = None,
) -> ImportResult:
    """Import ``llm`` logs databases; see the module docstring. Every file is read before
    anything is written. Calls already imported are reported in
    :attr:`ImportResult.duplicates` and left as they are."""
    from .transfer import _store

    items = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    calls = [call for path in items for call in read_llm_logs(path)]
    store = _store(store)
    result = ImportResult()
    for done, call in enumerate(calls, 1):
        sid = PREFIX + call.id
        if store.fetchall("SELECT 1 FROM streams WHERE id = $1", [sid]):
            result.duplicates.append(sid)
        else:
            recording = call.recording()
            result.imported.append(store.import_recording(recording, stream_id=sid))
            conversation = recording.header.get("conversation_id")
            if conversation:
                if call.prompt is not None:
                    store.add_message(conversation, "user", call.prompt)
                store.add_message(conversation, "assistant", stream_id=sid)
        if progress:
            progress(done, len(calls), sid)
    return result
