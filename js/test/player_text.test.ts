// The Player's request queue and text segments (player_text.ts), without a DOM.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { RequestQueue, Segment } from "../src/player_text";

function queue(timeoutMs = 2000) {
  const sent: any[] = [];
  let clock = 0;
  let position = 0;
  const q = new RequestQueue({
    send: (msg) => sent.push(msg),
    context: () => ({ view: "v" }),
    pull: () => ({ kind: "text", position }),
    now: () => clock,
    timeoutMs,
  });
  return {
    q, sent,
    tick: (ms: number) => (clock += ms),
    moveTo: (p: number) => (position = p),
    last: () => sent.at(-1),
  };
}

describe("RequestQueue", () => {
  test("one request in flight; the newest waiting seek replaces older ones", () => {
    const { q, sent, last } = queue();
    q.seek({ kind: "seek", t: 1 });
    for (let t = 2; t <= 30; t++) q.seek({ kind: "seek", t }); // a drag: 29 positions
    assert.deepEqual(sent, [{ kind: "seek", t: 1, view: "v", seq: 1 }]);
    assert.equal(q.busy && q.seeking, true);
    q.answered(1);
    assert.deepEqual(last(), { kind: "seek", t: 30, view: "v", seq: 2 }, "2..29 were dropped");
    q.answered(2);
    assert.equal(sent.length, 2);
    assert.equal(q.busy || q.seeking, false);
  });

  test("an answer to something else does not release the request in flight", () => {
    const { q, sent } = queue();
    q.seek({ kind: "seek", t: 1 });
    q.seek({ kind: "seek", t: 2 });
    q.answered(7);
    q.answered(null);
    assert.equal(sent.length, 1);
    q.answered(1);
    assert.equal(sent.length, 2);
  });

  test("a text pull waits behind a seek and is dropped by its answer; alone it goes at once", () => {
    const { q, sent, moveTo, last } = queue();
    q.seek({ kind: "seek", position: 5 });
    q.pull();
    q.answered(1);
    assert.equal(sent.length, 1, "the seek's reply brought the text: no pull after it");
    moveTo(40);
    q.pull();
    q.pull();
    assert.deepEqual(last(), { kind: "text", position: 40, view: "v", seq: 2 });
    moveTo(41);
    q.pull(); // while the first pull is in flight: due once it is answered
    q.seek({ kind: "seek", t: 3 }); // a seek beats a pull
    q.answered(2);
    assert.deepEqual(last(), { kind: "seek", t: 3, view: "v", seq: 3 });
    assert.equal(sent.length, 3);
    assert.equal(q.seeking, true);
  });

  test("an unanswered request stops blocking after the timeout", () => {
    const { q, sent, tick, last } = queue(500);
    q.seek({ kind: "seek", t: 1 });
    tick(499);
    q.seek({ kind: "seek", t: 2 });
    assert.equal(sent.length, 1);
    tick(1);
    q.seek({ kind: "seek", t: 3 });
    assert.deepEqual(last(), { kind: "seek", t: 3, view: "v", seq: 2 });
  });
});

describe("Segment", () => {
  test("replace, append, stale appends dropped, cut at the cursor", () => {
    const s = new Segment();
    assert.deepEqual(s.span(), [0, 0]);
    assert.ok(s.holds(0) && !s.holds(1));
    s.apply({ start: 0, end: 5, text: "Hello", append: true });
    assert.equal(s.text, "Hello", "an append to an empty segment at 0 continues it");
    s.apply({ start: 5, end: 11, text: " world", append: true });
    assert.deepEqual([s.start, s.end, s.upTo(7)], [0, 11, "Hello w"]);
    s.apply({ start: 3, end: 4, text: "X", append: true }); // does not continue: stale
    assert.equal(s.text, "Hello world");
    s.apply({ start: 100, end: 104, text: "tail", append: false });
    assert.deepEqual(s.span(), [100, 104]);
    assert.ok(s.holds(100) && s.holds(104) && !s.holds(99) && !s.holds(105));
    assert.equal(s.upTo(102), "ta");
    assert.equal(s.upTo(50), "", "before the segment: nothing");
    s.apply(null);
    assert.equal(s.text, "tail");
  });

  test("an append past a limit is dropped (a frame of playback to a view that holds enough)", () => {
    const seg = new Segment();
    seg.apply({ start: 0, end: 6, text: "abcdef", append: false });
    seg.apply({ start: 6, end: 10, text: "ghij", append: true }, 8);
    assert.deepEqual(seg.span(), [0, 6], "10 units would pass the limit of 8");
    seg.apply({ start: 6, end: 8, text: "gh", append: true }, 8);
    assert.deepEqual([seg.span(), seg.text], [[0, 8], "abcdefgh"]);
  });

  test("a prepend goes before the segment only when it ends where the segment starts", () => {
    const s = new Segment();
    s.apply({ start: 6, end: 11, text: "world", append: false });
    s.apply({ start: 0, end: 5, text: "Hello", append: false, prepend: true }); // a gap: stale
    assert.deepEqual([s.start, s.text], [6, "world"]);
    s.apply({ start: 0, end: 6, text: "Hello ", append: false, prepend: true });
    assert.deepEqual([s.start, s.text, s.upTo(8)], [0, "Hello world", "Hello wo"]);
  });

  test("a pull's extra fields go with it", () => {
    const { q, last } = queue();
    q.pull({ earlier: true });
    assert.deepEqual(last(), { kind: "text", position: 0, earlier: true, view: "v", seq: 1 });
  });

  test("offsets count UTF-16 units, like the kernel's", () => {
    const s = new Segment();
    s.apply({ start: 0, end: 3, text: "a🌧", append: false });
    assert.equal(s.end, 3);
    s.apply({ start: 3, end: 4, text: "b", append: true });
    assert.equal(s.upTo(3), "a🌧");
  });
});
