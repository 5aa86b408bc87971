// One reply, drawn in the order things happened: the renderer every view uses (StreamView,
// each assistant turn of the Chat, the Player and Compare).
//
// The kernel sends the reply's parts as run boundaries (offsets into the text and reasoning
// buffers, tool call ids, steps, notices); the text itself comes through the views' own
// buffers. Each part becomes one segment, keyed so that it is built once and updated in place:
// text runs and reasoning runs ("Thinking" blocks) render incrementally with MarkdownView, tool
// calls show as cards with their live status where the call started. Below the parts: the
// placeholder, the status notice and the error banner. Code blocks' Copy works the same in
// every view (one delegated listener per reply).

import "./reply.css";
import { h, setText, show } from "./dom";
import { formatDuration } from "./format";
import { type BlockCache, type Budget, MarkdownView } from "./markdown";
import { isTerminal, type Field, type Part, type Status, type ToolCall } from "./model";
import { ToolCards } from "./tools";

const NOTICES: Partial<Record<Status, string>> = {
  cancelled: "Stopped — partial reply kept",
  interrupted: "The kernel that produced this reply died; showing what was saved",
};

/** What a reply is drawn from. */
export interface ReplyState {
  status: Status;
  text: string;
  reasoning: string;
  /** Per buffer: changes when the buffer was replaced rather than extended. */
  epoch: Record<Field, number>;
  /** The ordered parts; missing (older kernels, saved state): reasoning, tools, text. */
  parts?: Part[] | null;
  tool_calls: ToolCall[];
  error: { kind: string; message: string } | null;
  /** The recording's clock now (seconds since the request), for live durations; or null. */
  clock: number | null;
  /** Shared frame budget for incremental rendering (none: render everything now). */
  budget?: Budget;
}

export interface ReplyOptions {
  /** Rendered blocks shared by the views of one model (a new view clones them). */
  blocks?: Record<Field, BlockCache>;
  /** Approve / Deny on tool calls awaiting approval. */
  onDecision?: (callId: string, approve: boolean) => void;
  /** How a reply that has shown nothing yet waits: a line of text, or typing dots. */
  waiting?: "text" | "dots";
}

/** A part on screen: built once per key, updated in place. */
interface Segment {
  key: string;
  el: HTMLElement;
  update(part: Part, state: ReplyState, live: boolean): void;
  /** True while its markdown has blocks left for the next frame. */
  behind(): boolean;
}

export class ReplyView {
  readonly el: HTMLElement;
  private readonly doc: Document;
  private readonly options: ReplyOptions;
  private readonly body: HTMLElement;
  private segments: Segment[] = [];
  private readonly placeholder: HTMLElement;
  private readonly notice: HTMLElement;
  private readonly error: HTMLElement;
  private readonly errorKind: HTMLElement;
  private readonly errorMessage: HTMLElement;
  private readonly noticeSlot: Comment;
  private readonly errorSlot: Comment;
  /** True while a segment has markdown left to render: call `update` again next frame. */
  behind = false;

  constructor(doc: Document, options: ReplyOptions = {}) {
    this.doc = doc;
    this.options = options;
    this.el = h(doc, "div", "sw-reply");
    this.body = h(doc, "div", "sw-parts");
    const dots = options.waiting === "dots";
    this.placeholder = h(doc, "div", dots ? "sw-typing" : "sw-placeholder");
    if (dots) {
      this.placeholder.title = "Waiting for the model";
      this.placeholder.append(h(doc, "i", ""), h(doc, "i", ""), h(doc, "i", ""));
    }
    this.notice = h(doc, "div", "sw-notice");
    this.error = h(doc, "div", "sw-error");
    this.error.setAttribute("role", "alert");
    this.errorKind = h(doc, "span", "sw-error-kind");
    this.errorMessage = h(doc, "span", "sw-error-message");
    this.error.append(this.errorKind, this.errorMessage);
    // The notice and the error banner are in the DOM only while they apply.
    this.noticeSlot = doc.createComment("sw-notice");
    this.errorSlot = doc.createComment("sw-error");
    this.el.append(this.body, this.placeholder, this.noticeSlot, this.errorSlot);
    this.el.addEventListener("click", (event) => copyCode(event, doc.defaultView ?? window));
  }

