// What a saved notebook keeps of a Player: the tail of the text at its cursor (a snapshot), so
// that a notebook reopened without a kernel still shows the reply where the cursor was.
//
// The snapshot is the widget model's `snapshot` key. The kernel fills it only where no front
// end runs (nbclient, `jupyter nbconvert --execute`; widgets/player.py); a front end sets it on
// the model after each draw without sending it to the kernel (no save_changes), so the widget
// manager writes it into the notebook's saved widget state. Its size is bounded: a
// million-event Player saves a few kB, and the view says that earlier text was not saved.

import type { Part } from "./model";
import type { Segment } from "./player_text";

/** UTF-16 units a snapshot keeps of the text and of the reasoning at the cursor (the kernel's
 * SNAPSHOT_TEXT and SNAPSHOT_REASONING in widgets/player_text.py). */
export const SNAPSHOT_TEXT = 4096;
export const SNAPSHOT_REASONING = 1024;

/** The tail [start, start + text.length) of one field's text at the cursor. */
export interface Tail {
  start: number;
  text: string;
}

export interface Snapshot {
  /** The cursor (events applied) the tails end at. */
  position: number;
  text: Tail;
  reasoning: Tail;
}

/** The last `limit` units of `text` (which starts at `start`): never a lone low surrogate
 * first, and from the start of a line when one begins in the first quarter. */
export function tail(text: string, start: number, limit: number): Tail {
  let cut = Math.max(text.length - limit, 0);
  if (cut === 0) return { start, text };
  const code = text.charCodeAt(cut);
  if (code >= 0xdc00 && code <= 0xdfff) cut += 1;
  const line = text.indexOf("\n", cut);
  if (line >= 0 && line - cut < limit / 4) cut = line + 1;
  return { start: start + cut, text: text.slice(cut) };
}

/** The snapshot of what two segments hold at a cursor of the given lengths. */
export function snapshotOf(
  position: number,
  text: Segment,
  reasoning: Segment,
  textLen: number,
  reasoningLen: number,
): Snapshot {
  return {
    position,
    text: tail(text.upTo(textLen), text.start, SNAPSHOT_TEXT),
    reasoning: tail(reasoning.upTo(reasoningLen), reasoning.start, SNAPSHOT_REASONING),
  };
}

/** A model's snapshot if it is one of the cursor given (position and lengths), else null. */
export function usable(
  value: unknown,
  position: number,
  textLen: number,
  reasoningLen: number,
): Snapshot | null {
  const snap = value as Snapshot | null | undefined;
  if (!snap || typeof snap !== "object" || snap.position !== position) return null;
  const ends = (t: Tail | undefined, length: number) =>
    Boolean(t) && typeof t!.text === "string" && t!.start + t!.text.length === length;
  return ends(snap.text, textLen) && ends(snap.reasoning, reasoningLen) ? snap : null;
}

/** Whether two snapshots are of the same text (the same cursor and tails). */
export function sameSnapshot(a: Snapshot | null, b: Snapshot): boolean {
  return (
    a !== null &&
    a.position === b.position &&
    a.text.start === b.text.start &&
    a.text.text.length === b.text.text.length &&
    a.reasoning.start === b.reasoning.start &&
    a.reasoning.text.length === b.reasoning.text.length
  );
}

/**
 * The parts at the cursor in the coordinates of text that starts at `textStart` (and
 * reasoning at `reasoningStart`) rather than at 0: runs that end before are left out, the run
 * that straddles the start begins at 0, and when the text is a window (`textStart` > 0) every
 * part before its first run is left out too (it happened before the window: the view says
 * that earlier text is not shown). The kernel's offsets count from the start of the text; a
 * view that holds a window (or a snapshot's tail) draws from the window's start.
 */
export function windowParts(
  parts: Part[] | null | undefined,
  textStart: number,
  reasoningStart: number,
): Part[] | null | undefined {
  if (!parts || (textStart === 0 && reasoningStart === 0)) return parts;
  const out: Part[] = [];
  for (const part of parts) {
    if (part.kind !== "text" && part.kind !== "reasoning") {
      out.push(part);
      continue;
    }
    const from = part.kind === "text" ? textStart : reasoningStart;
    if (from === 0) out.push(part);
    else if (part.end === null || part.end === undefined || part.end > from) {
      const end = part.end === null || part.end === undefined ? null : part.end - from;
      out.push({ ...part, start: Math.max(part.start - from, 0), end });
    }
  }
  const first = textStart > 0 ? out.findIndex((p) => p.kind === "text") : 0;
  return first > 0 ? out.slice(first) : out;
}
