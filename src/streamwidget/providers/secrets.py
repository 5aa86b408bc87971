"""Secrets of the live providers: API keys, and keeping them out of everything recorded.

Keys live only in request headers. :func:`resolve_key` finds one (argument, else environment
variable); :func:`redact` scrubs known secrets (and anything shaped like a key) from messages
and recorded wire text; :class:`TextScrubber` does it for streamed text, also when a secret is
split across events; :func:`strip_secrets` and :func:`safe_url` make a request description fit
for the recording header.
"""

from __future__ import annotations

import os
import re
from typing import Any

import httpx

from ..events import Event
from .errors import MissingAPIKeyError

#: Names (of options, headers, query parameters) whose values are secrets: the name is, or
#: ends in a segment that is, one of these words ("x-api-key", "auth_token"; not "max_tokens").
SECRET_NAME = re.compile(
    r"(?i)(^|[_\-.])(api_?key|key|token|secret|password|passwd|authorization|auth|cookie"
    r"|credentials?|session)$"
)
_KEY_LIKE = re.compile(r"\b(sk|sk-ant|sk-proj|rk)-[A-Za-z0-9_\-*.]{16,}")


def resolve_key(api_key: str | None, env: str | None, provider: str) -> str | None:
    """``api_key``, else the variable ``env`` (if named); a named but empty one is an error."""
    if api_key:
        return api_key
    if env is None:
        return None
    value = os.environ.get(env, "").strip()
    if not value:
        raise MissingAPIKeyError(
            f"{provider} needs an API key: set the {env} environment variable or pass api_key=..."
        )
    return value


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Remove known secrets and anything shaped like an API key from ``text``."""
    for secret in secrets:
        if secret and len(secret) >= 4 and secret in text:
            text = text.replace(secret, "***")
    return _KEY_LIKE.sub(lambda m: m.group(1) + "-***", text)


def strip_secrets(value: Any) -> Any:
    """A copy of ``value`` without mapping entries whose name looks secret (recursively)."""
    if isinstance(value, dict):
        return {
            k: strip_secrets(v)
            for k, v in value.items()
            if not (isinstance(k, str) and SECRET_NAME.search(k))
        }
    if isinstance(value, list):
        return [strip_secrets(v) for v in value]
    return value


def safe_url(url: str | httpx.URL) -> str:
    """``url`` without user info and without query parameters whose name looks secret."""
    url = httpx.URL(url)
    params = [(k, v) for k, v in url.params.multi_items() if not SECRET_NAME.search(k)]
    return str(url.copy_with(username=None, password=None, params=params or None))


class TextScrubber:
    """Replaces the provider's own secrets in streamed text and reasoning (a server or proxy
    may echo a key into the reply), also when a secret is split across events.

    A tail of at least ``MIN_HOLD`` characters that could start a secret waits for the next
    piece; a shorter one goes out, and the rest of the secret is hidden in the next piece.
    """

    MIN_HOLD = 3

    def __init__(self, secrets: tuple[str, ...]) -> None:
        self.secrets = tuple(s for s in secrets if len(s) >= 4)
        self.longest = max((len(s) for s in self.secrets), default=0)
        self.held: dict[str, str] = {}
        self.sent: dict[str, str] = {}

    def feed(self, field: str, piece: str) -> str:
        if not self.secrets:
            return piece
        sent = self.sent.get(field, "")
        text = sent + self.held.pop(field, "") + piece
        keep = max(_overlap(text, secret) for secret in self.secrets)
        end = len(text) - (keep if keep >= self.MIN_HOLD else 0)
        self.held[field] = text[end:]
        self.sent[field] = text[:end][-self.longest :]
        spans = [
            (m.start(), m.end())
            for secret in self.secrets
            for m in re.finditer(re.escape(secret), text[:end])
        ]
        if not spans:
            return text[len(sent) : end]
        out, at = [], len(sent)
        for start, stop in sorted(spans):
            if stop <= at:
                continue
            out.append(text[at : max(start, at)])
            out.append("***")
            at = stop
        out.append(text[at:end])
        return "".join(out)

    def flush(self) -> list[Event]:
        """What is held back, as events (before any other event, and at the end)."""
        events: list[Event] = [{"type": f, "text": t} for f, t in self.held.items() if t]
        self.held.clear()
        return events


def _overlap(text: str, secret: str) -> int:
    """The length of the longest end of ``text`` that begins ``secret`` (shorter than it)."""
    for n in range(min(len(text), len(secret) - 1), 0, -1):
        if secret.startswith(text[-n:]):
            return n
    return 0
