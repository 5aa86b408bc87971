// The Player front end in jsdom with a fake anywidget model: traits in, DOM and requests out.

import assert from "node:assert/strict";
import { beforeEach, describe, test } from "node:test";
import { JSDOM } from "jsdom";
import widget from "../src/player";
import type { PlayerModel, Timeline } from "../src/player_model";
import { shortDuration, timingParts } from "../src/player_strip";
import type { WidgetModel } from "../src/model";

type Callback = (...args: any[]) => void;

const FULL = "# Title\n\nFirst paragraph here.\n\nSecond paragraph follows.\n\nThird.";

function timeline(over: Partial<Timeline> = {}): Timeline {
  return {
    span: 10, duration: 10, ttft: 0.5, text_events: 4, output_tokens: 40, tokens_source: "usage",
    tokens_per_s: 4.2, gap_p50: 0.021, gap_p95: 0.04, gap_max: 1.5, stall_threshold: 0.5,
    stalls: [[4, 5.5]], stall_time: 1.5, tools: [[6, 7, "get_weather", "done"]],
    bins: { text: [1, 0, 3, 0, 2, 0, 0, 1, 0, 1], reasoning: [0, 2, 0, 0, 0, 0, 0, 0, 0, 0] },
    ...over,
  };
}

class FakeModel {
  attrs: PlayerModel = {
    info: { title: "A recording", source: "bundled:x", model: "m", provider: "p", events: 8, duration: 10 },
    timeline: timeline(),
    position: 8,
    time: 10,
    text_len: FULL.length,
    reasoning_len: 0,
    status: "complete",
    tool_calls: [],
    error: null,
    meta: {},
    inspector: [
      { i: 6, t: 9.5, type: "text", payload: '{"text": "Third."}' },
      { i: 7, t: 10, type: "finish", payload: '{"reason": "stop"}' },
    ],
    playing: false,
    speed: 1,
  };
  handlers = new Map<string, Set<Callback>>();
  sent: any[] = [];
  /** Answer requests at once, as a kernel holding FULL would (the whole text in one piece). */
  autoReply = true;

  reply(msg: any): void {
    const piece = { start: 0, end: FULL.length, text: FULL, append: false };
    const empty = { start: 0, end: 0, text: "", append: false };
    this.emit("msg:custom", { kind: "reply", view: msg.view, seq: msg.seq, position: 0, text: piece, reasoning: empty });
  }

  set(values: Partial<PlayerModel>): void {
    Object.assign(this.attrs, values);
    for (const key of Object.keys(values)) this.emit(`change:${key}`);
  }
  emit(event: string, ...args: unknown[]): void {
    for (const cb of [...(this.handlers.get(event) ?? [])]) cb(...args);
  }
  listenerCount(): number {
    return [...this.handlers.values()].reduce((n, set) => n + set.size, 0);
  }
  proxy(): WidgetModel<PlayerModel> {
    return {
      get: (key) => this.attrs[key],
      on: (event, cb) => {
        if (!this.handlers.has(event)) this.handlers.set(event, new Set());
        this.handlers.get(event)!.add(cb);
      },
      off: (event, cb) => {
        if (event && cb) this.handlers.get(event)?.delete(cb);
      },
      set: (key, value) => {
        this.attrs[key] = value;
        this.emit(`change:${key}`);
      },
      send: (msg: any) => {
        this.sent.push(msg);
        if (this.autoReply && msg.view) this.reply(msg);
      },
    };
  }
}

let frames: Array<() => void> = [];
let doc: Document;
let win: any;

beforeEach(() => {
  const dom = new JSDOM("<!doctype html><body></body>");
  win = dom.window;
  frames = [];
  win.requestAnimationFrame = (cb: FrameRequestCallback) => frames.push(() => cb(0));
  win.cancelAnimationFrame = () => {};
  doc = win.document;
});

function flush(): void {
  const pending = frames;
  frames = [];
  for (const run of pending) run();
}

function mount(model: FakeModel) {
  const el = doc.createElement("div");
  doc.body.append(el);
  const stop = widget().render({ model: model.proxy(), el });
  const root = el.querySelector<HTMLElement>(".sw-player")!;
  const q = <T extends Element = HTMLElement>(sel: string) => root.querySelector<T>(sel)!;
  /** The reply's text as drawn: every text run, in order (none before any text is here). */
  const shown = () => Array.from(root.querySelectorAll(".sw-text"), (e) => e.textContent).join("");
  return { el, stop, root, q, shown };
}

