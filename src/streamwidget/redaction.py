"""Redaction of exports: secrets (API keys, tokens, emails) replaced in recordings.

Every string in event payloads and in the header's ``request`` is searched for the
:class:`Redactor`'s patterns. A secret split across two events (two text tokens) is not found:
patterns match within one string.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from .recording import Recording

#: Patterns replaced on export by default: name → regular expression.
DEFAULT_PATTERNS: dict[str, str] = {
    "email": r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}",
    "api_key": r"\bsk-(?:proj-|ant-(?:api\d\d-)?)?[A-Za-z0-9_-]{20,}",
    "aws_key": r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
    "github_token": r"\bgh[pousr]_[A-Za-z0-9]{30,}\b",
    "slack_token": r"\bxox[abprs]-[A-Za-z0-9-]{10,}",
    "google_key": r"\bAIza[0-9A-Za-z_-]{35}\b",
    "bearer": r"(?i)\bbearer\s+[A-Za-z0-9._~+/-]{16,}=*",
}


class Redactor:
    """Replaces secrets in strings: ``patterns`` is name → regex (or a list of regexes).

    ``replacement`` may use ``{name}``. :attr:`count` says how many matches were replaced.
    """

    def __init__(
        self,
        patterns: Mapping[str, str] | Iterable[str] | None = None,
        *,
        replacement: str = "[REDACTED:{name}]",
    ):
        if patterns is None:
            patterns = DEFAULT_PATTERNS
        items = (
            patterns.items()
            if isinstance(patterns, Mapping)
            else ((f"pattern{i + 1}", p) for i, p in enumerate(patterns))
        )
        self.patterns = {name: re.compile(regex) for name, regex in items}
        self.replacement = replacement
        self.count = 0

    def text(self, value: str) -> str:
        for name, pattern in self.patterns.items():
            value, n = pattern.subn(self.replacement.format(name=name), value)
            self.count += n
        return value

    def value(self, value: Any) -> Any:
        """``value`` with every string inside it (not dict keys) redacted."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.value(v) for v in value]
        if isinstance(value, dict):
            return {k: self.value(v) for k, v in value.items()}
        return value

    def recording(self, recording: Recording) -> Recording:
        """A redacted copy: event payloads and the header's ``request``."""
        header = dict(recording.header)
        if "request" in header:
            header["request"] = self.value(header["request"])
        events = [
            {k: (v if k in ("t", "type") else self.value(v)) for k, v in e.items()}
            for e in recording.events
        ]
        return Recording(header, events, recording.source)


Redact = bool | None | Mapping[str, str] | Iterable[str] | Redactor


def redactor(redact: Redact) -> Redactor | None:
    """``True``: the default patterns; ``False``/``None``: none; patterns or a Redactor."""
    if redact is True:
        return Redactor()
    if redact is False or redact is None:
        return None
    if isinstance(redact, Redactor):
        return redact
    return Redactor(redact)
