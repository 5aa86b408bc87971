// The whole view in jsdom with a fake anywidget model: initialize + render, messages in,
// DOM out. Animation frames are queued and flushed by hand.

import assert from "node:assert/strict";
import { beforeEach, describe, test } from "node:test";
import { JSDOM } from "jsdom";
import widget from "../src/stream_view";
import type { Model, ToolCall, WidgetModel } from "../src/model";

type Callback = (...args: any[]) => void;

class FakeModel {
  attrs: Model = {
    stream_id: "s1",
    status: "pending",
    text: "",
    reasoning: "",
    tool_calls: [],
    error: null,
    meta: {},
  };
  handlers = new Map<string, Set<Callback>>();
  sent: unknown[] = [];

  /** Like Backbone: assign every key first, then fire change events. */
  set(values: Partial<Model>): void {
    Object.assign(this.attrs, values);
    for (const key of Object.keys(values)) this.emit(`change:${key}`);
  }
  custom(msg: unknown): void {
    this.emit("msg:custom", msg);
  }
  emit(event: string, ...args: unknown[]): void {
    for (const cb of [...(this.handlers.get(event) ?? [])]) cb(...args);
  }
  listenerCount(): number {
    return [...this.handlers.values()].reduce((n, set) => n + set.size, 0);
  }
  /** anywidget hands out a fresh proxy object to initialize and to each render. */
  proxy(): WidgetModel<Model> {
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
      set: (key, value) => this.set({ [key]: value }),
    };
  }
}

let frames: Array<() => void> = [];
let doc: Document;

beforeEach(() => {
  const { window } = new JSDOM("<!doctype html><body></body>");
  frames = [];
  window.requestAnimationFrame = (cb: FrameRequestCallback) => frames.push(() => cb(0));
  window.cancelAnimationFrame = () => {};
  doc = window.document;
});

function flush(): void {
  const pending = frames;
  frames = [];
  for (const run of pending) run();
}

async function mount(model: FakeModel) {
  const w = widget();
  const stopInit = w.initialize({ model: model.proxy() });
  const el = doc.createElement("div");
  doc.body.append(el);
  const stopRender = w.render({ model: model.proxy(), el });
  return { w, el, stopInit, stopRender, root: () => el.querySelector<HTMLElement>(".sw-stream")! };
}

const delta = (at: number, text: string, field = "text") => ({ kind: "delta", field, at, text });

