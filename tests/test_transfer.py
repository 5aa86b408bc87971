"""Import and export: round trips, de-duplication, bad lines, redaction, conversations."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest

import streamwidget as sw
from streamwidget import Recording, ReplayProvider, Store, start
from streamwidget.transfer import (
    BadLinesError,
    Redactor,
    TransferError,
    export_jsonl,
    export_parquet,
    import_jsonl,
    import_parquet,
    import_paths,
    open_recording,
)

BUNDLED = Path(str(resources.files("streamwidget") / "recordings"))


def stream_count(store: Store) -> int:
    return store.sql("SELECT count(*) FROM streams").fetchall()[0][0]


@pytest.fixture
def store(new_store):
    """A store on each backend (see tests/conftest.py); ``new_store`` makes more of them."""
    with new_store("a") as store:
        yield store


def test_jsonl_store_parquet_store_jsonl_round_trip_is_identical(tmp_path, store, new_store):
    originals = sorted(BUNDLED.glob("*.jsonl"))
    first = import_jsonl(originals, store=store)
    assert len(first.imported) == len(originals) and not first.duplicates
    out1 = export_jsonl(tmp_path / "out1", store=store)
    export_parquet(tmp_path / "all.parquet", store=store)
    with new_store("b") as second:
        assert sorted(import_parquet(tmp_path / "all.parquet", store=second).imported) == sorted(
            first.imported
        )
        out2 = export_jsonl(tmp_path / "out2", store=second)
    assert [p.name for p in out1] == [p.name for p in out2]
    for a, b in zip(out1, out2):
        assert a.read_bytes() == b.read_bytes(), a.name  # header included
    exported = {json.loads(p.read_text().splitlines()[0])["title"]: p for p in out1}
    for original in originals:
        lines = original.read_text(encoding="utf-8").splitlines()
        header = json.loads(lines[0])
        copy = exported[header["title"]].read_text(encoding="utf-8").splitlines()
        assert copy[1:] == lines[1:], "event lines are byte-for-byte the original's"
        # The one header difference: the stream id, added at the end.
        assert json.loads(copy[0]) == {**header, "stream_id": json.loads(copy[0])["stream_id"]}


def test_importing_the_same_recording_twice_does_not_duplicate_it(tmp_path, store):
    path = BUNDLED / "hello.jsonl"
    first = import_jsonl(path, store=store)
    again = import_jsonl([path, path], store=store)
    assert again.imported == [] and again.duplicates == first.imported * 2
    assert stream_count(store) == 1
    # An exported copy (its header now carries the stream id) is the same recording too.
    [copy] = export_jsonl(tmp_path / "copy.jsonl", store=store)
    assert import_jsonl(copy, store=store).duplicates == first.imported
    export_parquet(tmp_path / "copy.parquet", store=store)
    assert import_parquet(tmp_path / "copy.parquet", store=store).duplicates == first.imported
    assert stream_count(store) == 1


def test_a_live_stream_exported_and_imported_back_is_not_duplicated(tmp_path, store, new_store):
    handle = start(ReplayProvider("hello", speed=0), store=store)
    handle.wait(10)
    [path] = export_jsonl(tmp_path / "live.jsonl", store=store, streams=handle.id)
    assert import_jsonl(path, store=store).duplicates == [handle.id]
    with new_store("other") as other:  # elsewhere it keeps its id
        assert import_jsonl(path, store=other).imported == [handle.id]
        assert other.get(handle.id).text == store.get(handle.id).text


def _answer(text: str, **header) -> Recording:
    events = [
        {"t": 0.1, "type": "text", "text": text},
        {"t": 0.2, "type": "finish", "reason": "stop"},
    ]
    return Recording.new(provider="test", model="m", events=events, **header)


def test_many_recordings_import_in_batches_each_as_a_single_import_would(store, monkeypatch):
    from streamwidget.store import imports

    original = _answer("already here")
    kept = store.import_recording(original)
    copy = Recording({**original.header, "stream_id": kept}, original.events)  # as exported
    a, b = _answer("a"), _answer("b")
    named = _answer("c", stream_id="s_chosen")
    clash = _answer("d", stream_id=kept)  # another content under a taken id
    twin = _answer("e", stream_id="s_twin")
    twin_again = _answer("f", stream_id="s_twin")  # the same free id twice in one batch
    writes: list[int] = []
    write_imports = store._backend.write_imports
    monkeypatch.setattr(
        store._backend,
        "write_imports",
        lambda batch: (writes.append(len(batch)), write_imports(batch))[1],
    )
    monkeypatch.setattr(imports, "IMPORT_BATCH", 3)
    batch = [a, b, a, copy, named, clash, twin, twin_again]
    outcomes = store.import_recordings(batch)

    assert [o.written for o in outcomes] == [True, True, False, False, True, True, True, True]
    ids = [o.stream_id for o in outcomes]
    assert ids[2] == ids[0] and ids[3] == kept and ids[4] == "s_chosen"
    assert ids[5] not in (kept, "s_chosen") and ids[6] == "s_twin"
    assert ids[7] not in ("s_twin", *ids[:7])
    assert writes == [2, 2, 2]  # 8 recordings in batches of 3; duplicates are not written
    assert stream_count(store) == 7
    for recording, stream_id in zip(batch, ids, strict=True):
        assert store.get(stream_id).text == recording.events[0]["text"]
    # a second run finds every one of them
    again = store.import_recordings(batch)
    assert [o.written for o in again] == [False] * 8
    assert [o.stream_id for o in again][:5] == ids[:5]


BAD_FILE = "\n".join(
    [
        json.dumps({"streamwidget": "recording", "version": 1, "provider": "p", "model": "m"}),
        '{"t": 0.1, "type": "text", "text": "Hello"}',
        '{"t": 0.2, "type": "text", "text": ',  # line 3: not JSON
        '{"t": 0.3, "type": "text", "text": " world"}',
        '{"t": 0.1, "type": "text", "text": "late"}',  # line 5: back in time
        '{"t": 0.4, "type": "finish", "reason": "stop"}',
    ]
)


def test_bad_lines_are_each_reported_and_nothing_is_imported_unless_asked(tmp_path, store):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(BAD_FILE)
    good = BUNDLED / "hello.jsonl"
    with pytest.raises(BadLinesError) as caught:
        import_jsonl([good, bad], store=store)
    assert [(p.source, p.line) for p in caught.value.problems] == [(str(bad), 3), (str(bad), 5)]
    assert "line 3: not valid JSON" in str(caught.value)
    assert "line 5: t=0.1 goes back in time" in str(caught.value)
    assert stream_count(store) == 0, "nothing imported, not even the good file"

    result = import_jsonl([good, bad], store=store, skip_bad=True)
    assert len(result.imported) == 2 and len(result.problems) == 2
    doc = store.get(result.imported[1])
    assert (doc.text, doc.status) == ("Hello world", "complete")


def test_an_unreadable_file_is_a_problem_too(tmp_path, store):
    (tmp_path / "not.jsonl").write_text('{"hello": 1}\n')
    with pytest.raises(BadLinesError, match="is this a streamwidget recording"):
        import_paths(tmp_path, store=store)
    result = import_paths(
        [tmp_path / "not.jsonl", BUNDLED / "hello.jsonl"], store=store, skip_bad=True
    )
    assert len(result.imported) == 1 and result.problems[0].line == 1


def test_a_recording_that_never_ends_is_imported_as_interrupted(store):
    events = [{"t": 0.1, "type": "text", "text": "par"}, {"t": 0.4, "type": "text", "text": "tial"}]
    sid = store.import_recording(Recording.new(provider="p", model="m", events=events))
    doc = store.get(sid)
    assert (doc.status, doc.text, doc.last_t) == ("interrupted", "partial", 0.4)
    assert store.events(sid)[-1] == {"t": 0.4, "type": "interrupted"}
    assert store.import_recording(Recording.new(provider="p", model="m", events=events)) != sid


def test_redaction_replaces_secrets_in_payloads_and_the_request(tmp_path, store):
    key = "sk-proj-" + "A1b2C3d4" * 4
    recording = Recording.new(
        provider="openai",
        model="m",
        request={"messages": [{"role": "user", "content": "mail bob@example.com"}]},
        events=[
            {"t": 0.1, "type": "text", "text": f"Your key is {key}."},
            {"t": 0.2, "type": "tool_call_start", "id": "c", "name": "send"},
            {"t": 0.3, "type": "tool_call_end", "id": "c", "arguments": {"to": "ann@corp.io"}},
            {"t": 0.4, "type": "tool_result", "id": "c", "status": "done", "result": ["ok"]},
            {"t": 0.5, "type": "finish", "reason": "stop"},
        ],
    )
    sid = store.import_recording(recording)
    [path] = export_jsonl(tmp_path / "r.jsonl", store=store, streams=sid)
    text = path.read_text()
    for secret in [key, "bob@example.com", "ann@corp.io"]:
        assert secret not in text
    assert "[REDACTED:api_key]" in text and text.count("[REDACTED:email]") == 2
    export_parquet(tmp_path / "r.parquet", store=store, redact=["corp"])
    parquet = store.sql(
        "SELECT string_agg(payload::VARCHAR || header::VARCHAR, '') AS s FROM read_parquet($1)",
        [str(tmp_path / "r.parquet")],
    ).fetchall()[0][0]
    assert "ann@[REDACTED:pattern1].io" in parquet and key in parquet
    [plain] = export_jsonl(tmp_path / "plain.jsonl", store=store, streams=sid, redact=False)
    assert key in plain.read_text()
    scrub = Redactor({"digits": r"\d+"}, replacement="#")
    assert scrub.value({"a": ["x1", {"b": "22"}], "n": 3}) == {"a": ["x#", {"b": "#"}], "n": 3}
    assert scrub.count == 2


def test_a_conversation_exports_its_streams_and_comes_back_with_them(tmp_path, store, new_store):
    conversation = store.create_conversation("Weather chat")
    ids = []
    for name in ["hello", "weather-tool-error"]:
        handle = start(ReplayProvider(name, speed=0), store=store, conversation_id=conversation)
        handle.wait(10)
        ids.append(handle.id)
    start(ReplayProvider("hello", speed=0), store=store).wait(10)  # not in the conversation
    paths = export_jsonl(tmp_path / "conv", store=store, conversation=conversation)
    assert sorted(p.stem for p in paths) == sorted(ids)
    header = json.loads(paths[0].read_text().splitlines()[0])
    assert (header["conversation_id"], header["conversation_title"]) == (
        conversation,
        "Weather chat",
    )
    with new_store("c") as other:
        assert sorted(import_jsonl(tmp_path / "conv", store=other).imported) == sorted(ids)
        assert other.conversation(conversation)["title"] == "Weather chat"
        again = export_jsonl(tmp_path / "conv2", store=other, conversation=conversation)
        assert [p.read_bytes() for p in again] == [p.read_bytes() for p in paths]


def test_export_targets_and_selection_errors(tmp_path, store):
    import_jsonl(BUNDLED, store=store)
    with pytest.raises(TransferError, match="give a folder"):
        export_jsonl(tmp_path / "all.jsonl", store=store)
    with pytest.raises(TransferError, match="no stream"):
        export_jsonl(tmp_path / "x", store=store, streams=["s_missing"])
    with pytest.raises(TransferError, match="no streams in conversation"):
        export_parquet(tmp_path / "x.parquet", store=store, conversation="c_missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(TransferError, match="no .jsonl or .parquet files"):
        import_paths(tmp_path / "empty", store=store)


def test_integer_times_come_back_as_floats(tmp_path, store):
    recording = Recording.new(
        provider="p",
        model="m",
        events=[
            {"t": 0, "type": "text", "text": "a"},
            {"t": 1, "type": "finish", "reason": "stop"},
        ],
    )
    sid = store.import_recording(recording)
    [path] = export_jsonl(tmp_path / "t.jsonl", store=store, streams=sid)
    assert path.read_text().splitlines()[1:] == [
        '{"t":0.0,"type":"text","text":"a"}',
        '{"t":1.0,"type":"finish","reason":"stop"}',
    ]
    assert store.find_recording(Recording.load(path)) == sid


def test_open_recording_accepts_every_kind_of_source(tmp_path, store):
    handle = start(ReplayProvider("hello", speed=0), store=store)
    handle.wait(10)
    view = sw.StreamView(handle)
    path = Recording.bundled("hello").save(tmp_path / "h.jsonl")
    texts = {
        open_recording(x, store).document().text
        for x in [Recording.bundled("hello"), "hello", path, str(path), handle, view, handle.id]
    }
    assert len(texts) == 1
    with pytest.raises(TransferError, match="not a file, a bundled recording"):
        open_recording("nothing-like-this", store)
    with pytest.raises(TypeError):
        open_recording(42, store)


def test_one_resolver_names_files_bundled_recordings_stream_ids_and_prefixes(tmp_path, store):
    from streamwidget.transfer import open_recording, resolve_stream_id

    hello = Recording.bundled("hello")
    saved = hello.save(tmp_path / "mine.jsonl")
    assert Recording.lookup(saved).events == hello.events  # a file
    assert Recording.lookup("hello.jsonl").events == hello.events  # a bundled name
    assert Recording.lookup("s_not_a_name") is None  # maybe a stream id: not for it to say
    a = store.import_recording(hello, stream_id="s_abc1")
    b = store.import_recording(Recording.bundled("markdown-tour"), stream_id="s_abd2")
    assert resolve_stream_id(store, "s_abc") == a and resolve_stream_id(store, b) == b
    with pytest.raises(TransferError, match="matches several streams: s_abc1, s_abd2"):
        resolve_stream_id(store, "s_ab")
    with pytest.raises(TransferError, match="no stream 's_x'"):
        resolve_stream_id(store, "s_x")
    assert open_recording("s_abd", store, prefix=True).header["stream_id"] == b
    with pytest.raises(TransferError, match="is not a file, a bundled recording"):
        open_recording("s_abd", store)  # a prefix only when asked for
    assert open_recording("hello", store).events == hello.events
