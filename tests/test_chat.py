"""The Chat widget from Python: turns, live deltas, stop, retry, approvals, history, magic."""

import asyncio
import json

import pytest

import streamwidget as sw
from long_chat import long_conversation
from streamwidget import ChatRequest, Store
from streamwidget.providers.demo import DemoProvider, ScriptedToolProvider
from streamwidget.widgets.chat import Chat, title_for
from streamwidget.widgets.stream_view import utf16_len


class Scripted:
    """Answers turn n with ``replies[n]`` (a list of text pieces), recording each request.
    ``hold`` (an Event) pauses after the first piece until it is set."""

    name = "scripted"
    model = "script-1"

    def __init__(self, *replies, hold=None, delay=0.0):
        self.replies = [list(r) for r in replies]
        self.requests: list[ChatRequest] = []
        self.hold = hold
        self.delay = delay

    def describe(self, request):
        return {}

    async def stream(self, request):
        self.requests.append(request)
        pieces = self.replies.pop(0) if self.replies else ["ok"]
        for index, piece in enumerate(pieces):
            await asyncio.sleep(self.delay)
            yield {"type": "text", "text": piece}
            if index == 0 and self.hold is not None:
                await self.hold.wait()
        yield {"type": "finish", "reason": "stop"}


def deltas_for(comm, message_id, field="text"):
    """What the front end rebuilds for one message, checking offsets are contiguous."""
    text = ""
    for m in comm.custom():
        if m["kind"] == "delta" and m["message_id"] == message_id and m["field"] == field:
            assert m["at"] == utf16_len(text), "deltas must be contiguous"
            text += m["text"]
    return text


async def wait_until(predicate, timeout=5.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


def awaiting_approval(chat):
    return any(c["status"] == "pending_approval" for c in chat.live.get("tool_calls", []))


@sw.tool(requires_approval=True)
def get_weather(city: str) -> dict:
    """Current weather for a city.

    Args:
        city: City name.
    """
    return {"city": city, "temperature": 14, "conditions": "cloudy"}


async def test_a_reply_streams_as_deltas_and_lands_in_the_turns(comms):
    chat = Chat(DemoProvider(speed=0), store=Store(":memory:"), frame_interval=0.01)
    comm = comms[-1]
    doc = await chat.send("Explain how streaming works")
    assert doc.status == "complete" and len(doc.text) > 1000  # the markdown-tour recording
    user, reply = chat.turns
    assert (user["role"], user["text"]) == ("user", "Explain how streaming works")
    assert reply["role"] == "assistant" and reply["status"] == "complete"
    assert reply["text"] == doc.text and reply["stream_id"] == doc.stream_id
    assert deltas_for(comm, reply["id"]) == doc.text
    assert chat.live == {} and chat.busy is False
    assert chat.title == "Explain how streaming works"
    assert [c["title"] for c in chat.conversations] == ["Explain how streaming works"]
    json.dumps(chat.get_state())  # a saved notebook can hold it


async def test_final_text_is_sent_once_not_with_every_state_update(comms):
    """Without a front end (nbclient) the final text goes once, in ``recent``."""
    chat = Chat(DemoProvider(speed=0), store=Store(":memory:"))
    comm = comms[-1]
    doc = await chat.send("Explain how streaming works")
    with_text = [
        u for u in comm.updates() if any(t.get("text") == doc.text for t in u.get("recent", []))
    ]
    assert len(with_text) == 1
    assert comm.nbytes() < 3 * len(doc.text.encode()) + 20_000  # deltas + final text


async def test_a_front_end_that_spoke_gets_the_text_as_deltas_only(comms):
    chat = Chat(DemoProvider(speed=0), store=Store(":memory:"))
    comm = comms[-1]
    chat._handle_custom_msg({"kind": "hello"}, [])
    doc = await chat.send("Explain how streaming works")
    assert not [u for u in comm.updates() if "recent" in u], "recent is the front end's now"
    assert chat.recent[-1]["text"] == doc.text, "and current in the kernel, for a new page"
    assert chat.get_state("recent")["recent"][-1]["text"] == doc.text
    others = json.dumps([m for m in comm.custom() if m["kind"] != "delta"])
    assert json.dumps(doc.text)[1:40] not in others, "the text goes as deltas, never whole"
    end = [m for m in comm.custom() if m["kind"] == "turn"][-1]["turn"]
    assert end["status"] == "complete" and end["text"] == ""
    assert end["meta"]["text_length"] == utf16_len(doc.text)
    assert deltas_for(comm, end["id"]) == doc.text
    assert comm.nbytes() < len(doc.text.encode()) + 10_000


async def test_context_comes_from_the_store_and_survives_a_restart(tmp_path):
    path = tmp_path / "chat.duckdb"
    store = Store(path)
    first = Scripted(["Hi, ", "Ada."], ["Blue."])
    chat = Chat(first, store=store, system="Be brief.")
    await chat.send("My name is Ada.")
    await chat.send("Favourite colour?")
    assert first.requests[1].messages == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "My name is Ada."},
        {"role": "assistant", "content": "Hi, Ada."},
        {"role": "user", "content": "Favourite colour?"},
    ]
    cid = chat.conversation_id
    chat.close()
    store.close()

    # a new process: another store on the same file, the chat reopened by id
    store = Store(path)
    again = Scripted(["You are Ada."])
    chat = Chat(again, store=store, conversation_id=cid)
    assert [t["role"] for t in chat.turns] == ["user", "assistant"] * 2
    assert chat.turns[-1]["text"] == "Blue." and chat.title == "My name is Ada."
    await chat.send("Who am I?")
    assert [m["content"] for m in again.requests[0].messages] == [
        "My name is Ada.",
        "Hi, Ada.",
        "Favourite colour?",
        "Blue.",
        "Who am I?",
    ]
    store.close()


