import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { JSDOM } from "jsdom";
import { BlockCache, MarkdownView, markdownToHtml } from "../src/markdown";

const { document } = new JSDOM("<!doctype html><body></body>").window;
const render = (src: string) => markdownToHtml(src, document);

describe("markdown sanitizing", () => {
  const attacks: Array<[string, RegExp]> = [
    ["<script>alert(1)</script>", /<script/i],
    ['<img src=x onerror="alert(1)">', /onerror/i],
    ["[x](javascript:alert(1))", /javascript:/i],
    ["[x](JaVaScRiPt:alert(1))", /javascript:/i],
    ["[x](data:text/html;base64,PHNjcmlwdD4=)", /data:/i],
    ['<a href="vbscript:msgbox(1)">x</a>', /vbscript/i],
    ['<iframe src="https://example.com"></iframe>', /<iframe/i],
    ['<form action="https://example.com"><input name="a"></form>', /<form|<input/i],
    ["<style>body{display:none}</style>", /<style/i],
    ['<p style="position:fixed">x</p>', /style=/i],
    ['<div onclick="alert(1)">x</div>', /onclick/i],
    ['<svg><script>alert(1)</script></svg>', /<svg|<script/i],
    ['<object data="x.swf"></object>', /<object/i],
    ['<link rel="stylesheet" href="https://example.com/x.css">', /<link/i],
    ['<video src="https://example.com/v.mp4"></video>', /<video/i],
  ];
  for (const [src, bad] of attacks) {
    test(`neutralizes ${src}`, () => assert.doesNotMatch(render(src), bad));
  }

  test("images are never loaded: placeholder link, no img, no src", () => {
    const html = render('![a cat](https://example.com/cat.png "Cat") and <img src="http://x.org/i.gif" alt="raw">');
    assert.doesNotMatch(html, /<img|src=/i);
    assert.match(html, /<a class="sw-img" href="https:\/\/example.com\/cat.png" target="_blank" rel="noopener noreferrer"/);
    assert.match(html, /a cat<\/a>/);
    assert.match(html, />raw<\/a>/);
  });

  test("an image with a data: source becomes plain text, not a link", () => {
    const html = render("![dot](data:image/png;base64,iVBORw0KGgo=)");
    assert.doesNotMatch(html, /<img|data:/i);
    assert.match(html, /<span class="sw-img"[^>]*>.*dot<\/span>/);
  });

  test("external links open in a new tab with rel=noopener", () => {
    const html = render("[docs](https://example.com/docs) <https://a.org>");
    assert.match(html, /href="https:\/\/example.com\/docs" target="_blank" rel="noopener noreferrer"/);
    assert.match(html, /href="https:\/\/a.org" target="_blank"/);
  });

  test("keeps harmless markup and attributes (ordered list start, alignment)", () => {
    const html = render("3. three\n4. four\n\n| a | b |\n|:--|--:|\n| 1 | 2 |\n\n<kbd>Ctrl</kbd>");
    assert.match(html, /<ol start="3">/);
    assert.match(html, /<th align="left">a<\/th>/);
    assert.match(html, /<td align="right">2<\/td>/);
    assert.match(html, /<kbd>Ctrl<\/kbd>/);
    assert.match(html, /<div class="sw-table-wrap"><table>/);
  });

  test("code blocks are highlighted with sw-hl- classes and get a header", () => {
    const html = render("```python\ndef f(x):\n    return 1\n```\n");
    assert.match(html, /<div class="sw-codeblock"><div class="sw-codeblock-head"><span class="sw-codeblock-lang">python<\/span><button class="sw-copy" type="button"/);
    assert.match(html, /<span class="sw-hl-keyword">def<\/span>/);
    assert.doesNotMatch(html, /class="hljs/);
  });

  test("aliases resolve and unknown languages stay plain", () => {
    assert.match(render("```ts\nconst a: number = 1\n```"), /sw-hl-keyword/);
    const plain = render("```brainfuck\n<script>\n```");
    assert.doesNotMatch(plain, /sw-hl-|<script>/);
    assert.match(plain, /&lt;script&gt;/);
  });

  test("an unclosed fence renders as a code block (no flicker while streaming)", () => {
    assert.match(render("Look:\n\n```js\nlet a = 1;\nlet b"), /<pre><code class="language-js">/);
    assert.match(render("```py"), /<pre><code class="language-py">/);
  });
});

describe("MarkdownView", () => {
  function view() {
    const el = document.createElement("div");
    return new MarkdownView(el);
  }
  /** The blocks of a view that got the whole text at once. */
  function whole(text: string): string {
    const md = view();
    md.update(text, 0, { final: true });
    return md.el.innerHTML;
  }

  test("finished blocks are rendered once and kept; only the tail is redone", () => {
    const md = view();
    md.update("# Title\n\nFirst para", 0);
    const title = md.el.querySelector(".sw-block h1");
    assert.ok(title, "the heading block is stable once the next block starts");
    md.update("# Title\n\nFirst paragraph.\n\nSecond", 0);
    md.update("# Title\n\nFirst paragraph.\n\nSecond one", 0);
    assert.equal(md.el.querySelector(".sw-block h1"), title, "same node, never re-rendered");
    assert.equal(md.el.querySelectorAll(".sw-block").length, 2);
    assert.equal(md.el.querySelector(".sw-tail")!.textContent!.trim(), "Second one");
  });

  test("does nothing when called again with the same text", () => {
    const md = view();
    md.update("a\n\nb", 0);
    const renders = md.renders;
    md.update("a\n\nb", 0);
    assert.equal(md.renders, renders);
  });

  test("the caret sits at the end of the last text, inside open code too", () => {
    const md = view();
    md.update("Some **bold** text", 0, { caret: true });
    assert.match(md.el.innerHTML, /<p>Some <strong>bold<\/strong> text<span class="sw-caret"><\/span><\/p>/);
    md.update("- a\n- b", 0, { caret: true });
    assert.match(md.el.innerHTML, /<li>b<span class="sw-caret"><\/span><\/li>/);
    md.update("```js\nlet x", 1, { caret: true });
    assert.ok(md.el.querySelector("pre code .sw-caret"));
    md.update("```js\nlet x = 1", 1, { caret: false });
    assert.equal(md.el.querySelector(".sw-caret"), null);
  });

  test("a final render replaces the blocks with one exact render", () => {
    const md = view();
    const text = "See [the docs][d].\n\nMore\n\n[d]: https://example.com/d";
    md.update(text.slice(0, 30), 0);
    md.update(text, 0, { final: true });
    assert.match(md.el.innerHTML, /href="https:\/\/example.com\/d"/, "reference links resolve");
    assert.equal(md.el.querySelector(".sw-tail")!.childNodes.length, 0);
    const renders = md.renders;
    md.update(text, 0, { final: true });
    assert.equal(md.renders, renders, "the final render happens once");
  });

  test("the final render keeps the finished blocks and makes the rest one more block", () => {
    const md = view();
    md.update("# Title\n\n```py\nx = 1\n```\n\nLast para", 0, { caret: true });
    const [title, code] = md.el.querySelectorAll(".sw-block");
    md.update("# Title\n\n```py\nx = 1\n```\n\nLast paragraph.", 0, { final: true });
    const blocks = md.el.querySelectorAll(".sw-block");
    assert.equal(blocks[0], title, "kept, not parsed again");
    assert.equal(blocks[1], code);
    assert.equal(blocks[2].textContent!.trim(), "Last paragraph.");
    assert.equal(md.el.querySelector(".sw-tail")!.childNodes.length, 0);
    assert.equal(md.el.querySelector(".sw-caret"), null);
    md.update("# Title\n\n```py\nx = 1\n```\n\nLast paragraph. And more", 0, { caret: true });
    assert.equal(md.el.querySelectorAll(".sw-block").length, 2, "streaming again: the rest is the tail");
    assert.match(md.el.querySelector(".sw-tail")!.textContent!, /And more/);
  });

  test("a definition after the blocks that use it: those blocks are parsed again, within the budget", () => {
    const text = "See [a][x].\n\nPlain.\n\nAnd [b][x].\n\n[x]: https://example.com/x";
    const md = view();
    for (let i = 1; i <= text.length; i++) md.update(text.slice(0, i), 0);
    assert.equal(md.el.querySelectorAll("a").length, 0, "not known while streaming");
    let calls = 0;
    do {
      md.update(text, 0, { final: true, budget: { until: Infinity, chars: 1 } });
      calls++;
    } while (md.behind);
    assert.ok(calls >= 2, "one block per call");
    const links = [...md.el.querySelectorAll("a")].map((a) => a.getAttribute("href"));
    assert.deepEqual(links, ["https://example.com/x", "https://example.com/x"]);
    assert.equal(md.el.innerHTML, whole(text), "the same as rendering the whole text once");
  });

  test("a budget leaves blocks for the next calls (at least one per call), then catches up", () => {
    const text = Array.from({ length: 12 }, (_, i) => `Paragraph ${i} with *some* text.`).join("\n\n");
    const md = view();
    md.update(text, 0, { caret: true, budget: { until: Infinity, chars: 40 } });
    assert.equal(md.behind, true);
    assert.equal(md.el.querySelectorAll(".sw-block").length, 2);
    assert.equal(md.el.querySelector(".sw-tail")!.childNodes.length, 0, "no tail while behind");
    md.update(text, 0, { caret: true, budget: { until: -1, chars: 1e9 } });
    assert.equal(md.el.querySelectorAll(".sw-block").length, 3, "past the deadline: one block");
    md.update(text, 0, { caret: true });
    assert.equal(md.behind, false);
    assert.equal(md.el.querySelectorAll(".sw-block").length, 11);
    assert.ok(md.el.querySelector(".sw-tail .sw-caret"));
  });

  test("with a budget, a block whose grammar is cold waits for a task that compiles it", async () => {
    // rust and go are highlighted nowhere else in this file: their grammars are cold here
    const text = "Intro.\n\n```rust\nfn main() {}\n```\n\nMiddle.\n\n```rust\nlet x = 1;\n```\n\nEnd";
    const md = view();
    const budget = () => ({ until: Infinity, chars: 1e9 });
    md.update(text, 0, { caret: true, budget: budget() });
    assert.equal(md.behind, true);
    assert.equal(md.el.querySelectorAll(".sw-block").length, 1, "the intro, then the rust block waits");
    md.update(text, 0, { caret: true, budget: budget() });
    assert.equal(md.el.querySelectorAll(".sw-block").length, 1, "still waiting: the task has not run");
    await new Promise((resolve) => setTimeout(resolve, 0));
    md.update(text, 0, { caret: true, budget: budget() });
    assert.equal(md.behind, false, "the grammar is warm: the second rust block does not wait");
    assert.equal(md.el.querySelectorAll(".sw-block").length, 4);
    assert.equal(md.el.querySelectorAll(".sw-block pre .sw-hl-keyword").length, 2, "highlighted");
    md.update(text, 0, { final: true, budget: budget() });
    assert.equal(md.el.innerHTML, whole(text), "the same as rendering the whole text once");

    const other = view(); // without a budget (chat, player) nothing waits
    other.update("```go\nfunc main() {}\n```\n\nok", 0, {});
    assert.equal(other.behind, false);
    assert.ok(other.el.querySelector(".sw-block .sw-hl-keyword"));
  });

  test("with a budget, the live tail shows code of a cold grammar plain, then highlighted", async () => {
    const md = view();
    const text = "Config:\n\n```yaml\nkey: value\nlist:";
    md.update(text, 0, { caret: true, budget: { until: Infinity, chars: 1e9 } });
    const code = () => md.el.querySelector(".sw-tail pre code")!;
    assert.equal(code().textContent, "key: value\nlist:", "shown at once");
    assert.equal(code().querySelector("[class^=sw-hl-]"), null, "not highlighted yet");
    assert.equal(md.behind, true, "another call is wanted");
    await new Promise((resolve) => setTimeout(resolve, 0));
    md.update(text, 0, { caret: true, budget: { until: Infinity, chars: 1e9 } });
    assert.equal(md.behind, false);
    assert.ok(code().querySelector("[class^=sw-hl-]"), "highlighted once warm");
  });

  test("views sharing a BlockCache clone blocks: same result, own nodes", () => {
    const text = "# Doc\n\n```js\nlet a = 1;\n```\n\n- one\n- two\n\n| a |\n|---|\n| 1 |\n\nEnd.";
    const cache = new BlockCache();
    const first = new MarkdownView(document.createElement("div"), cache);
    first.update(text, 0, { final: true });
    assert.equal(cache.hits, 0);
    const second = new MarkdownView(document.createElement("div"), cache);
    second.update(text, 0, { final: true });
    assert.equal(cache.hits, 5, "every block cloned");
    assert.equal(second.el.innerHTML, first.el.innerHTML);
    first.el.querySelector(".sw-copy")!.textContent = "Copied";
    assert.equal(second.el.querySelector(".sw-copy")!.textContent, "Copy", "no node is shared");
    const third = new MarkdownView(document.createElement("div"), cache);
    third.update(text, 0, { final: true });
    assert.equal(third.el.querySelector(".sw-copy")!.textContent, "Copy", "the cache keeps a pristine copy");
  });

  test("a new epoch starts over", () => {
    const md = view();
    md.update("old block\n\nold tail", 0);
    md.update("new", 1);
    assert.equal(md.el.textContent!.trim(), "new");
  });

  test("streaming char by char ends with the same text as one render", () => {
    const text = "Intro.\n\n- one\n- two\n\n```py\nprint(1)\n\nprint(2)\n```\n\n| a |\n|---|\n| 1 |\n\nBye.";
    const md = view();
    for (let i = 1; i <= text.length; i++) md.update(text.slice(0, i), 0);
    const whole = view();
    whole.update(text, 0);
    assert.equal(md.el.textContent, whole.el.textContent);
    assert.ok(md.el.querySelectorAll(".sw-block").length >= 4);
  });
});
