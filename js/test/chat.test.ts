// The whole Chat view in jsdom with a fake anywidget model: traits and messages in, DOM out,
// clicks and keys out as messages. Animation frames are queued and flushed by hand.

import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, test } from "node:test";
import { JSDOM } from "jsdom";
import widget from "../src/chat";
import type { AssistantTurn, ChatModel } from "../src/chat_model";
import type { ToolCall, WidgetModel } from "../src/model";

type Callback = (...args: any[]) => void;

class FakeModel {
  attrs: ChatModel = {
    conversation_id: "c1",
    title: "New chat",
    recent: [],
    turn_count: 0,
    live: {},
    busy: false,
    conversations: [],
    model_name: "replay:demo",
    notice: "",
  };
  handlers = new Map<string, Set<Callback>>();
  sent: any[] = [];

  set(values: Partial<ChatModel>): void {
    Object.assign(this.attrs, values);
    for (const key of Object.keys(values)) this.emit(`change:${key}`);
  }
  custom(msg: unknown): void {
    this.emit("msg:custom", msg);
  }
  emit(event: string, ...args: unknown[]): void {
    for (const cb of [...(this.handlers.get(event) ?? [])]) cb(...args);
  }
  proxy(): WidgetModel<ChatModel> {
    return {
      get: (key) => this.attrs[key],
      on: (event, cb) => {
        if (!this.handlers.has(event)) this.handlers.set(event, new Set());
        this.handlers.get(event)!.add(cb);
      },
      off: (event, cb) => {
        if (event && cb) this.handlers.get(event)?.delete(cb);
      },
      send: (msg) => this.sent.push(msg),
      set: (key, value) => {
        this.attrs[key] = value;
        this.emit(`change:${key}`);
      },
    };
  }
  kinds(): string[] {
    return this.sent.map((m) => m.kind);
  }
}

let frames: Array<() => void> = [];
let cleanups: Array<() => void> = [];
let doc: Document;
let win: Window;

beforeEach(() => {
  const dom = new JSDOM("<!doctype html><body></body>");
  win = dom.window as unknown as Window;
  frames = [];
  dom.window.requestAnimationFrame = (cb: FrameRequestCallback) => frames.push(() => cb(0));
  dom.window.cancelAnimationFrame = () => {};
  doc = dom.window.document;
});

// Unmount after each test: a live view ticks (setInterval) and would keep node running.
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

function flush(): void {
  const pending = frames;
  frames = [];
  for (const run of pending) run();
}

/** Frames until nothing asks for another (turns are drawn a frame budget at a time). */
function flushAll(): number {
  let count = 0;
  while (frames.length && count < 100) (flush(), count++);
  return count;
}

function mount(model: FakeModel) {
  const w = widget();
  const stopInit = w.initialize({ model: model.proxy() });
  assert.deepEqual(model.sent.shift(), { kind: "hello" }, "a front end says hello first");
  const el = doc.createElement("div");
  doc.body.append(el);
  const stopRender = w.render({ model: model.proxy(), el });
  let done = false;
  cleanups.push(() => {
    if (!done) (stopRender(), stopInit());
    done = true;
  });
  const q = <T extends HTMLElement = HTMLElement>(sel: string) => el.querySelector<T>(sel)!;
  return { el, q, stopInit, stopRender };
}

function reply(id: string, extra: Partial<AssistantTurn> = {}): AssistantTurn {
  return {
    id, role: "assistant", stream_id: `s-${id}`, status: "pending", text: "", reasoning: "",
    tool_calls: [], error: null, meta: {}, ...extra,
  };
}

function key(target: HTMLElement, init: KeyboardEventInit): KeyboardEvent {
  const event = new (win as any).KeyboardEvent("keydown", { bubbles: true, cancelable: true, ...init });
  target.dispatchEvent(event);
  return event;
}

const user = (id: string, text: string) => ({ id, role: "user" as const, text });

