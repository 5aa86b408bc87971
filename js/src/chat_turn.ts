// One turn of the chat: a user bubble, or an assistant reply (thinking, tool cards with
// Approve/Deny, incrementally rendered markdown, notices, and a footer with Copy/Retry).

import type { AssistantTurn, Turn } from "./chat_model";
import { h, setText, show } from "./dom";
import { metricsParts } from "./format";
import { MarkdownView } from "./markdown";
import { isTerminal, type Status } from "./model";
import type { StreamSync } from "./sync";
import { isLive, ToolCards } from "./tools";

const NOTICES: Partial<Record<Status, string>> = {
  cancelled: "Stopped — partial reply kept",
  interrupted: "The kernel that produced this reply died; showing what was saved",
};

export interface TurnActions {
  decide(messageId: string, callId: string, approve: boolean): void;
  retry(): void;
  copy(text: string, button: HTMLElement): void;
}

export interface TurnContext {
  /** Show Retry on this turn (the last reply, nothing streaming). */
  retry: boolean;
  /** Seconds on the reply's clock now (running tool calls), or null. */
  clock: number | null;
}

export class UserTurnView {
  readonly el: HTMLElement;
  private readonly bubble: HTMLElement;

  constructor(doc: Document, turn: Turn) {
    this.el = h(doc, "div", "sw-turn sw-turn-user");
    this.el.dataset.role = "user";
    this.el.dataset.messageId = turn.id;
    this.bubble = h(doc, "div", "sw-bubble");
    this.el.append(this.bubble);
  }

  update(turn: Turn): void {
    if (turn.role === "user") setText(this.bubble, turn.text);
  }
}

export class AssistantTurnView {
  readonly el: HTMLElement;
  /** The turn this view last drew (identity check: unchanged turns are skipped). */
  drawn: AssistantTurn | null = null;
  private readonly thinking: HTMLDetailsElement;
  private readonly thinkingLabel: HTMLElement;
  private readonly reasoning: MarkdownView;
  private readonly tools: ToolCards;
  private readonly text: MarkdownView;
  private readonly placeholder: HTMLElement;
  private readonly typing: HTMLElement;
  private readonly notice: HTMLElement;
  private readonly error: HTMLElement;
  private readonly metrics: HTMLElement;
  private readonly copyButton: HTMLButtonElement;
  private readonly retryButton: HTMLButtonElement;
  private thinkingTouched = false;
  private sync: StreamSync | null = null;

  constructor(doc: Document, turn: AssistantTurn, actions: TurnActions) {
    this.el = h(doc, "div", "sw-turn sw-turn-assistant");
    this.el.dataset.role = "assistant";
    this.el.dataset.messageId = turn.id;
    this.thinking = h(doc, "details", "sw-thinking") as HTMLDetailsElement;
    this.thinkingLabel = h(doc, "summary", "sw-thinking-label", "Thinking");
    this.thinkingLabel.addEventListener("click", () => (this.thinkingTouched = true));
    this.reasoning = new MarkdownView(h(doc, "div", "sw-md sw-reasoning"));
    this.thinking.append(this.thinkingLabel, this.reasoning.el);
    this.tools = new ToolCards(doc, {
      onDecision: (callId, approve) => actions.decide(this.el.dataset.messageId!, callId, approve),
    });
    this.text = new MarkdownView(h(doc, "div", "sw-md sw-text"));
    this.placeholder = h(doc, "div", "sw-placeholder", "(empty reply)");
    this.typing = h(doc, "div", "sw-typing");
    this.typing.title = "Waiting for the model";
    this.typing.append(h(doc, "i", ""), h(doc, "i", ""), h(doc, "i", ""));
    this.notice = h(doc, "div", "sw-notice");
    this.error = h(doc, "div", "sw-error");
    this.error.setAttribute("role", "alert");

    const foot = h(doc, "div", "sw-turn-foot");
    this.metrics = h(doc, "span", "sw-turn-metrics");
    this.copyButton = button(doc, "copy", "Copy", "Copy the reply as markdown");
    this.copyButton.addEventListener("click", () =>
      actions.copy(this.sync?.text ?? "", this.copyButton),
    );
    this.retryButton = button(doc, "retry", "Retry", "Regenerate this reply");
    this.retryButton.addEventListener("click", () => actions.retry());
    foot.append(this.metrics, h(doc, "span", "sw-spacer"));
    foot.append(this.copyButton, this.retryButton);

    const body = h(doc, "div", "sw-turn-body");
    body.append(this.thinking, this.tools.el, this.text.el, this.typing, this.placeholder);
    body.append(this.notice, this.error, foot);
    this.el.append(body);
  }

  update(turn: AssistantTurn, sync: StreamSync, context: TurnContext): void {
    this.drawn = turn;
    this.sync = sync;
    const status = turn.status;
    const terminal = isTerminal(status);
    this.el.dataset.status = status;
    this.el.dataset.streamId = turn.stream_id;

    const calls = turn.tool_calls ?? [];
    this.tools.update(calls, terminal ? null : context.clock);

    const hasReasoning = sync.reasoning.length > 0;
    show(this.thinking, hasReasoning);
    if (hasReasoning) {
      const live = !terminal && !sync.text;
      this.thinking.classList.toggle("sw-live", live);
      setText(this.thinkingLabel, live ? "Thinking…" : "Thinking");
      if (!this.thinkingTouched) this.thinking.open = !terminal;
      this.reasoning.update(sync.reasoning, sync.epoch.reasoning, { final: terminal, caret: live });
    }

    const caret = !terminal && sync.text.length > 0;
    this.text.update(sync.text, sync.epoch.text, { final: terminal, caret });
    show(this.text.el, sync.text.length > 0);

    // Dots while the model has said nothing yet (a live tool call shows its own spinner).
    show(this.typing, !terminal && !sync.text && !hasReasoning && !calls.some(isLive));
    show(this.placeholder, status === "complete" && !sync.text && calls.length === 0);

    setText(this.notice, NOTICES[status] ?? "");
    show(this.notice, Boolean(NOTICES[status]));
    const err = turn.error;
    setText(this.error, err ? `${err.kind}: ${err.message}` : "");
    show(this.error, Boolean(err));

    const parts = terminal ? metricsParts(turn.meta ?? {}) : [];
    const model = turn.meta?.model;
    setText(this.metrics, [model, ...parts].filter(Boolean).join(" · "));
    show(this.copyButton, terminal && sync.text.length > 0);
    show(this.retryButton, context.retry);
  }

  /** True while the reply has tool calls whose running time should tick. */
  ticking(): boolean {
    const turn = this.drawn;
    return Boolean(turn && !isTerminal(turn.status) && (turn.tool_calls ?? []).some(isLive));
  }
}

function button(doc: Document, action: string, label: string, title: string): HTMLButtonElement {
  const b = h(doc, "button", `sw-btn sw-btn-quiet sw-${action}`, label) as HTMLButtonElement;
  b.type = "button";
  b.dataset.action = action;
  b.title = title;
  return b;
}
