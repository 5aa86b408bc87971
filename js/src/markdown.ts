// Markdown → sanitized DOM, and an incremental renderer for text that grows.
//
// Sanitizing is strict: model output is untrusted. No scripts, event handlers, styles, forms,
// frames or embedded media; links only to http(s)/mailto/relative targets and opened in a new
// tab; images are never loaded (no request leaves the browser): they become a link-text
// placeholder. DOMPurify parses in an inert document, and image sources are stripped there.

import DOMPurify from "dompurify";
import { Marked, type Tokens } from "marked";
import "./markdown.css";
import { BlockSplitter } from "./blocks";
import { h as el } from "./dom";
import { escapeHtml, highlightCode, resolveLanguage } from "./highlight";

const marked = new Marked({ gfm: true, breaks: false, async: false });
marked.use({
  renderer: {
    code({ text, lang }: Tokens.Code): string {
      const word = (lang ?? "").trim().split(/\s+/)[0].replace(/[^\w#+.-]/g, "");
      const language = resolveLanguage(word);
      const cls = word ? ` class="language-${escapeHtml(word)}"` : "";
      return `<pre><code${cls}>${highlightCode(text.replace(/\n$/, ""), language)}</code></pre>\n`;
    },
    // A tag that opens a raw-text element (<style>, <script>, <textarea>, ...), e.g. named in
    // prose, would make the browser's parser swallow the rest of the reply: such raw HTML is
    // shown as text. Other raw HTML goes on to DOMPurify.
    html({ text }: Tokens.HTML | Tokens.Tag): string {
      return RAW_TEXT_TAG.test(text) ? escapeHtml(text) : text;
    },
  },
});

const RAW_TEXT_TAG =
  /<\/?\s*(?:script|style|title|textarea|xmp|iframe|noembed|noframes|noscript|plaintext|template|svg|math)\b/i;

/** Like DOMPurify's default, minus every scheme but http(s) and mailto. */
const ALLOWED_URI = /^(?:(?:https?|mailto):|[^a-z]|[a-z+.-]+(?:[^a-z+.\-:]|$))/i;
const WEB_URL = /^(?:https?:|mailto:)/i;

const CONFIG = {
  USE_PROFILES: { html: true },
  FORBID_TAGS: [
    "style", "script", "iframe", "frame", "frameset", "object", "embed", "form", "input",
    "button", "textarea", "select", "option", "link", "meta", "base", "video", "audio",
    "source", "track", "picture", "template", "dialog", "noscript",
  ],
  FORBID_ATTR: ["style", "srcset", "action", "formaction", "background", "poster", "ping"],
  ALLOW_DATA_ATTR: false,
  ALLOWED_URI_REGEXP: ALLOWED_URI,
  SANITIZE_NAMED_PROPS: true,
  RETURN_DOM_FRAGMENT: true as const,
};

type Purifier = ReturnType<typeof DOMPurify>;
const purifiers = new WeakMap<object, Purifier>();

/** One DOMPurify instance per window (the browser's, or jsdom's in tests), with our hooks. */
function purifierFor(win: Window): Purifier {
  let purify = purifiers.get(win);
  if (!purify) {
    purify = DOMPurify(win as unknown as Parameters<typeof DOMPurify>[0]);
    purify.addHook("afterSanitizeAttributes", (node) => {
      const el = node as Element;
      if (el.nodeName === "IMG") {
        // Runs in DOMPurify's inert document: stash the source before anything can load it.
        const src = el.getAttribute("src");
        el.removeAttribute("src");
        if (src) el.setAttribute("data-sw-src", src);
      }
      const cls = el.getAttribute("class");
      if (cls !== null) {
        // only the renderer's own classes: a model must not borrow the page's (jp-Dialog, ...)
        const own = cls.split(/\s+/).filter((c) => /^(?:language-[\w#+.-]+|sw-hl-[\w-]+)$/.test(c));
        if (own.length) el.setAttribute("class", own.join(" "));
        else el.removeAttribute("class");
      }
      if (el.nodeName === "A" && WEB_URL.test(el.getAttribute("href") ?? "")) {
        el.setAttribute("target", "_blank");
        el.setAttribute("rel", "noopener noreferrer");
      }
    });
    purifiers.set(win, purify);
  }
  return purify;
}

/** Parse markdown into a sanitized fragment owned by `doc`. */
export function markdownToFragment(src: string, doc: Document): DocumentFragment {
  const html = marked.parse(src) as string;
  const win = doc.defaultView;
  if (!win) throw new Error("markdownToFragment needs a document with a window");
  const fragment = purifierFor(win).sanitize(html, CONFIG) as DocumentFragment;
  decorate(fragment, doc);
  return fragment;
}

/** Sanitized HTML string (tests and simple callers). */
export function markdownToHtml(src: string, doc: Document): string {
  const box = doc.createElement("div");
  box.append(markdownToFragment(src, doc));
  return box.innerHTML;
}

/** Placeholders for images, a header with a copy button on code blocks, scrollable tables. */
function decorate(root: DocumentFragment, doc: Document): void {
  for (const img of Array.from(root.querySelectorAll("img"))) {
    const src = img.getAttribute("data-sw-src") ?? "";
    const label = img.getAttribute("alt") || "image";
    const isWeb = WEB_URL.test(src);
    const link = el(doc, isWeb ? "a" : "span", "sw-img");
    if (isWeb) {
      link.setAttribute("href", src);
      link.setAttribute("target", "_blank");
      link.setAttribute("rel", "noopener noreferrer");
    }
    link.title = isWeb ? `Image not loaded: ${src}` : "Image not loaded";
    link.append(el(doc, "span", "sw-img-icon"), label);
    img.replaceWith(link);
  }
  for (const pre of Array.from(root.querySelectorAll("pre"))) {
    const code = pre.querySelector("code");
    const lang = /(?:^|\s)language-(\S+)/.exec(code?.className ?? "")?.[1] ?? "";
    const box = el(doc, "div", "sw-codeblock");
    const head = el(doc, "div", "sw-codeblock-head");
    const copy = el(doc, "button", "sw-copy", "Copy");
    copy.setAttribute("type", "button");
    copy.title = "Copy code";
    head.append(el(doc, "span", "sw-codeblock-lang", lang || "text"), copy);
    pre.replaceWith(box);
    box.append(head, pre);
  }
  for (const table of Array.from(root.querySelectorAll("table"))) {
    const wrap = el(doc, "div", "sw-table-wrap");
    table.replaceWith(wrap);
    wrap.append(table);
  }
}

/** A link reference definition (`[id]: url`), which can change how earlier blocks render. */
const LINK_DEFINITION = /^ {0,3}\[[^\]]+\]:/m;

/** Rendering work allowed per update before yielding to the page (ms). */
const BUDGET_MS = 8;

const now = (): number => (typeof performance !== "undefined" ? performance.now() : Date.now());

/** Elements the caret must not be put inside. */
const NO_CARET = new Set(["BR", "HR", "IMG", "INPUT"]);

/**
 * Renders a growing markdown text into `el`: finished blocks are rendered once into their own
 * node and never touched again; only the unfinished tail is re-rendered on each update.
 */
export class MarkdownView {
  readonly el: HTMLElement;
  private readonly doc: Document;
  private readonly blocks: HTMLElement;
  private readonly tail: HTMLElement;
  private splitter = new BlockSplitter();
  private epoch = -1;
  private renderedBlocks = 0;
  private tailSource: string | null = null;
  private tailCaret = false;
  private finalText: string | null = null;
  /** Counts block and tail renders (tests, debugging). */
  renders = 0;
  /** True while finished blocks wait to be rendered: call `update` again on the next frame. */
  behind = false;

  constructor(el: HTMLElement) {
    this.el = el;
    this.doc = el.ownerDocument;
    this.blocks = el.appendChild(this.doc.createElement("div"));
    this.blocks.className = "sw-blocks";
    this.tail = el.appendChild(this.doc.createElement("div"));
    this.tail.className = "sw-tail";
  }

  /**
   * Show `text`. `epoch` changes when the text was replaced rather than extended. `final`
   * asks for one exact render of the whole text (the stream ended).
   */
  update(
    text: string,
    epoch: number,
    options: { final?: boolean; caret?: boolean; budget?: boolean } = {},
  ): void {
    const budget = Boolean(options.budget);
    if (epoch !== this.epoch) this.reset(epoch);
    if (options.final) {
      if (this.finalText === text) return;
      // Link reference definitions can change earlier blocks: only then render everything again.
      if (LINK_DEFINITION.test(text)) {
        this.finalText = text;
        this.blocks.replaceChildren(text ? markdownToFragment(text, this.doc) : "");
        this.tail.replaceChildren();
        this.renders += 1;
        this.behind = false;
        return;
      }
      if (this.finalText !== null) this.reset(epoch);
      if (!this.renderBlocks(text, budget)) return; // more blocks next frame
      this.finalText = text;
      this.renderTail(text.slice(this.splitter.stable), false);
      return;
    }
    if (this.finalText !== null) this.reset(epoch); // streaming again after a final render
    if (this.renderBlocks(text, budget)) {
      this.renderTail(text.slice(this.splitter.stable), Boolean(options.caret));
    }
  }

  /**
   * Render the newly finished blocks; with `budget`, at most ~8 ms of work per call so a long
   * document never blocks the page. Returns false (and sets `behind`) when blocks are left for
   * the next frame.
   */
  private renderBlocks(text: string, budget: boolean): boolean {
    this.splitter.feed(text);
    const bounds = this.splitter.bounds;
    const started = now();
    for (; this.renderedBlocks < bounds.length; this.renderedBlocks++) {
      if (budget && now() - started > BUDGET_MS) {
        this.behind = true;
        this.tail.replaceChildren(); // the tail would jump around while blocks are missing
        this.tailSource = null;
        return false;
      }
      const start = this.renderedBlocks ? bounds[this.renderedBlocks - 1] : 0;
      const block = this.doc.createElement("div");
      block.className = "sw-block";
      block.append(markdownToFragment(text.slice(start, bounds[this.renderedBlocks]), this.doc));
      this.blocks.append(block);
      this.renders += 1;
    }
    this.behind = false;
    return true;
  }

  private renderTail(tail: string, caret: boolean): void {
    if (tail === this.tailSource && caret === this.tailCaret) return;
    this.tailSource = tail;
    this.tailCaret = caret;
    this.tail.replaceChildren(tail ? markdownToFragment(tail, this.doc) : "");
    if (caret) caretTarget(this.tail).append(el(this.doc, "span", "sw-caret"));
    this.renders += 1;
  }

  private reset(epoch: number): void {
    this.epoch = epoch;
    this.splitter = new BlockSplitter();
    this.renderedBlocks = 0;
    this.tailSource = null;
    this.finalText = null;
    this.behind = false;
    this.blocks.replaceChildren();
    this.tail.replaceChildren();
  }
}

/** The innermost last element at the end of `root`, so the caret follows the last character. */
function caretTarget(root: Element): Element {
  let node: Element = root;
  for (;;) {
    let last = node.lastChild;
    // Skip trailing whitespace-only text (e.g. the newline after a code block).
    while (last && last.nodeType === 3 && !last.textContent?.trim()) last = last.previousSibling;
    if (!last || last.nodeType !== 1 || NO_CARET.has(last.nodeName)) return node;
    if ((last as Element).classList.contains("sw-codeblock-head")) return node;
    node = last as Element;
  }
}
