// anywidget front end of the Player: a recording shown at a cursor you can play and scrub.
//
// The kernel owns the cursor. This view sends requests (seek, step, play, pause, speed) and
// draws what the traits say. No trait holds text: the view holds a segment of the final text
// and asks the kernel for what it lacks at the cursor (player_text.ts, widgets/player.py).
// Dragging the strip moves the playhead at once; seeks go through a queue that keeps one in
// flight and replaces a waiting one by the newest, so the view never falls behind the pointer.
//
// The cursor is drawn as one: its position, time, status, inspector and the document's text
// change together, once the text at the cursor is here (never a final status over the text
// of an earlier cursor). Before the kernel answers, or when no kernel does (a saved notebook
// reopened), the view draws from the model's snapshot if it is of this cursor
// (player_saved.ts), and keeps it up to date for the notebook's saved widget state.

import "./styles.css";
import "./player.css";
import { h, setText } from "./dom";
import type { WidgetModel } from "./model";
import { DocView } from "./player_doc";
import { Inspector } from "./player_inspector";
import type { PlayerModel, PlayerMsg } from "./player_model";
import { type Snapshot, sameSnapshot, snapshotOf, usable, windowParts } from "./player_saved";
import { axis, setAxis, shortDuration, Strip, timingParts } from "./player_strip";
import { HELD_MAX, type Reply, RequestQueue, Segment } from "./player_text";

type AnyModel = WidgetModel<PlayerModel>;

/** Speeds offered, 0 is instant. */
export const SPEEDS: [number, string, string][] = [
  [1, "1×", "Real pace"],
  [2, "2×", "Twice as fast"],
  [10, "10×", "Ten times as fast"],
  [0, "∞", "Instant: jump to the end"],
];

const ICONS: Record<string, string> = {
  back: "M4 3h2v10H4zM14 3v10L7 8z",
  play: "M5 3l9 5-9 5z",
  pause: "M4 3h3v10H4zM9 3h3v10H9z",
  forward: "M2 3l7 5-7 5zM10 3h2v10h-2z",
};

function iconButton(doc: Document, cls: string, label: string, icon: string): HTMLButtonElement {
  const button = h(doc, "button", `sw-btn sw-icon-btn ${cls}`) as HTMLButtonElement;
  button.type = "button";
  button.title = label;
  button.setAttribute("aria-label", label);
  setIcon(button, icon);
  return button;
}

function setIcon(button: HTMLElement, icon: string): void {
  if (button.dataset.icon === icon) return;
  button.dataset.icon = icon;
  button.innerHTML = `<svg viewBox="0 0 16 16" aria-hidden="true"><path d="${ICONS[icon]}"/></svg>`;
}

/** Seconds as "12.34 s" (the readout needs more precision than formatDuration gives). */
function clockText(t: number): string {
  return `${(Number.isFinite(t) ? t : 0).toFixed(2)} s`;
}

