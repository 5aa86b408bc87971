"""Writes agent-steps.jsonl: a made-up multi-step agent reply (thinking, text, tool, text,
tool awaiting approval, text) paced over ~6 s, for the parts tests and the browser test.

Run: python tests/data/make_agent_steps.py
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent


def words(t: float, kind: str, text: str, step: float = 0.05) -> tuple[float, list[dict]]:
    out = []
    for piece in text.split(" "):
        out.append({"t": round(t, 3), "type": kind, "text": piece + " "})
        t += step
    out[-1]["text"] = out[-1]["text"][:-1]
    return t, out


def events() -> list[dict]:
    ev: list[dict] = []
    t, run = words(0.2, "reasoning", "The user wants the weather. I should call the tool first.")
    ev += run
    t, run = words(t, "text", "Let me check the weather in Paris.\n\n")
    ev += run
    ev += [
        {"t": round(t, 3), "type": "tool_call_start", "id": "call_1", "name": "get_weather"},
        {
            "t": round(t + 0.05, 3),
            "type": "tool_call_delta",
            "id": "call_1",
            "args_delta": '{"city": "Paris"}',
        },
        {
            "t": round(t + 0.1, 3),
            "type": "tool_call_end",
            "id": "call_1",
            "arguments": {"city": "Paris"},
        },
        {
            "t": round(t + 0.9, 3),
            "type": "tool_result",
            "id": "call_1",
            "status": "done",
            "result": {"temp_c": 19, "sky": "sunny"},
        },
    ]
    t += 1.0
    t, run = words(
        t,
        "text",
        "It is 19 °C and sunny. Step two code:\n\n```python\nprint('step two')\n```\n\n"
        "Now the forecast.\n\n",
    )
    ev += run
    ev += [
        {"t": round(t, 3), "type": "tool_call_start", "id": "call_2", "name": "get_forecast"},
        {
            "t": round(t + 0.05, 3),
            "type": "tool_call_end",
            "id": "call_2",
            "arguments": {"city": "Paris", "days": 5},
        },
        {
            "t": round(t + 0.1, 3),
            "type": "tool_status",
            "id": "call_2",
            "status": "pending_approval",
        },
        {"t": round(t + 2.6, 3), "type": "tool_status", "id": "call_2", "status": "running"},
        {
            "t": round(t + 2.9, 3),
            "type": "tool_result",
            "id": "call_2",
            "status": "done",
            "result": "dry all week",
        },
    ]
    t += 3.0
    t, run = words(
        t,
        "text",
        "The week stays dry, so $x^2 + 1$ umbrellas are not needed.\n\n"
        "```python\nprint('final')\n```",
    )
    ev += run
    ev += [
        {"t": round(t, 3), "type": "usage", "input_tokens": 120, "output_tokens": 80},
        {"t": round(t, 3), "type": "finish", "reason": "stop"},
    ]
    return ev


def main() -> None:
    header = {
        "streamwidget": "recording",
        "version": 1,
        "provider": "openai",
        "model": "made-up-agent",
        "created_at": "2026-12-07T10:00:00Z",
        "title": "Agent steps (made up)",
        "request": {"messages": [{"role": "user", "content": "Weather in Paris this week?"}]},
    }
    lines = [json.dumps(header)] + [json.dumps(e, ensure_ascii=False) for e in events()]
    (HERE / "agent-steps.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
