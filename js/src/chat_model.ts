// Types of the Chat widget: its traits and the custom messages it exchanges with the kernel.
// Keep these in step with widgets/chat.py.

import type { Meta, Part, ReplyState, Status, ToolCall } from "./model";

export interface UserTurn {
  id: string;
  role: "user";
  text: string;
}

/** An assistant turn. `text`/`reasoning` are filled once the turn has ended. */
export interface AssistantTurn extends ReplyState {
  id: string;
  role: "assistant";
  stream_id: string;
}

export type Turn = UserTurn | AssistantTurn;

/** The small state of the turn that is streaming (empty object when none is). */
export interface LiveState {
  message_id?: string;
  stream_id?: string;
  status?: Status;
  tool_calls?: ToolCall[];
  parts?: Part[];
  error?: { kind: string; message: string } | null;
  meta?: Meta;
}

export interface ConversationSummary {
  id: string;
  title: string;
  /** ISO 8601 time of the last message. */
  updated_at: string;
  messages: number;
}

/** The synced traits of a Chat model. */
export interface ChatModel {
  conversation_id: string;
  title: string;
  /** The last turns (a window); the kernel stops sending it once we said hello, and we keep
   * it up to date locally so that a saved notebook holds it. */
  recent: Turn[];
  /** Turns in the whole conversation. */
  turn_count: number;
  live: LiveState;
  busy: boolean;
  conversations: ConversationSummary[];
  model_name: string;
  notice: string;
}

/** Kernel → front end: the turns, as changes (deltas and snapshots are routed by ChatSyncs). */
export type TurnsMsg =
  | { kind: "window"; conversation_id: string; start: number; turns: Turn[] }
  | { kind: "turn"; conversation_id: string; index: number; turn: Turn }
  | {
      kind: "older";
      conversation_id: string;
      request_id: number;
      before: string;
      start: number;
      turns: Turn[];
    };

/** Front end → kernel. */
export type ChatMsg =
  | { kind: "hello" }
  | { kind: "older"; conversation_id: string; before: string; request_id: number }
  | { kind: "send"; text: string }
  | { kind: "stop" }
  | { kind: "retry" }
  | { kind: "new_chat" }
  | { kind: "open"; conversation_id: string }
  | { kind: "approve" | "deny"; message_id: string; call_id: string }
  | { kind: "resync"; message_id: string }
  | { kind: "dismiss" };