/** The requests sent, without what the queue adds (view, have, seq) and without text pulls. */
function requests(model: FakeModel): any[] {
  return model.sent
    .filter((m) => m.kind !== "text")
    .map(({ view, have, seq, ...rest }) => rest);
}

/** Move the cursor as the kernel would: to `n` characters of the final text. */
function cursor(model: FakeModel, chars: number, position: number, status: any = "streaming") {
  model.set({ text_len: chars, position, time: position, status });
  flush();
}

describe("Player front end", () => {
  test("shows the prefix of the final text the cursor traits select", () => {
    const model = new FakeModel();
    const { root, q } = mount(model);
    flush(); // the text asked for on mount has come back
    assert.equal(root.dataset.position, "8");
    assert.equal(root.dataset.status, "complete");
    assert.match(q(".sw-text").textContent!, /Third\./);
    cursor(model, FULL.indexOf("Second"), 3);
    const shown = q(".sw-text").textContent!;
    assert.match(shown, /First paragraph here\./);
    assert.doesNotMatch(shown, /Second|Third/);
    assert.equal(root.dataset.position, "3");
    assert.equal(q(".sw-player-doc").dataset.status, "streaming");
    assert.ok(q(".sw-text .sw-caret"), "a caret while the document at the cursor is streaming");
  });

  test("moving forward extends the rendered blocks; moving back starts over", () => {
    const model = new FakeModel();
    const { q } = mount(model);
    cursor(model, FULL.indexOf("Second"), 3);
    const firstBlock = q(".sw-text .sw-block");
    assert.ok(firstBlock, "finished blocks are rendered once");
    cursor(model, FULL.indexOf("Third"), 5);
    assert.equal(q(".sw-text .sw-block"), firstBlock, "forward: earlier blocks are kept as they are");
    assert.match(q(".sw-text").textContent!, /Second paragraph follows\./);
    cursor(model, 4, 1);
    assert.equal(q(".sw-text").textContent!.trim(), "Ti", "the prefix '# Ti' is a heading");
    assert.notEqual(q(".sw-text .sw-block"), firstBlock);
  });

  test("dragging keeps one seek in flight and sends only the newest position next", () => {
    const model = new FakeModel();
    const { q } = mount(model);
    flush();
    model.autoReply = false;
    model.sent = [];
    const strip = q(".sw-strip");
    strip.getBoundingClientRect = () => ({ left: 100, width: 400, top: 0, height: 44 }) as DOMRect;
    const at = (type: string, x: number, target: EventTarget) =>
      target.dispatchEvent(new win.MouseEvent(type, { clientX: x, button: 0, bubbles: true }));
    at("pointerdown", 200, strip); // 25 %: goes out at once
    at("pointermove", 250, doc);
    at("pointermove", 300, doc); // 50 %
    assert.deepEqual(requests(model), [{ kind: "seek", t: 2.5 }], "one in flight, the rest wait");
    assert.equal(parseFloat(q(".sw-strip-head").style.left), 50, "the playhead follows the pointer");
    model.reply(model.sent[0]);
    assert.deepEqual(requests(model), [{ kind: "seek", t: 2.5 }, { kind: "seek", t: 5 }], "37.5 % was dropped");
    model.set({ time: 2 }); // a late kernel answer must not yank the playhead while dragging
    flush();
    assert.equal(parseFloat(q(".sw-strip-head").style.left), 50);
    at("pointerup", 600, doc); // past the end: clamped, waits for the answer to t=5
    assert.equal(model.sent.length, 2);
    model.set({ time: 5 }); // the answer to t=5 lands after release: still not the playhead's place
    flush();
    assert.equal(parseFloat(q(".sw-strip-head").style.left), 100, "the playhead stays at the release");
    model.reply(model.sent[1]);
    assert.deepEqual(requests(model).at(-1), { kind: "seek", t: 10 });
    assert.deepEqual(model.sent.map((m) => m.seq), [1, 2, 3].map((n) => n + model.sent[0].seq - 1));
    at("pointermove", 150, doc);
    flush();
    assert.equal(model.sent.length, 3, "no seeks after release");
  });

  test("the view asks for the text it lacks and shows where its window starts", () => {
    const model = new FakeModel();
    model.autoReply = false;
    const { q, shown } = mount(model);
    flush();
    assert.deepEqual(model.sent.map((m) => [m.kind, m.position, m.have.text]), [["text", 8, [0, 0]]]);
    assert.equal(shown(), "", "nothing to draw before the text is here");
    cursor(model, FULL.length, 8);
    assert.equal(model.sent.length, 1, "one request in flight at a time");
    const tail = FULL.slice(9);
    model.emit("msg:custom", {
      kind: "reply", view: model.sent[0].view, seq: model.sent[0].seq, position: 8,
      text: { start: 9, end: FULL.length, text: tail, append: false }, reasoning: null,
    });
    flush();
    assert.match(shown(), /Third\./);
    assert.doesNotMatch(shown(), /Title/);
    assert.equal(q(".sw-player-earlier").textContent, "Show earlier text (9 characters before)");
    q<HTMLButtonElement>(".sw-player-earlier").click();
    const ask = model.sent.at(-1);
    assert.deepEqual([ask.kind, ask.earlier, ask.have.text], ["text", true, [9, FULL.length]]);
    model.emit("msg:custom", {
      kind: "reply", view: ask.view, seq: ask.seq, position: 8, reasoning: null,
      text: { start: 0, end: 9, text: FULL.slice(0, 9), append: false, prepend: true },
    });
    flush();
    assert.match(shown(), /^Title/);
    assert.equal(q<HTMLButtonElement>(".sw-player-earlier").hidden, true, "nothing before");
    model.emit("msg:custom", { kind: "reply", view: "someone-else", seq: 99, position: 0,
      text: { start: 0, end: 1, text: "X", append: false }, reasoning: null });
    flush();
    assert.match(shown(), /Third\./, "replies to other views are ignored");
    cursor(model, 4, 1); // before the first window; the earlier text is held now
    assert.equal(model.sent.length, 2, "held from 0 now: no request");
    assert.equal(shown().trim(), "Ti");
  });

  test("a cursor's status and text are drawn together, never a final status over older text", () => {
    const model = new FakeModel();
    model.autoReply = false;
    const at3 = FULL.indexOf("Second");
    Object.assign(model.attrs, { position: 3, time: 3, text_len: at3, status: "streaming" });
    const { root, q, shown } = mount(model);
    flush();
    assert.equal(root.dataset.status, undefined, "nothing of the cursor before its text is here");
    const ask = model.sent[0];
    model.emit("msg:custom", {
      kind: "reply", view: ask.view, seq: ask.seq, position: 3, reasoning: null,
      text: { start: 0, end: at3, text: FULL.slice(0, at3), append: false },
    });
    flush();
    assert.deepEqual([root.dataset.status, root.dataset.position], ["streaming", "3"]);
    cursor(model, FULL.length, 8, "complete"); // the traits of the end, the text still to come
    assert.deepEqual([root.dataset.status, root.dataset.position], ["streaming", "3"]);
    assert.equal(q(".sw-player-doc").dataset.status, "streaming");
    assert.doesNotMatch(shown(), /Third/);
    assert.match(q(".sw-player-readout").textContent!, /event 3 \/ 8/);
    const pull = model.sent.at(-1);
    assert.deepEqual([pull.kind, pull.position, pull.have.text], ["text", 8, [0, at3]]);
    model.emit("msg:custom", {
      kind: "reply", view: pull.view, seq: pull.seq, position: 8, reasoning: null,
      text: { start: at3, end: FULL.length, text: FULL.slice(at3), append: true },
    });
    flush();
    assert.deepEqual([root.dataset.status, root.dataset.position], ["complete", "8"]);
    assert.equal(q(".sw-player-doc").dataset.status, "complete");
    assert.match(shown(), /Third\./);
    assert.match(q(".sw-player-readout").textContent!, /event 8 \/ 8/);
  });

  test("a frame of playback sent to every view is drawn with its cursor, with no request", () => {
    const model = new FakeModel();
    const at3 = FULL.indexOf("Second");
    const at5 = FULL.indexOf("Third");
    Object.assign(model.attrs, { position: 3, time: 3, text_len: at3, status: "streaming" });
    model.reply = (msg: any) => model.emit("msg:custom", {
      kind: "reply", view: msg.view, seq: msg.seq, position: 3, reasoning: null,
      text: { start: 0, end: at3, text: FULL.slice(0, at3), append: false },
    });
    const { root, shown } = mount(model);
    flush();
    model.sent = [];
    const frame = (start: number, end: number) => model.emit("msg:custom", {
      kind: "reply", view: null, seq: null, position: 0, reasoning: null,
      text: { start, end, text: FULL.slice(start, end), append: true },
    });
    frame(at3, at5); // the kernel sends the text before the traits that need it
    cursor(model, at5, 5);
    assert.deepEqual(model.sent, [], "the view had the text: no request");
    assert.equal(root.dataset.position, "5");
    assert.match(shown(), /Second paragraph follows\./);
    frame(at3, at5); // not a continuation of what the view holds: dropped
    frame(at5, FULL.length);
    cursor(model, FULL.length, 8, "complete");
    assert.deepEqual(model.sent, []);
    assert.equal(shown().match(/Second paragraph/g)!.length, 1);
    assert.deepEqual([root.dataset.status, root.dataset.position], ["complete", "8"]);
  });

  test("the view keeps a bounded snapshot of its cursor on the model, never sent", () => {
    const long = Array.from({ length: 2000 }, (_, i) => `line ${i}`).join("\n");
    const model = new FakeModel();
    Object.assign(model.attrs, { text_len: long.length });
    model.reply = (msg: any) => model.emit("msg:custom", {
      kind: "reply", view: msg.view, seq: msg.seq, position: 8, reasoning: null,
      text: { start: 0, end: long.length, text: long, append: false },
    });
    mount(model);
    flush();
    const snap = model.attrs.snapshot!;
    assert.equal(snap.position, 8);
    assert.equal(snap.text.start + snap.text.text.length, long.length, "ends at the cursor");
    assert.ok(snap.text.text.length <= 4096 && snap.text.text.length > 3000, `${snap.text.text.length}`);
    assert.match(snap.text.text, /^line \d+\n/, "from the start of a line");
    assert.ok(model.sent.every((m) => !("snapshot" in m)), "not sent to the kernel");

    // reopened without a kernel: the snapshot of this cursor is drawn, marked as a tail
    const saved = new FakeModel();
    saved.autoReply = false;
    Object.assign(saved.attrs, { text_len: long.length, snapshot: snap });
    const { root, q, shown } = mount(saved);
    flush();
    assert.equal(root.dataset.drawnFrom, "snapshot");
    assert.equal(root.dataset.status, "complete");
    assert.match(shown(), /line 1999\s*$/);
    assert.doesNotMatch(shown(), /line 0\n/);
    const note = q(".sw-player-unsaved");
    assert.equal(note.hidden, false);
    assert.equal(note.textContent, `… ${snap.text.start.toLocaleString("en-US")} earlier characters were not saved with the notebook`);
    assert.equal(q<HTMLButtonElement>(".sw-player-earlier").hidden, true, "no kernel to ask");
    // the kernel answers after all: its text replaces the snapshot
    const ask = saved.sent[0];
    saved.emit("msg:custom", {
      kind: "reply", view: ask.view, seq: ask.seq, position: 8, reasoning: null,
      text: { start: 0, end: long.length, text: long, append: false },
    });
    flush();
    assert.equal(root.dataset.drawnFrom, "kernel");
    assert.match(shown(), /^line 0\n/);
    assert.equal(note.hidden, true);
  });

  test("a snapshot of another cursor is not drawn", () => {
    const model = new FakeModel();
    model.autoReply = false;
    const at3 = FULL.indexOf("Second");
    Object.assign(model.attrs, {
      snapshot: { position: 3, text: { start: 0, text: FULL.slice(0, at3) }, reasoning: { start: 0, text: "" } },
    });
    const { root, shown } = mount(model);
    flush();
    assert.equal(shown(), "");
    assert.equal(root.dataset.position, undefined);
  });

  test("buttons and keys ask the kernel to play, pause, step and change speed", () => {
    const model = new FakeModel();
    const { q, root } = mount(model);
    flush(); // the cursor is drawn with its text
    q<HTMLButtonElement>(".sw-play").click();
    q<HTMLButtonElement>(".sw-step-back").click();
    assert.equal(q<HTMLButtonElement>(".sw-step-forward").disabled, true, "at the end");
    root.querySelector<HTMLButtonElement>('.sw-speed[data-speed="10"]')!.click();
    root.querySelector<HTMLButtonElement>('.sw-speed[data-speed="0"]')!.click();
    const strip = q(".sw-strip");
    strip.dispatchEvent(new win.KeyboardEvent("keydown", { key: "ArrowRight", bubbles: true }));
    strip.dispatchEvent(new win.KeyboardEvent("keydown", { key: "ArrowLeft", shiftKey: true, bubbles: true }));
    strip.dispatchEvent(new win.KeyboardEvent("keydown", { key: "Home", bubbles: true }));
    assert.deepEqual(requests(model), [
      { kind: "play" },
      { kind: "step", by: -1 },
      { kind: "speed", value: 10 },
      { kind: "speed", value: 0 },
      { kind: "step", by: 1 },
      { kind: "step", by: -10 },
      { kind: "seek", t: 0 },
    ]);
    model.set({ playing: true, speed: 10 });
    flush();
    assert.equal(root.dataset.playing, "true");
    assert.equal(q(".sw-play").getAttribute("aria-label"), "Pause");
    const pressed = [...root.querySelectorAll('.sw-speed[aria-pressed="true"]')].map((b) => b.textContent);
    assert.deepEqual(pressed, ["10×"]);
    q<HTMLButtonElement>(".sw-play").click();
    assert.deepEqual(requests(model).at(-1), { kind: "pause" });
  });

  test("the inspector marks past, current and future events and seeks on click", () => {
    const model = new FakeModel();
    model.attrs.inspector = [5, 6, 7, 8].map((i) => ({ i, t: i, type: i === 7 ? "tool_call_start" : "text", payload: `{"n": ${i}}` }));
    model.attrs.position = 8;
    const { root, q } = mount(model);
    flush(); // the cursor is drawn with its text
    const when = [...root.querySelectorAll<HTMLElement>(".sw-ev")].map((r) => `${r.dataset.index}:${r.dataset.when}`);
    assert.deepEqual(when, ["5:past", "6:past", "7:current", "8:future"]);
    assert.match(q(".sw-inspector-summary").textContent!, /^Event 8 of 8 · tool_call_start/);
    root.querySelector<HTMLElement>('.sw-ev[data-index="5"] .sw-ev-payload')!.click();
    assert.deepEqual(requests(model), [{ kind: "seek", position: 6 }]);
  });

  test("the strip draws stalls, tool calls, time to first token and the metrics", () => {
    const model = new FakeModel();
    const { q, root } = mount(model);
    assert.equal(root.querySelectorAll(".sw-strip-stall").length, 1);
    assert.equal(root.querySelector(".sw-strip-tool")!.getAttribute("data-status"), "done");
    assert.equal(root.querySelector(".sw-strip-ttft")!.getAttribute("x1"), "0.500"); // 0.5 s of 10 s over 10 bins
    assert.match(root.querySelector(".sw-strip-text")!.getAttribute("d")!, /^M0\.12,/);
    const stats = q(".sw-player-stats").textContent!;
    assert.match(stats, /TTFT 500 ms · 4\.2 tok\/s · 40 tokens · gaps p50 21 ms · p95 40 ms · max 1\.5 s · 1 stall > 500 ms \(1\.5 s\)/);
    model.set({ timeline: timeline({ stalls: [], stall_time: 0, span: 20 }) });
    assert.equal(root.querySelectorAll(".sw-strip-stall").length, 0);
    assert.equal(q(".sw-strip").dataset.span, "20");
  });

  test("cleanup removes every listener and the DOM", () => {
    const model = new FakeModel();
    const { stop, el } = mount(model);
    assert.ok(model.listenerCount() > 0);
    stop();
    assert.equal(model.listenerCount(), 0);
    assert.equal(el.children.length, 0);
  });
});

describe("timing text", () => {
  test("durations and parts", () => {
    assert.equal(shortDuration(0.0213), "21 ms");
    assert.equal(shortDuration(1.5), "1.5 s");
    assert.equal(shortDuration(null), "–");
    const parts = timingParts(timeline({ ttft: null, tokens_per_s: null, tokens_source: "events", stalls: [] }));
    assert.deepEqual(parts.slice(0, 1), ["40 tokens (text events)"]);
    assert.equal(parts.at(-1), "no stalls > 500 ms");
  });
});