async def test_stop_before_the_first_token_cancels_the_request():
    started = asyncio.Event()

    class Slow:
        name, model = "slow", "slow-1"
        closed = False

        def describe(self, request):
            return {}

        async def stream(self, request):
            started.set()
            try:
                await asyncio.sleep(30)
                yield {"type": "text", "text": "late"}
            finally:
                Slow.closed = True

    chat = Chat(Slow(), store=Store(":memory:"))
    handle = chat.send("hello?")
    assert chat.busy is True  # Stop is available at once
    await started.wait()
    chat._handle_custom_msg({"kind": "stop"}, [])
    doc = await handle
    assert doc.status == "cancelled" and Slow.closed
    assert chat.busy is False and chat.turns[-1]["status"] == "cancelled"


async def test_stop_mid_stream_keeps_the_partial_text(comms):
    hold = asyncio.Event()
    chat = Chat(Scripted(["Once upon ", "a time"], hold=hold), store=Store(":memory:"))
    handle = chat.send("Tell me a story")
    await wait_until(lambda: handle.document.text == "Once upon ")
    chat.stop()
    doc = await handle
    assert doc.status == "cancelled" and doc.text == "Once upon "
    assert chat.turns[-1]["status"] == "cancelled" and chat.turns[-1]["text"] == "Once upon "


async def test_sending_while_a_reply_streams_is_refused_clearly():
    hold = asyncio.Event()
    chat = Chat(Scripted(["a", "b"], hold=hold), store=Store(":memory:"))
    handle = chat.send("one")
    with pytest.raises(RuntimeError, match="still streaming"):
        chat.send("two")
    chat._handle_custom_msg({"kind": "send", "text": "two"}, [])
    assert "still streaming" in chat.notice  # the person at the widget sees why
    hold.set()
    await handle
    assert [t["role"] for t in chat.turns] == ["user", "assistant"]


