// Types of the Player and Compare widgets: their traits and the messages they send. Keep these
// in step with widgets/player.py and widgets/compare.py.

import type { Meta, Part, Status, ToolCall } from "./model";
import type { Snapshot } from "./player_saved";

/** What a timing strip draws (seek.Timing.to_dict() plus binned token arrivals). */
export interface Timeline {
  /** Length of the time axis in seconds (shared by both strips of a Compare). */
  span: number;
  duration: number;
  ttft: number | null;
  text_events: number;
  output_tokens: number;
  tokens_source: "usage" | "events";
  tokens_per_s: number | null;
  gap_p50: number | null;
  gap_p95: number | null;
  gap_max: number | null;
  stall_threshold: number;
  /** [start, end] seconds of each stall. */
  stalls: [number, number][];
  stall_time: number;
  /** [started_at, ended_at, name, status] per tool call. */
  tools: [number, number, string, string][];
  /** Token arrivals per time bin over [0, span]. */
  bins: { text: number[]; reasoning: number[] };
}

export interface InspectorRow {
  i: number;
  t: number;
  type: string;
  payload: string;
}

export interface PlayerInfo {
  title?: string;
  source?: string;
  model?: string;
  provider?: string;
  events?: number;
  duration?: number;
}

/** The synced traits of a Player model. */
export interface PlayerModel {
  info: PlayerInfo;
  timeline: Timeline;
  position: number;
  time: number;
  /** Length of the text and reasoning at the cursor, in UTF-16 units (the view asks the
   * kernel for the text itself: player_text.ts). */
  text_len: number;
  reasoning_len: number;
  status: Status;
  tool_calls: ToolCall[];
  /** The ordered parts at the cursor (UTF-16 offsets into the text at the cursor). */
  parts?: Part[];
  error: { kind: string; message: string } | null;
  meta: Meta;
  inspector: InspectorRow[];
  playing: boolean;
  /** 0 is instant. */
  speed: number;
  /** The tail of the text at a cursor, for a saved notebook (player_saved.ts): set by the
   * kernel where no front end runs, and by the view on the model only. */
  snapshot?: Snapshot | null;
}

/** Front end → kernel (seeks and text requests go through player_text.ts's RequestQueue,
 * which adds the view's name, what it holds and a sequence number the reply echoes). */
export type PlayerMsg =
  | { kind: "step"; by: number }
  | { kind: "play" }
  | { kind: "pause" }
  | { kind: "speed"; value: number };

export interface CompareSide {
  label: string;
  model: string;
  provider: string;
  source: string;
  status: Status;
  events: number;
  timeline: Timeline;
}

/** The synced traits of a Compare model. */
export interface CompareModel {
  sides: CompareSide[];
  /** [op, text]: "=" in both, "-" only in A, "+" only in B. */
  diff: [string, string][];
  summary: { same: number; deleted: number; inserted: number; similarity: number };
}
