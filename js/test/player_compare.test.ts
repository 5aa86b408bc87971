// The Compare front end: two strips on one axis and the text diff.

import assert from "node:assert/strict";
import { beforeEach, describe, test } from "node:test";
import { JSDOM } from "jsdom";
import widget, { FOLD_OVER, renderDiff } from "../src/compare";
import type { CompareModel, CompareSide, Timeline } from "../src/player_model";
import type { WidgetModel } from "../src/model";

let doc: Document;

beforeEach(() => {
  doc = new JSDOM("<!doctype html><body></body>").window.document;
});

function tl(duration: number, text: number[]): Timeline {
  return {
    span: 8, duration, ttft: 0.4, text_events: 3, output_tokens: 3, tokens_source: "usage",
    tokens_per_s: 1.5, gap_p50: 0.1, gap_p95: 0.2, gap_max: 0.3, stall_threshold: 0.5,
    stalls: [], stall_time: 0, tools: [], bins: { text, reasoning: text.map(() => 0) },
  };
}

function side(label: string, duration: number, text: number[]): CompareSide {
  return { label, model: "m", provider: "p", source: "s", status: "complete", events: 4, timeline: tl(duration, text) };
}

function fake(attrs: CompareModel): WidgetModel<CompareModel> {
  return { get: (key) => attrs[key], on() {}, off() {}, send() {} };
}

const ops: [string, string][] = [
  ["=", "The cat "],
  ["-", "sat"],
  ["+", "slept"],
  ["=", " on the mat."],
];

describe("Compare front end", () => {
  test("the diff marks deletions and insertions and keeps both texts readable", () => {
    const box = doc.createElement("div");
    box.append(...renderDiff(doc, ops, true));
    assert.equal(box.querySelector("del.sw-diff-del")!.textContent, "sat");
    assert.equal(box.querySelector("ins.sw-diff-ins")!.textContent, "slept");
    const without = (tag: string) => {
      const copy = box.cloneNode(true) as HTMLElement;
      for (const node of Array.from(copy.querySelectorAll(tag))) node.remove();
      return copy.textContent;
    };
    assert.equal(without("ins"), "The cat sat on the mat.");
    assert.equal(without("del"), "The cat slept on the mat.");
  });

  test("long unchanged runs fold around the changes unless asked not to", () => {
    const long = "x".repeat(FOLD_OVER * 2);
    const folded = doc.createElement("div");
    folded.append(...renderDiff(doc, [["=", long], ["+", "NEW"], ["=", long]], true));
    assert.equal(folded.querySelectorAll(".sw-diff-fold").length, 2);
    assert.ok(folded.textContent!.length < long.length);
    assert.ok(folded.textContent!.includes("xNEWx"), "context stays next to the change");
    const full = doc.createElement("div");
    full.append(...renderDiff(doc, [["=", long], ["+", "NEW"], ["=", long]], false));
    assert.equal(full.textContent, `${long}NEW${long}`);
  });

  test("two strips share one axis and one bar scale", () => {
    const el = doc.createElement("div");
    const attrs: CompareModel = {
      sides: [side("A · one", 4, [1, 1, 0, 0]), side("B · two", 8, [0, 2, 2, 4])],
      diff: ops,
      summary: { same: 5, deleted: 1, inserted: 1, similarity: 5 / 6 },
    };
    widget().render({ model: fake(attrs), el });
    const sides = el.querySelectorAll<HTMLElement>(".sw-compare-side");
    assert.deepEqual([...sides].map((s) => s.dataset.side), ["a", "b"]);
    assert.deepEqual([...el.querySelectorAll(".sw-compare-label")].map((n) => n.textContent), ["A · one", "B · two"]);
    const spans = [...el.querySelectorAll<HTMLElement>(".sw-strip")].map((s) => s.dataset.span);
    assert.deepEqual(spans, ["8", "8"]);
    assert.deepEqual([...el.querySelectorAll(".sw-strip-axis span")].map((n) => n.textContent), ["0 s", "4.0 s", "8.0 s"]);
    // Bars use the larger peak (4) on both sides: A's 1-token bins are a quarter of B's tallest.
    const heightOf = (d: string) => Number(/v-([\d.]+)/.exec(d)![1]);
    const [a, b] = [...el.querySelectorAll(".sw-strip-text")].map((p) => p.getAttribute("d")!);
    assert.equal(heightOf(a), 78 / 4);
    assert.match(b, /v-78\.00/);
    assert.match(el.querySelector(".sw-compare-summary")!.textContent!, /83% of words the same · 1 removed · 1 added/);
    assert.equal(el.querySelector<HTMLElement>(".sw-compare-toggle")!.hidden, true, "nothing to fold");
  });
});
