// The timing strip: token arrivals over time (bars), stalls (shaded bands), tool calls (a band
// along the bottom) and time to first token (a dashed line). In the Player it is also the
// scrubber: press and drag anywhere to seek; arrow keys step one event (Shift: ten), Home/End
// go to either end. Drawn as one small SVG scaled to the width (a few hundred bins, whatever
// the number of events), with the playhead as a positioned element on top.

import { h, setText } from "./dom";
import { formatDuration } from "./format";
import type { Timeline } from "./player_model";

const SVG = "http://www.w3.org/2000/svg";
const BASE = 86; // bars stand on y=86 of a 0..100 box; tool calls use the band below
const TALL = 78;

export interface StripOptions {
  /** Seek to `t` seconds: while dragging (`final` false) and on release (true). */
  onSeek?: (t: number, final: boolean) => void;
  /** Step `by` events (keyboard). */
  onStep?: (by: number) => void;
  label?: string;
}

/** "21 ms" below a second, else as formatDuration. */
export function shortDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "–";
  return seconds < 1 ? `${Math.round(seconds * 1000)} ms` : formatDuration(seconds);
}

/** The metrics under a strip, e.g. ["TTFT 0.50 s", "42 tok/s", "3,180 tokens", ...]. */
export function timingParts(tl: Timeline): string[] {
  const parts: string[] = [];
  if (tl.ttft !== null && tl.ttft !== undefined) parts.push(`TTFT ${shortDuration(tl.ttft)}`);
  const rate = tl.tokens_per_s;
  if (rate !== null && rate !== undefined) {
    parts.push(`${rate >= 10 ? Math.round(rate) : rate.toFixed(1)} tok/s`);
  }
  const source = tl.tokens_source === "usage" ? "" : " (text events)";
  parts.push(`${tl.output_tokens.toLocaleString("en-US")} tokens${source}`);
  if (tl.gap_p50 !== null && tl.gap_p50 !== undefined) {
    parts.push(
      `gaps p50 ${shortDuration(tl.gap_p50)} · p95 ${shortDuration(tl.gap_p95)} · ` +
        `max ${shortDuration(tl.gap_max)}`,
    );
  }
  const n = tl.stalls.length;
  const over = `> ${shortDuration(tl.stall_threshold)}`;
  parts.push(n ? `${n} stall${n > 1 ? "s" : ""} ${over} (${shortDuration(tl.stall_time)})` : `no stalls ${over}`);
  return parts;
}

function svg<K extends keyof SVGElementTagNameMap>(doc: Document, tag: K, cls = ""): SVGElementTagNameMap[K] {
  const node = doc.createElementNS(SVG, tag);
  if (cls) node.setAttribute("class", cls);
  return node;
}

function bars(counts: number[], under: number[] | null, max: number): string {
  let d = "";
  counts.forEach((count, i) => {
    if (!count) return;
    const base = BASE - (under ? (under[i] / max) * TALL : 0);
    const height = Math.max((count / max) * TALL, 3);
    d += `M${i + 0.12},${base.toFixed(2)}v${(-height).toFixed(2)}h0.76v${height.toFixed(2)}z`;
  });
  return d;
}

export class Strip {
  readonly el: HTMLElement;
  private readonly doc: Document;
  private readonly box: SVGSVGElement;
  private readonly played: HTMLElement;
  private readonly head: HTMLElement;
  private readonly options: StripOptions;
  private span = 1;
  private cursor = 0;
  private dragging = false;

  constructor(doc: Document, options: StripOptions = {}) {
    this.doc = doc;
    this.options = options;
    this.el = h(doc, "div", "sw-strip");
    this.box = svg(doc, "svg", "sw-strip-svg");
    this.box.setAttribute("preserveAspectRatio", "none");
    this.box.setAttribute("aria-hidden", "true");
    this.played = h(doc, "div", "sw-strip-played");
    this.head = h(doc, "div", "sw-strip-head");
    this.el.append(this.box, this.played, this.head);
    if (options.onSeek) this.makeInteractive(options.label ?? "Timeline");
    else this.played.hidden = this.head.hidden = true;
  }

