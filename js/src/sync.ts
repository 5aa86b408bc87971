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
// - Quiet end: a kernel that heard from a front end does not send the text/reasoning traits when
//   the stream ends; the terminal status comes with meta `text_length` / `reasoning_length`
//   (UTF-16 units). For each field whose trait is empty and whose length is known: if every such
//   buffer has its length, the buffers are the final document and `settle` keeps them as the
//   model's traits (locally, so saved widget state has the text); if one does not (deltas were
//   lost), ask for a resync, and the snapshot that answers is settled as final. Without lengths
//   (older kernels, nbclient: the traits are sent), nothing of this applies.

import { isTerminal, type Field, type Meta, type ViewMsg } from "./model";

const FIELDS: readonly Field[] = ["text", "reasoning"];

/** Final lengths per field, as the kernel announces them in meta at the end. */
export type Lengths = Partial<Record<Field, number>>;

/** The lengths in `meta` (none from kernels that predate the quiet end). */
export function lengthsOf(meta: Meta | null | undefined): Lengths {
  const out: Lengths = {};
  const pick = (field: Field, value: unknown) => {
    if (typeof value === "number" && Number.isInteger(value) && value >= 0) out[field] = value;
  };
  pick("text", meta?.text_length);
  pick("reasoning", meta?.reasoning_length);
  return out;
}

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
  /** Quiet end: this buffer is the field's final value; keep it as the model's trait. */
  settle?: (field: Field, value: string) => void;
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
  /** Final lengths announced with the terminal status (quiet end). */
  private lengths: Lengths = {};
  /** Deltas are dropped while true: we saw a gap and wait for a snapshot. */
  private gap = false;
  private resyncSentAt: number | null = null;
  private listeners = new Set<Listener>();
  private readonly send: (msg: ViewMsg) => void;
  private readonly now: () => number;
  private readonly retryMs: number;
  private readonly settle: (field: Field, value: string) => void;

  constructor(options: SyncOptions) {
    this.send = options.send;
    this.now = options.now ?? (() => Date.now());
    this.retryMs = options.retryMs ?? 3000;
    this.settle = options.settle ?? (() => {});
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
    // After a quiet end the kernel answers with its final document: that is what we keep.
    if (this.terminal) this.settleQuiet();
  }

  /**
   * Call with the current traits on start and whenever status, text, reasoning or meta change;
   * `lengths` from `lengthsOf(meta)`.
   */
  setTraits(status: string, text: string, reasoning: string, lengths: Lengths = {}): void {
    this.terminal = isTerminal(status);
    this.traits = { text: text ?? "", reasoning: reasoning ?? "" };
    this.lengths = this.terminal ? lengths : {};
    if (this.terminal) this.gap = false;
    if (this.assertTraits()) this.emit();
    if (!this.terminal) return;
    const quiet = this.quietFields();
    if (quiet.some((field) => this[field].length !== this.lengths[field])) this.requestResync();
    else this.settleQuiet();
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
    this.lengths = {};
    this.emit();
  }

  dispose(): void {
    this.listeners.clear();
  }

  /** Fields the kernel left out at a quiet end: no trait, a known final length. */
  private quietFields(): Field[] {
    return FIELDS.filter((field) => !this.traits[field] && this.lengths[field] !== undefined);
  }

  private settleQuiet(): void {
    for (const field of this.quietFields()) {
      // settle() sets the trait, which calls setTraits again: the field is then no longer quiet
      if (this[field]) this.settle(field, this[field]);
    }
  }

  private assertTraits(): boolean {
    let changed = false;
    for (const field of FIELDS) {
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
