import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  formatDuration,
  metricsParts,
  prettyValue,
  summarizeArgs,
  tokensPerSecond,
  truncate,
} from "../src/format";

describe("format", () => {
  test("formatDuration", () => {
    assert.equal(formatDuration(0.4213), "0.42 s");
    assert.equal(formatDuration(3.14), "3.1 s");
    assert.equal(formatDuration(12.4), "12 s");
    assert.equal(formatDuration(125), "2 m 05 s");
    assert.equal(formatDuration(-1), "");
    assert.equal(formatDuration(Number.NaN), "");
  });

  test("tokensPerSecond needs tokens and a positive time span", () => {
    assert.equal(tokensPerSecond({ usage: { output_tokens: 48 }, first_token_t: 1, last_t: 2 }), 48);
    assert.equal(tokensPerSecond({ usage: { output_tokens: 48 }, first_token_t: 1, last_t: 1 }), null);
    assert.equal(tokensPerSecond({ first_token_t: 1, last_t: 2 }), null);
  });

  test("metricsParts", () => {
    assert.deepEqual(metricsParts({}), []);
    // What Python sends before anything is known: None everywhere.
    const empty = { model: null, usage: null, finish_reason: null, first_token_t: null, last_t: 0 };
    assert.deepEqual(metricsParts(empty), []);
    assert.deepEqual(
      metricsParts({ usage: { output_tokens: 1200 }, first_token_t: 1.2, last_t: 26.2 }),
      ["1.2 s to first token", "48 tok/s", "1,200 tokens"],
    );
    assert.deepEqual(metricsParts({ usage: { output_tokens: 5 }, first_token_t: 0.5, last_t: 2.5 }), [
      "0.50 s to first token",
      "2.5 tok/s",
      "5 tokens",
    ]);
  });

  test("truncate", () => {
    assert.equal(truncate("abcdef", 10), "abcdef");
    assert.equal(truncate("abcdef", 4), "abc…");
  });

  test("summarizeArgs prefers parsed arguments, else the raw text", () => {
    assert.equal(summarizeArgs({ city: "Paris", days: 3 }, ""), 'city: "Paris", days: 3');
    assert.equal(summarizeArgs(null, '{"city": "Pa'), '{"city": "Pa');
    assert.equal(summarizeArgs(null, "{\n  \"a\":  1\n}"), '{ "a": 1 }');
    assert.equal(summarizeArgs({ q: "x".repeat(200) }, "", 20).length, 20);
  });

  test("prettyValue", () => {
    assert.equal(prettyValue("plain"), "plain");
    assert.equal(prettyValue({ a: [1] }), '{\n  "a": [\n    1\n  ]\n}');
    assert.equal(prettyValue(null), "null");
    assert.match(prettyValue("x".repeat(30), 10), /^x{10}\n… \(20 more characters\)$/);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    assert.equal(prettyValue(cyclic), "[object Object]");
  });
});
