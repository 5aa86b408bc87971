// Tool call cards: name, live status chip, duration, collapsible arguments and result.
// Cards are keyed by call id and updated in place, so an open <details> stays open.
// With an `onDecision` option, a card awaiting approval shows Approve / Deny buttons.

import "./tools.css";
import { h, setText, show } from "./dom";
import { formatDuration, prettyValue, summarizeArgs } from "./format";
import type { ToolCall, ToolStatus } from "./model";

const LABELS: Record<ToolStatus, string> = {
  streaming_args: "preparing",
  pending_approval: "awaiting approval",
  running: "running",
  pending: "left to the caller",
  done: "done",
  error: "error",
  denied: "denied",
};

const LIVE = new Set<string>(["streaming_args", "pending_approval", "running"]);

export function isLive(call: ToolCall): boolean {
  return LIVE.has(call.status);
}

interface Card {
  root: HTMLElement;
  summary: HTMLElement;
  chip: HTMLElement;
  time: HTMLElement;
  args: HTMLDetailsElement;
  argsBody: HTMLElement;
  result: HTMLDetailsElement;
  resultLabel: HTMLElement;
  resultBody: HTMLElement;
  error: HTMLElement;
  actions: HTMLElement | null;
  /** What the args/result bodies were last rendered from (skip re-formatting big JSON). */
  argsKey: string;
  resultKey: string;
}

export interface ToolCardsOptions {
  /** Called when Approve (true) or Deny (false) is clicked on a `pending_approval` card. */
  onDecision?: (callId: string, approve: boolean) => void;
}

export class ToolCards {
  readonly el: HTMLElement;
  private readonly doc: Document;
  private readonly cards = new Map<string, Card>();
  private readonly onDecision: ToolCardsOptions["onDecision"];

  constructor(doc: Document, options: ToolCardsOptions = {}) {
    this.doc = doc;
    this.onDecision = options.onDecision;
    this.el = h(doc, "div", "sw-tools");
    this.el.hidden = true;
  }

  /**
   * Show `calls` in order. `now` is the current time on the recording's clock (seconds since
   * the request), used for the running time of calls that have not ended; null if unknown.
   */
  update(calls: readonly ToolCall[], now: number | null): void {
    const seen = new Set<string>();
    let previous: Element | null = null;
    for (const call of calls) {
      if (!call || typeof call.id !== "string" || seen.has(call.id)) continue;
      seen.add(call.id);
      let card = this.cards.get(call.id);
      if (!card) {
        card = this.create(call);
        this.cards.set(call.id, card);
      }
      this.fill(card, call, now);
      // Keep DOM order equal to the list order without moving nodes that are already right.
      const expected: Element | null = previous ? previous.nextElementSibling : this.el.firstElementChild;
      if (expected !== card.root) this.el.insertBefore(card.root, expected);
      previous = card.root;
    }
    for (const [id, card] of this.cards) {
      if (!seen.has(id)) {
        card.root.remove();
        this.cards.delete(id);
      }
    }
    show(this.el, this.cards.size > 0);
  }

  private create(call: ToolCall): Card {
    const doc = this.doc;
    const root = h(doc, "div", "sw-tool");
    root.dataset.toolId = call.id;
    const head = h(doc, "div", "sw-tool-head");
    const summary = h(doc, "span", "sw-tool-summary");
    const chip = h(doc, "span", "sw-chip");
    const time = h(doc, "span", "sw-tool-time");
    head.append(h(doc, "span", "sw-tool-icon"), h(doc, "span", "sw-tool-name", call.name), summary);
    head.append(h(doc, "span", "sw-spacer"), time, chip);

    const args = h(doc, "details", "sw-tool-section sw-tool-args") as HTMLDetailsElement;
    const argsBody = h(doc, "pre", "sw-tool-body");
    args.append(h(doc, "summary", "", "Arguments"), argsBody);

    const result = h(doc, "details", "sw-tool-section sw-tool-result") as HTMLDetailsElement;
    const resultLabel = h(doc, "summary", "", "Result");
    const resultBody = h(doc, "pre", "sw-tool-body");
    result.append(resultLabel, resultBody);
    result.hidden = true;

    const error = h(doc, "div", "sw-tool-error");
    error.hidden = true;
    const actions = this.onDecision ? this.createActions(call.id) : null;
    root.append(head, ...(actions ? [actions] : []), error, args, result);
    return {
      root, summary, chip, time, args, argsBody, result, resultLabel, resultBody, error, actions,
      argsKey: "", resultKey: "",
    };
  }

