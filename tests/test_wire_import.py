"""Importing raw captured bodies, and re-parsing streams recorded with record_wire=True."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import httpx
import pytest

from streamwidget.cli import main
from streamwidget.manager import start
from streamwidget.providers import responses_fold
from streamwidget.providers.replay import ReplayProvider
from streamwidget.providers.responses import OpenAIResponsesProvider
from streamwidget.store import Store
from streamwidget.tools import tool
from streamwidget.widgets.compare import Compare
from streamwidget.wire_import import import_wire, reparse

WIRE = Path(__file__).parent / "wire"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    with Store(tmp_path / "s.duckdb") as s:
        yield s


def expected(folder: str, case: str) -> dict[str, Any]:
    return json.loads((WIRE / folder / f"{case}.json").read_text())["expected"]


@pytest.mark.parametrize(
    ("wire", "folder", "case"),
    [
        ("responses", "responses", "web-search"),
        ("gemini", "gemini", "thought-parts"),
        ("openai", "sdk", "chat-reasoning-tool-call"),
        ("anthropic", "sdk", "anthropic-tool-no-args"),
    ],
)
def test_import_a_captured_body(wire: str, folder: str, case: str, store: Store) -> None:
    want = expected(folder, case)
    sid = import_wire(WIRE / folder / f"{case}.txt", wire, store=store, model="m", pace=0.01)
    doc = store.get(sid)
    assert (doc.status, doc.text, doc.reasoning) == (
        want["status"],
        want["text"],
        want["reasoning"],
    )
    assert [c.name for c in doc.tool_calls] == [c["name"] for c in want["tool_calls"]]
    events = store.events(sid)
    wire_text = "".join(e["data"] for e in events if e["type"] == "wire")
    assert wire_text.encode() == (WIRE / folder / f"{case}.txt").read_bytes()  # kept as it was
    times = [e["t"] for e in events]
    assert times == sorted(times) and times[-1] > 0  # paced


def test_import_ollama_ndjson(tmp_path: Path, store: Store) -> None:
    lines = [
        {"model": "m", "message": {"role": "assistant", "content": "Hi"}, "done": False},
        {"model": "m", "message": {"role": "assistant", "content": " there"}, "done": False},
        {
            "model": "m",
            "done": True,
            "done_reason": "stop",
            "prompt_eval_count": 3,
            "eval_count": 2,
        },
    ]
    path = tmp_path / "capture.ndjson"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    doc = store.get(import_wire(path, "ollama", store=store))
    assert (doc.status, doc.text, doc.usage) == (
        "complete",
        "Hi there",
        {"input_tokens": 3, "output_tokens": 2},
    )


class Pieces(httpx.AsyncByteStream):
    def __init__(self, body: bytes) -> None:
        self.body = body

    async def __aiter__(self):
        rng, at = random.Random(5), 0
        while at < len(self.body):
            step = rng.randint(1, 48)
            yield self.body[at : at + step]
            at += step


def responses_provider(*bodies: bytes) -> OpenAIResponsesProvider:
    queue = list(bodies)

    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"content-type": "text/event-stream"}
        return httpx.Response(200, headers=headers, stream=Pieces(queue.pop(0)))

    return OpenAIResponsesProvider(
        "gpt-test",
        api_key="sk-test-000000",
        record_wire=True,
        transport=httpx.MockTransport(handler),
    )


def test_reparse_applies_a_parser_fix_to_recorded_traffic(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = (WIRE / "responses" / "reasoning-summary-id-rotation.txt").read_bytes()
    want = expected("responses", "reasoning-summary-id-rotation")
    # Yesterday's parser dropped reasoning summaries.
    with monkeypatch.context() as m:
        piece = responses_fold.ResponsesFolder._piece

        def no_reasoning(self: Any, field: str, text: Any) -> list[dict[str, Any]]:
            return [] if field == "reasoning" else piece(self, field, text)

        m.setattr(responses_fold.ResponsesFolder, "_piece", no_reasoning)
        old_id = start(responses_provider(body), request="hi", store=store).wait(30).stream_id
    assert store.get(old_id).reasoning == ""
    new_id = reparse(old_id, store=store)
    old, new = store.get(old_id), store.get(new_id)
    assert new_id != old_id
    assert (new.reasoning, new.text) == (want["reasoning"], want["text"])
    assert new.usage == old.usage == want["usage"]  # the case names its usage
    assert new.status == old.status == "complete"
    old_t = [e["t"] for e in store.events(old_id) if e["type"] == "text"]
    new_t = [e["t"] for e in store.events(new_id) if e["type"] == "text"]
    compare = Compare(old_id, new_id, store=store)  # old against new, as the docs say
    assert [d.reasoning for d in compare.documents] == ["", want["reasoning"]]
    assert compare.similarity == 1.0  # the text itself did not change
    # each event takes the time of the wire piece that completed it, written just before the
    # original event -- or before the next one, when the recording held back the piece's end
    # (it could have been the start of a secret, to be redacted whole)
    assert len(new_t) == len(old_t) and new_t == sorted(new_t)
    later = [*old_t[1:], old_t[-1]]
    assert all(n <= o + 1e-4 for n, o in zip(new_t, later))
    assert new_t[-1] > 0


def test_reparse_a_tool_loop_keeps_the_apps_tool_results(store: Store) -> None:
    step1 = (WIRE / "responses" / "function-call.txt").read_bytes()
    step2 = (WIRE / "responses" / "reasoning-summary-id-rotation.txt").read_bytes()

    @tool
    def get_weather(location: str, unit: str = "celsius") -> str:
        """Weather."""
        return f"sunny in {location}"

    provider = responses_provider(step1, step2)
    old = start(provider, request="hi", store=store, tools=[get_weather]).wait(30)
    assert old.status == "complete" and old.tool_calls[0].result == "sunny in San Francisco, CA"
    new = store.get(reparse(old.stream_id, store=store))
    assert new.content_equal(old)
    assert new.usage["input_tokens"] == 467 + 19  # summed over both steps, as the manager does


def test_reparse_needs_a_recorded_wire(store: Store) -> None:
    sid = start(ReplayProvider("weather-tool-error", speed=0), store=store).wait(30).stream_id
    with pytest.raises(ValueError, match="record_wire=True"):
        reparse(sid, store=store)


def test_cli_import_wire_and_reparse(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(tmp_path / "cli.duckdb")
    capture = str(WIRE / "gemini" / "google-search-grounding.txt")
    assert main(["--store", path, "import", "--wire", "gemini", capture]) == 0
    sid = capsys.readouterr().out.split()[0]
    assert main(["--store", path, "reparse", sid[:8]]) == 0
    out = capsys.readouterr().out
    assert "same document" in out and "complete" in out
    assert main(["--store", path, "import", "--wire", "gopher", capture]) == 2
