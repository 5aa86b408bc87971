// Small formatting helpers for the header and the tool cards. Pure, unit-tested.

import type { Meta } from "./model";

/** "0.42 s", "3.1 s", "12 s", "2 m 05 s". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "";
  if (seconds < 1) return `${seconds.toFixed(2)} s`;
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const whole = Math.round(seconds);
  return `${Math.floor(whole / 60)} m ${String(whole % 60).padStart(2, "0")} s`;
}

function num(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

/** Output tokens per second between the first token and the last event, or null. */
export function tokensPerSecond(meta: Meta): number | null {
  const tokens = num(meta.usage?.output_tokens);
  const first = num(meta.first_token_t);
  const last = num(meta.last_t);
  if (tokens === null || first === null || last === null || last - first <= 0) return null;
  return tokens / (last - first);
}

/** The pieces of the header's metrics line, e.g. ["1.2 s to first token", "48 tok/s"]. */
export function metricsParts(meta: Meta): string[] {
  const parts: string[] = [];
  const first = num(meta.first_token_t);
  if (first !== null) parts.push(`${formatDuration(first)} to first token`);
  const rate = tokensPerSecond(meta);
  if (rate !== null) parts.push(`${rate >= 10 ? Math.round(rate) : rate.toFixed(1)} tok/s`);
  const out = num(meta.usage?.output_tokens);
  if (out !== null) parts.push(`${out.toLocaleString("en-US")} tokens`);
  return parts;
}

/** Cut `text` to `max` characters, ending in "…". */
export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, Math.max(0, max - 1))}…`;
}

/** A one-line view of tool arguments: `city: "Paris", days: 3`. */
export function summarizeArgs(args: unknown, argsText: string, max = 80): string {
  if (args && typeof args === "object" && !Array.isArray(args)) {
    const parts = Object.entries(args as Record<string, unknown>).map(
      ([key, value]) => `${key}: ${compactJson(value)}`,
    );
    return truncate(parts.join(", "), max);
  }
  return truncate(argsText.replace(/\s+/g, " ").trim(), max);
}

function compactJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** Readable text for a tool's arguments or result: strings as they are, the rest as JSON. */
export function prettyValue(value: unknown, max = 20000): string {
  let text: string;
  if (typeof value === "string") text = value;
  else {
    try {
      text = JSON.stringify(value, null, 2) ?? String(value);
    } catch {
      text = String(value);
    }
  }
  if (text.length <= max) return text;
  return `${text.slice(0, max)}\n… (${(text.length - max).toLocaleString("en-US")} more characters)`;
}