describe("StreamView front end", () => {
  test("asks for the document once on start and renders deltas per frame", async () => {
    const model = new FakeModel();
    const { root } = await mount(model);
    assert.deepEqual(model.sent, [{ kind: "resync" }]);
    assert.equal(root().dataset.status, "pending");
    assert.equal(root().dataset.streamId, "s1");

    model.set({ status: "streaming" });
    let text = "";
    for (const piece of ["Hello", ", ", "**world**", "!"]) {
      model.custom(delta(text.length, piece));
      text += piece;
    }
    assert.equal(frames.length, 1, "many updates, one animation frame");
    flush();
    const body = root().querySelector(".sw-text")!;
    assert.equal(body.textContent!.trim(), "Hello, world!");
    assert.ok(body.querySelector("strong"));
    assert.ok(body.querySelector(".sw-caret"), "caret while streaming");
    assert.equal(root().dataset.status, "streaming");
  });

  test("text before the status trait says streaming still gets a caret", async () => {
    const model = new FakeModel();
    model.attrs.meta = { model: null, provider: null, usage: null, first_token_t: null, last_t: 0 };
    const { root } = await mount(model);
    model.custom(delta(0, "early"));
    flush();
    assert.equal(root().dataset.status, "pending");
    assert.ok(root().querySelector(".sw-text .sw-caret"));
    assert.equal(root().querySelector<HTMLElement>(".sw-model")!.hidden, true);
    assert.equal(root().querySelector<HTMLElement>(".sw-metrics")!.hidden, true);
  });

  test("a gap sends a resync and the snapshot restores the text", async () => {
    const model = new FakeModel();
    const { root } = await mount(model);
    model.custom({ kind: "snapshot", text: "", reasoning: "" }); // answer to the first resync
    model.set({ status: "streaming" });
    model.custom(delta(0, "abc"));
    model.custom(delta(10, "lost"));
    assert.equal(model.sent.length, 2);
    model.custom({ kind: "snapshot", text: "abcdefghijlost", reasoning: "" });
    flush();
    assert.equal(root().querySelector(".sw-text")!.textContent!.trim(), "abcdefghijlost");
  });

  test("two views of one model share the buffers", async () => {
    const model = new FakeModel();
    const w = widget();
    w.initialize({ model: model.proxy() });
    const a = doc.createElement("div");
    const b = doc.createElement("div");
    w.render({ model: model.proxy(), el: a });
    model.set({ status: "streaming" });
    model.custom(delta(0, "shared text"));
    w.render({ model: model.proxy(), el: b }); // opened later
    flush();
    for (const el of [a, b]) assert.equal(el.querySelector(".sw-text")!.textContent!.trim(), "shared text");
    assert.equal(model.sent.length, 1, "the later view has text, so no extra resync");
  });

  test("terminal status: the text trait wins, caret gone, metrics shown", async () => {
    const model = new FakeModel();
    const { root } = await mount(model);
    model.set({ status: "streaming" });
    model.custom(delta(0, "Partial answ"));
    flush();
    model.set({
      status: "complete",
      text: "Full answer.\n\n[ref]: https://example.com",
      meta: { model: "gpt-4o", usage: { output_tokens: 48 }, first_token_t: 1.2, last_t: 2.2 },
    });
    flush();
    assert.equal(root().dataset.status, "complete");
    assert.equal(root().querySelector(".sw-text")!.textContent!.trim(), "Full answer.");
    assert.equal(root().querySelector(".sw-caret"), null);
    assert.equal(root().querySelector(".sw-model")!.textContent, "gpt-4o");
    assert.equal(
      root().querySelector(".sw-metrics")!.textContent,
      "1.2 s to first token · 48 tok/s · 48 tokens",
    );
    assert.equal(root().querySelector(".sw-badge")!.textContent, "Complete");
  });

  test("quiet end: the kernel sends no text; the buffers become the model's traits", async () => {
    const model = new FakeModel();
    const { root } = await mount(model);
    model.custom({ kind: "snapshot", text: "", reasoning: "" });
    model.set({ status: "streaming" });
    model.custom(delta(0, "Why", "reasoning"));
    model.custom(delta(0, "All **done**."));
    flush();
    model.set({ status: "complete", meta: { text_length: 13, reasoning_length: 3 } });
    flush();
    assert.equal(model.attrs.text, "All **done**.", "saved widget state will have the text");
    assert.equal(model.attrs.reasoning, "Why");
    assert.equal(model.sent.length, 1, "only the first resync");
    assert.equal(root().querySelector(".sw-text")!.textContent!.trim(), "All done.");
  });

  test("quiet end after lost deltas: one resync, the snapshot is shown and kept", async () => {
    const model = new FakeModel();
    const { root } = await mount(model);
    model.custom({ kind: "snapshot", text: "", reasoning: "" });
    model.set({ status: "streaming" });
    model.custom(delta(0, "Part one."));
    model.set({ status: "complete", meta: { text_length: 19, reasoning_length: 0 } });
    assert.deepEqual(model.sent, [{ kind: "resync" }, { kind: "resync" }]);
    assert.equal(model.attrs.text, "", "nothing settled yet");
    model.custom({ kind: "snapshot", text: "Part one. Part two.", reasoning: "" });
    flush();
    assert.equal(model.attrs.text, "Part one. Part two.");
    assert.equal(root().querySelector(".sw-text")!.textContent!.trim(), "Part one. Part two.");
  });

  test("a new view of a finished reply clones the blocks and renders over frames", async () => {
    const model = new FakeModel();
    const w = widget();
    w.initialize({ model: model.proxy() });
    const first = doc.createElement("div");
    w.render({ model: model.proxy(), el: first });
    const text = Array.from({ length: 300 }, (_, i) => `Paragraph ${i}: ${"word ".repeat(10)}`).join("\n\n");
    model.set({ status: "complete", text });
    while (frames.length) flush();
    const second = doc.createElement("div"); // JupyterLab makes one when the display is updated
    w.render({ model: model.proxy(), el: second });
    const blocks = () => second.querySelectorAll(".sw-text .sw-block").length;
    assert.ok(blocks() > 0 && blocks() < 300, "the first screenful at once, not everything");
    let frameCount = 0;
    while (frames.length) {
      flush();
      frameCount++;
    }
    assert.ok(frameCount >= 2);
    assert.equal(blocks(), 300);
    assert.equal(second.querySelector(".sw-text")!.innerHTML, first.querySelector(".sw-text")!.innerHTML);
  });

  test("a view whose node left the page renders nothing until it is back", async () => {
    // JupyterLab's widget renderer empties its node for the new view of a display update and
    // leaves the old view undisposed.
    const model = new FakeModel();
    const { el, root } = await mount(model);
    model.set({ status: "streaming" });
    model.custom(delta(0, "First.\n\n"));
    flush();
    const body = () => root().querySelector(".sw-text")!;
    assert.equal(body().textContent!.trim(), "First.");
    el.remove();
    model.custom(delta(8, "Second."));
    flush();
    assert.equal(body().textContent!.trim(), "First.", "not rendered while away");
    doc.body.append(el);
    await new Promise((resolve) => setTimeout(resolve, 300)); // the view looks four times a second
    flush();
    assert.match(body().textContent!, /First\.\s*Second\./);
  });

  test("tool cards follow tool_calls", async () => {
    const model = new FakeModel();
    const { root } = await mount(model);
    const call: ToolCall = {
      id: "call_1",
      name: "get_weather",
      status: "streaming_args",
      args_text: '{"city": "Pa',
      arguments: null,
      result: null,
      error: null,
      started_at: 0.9,
      ended_at: null,
    };
    model.set({ status: "streaming", tool_calls: [call] });
    flush();
    const card = root().querySelector<HTMLElement>(".sw-tool")!;
    assert.equal(card.dataset.status, "streaming_args");
    assert.equal(card.querySelector(".sw-tool-name")!.textContent, "get_weather");
    assert.equal(card.querySelector(".sw-tool-args pre")!.textContent, '{"city": "Pa');

    const done = { ...call, status: "done" as const, arguments: { city: "Paris" }, result: "Sunny", ended_at: 1.2 };
    model.set({ tool_calls: [done] });
    flush();
    assert.equal(root().querySelector(".sw-tool"), card, "updated in place");
    assert.equal(card.dataset.status, "done");
    assert.equal(card.querySelector(".sw-chip")!.textContent, "done");
    assert.equal(card.querySelector(".sw-tool-time")!.textContent, "0.30 s");
    assert.equal(card.querySelector(".sw-tool-args pre")!.textContent, '{\n  "city": "Paris"\n}');
    assert.equal(card.querySelector(".sw-tool-result pre")!.textContent, "Sunny");

    const failed = { ...call, id: "call_2", status: "error" as const, error: "boom", ended_at: 2 };
    model.set({ tool_calls: [failed, done] });
    flush();
    const cards = [...root().querySelectorAll<HTMLElement>(".sw-tool")];
    assert.deepEqual(cards.map((c) => c.dataset.toolId), ["call_2", "call_1"]);
    assert.equal(cards[0].querySelector<HTMLElement>(".sw-tool-error")!.hidden, false);
  });

  test("error banner and notices", async () => {
    const model = new FakeModel();
    const { root } = await mount(model);
    assert.equal(root().querySelector(".sw-error"), null, "no banner before an error");
    assert.equal(root().querySelector(".sw-notice"), null);
    model.set({ status: "error", error: { kind: "overloaded", message: "Try later" } });
    flush();
    const banner = root().querySelector<HTMLElement>(".sw-error")!;
    assert.equal(banner.getAttribute("role"), "alert");
    assert.equal(banner.querySelector(".sw-error-kind")!.textContent, "overloaded");
    assert.equal(banner.querySelector(".sw-error-message")!.textContent, "Try later");
    assert.equal(root().dataset.status, "error");

    model.set({ status: "interrupted", error: null });
    flush();
    assert.equal(root().querySelector(".sw-error"), null);
    assert.match(root().querySelector(".sw-notice")!.textContent!, /kernel .* died/);
    const reply = root().querySelector(".sw-reply")!;
    assert.equal(reply.lastElementChild, root().querySelector(".sw-notice"), "the notice goes last");
  });

  test("thinking is open while streaming and folds when the reply ends", async () => {
    const model = new FakeModel();
    const { root } = await mount(model);
    model.set({ status: "streaming" });
    model.custom(delta(0, "Let me think", "reasoning"));
    flush();
    const thinking = root().querySelector<HTMLDetailsElement>(".sw-thinking")!;
    assert.equal(thinking.hidden, false);
    assert.equal(thinking.open, true);
    model.set({ status: "complete", text: "Answer", reasoning: "Let me think." });
    flush();
    assert.equal(thinking.open, false);
    assert.equal(thinking.querySelector(".sw-reasoning")!.textContent!.trim(), "Let me think.");
  });

  test("a new stream_id starts over and asks again", async () => {
    const model = new FakeModel();
    const { root } = await mount(model);
    model.set({ status: "complete", text: "old" });
    flush();
    model.set({ stream_id: "s2", status: "pending", text: "" });
    flush();
    assert.equal(root().dataset.streamId, "s2");
    assert.equal(root().querySelector(".sw-text"), null, "the old text is gone");
    assert.equal(model.sent.length, 2);
  });

  test("cleanups remove the DOM and every listener", async () => {
    const model = new FakeModel();
    const { el, stopInit, stopRender } = await mount(model);
    assert.ok(model.listenerCount() > 0);
    (stopRender as () => void)();
    (stopInit as () => void)();
    assert.equal(el.children.length, 0);
    assert.equal(model.listenerCount(), 0);
    model.custom(delta(0, "late")); // nobody listens; nothing throws
  });
});
