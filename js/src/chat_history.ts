// The conversation list: earlier chats from the store, newest first, click to reopen.

import type { ConversationSummary } from "./chat_model";
import { relativeTime } from "./chat_logic";
import { h, setText, show } from "./dom";

export class ConversationList {
  readonly el: HTMLElement;
  private readonly list: HTMLElement;
  private readonly empty: HTMLElement;
  private key = "";

  constructor(doc: Document, onOpen: (conversationId: string) => void) {
    this.el = h(doc, "nav", "sw-chat-history");
    this.el.setAttribute("aria-label", "Conversations");
    this.list = h(doc, "ul", "sw-conv-list");
    this.empty = h(doc, "div", "sw-conv-empty", "No earlier chats yet");
    this.el.append(h(doc, "div", "sw-conv-head", "Chats"), this.list, this.empty);
    this.list.addEventListener("click", (event) => {
      const item = (event.target as Element | null)?.closest?.<HTMLElement>(".sw-conv");
      const id = item?.dataset.conversationId;
      if (id && item?.getAttribute("aria-current") !== "true") onOpen(id);
    });
  }

  /** Redraw when the list, the current conversation or the minute changes. */
  update(items: readonly ConversationSummary[], current: string, now: number): void {
    const key = `${current}|${Math.floor(now / 60000)}|${JSON.stringify(items)}`;
    if (key === this.key) return;
    this.key = key;
    const doc = this.el.ownerDocument;
    this.list.replaceChildren(
      ...items.map((item) => {
        const li = h(doc, "li", "");
        const entry = h(doc, "button", "sw-conv");
        entry.setAttribute("type", "button");
        entry.dataset.conversationId = item.id;
        entry.title = item.title;
        if (item.id === current) entry.setAttribute("aria-current", "true");
        const when = relativeTime(item.updated_at, now);
        entry.append(h(doc, "span", "sw-conv-title", item.title), h(doc, "span", "sw-conv-when", when));
        li.append(entry);
        return li;
      }),
    );
    const others = items.some((item) => item.id !== current);
    show(this.empty, !others);
    setText(this.empty, items.length ? "No earlier chats yet" : "No chats yet");
  }
}
