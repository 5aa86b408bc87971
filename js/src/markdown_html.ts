// Markdown → sanitized, decorated DOM: marked's renderer (highlighted code, maths, raw-text
// tags shown as text) and DOMPurify with the project's hooks.
//
// Sanitizing is strict: model output is untrusted. No scripts, event handlers, styles, forms,
// frames or embedded media; links only to http(s)/mailto/relative targets and opened in a new
// tab; images are never loaded (no request leaves the browser): they become a link-text
// placeholder. DOMPurify parses in an inert document, and image sources are stripped there.

import DOMPurify from "dompurify";
import { Lexer, Marked, type Links, type Tokens, type TokensList } from "marked";
import { h as el } from "./dom";
import { escapeHtml, highlightCode, isCold, resolveLanguage } from "./highlight";
import { mathExtension } from "./math";

/** The word of a fence's info string that names its language, as put in the class. */
export const fenceWord = (lang: string | undefined): string =>
  (lang ?? "").trim().split(/\s+/)[0].replace(/[^\w#+.-]/g, "");

/**
 * While set (the live tail of a budgeted view), code in a language whose grammar is not
 * compiled yet is shown plain and its language noted here, to be warmed outside the frame.
 */
let plainCold: string[] | null = null;

/** `render()` with code in a cold grammar shown plain and its language added to `cold` (with
 * null: highlighted as usual). */
export function withColdCodePlain<T>(cold: string[] | null, render: () => T): T {
  plainCold = cold;
  try {
    return render();
  } finally {
    plainCold = null;
  }
}

export const marked = new Marked({ gfm: true, breaks: false, async: false });
marked.use({
  renderer: {
    code({ text, lang }: Tokens.Code): string {
      const word = fenceWord(lang);
      const language = resolveLanguage(word);
      const cls = word ? ` class="language-${escapeHtml(word)}"` : "";
      const code = text.replace(/\n$/, "");
      let body: string;
      if (plainCold && isCold(language)) {
        plainCold.push(language);
        body = escapeHtml(code);
      } else {
        body = highlightCode(code, language);
      }
      return `<pre><code${cls}>${body}</code></pre>\n`;
    },
    // A tag that opens a raw-text element (<style>, <script>, <textarea>, ...), e.g. named in
    // prose, would make the browser's parser swallow the rest of the reply: such raw HTML is
    // shown as text. Other raw HTML goes on to DOMPurify.
    html({ text }: Tokens.HTML | Tokens.Tag): string {
      return RAW_TEXT_TAG.test(text) ? escapeHtml(text) : text;
    },
  },
});

marked.use(mathExtension); // TeX → MathML (math.ts); model-written raw <math> stays text below

const RAW_TEXT_TAG =
  /<\/?\s*(?:script|style|title|textarea|xmp|iframe|noembed|noframes|noscript|plaintext|template|svg|math)\b/i;

/** Like DOMPurify's default, minus every scheme but http(s) and mailto. */
const ALLOWED_URI = /^(?:(?:https?|mailto):|[^a-z]|[a-z+.-]+(?:[^a-z+.\-:]|$))/i;
const WEB_URL = /^(?:https?:|mailto:)/i;

const CONFIG = {
  USE_PROFILES: { html: true, mathMl: true }, // MathML: what math.ts makes of TeX
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
        const own = cls.split(/\s+/).filter((c) => /^(?:language-[\w#+.-]+|sw-hl-[\w-]+|sw-math-(?:display|error))$/.test(c));
        if (own.length) el.setAttribute("class", own.join(" "));
        else el.removeAttribute("class");
      }
      if (el.nodeName === "A" && WEB_URL.test(el.getAttribute("href") ?? "")) {
        el.setAttribute("target", "_blank");
        el.setAttribute("rel", "noopener noreferrer");
      }
    });
    purify.setConfig(CONFIG); // parsed once, not on every call
    purifiers.set(win, purify);
  }
  return purify;
}

/**
 * Parse markdown into a sanitized fragment owned by `doc`. `links`: reference definitions
 * from elsewhere in the document.
 */
export function markdownToFragment(src: string, doc: Document, links?: Links): DocumentFragment {
  return safely(src, doc, () => (links ? marked.parser(lex(src, links)) : marked.parse(src)) as string);
}

/**
 * The sanitized fragment of `render()`'s HTML; or, when rendering throws or the sanitizer
 * gives nothing back (a block that starts with `<frameset>`: its parser drops the body), the
 * source as escaped text. One bad block never stops a view.
 */
export function safely(src: string, doc: Document, render: () => string): DocumentFragment {
  let fragment: DocumentFragment | null = null;
  try {
    fragment = sanitize(render(), doc);
  } catch {
    fragment = null;
  }
  if (fragment) return fragment;
  const out = doc.createDocumentFragment();
  out.append(el(doc, "p", "sw-unrendered", src.replace(/\n+$/, "")));
  return out;
}

/** marked's tokens for `src`, with the link reference definitions `known` from elsewhere. */
export function lex(src: string, known: Links): TokensList {
  const lexer = new Lexer({ ...marked.defaults });
  Object.assign(lexer.tokens.links, known);
  return lexer.lex(src);
}

/** Sanitized and decorated fragment of the renderer's HTML; null if the sanitizer gave none. */
function sanitize(html: string, doc: Document): DocumentFragment | null {
  const win = doc.defaultView;
  if (!win) throw new Error("markdownToFragment needs a document with a window");
  // RETURN_DOM_FRAGMENT is in the config set once per purifier
  const fragment = purifierFor(win).sanitize(html) as unknown as DocumentFragment | null;
  if (!fragment || typeof fragment.querySelectorAll !== "function") return null;
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
