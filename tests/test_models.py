"""resolve_model: one string (or object) picks a provider."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from streamwidget.providers.anthropic import AnthropicProvider
from streamwidget.providers.base import ChatRequest, Provider
from streamwidget.providers.errors import MissingAPIKeyError
from streamwidget.providers.models import resolve_model
from streamwidget.providers.ollama import OllamaProvider
from streamwidget.providers.openai import OpenAIProvider
from streamwidget.providers.replay import ReplayProvider
from streamwidget.recording import Recording, RecordingError, bundled_names


@pytest.fixture(autouse=True)
def no_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OLLAMA_HOST"):
        monkeypatch.delenv(name, raising=False)


def test_openai(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env-000000")
    p = resolve_model("openai:gpt-4o-mini")
    assert isinstance(p, OpenAIProvider) and isinstance(p, Provider)
    assert (p.name, p.model, p.base_url) == ("openai", "gpt-4o-mini", "https://api.openai.com/v1")


def test_openai_compatible_server_by_suffix_or_argument() -> None:
    p = resolve_model("openai:gemma@http://127.0.0.1:8080/v1")
    assert (p.model, p.base_url) == ("gemma", "http://127.0.0.1:8080/v1")
    q = resolve_model("openai:org/model@v2", base_url="https://openrouter.ai/api/v1/")
    assert (q.model, q.base_url) == ("org/model@v2", "https://openrouter.ai/api/v1")
    with pytest.raises(ValueError, match="base_url"):
        resolve_model("openai:m@http://a/v1", base_url="http://b/v1")


def test_anthropic_and_ollama(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-env-000000")
    a = resolve_model("anthropic:claude-sonnet-4-5", max_retries=0)
    assert isinstance(a, AnthropicProvider) and a.max_retries == 0
    o = resolve_model("ollama:llama3.2:1b")  # model names may contain ':'
    assert isinstance(o, OllamaProvider) and o.model == "llama3.2:1b"
    assert o.base_url == "http://localhost:11434"


@pytest.mark.parametrize(
    ("spec", "variable"),
    [("openai:gpt-4o-mini", "OPENAI_API_KEY"), ("anthropic:claude-x", "ANTHROPIC_API_KEY")],
)
def test_missing_key_is_a_clear_error_naming_the_variable(spec: str, variable: str) -> None:
    with pytest.raises(MissingAPIKeyError, match=variable) as info:
        resolve_model(spec)
    assert "api_key=" in str(info.value)


def test_key_argument_wins_and_custom_servers_never_get_the_openai_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert resolve_model("openai:m", api_key="sk-arg-000000")._api_key == "sk-arg-000000"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env-secret-000000")
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(500)

    p = resolve_model(
        "openai:m@http://127.0.0.1:9/v1", transport=httpx.MockTransport(handler), max_retries=0
    )

    async def go() -> list[dict]:
        return [e async for e in p.stream(ChatRequest())]

    asyncio.run(go())
    assert "authorization" not in seen[0].headers


@pytest.mark.parametrize("spec", ["gpt-4o", "azure:gpt-4o", "openai:", ""])
def test_bad_specs_list_the_valid_prefixes(spec: str) -> None:
    with pytest.raises(ValueError) as info:
        resolve_model(spec)
    message = str(info.value)
    assert all(f"{p}:" in message for p in ("openai", "anthropic", "ollama", "replay"))


def test_unknown_options_are_a_type_error() -> None:
    with pytest.raises(TypeError, match="stal_timeout"):
        resolve_model("ollama:m", stal_timeout=3)


def test_dict_spec_and_ready_provider() -> None:
    p = resolve_model({"provider": "ollama", "model": "qwen3", "base_url": "http://gpu:11434"})
    assert isinstance(p, OllamaProvider) and p.base_url == "http://gpu:11434"
    assert resolve_model(p) is p
    with pytest.raises(TypeError):
        resolve_model(p, stall_timeout=1)
    with pytest.raises(ValueError, match="'model'"):
        resolve_model({"provider": "ollama"})


def test_replay_bundled_name_and_path(tmp_path) -> None:
    name = bundled_names()[0]
    bundled = resolve_model(f"replay:{name}", speed=0)
    assert isinstance(bundled, ReplayProvider) and bundled.speed == 0

    recording = Recording.new(
        provider="openai",
        model="m",
        events=[
            {"t": 0.1, "type": "text", "text": "hi"},
            {"t": 0.2, "type": "finish", "reason": "stop"},
        ],
    )
    path = recording.save(tmp_path / "mine.jsonl")
    replay = resolve_model(f"replay:{path}")
    assert replay.recording.events == recording.events
    assert json.loads(json.dumps(replay.describe(ChatRequest())))  # header-ready
    with pytest.raises(RecordingError):
        resolve_model("replay:no-such-recording")
