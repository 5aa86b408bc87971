// The Player's data path in the browser: the piece of the text a view holds, and the queue of
// its requests to the kernel. See widgets/player_text.py for the kernel's side.
//
// No trait holds text. A view holds one segment [start, end) of the final text (and one of the
// reasoning) and names it in every request; the kernel's `reply` brings what is missing for
// the position asked: a piece to append, or a new segment (a window ending at the cursor).
//
// Requests go through a RequestQueue: at most one in flight; while it is, the newest seek
// replaces any older pending one (a drag sends where the pointer is now, never a backlog of
// where it was), and a text pull waits behind a seek (whose reply brings text anyway).
//
// While the kernel plays, it sends each frame's new text to every view (`view: null`) just
// before the cursor traits that need it: a view that holds the text up to the previous frame
// appends it and draws the new cursor, status and text together, with no round trip.

/** The most a view holds after appending text sent to every view (the kernel's HELD_MAX in
 * widgets/player_text.py): past it the view asks for a window instead. */
export const HELD_MAX = 65_536;

/** One field's piece of a reply; offsets in UTF-16 units of the final text. */
export interface Piece {
  start: number;
  end: number;
  text: string;
  /** true: continues the segment the view said it holds; false: replaces it. */
  append: boolean;
  /** true: goes just before the segment (the reader asked for earlier text). */
  prepend?: boolean;
}

/** Kernel → the view that asked (`view` null: every view, a frame of playback). */
export interface Reply {
  kind: "reply";
  view: string | null;
  seq: number | null;
  position: number;
  text: Piece | null;
  reasoning: Piece | null;
}

/** The part [start, end) of one field's final text a view holds. */
export class Segment {
  start = 0;
  text = "";

  get end(): number {
    return this.start + this.text.length;
  }

  /** Take a reply's piece; an append that does not continue this segment is stale: dropped,
   * and so is one that would make the segment longer than `limit`. */
  apply(piece: Piece | null | undefined, limit = Infinity): void {
    if (!piece) return;
    if (piece.prepend) {
      if (piece.end === this.start) {
        this.text = piece.text + this.text;
        this.start = piece.start;
      }
    } else if (!piece.append) {
      this.start = piece.start;
      this.text = piece.text;
    } else if (piece.start === this.end && this.text.length + piece.text.length <= limit) {
      this.text += piece.text;
    }
  }

  /** Whether the text at a cursor of `length` units is here. */
  holds(length: number): boolean {
    return this.start <= length && length <= this.end;
  }

  /** The text up to a cursor of `length` units, from where the segment starts. */
  upTo(length: number): string {
    return this.text.slice(0, Math.max(0, Math.min(length, this.end) - this.start));
  }

  span(): [number, number] {
    return [this.start, this.end];
  }
}

export type Request = { kind: "seek"; t: number } | { kind: "seek"; position: number };

export interface QueueOptions {
  send: (msg: Record<string, unknown>) => void;
  /** What every request carries: the view's name and the segments it holds. */
  context: () => Record<string, unknown>;
  /** The text request to send when one is due (built when it goes: the latest position). */
  pull: () => Record<string, unknown>;
  now?: () => number;
  /** A request unanswered this long no longer blocks the next (a kernel that went away). */
  timeoutMs?: number;
}

export class RequestQueue {
  private seq = 0;
  private inFlight: number | null = null;
  private sentAt = 0;
  private pendingSeek: Request | null = null;
  private pendingPull: Record<string, unknown> | null = null;
  private inFlightSeek = false;
  private readonly now: () => number;
  private readonly timeoutMs: number;

  constructor(private readonly options: QueueOptions) {
    this.now = options.now ?? (() => Date.now());
    this.timeoutMs = options.timeoutMs ?? 2000;
  }

  /** Ask for a seek; replaces a seek not sent yet. */
  seek(request: Request): void {
    this.pendingSeek = request;
    this.pump();
  }

  /** Ask for the text at the current position (no-op if a request is already due);
   * `extra` goes with it (e.g. `{earlier: true}`: the text before the segment). */
  pull(extra: Record<string, unknown> = {}): void {
    this.pendingPull = { ...(this.pendingPull ?? {}), ...extra };
    this.pump();
  }

  /** A reply arrived: the request it answers is no longer in flight. */
  answered(seq: number | null): void {
    if (seq !== null && seq === this.inFlight) {
      this.inFlight = null;
      // the reply brought text: whether more is needed is for the next draw to say
      this.pendingPull = null;
      this.pump();
    }
  }

  /** A request is in flight or waiting. */
  get busy(): boolean {
    return this.waiting || this.pendingSeek !== null || this.pendingPull !== null;
  }

  /** A seek is in flight or waiting: the kernel's cursor is not where the user put it yet. */
  get seeking(): boolean {
    return this.pendingSeek !== null || (this.waiting && this.inFlightSeek);
  }

  private get waiting(): boolean {
    return this.inFlight !== null && this.now() - this.sentAt < this.timeoutMs;
  }

  private pump(): void {
    if (this.waiting) return;
    this.inFlight = null;
    let msg: Record<string, unknown>;
    if (this.pendingSeek) {
      msg = { ...this.pendingSeek };
    } else if (this.pendingPull) {
      msg = { ...this.options.pull(), ...this.pendingPull };
    } else {
      return;
    }
    this.inFlightSeek = this.pendingSeek !== null;
    this.pendingSeek = null;
    this.pendingPull = null;
    this.seq += 1;
    this.inFlight = this.seq;
    this.sentAt = this.now();
    this.options.send({ ...msg, ...this.options.context(), seq: this.seq });
  }
}
