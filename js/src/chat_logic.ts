// Pure logic of the Chat view (no DOM): text buffers per message, what the composer does with
// a key, relative times, and how the live state overrides a turn. Unit-tested.

import type { AssistantTurn, ChatMsg, LiveState, Turn, TurnsMsg } from "./chat_model";
import { type Field, isTerminal } from "./model";
import { lengthsOf, StreamSync } from "./sync";

/** What a keydown in the message box means: send, or leave it to the textarea. */
export function keyAction(e: {
  key: string;
  shiftKey?: boolean;
  isComposing?: boolean;
  keyCode?: number;
}): "send" | null {
  // Enter that finishes an IME composition (keyCode 229 in some browsers) must not send.
  if (e.key !== "Enter" || e.isComposing || e.keyCode === 229) return null;
  return e.shiftKey ? null : "send";
}

/** "just now", "5 min ago", "3 h ago", "yesterday", "4 d ago", else the date. */
export function relativeTime(iso: string, now: number): string {
  const then = Date.parse(iso);
  if (!Number.isFinite(then)) return "";
  const minutes = Math.floor((now - then) / 60000);
  if (minutes < 1) return "just now";
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours} h ago`;
  const days = Math.floor(hours / 24);
  if (days === 1) return "yesterday";
  if (days < 7) return `${days} d ago`;
  return new Date(then).toISOString().slice(0, 10);
}

/** An assistant turn with the live state of its stream laid over it. */
export function withLive(turn: AssistantTurn, live: LiveState): AssistantTurn {
  if (live.message_id !== turn.id || live.stream_id !== turn.stream_id) return turn;
  return {
    ...turn,
    status: live.status ?? turn.status,
    tool_calls: live.tool_calls ?? turn.tool_calls,
    parts: live.parts ?? turn.parts,
    error: live.error ?? turn.error,
    meta: live.meta ?? turn.meta,
  };
}

/** Retry regenerates the last reply, and only when nothing is streaming. */
export function canRetry(turns: readonly Turn[], busy: boolean): boolean {
  const last = turns[turns.length - 1];
  return !busy && last?.role === "assistant" && isTerminal(last.status);
}

/**
 * The turns this front end holds: the window the kernel sent when the conversation opened,
 * the turns added since, and the pages of older turns loaded by scrolling up. `start` is the
 * index of the first held turn in the conversation (older turns exist while it is above 0).
 * Turns change only by messages (never the whole list again), and each change replaces the
 * turn object, so a view redraws the turns whose object changed.
 */
export class TurnList {
  conversationId = "";
  start = 0;
  turns: Turn[] = [];
  private index = new Map<string, number>();

  get hasOlder(): boolean {
    return this.start > 0;
  }

  has(messageId: string): boolean {
    return this.index.has(messageId);
  }

  reset(conversationId: string, start: number, turns: readonly Turn[]): void {
    this.conversationId = conversationId;
    this.start = Math.max(0, start);
    this.turns = [...turns];
    this.reindex();
  }

  /** Apply a kernel message; true when the turns changed. */
  apply(msg: TurnsMsg): boolean {
    if (msg.kind === "window") {
      this.reset(msg.conversation_id, msg.start, msg.turns);
      return true;
    }
    if (msg.conversation_id !== this.conversationId) return false; // another conversation's
    if (msg.kind === "turn") return this.upsert(msg.turn);
    // older: only if it still fits in front of what we hold
    if (!msg.turns.length || this.turns[0]?.id !== msg.before) return false;
    this.turns = [...msg.turns, ...this.turns];
    this.start = Math.max(0, msg.start);
    this.reindex();
    return true;
  }

  /** A new turn (appended) or a changed one (same id: a retried or finished reply). */
  upsert(turn: Turn): boolean {
    const at = this.index.get(turn.id);
    if (at === undefined) {
      this.index.set(turn.id, this.turns.length);
      this.turns.push(turn);
    } else {
      this.turns[at] = turn;
    }
    return true;
  }

  /** Keep a reply's final text, built from the deltas (quiet end), in its turn. */
  settle(messageId: string, field: Field, value: string): boolean {
    const at = this.index.get(messageId);
    const turn = at === undefined ? undefined : this.turns[at];
    if (at === undefined || turn?.role !== "assistant" || turn[field] === value) return false;
    this.turns[at] = { ...turn, [field]: value };
    return true;
  }

  /** The last `count` turns (what a saved notebook keeps). */
  recent(count: number): Turn[] {
    return this.turns.slice(-count);
  }

  private reindex(): void {
    this.index = new Map(this.turns.map((turn, i) => [turn.id, i]));
  }
}

interface Entry {
  streamId: string;
  sync: StreamSync;
}

/**
 * One StreamSync per assistant message, fed by the kernel's deltas and snapshots (routed by
 * `message_id`) and by the turns' final text. A retried turn (same message, new stream)
 * starts over with a fresh buffer.
 */
export class ChatSyncs {
  private readonly entries = new Map<string, Entry>();
  private readonly listeners = new Set<() => void>();
  private readonly send: (msg: ChatMsg) => void;
  private readonly settle: (messageId: string, field: Field, value: string) => void;

  constructor(
    send: (msg: ChatMsg) => void,
    settle: (messageId: string, field: Field, value: string) => void = () => {},
  ) {
    this.send = send;
    this.settle = settle;
  }

  /** Entry point for `msg:custom`: deltas and snapshots go to their message's buffers. */
  route(msg: unknown): void {
    if (!msg || typeof msg !== "object") return;
    const m = msg as Record<string, unknown>;
    if ((m.kind !== "delta" && m.kind !== "snapshot") || typeof m.message_id !== "string") return;
    this.entry(m.message_id, null).sync.handleMessage(msg);
  }

  /** The buffers of an assistant turn, told its status and final text. */
  sync(turn: AssistantTurn): StreamSync {
    const entry = this.entry(turn.id, turn.stream_id);
    entry.sync.setTraits(turn.status, turn.text ?? "", turn.reasoning ?? "", lengthsOf(turn.meta));
    // A live turn with nothing yet (a view opened mid-reply) asks for the document.
    if (!isTerminal(turn.status)) entry.sync.ensureContent();
    return entry.sync;
  }

  has(messageId: string): boolean {
    return this.entries.has(messageId);
  }

  /** Forget the buffers of messages no longer shown (another conversation was opened). */
  retain(ids: ReadonlySet<string>): void {
    for (const [id, entry] of this.entries) {
      if (!ids.has(id)) {
        entry.sync.dispose();
        this.entries.delete(id);
      }
    }
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  dispose(): void {
    for (const entry of this.entries.values()) entry.sync.dispose();
    this.entries.clear();
    this.listeners.clear();
  }

  /** `streamId` null: a message seen in a delta before its turn arrived (adopt it later). */
  private entry(messageId: string, streamId: string | null): Entry {
    let entry = this.entries.get(messageId);
    if (entry && streamId !== null && entry.streamId !== streamId) {
      if (entry.streamId) {
        entry.sync.dispose(); // the message was retried: its old text must not show
        entry = undefined;
      } else {
        entry.streamId = streamId;
      }
    }
    if (!entry) {
      const sync = new StreamSync({
        send: (msg) => this.send({ ...msg, message_id: messageId }),
        settle: (field, value) => this.settle(messageId, field, value),
      });
      sync.subscribe(() => this.emit());
      entry = { streamId: streamId ?? "", sync };
      this.entries.set(messageId, entry);
    }
    return entry;
  }

  private emit(): void {
    for (const listener of [...this.listeners]) listener();
  }
}