  /** Draw `tl`; `max` fixes the bar scale (to compare two strips), else this strip's own. */
  setData(tl: Timeline, max?: number): void {
    const doc = this.doc;
    const text = tl.bins?.text ?? [];
    const reasoning = tl.bins?.reasoning ?? [];
    const width = Math.max(text.length, 1);
    this.span = tl.span > 0 ? tl.span : 1;
    const x = (t: number) => (Math.min(Math.max(t, 0), this.span) / this.span) * width;
    const peak = max ?? Math.max(1, ...text.map((c, i) => c + (reasoning[i] ?? 0)));
    this.box.setAttribute("viewBox", `0 0 ${width} 100`);
    const layers: SVGElement[] = [];
    for (const [start, end] of tl.stalls ?? []) {
      const band = svg(doc, "rect", "sw-strip-stall");
      band.setAttribute("x", x(start).toFixed(3));
      band.setAttribute("width", Math.max(x(end) - x(start), 0.6).toFixed(3));
      band.setAttribute("y", "0");
      band.setAttribute("height", "100");
      const title = svg(doc, "title");
      title.textContent = `stall: ${shortDuration(end - start)} without events at ${shortDuration(start)}`;
      band.append(title);
      layers.push(band);
    }
    for (const [cls, d] of [
      ["sw-strip-reasoning", bars(reasoning, null, peak)],
      ["sw-strip-text", bars(text, reasoning, peak)],
    ]) {
      const path = svg(doc, "path", cls);
      path.setAttribute("d", d);
      layers.push(path);
    }
    for (const [start, end, name, status] of tl.tools ?? []) {
      const bar = svg(doc, "rect", "sw-strip-tool");
      bar.setAttribute("data-status", status);
      bar.setAttribute("x", x(start).toFixed(3));
      bar.setAttribute("width", Math.max(x(end) - x(start), 0.8).toFixed(3));
      bar.setAttribute("y", "90");
      bar.setAttribute("height", "10");
      const title = svg(doc, "title");
      title.textContent = `${name}: ${status}, ${shortDuration(end - start)}`;
      bar.append(title);
      layers.push(bar);
    }
    if (tl.ttft !== null && tl.ttft !== undefined) {
      const line = svg(doc, "line", "sw-strip-ttft");
      for (const [k, v] of [["x1", x(tl.ttft)], ["x2", x(tl.ttft)], ["y1", 0], ["y2", BASE]]) {
        line.setAttribute(k as string, Number(v).toFixed(3));
      }
      layers.push(line);
    }
    this.box.replaceChildren(...layers);
    this.el.dataset.span = String(this.span);
    this.el.dataset.stalls = String(tl.stalls?.length ?? 0);
    this.el.setAttribute("aria-valuemax", this.span.toFixed(2));
    this.setCursor(this.cursor, true);
  }

  /** Move the playhead to `t` seconds (ignored while the user drags, unless `force`). */
  setCursor(t: number, force = false): void {
    if (this.dragging && !force) return;
    this.cursor = t;
    const pct = `${(Math.min(Math.max(t / this.span, 0), 1) * 100).toFixed(3)}%`;
    this.head.style.left = pct;
    this.played.style.width = pct;
    this.el.setAttribute("aria-valuenow", t.toFixed(3));
    this.el.setAttribute("aria-valuetext", shortDuration(t));
  }

  private makeInteractive(label: string): void {
    const el = this.el;
    el.classList.add("sw-strip-scrub");
    el.tabIndex = 0;
    el.setAttribute("role", "slider");
    el.setAttribute("aria-label", label);
    el.setAttribute("aria-valuemin", "0");
    const seek = (t: number, final: boolean) => {
      this.setCursor(t, true);
      this.options.onSeek?.(t, final);
    };
    const at = (event: MouseEvent): number => {
      const rect = el.getBoundingClientRect();
      const f = rect.width > 0 ? (event.clientX - rect.left) / rect.width : 0;
      return Math.min(Math.max(f, 0), 1) * this.span;
    };
    const move = (event: Event) => seek(at(event as MouseEvent), false);
    const up = (event: Event) => {
      this.doc.removeEventListener("pointermove", move);
      this.doc.removeEventListener("pointerup", up);
      this.dragging = false;
      el.classList.remove("sw-dragging");
      seek(at(event as MouseEvent), true);
    };
    el.addEventListener("pointerdown", (event: Event) => {
      const e = event as MouseEvent;
      if (e.button !== 0) return;
      e.preventDefault();
      el.focus();
      this.dragging = true;
      el.classList.add("sw-dragging");
      this.doc.addEventListener("pointermove", move);
      this.doc.addEventListener("pointerup", up);
      seek(at(e), false);
    });
    el.addEventListener("keydown", (event: KeyboardEvent) => {
      const page = this.span / 10;
      const keys: Record<string, () => void> = {
        ArrowLeft: () => this.options.onStep?.(event.shiftKey ? -10 : -1),
        ArrowRight: () => this.options.onStep?.(event.shiftKey ? 10 : 1),
        Home: () => seek(0, true),
        End: () => seek(this.span, true),
        PageDown: () => seek(Math.max(this.cursor - page, 0), true),
        PageUp: () => seek(Math.min(this.cursor + page, this.span), true),
      };
      const action = keys[event.key];
      if (!action) return;
      event.preventDefault();
      action();
    });
  }
}

/** The time axis under one or more strips: start, a middle tick and the end. */
export function axis(doc: Document, span: number): HTMLElement {
  const row = h(doc, "div", "sw-strip-axis");
  for (const t of [0, span / 2, span]) row.append(h(doc, "span", "", axisLabel(t)));
  return row;
}

/** Keep an axis in step with a new span. */
export function setAxis(row: HTMLElement, span: number): void {
  const labels = Array.from(row.children);
  [0, span / 2, span].forEach((t, i) => labels[i] && setText(labels[i], axisLabel(t)));
}

function axisLabel(t: number): string {
  return t === 0 ? "0 s" : shortDuration(t);
}
