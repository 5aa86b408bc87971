"""Google Gemini (``models/MODEL:streamGenerateContent?alt=sse``) over SSE.

Model string: ``"gemini:gemini-2.5-flash"``; the key comes from ``api_key``,
``GEMINI_API_KEY`` or ``GOOGLE_API_KEY`` and travels in the ``x-goog-api-key`` header. Each SSE
event is a whole ``GenerateContentResponse``; wire → events (first candidate only):

- ``parts[].text`` → ``text``; a text part with ``"thought": true`` → ``reasoning`` (send
  ``include_thoughts=True`` to get them). ``thoughtSignature`` is opaque and not shown.
- ``parts[].functionCall`` (whole ``args`` at once) → ``tool_call_start`` / ``_delta`` /
  ``_end``. Vertex's streamed arguments (``partialArgs`` with a ``jsonPath``, ``willContinue``)
  are assembled; the call ends at an empty ``functionCall``, the next call or the reply's end.
- Tools Google runs itself: ``executableCode`` / ``codeExecutionResult`` parts →
  ``code_execution``; ``groundingMetadata.webSearchQueries`` → ``google_search`` (its
  ``groundingChunks`` are the result); ``urlContextMetadata`` → ``url_context``. All marked
  ``"server": true``: never run here, and no further request.
- ``finishReason`` (the last event) → ``finish``: ``STOP`` → ``stop`` (``tool_calls`` after a
  function call), ``MAX_TOKENS`` → ``length``, ``SAFETY`` / ``RECITATION`` / ``BLOCKLIST`` /
  ``PROHIBITED_CONTENT`` / ``SPII`` / ``IMAGE_SAFETY`` → ``content_filter`` (the raw reason in
  ``detail``); ``MALFORMED_FUNCTION_CALL`` → ``error``. ``promptFeedback.blockReason`` (the
  prompt itself was blocked) → ``error`` of kind ``content_filter``. ``usageMetadata`` →
  ``usage`` (``output_tokens`` counts thought tokens too, as OpenAI's does).
- The body simply ends after the event with ``finishReason``; a body that ends without one
  is ``incomplete``. Unknown part types become ``unknown`` events (a document warning).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

from ..events import Event
from .base import ChatRequest
from .errors import (
    MissingAPIKeyError,
    folded,
    json_object,
)
from .gemini_fold import GeminiFolder
from .history_wires import to_gemini_contents
from .http import HTTPProvider
from .wire import WireStream

GEMINI_BASE_URL = "https://generativelanguage.googleapis.com/v1beta"
_OPTIONS = {
    "max_tokens": "maxOutputTokens",
    "top_p": "topP",
    "top_k": "topK",
    "stop": "stopSequences",
    "presence_penalty": "presencePenalty",
    "frequency_penalty": "frequencyPenalty",
}


class GeminiProvider(HTTPProvider):
    """Google Gemini's native API. ``include_thoughts=True`` asks thinking models for their
    thought summaries; ``server_tools`` are sent as given (``[{"google_search": {}}]``,
    ``[{"code_execution": {}}]``). With a custom ``base_url`` no key is required."""

    name = "gemini"
    default_base_url = GEMINI_BASE_URL
    terminal_marker = "a finishReason"

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        include_thoughts: bool | None = None,
        server_tools: list[dict[str, Any]] | None = None,
        **http: Any,
    ) -> None:
        custom = base_url is not None and base_url.rstrip("/") != GEMINI_BASE_URL
        key = api_key or os.environ.get("GEMINI_API_KEY", "").strip()
        key = key or os.environ.get("GOOGLE_API_KEY", "").strip()
        if not key and not custom:
            raise MissingAPIKeyError(
                "Gemini needs an API key: set GEMINI_API_KEY (or GOOGLE_API_KEY) or pass "
                "api_key=..."
            )
        super().__init__(model, base_url=base_url, api_key=key or None, **http)
        self.path = f"/models/{model}:streamGenerateContent?alt=sse"
        self.include_thoughts = include_thoughts
        self.server_tools = list(server_tools or [])

    def _headers(self) -> dict[str, str]:
        return {"x-goog-api-key": self._api_key} if self._api_key else {}

    def build_body(self, request: ChatRequest) -> dict[str, Any]:
        system, contents = to_gemini_contents(request.messages)
        body: dict[str, Any] = {"contents": contents}
        if system:
            body["systemInstruction"] = {"parts": [{"text": system}]}
        declarations = [
            {
                "name": t["name"],
                "description": t.get("description", ""),
                "parametersJsonSchema": t.get("parameters") or {"type": "object"},
            }
            for t in request.tools
        ]
        tools = (
            [{"functionDeclarations": declarations}] if declarations else []
        ) + self.server_tools
        if tools:
            body["tools"] = tools
        config: dict[str, Any] = {}
        for key, value in request.options.items():
            if key == "stop" and isinstance(value, str):
                value = [value]
            config[_OPTIONS.get(key, key)] = value
        if self.include_thoughts is not None:
            config.setdefault("thinkingConfig", {})["includeThoughts"] = self.include_thoughts
        if config:
            body["generationConfig"] = config
        return body

    async def parse(self, wire: WireStream) -> AsyncIterator[Event]:
        folder = GeminiFolder()
        async for sse in wire.sse():
            text = sse.data.strip()
            if not text:
                continue
            chunk = json_object(text)
            events = folded(text, folder.feed, chunk)
            for event in events:
                yield event
            if folder.ended:
                return
        for event in folder.finish():
            yield event


__all__ = ["GeminiFolder", "GeminiProvider", "to_gemini_contents"]