  private createActions(callId: string): HTMLElement {
    const doc = this.doc;
    const actions = h(doc, "div", "sw-tool-actions");
    actions.hidden = true;
    actions.append(h(doc, "span", "sw-tool-ask", "This tool needs your approval to run."));
    for (const [action, label] of [["approve", "Approve"], ["deny", "Deny"]] as const) {
      const button = h(doc, "button", `sw-btn sw-tool-${action}`, label) as HTMLButtonElement;
      button.type = "button";
      button.dataset.action = action;
      button.addEventListener("click", () => {
        // One decision per call: both buttons wait until the status moves on.
        for (const b of Array.from(actions.querySelectorAll("button"))) b.disabled = true;
        this.onDecision?.(callId, action === "approve");
      });
      actions.append(button);
    }
    return actions;
  }

  private fill(card: Card, call: ToolCall, now: number | null): void {
    const status = LABELS[call.status] ? call.status : "running";
    if (card.root.dataset.status !== status) card.root.dataset.status = status;
    card.chip.dataset.status = status;
    setText(card.chip, call.server ? `${LABELS[status]} · server` : LABELS[status]);
    card.chip.title = call.server ? "run by the provider's server, not here" : "";
    setText(card.root.querySelector(".sw-tool-name")!, call.name || "tool");
    setText(card.summary, summarizeArgs(call.arguments, call.args_text ?? ""));

    const start = call.started_at;
    const end = call.ended_at ?? (isLive(call) ? now : null);
    setText(card.time, start !== null && end !== null ? formatDuration(Math.max(0, end - start)) : "");

    const argsKey = `${status}|${call.args_text?.length ?? 0}|${call.arguments === null}`;
    if (argsKey !== card.argsKey) {
      card.argsKey = argsKey;
      setText(card.argsBody, argsText(call));
    }
    show(card.args, Boolean(call.args_text) || call.arguments !== null);

    if (card.actions) {
      const asking = status === "pending_approval";
      if (asking && card.actions.hidden) {
        for (const b of Array.from(card.actions.querySelectorAll("button"))) b.disabled = false;
      }
      show(card.actions, asking);
    }

    setText(card.error, call.error ?? "");
    show(card.error, Boolean(call.error));

    const hasResult = call.result !== null && call.result !== undefined;
    const resultKey = `${status}|${call.ended_at}|${hasResult}`;
    if (resultKey !== card.resultKey) {
      card.resultKey = resultKey;
      setText(card.resultBody, hasResult ? prettyValue(call.result) : "");
      setText(card.resultLabel, `Result${hasResult ? resultHint(call.result) : ""}`);
    }
    show(card.result, hasResult);
  }
}

/** Raw text while the arguments stream in; pretty JSON once they are parsed. */
function argsText(call: ToolCall): string {
  if (call.status !== "streaming_args" && call.arguments !== null) return prettyValue(call.arguments);
  const raw = call.args_text ?? "";
  try {
    return call.status === "streaming_args" ? raw : prettyValue(JSON.parse(raw));
  } catch {
    return raw;
  }
}

/** A short preview next to "Result" so simple results need no click. */
function resultHint(result: unknown): string {
  const text = typeof result === "string" ? result : JSON.stringify(result) ?? "";
  const line = text.replace(/\s+/g, " ").trim();
  if (!line) return "";
  return ` · ${line.length > 60 ? `${line.slice(0, 59)}…` : line}`;
}
