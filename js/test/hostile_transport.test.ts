// Transport loss at the kernel ↔ front end boundary, front-end side: the real StreamSync fed by
// a simulated kernel (the protocol of widgets/stream_view.py: deltas with UTF-16 offsets,
// snapshots on resync, final traits) over a link that drops, duplicates and reorders frames in
// both directions. The buffer is never wrong (always a prefix of the document), never holds a
// token twice, repairs itself while the stream still runs, and ends exactly on the document.
// The kernel-side half is tests/test_transport_loss.py. Guarantees: docs/guarantees.md.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { StreamSync } from "../src/sync";
import type { ViewMsg } from "../src/model";

/** A small seeded PRNG (mulberry32), so a failing seed can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Link {
  drop: number;
  reorder: number;
  duplicate: number;
  backDrop: number;
}

/** The kernel: a document growing token by token, sent as coalesced deltas. */
class Kernel {
  text = "";
  reasoning = "";
  private sentText = 0;
  private sentReasoning = 0;
  constructor(private readonly deliver: (msg: unknown) => void) {}

  grow(token: string, reasoning = ""): void {
    this.text += token;
    this.reasoning += reasoning;
  }
  frame(): void {
    if (this.text.length > this.sentText) {
      this.deliver({ kind: "delta", field: "text", at: this.sentText, text: this.text.slice(this.sentText) });
      this.sentText = this.text.length;
    }
    if (this.reasoning.length > this.sentReasoning) {
      this.deliver({
        kind: "delta",
        field: "reasoning",
        at: this.sentReasoning,
        text: this.reasoning.slice(this.sentReasoning),
      });
      this.sentReasoning = this.reasoning.length;
    }
  }
  resync(): void {
    this.deliver({ kind: "snapshot", text: this.text, reasoning: this.reasoning });
  }
}

function run(seed: number, link: Link, tokens = 400, heal = Infinity) {
  const random = rng(seed);
  let now = 0;
  const inbox: unknown[] = []; // frames delayed past later ones
  const requests: ViewMsg[] = [];
  const stats = { dropped: 0, reordered: 0, duplicated: 0, resyncs: 0, maxLag: 0 };
  let healed = false;
  const sync = new StreamSync({
    now: () => now,
    retryMs: 40,
    send: (msg) => {
      stats.resyncs += 1;
      if (healed || random() >= link.backDrop) requests.push(msg);
    },
  });
  const check = () => {
    assert.ok(kernel.text.startsWith(sync.text), `seed ${seed}: the buffer is a prefix of the document`);
    assert.ok(kernel.reasoning.startsWith(sync.reasoning), `seed ${seed}: reasoning is a prefix`);
  };
  const kernel = new Kernel((msg) => {
    const roll = healed ? 1 : random();
    if (roll < link.drop) {
      stats.dropped += 1;
      return;
    }
    if (roll < link.drop + link.reorder) {
      stats.reordered += 1;
      inbox.push(msg);
      return;
    }
    sync.handleMessage(msg);
    if (roll < link.drop + link.reorder + link.duplicate) {
      stats.duplicated += 1;
      sync.handleMessage(msg);
    }
    while (inbox.length) sync.handleMessage(inbox.shift());
    check();
  });
  sync.handleMessage({ kind: "snapshot", text: "", reasoning: "" });
  for (let i = 0; i < tokens; i++) {
    if (i === heal) healed = true;
    now += 1 + Math.floor(random() * 4);
    // astral characters: offsets are UTF-16 units on both sides
    kernel.grow(`t${i}é🌧️ `, i % 5 === 0 ? `r${i} ` : "");
    if (i % 3 === 2) kernel.frame();
    while (requests.length) {
      requests.shift();
      kernel.resync();
    }
    stats.maxLag = Math.max(stats.maxLag, kernel.text.length - sync.text.length);
  }
  kernel.frame();
  while (requests.length) {
    requests.shift();
    kernel.resync();
  }
  return { sync, kernel, stats };
}

const words = (text: string) => text.trim().split(/\s+/);

describe("transport loss: StreamSync over a lossy link", () => {
  for (let seed = 1; seed <= 12; seed++) {
    test(`seed ${seed}: drops, duplicates and reorders; the final traits give the exact document`, () => {
      const { sync, kernel, stats } = run(seed, { drop: 0.2, reorder: 0.15, duplicate: 0.1, backDrop: 0.3 });
      assert.ok(stats.dropped > 0 && stats.reordered > 0 && stats.resyncs > 0, JSON.stringify(stats));
      assert.equal(new Set(words(sync.text)).size, words(sync.text).length, "no token twice");
      sync.setTraits("complete", kernel.text, kernel.reasoning);
      assert.equal(sync.text, kernel.text);
      assert.equal(sync.reasoning, kernel.reasoning);
      // late frames after the end change nothing
      sync.handleMessage({ kind: "delta", field: "text", at: 3, text: "XXXX" });
      sync.handleMessage({ kind: "snapshot", text: "stale", reasoning: "" });
      assert.equal(sync.text, kernel.text);
    });

    test(`seed ${seed}: once the link heals, resync alone catches up before the stream ends`, () => {
      const { sync, kernel } = run(seed, { drop: 0.3, reorder: 0.2, duplicate: 0.1, backDrop: 0.5 }, 400, 300);
      assert.equal(sync.isTerminal, false);
      assert.equal(sync.text, kernel.text, "exact without the final traits");
      assert.equal(sync.reasoning, kernel.reasoning);
    });
  }

  test("a lossless link needs no resync at all", () => {
    const { sync, kernel, stats } = run(99, { drop: 0, reorder: 0, duplicate: 0, backDrop: 0 });
    assert.equal(stats.resyncs, 0);
    assert.equal(sync.text, kernel.text);
  });
});
