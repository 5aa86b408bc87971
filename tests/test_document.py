import copy
import random

from streamwidget import Document


def text(t, piece):
    return {"t": t, "type": "text", "text": piece}


def test_text_grows_by_appending_and_reads_the_same_as_a_plain_string():
    rng = random.Random(7)
    doc, expected = Document("s"), ""
    for i in range(500):
        piece = "".join(rng.choice("ab é🌧️\n") for _ in range(rng.randint(0, 6)))
        doc.apply(text(i / 100, piece))
        expected += piece
        offset = rng.randint(0, len(expected))
        assert doc.text_since(offset) == expected[offset:]
        assert doc.text_length == len(expected)
        if i % 50 == 0:
            assert doc.text == expected
    assert doc.text == expected


def test_a_finished_document_ignores_later_events_and_settles_tools():
    doc = Document.from_events(
        [
            {"t": 0.1, "type": "tool_call_start", "id": "c", "name": "f"},
            text(0.2, "hi"),
            {"t": 0.3, "type": "cancelled"},
            text(0.4, " late"),
        ]
    )
    assert doc.status == "cancelled" and doc.text == "hi"
    assert doc.tool_calls[0].status == "error" and "cancelled" in doc.tool_calls[0].error
    assert doc.version == 4


def test_copies_are_independent_and_equal_until_changed():
    doc = Document.from_events([text(0.1, "a"), text(0.2, "b")], stream_id="s")
    twin = copy.deepcopy(doc)
    assert twin == doc
    twin.apply(text(0.3, "c"))
    assert (doc.text, twin.text) == ("ab", "abc") and twin != doc


def test_usage_events_merge_and_first_token_time_is_kept():
    doc = Document.from_events(
        [
            {"t": 0.1, "type": "reasoning", "text": "hmm"},
            text(0.5, "x"),
            {"t": 0.6, "type": "usage", "input_tokens": 3},
            {"t": 0.7, "type": "usage", "output_tokens": 1},
            {"t": 0.7, "type": "finish", "reason": "stop"},
        ]
    )
    assert doc.first_token_t == 0.5
    assert doc.usage == {"input_tokens": 3, "output_tokens": 1}
    assert doc.to_dict()["done"] is True
