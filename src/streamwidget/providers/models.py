"""Choose a model with one string (or object).

=======================================  =================================================
``"openai:gpt-4o-mini"``                 OpenAI; key from ``OPENAI_API_KEY``
``"openai:qwen@http://127.0.0.1:8080/v1"``  any OpenAI-compatible server; no key needed
``"openai-responses:gpt-5"``             OpenAI Responses API; key from ``OPENAI_API_KEY``
``"anthropic:claude-sonnet-4-5"``        Anthropic; key from ``ANTHROPIC_API_KEY``
``"gemini:gemini-2.5-flash"``            Google Gemini; key from ``GEMINI_API_KEY`` /
                                         ``GOOGLE_API_KEY``
``"ollama:llama3.2"``                    Ollama at ``OLLAMA_HOST`` or localhost:11434
``"replay:<name or path>"``              a bundled recording, or a ``.jsonl`` file
=======================================  =================================================

``"provider/model"`` works too (litellm's habit: ``"anthropic/claude-sonnet-4-5"``), but only
when the part before the first ``/`` is one of the prefixes above: ``"meta-llama/Llama-3"``
is not a provider, so ``"openai:meta-llama/Llama-3"`` keeps its slash.

Keyword arguments go to the provider (``base_url=``, ``api_key=``, ``stall_timeout=``,
``deadline=``, ``max_retries=``, ``record_wire=``...; ``speed=`` for replay). A dict spec
``{"provider": "openai", "model": "...", **kwargs}`` and a ready :class:`Provider` work too,
and so does a stream an SDK already opened (see :mod:`.sdk`; ``model=`` names its model).
"""

from __future__ import annotations

import re
from typing import Any

from .base import Provider

PREFIXES = ("openai", "openai-responses", "anthropic", "gemini", "ollama", "replay")
_URL_SUFFIX = re.compile(r"^(?P<model>.+?)@(?P<url>https?://\S+)$")


def resolve_model(spec: str | dict[str, Any] | Provider, **kwargs: Any) -> Provider:
    """The provider for ``spec``; unknown prefixes raise ``ValueError`` listing the valid ones."""
    if isinstance(spec, dict):
        spec = dict(spec)
        try:
            prefix, model = spec.pop("provider"), spec.pop("model")
        except KeyError as exc:
            raise ValueError(f"a model dict needs 'provider' and 'model', missing {exc}") from None
        return resolve_model(f"{prefix}:{model}", **{**spec, **kwargs})
    if not isinstance(spec, str):
        if isinstance(spec, Provider):
            if kwargs:
                raise TypeError(f"options {sorted(kwargs)} cannot apply to a ready provider")
            return spec
        if hasattr(spec, "__aiter__") or hasattr(spec, "__iter__"):
            from .sdk import SDKStreamProvider

            return SDKStreamProvider(spec, **kwargs)
        raise TypeError(
            f"a model is a 'prefix:model' string, a Provider or an SDK stream, got {spec!r}"
        )
    prefix, sep, rest = _split(spec)
    if not sep or not rest:
        raise ValueError(
            f"model {spec!r} needs a prefix: one of {', '.join(p + ':' for p in PREFIXES)} "
            "(e.g. 'openai:gpt-4o-mini')"
        )
    prefix = prefix.strip().lower()
    if prefix == "openai":
        from .openai import OpenAIProvider

        match = _URL_SUFFIX.match(rest)
        if match:
            if kwargs.get("base_url"):
                raise ValueError(f"{spec!r} names a base URL and base_url= is given too")
            rest, kwargs["base_url"] = match["model"], match["url"]
        return OpenAIProvider(rest, **kwargs)
    if prefix == "openai-responses":
        from .responses import OpenAIResponsesProvider

        return OpenAIResponsesProvider(rest, **kwargs)
    if prefix == "gemini":
        from .gemini import GeminiProvider

        return GeminiProvider(rest, **kwargs)
    if prefix == "anthropic":
        from .anthropic import AnthropicProvider

        return AnthropicProvider(rest, **kwargs)
    if prefix == "ollama":
        from .ollama import OllamaProvider

        return OllamaProvider(rest, **kwargs)
    if prefix == "replay":
        return _replay(rest, **kwargs)
    raise ValueError(
        f"unknown model prefix {prefix!r} in {spec!r}; valid prefixes: "
        + ", ".join(p + ":" for p in PREFIXES)
    )


def _split(spec: str) -> tuple[str, str, str]:
    """``(prefix, separator, model)``: ``provider:model``, or ``provider/model`` when what
    comes before the first ``/`` is a known provider (and before any ``:``)."""
    head, slash, tail = spec.partition("/")
    if slash and ":" not in head and head.strip().lower() in PREFIXES:
        return head, slash, tail
    return spec.partition(":")


def _replay(name: str, **kwargs: Any) -> Provider:
    from ..recording import Recording
    from .replay import ReplayProvider

    return ReplayProvider(Recording.find(name), **kwargs)


__all__ = ["PREFIXES", "resolve_model"]
