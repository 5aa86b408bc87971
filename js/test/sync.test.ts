import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { lengthsOf, mergeDelta, StreamSync } from "../src/sync";
import type { ViewMsg } from "../src/model";

function setup(retryMs = 1000) {
  const sent: ViewMsg[] = [];
  const settled: Array<[string, string]> = [];
  let now = 0;
  const sync = new StreamSync({
    send: (m) => sent.push(m),
    now: () => now,
    retryMs,
    settle: (field, value) => settled.push([field, value]),
  });
  let changes = 0;
  sync.subscribe(() => changes++);
  return {
    sync,
    sent,
    settled,
    changes: () => changes,
    advance(ms: number) {
      now += ms;
    },
  };
}

const delta = (at: number, text: string, field = "text") => ({ kind: "delta", field, at, text });

describe("mergeDelta", () => {
  test("appends at the end", () => assert.equal(mergeDelta("Hel", 3, "lo"), "Hello"));
  test("appends only the part past the end of an overlap", () =>
    assert.equal(mergeDelta("Hello", 3, "lo, world"), "Hello, world"));
  test("a fully covered piece changes nothing", () => assert.equal(mergeDelta("Hello", 1, "ell"), "Hello"));
  test("an exact duplicate changes nothing", () => assert.equal(mergeDelta("Hello", 3, "lo"), "Hello"));
  test("a gap returns null", () => assert.equal(mergeDelta("Hel", 4, "o"), null));
  test("offsets are UTF-16 units (surrogate pairs count twice)", () => {
    const buf = "a😀"; // length 3
    assert.equal(buf.length, 3);
    assert.equal(mergeDelta(buf, 3, "b"), "a😀b");
    assert.equal(mergeDelta(buf, 1, "😀b"), "a😀b");
  });
});

