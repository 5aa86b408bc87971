// What a saved Player keeps (player_saved.ts): bounded tails and parts shifted to a window.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Part } from "../src/model";
import { tail, usable, windowParts } from "../src/player_saved";

describe("snapshot tails", () => {
  test("short text is kept whole; long text from a line start near the cut", () => {
    assert.deepEqual(tail("abc", 5, 10), { start: 5, text: "abc" });
    const text = "x".repeat(50) + "\nkept\n" + "y".repeat(40);
    const cut = tail(text, 0, 48);
    assert.equal(cut.text, "kept\n" + "y".repeat(40));
    assert.equal(cut.start + cut.text.length, text.length);
    const noLine = tail("z".repeat(100), 10, 20);
    assert.deepEqual(noLine, { start: 90, text: "z".repeat(20) });
  });

  test("never starts with half a surrogate pair", () => {
    const text = "a😀b"; // a, high, low, b
    const cut = tail(text, 0, 2); // would start at the low surrogate
    assert.deepEqual(cut, { start: 3, text: "b" });
  });

  test("a snapshot is used only for its own cursor", () => {
    const snap = { position: 4, text: { start: 2, text: "cd" }, reasoning: { start: 0, text: "" } };
    assert.equal(usable(snap, 4, 4, 0), snap);
    assert.equal(usable(snap, 5, 4, 0), null);
    assert.equal(usable(snap, 4, 5, 0), null, "text of another length");
    assert.equal(usable({ position: 4 }, 4, 0, 0), null, "malformed");
    assert.equal(usable(null, 0, 0, 0), null);
  });
});

describe("window parts", () => {
  const parts: Part[] = [
    { kind: "reasoning", start: 0, end: 10, t0: 0, t1: 1 },
    { kind: "text", start: 0, end: 20 },
    { kind: "tool", id: "c1" },
    { kind: "step" },
    { kind: "text", start: 20, end: null },
  ];

  test("runs before the window are left out, the straddling run starts at 0", () => {
    assert.equal(windowParts(parts, 0, 0), parts, "no window: the same parts");
    assert.deepEqual(windowParts(parts, 25, 0), [{ kind: "text", start: 0, end: null }],
      "what came before the window's first text run is left out");
    assert.deepEqual(windowParts(parts, 0, 4), [
      { kind: "reasoning", start: 0, end: 6, t0: 0, t1: 1 },
      ...parts.slice(1),
    ]);
    assert.deepEqual(windowParts(parts, 15, 4), [
      { kind: "text", start: 0, end: 5 },
      { kind: "tool", id: "c1" },
      { kind: "step" },
      { kind: "text", start: 5, end: null },
    ]);
  });
});