async def test_the_front_end_can_send_and_resync_a_live_turn(comms):
    hold = asyncio.Event()
    chat = Chat(Scripted(["Hello ", "world"], hold=hold), store=Store(":memory:"))
    comm = comms[-1]
    chat._handle_custom_msg({"kind": "send", "text": "hi"}, [])
    reply = chat.turns[-1]
    await wait_until(lambda: chat.live.get("status") == "streaming")
    chat._handle_custom_msg({"kind": "resync", "message_id": reply["id"]}, [])
    snapshot = next(m for m in comm.custom() if m["kind"] == "snapshot")
    assert snapshot == {
        "kind": "snapshot",
        "message_id": reply["id"],
        "text": "Hello ",
        "reasoning": "",
    }
    assert chat.live["message_id"] == reply["id"] and chat.turns[-1]["text"] == ""
    hold.set()
    await chat.handle
    assert chat.turns[-1]["text"] == "Hello world"


async def test_retry_regenerates_the_last_reply_and_keeps_the_old_stream():
    provider = Scripted(["First."], ["Second."])
    store = Store(":memory:")
    chat = Chat(provider, store=store)
    old = await chat.send("Say something")
    message_id = chat.turns[-1]["id"]
    chat._handle_custom_msg({"kind": "retry"}, [])
    new = await chat.handle
    assert new.text == "Second." and new.stream_id != old.stream_id
    assert provider.requests[1].messages == [{"role": "user", "content": "Say something"}]
    assert len(chat.turns) == 2 and chat.turns[-1]["id"] == message_id
    assert chat.turns[-1]["text"] == "Second."
    assert [m["content"] for m in store.messages(chat.conversation_id)] == [
        "Say something",
        "Second.",
    ]
    rows = store.sql(
        "SELECT count(*) FROM streams WHERE conversation_id = $1", [chat.conversation_id]
    )
    assert rows.fetchall() == [(2,)]
    assert store.get(old.stream_id).text == "First."  # kept in the store


def test_retry_needs_a_reply_to_regenerate():
    chat = Chat(Scripted(), store=Store(":memory:"))
    with pytest.raises(RuntimeError, match="nothing to retry"):
        chat.retry()


async def test_new_chat_and_reopening_an_earlier_one():
    store = Store(":memory:")
    chat = Chat(Scripted(["Paris."], ["Hi!"]), store=store)
    await chat.send("Capital of France?")
    first = chat.conversation_id
    chat._handle_custom_msg({"kind": "new_chat"}, [])
    second = chat.conversation_id
    assert second != first and chat.turns == [] and chat.title == "New chat"
    assert chat.new_chat() == second  # an empty chat is not duplicated
    await chat.send("hello")
    titles = {c["id"]: c["title"] for c in chat.conversations}
    assert titles == {first: "Capital of France?", second: "hello"}
    assert chat.conversations[0]["id"] == second  # newest first
    chat._handle_custom_msg({"kind": "open", "conversation_id": first}, [])
    assert chat.conversation_id == first
    assert [t.get("text") for t in chat.turns] == ["Capital of France?", "Paris."]
    with pytest.raises(KeyError, match="no conversation"):
        chat.open("c_missing")


async def test_a_tool_waits_for_approval_from_the_front_end():
    chat = Chat("demo:tools", store=Store(":memory:"), tools=[get_weather])
    handle = chat.send("What's the weather in Paris?")
    await wait_until(lambda: awaiting_approval(chat))
    call = chat.live["tool_calls"][0]
    assert call["name"] == "get_weather" and call["arguments"] == {"city": "Paris"}
    message_id = chat.live["message_id"]
    chat._handle_custom_msg(
        {"kind": "approve", "message_id": message_id, "call_id": call["id"]}, []
    )
    doc = await handle
    assert doc.status == "complete"
    assert doc.tool_calls[0].status == "done" and doc.tool_calls[0].result["temperature"] == 14
    assert "**temperature**: 14" in doc.text
    assert chat.turns[-1]["tool_calls"][0]["status"] == "done"


