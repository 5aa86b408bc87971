// The event inspector: the events around the player's cursor (index, time, type, payload).
// Rows before the cursor are applied, the last applied one is the current event, rows after
// it are still to come. Clicking a row moves the cursor to just after that event.

import { h, setText } from "./dom";
import type { InspectorRow } from "./player_model";

export class Inspector {
  readonly el: HTMLDetailsElement;
  private readonly summary: HTMLElement;
  private readonly body: HTMLElement;
  private readonly doc: Document;
  private drawn = "";

  constructor(doc: Document, onPick: (position: number) => void) {
    this.doc = doc;
    this.el = h(doc, "details", "sw-inspector") as HTMLDetailsElement;
    this.summary = h(doc, "summary", "sw-inspector-summary", "Events");
    const table = h(doc, "table", "sw-inspector-table");
    const head = h(doc, "thead", "");
    const names = h(doc, "tr", "");
    for (const name of ["#", "t", "type", "payload"]) names.append(h(doc, "th", "", name));
    head.append(names);
    this.body = h(doc, "tbody", "");
    table.append(head, this.body);
    const wrap = h(doc, "div", "sw-inspector-wrap");
    wrap.append(table);
    this.el.append(this.summary, wrap);
    this.body.addEventListener("click", (event) => {
      const row = (event.target as Element | null)?.closest?.("tr[data-index]") as HTMLElement | null;
      if (row) onPick(Number(row.dataset.index) + 1);
    });
  }

  update(rows: readonly InspectorRow[], position: number, total: number): void {
    const current = rows.find((row) => row.i === position - 1);
    const label = current
      ? `Event ${(current.i + 1).toLocaleString("en-US")} of ${total.toLocaleString("en-US")} · ` +
        `${current.type} · ${current.payload}`
      : `Events · before the first of ${total.toLocaleString("en-US")}`;
    setText(this.summary, label);
    const key = `${position}|${rows.map((row) => row.i).join(",")}`;
    if (key === this.drawn) return;
    this.drawn = key;
    const doc = this.doc;
    this.body.replaceChildren(
      ...rows.map((row) => {
        const tr = h(doc, "tr", "sw-ev");
        const when = row.i < position - 1 ? "past" : row.i === position - 1 ? "current" : "future";
        tr.dataset.index = String(row.i);
        tr.dataset.when = when;
        tr.dataset.type = row.type;
        tr.title = "Move the cursor to just after this event";
        const type = h(doc, "span", "sw-ev-type", row.type);
        const cells = [
          h(doc, "td", "sw-ev-i", String(row.i + 1)),
          h(doc, "td", "sw-ev-t", row.t.toFixed(3)),
          h(doc, "td", ""),
          h(doc, "td", "sw-ev-payload", row.payload),
        ];
        cells[2].append(type);
        tr.append(...cells);
        return tr;
      }),
    );
  }
}
