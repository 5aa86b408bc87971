"""Logs in: databases written by the real ``llm`` package (tests/llm_logs.py) as streams.

Two schemas: the installed llm writes ``turns`` (written fresh here); tests/data holds one
written by llm 0.27.1 (``responses``, ``tool_calls``, ``tool_results``) with the same script.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path

import pytest

from streamwidget import Store
from streamwidget.cli import main
from streamwidget.import_llm import import_llm, read_llm_logs
from streamwidget.transfer import TransferError

LEGACY = Path(__file__).parent / "data" / "llm-0.27.1-logs.db"


@pytest.fixture(scope="module")
def current(tmp_path_factory) -> Path:
    """A logs database written now by the installed llm, through its own Python API."""
    pytest.importorskip("llm")
    from llm_logs import write_logs

    path = tmp_path_factory.mktemp("llm") / "logs.db"
    write_logs(str(path))
    return path


@pytest.fixture(params=["current", "legacy"])
def logs(request, current) -> Path:
    return current if request.param == "current" else LEGACY


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "a.duckdb") as store:
        yield store


def llm_rows(path: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(path) as con:
        return con.execute(sql).fetchall()


def call_rows(path: Path) -> list[tuple]:
    """(id, datetime_utc, input_tokens, output_tokens) per logged call, from llm's own tables."""
    tables = {r[0] for r in llm_rows(path, "SELECT name FROM sqlite_master")}
    table = "turns" if "turns" in tables else "responses"
    return llm_rows(
        path,
        f"SELECT id, datetime_utc, input_tokens, output_tokens FROM {table}"
        " ORDER BY datetime_utc, id",
    )


def test_conversations_streams_and_tools_come_in(logs, store):
    result = import_llm(logs, store=store)
    rows = call_rows(logs)
    assert result.imported == [f"llm-{r[0]}" for r in rows] and len(rows) == 4
    hello, again, asks, answers = (store.get(sid) for sid in result.imported)

    assert (hello.text, again.text) == ("Echo: hello", "Echo: again")
    assert all(d.status == "complete" and d.provider == "llm" for d in (hello, again))
    assert hello.model == "canned"
    assert [d.usage for d in (hello, asks, answers)] == [
        {"input_tokens": 3, "output_tokens": 4},
        {"input_tokens": 20, "output_tokens": 6},
        {"input_tokens": 30, "output_tokens": 11},
    ]
    # the call that asked for the tools holds them, with the results llm logged afterwards
    assert asks.text == "Let me check." and asks.finish_reason == "tool_calls"
    weather, explode = asks.tool_calls
    assert (weather.id, weather.name) == ("call_w", "get_weather")
    assert weather.arguments == {"city": "Paris"}
    assert (weather.status, weather.result) == ("done", '{"temp": 14}')
    assert (explode.name, explode.status) == ("explode", "error")
    assert explode.error == "ValueError: no sensor in Paris"
    assert answers.text == "It is 14 °C in Paris; the other tool failed."

    # llm's datetime_utc becomes created_at; the request holds what was sent
    rec = store.recording(result.imported[0])
    assert datetime.fromisoformat(rec.header["created_at"]) == datetime.fromisoformat(rows[0][1])
    assert rec.header["request"]["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hello"},
    ]
    tool_turn = store.recording(result.imported[3]).header["request"]["messages"]
    assert [(m["role"], m.get("tool_call_id")) for m in tool_turn][-2:] == [
        ("tool", "call_w"),
        ("tool", "call_x"),
    ]
    assert tool_turn[-2]["content"] == '{"temp": 14}'

    # two conversations: the chat's prompts and replies, then the tool chain
    conversations = store.sql(
        "SELECT id, title FROM conversations ORDER BY created_at, id"
    ).fetchall()
    assert [c[1] for c in conversations] == ["hello", "weather in Paris?"]
    chat = store.messages(conversations[0][0])
    assert [(m["role"], m["content"]) for m in chat] == [
        ("user", "hello"),
        ("assistant", "Echo: hello"),
        ("user", "again"),
        ("assistant", "Echo: again"),
    ]
    tools = store.messages(conversations[1][0])
    assert [(m["role"], m["stream_id"]) for m in tools] == [
        ("user", None),
        ("assistant", result.imported[2]),
        ("assistant", result.imported[3]),  # a call that carried only tool results
    ]


def table_counts(store: Store) -> list[int]:
    tables = ("streams", "messages", "conversations", "events")
    return [store.sql(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in tables]


def test_importing_twice_adds_nothing(logs, store):
    first = import_llm(logs, store=store)
    counts = table_counts(store)
    again = import_llm(logs, store=store)
    assert again.imported == [] and again.duplicates == first.imported
    assert counts == table_counts(store) and counts[0] == 4


def test_calls_logged_later_join_their_conversation(current, store, tmp_path):
    pytest.importorskip("llm")
    import sqlite_utils

    import llm_logs

    copy = tmp_path / "logs.db"
    copy.write_bytes(current.read_bytes())
    import_llm(copy, store=store)
    db = sqlite_utils.Database(copy)
    thread = llm_rows(copy, "SELECT thread_id FROM turns ORDER BY datetime_utc LIMIT 1")[0][0]
    conversation = llm_logs.Canned().conversation()
    conversation.id = thread  # continue the first conversation, as `llm -c` does
    response = conversation.prompt("third")
    response.text()
    response.log_to_db(db)
    result = import_llm(copy, store=store)
    assert len(result.imported) == 1 and len(result.duplicates) == 4
    messages = store.messages(f"llm-{thread}")
    assert [m["content"] for m in messages][-2:] == ["third", "Echo: third"]


def test_bad_files_are_clear_errors(tmp_path, store):
    with pytest.raises(TransferError, match="no such file"):
        read_llm_logs(tmp_path / "nope.db")
    junk = tmp_path / "junk.db"
    junk.write_text("not sqlite at all " * 100)
    with pytest.raises(TransferError, match="not an llm logs database"):
        read_llm_logs(junk)
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as con:
        con.execute("CREATE TABLE t (x)")
    with pytest.raises(TransferError, match="no turns or responses"):
        import_llm([LEGACY, other], store=store)
    assert store.sql("SELECT count(*) FROM streams").fetchall()[0][0] == 0  # read first


def test_cli_import_from_llm(tmp_path, capsys):
    db = str(tmp_path / "s.duckdb")
    assert main(["--store", db, "import", "--from", "llm", str(LEGACY)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("imported 4 stream(s), 0 already in the store")
    assert main(["--store", db, "import", "--from", "llm", str(LEGACY)]) == 0
    assert capsys.readouterr().out.startswith("imported 0 stream(s), 4 already in the store")
    assert main(["--store", db, "import", "--from", "llm", str(tmp_path / "x.db")]) == 1
    assert "no such file" in capsys.readouterr().err


def test_imported_calls_export_as_traces(logs, store):
    from streamwidget.otel import export_otel

    result = import_llm(logs, store=store)
    request = export_otel(result.imported[2], store=store)
    chat, weather, explode = request["resourceSpans"][0]["scopeSpans"][0]["spans"]
    assert chat["name"] == "chat canned"
    assert weather["name"] == "execute_tool get_weather" and weather["status"] == {"code": 0}
    assert explode["parentSpanId"] == chat["spanId"] and explode["status"]["code"] == 2
