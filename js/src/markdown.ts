// An incremental renderer for markdown that grows: finished blocks are rendered once (and
// cached per widget model), the live tail again each frame, within a time budget. Turning
// markdown into sanitized DOM is markdown_html.ts.

import type { Links, Tokens } from "marked";
import "./markdown.css";
import { BlockSplitter } from "./blocks";
import { h as el } from "./dom";
import { highlightCode, isCold, prepareCode, resolveLanguage } from "./highlight";
import {
  fenceWord,
  lex,
  marked,
  markdownToFragment,
  safely,
  withColdCodePlain,
} from "./markdown_html";

export { markdownToFragment, markdownToHtml } from "./markdown_html";

interface Rendered {
  /** A pristine `.sw-block` element, cloned into each view that shows the block. */
  node: Element;
  /** Link reference definitions (`[id]: url`) the block itself adds, or null. */
  defines: Links | null;
}

/**
 * Rendered blocks by source, kept per widget model: a new view of the same stream clones
 * them instead of parsing and highlighting again. Entries are sanitized DOM, never re-parsed.
 */
export class BlockCache {
  private readonly blocks = new Map<string, Rendered>();
  /** Blocks cloned rather than parsed (tests, debugging). */
  hits = 0;

  has(key: string): boolean {
    return this.blocks.has(key);
  }

  get(key: string): Rendered | undefined {
    const found = this.blocks.get(key);
    if (found) this.hits += 1;
    return found;
  }

  set(key: string, value: Rendered): void {
    this.blocks.set(key, value);
  }

  clear(): void {
    this.blocks.clear();
  }
}

/** Parse one block with the definitions known elsewhere in the document; also returns its own. */
function renderBlock(src: string, doc: Document, known: Links): Rendered {
  let defines: Links | null = null;
  const node = doc.createElement("div");
  node.className = "sw-block";
  node.append(
    safely(src, doc, () => {
      const tokens = lex(src, known);
      if (Object.keys(tokens.links).some((tag) => !(tag in known))) {
        defines = Object.fromEntries(Object.entries(tokens.links).filter(([tag]) => !(tag in known)));
      }
      return marked.parser(tokens) as string;
    }),
  );
  return { node, defines };
}

/** Info strings of the code fences a block opens (a cheap look, before any parsing). */
const FENCE_INFO = /^[ \t>]*(?:`{3,}|~{3,})[ \t]*([^\s`]+)/gm;

/** Languages of `src`'s code fences whose grammar would be compiled on first use. */
function coldLanguages(src: string): string[] {
  const out: string[] = [];
  if (!src.includes("```") && !src.includes("~~~")) return out;
  for (const match of src.matchAll(FENCE_INFO)) {
    const language = resolveLanguage(fenceWord(match[1]));
    if (isCold(language) && !out.includes(language)) out.push(language);
  }
  return out;
}

const warming = new Set<string>();

/**
 * In a task of its own (not in an animation frame): compile the grammars of `languages` and,
 * with `prepare`, highlight the code of `src` so that rendering it later only looks it up.
 * Every language is warm afterwards, whatever the lexer made of the fences.
 */
function warmUp(src: string, languages: string[], prepare: boolean): void {
  const key = `${prepare ? 1 : 0}${src}`;
  if (warming.has(key)) return;
  warming.add(key);
  setTimeout(() => {
    warming.delete(key);
    if (prepare) {
      try {
        marked.walkTokens(marked.lexer(src), (token) => {
          if (token.type !== "code") return;
          const { text, lang } = token as Tokens.Code;
          prepareCode(text.replace(/\n$/, ""), resolveLanguage(fenceWord(lang)));
        });
      } catch {
        // the block is parsed again when rendered; only the grammars matter here
      }
    }
    for (const language of languages) if (isCold(language)) highlightCode("", language);
  }, 0);
}

const now = (): number => (typeof performance !== "undefined" ? performance.now() : Date.now());

/**
 * Work allowed in one animation frame, shared by the views that render in it: no block starts
 * after `until` (a `performance.now()` time), nor once `chars` of markdown were added — the
 * page lays out what was added in the same frame (in Chromium ~1 ms per 1,000 characters),
 * and blocks cloned from a cache are cheap to make but not to lay out.
 */
export interface Budget {
  until: number;
  chars: number;
}

/** A budget for one frame: `ms` of rendering, and the text the page can lay out after it. */
export function frameBudget(ms: number, chars = 8000): Budget {
  return { until: now() + ms, chars };
}

/** Elements the caret must not be put inside. */
const NO_CARET = new Set(["BR", "HR", "IMG", "INPUT"]);

/**
 * Renders a growing markdown text into `el`: finished blocks are rendered once into their own
 * node and never touched again; only the unfinished tail is re-rendered on each update.
 *
 * Link reference definitions apply to the whole document: each block is parsed with those
 * found so far, and when the text is final the blocks parsed before a definition they may use
 * showed up are parsed again (block by block, within the deadline too).
 */
export class MarkdownView {
  readonly el: HTMLElement;
  private readonly doc: Document;
  private readonly blocks: HTMLElement;
  private readonly tail: HTMLElement;
  private readonly cache: BlockCache | null;
  private splitter = new BlockSplitter();
  private epoch = -1;
  /** Source end offset of each rendered block, and the definitions it was parsed with. */
  private ends: number[] = [];
  private parsedWith: string[] = [];
  private links: Links = {};
  /** `links` as a string, part of the cache key ("" while there are none). */
  private linksKey = "";
  private tailSource: string | null = null;
  private tailCaret = false;
  /** The text of the last complete final render. */
  private finalText: string | null = null;
  /** The final text whose unfinished rest the last block holds (the splitter did not end it). */
  private restOf: string | null = null;
  /** Counts block and tail renders (tests, debugging). */
  renders = 0;
  /** True while blocks wait to be rendered: call `update` again on the next frame. */
  behind = false;

