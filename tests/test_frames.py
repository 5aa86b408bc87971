"""The delta sender StreamView and Chat share (widgets/frames.py)."""

import asyncio

from streamwidget.widgets.frames import DeltaFrames


def test_pieces_are_coalesced_into_one_delta_per_field_per_frame():
    sent, frames = [], []
    f = DeltaFrames(
        ("text", "reasoning"),
        frame_interval=1.0,
        send=sent.append,
        after_frame=lambda: frames.append(len(sent)),
        tag={"message_id": "m1"},
    )
    f.add("text", "a🌧")
    f.add("reasoning", "r")
    f.add("text", "é")
    f.flush()
    assert sent == [
        {"kind": "delta", "field": "text", "at": 0, "text": "a🌧é", "message_id": "m1"},
        {"kind": "delta", "field": "reasoning", "at": 0, "text": "r", "message_id": "m1"},
    ]
    assert frames == [2] and f.sent == 2
    f.add("text", "!")
    f.flush()
    assert sent[-1]["at"] == 4 == f.offsets["text"] - 1  # UTF-16 units: the emoji counts 2
    f.flush()  # nothing pending: no delta, the owner still hears of the frame
    assert len(sent) == 3 and frames == [2, 3, 3]


async def test_a_frame_goes_out_once_per_interval_however_many_pieces_arrive():
    sent = []
    f = DeltaFrames(("text",), frame_interval=0.05, send=sent.append, after_frame=lambda: None)
    f.flush()  # a frame just went out: the next waits for the interval
    for piece in "hello":
        f.add("text", piece)
        f.schedule()
    await asyncio.sleep(0.01)
    assert sent == []
    await asyncio.sleep(0.08)
    assert [m["text"] for m in sent] == ["hello"]
    f.add("text", "x")
    f.schedule()
    f.cancel()  # a cancelled frame never goes out; what is pending stays pending
    await asyncio.sleep(0.08)
    assert len(sent) == 1
    f.flush()
    assert sent[-1]["text"] == "x" and sent[-1]["at"] == 5


def test_without_a_loop_a_due_frame_goes_out_at_once():
    sent = []
    f = DeltaFrames(("text",), frame_interval=0.0, send=sent.append, after_frame=lambda: None)
    f.add("text", "hi")
    f.schedule()
    assert [m["text"] for m in sent] == ["hi"]
