// anywidget front end of Chat: one conversation, its turns live, a composer, the chat list.
//
// The factory's closure holds the model's turns (TurnList: a window of the conversation, grown
// by the kernel's turn messages and by pages of older turns loaded when the log is scrolled to
// the top) and their text buffers (ChatSyncs, one StreamSync per assistant message), shared by
// every view; `initialize` owns the custom-message handler and `render` builds DOM. Deltas are
// routed by message id; nothing is rendered per token: views redraw at most once per
// animation frame, and only the turns whose object changed.

import "./styles.css";
import "./chat.css";
import { ConversationList } from "./chat_history";
import { actionButton as button, Composer } from "./chat_composer";
import { canRetry, ChatSyncs, TurnList, withLive } from "./chat_logic";
import type { AssistantTurn, ChatModel, ChatMsg, Turn, TurnsMsg } from "./chat_model";
import { AssistantTurnView, type TurnActions, UserTurnView } from "./chat_turn";
import { h, setText, show } from "./dom";
import type { WidgetModel } from "./model";
import { Redraw } from "./redraw";
import { sharedWidget } from "./widget_entry";

type AnyModel = WidgetModel<ChatModel>;
type TurnView = UserTurnView | AssistantTurnView;

const DEMO_PROMPTS = ["Say hello", "Explain how streaming works", "Review my code", "What's the weather in Paris?"];

/** Turns kept in the model's `recent` trait for a saved notebook (widgets/chat.py WINDOW). */
const WINDOW = 40;
/** Scrolled this close to the top, the log asks for the page of turns before. */
const LOAD_MORE_PX = 200;
/** Milliseconds per animation frame for drawing turns not drawn yet (the rest: next frames). */
const FRAME_BUDGET_MS = 8;

interface Shared {
  list: TurnList;
  syncs: ChatSyncs;
  /** A message sent and shown at once, until the kernel's user turn for it arrives. */
  pending: string | null;
  echo(text: string): void;
  /** Ask the kernel for the turns before the first one held (once at a time). */
  requestOlder(): void;
  subscribe(listener: () => void): () => void;
  dispose(): void;
}

function isTurnsMsg(msg: unknown): msg is TurnsMsg {
  const kind = (msg as { kind?: unknown } | null)?.kind;
  return kind === "window" || kind === "turn" || kind === "older";
}

