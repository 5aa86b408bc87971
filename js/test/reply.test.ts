// The one reply renderer (reply.ts): parts in order, live tool cards where the call started,
// thinking blocks with their duration, one Copy behaviour, and blocks that fail to render.

import assert from "node:assert/strict";
import { beforeEach, describe, test } from "node:test";
import { JSDOM } from "jsdom";
import { markdownToHtml } from "../src/markdown";
import type { Part, ToolCall } from "../src/model";
import { ReplyView, thinkingLabel, type ReplyState } from "../src/reply";

let doc: Document;
let win: Window;
beforeEach(() => {
  const dom = new JSDOM("<!doctype html><body></body>");
  win = dom.window as unknown as Window;
  doc = win.document;
});

const call = (id: string, status: ToolCall["status"], name = id): ToolCall => ({
  id, name, status, args_text: "{}", arguments: {}, result: status === "done" ? "ok" : null,
  error: null, started_at: 1, ended_at: status === "done" ? 2 : null,
});

function state(over: Partial<ReplyState>): ReplyState {
  return {
    status: "streaming", text: "", reasoning: "", epoch: { text: 0, reasoning: 0 },
    parts: [], tool_calls: [], error: null, clock: null, ...over,
  };
}

/** What the reply shows, in DOM order: one short label per part. */
function order(view: ReplyView): string[] {
  return Array.from(view.el.querySelector(".sw-parts")!.children).map((el) => {
    const node = el as HTMLElement;
    if (node.classList.contains("sw-text")) return `text:${node.textContent!.trim()}`;
    if (node.classList.contains("sw-thinking")) return `thinking:${node.querySelector(".sw-reasoning")!.textContent!.trim()}`;
    if (node.classList.contains("sw-tools")) {
      const card = node.querySelector<HTMLElement>(".sw-tool")!;
      return `tool:${card.dataset.toolId}:${card.dataset.status}`;
    }
    if (node.classList.contains("sw-step")) return "step";
    return `notice:${node.textContent}`;
  });
}

const T1 = "Let me check the weather.\n\n";
const T2 = "It is sunny.\n\n";
const T3 = "Done.";
const agentParts = (open: boolean): Part[] => [
  { kind: "reasoning", start: 0, end: 5, t0: 0.5, t1: 2 },
  { kind: "text", start: 0, end: T1.length },
  { kind: "tool", id: "a" },
  { kind: "step" },
  { kind: "text", start: T1.length, end: T1.length + T2.length },
  { kind: "tool", id: "b" },
  { kind: "step" },
  { kind: "notice", message: "odd event" },
  { kind: "text", start: T1.length + T2.length, end: open ? null : T1.length + T2.length + T3.length },
];

