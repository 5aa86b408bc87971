// anywidget front end of Compare: two streams on one time axis, and a diff of their texts.
//
// Everything is computed in the kernel (timing, binned arrivals, the word diff); this view
// draws it. Long unchanged stretches of the diff fold to their first and last lines, with a
// button to show everything.

import "./styles.css";
import "./player.css";
import { h, setText } from "./dom";
import type { WidgetModel } from "./model";
import type { CompareModel, CompareSide } from "./player_model";
import { axis, setAxis, Strip, timingParts } from "./player_strip";

type AnyModel = WidgetModel<CompareModel>;

/** Unchanged runs longer than this (characters) fold unless "Show all" is on. */
export const FOLD_OVER = 600;
const KEEP = 180;

/** The diff as DOM nodes: `<del>`/`<ins>` for changes, long equal runs folded. */
export function renderDiff(doc: Document, ops: [string, string][], fold: boolean): Node[] {
  const nodes: Node[] = [];
  ops.forEach(([op, text], index) => {
    if (op === "-" || op === "+") {
      nodes.push(h(doc, op === "-" ? "del" : "ins", op === "-" ? "sw-diff-del" : "sw-diff-ins", text));
      return;
    }
    const first = index === 0;
    const last = index === ops.length - 1;
    if (!fold || text.length <= FOLD_OVER) {
      nodes.push(doc.createTextNode(text));
      return;
    }
    // Keep context next to the changes around this run; fold the middle.
    const head = first ? "" : text.slice(0, KEEP);
    const tail = last ? "" : text.slice(-KEEP);
    const hidden = text.length - head.length - tail.length;
    nodes.push(doc.createTextNode(head));
    nodes.push(h(doc, "span", "sw-diff-fold", ` ⋯ ${hidden.toLocaleString("en-US")} unchanged characters ⋯ `));
    nodes.push(doc.createTextNode(tail));
  });
  return nodes;
}

function sideHead(doc: Document, side: CompareSide, letter: string): HTMLElement {
  const head = h(doc, "div", "sw-compare-head");
  head.dataset.side = letter;
  const badge = h(doc, "span", "sw-badge");
  badge.dataset.status = side.status;
  const status = side.status.charAt(0).toUpperCase() + side.status.slice(1);
  badge.append(h(doc, "span", "sw-badge-dot"), h(doc, "span", "sw-badge-label", status));
  const label = h(doc, "span", "sw-compare-label", side.label);
  label.title = side.source;
  const model = h(doc, "span", "sw-model", side.model);
  model.title = side.provider ? `${side.provider} · ${side.model}` : "";
  const stats = h(doc, "span", "sw-compare-stats", timingParts(side.timeline).join(" · "));
  head.append(label, badge, model, stats);
  return head;
}

function mount(model: AnyModel, el: HTMLElement): () => void {
  const doc = el.ownerDocument;
  const root = h(doc, "div", "sw-stream sw-compare");
  const timelines = h(doc, "div", "sw-compare-timelines");
  const axisRow = axis(doc, 1);
  const diffBar = h(doc, "div", "sw-compare-diffbar");
  const summary = h(doc, "span", "sw-compare-summary");
  const toggle = h(doc, "button", "sw-btn sw-compare-toggle", "Show all") as HTMLButtonElement;
  toggle.type = "button";
  diffBar.append(summary, h(doc, "span", "sw-spacer"), toggle);
  const diff = h(doc, "div", "sw-diff");
  root.append(timelines, axisRow, diffBar, diff);
  el.append(root);

  let fold = true;
  toggle.addEventListener("click", () => {
    fold = !fold;
    drawDiff();
  });

  function drawSides(): void {
    const sides = model.get("sides") ?? [];
    const peak = Math.max(
      1,
      ...sides.flatMap((s) => s.timeline.bins.text.map((c, i) => c + (s.timeline.bins.reasoning[i] ?? 0))),
    );
    timelines.replaceChildren(
      ...sides.map((side, i) => {
        const letter = i === 0 ? "a" : "b";
        const row = h(doc, "div", "sw-compare-side");
        row.dataset.side = letter;
        const strip = new Strip(doc);
        strip.setData(side.timeline, peak);
        row.append(sideHead(doc, side, letter), strip.el);
        return row;
      }),
    );
    setAxis(axisRow, sides[0]?.timeline.span ?? 1);
  }

  function drawDiff(): void {
    const ops = model.get("diff") ?? [];
    const s = model.get("summary");
    const changed = ops.some(([op]) => op !== "=");
    root.dataset.identical = String(!changed);
    setText(
      summary,
      changed && s
        ? `Text diff A → B · ${Math.round(s.similarity * 100)}% of words the same · ` +
            `${s.deleted.toLocaleString("en-US")} removed · ${s.inserted.toLocaleString("en-US")} added`
        : "Text diff A → B · the final texts are identical",
    );
    const foldable = ops.some(([op, text]) => op === "=" && text.length > FOLD_OVER);
    toggle.hidden = !foldable;
    setText(toggle, fold ? "Show all" : "Fold unchanged");
    diff.replaceChildren(...renderDiff(doc, ops, fold));
  }

  model.on("change:sides", drawSides);
  model.on("change:diff", drawDiff);
  model.on("change:summary", drawDiff);
  drawSides();
  drawDiff();
  return () => {
    model.off("change:sides", drawSides);
    model.off("change:diff", drawDiff);
    model.off("change:summary", drawDiff);
    root.remove();
  };
}

export default () => ({
  render({ model, el }: { model: AnyModel; el: HTMLElement }) {
    return mount(model, el);
  },
});
