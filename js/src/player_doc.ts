// The document at the player's cursor: the header, and the reply drawn by ReplyView (the same
// renderer as StreamView and the Chat).
//
// Text buffers live in a StreamSync used as a plain buffer: each draw hands it the prefixes of
// the final text (`applySnapshot`). When the new prefix extends the old one (playing, stepping
// forward) its epoch stays and the renderer only appends; when it does not (a jump back) the
// epoch moves and the renderer starts over from the new prefix.

import { h } from "./dom";
import { Header } from "./header";
import type { Meta, Part, Status, ToolCall } from "./model";
import { ReplyView } from "./reply";
import { StreamSync } from "./sync";

export interface DocState {
  status: Status;
  text: string;
  reasoning: string;
  tool_calls: ToolCall[];
  /** The parts at the cursor (missing: the legacy order). */
  parts?: Part[] | null;
  error: { kind: string; message: string } | null;
  meta: Meta;
  /** The cursor's time on the recording's clock (running time of live tool calls). */
  clock: number;
}

export class DocView {
  readonly el: HTMLElement;
  readonly buffers = new StreamSync({ send: () => {} });
  private readonly header: Header;
  private readonly reply: ReplyView;

  constructor(doc: Document) {
    this.el = h(doc, "div", "sw-player-doc");
    this.header = new Header(doc);
    this.reply = new ReplyView(doc);
    this.el.append(this.header.el, this.reply.el);
  }

  /** Put `el` between the header and the reply (notes about the text that follows). */
  above(el: HTMLElement): void {
    this.el.insertBefore(el, this.reply.el);
  }

  update(state: DocState): void {
    this.el.dataset.status = state.status;
    this.header.update(state.status, state.meta ?? {});
    this.buffers.applySnapshot(state.text, state.reasoning);
    const { text, reasoning, epoch } = this.buffers;
    this.reply.update({
      status: state.status,
      text,
      reasoning,
      epoch,
      parts: state.parts,
      tool_calls: state.tool_calls ?? [],
      error: state.error,
      clock: state.clock,
    });
  }
}