async def test_a_denied_tool_call_is_not_run_and_the_model_is_told():
    chat = Chat("demo:tools", store=Store(":memory:"), tools=[get_weather])
    handle = chat.send("weather in Oslo")
    await wait_until(lambda: awaiting_approval(chat))
    call_id = chat.live["tool_calls"][0]["id"]
    chat._handle_custom_msg({"kind": "deny", "message_id": "m_other", "call_id": call_id}, [])
    await asyncio.sleep(0.05)
    assert chat.live["tool_calls"][0]["status"] == "pending_approval"  # wrong turn: ignored
    chat._handle_custom_msg(
        {"kind": "deny", "message_id": chat.live["message_id"], "call_id": call_id}, []
    )
    doc = await handle
    assert doc.tool_calls[0].status == "denied" and "You denied the `get_weather` call" in doc.text


async def test_tool_calls_of_earlier_replies_go_back_to_the_model():
    class Recorder(ScriptedToolProvider):
        def __init__(self):
            super().__init__(token_delay=0)
            self.requests = []

        async def stream(self, request):
            self.requests.append(request)
            async for event in super().stream(request):
                yield event

    provider = Recorder()
    chat = Chat(provider, store=Store(":memory:"), tools=[sw.tool(get_weather.function)])
    await chat.send("weather in Rome")
    await chat.send("thanks")
    history = provider.requests[-1].messages
    assert [m["role"] for m in history] == ["user", "assistant", "tool", "assistant", "user"]
    assert history[1]["tool_calls"][0]["arguments"] == {"city": "Rome"}
    assert json.loads(history[2]["content"])["city"] == "Rome"
    assert history[3]["content"].startswith("Let me call `get_weather`")


def test_constructor_checks_its_arguments():
    with pytest.raises(TypeError, match="unexpected argument.*colour"):
        Chat(store=Store(":memory:"), colour="red")
    with pytest.raises(ValueError, match="max_steps"):
        Chat(store=Store(":memory:"), max_steps=0)
    with pytest.raises(ValueError, match="unknown model prefix"):
        Chat("bogus:model", store=Store(":memory:"))


def test_model_strings_and_a_cheap_repr():
    chat = Chat(store=Store(":memory:"))
    assert isinstance(chat.provider, DemoProvider) and chat.model_name == "replay:demo"
    assert repr(chat).startswith("Chat('replay:demo', conversation_id='c_")
    chat.model = "replay:hello"  # the next turns are answered by another model
    assert chat.provider.name == "replay" and chat.model_name == "gpt-4o-mini"
    assert sw.Chat is Chat


def test_titles_are_the_first_message_on_one_line():
    assert title_for("  hello\n  world ") == "hello world"
    long = title_for("word " * 40)
    assert len(long) == 48 and long.endswith("…")


def test_a_chat_works_outside_an_event_loop():
    chat = Chat(DemoProvider(speed=0), store=Store(":memory:"))
    doc = chat.send("hi").wait(10)
    assert doc.status == "complete" and doc.text.startswith("Hello")
    chat.handle.wait(10)
    assert chat.turns[-1]["text"] == doc.text


# -- the %%chat magic -----------------------------------------------------------------------


class FakeShell:
    def __init__(self):
        self.magics = {}

    def register_magic_function(self, func, magic_kind, magic_name):
        self.magics[(magic_kind, magic_name)] = func


def test_load_ext_registers_the_chat_cell_magic():
    shell = FakeShell()
    sw.load_ipython_extension(shell)
    assert ("cell", "chat") in shell.magics


