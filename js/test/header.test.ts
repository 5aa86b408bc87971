import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { JSDOM } from "jsdom";
import { Header } from "../src/header";

const { document } = new JSDOM("<!doctype html><body></body>").window;

describe("header", () => {
  test("warnings show as a notice with the first one and a count; all in the title", () => {
    const header = new Header(document);
    const notice = header.el.querySelector(".sw-warnings") as HTMLElement;
    header.update("complete", {});
    assert.equal(notice.hidden, true);
    header.update("complete", {
      warnings: ["anthropic: unknown content block type 'fallback'", "openai: x"],
    });
    assert.equal(notice.textContent, "⚠ anthropic: unknown content block type 'fallback' (+1 more)");
    assert.equal(notice.title, "anthropic: unknown content block type 'fallback'\nopenai: x");
    assert.equal(notice.hidden, false);
  });
});
