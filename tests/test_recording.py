import json

import pytest

from streamwidget import Recording, RecordingError, bundled_recordings

HEADER = '{"streamwidget":"recording","version":1,"provider":"openai","model":"m"}'


def test_round_trip_keeps_header_and_events(tmp_path):
    rec = Recording.new(
        provider="openai",
        model="m",
        request={"messages": []},
        events=[
            {"t": 0.1, "type": "text", "text": "Hé"},
            {"t": 0.2, "type": "text", "text": "llo 🌧️"},
            {"t": 0.3, "type": "finish", "reason": "stop"},
        ],
    )
    path = rec.save(tmp_path / "r.jsonl")
    again = Recording.load(path)
    assert again.header == rec.header
    assert again.events == rec.events
    assert again.document().text == "Héllo 🌧️"
    assert again.document().status == "complete"


def test_strict_load_names_file_line_and_problem(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(
        HEADER + '\n{"t": 0.1, "type": "text", "text": "a"}\n{"t": 0.2, "type": "text"}\n'
    )
    with pytest.raises(RecordingError) as info:
        Recording.load(path)
    assert info.value.line == 3
    assert str(path) in str(info.value)
    assert "'text' event needs field 'text'" in str(info.value)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"t": 0.1, "type": "text", "text": "a"', "not valid JSON"),
        ('{"t": -1, "type": "text", "text": "a"}', "finite number >= 0"),
        ('{"type": "text", "text": "a"}', "needs a number 't'"),
        ("[1, 2]", "must be a JSON object"),
        ('{"t": 0.05, "type": "text", "text": "a"}', "goes back in time"),
    ],
)
def test_each_kind_of_bad_line_is_reported(line, message):
    text = HEADER + '\n{"t": 0.1, "type": "text", "text": "x"}\n' + line + "\n"
    with pytest.raises(RecordingError, match=message):
        Recording.loads(text)


def test_lenient_load_keeps_valid_lines_and_lists_problems():
    text = "\n".join(
        [
            HEADER,
            '{"t": 0.1, "type": "text", "text": "a"}',
            "garbage",
            '{"t": 0.2, "type": "text", "text": "b"}',
            '{"t": 0.3, "type": "finish", "reason": "stop"}',
        ]
    )
    rec = Recording.loads(text, strict=False)
    assert rec.document().text == "ab"
    assert [p.line for p in rec.problems] == [3]


def test_unknown_event_types_are_kept_and_skipped_by_the_document():
    text = (
        HEADER
        + '\n{"t": 0.1, "type": "sparkle", "x": 1}\n{"t": 0.2, "type": "text", "text": "a"}\n'
    )
    rec = Recording.loads(text)
    assert rec.events[0]["type"] == "sparkle"
    assert rec.document().text == "a"


def test_events_after_the_end_are_rejected():
    text = (
        HEADER
        + '\n{"t": 0.1, "type": "finish", "reason": "stop"}'
        + '\n{"t": 0.2, "type": "text", "text": "late"}\n'
    )
    with pytest.raises(RecordingError, match="after the stream already ended"):
        Recording.loads(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ('{"hello": 1}\n', "is this a streamwidget recording"),
        ('{"streamwidget": "recording", "version": 9}\n', "version 9 is not supported"),
    ],
)
def test_bad_headers(text, message):
    with pytest.raises(RecordingError, match=message):
        Recording.loads(text)


def test_missing_file_and_unknown_bundled_name(tmp_path):
    with pytest.raises(RecordingError, match="no such file"):
        Recording.load(tmp_path / "nope.jsonl")
    with pytest.raises(RecordingError, match="no bundled recording named 'nope'"):
        Recording.bundled("nope")


def test_bundled_recordings_load_and_end_properly():
    names = bundled_recordings()
    assert {"markdown-tour", "weather-tool-error"} <= set(names)
    for name in names:
        rec = Recording.bundled(name)
        assert rec.events[-1]["type"] in ("finish", "error")
        assert rec.document().done


def test_markdown_tour_is_long_markdown_with_code_and_a_table():
    rec = Recording.bundled("markdown-tour")
    tokens = [e for e in rec.events if e["type"] == "text"]
    assert len(tokens) >= 2500
    text = rec.document().text
    assert text.count("```") >= 8  # at least four fenced code blocks
    assert any(line.startswith("|") and "---" in line for line in text.splitlines())  # a table
    assert rec.document().status == "complete"


def test_weather_recording_has_a_tool_call_and_ends_in_error():
    doc = Recording.bundled("weather-tool-error").document()
    assert doc.status == "error" and doc.error["kind"] == "overloaded"
    assert doc.tool_calls[0].name == "get_weather"
    assert doc.tool_calls[0].status == "done"
    args_text = doc.tool_calls[0].args_text
    assert json.loads(args_text) == doc.tool_calls[0].arguments


def test_line_separators_inside_json_strings_stay_in_the_text():
    text = "a\u2028b\u2029c\x1cd\x85e"
    rec = Recording.new(provider="p", model="m", events=[{"t": 0.1, "type": "text", "text": text}])
    again = Recording.loads(rec.dumps())
    assert again.events[0]["text"] == text


def test_crlf_line_endings_are_read():
    crlf = HEADER + '\r\n{"t": 0.1, "type": "text", "text": "a"}\r\n'
    assert Recording.loads(crlf).document().text == "a"


def test_event_row_shows_the_payload_as_short_json():
    from streamwidget.recording import PAYLOAD_CHARS, event_row
    from streamwidget.widgets import player

    event = {"t": 1.5, "type": "text", "text": "é" * 500}
    row = event_row(3, event)
    assert row["i"] == 3 and row["t"] == 1.5 and row["type"] == "text"
    assert len(row["payload"]) == PAYLOAD_CHARS and row["payload"].endswith("…")
    assert json.loads(event_row(0, {"t": 0, "type": "finish", "reason": "stop"})["payload"]) == {
        "reason": "stop"
    }
    # the CLI (`show --events`) and the Player's inspector show the same rows
    assert player.event_row(3, event) == row