def test_the_magic_sends_the_cell_to_one_chat_per_kernel(monkeypatch):
    from IPython.core.error import UsageError

    from streamwidget import magics

    shown = []
    monkeypatch.setattr(magics, "_chat", None)
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    magics.chat("", "Say hello")
    chat = magics.current_chat()
    assert shown == [chat] and isinstance(chat.provider, DemoProvider)
    chat.handle.wait(30)
    magics.chat("replay:hello", "again")  # same chat, another model for the next turns
    chat.handle.wait(30)
    assert magics.current_chat() is chat and len(shown) == 1
    assert [t["role"] for t in chat.turns] == ["user", "assistant"] * 2
    assert chat.model_name == "gpt-4o-mini"
    magics.chat("--new", "")
    assert magics.current_chat() is not chat and len(shown) == 2
    with pytest.raises(UsageError, match="usage"):
        magics.chat("--verbose", "x")


# -- store: the conversation list -----------------------------------------------------------


def test_store_lists_conversations_newest_first_with_titles():
    store = Store(":memory:")
    a = store.create_conversation("A")
    b = store.create_conversation()
    store.add_message(a, "user", "hi")
    store.rename_conversation(b, "B")
    listed = store.conversations()
    assert [(c["id"], c["title"], c["messages"]) for c in listed] == [(a, "A", 1), (b, "B", 0)]
    assert store.conversation(b)["title"] == "B"
    with pytest.raises(KeyError):
        store.conversation("c_nope")


def test_store_points_a_message_at_a_regenerated_stream():
    store = Store(":memory:")
    cid = store.create_conversation()
    old = store.create_stream(conversation_id=cid)
    message = store.add_message(cid, "assistant", stream_id=old)
    new = store.create_stream(conversation_id=cid)
    store.set_message_stream(message, new)
    assert [m["stream_id"] for m in store.messages(cid)] == [new]


class FakeDisplay:
    """Stands in for the display handle of a shown chat: keeps what updates it."""

    def __init__(self):
        self.updates = []

    def update(self, data, raw=False):
        self.updates.append(data)


async def test_a_saved_chat_has_a_safe_markdown_fallback_of_its_conversation():
    chat = Chat(Scripted(["# Big\n", "Hello <b>Ada</b>."], ["Blue."]), store=Store(":memory:"))
    shown = FakeDisplay()
    chat.__dict__["_displays"] = [shown]
    await chat.send("My name is <script>x()</script> Ada")
    md = shown.updates[-1]["text/markdown"]  # brought up to date when the reply ended
    assert "application/vnd.jupyter.widget-view+json" in shown.updates[-1]
    assert "> My name is &lt;script&gt;x()&lt;/script&gt; Ada" in md
    assert "Hello &lt;b&gt;Ada&lt;/b&gt;." in md and "**Big**" in md  # defanged, no heading
    assert "script-1 · complete" in md and "<script>" not in md
    assert md.index("My name is") < md.index("Hello")
    await chat.send("Favourite colour?")
    assert shown.updates[-1]["text/markdown"].endswith("Blue.")
    assert "4 messages" in shown.updates[-1]["text/plain"]


async def test_the_fallback_of_a_long_chat_shows_its_last_turns_only():
    from streamwidget.widgets.chat import FALLBACK_TURNS

    chat = Chat(Scripted(*[[f"reply {i}"] for i in range(15)]), store=Store(":memory:"))
    for i in range(15):
        await chat.send(f"question {i}")
    md = chat._repr_mimebundle_()["text/markdown"]
    assert "reply 14" in md and "question 14" in md
    shown = FALLBACK_TURNS // 2
    assert f"> question {15 - shown}\n" in md and f"> question {14 - shown}\n" not in md
    assert f"{30 - FALLBACK_TURNS:,} earlier messages" in md


async def reply_bytes(comms, exchanges: int) -> tuple[int, Chat]:
    """iopub bytes of one more exchange in a conversation of ``exchanges``."""
    store = Store(":memory:")
    replies = [["Sure, ", "here ", "is ", "a ", "short ", "answer."]] * 2
    conversation_id = long_conversation(store, exchanges)
    chat = Chat(Scripted(*replies), store=store, conversation_id=conversation_id)
    comm = comms[-1]
    chat._handle_custom_msg({"kind": "hello"}, [])
    await chat.send("warm up")  # builds the model's context once (a one-off per open)
    before = comm.nbytes()
    await chat.send("one more")
    return comm.nbytes() - before, chat


