"""Chat at 50, 500, 2,000 and 5,000 exchanges: a reply costs what changes, not the history.

In one process, with a comm that counts what the widget publishes (no kernel, no browser):
a conversation of N stored exchanges (written in bulk) is opened in a Chat whose front end has
said hello, then K more exchanges are sent with a provider that streams a short reply at once.

Measured per size: time to open the conversation (rows read, the window built and sent), the
bytes of the window, the first send's time to build the model's context (once per open), and
per later exchange: the time from ``send()`` until the user's turn is published, the time
until the reply has ended, and the bytes published. Targets (issue 15): bytes per reply at
2,000 within 1.2x of at 50; the user's turn out within 100 ms.

Standalone: ``python benchmarks/bench_chat.py [--quick] [--json PATH]``.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from typing import Any

import comm
from comm.base_comm import BaseComm
from common import REPO, emit, log, parse_args, row

from streamwidget import Store
from streamwidget.widgets.chat import Chat

sys.path.insert(0, str(REPO / "tests"))
from long_chat import long_conversation

SECTION = "chat"


class CountingComm(BaseComm):
    """Keeps the size and time of every message a widget publishes."""

    sent: list[tuple[float, str, int, Any]] = []

    def publish_msg(self, msg_type: str, data: Any = None, *args: Any, **kwargs: Any) -> None:
        size = len(json.dumps(data, default=str))
        CountingComm.sent.append((time.perf_counter(), msg_type, size, data))


#: Conversation sizes measured (the demo's 50, then 10x, 40x and 100x); the plot draws the curve.
SIZES = (50, 500, 2000, 5000)
#: Bytes per reply of v0.1, measured in JupyterLab (issue 15): the turns re-sent whole.
V01_REPLY_BYTES = {50: 253e3, 500: 2.4e6, 2000: 9.7e6}

REPLY = "Sure, here is a short answer of about a dozen words for you."


class Quick:
    name, model = "quick", "quick-1"

    def describe(self, request: Any) -> dict[str, Any]:
        return {}

    async def stream(self, request: Any):
        for word in REPLY.split(" "):
            yield {"type": "text", "text": word + " "}
        yield {"type": "finish", "reason": "stop"}


def user_turn_out(since: float, text: str) -> float:
    for t, _kind, _size, data in CountingComm.sent:
        content = (data or {}).get("content") or {}
        turn = content.get("turn") or {}
        if t >= since and turn.get("role") == "user" and turn.get("text") == text:
            return t - since
    raise AssertionError("the user's turn was not published")


async def measure(exchanges: int, replies: int) -> dict[str, Any]:
    store = Store(":memory:")
    conversation_id = long_conversation(store, exchanges)
    CountingComm.sent = []
    started = time.perf_counter()
    chat = Chat(Quick(), store=store, conversation_id=conversation_id, frame_interval=0.001)
    open_s = time.perf_counter() - started
    window = sum(
        size
        for _t, _k, size, data in CountingComm.sent
        if ((data or {}).get("content") or {}).get("kind") == "window"
    )
    chat._handle_custom_msg({"kind": "hello"}, [])
    started = time.perf_counter()
    await chat.send("first")
    first_s = time.perf_counter() - started
    to_user, to_end, sizes = [], [], []
    for i in range(replies):
        before = len(CountingComm.sent)
        text = f"question {i}"
        started = time.perf_counter()
        handle = chat.send(text)
        await handle
        await asyncio.sleep(0.002)  # the last frame and the end
        to_end.append(time.perf_counter() - started)
        to_user.append(user_turn_out(started, text))
        sizes.append(sum(size for _t, _k, size, _d in CountingComm.sent[before:]))
    chat.close()
    store.close()
    return {
        "exchanges": exchanges,
        "open_s": open_s,
        "window_bytes": window,
        "first_send_s": first_s,
        "user_turn_ms": 1000 * statistics.median(to_user),
        "reply_ms": 1000 * statistics.median(to_end),
        "reply_bytes": statistics.median(sizes),
    }


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    replies = 5 if args.quick else 20
    comm.create_comm = lambda *a, **k: CountingComm(*a, **k)
    runs = [asyncio.run(measure(n, replies)) for n in SIZES]
    by_size = {r["exchanges"]: r for r in runs}
    small, large, largest = by_size[50], by_size[2000], by_size[SIZES[-1]]
    for result in runs:
        log(
            f"{result['exchanges']} exchanges: open {result['open_s'] * 1000:.0f} ms "
            f"(window {result['window_bytes'] / 1000:.1f} kB), first send "
            f"{result['first_send_s'] * 1000:.0f} ms, user turn out "
            f"{result['user_turn_ms']:.1f} ms, reply {result['reply_ms']:.1f} ms, "
            f"{result['reply_bytes']:.0f} B per reply"
        )
    ratio = large["reply_bytes"] / small["reply_bytes"]
    log(f"bytes per reply 2000/50: {ratio:.2f}x")
    rows = [
        row(
            SECTION,
            "iopub bytes per reply, 2,000 vs 50 exchanges",
            ratio,
            "x",
            baseline=9.7e6 / 253e3,
            baseline_label="v0.1 (turns re-sent whole)",
            target="≤ 1.2x",
            passed=ratio <= 1.2,
        ),
        row(
            SECTION,
            f"iopub bytes per reply, {SIZES[-1]:,} vs 50 exchanges (100x the demo)",
            largest["reply_bytes"] / small["reply_bytes"],
            "x",
            target="≤ 1.2x",
            passed=largest["reply_bytes"] / small["reply_bytes"] <= 1.2,
            note=f"send() to user turn out {largest['user_turn_ms']:.1f} ms, open "
            f"{largest['open_s'] * 1e3:.0f} ms, first send {largest['first_send_s'] * 1e3:.0f} ms",
        ),
        row(
            SECTION,
            "bytes per reply at 2,000 exchanges",
            large["reply_bytes"] / 1e3,
            "kB",
            baseline=9.7e3,
            baseline_label="v0.1",
        ),
        row(
            SECTION,
            "send() to user turn out, 2,000 exchanges",
            large["user_turn_ms"],
            "ms",
            baseline=1100,
            baseline_label="v0.1 (history read first)",
            target="≤ 100 ms",
            passed=large["user_turn_ms"] <= 100,
        ),
        row(SECTION, "open a 2,000-exchange conversation (kernel)", large["open_s"] * 1e3, "ms"),
        # what still grows with the history: the store's own per-message queries
        # (add_message, the list of conversations with their message counts)
        row(
            SECTION,
            "kernel time per reply, 2,000 vs 50",
            large["reply_ms"] / small["reply_ms"],
            "x",
        ),
        row(
            SECTION,
            "first send after opening 2,000 exchanges (context built once)",
            large["first_send_s"] * 1e3,
            "ms",
            baseline=1100,
            baseline_label="v0.1: history read at every send",
        ),
    ]
    emit(args, rows, {"small": small, "large": large, "runs": runs, "v0.1": V01_REPLY_BYTES})


if __name__ == "__main__":
    main()
