import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { canRetry, ChatSyncs, keyAction, relativeTime, TurnList, withLive } from "../src/chat_logic";
import type { AssistantTurn, ChatMsg, Turn } from "../src/chat_model";

function reply(id: string, extra: Partial<AssistantTurn> = {}): AssistantTurn {
  return {
    id,
    role: "assistant",
    stream_id: `s-${id}`,
    status: "streaming",
    text: "",
    reasoning: "",
    tool_calls: [],
    error: null,
    meta: {},
    ...extra,
  };
}

const delta = (message_id: string, at: number, text: string) => ({
  kind: "delta",
  field: "text",
  at,
  text,
  message_id,
});

describe("keyAction", () => {
  test("Enter sends", () => assert.equal(keyAction({ key: "Enter" }), "send"));
  test("Shift+Enter is a new line", () => assert.equal(keyAction({ key: "Enter", shiftKey: true }), null));
  test("Enter that ends an IME composition does not send", () => {
    assert.equal(keyAction({ key: "Enter", isComposing: true }), null);
    assert.equal(keyAction({ key: "Enter", keyCode: 229 }), null);
  });
  test("other keys are left alone", () => assert.equal(keyAction({ key: "a" }), null));
});

describe("relativeTime", () => {
  const now = Date.parse("2025-06-10T12:00:00Z");
  const ago = (ms: number) => new Date(now - ms).toISOString();
  test("recent times", () => {
    assert.equal(relativeTime(ago(20_000), now), "just now");
    assert.equal(relativeTime(ago(5 * 60_000), now), "5 min ago");
    assert.equal(relativeTime(ago(3 * 3600_000), now), "3 h ago");
    assert.equal(relativeTime(ago(26 * 3600_000), now), "yesterday");
    assert.equal(relativeTime(ago(4 * 86400_000), now), "4 d ago");
  });
  test("older ones show the date; bad input shows nothing", () => {
    assert.equal(relativeTime("2025-05-01T08:00:00+00:00", now), "2025-05-01");
    assert.equal(relativeTime("not a date", now), "");
  });
});

describe("withLive and canRetry", () => {
  test("the live state overrides its own turn only", () => {
    const turn = reply("m1");
    const live = {
      message_id: "m1",
      stream_id: "s-m1",
      status: "complete" as const,
      tool_calls: [],
      meta: { model: "x" },
    };
    assert.equal(withLive(turn, live).status, "complete");
    assert.equal(withLive(turn, { ...live, stream_id: "s-old" }), turn, "another stream: unchanged");
    assert.equal(withLive(reply("m2"), live).status, "streaming");
  });
  test("retry needs a finished last reply and nothing streaming", () => {
    const user: Turn = { id: "u", role: "user", text: "hi" };
    const done = reply("m", { status: "complete" });
    assert.equal(canRetry([user, done], false), true);
    assert.equal(canRetry([user, done], true), false);
    assert.equal(canRetry([user, reply("m")], false), false);
    assert.equal(canRetry([user], false), false);
    assert.equal(canRetry([], false), false);
  });
});