describe("StreamSync", () => {
  test("deltas build the text and reasoning buffers", () => {
    const { sync, changes } = setup();
    sync.handleMessage(delta(0, "Hel"));
    sync.handleMessage(delta(3, "lo"));
    sync.handleMessage(delta(0, "hmm", "reasoning"));
    assert.equal(sync.text, "Hello");
    assert.equal(sync.reasoning, "hmm");
    assert.equal(changes(), 3);
    assert.equal(sync.epoch.text, 0, "appending never bumps the epoch");
  });

  test("duplicates are ignored without notifying", () => {
    const { sync, changes } = setup();
    sync.handleMessage(delta(0, "Hello"));
    sync.handleMessage(delta(0, "Hello"));
    sync.handleMessage(delta(2, "ll"));
    assert.equal(sync.text, "Hello");
    assert.equal(changes(), 1);
  });

  test("a gap sends one resync and drops deltas until the snapshot", () => {
    const { sync, sent } = setup();
    sync.handleMessage(delta(0, "Hel"));
    sync.handleMessage(delta(5, ", wor")); // "lo" was lost
    sync.handleMessage(delta(10, "ld"));
    sync.handleMessage(delta(3, "lo")); // even a contiguous one: we wait for the snapshot
    assert.deepEqual(sent, [{ kind: "resync" }]);
    assert.equal(sync.text, "Hel");
    assert.equal(sync.awaitingSnapshot, true);

    sync.handleMessage({ kind: "snapshot", text: "Hello, world", reasoning: "" });
    assert.equal(sync.text, "Hello, world");
    assert.equal(sync.awaitingSnapshot, false);
    sync.handleMessage(delta(12, "!"));
    assert.equal(sync.text, "Hello, world!");
    assert.equal(sent.length, 1);
  });

  test("a lost snapshot is asked for again after the retry time", () => {
    const { sync, sent, advance } = setup(1000);
    sync.handleMessage(delta(4, "x"));
    advance(500);
    sync.handleMessage(delta(5, "y"));
    assert.equal(sent.length, 1);
    advance(600);
    sync.handleMessage(delta(6, "z"));
    assert.equal(sent.length, 2);
  });

  test("requestResync is sent once until answered", () => {
    const { sync, sent } = setup();
    assert.equal(sync.requestResync(), true);
    assert.equal(sync.requestResync(), false);
    sync.ensureContent();
    assert.equal(sent.length, 1);
    sync.applySnapshot("", "");
    assert.equal(sync.requestResync(), true);
    assert.equal(sent.length, 2);
  });

  test("a snapshot replaces both buffers; a non-extending one bumps the epoch", () => {
    const { sync } = setup();
    sync.handleMessage(delta(0, "Hello"));
    sync.handleMessage({ kind: "snapshot", text: "Hello there", reasoning: "r" });
    assert.equal(sync.epoch.text, 0, "an extension keeps the epoch");
    sync.handleMessage({ kind: "snapshot", text: "Goodbye", reasoning: "r" });
    assert.equal(sync.text, "Goodbye");
    assert.equal(sync.epoch.text, 1);
    assert.equal(sync.epoch.reasoning, 0);
  });

  test("a non-empty text trait wins while streaming; an empty one never erases", () => {
    const { sync } = setup();
    sync.handleMessage(delta(0, "partial"));
    sync.setTraits("streaming", "", "");
    assert.equal(sync.text, "partial");
    sync.setTraits("streaming", "full text", "");
    assert.equal(sync.text, "full text");
    assert.equal(sync.epoch.text, 1);
  });

  test("terminal status: traits are final, deltas and snapshots cannot override them", () => {
    const { sync } = setup();
    sync.handleMessage(delta(0, "Hello wor"));
    sync.setTraits("complete", "Hello world", "");
    assert.equal(sync.text, "Hello world");
    assert.equal(sync.isTerminal, true);
    sync.handleMessage(delta(11, " more"));
    sync.handleMessage({ kind: "snapshot", text: "stale", reasoning: "" });
    assert.equal(sync.text, "Hello world");
  });

  test("terminal status with empty traits keeps what the deltas built", () => {
    const { sync } = setup();
    sync.handleMessage(delta(0, "kept"));
    sync.setTraits("cancelled", "", "");
    assert.equal(sync.text, "kept");
    sync.handleMessage({ kind: "snapshot", text: "kept, and more", reasoning: "" });
    assert.equal(sync.text, "kept, and more", "a snapshot may still fill empty traits");
  });

  test("a terminal status clears a pending gap", () => {
    const { sync } = setup();
    sync.handleMessage(delta(3, "x"));
    sync.setTraits("complete", "abcx", "");
    assert.equal(sync.text, "abcx");
  });

  test("reset forgets the old stream", () => {
    const { sync, changes } = setup();
    sync.handleMessage(delta(0, "old"));
    sync.setTraits("complete", "old", "");
    sync.reset();
    assert.equal(sync.text, "");
    assert.equal(sync.isTerminal, false);
    assert.equal(sync.epoch.text, 1);
    sync.handleMessage(delta(0, "new"));
    assert.equal(sync.text, "new");
    assert.ok(changes() >= 3);
  });

  test("quiet end: buffers of the announced lengths are final and settled as the traits", () => {
    const { sync, sent, settled } = setup();
    sync.handleMessage({ kind: "snapshot", text: "", reasoning: "" }); // answer to the first resync
    sync.handleMessage(delta(0, "Hmm", "reasoning"));
    sync.handleMessage(delta(0, "Hello 😀"));
    sync.setTraits("streaming", "", "", { text: 3 }); // lengths before the end mean nothing
    assert.deepEqual(settled, []);
    sync.setTraits("complete", "", "", lengthsOf({ text_length: 8, reasoning_length: 3 }));
    assert.deepEqual(settled, [["text", "Hello 😀"], ["reasoning", "Hmm"]]);
    assert.equal(sent.length, 0);
    sync.handleMessage(delta(8, " late"));
    assert.equal(sync.text, "Hello 😀", "deltas after the end are ignored");
  });

  test("quiet end with lost deltas: a resync, and its snapshot is settled as final", () => {
    const { sync, sent, settled } = setup();
    sync.handleMessage(delta(0, "Hello"));
    sync.setTraits("complete", "", "", { text: 12, reasoning: 0 }); // ", world!" never came
    assert.deepEqual(sent, [{ kind: "resync" }]);
    assert.deepEqual(settled, []);
    assert.equal(sync.text, "Hello", "kept until the snapshot");
    sync.handleMessage({ kind: "snapshot", text: "Hello, world", reasoning: "" });
    assert.equal(sync.text, "Hello, world");
    assert.deepEqual(settled, [["text", "Hello, world"]]);
    assert.equal(sent.length, 1);
  });

  test("settling sets the trait: the next setTraits finds nothing quiet (no loop)", () => {
    const sent: ViewMsg[] = [];
    const traits = { text: "", reasoning: "" };
    let settles = 0;
    const sync: StreamSync = new StreamSync({
      send: (m) => sent.push(m),
      settle: (field, value) => {
        settles++;
        traits[field] = value; // like model.set, which fires change:text
        sync.setTraits("complete", traits.text, traits.reasoning, { text: 2, reasoning: 0 });
      },
    });
    sync.handleMessage(delta(0, "ok"));
    sync.setTraits("complete", "", "", { text: 2, reasoning: 0 });
    assert.equal(settles, 1);
    assert.equal(traits.text, "ok");
    assert.equal(sent.length, 0);
  });

  test("traits sent with the lengths (nbclient, reload) win; nothing to settle", () => {
    const { sync, sent, settled } = setup();
    sync.handleMessage(delta(0, "Hel"));
    sync.setTraits("complete", "Hello", "", { text: 5, reasoning: 0 });
    assert.equal(sync.text, "Hello");
    assert.deepEqual(settled, []);
    assert.equal(sent.length, 0);
  });

  test("without lengths (older kernels) the end behaves as before", () => {
    const { sync, sent, settled } = setup();
    sync.handleMessage(delta(0, "kept"));
    sync.setTraits("complete", "", "", lengthsOf({ model: "m" }));
    assert.equal(sync.text, "kept");
    assert.deepEqual(settled, []);
    assert.equal(sent.length, 0);
  });

  test("lengthsOf keeps only whole non-negative numbers", () => {
    assert.deepEqual(lengthsOf({ text_length: 3, reasoning_length: 0 }), { text: 3, reasoning: 0 });
    assert.deepEqual(lengthsOf({ text_length: -1, reasoning_length: 1.5 }), {});
    assert.deepEqual(lengthsOf(null), {});
  });

  test("malformed messages are ignored", () => {
    const { sync, sent, changes } = setup();
    for (const msg of [
      null,
      "delta",
      { kind: "delta", field: "other", at: 0, text: "x" },
      { kind: "delta", field: "text", at: -1, text: "x" },
      { kind: "delta", field: "text", at: 1.5, text: "x" },
      { kind: "delta", field: "text", at: 0, text: 5 },
      { kind: "unknown" },
    ]) {
      sync.handleMessage(msg);
    }
    assert.equal(sync.text, "");
    assert.equal(sent.length, 0);
    assert.equal(changes(), 0);
  });

  test("unsubscribe stops notifications", () => {
    const sync = new StreamSync({ send: () => {} });
    let calls = 0;
    const off = sync.subscribe(() => calls++);
    sync.handleMessage(delta(0, "a"));
    off();
    sync.handleMessage(delta(1, "b"));
    assert.equal(calls, 1);
  });
});
