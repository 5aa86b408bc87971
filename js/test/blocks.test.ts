import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { BlockSplitter } from "../src/blocks";

/** The finished blocks of `text`, fed in one go. */
function blocks(text: string): string[] {
  const s = new BlockSplitter();
  s.feed(text);
  return s.bounds.map((end, i) => text.slice(i ? s.bounds[i - 1] : 0, end));
}

/** Feed `text` in pieces of `step` characters; return the bounds. */
function boundsInSteps(text: string, step: number): number[] {
  const s = new BlockSplitter();
  for (let i = step; i < text.length + step; i += step) s.feed(text.slice(0, i));
  return s.bounds;
}

describe("BlockSplitter", () => {
  test("paragraphs end at a blank line once the next block starts", () => {
    assert.deepEqual(blocks("one\n\ntwo\n\nthr"), ["one\n\n", "two\n\n"]);
    // Not yet: the next line has not started, it might continue the block.
    assert.deepEqual(blocks("one\n\n"), []);
    assert.deepEqual(blocks("one\n\n "), [], "an indented line may continue the block");
    assert.deepEqual(blocks("- a\n\n-"), [], "in a list, wait for the whole line");
    assert.deepEqual(blocks("- a\n\nNext"), [], "...even when it is not a list item");
    assert.deepEqual(blocks("- a\n\nNext\n"), ["- a\n\n"]);
  });

  test("runs of blank lines stay with the block before", () => {
    assert.deepEqual(blocks("a\n\n\n\nb\n"), ["a\n\n\n\n"]);
  });

  test("leading blank lines do not make an empty block", () => {
    assert.deepEqual(blocks("\n\na\n\nb\n"), ["\n\na\n\n"]);
  });

  test("blank lines inside a fence are not boundaries", () => {
    const text = "```py\nx = 1\n\ny = 2\n```\n";
    assert.deepEqual(blocks(text), [text], "a closed top-level fence ends its block at once");
    assert.deepEqual(blocks("```py\nx = 1\n\ny = 2\n\nz"), [], "open fence: nothing stable");
  });

  test("a fence only closes with the same character and at least its length", () => {
    const s = new BlockSplitter();
    s.feed("````\n```\n~~~~\n\nstill code\n");
    assert.equal(s.inFence, true);
    s.feed("````\n```\n~~~~\n\nstill code\n`````\n");
    assert.equal(s.inFence, false);
    assert.equal(s.stable, "````\n```\n~~~~\n\nstill code\n`````\n".length);
  });

  test("tilde fences and a paragraph before the fence", () => {
    assert.deepEqual(blocks("Code:\n~~~\na\n\nb\n~~~\nAfter\n\nx\n"), [
      "Code:\n~~~\na\n\nb\n~~~\n",
      "After\n\n",
    ]);
  });

  test("``` followed by backticks in the info string is not a fence", () => {
    const s = new BlockSplitter();
    s.feed("```inline``` text\n\nnext\n");
    assert.equal(s.inFence, false);
    assert.deepEqual(s.bounds, ["```inline``` text\n\n".length]);
  });

  test("a loose list stays one block; indented continuations too", () => {
    const list = "- a\n\n- b\n\n  more about b\n\n    code in b\n\n";
    assert.deepEqual(blocks(`${list}After\n`), [list]);
    const ordered = "1. a\n\n2. b\n\n";
    assert.deepEqual(blocks(`${ordered}Done\n`), [ordered]);
  });

  test("a fence nested in a list item does not end the list", () => {
    const list = "1. run:\n   ```sh\n   ls\n\n   pwd\n   ```\n2. done\n\n";
    assert.deepEqual(blocks(`${list}Next\n`), [list]);
  });

  test("tables and headings separated by blank lines", () => {
    const text = "# Title\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nEnd\n";
    assert.deepEqual(blocks(text), ["# Title\n\n", "| a | b |\n|---|---|\n| 1 | 2 |\n\n"]);
  });

  test("CRLF line endings", () => {
    assert.deepEqual(blocks("a\r\n\r\nb\r\n"), ["a\r\n\r\n"]);
  });

  test("feeding piece by piece gives the same bounds as one feed", () => {
    const text = [
      "Intro paragraph with **bold**.\n\n",
      "- item one\n\n- item two\n\n",
      "```python\ndef f():\n\n    return 1\n```\n",
      "| x | y |\n|---|---|\n| 1 | 2 |\n\n",
      "> quote\n\n",
      "Final words",
    ].join("");
    const whole = new BlockSplitter();
    whole.feed(text);
    for (const step of [1, 2, 3, 7, 50]) assert.deepEqual(boundsInSteps(text, step), whole.bounds);
    assert.ok(whole.bounds.length >= 4);
  });

  test("scanning is incremental: old lines are not scanned again", () => {
    const s = new BlockSplitter();
    let text = "";
    for (let i = 0; i < 2000; i++) {
      text += `para ${i}\n\n`;
      s.feed(text);
    }
    assert.equal(s.bounds.length, 1999);
    assert.equal(s.stable, text.length - "para 1999\n\n".length);
  });
});
