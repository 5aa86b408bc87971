// anywidget front end of StreamView: one LLM reply, shown live.
//
// The default export is a factory: anywidget calls it once per model, so the closure holds
// that model's text buffers (StreamSync) and its rendered markdown blocks (BlockCache), shared
// by every view of it. `initialize` owns the custom-message handler; `render` only builds DOM
// and subscribes to the buffers; the reply itself (its parts in order) is drawn by ReplyView.
// A view renders at most FRAME_BUDGET_MS of blocks per frame, so a long document (a fast
// stream, a view opened on a finished reply) never blocks the page.

import "./styles.css";
import { h } from "./dom";
import { Header } from "./header";
import { BlockCache, frameBudget } from "./markdown";
import { isTerminal, type Field, type Model, type WidgetModel } from "./model";
import { Redraw } from "./redraw";
import { ReplyView } from "./reply";
import { lengthsOf, StreamSync } from "./sync";
import { isLive } from "./tools";
import { sharedWidget } from "./widget_entry";

type AnyModel = WidgetModel<Model>;

/** Milliseconds of markdown rendering per animation frame (a 60 Hz frame is 16.7 ms). */
const FRAME_BUDGET_MS = 8;

/** What one model shares with all its views: the text buffers and the rendered blocks. */
interface Shared {
  sync: StreamSync;
  blocks: Record<Field, BlockCache>;
  dispose: () => void;
}

/** Wire a model to a new StreamSync; returns it with the function that unwires it. */
function connect(model: AnyModel): Shared {
  const sync = new StreamSync({
    send: (msg) => model.send(msg),
    // quiet end: the buffers are the final document; the saved widget state should have it
    settle: (field, value) => model.set?.(field, value),
  });
  // A new view of this model (JupyterLab makes one when the display is updated at the end)
  // clones the blocks rendered before instead of parsing them again.
  const blocks = { text: new BlockCache(), reasoning: new BlockCache() };
  const onMessage = (msg: unknown) => sync.handleMessage(msg);
  const onTraits = () =>
    sync.setTraits(
      model.get("status"),
      model.get("text") ?? "",
      model.get("reasoning") ?? "",
      lengthsOf(model.get("meta")),
    );
  const onStreamId = () => {
    blocks.text.clear();
    blocks.reasoning.clear();
    sync.reset();
    onTraits();
    sync.requestResync();
  };
  const traits = ["status", "text", "reasoning", "meta"].map((name) => `change:${name}`);
  model.on("msg:custom", onMessage);
  for (const name of traits) model.on(name, onTraits);
  model.on("change:stream_id", onStreamId);
  onTraits();
  sync.requestResync(); // a view opened after a page reload must show the current document
  return {
    sync,
    blocks,
    dispose() {
      model.off("msg:custom", onMessage);
      for (const name of traits) model.off(name, onTraits);
      model.off("change:stream_id", onStreamId);
      sync.dispose();
      blocks.text.clear();
      blocks.reasoning.clear();
    },
  };
}

/** Build one view of the stream in `el`; returns its cleanup. */
function mount(model: AnyModel, el: HTMLElement, { sync, blocks }: Shared): () => void {
  const doc = el.ownerDocument;
  const win = doc.defaultView ?? window;
  // Render at most once per animation frame, however many messages arrive.
  const redraw = new Redraw(win, () => draw());
  const schedule = redraw.schedule;
  const root = h(doc, "div", "sw-stream");
  const header = new Header(doc);
  const reply = new ReplyView(doc, { blocks });
  root.append(header.el, reply.el);
  el.append(root);

  // The recording's clock (seconds since the request), extrapolated from the last meta update,
  // drives the running time of live tool calls and of the thinking block.
  let metaSeen = { t: model.get("meta")?.last_t ?? null, at: win.performance.now() };
  const clock = (): number | null =>
    metaSeen.t === null ? null : metaSeen.t + (win.performance.now() - metaSeen.at) / 1000;
  const onMeta = () => {
    metaSeen = { t: model.get("meta")?.last_t ?? null, at: win.performance.now() };
    schedule();
  };

  // JupyterLab's widget renderer replaces a view by emptying its node, without disposing of the
  // old view (it does so at the display update that ends a stream): a view that was in the page
  // and is no longer renders nothing until it is back (checked four times a second).
  let wasShown = false;
  let away: number | null = null;
  const gone = (): boolean => {
    if (root.isConnected) wasShown = true;
    if (!wasShown || root.isConnected) return false;
    away ??= win.setInterval(() => {
      if (!root.isConnected) return;
      win.clearInterval(away!);
      away = null;
      schedule();
    }, 250);
    return true;
  };

  function draw(): void {
    if (gone()) return;
    const status = model.get("status");
    const terminal = isTerminal(status);
    root.dataset.status = status;
    root.dataset.streamId = model.get("stream_id") ?? "";
    header.update(status, model.get("meta") ?? {});
    const calls = model.get("tool_calls") ?? [];
    reply.update({
      status,
      text: sync.text,
      reasoning: sync.reasoning,
      epoch: sync.epoch,
      parts: model.get("parts"),
      tool_calls: calls,
      error: model.get("error"),
      clock: terminal ? null : clock(),
      // every run of the reply shares one budget of block rendering per frame
      budget: frameBudget(FRAME_BUDGET_MS),
    });
    redraw.setTicking(!terminal && calls.some(isLive));
    if (reply.behind) schedule(); // a long document renders over frames
  }

  const unsubscribe = sync.subscribe(schedule);
  const events = ["status", "tool_calls", "parts", "error", "stream_id"].map((name) => `change:${name}`);
  for (const name of events) model.on(name, schedule);
  model.on("change:meta", onMeta);
  sync.ensureContent();
  draw();

  return () => {
    unsubscribe();
    for (const name of events) model.off(name, schedule);
    model.off("change:meta", onMeta);
    redraw.dispose();
    if (away !== null) win.clearInterval(away);
    root.remove();
  };
}

export default sharedWidget(connect, mount);