@pytest.mark.timeout(120)
async def test_a_reply_costs_the_same_iopub_at_2000_exchanges_as_at_50(comms):
    small, _ = await reply_bytes(comms, 50)
    large, chat = await reply_bytes(comms, 2000)
    assert large <= 1.2 * small, (small, large)
    assert large < 10_000, large  # what changed: two turns, a few frames, the chat list
    assert chat.turn_count == 2 * 2002
    # the model still got the whole conversation, from the context kept in the kernel
    request = chat.provider.requests[-1].messages
    assert len(request) == 2 * 2002 - 1 and request[1]["content"] == "word " * 39 + "word 0"


async def test_opening_a_long_conversation_sends_the_last_window_and_pages_before(comms):
    from streamwidget.widgets.chat import WINDOW

    store = Store(":memory:")
    chat = Chat(Scripted(), store=store, conversation_id=long_conversation(store, 2000))
    comm = comms[-1]
    window = [m for m in comm.custom() if m["kind"] == "window"][-1]
    assert window["start"] == 4000 - WINDOW and len(window["turns"]) == WINDOW
    assert window["turns"][-1]["text"] == "word " * 39 + "word 1999"
    assert len(chat.recent) == WINDOW and chat.turn_count == 4000
    assert len(json.dumps(window)) < 20_000
    chat._handle_custom_msg(
        {
            "kind": "older",
            "before": window["turns"][0]["id"],
            "request_id": 7,
            "conversation_id": chat.conversation_id,
        },
        [],
    )
    older = comm.custom()[-1]
    assert older["kind"] == "older" and older["request_id"] == 7
    assert older["start"] == 4000 - 2 * WINDOW and len(older["turns"]) == WINDOW
    assert older["turns"][-1]["id"] == f"ml{4000 - WINDOW - 1}"
    ask = {"kind": "older", "before": "ml2", "request_id": 8}
    chat._handle_custom_msg({**ask, "conversation_id": chat.conversation_id}, [])
    first = comm.custom()[-1]
    assert first["start"] == 0 and [t["id"] for t in first["turns"]] == ["ml0", "ml1"]


def test_history_leaves_out_the_calls_the_providers_server_ran():
    """A reply with a server-run web search and an app tool: only the app's call goes back to
    the model as a tool call (a provider rejects its own server's calls sent as ours)."""
    from streamwidget.document import Document
    from streamwidget.widgets.chat_log import reply_messages

    events = [
        {"t": 0.1, "type": "tool_call_start", "id": "srv_1", "name": "web_search", "server": True},
        {"t": 0.2, "type": "tool_call_end", "id": "srv_1", "arguments": {"query": "paris"}},
        {"t": 0.3, "type": "tool_result", "id": "srv_1", "status": "done", "result": "[...]"},
        {"t": 0.4, "type": "tool_call_start", "id": "call_1", "name": "get_weather"},
        {"t": 0.5, "type": "tool_call_end", "id": "call_1", "arguments": {"city": "Paris"}},
        {"t": 0.6, "type": "tool_result", "id": "call_1", "status": "done", "result": "sunny"},
        {"t": 0.7, "type": "text", "text": "It is sunny."},
        {"t": 0.8, "type": "finish", "reason": "stop"},
    ]
    messages = reply_messages(Document.from_events(events, "s1"))
    calls = [c["id"] for m in messages for c in m.get("tool_calls", [])]
    assert calls == ["call_1"]
    assert [m.get("tool_call_id") for m in messages if m["role"] == "tool"] == ["call_1"]
    assert messages[-1] == {"role": "assistant", "content": "It is sunny."}