function mount(model: AnyModel, el: HTMLElement): () => void {
  const doc = el.ownerDocument;
  const win = doc.defaultView ?? window;
  const send = (msg: PlayerMsg) => model.send(msg);
  const viewId = `v${Math.random().toString(36).slice(2, 10)}`;
  const segments = { text: new Segment(), reasoning: new Segment() };
  const queue = new RequestQueue({
    send: (msg) => model.send(msg),
    context: () => ({
      view: viewId,
      have: { text: segments.text.span(), reasoning: segments.reasoning.span() },
    }),
    pull: () => ({ kind: "text", position: model.get("position") ?? 0 }),
  });

  const root = h(doc, "div", "sw-stream sw-player");
  const title = h(doc, "div", "sw-player-title");
  const bar = h(doc, "div", "sw-player-bar");
  const back = iconButton(doc, "sw-step-back", "Step one event back (←)", "back");
  const play = iconButton(doc, "sw-play", "Play", "play");
  const forward = iconButton(doc, "sw-step-forward", "Step one event forward (→)", "forward");
  const speeds = h(doc, "div", "sw-speeds");
  speeds.setAttribute("role", "group");
  speeds.setAttribute("aria-label", "Speed");
  const speedButtons = SPEEDS.map(([value, label, hint]) => {
    const button = h(doc, "button", "sw-btn sw-speed", label) as HTMLButtonElement;
    button.type = "button";
    button.title = hint;
    button.dataset.speed = String(value);
    button.addEventListener("click", () => send({ kind: "speed", value }));
    speeds.append(button);
    return button;
  });
  const readout = h(doc, "span", "sw-player-readout");
  bar.append(back, play, forward, speeds, h(doc, "span", "sw-spacer"), readout);

  const strip = new Strip(doc, {
    label: "Timeline: drag to seek",
    onSeek: (t, final) => requestSeek(t, final),
    onStep: (by) => send({ kind: "step", by }),
  });
  const axisRow = axis(doc, 1);
  const stats = h(doc, "div", "sw-player-stats");
  const scroller = h(doc, "div", "sw-player-scroll");
  // a window of a long text: the text before it comes a window at a time, on request
  const earlier = h(doc, "button", "sw-btn sw-player-earlier") as HTMLButtonElement;
  earlier.type = "button";
  earlier.addEventListener("click", () => queue.pull({ earlier: true }));
  // a snapshot's text starts after the beginning: the rest was not saved with the notebook
  const unsaved = h(doc, "div", "sw-player-unsaved");
  unsaved.hidden = true;
  const view = new DocView(doc);
  scroller.append(view.el);
  // under the header, just above the reply
  view.above(earlier);
  view.above(unsaved);
  const inspector = new Inspector(doc, (position) => queue.seek({ kind: "seek", position }));
  root.append(title, bar, strip.el, axisRow, stats, scroller, inspector.el);
  el.append(root);

  back.addEventListener("click", () => send({ kind: "step", by: -1 }));
  forward.addEventListener("click", () => send({ kind: "step", by: 1 }));
  play.addEventListener("click", () => send({ kind: model.get("playing") ? "pause" : "play" }));

  // Dragging: the queue sends where the pointer is now whenever the last seek is answered.
  function requestSeek(t: number, _final: boolean): void {
    queue.seek({ kind: "seek", t });
  }

  function onMessage(msg: Reply): void {
    if (!msg || msg.kind !== "reply") return;
    if (msg.view === null) {
      // a frame of playback, to every view: appended when it continues what this view holds
      segments.text.apply(msg.text, HELD_MAX);
      segments.reasoning.apply(msg.reasoning, HELD_MAX);
    } else if (msg.view === viewId) {
      segments.text.apply(msg.text);
      segments.reasoning.apply(msg.reasoning);
      queue.answered(msg.seq);
    } else {
      return;
    }
    schedule();
  }

  // the position the document was last drawn at, and from what: the snapshot or the kernel
  let drawnPosition: number | null = null;
  let drawnFromSnapshot = false;

  function drawTimeline(): void {
    const tl = model.get("timeline");
    if (!tl || !tl.bins) return;
    strip.setData(tl);
    setAxis(axisRow, tl.span);
    setText(stats, timingParts(tl).join(" · "));
  }

  function draw(): void {
    const info = model.get("info") ?? {};
    const position = model.get("position") ?? 0;
    const total = info.events ?? 0;
    const playing = Boolean(model.get("playing"));
    const speed = model.get("speed");
    Object.assign(root.dataset, { events: String(total), playing: String(playing), speed: String(speed) });
    setText(title, info.title ?? "");
    title.hidden = !info.title;
    title.title = info.source ?? "";
    setIcon(play, playing ? "pause" : "play");
    play.title = playing ? "Pause" : position >= total ? "Play from the start" : "Play";
    play.setAttribute("aria-label", play.title);
    play.setAttribute("aria-pressed", String(playing));
    for (const button of speedButtons) {
      button.setAttribute("aria-pressed", String(Number(button.dataset.speed) === speed));
    }
    const textLen = model.get("text_len") ?? 0;
    const reasoningLen = model.get("reasoning_len") ?? 0;
    const held = segments.text.holds(textLen) && segments.reasoning.holds(reasoningLen);
    if (!held) queue.pull(); // the text at the cursor is asked for; the cursor waits for it
    const snap = held ? null : usable(model.get("snapshot"), position, textLen, reasoningLen);
    if (held || snap) drawCursor(position, total, snap);
  }

  /** The cursor, its status and the document at it, in one go: from the text the view holds,
   * else from the model's snapshot of this cursor. */
  function drawCursor(position: number, total: number, snap: Snapshot | null): void {
    const time = model.get("time") ?? 0;
    const status = model.get("status");
    const playing = Boolean(model.get("playing"));
    Object.assign(root.dataset, { position: String(position), time: String(time), status });
    setText(
      readout,
      `${clockText(time)} / ${shortDuration(model.get("info")?.duration ?? 0)} · event ` +
        `${position.toLocaleString("en-US")} / ${total.toLocaleString("en-US")}`,
    );
    back.disabled = position <= 0;
    forward.disabled = position >= total;
    // until the kernel answers the user's last seek, the playhead stays where the user put it
    if (!queue.seeking) strip.setCursor(time);

    const atBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 24;
    // the first draw with text counts as a move: the view opens at the cursor; so does the
    // kernel's text replacing the snapshot's (more of it, above)
    const moved = drawnPosition !== position || drawnFromSnapshot !== (snap !== null);
    drawnPosition = position;
    drawnFromSnapshot = snap !== null;
    const textLen = model.get("text_len") ?? 0;
    const reasoningLen = model.get("reasoning_len") ?? 0;
    const text = snap ? snap.text : { start: segments.text.start, text: segments.text.upTo(textLen) };
    const reasoning = snap
      ? snap.reasoning
      : { start: segments.reasoning.start, text: segments.reasoning.upTo(reasoningLen) };
    const start = text.start;
    setText(earlier, `Show earlier text (${start.toLocaleString("en-US")} characters before)`);
    earlier.hidden = start === 0 || snap !== null;
    setText(unsaved, `… ${start.toLocaleString("en-US")} earlier characters were not saved with the notebook`);
    unsaved.hidden = start === 0 || snap === null;
    const started = win.performance?.now() ?? 0;
    view.update({
      status,
      text: text.text,
      reasoning: reasoning.text,
      tool_calls: model.get("tool_calls") ?? [],
      parts: windowParts(model.get("parts"), text.start, reasoning.start),
      error: model.get("error"),
      meta: model.get("meta") ?? {},
      clock: time,
    });
    // how long the document took to draw (ms): for tests and benchmarks to read
    root.dataset.drawMs = ((win.performance?.now() ?? 0) - started).toFixed(1);
    root.dataset.drawnFrom = snap ? "snapshot" : "kernel";
    if (!snap) keepSnapshot(position, textLen, reasoningLen);
    // The cursor is at the end of the text shown: a seek or a step brings it into sight, and
    // playback keeps it there unless the reader scrolled up to read.
    if (moved && (!playing || atBottom)) scroller.scrollTop = scroller.scrollHeight;
    inspector.update(model.get("inspector") ?? [], position, total);
  }

  /** What the notebook's saved widget state keeps of this cursor: set on the model only
   * (never sent to the kernel), when it changed. */
  let kept: Snapshot | null = null;
  function keepSnapshot(position: number, textLen: number, reasoningLen: number): void {
    const snap = snapshotOf(position, segments.text, segments.reasoning, textLen, reasoningLen);
    if (sameSnapshot(kept, snap)) return;
    kept = snap;
    model.set?.("snapshot", snap);
  }

  // Render at most once per animation frame, however many trait changes arrive.
  let frame: number | null = null;
  function schedule(): void {
    if (frame === null) {
      frame = win.requestAnimationFrame(() => {
        frame = null;
        draw();
      });
    }
  }
  const traits = [
    "position", "time", "text_len", "reasoning_len", "status", "tool_calls", "parts", "error", "meta",
    "inspector", "playing", "speed", "info",
  ].map((name) => `change:${name}`);
  for (const name of traits) model.on(name, schedule);
  model.on("change:timeline", drawTimeline);
  model.on("msg:custom", onMessage);
  drawTimeline();
  draw();

  return () => {
    for (const name of traits) model.off(name, schedule);
    model.off("change:timeline", drawTimeline);
    model.off("msg:custom", onMessage);
    if (frame !== null) win.cancelAnimationFrame(frame);
    root.remove();
  };
}

export default () => ({
  render({ model, el }: { model: AnyModel; el: HTMLElement }) {
    return mount(model, el);
  },
});
