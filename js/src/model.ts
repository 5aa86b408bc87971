// Types shared by the views: the traits of the Python StreamView widget and the custom
// messages exchanged with the kernel. Keep these in step with widgets/stream_view.py.

export type Status = "pending" | "streaming" | "complete" | "error" | "cancelled" | "interrupted";

export type ToolStatus =
  | "streaming_args"
  | "pending_approval"
  | "running"
  | "pending"
  | "done"
  | "error"
  | "denied";

export interface ToolCall {
  id: string;
  name: string;
  status: ToolStatus;
  args_text: string;
  arguments: Record<string, unknown> | null;
  result: unknown;
  error: string | null;
  /** Seconds since the request was sent (the recording's clock), not wall time. */
  started_at: number | null;
  ended_at: number | null;
  /** Run by the provider's server (web search, code execution), not by this kernel. */
  server?: boolean;
}

export interface Usage {
  input_tokens?: number;
  output_tokens?: number;
  [key: string]: unknown;
}

/** Python sends None (null) for what it does not know yet. */
export interface Meta {
  model?: string | null;
  provider?: string | null;
  usage?: Usage | null;
  finish_reason?: string | null;
  /** Seconds since the request: first text token, and last applied event. */
  first_token_t?: number | null;
  last_t?: number | null;
  /** How many events the document has folded. */
  version?: number;
  /** UTF-16 length of the text/reasoning sent so far (final once the status is terminal). */
  text_length?: number;
  reasoning_length?: number;
  /** What the provider's parser met and could not place (the document's warnings). */
  warnings?: string[] | null;
}

/**
 * One part of a reply, in order (widgets/../parts.py `Part.wire`). Runs are UTF-16 offsets into
 * the text or reasoning buffer; `end` null: to the end of what has arrived (the last part).
 */
export type Part =
  | { kind: "text"; start: number; end: number | null }
  | { kind: "reasoning"; start: number; end: number | null; t0?: number | null; t1?: number | null }
  | { kind: "tool"; id: string }
  | { kind: "step" }
  | { kind: "notice"; message?: string | null };

/** What a reply shows: the traits of a StreamView, the fields of a Chat's assistant turn. */
export interface ReplyState {
  status: Status;
  text: string;
  reasoning: string;
  tool_calls: ToolCall[];
  /** Missing from kernels that predate parts. */
  parts?: Part[];
  error: { kind: string; message: string } | null;
  meta: Meta;
}

/** The synced traits of a StreamView model. */
export interface Model extends ReplyState {
  stream_id: string;
}

export type Field = "text" | "reasoning";

/** Kernel → front end. */
export type KernelMsg =
  | { kind: "delta"; field: Field; at: number; text: string }
  | { kind: "snapshot"; text: string; reasoning: string };

/** Front end → kernel. */
export type ViewMsg = { kind: "resync" };

/**
 * The part of anywidget's model proxy that the views use. anywidget hands `initialize` and
 * each `render` a different proxy object of the same Backbone model.
 */
export interface WidgetModel<T> {
  get<K extends keyof T & string>(key: K): T[K];
  /** Local only (not sent to the kernel until someone calls save_changes). */
  set?<K extends keyof T & string>(key: K, value: T[K]): void;
  on(event: string, callback: (...args: any[]) => void): void;
  off(event?: string | null, callback?: ((...args: any[]) => void) | null): void;
  send(content: unknown, callbacks?: unknown, buffers?: unknown[]): void;
}

export const TERMINAL: ReadonlySet<Status> = new Set([
  "complete",
  "error",
  "cancelled",
  "interrupted",
]);

export function isTerminal(status: string): boolean {
  return TERMINAL.has(status as Status);
}