describe("ReplyView", () => {
  test("draws the parts in the order they happened, tools where the call started", () => {
    const view = new ReplyView(doc, { onDecision: () => {} });
    view.update(state({
      text: T1 + T2 + "Do", reasoning: "Hmm.", parts: agentParts(true),
      tool_calls: [call("a", "done"), call("b", "pending_approval")], clock: 3,
    }));
    assert.deepEqual(order(view), [
      "thinking:Hmm.", "text:Let me check the weather.", "tool:a:done", "step", "text:It is sunny.",
      "tool:b:pending_approval", "step", "notice:odd event", "text:Do",
    ]);
    const carets = view.el.querySelectorAll(".sw-caret");
    assert.equal(carets.length, 1, "one caret, on the last part");
    assert.ok(carets[0].closest(".sw-text") === view.el.querySelectorAll(".sw-text")[2]);
    const ask = view.el.querySelector<HTMLElement>('[data-tool-id="b"] .sw-tool-actions')!;
    assert.equal(ask.hidden, false, "Approve / Deny on the call awaiting approval");
    const first = view.el.querySelector(".sw-text")!;

    // The stream goes on: the last run grows, the approved call runs, the reply ends.
    view.update(state({
      status: "complete", text: T1 + T2 + T3, reasoning: "Hmm.", parts: agentParts(false),
      tool_calls: [call("a", "done"), call("b", "done")],
    }));
    assert.deepEqual(order(view).slice(-4), ["tool:b:done", "step", "notice:odd event", "text:Done."]);
    assert.equal(view.el.querySelector(".sw-text"), first, "earlier parts are kept, not rebuilt");
    assert.equal(view.el.querySelectorAll(".sw-caret").length, 0);
  });

  test("without parts (older kernels) reads reasoning, tools, text", () => {
    const view = new ReplyView(doc);
    view.update(state({ status: "complete", text: "Answer", reasoning: "Why", parts: undefined,
      tool_calls: [call("x", "done")] }));
    assert.deepEqual(order(view), ["thinking:Why", "tool:x:done", "text:Answer"]);
  });

  test("a call no part names yet still shows, after the parts", () => {
    const view = new ReplyView(doc);
    view.update(state({ text: "Hi", parts: [{ kind: "text", start: 0, end: null }],
      tool_calls: [call("late", "running")] }));
    assert.deepEqual(order(view), ["text:Hi", "tool:late:running"]);
  });

  test("thinking: open and 'Thinking…' while live, folded with its duration after", () => {
    const view = new ReplyView(doc);
    const parts: Part[] = [{ kind: "reasoning", start: 0, end: null, t0: 1, t1: null }];
    view.update(state({ reasoning: "Let me", parts, clock: 2 }));
    const thinking = view.el.querySelector<HTMLDetailsElement>(".sw-thinking")!;
    assert.equal(thinking.open, true);
    assert.equal(thinking.querySelector("summary")!.textContent, "Thinking…");
    view.update(state({ reasoning: "Let me think", text: "Yes",
      parts: [{ kind: "reasoning", start: 0, end: 12, t0: 1, t1: 3.5 }, { kind: "text", start: 0, end: null }] }));
    assert.equal(thinking.open, false);
    assert.match(thinking.querySelector("summary")!.textContent!, /^Thought for 2\.5\s?s$/);
    assert.equal(thinkingLabel({ t0: null, t1: null }, null, false), "Thinking");
  });

  test("Copy on a code block copies that block's code", async () => {
    const copied: string[] = [];
    Object.defineProperty(win.navigator, "clipboard", {
      value: { writeText: async (t: string) => void copied.push(t) },
      configurable: true,
    });
    const view = new ReplyView(doc);
    doc.body.append(view.el);
    const text = "```python\nprint(1)\n```\n\nand\n\n```js\nconsole.log(2)\n```\n";
    view.update(state({ status: "complete", text, parts: [{ kind: "text", start: 0, end: null }] }));
    const buttons = view.el.querySelectorAll<HTMLElement>(".sw-copy");
    assert.equal(buttons.length, 2);
    buttons[1].click();
    await new Promise((r) => setTimeout(r, 0));
    assert.deepEqual(copied, ["console.log(2)"]);
    assert.equal(buttons[1].textContent, "Copied");
  });

  test("status notice and error banner come after the parts, only while they apply", () => {
    const view = new ReplyView(doc);
    view.update(state({ status: "cancelled", text: "partial", parts: [{ kind: "text", start: 0, end: null }] }));
    assert.equal(view.el.querySelector(".sw-notice")!.textContent, "Stopped — partial reply kept");
    assert.equal(view.el.lastElementChild!.className, "sw-notice");
    view.update(state({ status: "error", error: { kind: "overloaded", message: "later" } }));
    assert.equal(view.el.querySelector(".sw-notice"), null);
    assert.equal(view.el.querySelector(".sw-error-kind")!.textContent, "overloaded");
  });
});

describe("blocks that fail to render", () => {
  const FRAMESETS = [
    "<frameset>", "*<frameset>*", "> <frameset>", "[<frameset>](https://example.com)",
    "<div><frameset>",
  ];

  test("the sanitizer's nothing becomes escaped text", () => {
    for (const bad of FRAMESETS) {
      const html = markdownToHtml(bad, doc);
      assert.match(html, /class="sw-unrendered"/, bad);
      assert.doesNotMatch(html, /<frameset/i, bad);
    }
  });

  for (const field of ["text", "reasoning"] as const) {
    test(`in ${field}: everything before, between and after still renders, live and final`, () => {
      const view = new ReplyView(doc);
      const src = ["**before**", ...FRAMESETS.flatMap((bad, i) => [bad, `*after ${i}*`])].join("\n\n");
      const parts: Part[] = field === "text"
        ? [{ kind: "text", start: 0, end: null }]
        : [{ kind: "reasoning", start: 0, end: null, t0: 0, t1: null }];
      const box = () => view.el.querySelector(field === "text" ? ".sw-text" : ".sw-reasoning")!;
      // live: piece by piece
      for (let n = 1; n <= src.length; n += 7) {
        view.update(state({ [field]: src.slice(0, n), parts }));
      }
      view.update(state({ [field]: src, parts }));
      assert.match(box().textContent!, /after 4/, "the blocks after the last frameset show live");
      view.update(state({ status: "complete", [field]: src + "\n\n**the end**", parts }));
      assert.equal(box().querySelector("strong")!.textContent, "before");
      assert.equal(box().querySelectorAll(".sw-unrendered").length, FRAMESETS.length);
      FRAMESETS.forEach((bad, i) => assert.ok(box().textContent!.includes(`after ${i}`), bad));
      assert.equal(Array.from(box().querySelectorAll("strong")).at(-1)!.textContent, "the end");
      assert.equal(box().querySelector("frameset"), null);
    });
  }
});