  update(state: ReplyState): void {
    const { status } = state;
    const terminal = isTerminal(status);
    const calls = state.tool_calls ?? [];
    const parts = partsOf(state, calls);
    this.reconcile(parts);
    this.behind = false;
    parts.forEach((part, i) => {
      const live = !terminal && i === parts.length - 1;
      this.segments[i].update(part, state, live);
      this.behind ||= this.segments[i].behind();
    });

    const empty = !state.text && !state.reasoning && calls.length === 0;
    const waiting = empty && !terminal;
    if (this.options.waiting === "dots") {
      show(this.placeholder, waiting);
    } else {
      setText(this.placeholder, waiting ? "Waiting for the model" : "(empty reply)");
      this.placeholder.classList.toggle("sw-live", waiting);
      show(this.placeholder, empty && (waiting || status === "complete"));
    }

    setText(this.notice, NOTICES[status] ?? "");
    present(this.notice, this.noticeSlot, Boolean(NOTICES[status]));
    setText(this.errorKind, state.error?.kind ?? "");
    setText(this.errorMessage, state.error?.message ?? "");
    present(this.error, this.errorSlot, Boolean(state.error));
  }

  /** Make the segments match `parts` in order, keeping every segment whose key still fits. */
  private reconcile(parts: Part[]): void {
    let i = 0;
    while (i < parts.length && i < this.segments.length && this.segments[i].key === keyOf(parts[i], i)) {
      i++;
    }
    for (const gone of this.segments.splice(i)) gone.el.remove();
    for (; i < parts.length; i++) {
      const segment = this.create(parts[i], i);
      this.segments.push(segment);
      this.body.append(segment.el);
    }
  }

  private create(part: Part, index: number): Segment {
    const key = keyOf(part, index);
    switch (part.kind) {
      case "text":
        return textSegment(this.doc, key, this.options.blocks?.text ?? null);
      case "reasoning":
        return thinkingSegment(this.doc, key, this.options.blocks?.reasoning ?? null);
      case "tool":
        return toolSegment(this.doc, key, this.options.onDecision);
      case "step":
        return staticSegment(h(this.doc, "div", "sw-step"), key);
      default: {
        const el = h(this.doc, "div", "sw-part-notice", part.kind === "notice" ? part.message ?? "" : "");
        el.setAttribute("role", "note");
        return staticSegment(el, key);
      }
    }
  }
}

/** The parts to draw: the kernel's, or the legacy order for a state without them. */
function partsOf(state: ReplyState, calls: readonly ToolCall[]): Part[] {
  const given = Array.isArray(state.parts) && state.parts.length ? state.parts : null;
  const out: Part[] = given ? given.filter(isPart) : [];
  if (!given) {
    if (state.reasoning) out.push({ kind: "reasoning", start: 0, end: null, t0: null, t1: null });
    if (state.text) out.push({ kind: "text", start: 0, end: null });
  }
  // Calls no part names (legacy state, or a call that just appeared) go where they belong.
  const named = new Set(out.map((p) => (p.kind === "tool" ? p.id : null)));
  const missing = calls.filter((c) => c && typeof c.id === "string" && !named.has(c.id));
  if (missing.length) {
    const at = given ? out.length : out.findIndex((p) => p.kind === "text");
    const tools: Part[] = missing.map((c) => ({ kind: "tool", id: c.id }));
    out.splice(at < 0 ? out.length : at, 0, ...tools);
  }
  return out;
}

function isPart(p: unknown): p is Part {
  return Boolean(p) && typeof (p as Part).kind === "string";
}

function keyOf(part: Part, index: number): string {
  if (part.kind === "text" || part.kind === "reasoning") return `${part.kind}:${part.start}`;
  if (part.kind === "tool") return `tool:${part.id}`;
  return `${part.kind}:${index}`;
}

/** The slice of a buffer a run covers (an open run: to the end of what has arrived). */
function runText(buffer: string, part: Part & { start: number; end: number | null }): string {
  const end = part.end === null || part.end === undefined ? buffer.length : Math.min(part.end, buffer.length);
  return part.start === 0 && end === buffer.length ? buffer : buffer.slice(part.start, end);
}

