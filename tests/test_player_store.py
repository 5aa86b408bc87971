"""The Player over a stored stream reads its events from the store by ``seq`` range, never all
at once: documents and inspector rows as a full rebuild gives them, on both backends, with no
cross-talk between streams, a snapshot of a stream still being written, bounded memory, and a
clear error when the stream or the store goes away under it. Also: a bundled recording is
indexed from its file and a given :class:`Recording` is indexed, not copied."""

from __future__ import annotations

import gc
import random
import tracemalloc
from collections.abc import Callable

import pytest

from long_recording import long_events, write_long_stream
from streamwidget import Document, Recording, Store
from streamwidget.lazy_events import FileEvents
from streamwidget.recording import event_row
from streamwidget.seek import SeekIndex
from streamwidget.store import StoreError
from streamwidget.store.stored_events import StoredEvents
from streamwidget.transfer import TransferError, open_recording
from streamwidget.widgets.player import Player


def two_streams(store: Store, n: int = 3000) -> tuple[list[str], list[list[dict]]]:
    """Two streams written turn about, so their rows interleave in the ``events`` table."""
    ids = [store.create_stream(provider="bench", model=f"m{i}") for i in range(2)]
    events: list[list[dict]] = [list(long_events(n, seed=3)), list(long_events(n // 2, seed=9))]
    for i in range(max(map(len, events))):
        for sid, evs in zip(ids, events):
            if i < len(evs):
                store.append(sid, evs[i])
    store.flush()
    return ids, events


def rebuild(events: list[dict], k: int, sid: str, model: str) -> Document:
    return Document.from_events(events[:k], sid, model=model, provider="bench")


def test_documents_and_rows_of_stored_streams_equal_a_full_rebuild(
    new_store: Callable[..., Store], comms
):
    store = new_store()
    ids, all_events = two_streams(store)
    for number, (sid, events) in enumerate(zip(ids, all_events)):
        player = Player(sid, store=store, position=0)
        assert isinstance(player.index.events, StoredEvents), "read lazily, not loaded"
        assert len(player.index) == len(events) and player.source == f"store:{sid}"
        assert player.info["model"] == f"m{number}"
        n = len(events)
        positions = [*range(0, n + 1, 97), *random.Random(number).sample(range(n + 1), 40), n]
        for k in positions:
            doc = player.seek(k)
            assert doc == rebuild(events, k, sid, f"m{number}"), (sid, k)
            lo, hi = max(k - player.context, 0), min(k + player.context, n)
            assert player.inspector == [event_row(i, events[i]) for i in range(lo, hi)], k
        assert player.document.content_equal(store.get(sid))
        assert player.index.events[-3:] == events[-3:] and list(player.index.events) == events
        assert player.recording.events == events, "loaded on first use, the same events"
        assert player.recording.header == store.recording(sid).header


def test_handles_and_unknown_ids(tmp_path, comms):
    with Store(tmp_path / "s.duckdb") as store:
        ids, all_events = two_streams(store, 600)

        class Handle:  # what a StreamHandle or a StreamView offers: an id and its store
            def __init__(self, sid: str):
                self.id, self.store = sid, store

        player = Player(Handle(ids[1]))
        assert isinstance(player.index.events, StoredEvents)
        assert player.document == rebuild(all_events[1], len(all_events[1]), ids[1], "m1")
        with pytest.raises(TransferError, match="'nope' is not a file, a bundled recording"):
            Player("nope", store=store)
        with pytest.raises(TransferError, match="'nope' is not a file"):
            open_recording("nope", store)  # the eager path says the same


def test_a_stream_still_being_written_plays_up_to_where_it_was_when_opened(
    new_store: Callable[..., Store], comms
):
    store = new_store()
    events = list(long_events(1000, seed=5))
    sid = store.create_stream(provider="bench", model="m")
    for event in events[:600]:
        store.append(sid, event)  # queued, not committed: opening commits them first
    player = Player(sid, store=store)
    for event in events[600:]:
        store.append(sid, event)
    store.flush()
    assert len(player.index) == 600 and player.status == "streaming"
    assert player.seek(599) == rebuild(events, 599, sid, "m")
    assert len(player.recording.events) == 600, "the recording is the snapshot played"
    assert len(Player(sid, store=store).index) == 1000, "a new Player sees the rest"


def test_a_deleted_stream_or_a_closed_store_is_a_clear_error_on_seek(
    new_store: Callable[..., Store], backend: str, comms
):
    store = new_store()
    ids, all_events = two_streams(store, 1000)
    player, other = Player(ids[0], store=store), Player(ids[1], store=store)
    mark = "%s" if backend == "postgres" else "$1"
    with store.cursor() as cur:
        cur.execute(f"DELETE FROM events WHERE stream_id = {mark}", [ids[0]])
        if backend == "postgres":
            cur.connection.commit()
    with pytest.raises(StoreError, match=rf"events \d+\.\.\d+ of the stream '{ids[0]}'.*no longer"):
        player.seek(500)
    assert other.seek(300) == rebuild(all_events[1], 300, ids[1], "m1"), "the other stream plays"
    store.close()
    with pytest.raises(StoreError, match=rf"cannot read events .* '{ids[1]}' .*closed"):
        other.seek(200)


def test_a_log_with_gaps_in_seq_is_played_from_memory(tmp_path, comms):
    with Store(tmp_path / "s.duckdb") as store:
        ids, all_events = two_streams(store, 300)
        store.sql("DELETE FROM events WHERE stream_id = $1 AND seq = 10", [ids[0]])
        player = Player(ids[0], store=store)
        events = all_events[0][:10] + all_events[0][11:]
        assert player.index.events == events  # the whole log, in order
        assert player.seek(200) == rebuild(events, 200, ids[0], "m0")


def _traced(make: Callable[[], object]) -> tuple[int, int, object]:
    gc.collect()
    tracemalloc.start()
    try:
        made = make()
        gc.collect()
        held, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return held, peak, made


def test_a_stored_stream_of_200k_events_opens_in_bounded_memory(tmp_path, comms):
    """The index holds ~17 bytes an event (time, type code, two text lengths) plus the final
    text once (~10: 2 bytes a UTF-16 unit once a non-ASCII word shows up) and a checkpoint
    every 128 events (~11: 46 in all when each copied its list of parts); reading the events
    16,384 at a time adds a few megabytes at the peak. The eager path (every event a dict in
    a list) held ~420 bytes an event here."""
    n = 200_000
    with Store(tmp_path / "s.duckdb", batch_size=8192) as store:
        sid = write_long_stream(store, n)
        held, peak, player = _traced(lambda: Player(sid, store=store, position=n // 2))
        assert len(player.index) == n  # type: ignore[attr-defined]
        assert held / n < 44, f"held {held / n:.1f} bytes an event"
        assert peak / n < 100, f"peak {peak / n:.1f} bytes an event"
        del player
        # the bound tells the two paths apart: the previous one (the recording in memory)
        eager_held, _, recording = _traced(lambda: open_recording(sid, store))
        assert len(recording.events) == n  # type: ignore[attr-defined]
        assert eager_held / n > 300, f"eager path: {eager_held / n:.1f} bytes an event"


def test_a_bundled_recording_is_indexed_from_its_file(comms):
    player = Player("weather-tool-error")
    assert (
        isinstance(player.index.events, FileEvents)
        and player.source == "bundled:weather-tool-error"
    )
    recording = Recording.bundled("weather-tool-error")
    events = recording.events
    meta = {"model": recording.model, "provider": recording.provider}
    for k in range(len(events) + 1):
        assert player.seek(k) == Document.from_events(events[:k], "", **meta), k
    assert player.recording.events == events and player.recording.header == recording.header


def test_a_bundled_recording_that_is_no_file_is_read_whole(monkeypatch, comms):
    import streamwidget.widgets.player_source as player_source

    monkeypatch.setattr(player_source, "bundled_file", lambda name: None)  # a zipped package
    player = Player("weather-tool-error")
    assert player.index.events == Recording.bundled("weather-tool-error").events
    assert player.source == "bundled:weather-tool-error"


def test_a_given_recording_is_indexed_not_copied(comms):
    recording = Recording.bundled("weather-tool-error")
    player = Player(recording)
    assert player.index.events is recording.events
    assert player.recording is recording


def test_text_lengths_widen_to_8_bytes_past_2_gigaunits():
    """The index builds its text lengths in 4-byte ints; a text past 2**31 UTF-16 units (too
    big to build here) widens them to 8 bytes without losing a length, whichever overflows."""
    for text_end, reasoning_end in [(2**31 + 5, 0), (4, 2**31)]:
        index = SeekIndex([{"t": 0.1, "type": "text", "text": "ab"}])
        assert index.text_end16.typecode == "i" and list(index.text_end16) == [0, 2]
        index.times.append(0.2)
        index._add_ends(text_end, reasoning_end)
        assert index.text_end16.typecode == index.reasoning_end16.typecode == "q"
        assert list(index.text_end16) == [0, 2, text_end]
        assert list(index.reasoning_end16) == [0, 0, reasoning_end]


def test_a_seek_queries_the_store_once_and_steps_mostly_not_at_all(tmp_path, comms):
    """A seek reads the events it folds and the inspector's rows around them in one query
    (and keeps them), so stepping through them costs none."""
    with Store(tmp_path / "s.duckdb") as store:
        ids, all_events = two_streams(store, 3000)
        player = Player(ids[0], store=store, position=0)
        events = player.index.events
        queries: list[list] = []
        rows = events._rows
        events._rows = lambda query, params: queries.append(params) or rows(query, params)
        for k in random.Random(2).sample(range(len(events) + 1), 60):
            before = len(queries)
            assert player.seek(k) == rebuild(all_events[0], k, ids[0], "m0")
            assert len(queries) - before <= 1, k
        player.seek(1000)
        before = len(queries)
        for _ in range(40):
            player.step(1)
        assert player.document == rebuild(all_events[0], 1040, ids[0], "m0")
        assert len(queries) - before <= 2, "40 steps forward"


def test_a_seek_keeps_what_it_folds_from_a_checkpoint():
    """What a short read keeps covers a seek's fold from its checkpoint (the two modules
    cannot share the constant: the store may not import seek)."""
    from streamwidget.seek import CHECKPOINT_EVERY

    assert StoredEvents.SHORT >= CHECKPOINT_EVERY
