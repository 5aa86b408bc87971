// highlight.js core with a handful of languages registered one by one (the full build is
// ~10x larger). Classes are prefixed `sw-hl-` so styles stay scoped to our widgets.

import hljs from "highlight.js/lib/core";
import bash from "highlight.js/lib/languages/bash";
import css from "highlight.js/lib/languages/css";
import go from "highlight.js/lib/languages/go";
import javascript from "highlight.js/lib/languages/javascript";
import json from "highlight.js/lib/languages/json";
import python from "highlight.js/lib/languages/python";
import rust from "highlight.js/lib/languages/rust";
import shell from "highlight.js/lib/languages/shell";
import sql from "highlight.js/lib/languages/sql";
import typescript from "highlight.js/lib/languages/typescript";
import xml from "highlight.js/lib/languages/xml";
import yaml from "highlight.js/lib/languages/yaml";

const LANGUAGES = { bash, css, go, javascript, json, python, rust, shell, sql, typescript, xml, yaml };
for (const [name, language] of Object.entries(LANGUAGES)) hljs.registerLanguage(name, language);
// Names models like to put after ``` that the grammars do not alias themselves.
hljs.registerAliases(["jsonc", "json5", "jsonl"], { languageName: "json" });
hljs.registerAliases(["py3", "python3", "ipython"], { languageName: "python" });
hljs.registerAliases(["terminal", "sh-session"], { languageName: "shell" });
hljs.registerAliases(["postgres", "postgresql", "duckdb", "sqlite", "mysql"], {
  languageName: "sql",
});
hljs.configure({ classPrefix: "sw-hl-" });

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

/** The canonical language name for a fence's info string, or "" when we have no grammar. */
export function resolveLanguage(info: string | undefined): string {
  const word = (info ?? "").trim().split(/\s+/)[0].toLowerCase();
  if (!word) return "";
  const language = hljs.getLanguage(word);
  if (!language) return "";
  // getLanguage resolves aliases; find the registered name for a stable class.
  return Object.keys(LANGUAGES).find((n) => hljs.getLanguage(n) === language) ?? word;
}

/**
 * A grammar is compiled the first time it highlights (5-10 ms on a fast machine, several times
 * that on a busy one, and again in every new copy of this module: anywidget evaluates it once
 * per widget model). Callers that render within a frame budget check `isCold` first, and have
 * the code highlighted in a task of its own with `prepareCode`.
 */
const warmed = new Set<string>();
/** Highlighted HTML made ahead of time by `prepareCode`, keyed by language and code. */
const prepared = new Map<string, string>();
const PREPARED_MAX = 16;

/** True when highlighting `language` would compile its grammar first. */
export function isCold(language: string): boolean {
  return language !== "" && !warmed.has(language);
}

/** Highlighted HTML for a code block (plain escaped text for unknown languages). */
export function highlightCode(code: string, language: string): string {
  if (!language) return escapeHtml(code);
  const key = `${language}\u0000${code}`;
  const ready = prepared.get(key);
  if (ready !== undefined) {
    prepared.delete(key);
    return ready;
  }
  warmed.add(language);
  try {
    return hljs.highlight(code, { language, ignoreIllegals: true }).value;
  } catch {
    return escapeHtml(code);
  }
}

/** Highlight `code` now (compiling the grammar), so that `highlightCode` later only looks it up. */
export function prepareCode(code: string, language: string): void {
  if (!language) return;
  const html = highlightCode(code, language);
  prepared.set(`${language}\u0000${code}`, html);
  if (prepared.size > PREPARED_MAX) prepared.delete(prepared.keys().next().value!);
}
