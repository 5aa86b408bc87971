"""What a stream shows where no widget front end runs: GitHub's notebook preview, nbconvert
HTML, a terminal IPython. The markdown is defanged: raw HTML is escaped outside code, and
links and images keep only http(s), mailto and in-page targets. Headings become bold lines: a
reply's headings are not the notebook's (JupyterLab's table of contents reads outputs' markdown,
and would list, and re-parse at every update, every heading of every reply)."""

from __future__ import annotations

import json
import re
from typing import Any

from ..document import Document

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_ATX_HEADING = re.compile(r"^ {0,3}#{1,6}(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT_UNDERLINE = re.compile(r"^ {0,3}(?:=+|-+)[ \t]*$")
#: lines that start a list item, quote or table row rather than a paragraph
_BLOCK_START = re.compile(r"^ {0,3}(?:[-*+][ \t]|\d{1,9}[.)][ \t]|>|\|)")
_INLINE_CODE = re.compile(r"(`+)(.+?)\1", re.S)
_LINK = re.compile(r"(!?\[[^\]]*\]\()\s*<?([^)\s>]*)>?([^)]*\))")
_SAFE_URL = re.compile(r"^(https?:|mailto:|#)", re.I)


def markdown(document: Document, limit: int | None = None) -> str:
    """The document as safe markdown: a status line, then its parts in order (thinking as a
    labelled quote, tool calls, text, notices), then the error. ``limit``: keep only the last
    ``limit`` characters of the text and of the reasoning (a line says how many were left)."""
    parts = [_status_line(document)]
    cut = {"text": 0, "reasoning": 0}
    if limit is not None:
        cut = {"text": len(document.text) - limit, "reasoning": len(document.reasoning) - limit}
        if max(cut.values()) > 0:
            left = sum(n for n in cut.values() if n > 0)
            parts.append(f"*… {left:,} earlier characters are not shown here*")
    for part, content in document.read_parts():
        if part.kind in cut and cut[part.kind] > part.start:
            # a run that ends before the cut is left out, the one across it is cut
            content = content[cut[part.kind] - part.start :]
        if part.kind == "text" and content.strip():
            parts.append(_defang(content))
        elif part.kind == "reasoning" and content.strip():
            parts.append(_thinking(content, part.t0, part.t1))
        elif part.kind == "tool" and content is not None:
            parts.append(_tool_line(content.to_dict()))
        elif part.kind == "notice":
            parts.append(f"> ⚠️ {_one_line(content or '')}")
    if document.error:
        parts.append(f"> **{document.error['kind']}**: {_one_line(document.error['message'])}")
    return "\n\n".join(parts)


def _tool_line(call: dict[str, Any]) -> str:
    """A tool call (as ``ToolCall.to_dict()`` gives it) as one markdown line."""
    args = call.get("arguments")
    args = json.dumps(args) if args is not None else call.get("args_text", "")
    line = f"- 🔧 `{call.get('name')}({_one_line(args)})` — {call.get('status')}"
    if call.get("error"):
        line += f": {_one_line(call['error'])}"
    return line


def _thinking(text: str, t0: float | None, t1: float | None) -> str:
    """Reasoning set apart from the answer: a quote under a "Thinking" label."""
    took = f" · {t1 - t0:.1f} s" if t0 is not None and t1 is not None and t1 >= t0 else ""
    body = "\n".join(f"> {line}" if line else ">" for line in _defang(text.strip()).split("\n"))
    return f"> 💭 **Thinking**{took}\n>\n{body}"


def chat_markdown(title: str, turns: list[dict[str, Any]], earlier: int = 0) -> str:
    """A conversation as safe markdown: its title, then each turn (``turns`` as the Chat
    widget holds them: user text, or a reply's status, tool calls, text and error).
    ``earlier``: turns before these, left out (the store has them)."""
    parts = [f"*streamwidget chat · {_one_line(title)}*"]
    if earlier:
        parts.append(f"*… {earlier:,} earlier messages are in the store*")
    for turn in turns:
        if turn.get("role") == "user":
            quoted = "\n".join("> " + line for line in _defang(turn.get("text", "")).split("\n"))
            parts += ["**You**", quoted]
        else:
            meta = turn.get("meta") or {}
            who = " · ".join(str(x) for x in (meta.get("model"), turn.get("status")) if x)
            parts.append(f"**Assistant** *{_one_line(who)}*" if who else "**Assistant**")
            parts += [_tool_line(call) for call in turn.get("tool_calls") or []]
            if turn.get("text"):
                parts.append(_defang(turn["text"]))
            if turn.get("error"):
                error = turn["error"]
                parts.append(f"> **{error.get('kind')}**: {_one_line(error.get('message', ''))}")
    return "\n\n".join(parts)


def summary(document: Document, limit: int = 80) -> str:
    """``text/plain`` beside the markdown (which carries the whole text): a status line and
    the start of the text, so a terminal shows the reply without the saved notebook holding
    its text a third time."""
    text = (
        document.text_since(0)
        if document.text_length <= limit
        else (document.text[:limit] + f"… ({document.text_length:,} characters)")
    )
    return "\n".join(x for x in (_status_line(document).strip("*"), text) if x)


def _status_line(document: Document) -> str:
    who = " · ".join(x for x in (document.provider, document.model) if x)
    return f"*streamwidget{' · ' + who if who else ''} · {document.status}*"


def _one_line(text: str) -> str:
    text = " ".join(str(text).split())
    return _escape_html(text[:200] + ("…" if len(text) > 200 else ""))


def _escape_html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _defang(text: str) -> str:
    out: list[str] = []
    fence: str | None = None
    paragraph = False  # the line before is prose (so "===" / "---" under it would make a heading)
    for line in text.split("\n"):
        match = _FENCE.match(line)
        was_paragraph, paragraph = paragraph, False
        if fence is None and match:
            fence = match.group(1)[0] * 3
        elif fence is not None:
            if line.strip().startswith(fence):
                fence = None
        elif (heading := _ATX_HEADING.match(line)) is not None:
            line = _bold(_defang_line(heading.group(1) or ""))
        elif was_paragraph and _SETEXT_UNDERLINE.match(line):
            out[-1] = _bold(out[-1])  # "Title\n===" is a heading too: keep the title only
            continue
        else:
            line = _defang_line(line)
            paragraph = bool(line.strip()) and not _BLOCK_START.match(line)
        out.append(line)
    return "\n".join(out)


def _bold(text: str) -> str:
    text = text.strip()
    return f"**{text}**" if text else ""


def _defang_line(line: str) -> str:
    pieces, last = [], 0
    for match in _INLINE_CODE.finditer(line):  # code spans stay as they are
        pieces.append(_defang_prose(line[last : match.start()]))
        pieces.append(match.group(0))
        last = match.end()
    pieces.append(_defang_prose(line[last:]))
    return "".join(pieces)


def _defang_prose(text: str) -> str:
    text = _escape_html(text)
    return _LINK.sub(_defang_link, text)


def _defang_link(match: re.Match[str]) -> str:
    """Images become plain links (nothing loads by itself); unsafe targets become ``#``."""
    opening, url, rest = match.group(1).lstrip("!"), match.group(2), match.group(3)
    return f"{opening}{url if _SAFE_URL.match(url) else '#'}{rest}"