function textSegment(doc: Document, key: string, cache: BlockCache | null): Segment {
  const view = new MarkdownView(h(doc, "div", "sw-md sw-text"), cache);
  return {
    key,
    el: view.el,
    update(part, state, live) {
      if (part.kind !== "text") return;
      const text = runText(state.text, part);
      view.update(text, state.epoch.text, {
        final: isTerminal(state.status),
        caret: live && text.length > 0,
        budget: state.budget,
      });
      show(view.el, text.length > 0);
    },
    behind: () => view.behind,
  };
}

function thinkingSegment(doc: Document, key: string, cache: BlockCache | null): Segment {
  const el = h(doc, "details", "sw-thinking") as HTMLDetailsElement;
  const label = h(doc, "summary", "sw-thinking-label", "Thinking");
  const view = new MarkdownView(h(doc, "div", "sw-md sw-reasoning"), cache);
  el.append(label, view.el);
  // Open while the model thinks; folds when it moves on, unless the reader opened or closed it.
  let touched = false;
  label.addEventListener("click", () => (touched = true));
  return {
    key,
    el,
    update(part, state, live) {
      if (part.kind !== "reasoning") return;
      const text = runText(state.reasoning, part);
      el.classList.toggle("sw-live", live);
      setText(label, thinkingLabel(part, state.clock, live));
      if (!touched) el.open = live;
      view.update(text, state.epoch.reasoning, {
        final: isTerminal(state.status),
        caret: live,
        budget: state.budget,
      });
      show(el, text.length > 0);
    },
    behind: () => view.behind,
  };
}

/** "Thinking…" while live, then "Thought for 2.1 s" when the times are known. */
export function thinkingLabel(
  part: { t0?: number | null; t1?: number | null },
  clock: number | null,
  live: boolean,
): string {
  if (live) return "Thinking…";
  const t0 = part.t0 ?? null;
  const t1 = part.t1 ?? clock;
  if (t0 === null || t1 === null || t1 <= t0) return "Thinking";
  return `Thought for ${formatDuration(t1 - t0)}`;
}

function toolSegment(doc: Document, key: string, onDecision: ReplyOptions["onDecision"]): Segment {
  const cards = new ToolCards(doc, { onDecision });
  return {
    key,
    el: cards.el,
    update(part, state) {
      if (part.kind !== "tool") return;
      const call = state.tool_calls.find((c) => c?.id === part.id);
      cards.update(call ? [call] : [], isTerminal(state.status) ? null : state.clock);
    },
    behind: () => false,
  };
}

function staticSegment(el: HTMLElement, key: string): Segment {
  return { key, el, update: () => {}, behind: () => false };
}

/** Put `node` just before `slot` when visible, take it out of the DOM when not. */
function present(node: HTMLElement, slot: Node, visible: boolean): void {
  if (visible && node.nextSibling !== slot) slot.parentNode?.insertBefore(node, slot);
  if (!visible && node.parentNode) node.remove();
}

/** Copy buttons of code blocks: copy that block's code, say so on the button. */
export function copyCode(event: Event, win: Window): void {
  const button = (event.target as Element | null)?.closest?.(".sw-copy");
  const code = button?.closest(".sw-codeblock")?.querySelector("pre");
  if (!button || !code) return;
  const done = (label: string) => {
    button.textContent = label;
    win.setTimeout(() => (button.textContent = "Copy"), 1500);
  };
  const fallback = () => {
    // No async clipboard (insecure context): select the code and use the legacy command.
    const selection = win.getSelection();
    const range = win.document.createRange();
    range.selectNodeContents(code);
    selection?.removeAllRanges();
    selection?.addRange(range);
    const ok = win.document.execCommand?.("copy") ?? false;
    selection?.removeAllRanges();
    done(ok ? "Copied" : "Copy failed");
  };
  const clipboard = win.navigator.clipboard;
  if (!clipboard) return fallback();
  clipboard.writeText(code.textContent ?? "").then(() => done("Copied"), fallback);
}
