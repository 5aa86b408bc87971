// The document at the player's cursor, drawn with StreamView's own pieces: the header, the
// thinking block, tool cards and the incremental markdown renderer.
//
// Text buffers live in a StreamSync used as a plain buffer: each draw hands it the prefixes of
// the final text (`applySnapshot`). When the new prefix extends the old one (playing, stepping
// forward) its epoch stays and the renderer only appends; when it does not (a jump back) the
// epoch moves and the renderer starts over from the new prefix.

import { h, setText, show } from "./dom";
import { Header } from "./header";
import { MarkdownView } from "./markdown";
import { isTerminal, type Meta, type Status, type ToolCall } from "./model";
import { StreamSync } from "./sync";
import { ToolCards } from "./tools";

const NOTICES: Partial<Record<Status, string>> = {
  cancelled: "Stopped — partial reply kept",
  interrupted: "The process that produced this stream died; showing what was saved",
};

export interface DocState {
  status: Status;
  text: string;
  reasoning: string;
  tool_calls: ToolCall[];
  error: { kind: string; message: string } | null;
  meta: Meta;
  /** The cursor's time on the recording's clock (running time of live tool calls). */
  clock: number;
}

export class DocView {
  readonly el: HTMLElement;
  readonly buffers = new StreamSync({ send: () => {} });
  private readonly header: Header;
  private readonly thinking: HTMLDetailsElement;
  private readonly thinkingLabel: HTMLElement;
  private readonly reasoning: MarkdownView;
  private readonly tools: ToolCards;
  private readonly text: MarkdownView;
  private readonly placeholder: HTMLElement;
  private readonly notice: HTMLElement;
  private readonly error: HTMLElement;
  private readonly errorKind: HTMLElement;
  private readonly errorMessage: HTMLElement;
  /** The thinking block opens while it streams, unless the user opened or closed it. */
  private thinkingTouched = false;

  constructor(doc: Document) {
    this.el = h(doc, "div", "sw-player-doc");
    this.header = new Header(doc);
    this.thinking = h(doc, "details", "sw-thinking") as HTMLDetailsElement;
    this.thinkingLabel = h(doc, "summary", "sw-thinking-label", "Thinking");
    this.reasoning = new MarkdownView(h(doc, "div", "sw-md sw-reasoning"));
    this.thinking.append(this.thinkingLabel, this.reasoning.el);
    this.thinkingLabel.addEventListener("click", () => (this.thinkingTouched = true));
    this.tools = new ToolCards(doc);
    this.text = new MarkdownView(h(doc, "div", "sw-md sw-text"));
    this.placeholder = h(doc, "div", "sw-placeholder");
    this.notice = h(doc, "div", "sw-notice");
    this.error = h(doc, "div", "sw-error");
    this.error.setAttribute("role", "alert");
    this.errorKind = h(doc, "span", "sw-error-kind");
    this.errorMessage = h(doc, "span", "sw-error-message");
    this.error.append(this.errorKind, this.errorMessage);
    this.el.append(
      this.header.el, this.thinking, this.tools.el, this.text.el, this.placeholder, this.notice,
      this.error,
    );
  }

  update(state: DocState): void {
    const { status } = state;
    const terminal = isTerminal(status);
    this.el.dataset.status = status;
    this.header.update(status, state.meta ?? {});
    this.buffers.applySnapshot(state.text, state.reasoning);
    const { text, reasoning, epoch } = this.buffers;
    const calls = state.tool_calls ?? [];
    this.tools.update(calls, state.clock);

    const hasReasoning = reasoning.length > 0;
    show(this.thinking, hasReasoning);
    if (hasReasoning) {
      const live = !terminal && !text;
      this.thinking.classList.toggle("sw-live", live);
      setText(this.thinkingLabel, live ? "Thinking…" : "Thinking");
      if (!this.thinkingTouched) this.thinking.open = live;
      this.reasoning.update(reasoning, epoch.reasoning, { final: terminal, caret: live });
    }

    this.text.update(text, epoch.text, { final: terminal, caret: !terminal && text.length > 0 });
    show(this.text.el, text.length > 0);

    const empty = !text && !hasReasoning && calls.length === 0;
    const waiting = empty && !terminal;
    setText(this.placeholder, waiting ? "Waiting for the model" : "(empty reply)");
    show(this.placeholder, empty && (waiting || status === "complete"));

    setText(this.notice, NOTICES[status] ?? "");
    show(this.notice, Boolean(NOTICES[status]));
    setText(this.errorKind, state.error?.kind ?? "");
    setText(this.errorMessage, state.error?.message ?? "");
    show(this.error, Boolean(state.error));
  }
}