function connect(model: AnyModel): Shared {
  const list = new TurnList();
  const listeners = new Set<() => void>();
  const emit = () => listeners.forEach((listener) => listener());
  let pending: number | null = null;
  let requests = 0;
  let keeping = false;

  // The saved notebook keeps what we show: `recent` set locally (never sent to the kernel).
  const keepRecent = () => {
    keeping = true;
    try {
      model.set?.("recent", list.recent(WINDOW));
      model.set?.("turn_count", list.start + list.turns.length);
    } finally {
      keeping = false;
    }
  };
  const syncs = new ChatSyncs(
    (msg) => model.send(msg),
    (messageId, field, value) => {
      if (list.settle(messageId, field, value)) keepRecent();
    },
  );
  const fromTraits = () => {
    const recent = model.get("recent") ?? [];
    list.reset(model.get("conversation_id") ?? "", (model.get("turn_count") ?? 0) - recent.length, recent);
    syncs.retain(new Set(list.turns.map((t) => t.id)));
    pending = null;
  };
  const onRecent = () => {
    if (keeping) return;
    fromTraits();
    emit();
  };
  const onMessage = (msg: unknown) => {
    syncs.route(msg);
    if (!isTurnsMsg(msg)) return;
    // the kernel's turn replaces the echo of what was sent (a window: another conversation)
    if (msg.kind === "window" || (msg.kind === "turn" && msg.turn.role === "user")) {
      shared.pending = null;
    }
    if (msg.kind === "older" && msg.request_id === pending) pending = null;
    if (!list.apply(msg)) return;
    if (msg.kind === "window") {
      pending = null;
      syncs.retain(new Set(list.turns.map((t) => t.id)));
    }
    if (msg.kind === "turn" && msg.turn.role === "assistant") syncs.sync(msg.turn);
    keepRecent();
    emit();
  };
  // a notice: the kernel said why a message was not taken (e.g. a reply still streaming)
  const onNotice = () => {
    if (shared.pending === null) return;
    shared.pending = null;
    emit();
  };
  const shared: Shared = {
    list,
    syncs,
    pending: null,
    echo(text) {
      shared.pending = text;
      emit();
    },
    requestOlder() {
      const first = list.turns[0];
      if (pending !== null || !list.hasOlder || !first) return;
      pending = ++requests;
      model.send({ kind: "older", conversation_id: list.conversationId, before: first.id, request_id: pending });
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    dispose() {
      model.off("msg:custom", onMessage);
      model.off("change:recent", onRecent);
      model.off("change:notice", onNotice);
      listeners.clear();
      syncs.dispose();
    },
  };
  fromTraits();
  model.on("msg:custom", onMessage);
  model.on("change:recent", onRecent);
  model.on("change:notice", onNotice);
  model.send({ kind: "hello" } satisfies ChatMsg); // the kernel answers with the window
  return shared;
}

function mount(model: AnyModel, el: HTMLElement, shared: Shared): () => void {
  const { list, syncs } = shared;
  const doc = el.ownerDocument;
  const win = doc.defaultView ?? window;
  const redraw = new Redraw(win, () => draw());
  const schedule = redraw.schedule;
  const send = (msg: ChatMsg) => model.send(msg);

  const root = h(doc, "div", "sw-stream sw-chat");
  const bar = h(doc, "div", "sw-chat-bar");
  const historyButton = button(doc, "sw-btn-quiet sw-history-toggle", "history", "Chats", "Earlier chats");
  historyButton.setAttribute("aria-expanded", "false");
  const title = h(doc, "span", "sw-chat-title");
  const modelName = h(doc, "span", "sw-chat-model");
  const newChat = button(doc, "sw-btn-quiet sw-new-chat", "new-chat", "New chat", "Start a new conversation");
  bar.append(historyButton, title, h(doc, "span", "sw-spacer"), modelName, newChat);

  const history = new ConversationList(doc, (id) => send({ kind: "open", conversation_id: id }));
  history.el.hidden = true;
  const log = h(doc, "div", "sw-chat-log");
  log.setAttribute("role", "log");
  const empty = h(doc, "div", "sw-chat-empty");
  const emptyText = h(doc, "div", "sw-chat-empty-text");
  const prompts = h(doc, "div", "sw-chat-prompts");
  empty.append(emptyText, prompts);
  const turnsBox = h(doc, "div", "sw-chat-turns");
  log.append(empty, turnsBox);
  // the message just sent, drawn at the next frame, before the kernel's round trip
  const echo = new UserTurnView(doc, { id: "", role: "user", text: "" });
  echo.el.classList.add("sw-turn-pending");
  echo.el.dataset.pending = "true";

  const notice = h(doc, "div", "sw-chat-notice");
  notice.setAttribute("role", "alert");
  const noticeText = h(doc, "span", "sw-chat-notice-text");
  const dismiss = button(doc, "sw-btn-quiet", "dismiss", "×", "Dismiss");
  notice.append(noticeText, dismiss);

  const composer = new Composer(doc, (text) => submit(text), () => {
    send({ kind: "stop" });
    requested = false;
  });

  const column = h(doc, "div", "sw-chat-column");
  column.append(log, notice, composer.el);
  const main = h(doc, "div", "sw-chat-main");
  main.append(history.el, column);
  root.append(bar, main);
  el.append(root);

  const views = new Map<string, TurnView>();
  // Stop shows from the moment a reply is asked for, before the kernel confirms it.
  let requested = false;
  let stickToBottom = true;
  let liveClock = { t: null as number | null, at: 0 };

  const actions: TurnActions = {
    decide: (messageId, callId, approve) =>
      send({ kind: approve ? "approve" : "deny", message_id: messageId, call_id: callId }),
    retry: () => {
      requested = true;
      stickToBottom = true;
      send({ kind: "retry" });
      schedule();
    },
    copy: (text, target) => {
      const done = (label: string) => {
        target.textContent = label;
        win.setTimeout(() => (target.textContent = "Copy"), 1500);
      };
      const clipboard = win.navigator.clipboard;
      if (!clipboard) return done("Copy failed");
      clipboard.writeText(text).then(() => done("Copied"), () => done("Copy failed"));
    },
  };

  function submit(text: string): boolean {
    if (requested || model.get("busy")) return false;
    send({ kind: "send", text });
    requested = true;
    stickToBottom = true;
    shared.echo(text);
    return true;
  }

  newChat.addEventListener("click", () => {
    send({ kind: "new_chat" });
    composer.input.focus();
  });
  historyButton.addEventListener("click", () => {
    history.el.hidden = !history.el.hidden;
    historyButton.setAttribute("aria-expanded", String(!history.el.hidden));
    schedule();
  });
  dismiss.addEventListener("click", () => send({ kind: "dismiss" }));
  prompts.addEventListener("click", (event) => {
    const chip = (event.target as Element | null)?.closest?.<HTMLElement>(".sw-prompt");
    if (chip?.textContent) submit(chip.textContent.trim());
  });
  log.addEventListener("scroll", () => {
    stickToBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 48;
    if (log.scrollTop < LOAD_MORE_PX) shared.requestOlder();
  });

  function viewFor(turn: Turn): TurnView {
    let view = views.get(turn.id);
    const wanted = turn.role === "assistant" ? AssistantTurnView : UserTurnView;
    if (!view || !(view instanceof wanted)) {
      view?.el.remove();
      view = turn.role === "assistant" ? new AssistantTurnView(doc, turn, actions) : new UserTurnView(doc, turn);
      views.set(turn.id, view);
    }
    return view;
  }

  let firstDrawn: string | null = null;

  function draw(): void {
    const turns = list.turns;
    // older turns were put in front: keep what the reader looks at where it is
    const prepended = firstDrawn !== null && turns[0]?.id !== firstDrawn && list.has(firstDrawn);
    // read the layout only when it is needed: a read here, before this frame's changes, would
    // lay out the page twice per frame whenever anything else changed the DOM (JupyterLab's
    // kernel indicator does at every message)
    const fromBottom = prepended ? log.scrollHeight - log.scrollTop : 0;
    const live = model.get("live") ?? {};
    const busy = Boolean(model.get("busy"));
    const retryable = canRetry(turns, busy || requested);
    const now = win.performance.now();
    const clock = liveClock.t === null ? null : liveClock.t + (now - liveClock.at) / 1000;
    let next: Element | null = null;
    let ticking = false;
    let behind = false;
    // newest first: a window's turns not drawn yet are drawn a frame budget at a time, the
    // ones at the bottom (on screen) first; the turns above come in the next frames
    const budgetEnd = now + FRAME_BUDGET_MS;
    for (let index = turns.length - 1; index >= 0; index--) {
      const turn = turns[index];
      if (!views.has(turn.id) && win.performance.now() > budgetEnd) {
        behind = true;
        continue;
      }
      const view = viewFor(turn);
      if (view instanceof AssistantTurnView) {
        const merged = withLive(turn as AssistantTurn, live);
        const retry = retryable && index === turns.length - 1;
        const isLive = live.message_id === turn.id;
        if (isLive || view.drawn !== merged || view.el.dataset.retry !== String(retry)) {
          view.el.dataset.retry = String(retry);
          view.update(merged, syncs.sync(merged), { retry, clock });
        }
        ticking ||= view.ticking();
      } else {
        view.update(turn);
      }
      const expected: Element | null = next ? next.previousElementSibling : turnsBox.lastElementChild;
      if (expected !== view.el) turnsBox.insertBefore(view.el, next);
      next = view.el;
    }
    if (behind) schedule();
    const ids = new Set(turns.map((t) => t.id));
    for (const [id, view] of views) {
      if (!ids.has(id)) {
        view.el.remove();
        views.delete(id);
      }
    }

    const modelLabel = model.get("model_name") ?? "";
    root.dataset.busy = String(busy || requested);
    setText(title, model.get("title") || "New chat");
    setText(modelName, modelLabel);
    drawEcho();
    show(empty, turns.length === 0 && !list.hasOlder && shared.pending === null);
    setText(emptyText, modelLabel === "replay:demo"
      ? "Demo model: it answers from bundled recordings, no key needed. Try one of these:"
      : "Send a message to start the conversation.");
    if (modelLabel === "replay:demo" && !prompts.childElementCount) {
      prompts.append(...DEMO_PROMPTS.map((text) => button(doc, "sw-prompt", "prompt", text)));
    }
    show(prompts, modelLabel === "replay:demo");

    const conversations = model.get("conversations") ?? [];
    const others = conversations.filter((c) => c.id !== model.get("conversation_id")).length;
    setText(historyButton, others ? `Chats (${others})` : "Chats");
    if (!history.el.hidden) history.update(conversations, model.get("conversation_id"), Date.now());

    setText(noticeText, model.get("notice") ?? "");
    show(notice, Boolean(model.get("notice")));
    composer.update(busy || requested);
    redraw.setTicking(ticking);
    if (stickToBottom) log.scrollTop = log.scrollHeight;
    else if (prepended) log.scrollTop = log.scrollHeight - fromBottom;
    firstDrawn = turnsBox.firstElementChild ? (turnsBox.firstElementChild as HTMLElement).dataset.messageId ?? null : null;
    // a laid-out log that the window does not fill cannot be scrolled up: ask for more now
    if (list.hasOlder && log.clientHeight > 0 && log.scrollHeight <= log.clientHeight) {
      shared.requestOlder();
    }
  }

  /** The pending message below the turns, in the DOM only while it is pending. */
  function drawEcho(): void {
    const text = shared.pending;
    if (text === null) {
      echo.el.remove();
      return;
    }
    echo.update({ id: "", role: "user", text });
    if (echo.el.parentElement !== log) log.append(echo.el);
  }

  const onLive = () => {
    liveClock = { t: model.get("live")?.meta?.last_t ?? null, at: win.performance.now() };
    schedule();
  };
  const onSettled = () => {
    requested = false;
    schedule();
  };
  const changes = ["title", "conversations", "model_name", "conversation_id"];
  for (const name of changes) model.on(`change:${name}`, schedule);
  model.on("change:live", onLive);
  model.on("change:busy", onSettled);
  model.on("change:notice", onSettled);
  const unsubscribe = syncs.subscribe(schedule);
  const unsubscribeTurns = shared.subscribe(schedule);
  onLive();
  draw();

  return () => {
    unsubscribe();
    unsubscribeTurns();
    for (const name of changes) model.off(`change:${name}`, schedule);
    model.off("change:live", onLive);
    model.off("change:busy", onSettled);
    model.off("change:notice", onSettled);
    redraw.dispose();
    root.remove();
  };
}

export default sharedWidget(connect, mount);
