"""The conformance corpus: real response bodies with hand-written expectations.

Layout: ``tests/wire/<wire>/<case>.txt`` holds a raw response body (SSE or NDJSON) as its
source captured it; ``<case>.json`` holds ``source`` (repository, path, commit — or a URL),
``notes`` and ``expected`` (only the keys a case checks; see :func:`mismatches`).

A new wire adds one line to :data:`WIRES`: the provider that reads it and the content type its
server sends.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streamwidget.document import Document
from streamwidget.providers.anthropic import AnthropicProvider
from streamwidget.providers.ollama import OllamaProvider
from streamwidget.providers.openai import OpenAIProvider

HERE = Path(__file__).parent

SSE, NDJSON = "text/event-stream", "application/x-ndjson"

#: wire → (provider for a base URL, the content type the server answers with).
WIRES: dict[str, tuple[Callable[[str], Any], str]] = {
    "openai": (lambda url: OpenAIProvider("m", base_url=url, api_key="sk-test"), SSE),
    "anthropic": (lambda url: AnthropicProvider("m", base_url=url, api_key="k"), SSE),
    "ollama": (lambda url: OllamaProvider("m", base_url=url), NDJSON),
}


@dataclass
class Case:
    wire: str
    name: str
    body: bytes
    meta: dict[str, Any]

    @property
    def id(self) -> str:
        return f"{self.wire}/{self.name}"

    @property
    def expected(self) -> dict[str, Any]:
        return self.meta["expected"]

    def provider(self, base_url: str) -> Any:
        return WIRES[self.wire][0](base_url)

    @property
    def content_type(self) -> str:
        return WIRES[self.wire][1]


def cases() -> list[Case]:
    """Every case of every wire this runner knows (other folders wait for their line)."""
    found = []
    for wire in sorted(WIRES):
        for meta_path in sorted((HERE / wire).glob("*.json")):
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            body = meta_path.with_suffix(".txt").read_bytes()
            found.append(Case(wire, meta_path.stem, body, meta))
    return found


def _tool_calls(doc: Document) -> list[dict[str, Any]]:
    return [{"name": c.name, "arguments": c.arguments} for c in doc.tool_calls]


def mismatches(doc: Document, expected: dict[str, Any]) -> list[str]:
    """How ``doc`` differs from ``expected`` (only the keys present are checked).

    ``usage`` compares only the counts it names; ``tool_calls`` compares names and arguments
    in order (a call names its ``name`` and may name its ``arguments``, its ``status`` and
    whether the ``server`` ran it);
    ``warnings`` is whether the document carries any.
    """
    actual: dict[str, Any] = {
        "status": doc.status,
        "text": doc.text,
        "reasoning": doc.reasoning,
        "finish_reason": doc.finish_reason,
        "error_kind": (doc.error or {}).get("kind"),
        "warnings": bool(doc.warnings),
    }
    problems = []
    for key, want in expected.items():
        if key == "usage":
            got = {k: (doc.usage or {}).get(k) for k in want}
        elif key == "tool_calls":
            got = [_call_view(c, w) for c, w in zip(doc.tool_calls, want)]
            if len(doc.tool_calls) != len(want):
                got = _tool_calls(doc)
        else:
            got = actual[key]
        if got != want:
            problems.append(f"{key}: expected {want!r:.300}, got {got!r:.300}")
    return problems


def _call_view(call: Any, want: dict[str, Any]) -> dict[str, Any]:
    view = {"name": call.name}
    for extra in ("arguments", "status", "server"):
        if extra in want:
            view[extra] = getattr(call, extra)
    return view
