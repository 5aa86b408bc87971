// One turn of the chat: a user bubble, or an assistant reply (drawn by ReplyView: its parts in
// order, tool cards with Approve/Deny, notices) with a footer with Copy/Retry.

import type { AssistantTurn, Turn } from "./chat_model";
import { h, setText, show } from "./dom";
import { metricsParts } from "./format";
import { isTerminal } from "./model";
import { ReplyView } from "./reply";
import type { StreamSync } from "./sync";
import { isLive } from "./tools";

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
  private readonly reply: ReplyView;
  private readonly metrics: HTMLElement;
  private readonly copyButton: HTMLButtonElement;
  private readonly retryButton: HTMLButtonElement;
  private sync: StreamSync | null = null;

  constructor(doc: Document, turn: AssistantTurn, actions: TurnActions) {
    this.el = h(doc, "div", "sw-turn sw-turn-assistant");
    this.el.dataset.role = "assistant";
    this.el.dataset.messageId = turn.id;
    this.reply = new ReplyView(doc, {
      waiting: "dots",
      onDecision: (callId, approve) => actions.decide(this.el.dataset.messageId!, callId, approve),
    });

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
    body.append(this.reply.el, foot);
    this.el.append(body);
  }

  update(turn: AssistantTurn, sync: StreamSync, context: TurnContext): void {
    this.drawn = turn;
    this.sync = sync;
    const status = turn.status;
    const terminal = isTerminal(status);
    this.el.dataset.status = status;
    this.el.dataset.streamId = turn.stream_id;
    this.reply.update({
      status,
      text: sync.text,
      reasoning: sync.reasoning,
      epoch: sync.epoch,
      parts: turn.parts,
      tool_calls: turn.tool_calls ?? [],
      error: turn.error,
      clock: terminal ? null : context.clock,
    });

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
