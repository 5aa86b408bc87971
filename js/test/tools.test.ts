import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { JSDOM } from "jsdom";
import type { ToolCall } from "../src/model";
import { ToolCards } from "../src/tools";

const { document } = new JSDOM("<!doctype html><body></body>").window;

const call = (over: Partial<ToolCall>): ToolCall => ({
  id: "c1",
  name: "web_search",
  status: "done",
  args_text: '{"query": "x"}',
  arguments: { query: "x" },
  result: null,
  error: null,
  started_at: 0,
  ended_at: 1,
  ...over,
});

describe("tool cards", () => {
  test("a call left to the caller says so, and a server-run call is marked", () => {
    const cards = new ToolCards(document);
    cards.update([call({ id: "a", status: "pending" }), call({ id: "b", server: true })], null);
    const chips = Array.from(cards.el.querySelectorAll(".sw-chip")).map((c) => c.textContent);
    assert.deepEqual(chips, ["left to the caller", "done · server"]);
  });
});