  constructor(el: HTMLElement, cache: BlockCache | null = null) {
    this.el = el;
    this.doc = el.ownerDocument;
    this.cache = cache;
    this.blocks = el.appendChild(this.doc.createElement("div"));
    this.blocks.className = "sw-blocks";
    this.tail = el.appendChild(this.doc.createElement("div"));
    this.tail.className = "sw-tail";
  }

  /**
   * Show `text`. `epoch` changes when the text was replaced rather than extended. `final`: the
   * stream ended, the whole text is blocks (no tail) with every link definition applied.
   * `budget`: once it is spent, render no more blocks (at least one per call), set `behind`
   * and leave the rest to the next call.
   */
  update(
    text: string,
    epoch: number,
    options: { final?: boolean; caret?: boolean; budget?: Budget } = {},
  ): void {
    const final = Boolean(options.final);
    if (epoch !== this.epoch) this.reset(epoch);
    if (final && text === this.finalText) return;
    this.finalText = null;
    // A final render made the rest of the text one block; when the text changes, it is not one.
    if (this.restOf !== null && !(final && text === this.restOf)) {
      this.blocks.lastElementChild?.remove();
      this.ends.pop();
      this.parsedWith.pop();
      this.restOf = null;
    }
    this.splitter.feed(text);
    const ends = this.splitter.bounds;
    const count = ends.length + (final && text.length > this.splitter.stable ? 1 : 0);
    const budget = options.budget;
    let rendered = 0;
    const tired = () => rendered > 0 && budget && (budget.chars <= 0 || now() > budget.until);
    const render = (start: number, end: number) => {
      if (budget) budget.chars -= end - start;
      rendered++;
      return this.block(text.slice(start, end));
    };

    for (let i = this.ends.length; i < count; i++) {
      if (tired()) return this.fallBehind();
      const start = i ? this.ends[i - 1] : 0;
      const end = i < ends.length ? ends[i] : text.length;
      // A block whose highlighting would compile a grammar waits for a task that does it
      // (its own 5-50 ms, next to nothing else), unless it is in the cache already.
      if (budget && this.waitsForGrammar(text.slice(start, end))) return this.fallBehind();
      this.blocks.append(render(start, end));
      if (i >= ends.length) this.restOf = text;
      this.ends.push(end);
      this.parsedWith.push(this.linksKey);
    }
    if (final) {
      // Blocks parsed before a definition showed up: parse them again, now that all are known.
      for (let i = 0; i < this.ends.length; i++) {
        if (this.parsedWith[i] === this.linksKey) continue;
        if (tired()) return this.fallBehind();
        this.blocks.children[i].replaceWith(render(i ? this.ends[i - 1] : 0, this.ends[i]));
        this.parsedWith[i] = this.linksKey;
      }
      this.finalText = text;
    }
    this.behind = false;
    const tail = final ? "" : text.slice(this.splitter.stable);
    this.renderTail(tail, !final && Boolean(options.caret), Boolean(budget));
  }

  /** True when `src` must wait for a grammar to be warmed (which is then queued). */
  private waitsForGrammar(src: string): boolean {
    const languages = coldLanguages(src);
    if (!languages.length || this.cache?.has(`${this.linksKey}\u0000${src}`)) return false;
    warmUp(src, languages, true);
    return true;
  }

  /** A block's element: cloned from the cache, else parsed (and then cached). */
  private block(src: string): Element {
    const key = `${this.linksKey}\u0000${src}`;
    let rendered = this.cache?.get(key);
    if (!rendered) {
      rendered = renderBlock(src, this.doc, this.links);
      this.cache?.set(key, { node: rendered.node.cloneNode(true) as Element, defines: rendered.defines });
    } else {
      rendered = { ...rendered, node: this.doc.importNode(rendered.node, true) };
    }
    if (rendered.defines) {
      this.links = { ...rendered.defines, ...this.links }; // the first definition of a label wins
      this.linksKey = JSON.stringify(this.links);
    }
    this.renders += 1;
    return rendered.node;
  }

  private fallBehind(): void {
    this.behind = true;
    this.renderTail("", false); // the tail would jump around while blocks are missing
  }

  /** `budgeted`: code whose grammar is cold is shown plain and highlighted on a later call. */
  private renderTail(tail: string, caret: boolean, budgeted = false): void {
    if (tail === this.tailSource && caret === this.tailCaret) return;
    this.tailSource = tail;
    this.tailCaret = caret;
    const cold: string[] | null = budgeted ? [] : null;
    withColdCodePlain(cold, () => {
      if (tail) this.tail.replaceChildren(markdownToFragment(tail, this.doc, this.links));
      else this.tail.replaceChildren();
    });
    if (cold?.length) {
      warmUp(tail, cold, false);
      this.tailSource = null; // shown again, highlighted, once the grammar is warm
      this.behind = true;
    }
    if (caret) caretTarget(this.tail).append(el(this.doc, "span", "sw-caret"));
    this.renders += 1;
  }

  private reset(epoch: number): void {
    this.epoch = epoch;
    this.splitter = new BlockSplitter();
    this.ends = [];
    this.parsedWith = [];
    this.links = {};
    this.linksKey = "";
    this.tailSource = null;
    this.finalText = null;
    this.restOf = null;
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
