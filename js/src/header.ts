// The header row: status badge, model name and small metrics.

import { h, setText, show } from "./dom";
import { metricsParts } from "./format";
import type { Meta, Status } from "./model";

const STATUS_LABELS: Record<Status, string> = {
  pending: "Pending",
  streaming: "Streaming",
  complete: "Complete",
  error: "Error",
  cancelled: "Cancelled",
  interrupted: "Interrupted",
};

/** Finish reasons that mean "the model finished normally" and need no mention. */
const NORMAL_FINISH = new Set(["stop", "end_turn", "tool_calls", "tool_use", "complete", "eos"]);

export class Header {
  readonly el: HTMLElement;
  private readonly badge: HTMLElement;
  private readonly badgeLabel: HTMLElement;
  private readonly model: HTMLElement;
  private readonly metrics: HTMLElement;
  private readonly finish: HTMLElement;
  private readonly warnings: HTMLElement;

  constructor(doc: Document) {
    this.el = h(doc, "div", "sw-header");
    this.badge = h(doc, "span", "sw-badge");
    this.badgeLabel = h(doc, "span", "sw-badge-label");
    this.badge.append(h(doc, "span", "sw-badge-dot"), this.badgeLabel);
    this.model = h(doc, "span", "sw-model");
    this.metrics = h(doc, "span", "sw-metrics");
    this.finish = h(doc, "span", "sw-finish");
    this.warnings = h(doc, "span", "sw-warnings");
    this.el.append(this.badge, this.model, this.metrics, this.finish, this.warnings);
  }

  update(status: Status, meta: Meta): void {
    const known = STATUS_LABELS[status] ? status : "pending";
    if (this.badge.dataset.status !== known) this.badge.dataset.status = known;
    setText(this.badgeLabel, STATUS_LABELS[known]);

    setText(this.model, meta.model ?? "");
    this.model.title = meta.provider ? `${meta.provider} · ${meta.model ?? ""}` : "";
    show(this.model, Boolean(meta.model));

    const parts = metricsParts(meta);
    setText(this.metrics, parts.join(" · "));
    show(this.metrics, parts.length > 0);

    const reason = meta.finish_reason ?? "";
    const unusual = Boolean(reason) && !NORMAL_FINISH.has(reason);
    setText(this.finish, unusual ? `finish: ${reason}` : "");
    this.finish.title = reason === "length" ? "The reply hit the token limit and was cut off" : "";
    show(this.finish, unusual);

    // Something on the wire was not understood: say so (the raw data is in the recording).
    const warnings = meta.warnings ?? [];
    const more = warnings.length > 1 ? ` (+${warnings.length - 1} more)` : "";
    setText(this.warnings, warnings.length ? `⚠ ${warnings[0]}${more}` : "");
    this.warnings.title = warnings.join("\n");
    show(this.warnings, warnings.length > 0);
  }
}
