// The text buffers of one stream, kept per model (not per view) and fed by the kernel's delta
// and snapshot messages and by the text/reasoning traits. Pure logic: no DOM, unit-tested.
//
// Rules:
// - A delta at the end of the buffer appends. A delta that overlaps what we have appends only
//   the part past the end (nothing if fully covered). A delta past the end means messages were
//   lost: ask for a resync (once until the snapshot comes back) and drop deltas until then.
// - A snapshot replaces both buffers.
// - A non-empty text/reasoning trait replaces its buffer. Once the status is terminal the traits
//   are the final document: deltas are ignored and snapshots cannot override non-empty traits.
//   An empty trait means "not sent", never "erase" (a trait may arrive a message behind).

import { isTerminal, type Field, type ViewMsg } from "./model";

/**
 * Merge a piece that starts at UTF-16 offset `at` of the full field into `buf`.
 * Returns the new buffer, or `null` when `at` is past the end (a gap).
 */
export function mergeDelta(buf: string, at: number, piece: string): string | null {
  if (at > buf.length) return null;
  const end = at + piece.length;
  if (end <= buf.length) return buf;
  return buf + piece.slice(buf.length - at);
}

export interface SyncOptions {
  send(msg: ViewMsg): void;
  /** Milliseconds clock; injectable for tests. */
  now?: () => number;
  /** A resync with no snapshot after this long may be sent again. */
  retryMs?: number;
}

type Listener = () => void;

export class StreamSync {
  text = "";
  reasoning = "";
  /**
   * Per field, bumped whenever the buffer is replaced by something that does not extend it:
   * a renderer that saw another epoch must start over instead of appending.
   */
  readonly epoch: Record<Field, number> = { text: 0, reasoning: 0 };
  /** Number of resync requests sent (for tests and debugging). */
  resyncs = 0;

  private terminal = false;
  private traits: Record<Field, string> = { text: "", reasoning: "" };
  /** Deltas are dropped while true: we saw a gap and wait for a snapshot. */
  private gap = false;
  private resyncSentAt: number | null = null;
  private listeners = new Set<Listener>();
  private readonly send: (msg: ViewMsg) => void;
  private readonly now: () => number;
  private readonly retryMs: number;

  constructor(options: SyncOptions) {
    this.send = options.send;
    this.now = options.now ?? (() => Date.now());
    this.retryMs = options.retryMs ?? 3000;
  }

  get isTerminal(): boolean {
    return this.terminal;
  }

  get awaitingSnapshot(): boolean {
    return this.resyncSentAt !== null;
  }

  /** Call `listener` after every change of the buffers. Returns the unsubscribe function. */
  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Ask the kernel for the whole document; at most once per `retryMs` until it answers. */
  requestResync(): boolean {
    const now = this.now();
    if (this.resyncSentAt !== null && now - this.resyncSentAt < this.retryMs) return false;
    this.resyncSentAt = now;
    this.resyncs += 1;
    this.send({ kind: "resync" });
    return true;
  }

  /** A view with nothing to show for a live stream asks for the document. */
  ensureContent(): void {
    if (!this.terminal && !this.text && !this.reasoning) this.requestResync();
  }

  /** Entry point for `msg:custom`. Unknown messages are ignored. */
  handleMessage(msg: unknown): void {
    if (!msg || typeof msg !== "object") return;
    const m = msg as Record<string, unknown>;
    if (m.kind === "delta") {
      const field = m.field;
      if ((field === "text" || field === "reasoning") && typeof m.text === "string") {
        const at = Number(m.at);
        if (Number.isInteger(at) && at >= 0) this.applyDelta(field, at, m.text);
      }
    } else if (m.kind === "snapshot") {
      this.applySnapshot(
        typeof m.text === "string" ? m.text : "",
        typeof m.reasoning === "string" ? m.reasoning : "",
      );
    }
  }

  applyDelta(field: Field, at: number, piece: string): void {
    if (this.terminal) return;
    if (this.gap) {
      // Still waiting; if the snapshot got lost, ask again once the retry time has passed.
      this.requestResync();
      return;
    }
    const merged = mergeDelta(this[field], at, piece);
    if (merged === null) {
      this.gap = true;
      this.requestResync();
      return;
    }
    if (merged.length !== this[field].length) {
      this[field] = merged;
      this.emit();
    }
  }

  applySnapshot(text: string, reasoning: string): void {
    this.gap = false;
    this.resyncSentAt = null;
    let changed = this.replace("text", text) || false;
    changed = this.replace("reasoning", reasoning) || changed;
    if (this.terminal) changed = this.assertTraits() || changed;
    if (changed) this.emit();
  }

  /** Call with the current traits on start and whenever status, text or reasoning change. */
  setTraits(status: string, text: string, reasoning: string): void {
    this.terminal = isTerminal(status);
    this.traits = { text: text ?? "", reasoning: reasoning ?? "" };
    if (this.terminal) this.gap = false;
    if (this.assertTraits()) this.emit();
  }

  /** Forget everything (the model now shows another stream). */
  reset(): void {
    this.text = "";
    this.reasoning = "";
    this.epoch.text += 1;
    this.epoch.reasoning += 1;
    this.gap = false;
    this.resyncSentAt = null;
    this.terminal = false;
    this.traits = { text: "", reasoning: "" };
    this.emit();
  }

  dispose(): void {
    this.listeners.clear();
  }

  private assertTraits(): boolean {
    let changed = false;
    for (const field of ["text", "reasoning"] as const) {
      if (this.traits[field]) changed = this.replace(field, this.traits[field]) || changed;
    }
    return changed;
  }

  /** Set a buffer; bump its epoch unless the new value merely extends the old one. */
  private replace(field: Field, value: string): boolean {
    const old = this[field];
    if (old === value) return false;
    if (!value.startsWith(old)) this.epoch[field] += 1;
    this[field] = value;
    return true;
  }

  private emit(): void {
    for (const listener of [...this.listeners]) listener();
  }
}