describe("ChatSyncs", () => {
  function setup() {
    const sent: ChatMsg[] = [];
    const syncs = new ChatSyncs((m) => sent.push(m));
    let changes = 0;
    syncs.subscribe(() => changes++);
    return { syncs, sent, changes: () => changes };
  }

  test("deltas are routed by message id", () => {
    const { syncs, changes } = setup();
    const a = syncs.sync(reply("a"));
    const b = syncs.sync(reply("b"));
    syncs.route(delta("a", 0, "Hello"));
    syncs.route(delta("b", 0, "Other"));
    syncs.route(delta("a", 5, " there"));
    assert.equal(a.text, "Hello there");
    assert.equal(b.text, "Other");
    assert.equal(changes(), 3);
  });

  test("a gap asks for a resync of that message, and its snapshot repairs it", () => {
    const { syncs, sent } = setup();
    const a = syncs.sync(reply("a", { status: "complete", text: "" }));
    sent.length = 0;
    const live = syncs.sync(reply("live"));
    assert.deepEqual(sent, [{ kind: "resync", message_id: "live" }], "an empty live turn asks");
    syncs.route({ kind: "snapshot", message_id: "live", text: "", reasoning: "" });
    syncs.route(delta("live", 0, "ab"));
    syncs.route(delta("live", 9, "zz"));
    assert.deepEqual(sent.at(-1), { kind: "resync", message_id: "live" });
    syncs.route({ kind: "snapshot", message_id: "live", text: "abcdefghizz", reasoning: "" });
    assert.equal(live.text, "abcdefghizz");
    assert.equal(a.text, "");
  });

  test("the final text of a finished turn replaces the buffer", () => {
    const { syncs } = setup();
    syncs.sync(reply("a"));
    syncs.route(delta("a", 0, "partial"));
    const s = syncs.sync(reply("a", { status: "cancelled", text: "partial text" }));
    assert.equal(s.text, "partial text");
    assert.equal(s.isTerminal, true);
  });

  test("a retried message (new stream) starts from an empty buffer", () => {
    const { syncs } = setup();
    const first = syncs.sync(reply("a", { status: "complete", text: "old answer" }));
    const again = syncs.sync(reply("a", { stream_id: "s-new" }));
    assert.notEqual(again, first);
    assert.equal(again.text, "");
    syncs.route(delta("a", 0, "new"));
    assert.equal(again.text, "new");
  });

  test("a delta before its turn is kept and adopted", () => {
    const { syncs } = setup();
    syncs.route(delta("early", 0, "first words"));
    assert.equal(syncs.sync(reply("early")).text, "first words");
  });

  test("retain forgets messages that are no longer shown; other messages are ignored", () => {
    const { syncs } = setup();
    syncs.sync(reply("a"));
    syncs.sync(reply("b"));
    syncs.retain(new Set(["b"]));
    assert.equal(syncs.has("a"), false);
    assert.equal(syncs.has("b"), true);
    syncs.route({ kind: "delta", field: "text", at: 0, text: "x" }); // no message id
    syncs.route(null);
    assert.equal(syncs.has("undefined"), false);
  });
});

describe("TurnList", () => {
  const user = (id: string): Turn => ({ id, role: "user", text: id });

  test("a window, turns upserted by id, pages of older turns in front", () => {
    const list = new TurnList();
    assert.ok(list.apply({ kind: "window", conversation_id: "c", start: 4, turns: [user("u2"), reply("m2")] }));
    assert.ok(list.hasOlder);
    list.apply({ kind: "turn", conversation_id: "c", index: 6, turn: user("u3") });
    list.apply({ kind: "turn", conversation_id: "c", index: 1, turn: reply("m2", { status: "complete" }) });
    assert.deepEqual(list.turns.map((t) => t.id), ["u2", "m2", "u3"]);
    assert.equal((list.turns[1] as AssistantTurn).status, "complete");
    assert.equal(list.apply({ kind: "turn", conversation_id: "x", index: 0, turn: user("z") }), false);
    const older = { kind: "older" as const, conversation_id: "c", request_id: 1, start: 2 };
    assert.equal(list.apply({ ...older, before: "u3", turns: [user("u1")] }), false, "not in front");
    assert.ok(list.apply({ ...older, before: "u2", turns: [user("u1"), reply("m1")] }));
    assert.deepEqual(list.turns.map((t) => t.id), ["u1", "m1", "u2", "m2", "u3"]);
    assert.equal(list.start, 2);
    list.apply({ kind: "turn", conversation_id: "c", index: 4, turn: user("u3") });
    assert.equal(list.turns.length, 5, "the index follows the prepended page");
    assert.ok(list.settle("m2", "text", "done"));
    assert.equal((list.turns[3] as AssistantTurn).text, "done");
    assert.equal(list.settle("u1", "text", "no"), false, "only replies settle");
    assert.deepEqual(list.recent(2).map((t) => t.id), ["m2", "u3"]);
  });
});
