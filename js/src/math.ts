// TeX maths in model output → MathML, offline (temml is bundled; browsers render MathML Core).
//
// marked extensions for `$...$` and `\(...\)` (inline), `$$...$$` and `\[...\]` (display).
// Streaming-safe: a formula is only recognised once it is closed, so an unclosed `$` stays
// plain text until its closing `$` arrives. Currency is not maths: as in Pandoc, an opening
// `$` must be followed by a non-space and a closing `$` preceded by a non-space and not followed
// by a digit, so "$5 and $10" stays text. A formula temml cannot parse shows as its source.
// The MathML goes through the sanitizer like everything else (markdown.ts allows MathML).

import type temmlModule from "temml";
import type { MarkedExtension, Tokens } from "marked";
import { escapeHtml } from "./highlight";

interface MathToken extends Tokens.Generic {
  type: "math" | "mathInline";
  raw: string;
  tex: string;
  display: boolean;
}

/** Inline `$x$`: no space inside either end, not `$$`, closing `$` not before a digit. */
const DOLLAR_INLINE = /^\$(?!\$)((?:\\[\s\S]|[^\\$\n])*?[^\s\\$])\$(?!\d)/;
/** A single-character formula (`$x$`). */
const DOLLAR_ONE = /^\$([^\s\\$])\$(?!\d)/;
const PAREN_INLINE = /^\\\(([\s\S]+?)\\\)/;
const DOLLAR_DISPLAY = /^\$\$([\s\S]+?)\$\$/;
const BRACKET_DISPLAY = /^\\\[([\s\S]+?)\\\]/;
/** A display formula alone in its block (block level: no paragraph around it). */
const BLOCK_DISPLAY = /^ {0,3}(?:\$\$([\s\S]+?)\$\$|\\\[([\s\S]+?)\\\])[ \t]*(?:\n+|$)/;

/** Longest formula converted (longer ones show as source: conversion time grows with it). */
const MAX_TEX = 10_000;

// The converter is required, not imported: esbuild then wraps it in a function that runs the
// first time a formula is rendered, so a view whose replies have no maths never evaluates it
// (it is more than half of the bundle; every widget instance evaluates its module).
declare const require: (id: string) => { default?: typeof temmlModule } & typeof temmlModule;
let temml: typeof temmlModule | null = null;
function converter(): typeof temmlModule {
  if (!temml) {
    const loaded = require("temml");
    temml = loaded.default ?? loaded;
  }
  return temml;
}

/** MathML for `tex`, or null when temml cannot parse it. */
export function texToMathML(tex: string, display: boolean): string | null {
  if (tex.length > MAX_TEX) return null;
  try {
    return converter().renderToString(tex, {
      displayMode: display,
      throwOnError: true,
      trust: false, // no \href, \url, \class, ... from a model
      maxExpand: 500,
    });
  } catch {
    return null;
  }
}

/** A block formula gets a box of its own (it may scroll); an inline one stays in its line. */
function render(token: MathToken, block: boolean): string {
  const mathml = texToMathML(token.tex.trim(), token.display);
  const html = mathml ?? `<code class="sw-math-error">${escapeHtml(token.raw.trim())}</code>`;
  return block ? `<div class="sw-math-display">${html}</div>\n` : html;
}

/** Where an inline formula may start in `src` (marked stops its plain text there). */
function inlineStart(src: string): number | undefined {
  const dollar = src.indexOf("$");
  const paren = src.indexOf("\\(");
  const bracket = src.indexOf("\\[");
  const found = [dollar, paren, bracket].filter((i) => i >= 0);
  return found.length ? Math.min(...found) : undefined;
}

function inlineTokenizer(src: string): MathToken | undefined {
  const c = src[0];
  if (c !== "$" && c !== "\\") return undefined;
  for (const [re, display] of [
    [DOLLAR_DISPLAY, true], [BRACKET_DISPLAY, true], [PAREN_INLINE, false],
    [DOLLAR_ONE, false], [DOLLAR_INLINE, false],
  ] as const) {
    const m = re.exec(src);
    if (m && m[1].trim()) return { type: "mathInline", raw: m[0], tex: m[1], display };
  }
  return undefined;
}

/** The marked extension (inline and block maths). */
export const mathExtension: MarkedExtension = {
  extensions: [
    {
      name: "math",
      level: "block",
      start: (src: string) => {
        const m = /(?:^|\n) {0,3}(?:\$\$|\\\[)/.exec(src);
        return m ? m.index + (m[0].startsWith("\n") ? 1 : 0) : undefined;
      },
      tokenizer(src: string): MathToken | undefined {
        const m = BLOCK_DISPLAY.exec(src);
        const tex = m ? (m[1] ?? m[2]) : "";
        if (!m || !tex.trim()) return undefined;
        return { type: "math", raw: m[0], tex, display: true };
      },
      renderer: (token) => render(token as MathToken, true),
    },
    {
      name: "mathInline",
      level: "inline",
      start: inlineStart,
      tokenizer: inlineTokenizer,
      renderer: (token) => render(token as MathToken, false),
    },
  ],
};