describe("Chat front end", () => {
  test("Enter sends, Shift+Enter does not, and Stop shows before the kernel answers", () => {
    const model = new FakeModel();
    const { q } = mount(model);
    const input = q<HTMLTextAreaElement>(".sw-input");
    assert.equal(q(".sw-send").hidden, false);
    assert.equal(q(".sw-stop").hidden, true);

    input.value = "line one";
    const shifted = key(input, { key: "Enter", shiftKey: true });
    assert.equal(shifted.defaultPrevented, false, "Shift+Enter leaves the newline to the textarea");
    assert.deepEqual(model.sent, []);

    const enter = key(input, { key: "Enter" });
    assert.equal(enter.defaultPrevented, true);
    assert.deepEqual(model.sent, [{ kind: "send", text: "line one" }]);
    assert.equal(input.value, "", "the box clears");
    flushAll();
    assert.equal(q(".sw-stop").hidden, false, "Stop is there before the first token");
    assert.equal(q(".sw-send").hidden, true);

    input.value = "second";
    key(input, { key: "Enter" });
    assert.equal(model.sent.length, 1, "no second message while a reply is asked for");
    q(".sw-stop").click();
    assert.deepEqual(model.sent.at(-1), { kind: "stop" });
  });

  test("a message sent shows at the next frame, until the kernel's turn takes its place", () => {
    const model = new FakeModel();
    const { q, el } = mount(model);
    model.custom({ kind: "window", conversation_id: "c1", start: 0, turns: [user("u1", "Hi"), reply("m1", { status: "complete", text: "Hello" })] });
    flushAll();
    const input = q<HTMLTextAreaElement>(".sw-input");
    input.value = "  and now?  ";
    key(input, { key: "Enter" });
    assert.equal(el.querySelector(".sw-turn-pending"), null, "drawn at the next frame");
    flush();
    const users = () => [...el.querySelectorAll<HTMLElement>(".sw-turn[data-role=user]")];
    assert.deepEqual(users().map((t) => t.textContent), ["Hi", "and now?"]);
    assert.equal(users()[1].dataset.pending, "true");
    assert.equal(q(".sw-chat-empty").hidden, true);

    model.custom({ kind: "turn", conversation_id: "c1", index: 2, turn: user("u2", "and now?") });
    flushAll();
    assert.deepEqual(users().map((t) => t.textContent), ["Hi", "and now?"], "shown once");
    assert.equal(users()[1].dataset.messageId, "u2");
    assert.equal(el.querySelector(".sw-turn-pending"), null);

    // the kernel did not take it (a notice says why): the echo goes
    model.set({ busy: false });
    input.value = "again";
    key(input, { key: "Enter" });
    flush();
    assert.ok(el.querySelector(".sw-turn-pending"));
    model.set({ notice: "RuntimeError: a reply is still streaming" });
    flushAll();
    assert.equal(el.querySelector(".sw-turn-pending"), null);
    assert.deepEqual(users().map((t) => t.textContent), ["Hi", "and now?"]);
  });

  test("live deltas render into the assistant turn; the end shows the final text", () => {
    const model = new FakeModel();
    const { q, el } = mount(model);
    model.set({ recent: [user("u1", "Hi"), reply("m1")], busy: true });
    flushAll();
    assert.equal(q(".sw-turn[data-role=user] .sw-bubble").textContent, "Hi");
    const turn = q(".sw-turn[data-role=assistant]");
    assert.equal(turn.dataset.messageId, "m1");
    assert.equal(q(".sw-typing").hidden, false, "typing dots before the first token");
    assert.deepEqual(model.sent.at(-1), { kind: "resync", message_id: "m1" });

    model.custom({ kind: "snapshot", message_id: "m1", text: "", reasoning: "" });
    model.set({ live: { message_id: "m1", stream_id: "s-m1", status: "streaming", tool_calls: [], meta: {} } });
    model.custom({ kind: "delta", field: "text", at: 0, text: "Hello **wor", message_id: "m1" });
    model.custom({ kind: "delta", field: "text", at: 11, text: "ld**", message_id: "m1" });
    flushAll();
    assert.equal(turn.dataset.status, "streaming");
    assert.equal(q(".sw-turn[data-role=assistant] .sw-text").textContent!.trim(), "Hello world");
    assert.ok(el.querySelector(".sw-caret"));
    assert.equal(q(".sw-typing").hidden, true);
    assert.equal(q(".sw-stop").hidden, false);

    model.set({
      recent: [user("u1", "Hi"), reply("m1", { status: "cancelled", text: "Hello **world**" })],
      live: {},
      busy: false,
    });
    flushAll();
    assert.equal(turn.dataset.status, "cancelled");
    assert.equal(q(".sw-notice").textContent, "Stopped — partial reply kept");
    assert.equal(q(".sw-notice").hidden, false);
    assert.equal(el.querySelector(".sw-caret"), null);
    assert.equal(q(".sw-text strong").textContent, "world");
    assert.equal(q(".sw-send").hidden, false);
    assert.equal(q(".sw-retry").hidden, false, "the last reply can be retried");
    q(".sw-retry").click();
    assert.deepEqual(model.sent.at(-1), { kind: "retry" });
  });

  test("a tool call awaiting approval has Approve and Deny buttons that answer once", () => {
    const model = new FakeModel();
    const { q, el } = mount(model);
    const call: ToolCall = {
      id: "call_1", name: "get_weather", status: "pending_approval", args_text: '{"city": "Paris"}',
      arguments: { city: "Paris" }, result: null, error: null, started_at: 0.1, ended_at: null,
    };
    model.set({ recent: [user("u", "weather?"), reply("m1")], busy: true });
    model.set({ live: { message_id: "m1", stream_id: "s-m1", status: "streaming", tool_calls: [call], meta: {} } });
    flushAll();
    const card = q(".sw-tool[data-status=pending_approval]");
    assert.equal(card.querySelector<HTMLElement>(".sw-tool-actions")!.hidden, false);
    const approve = card.querySelector<HTMLButtonElement>("button[data-action=approve]")!;
    const deny = card.querySelector<HTMLButtonElement>("button[data-action=deny]")!;
    approve.click();
    assert.deepEqual(model.sent.at(-1), { kind: "approve", message_id: "m1", call_id: "call_1" });
    assert.equal(approve.disabled && deny.disabled, true, "one decision per call");

    model.set({ live: { ...model.attrs.live, tool_calls: [{ ...call, status: "running" }] } });
    flushAll();
    assert.equal(card.dataset.status, "running");
    assert.equal(card.querySelector<HTMLElement>(".sw-tool-actions")!.hidden, true);
    assert.equal(el.querySelectorAll(".sw-tool").length, 1);
  });

  test("the conversation list reopens earlier chats; New chat asks for a new one", () => {
    const model = new FakeModel();
    const { q, el } = mount(model);
    const now = new Date().toISOString();
    model.set({
      conversations: [
        { id: "c1", title: "New chat", updated_at: now, messages: 0 },
        { id: "c0", title: "Weather in Paris", updated_at: now, messages: 4 },
      ],
    });
    flushAll();
    const toggle = q(".sw-history-toggle");
    assert.equal(toggle.textContent, "Chats (1)");
    assert.equal(q(".sw-chat-history").hidden, true, "closed until asked for");
    toggle.click();
    flushAll();
    assert.equal(toggle.getAttribute("aria-expanded"), "true");
    const items = [...el.querySelectorAll<HTMLElement>(".sw-conv")];
    assert.deepEqual(items.map((i) => i.querySelector(".sw-conv-title")!.textContent), ["New chat", "Weather in Paris"]);
    assert.equal(items[0].getAttribute("aria-current"), "true");
    assert.equal(items[1].querySelector(".sw-conv-when")!.textContent, "just now");
    items[0].click();
    assert.deepEqual(model.sent, [], "the open chat is not reopened");
    items[1].click();
    assert.deepEqual(model.sent.at(-1), { kind: "open", conversation_id: "c0" });
    q(".sw-new-chat").click();
    assert.deepEqual(model.sent.at(-1), { kind: "new_chat" });
  });

  test("an empty demo chat offers prompts; a notice can be dismissed", () => {
    const model = new FakeModel();
    const { q, el } = mount(model);
    const prompts = [...el.querySelectorAll<HTMLElement>(".sw-prompt")];
    assert.ok(prompts.length >= 3);
    prompts[0].click();
    assert.deepEqual(model.sent, [{ kind: "send", text: prompts[0].textContent }]);
    model.set({ busy: true });
    model.set({ busy: false, notice: "ValueError: the model could not start", recent: [user("u", "x")] });
    flushAll();
    assert.equal(q(".sw-chat-empty").hidden, true);
    assert.equal(q(".sw-chat-notice").hidden, false);
    assert.match(q(".sw-chat-notice-text").textContent!, /could not start/);
    q(".sw-chat-notice button").click();
    assert.deepEqual(model.sent.at(-1), { kind: "dismiss" });
  });

  test("cleanup removes the DOM and every listener", () => {
    const model = new FakeModel();
    const { el, stopInit, stopRender } = mount(model);
    stopRender();
    stopInit();
    cleanups = [];
    assert.equal(el.childElementCount, 0);
    const left = [...model.handlers.values()].reduce((n, set) => n + set.size, 0);
    assert.equal(left, 0);
  });
  test("turns arrive as messages: a window, a new turn, a quiet end kept in `recent`", () => {
    const model = new FakeModel();
    const { q, el } = mount(model);
    const win = (turns: unknown[], start = 0) =>
      model.custom({ kind: "window", conversation_id: "c1", start, turns });
    win([user("u1", "Hi"), reply("m1", { status: "complete", text: "Hello." })]);
    model.custom({ kind: "turn", conversation_id: "c1", index: 2, turn: user("u2", "More?") });
    model.custom({ kind: "turn", conversation_id: "other", index: 3, turn: user("x", "not ours") });
    model.custom({ kind: "turn", conversation_id: "c1", index: 3, turn: reply("m2") });
    model.custom({ kind: "delta", field: "text", at: 0, text: "Sure, ", message_id: "m2" });
    model.custom({ kind: "delta", field: "text", at: 6, text: "more.", message_id: "m2" });
    const end = reply("m2", { status: "complete", meta: { text_length: 11, reasoning_length: 0 } });
    model.custom({ kind: "turn", conversation_id: "c1", index: 3, turn: end });
    flushAll();
    const shown = [...el.querySelectorAll<HTMLElement>(".sw-turn")].map((t) => t.dataset.messageId);
    assert.deepEqual(shown, ["u1", "m1", "u2", "m2"]);
    assert.equal(q(".sw-turn[data-message-id=m2] .sw-text").textContent!.trim(), "Sure, more.");
    // the text built from the deltas is the final one: kept for the saved notebook
    const recent = model.attrs.recent;
    assert.equal(recent.length, 4);
    assert.equal((recent[3] as AssistantTurn).text, "Sure, more.");
    assert.equal(model.attrs.turn_count, 4);
    // one resync when the empty reply appeared (a view may open mid-reply), none at the end:
    // the lengths matched
    assert.equal(model.kinds().filter((k) => k === "resync").length, 1);
  });

  test("a quiet end whose deltas were lost asks for the document", () => {
    const model = new FakeModel();
    mount(model);
    model.custom({ kind: "window", conversation_id: "c1", start: 0, turns: [reply("m1")] });
    model.custom({ kind: "delta", field: "text", at: 0, text: "Sure", message_id: "m1" });
    const end = reply("m1", { status: "complete", meta: { text_length: 11 } });
    model.custom({ kind: "turn", conversation_id: "c1", index: 0, turn: end });
    assert.deepEqual(model.sent.at(-1), { kind: "resync", message_id: "m1" });
    model.custom({ kind: "snapshot", message_id: "m1", text: "Sure, more.", reasoning: "" });
    assert.equal((model.attrs.recent[0] as AssistantTurn).text, "Sure, more.");
  });

  test("scrolled to the top, the log asks for older turns and puts them in front", () => {
    const model = new FakeModel();
    const { el } = mount(model);
    const turns = [user("u5", "five"), reply("m5", { status: "complete", text: "five!" })];
    model.custom({ kind: "window", conversation_id: "c1", start: 10, turns });
    flushAll();
    assert.equal(model.sent.filter((m) => m.kind === "older").length, 0, "not before a scroll");
    const log = el.querySelector<HTMLElement>(".sw-chat-log")!;
    log.dispatchEvent(new (win as any).Event("scroll")); // jsdom lays nothing out: scrollTop is 0
    log.dispatchEvent(new (win as any).Event("scroll"));
    const asks = model.sent.filter((m) => m.kind === "older");
    assert.deepEqual(asks, [{ kind: "older", conversation_id: "c1", before: "u5", request_id: 1 }]);
    assert.equal(asks.length, 1, "one request at a time");
    const older = [user("u4", "four"), reply("m4", { status: "complete", text: "four!" })];
    model.custom({ kind: "older", conversation_id: "c1", request_id: 1, before: "u5", start: 8, turns: older });
    model.custom({ kind: "older", conversation_id: "c1", request_id: 1, before: "u5", start: 8, turns: older });
    flushAll();
    const shown = [...el.querySelectorAll<HTMLElement>(".sw-turn")].map((t) => t.dataset.messageId);
    assert.deepEqual(shown, ["u4", "m4", "u5", "m5"], "prepended once");
    log.dispatchEvent(new (win as any).Event("scroll"));
    assert.deepEqual(model.sent.filter((m) => m.kind === "older").at(-1)?.before, "u4");
  });
  test("a large window is drawn newest first, a frame budget at a time", () => {
    const model = new FakeModel();
    const { el } = mount(model);
    const text = Array.from({ length: 40 }, (_, i) => `Paragraph ${i} with **bold** and \`code\`.`).join("\n\n");
    const turns = Array.from({ length: 40 }, (_, i) =>
      i % 2 ? reply(`m${i}`, { status: "complete", text }) : user(`u${i}`, `q${i}`));
    model.custom({ kind: "window", conversation_id: "c1", start: 0, turns });
    flush();
    const first = [...el.querySelectorAll<HTMLElement>(".sw-turn")].map((t) => t.dataset.messageId);
    assert.ok(first.length < 40, `one frame drew ${first.length} of 40 turns`);
    assert.equal(first.at(-1), "m39", "the newest turn first");
    assert.ok(flushAll() >= 1);
    const all = [...el.querySelectorAll<HTMLElement>(".sw-turn")].map((t) => t.dataset.messageId);
    assert.deepEqual(all, turns.map((t) => t.id), "then every turn, in order");
  });
});
