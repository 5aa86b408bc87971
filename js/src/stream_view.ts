// anywidget front end of StreamView: one LLM reply, shown live.
//
// The default export is a factory: anywidget calls it once per model, so the closure holds
// that model's text buffers (StreamSync) and its rendered markdown blocks (BlockCache), shared
// by every view of it. `initialize` owns the custom-message handler; `render` only builds DOM
// and subscribes to the buffers. A view renders at most FRAME_BUDGET_MS of blocks per frame, so
// a long document (a fast stream, a view opened on a finished reply) never blocks the page.

import "./styles.css";
import { h, setText, show } from "./dom";
import { Header } from "./header";
import { BlockCache, frameBudget, MarkdownView } from "./markdown";
import { isTerminal, type Field, type Model, type Status, type WidgetModel } from "./model";
import { lengthsOf, StreamSync } from "./sync";
import { isLive, ToolCards } from "./tools";

type AnyModel = WidgetModel<Model>;

/** Milliseconds of markdown rendering per animation frame (a 60 Hz frame is 16.7 ms). */
const FRAME_BUDGET_MS = 8;

const NOTICES: Partial<Record<Status, string>> = {
  cancelled: "Stopped — partial reply kept",
  interrupted: "The kernel that produced this stream died; showing what was saved",
};

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
  const root = h(doc, "div", "sw-stream");
  const header = new Header(doc);
  const thinking = h(doc, "details", "sw-thinking") as HTMLDetailsElement;
  const thinkingLabel = h(doc, "summary", "sw-thinking-label", "Thinking");
  const reasoning = new MarkdownView(h(doc, "div", "sw-md sw-reasoning"), blocks.reasoning);
  thinking.append(thinkingLabel, reasoning.el);
  const tools = new ToolCards(doc);
  const text = new MarkdownView(h(doc, "div", "sw-md sw-text"), blocks.text);
  const placeholder = h(doc, "div", "sw-placeholder");
  const notice = h(doc, "div", "sw-notice");
  const error = h(doc, "div", "sw-error");
  error.setAttribute("role", "alert");
  const errorKind = h(doc, "span", "sw-error-kind");
  const errorMessage = h(doc, "span", "sw-error-message");
  error.append(errorKind, errorMessage);
  // The notice and the error banner exist in the DOM only while they apply (tests and
  // selectors can rely on presence); comments mark where they go.
  const noticeSlot = doc.createComment("sw-notice");
  const errorSlot = doc.createComment("sw-error");
  root.append(header.el, thinking, tools.el, text.el, placeholder, noticeSlot, errorSlot);
  el.append(root);

  // The reasoning block is open while it streams and folds when the reply ends, unless the
  // user has opened or closed it by hand.
  let thinkingTouched = false;
  thinkingLabel.addEventListener("click", () => {
    thinkingTouched = true;
  });
  root.addEventListener("click", (event) => copyCode(event, win));

  // The recording's clock (seconds since the request), extrapolated from the last meta update,
  // drives the running time of live tool calls.
  let metaSeen = { t: model.get("meta")?.last_t ?? null, at: win.performance.now() };
  const clock = (): number | null =>
    metaSeen.t === null ? null : metaSeen.t + (win.performance.now() - metaSeen.at) / 1000;
  const onMeta = () => {
    metaSeen = { t: model.get("meta")?.last_t ?? null, at: win.performance.now() };
    schedule();
  };

  let ticker: number | null = null;
  const setTicking = (on: boolean) => {
    if (on && ticker === null) ticker = win.setInterval(schedule, 250);
    if (!on && ticker !== null) {
      win.clearInterval(ticker);
      ticker = null;
    }
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
    // Reasoning and text share one budget of block rendering per frame; the rest comes next frame.
    const budget = frameBudget(FRAME_BUDGET_MS);
    const status = model.get("status");
    const terminal = isTerminal(status);
    const meta = model.get("meta") ?? {};
    root.dataset.status = status;
    root.dataset.streamId = model.get("stream_id") ?? "";
    header.update(status, meta);

    const calls = model.get("tool_calls") ?? [];
    tools.update(calls, terminal ? null : clock());
    setTicking(!terminal && calls.some(isLive));

    const hasReasoning = sync.reasoning.length > 0;
    show(thinking, hasReasoning);
    if (hasReasoning) {
      const live = !terminal && !sync.text;
      thinking.classList.toggle("sw-live", live);
      setText(thinkingLabel, live ? "Thinking…" : "Thinking");
      if (!thinkingTouched) thinking.open = !terminal;
      reasoning.update(sync.reasoning, sync.epoch.reasoning, {
        final: terminal,
        caret: live,
        budget,
      });
    }

    // Not `status === "streaming"`: text may arrive before the status trait says so.
    const caret = !terminal && sync.text.length > 0;
    text.update(sync.text, sync.epoch.text, { final: terminal, caret, budget });
    show(text.el, sync.text.length > 0);
    if (text.behind || reasoning.behind) schedule(); // a long document renders over frames

    const empty = !sync.text && !hasReasoning && calls.length === 0;
    const waiting = empty && !terminal;
    setText(placeholder, waiting ? "Waiting for the model" : status === "complete" ? "(empty reply)" : "");
    placeholder.classList.toggle("sw-live", waiting);
    show(placeholder, empty && (waiting || status === "complete"));

    setText(notice, NOTICES[status] ?? "");
    present(notice, noticeSlot, Boolean(NOTICES[status]));

    const err = model.get("error");
    setText(errorKind, err?.kind ?? "");
    setText(errorMessage, err?.message ?? "");
    present(error, errorSlot, Boolean(err));
  }

  // Render at most once per animation frame, however many messages arrive.
  let frame: number | null = null;
  function schedule(): void {
    if (frame === null) {
      frame = win.requestAnimationFrame(() => {
        frame = null;
        draw();
      });
    }
  }

  const unsubscribe = sync.subscribe(schedule);
  const events = ["status", "tool_calls", "error", "stream_id"].map((name) => `change:${name}`);
  for (const name of events) model.on(name, schedule);
  model.on("change:meta", onMeta);
  sync.ensureContent();
  draw();

  return () => {
    unsubscribe();
    for (const name of events) model.off(name, schedule);
    model.off("change:meta", onMeta);
    if (frame !== null) win.cancelAnimationFrame(frame);
    if (away !== null) win.clearInterval(away);
    setTicking(false);
    root.remove();
  };
}

/** Put `node` just before `slot` when visible, take it out of the DOM when not. */
function present(node: HTMLElement, slot: Node, visible: boolean): void {
  if (visible && node.nextSibling !== slot) slot.parentNode?.insertBefore(node, slot);
  if (!visible && node.parentNode) node.remove();
}

/** Copy buttons of code blocks (one delegated listener per view). */
function copyCode(event: Event, win: Window): void {
  const button = (event.target as Element | null)?.closest?.(".sw-copy");
  const code = button?.closest(".sw-codeblock")?.querySelector("pre");
  if (!button || !code) return;
  const done = (label: string) => {
    button.textContent = label;
    win.setTimeout(() => (button.textContent = "Copy"), 1500);
  };
  const fallback = () => {
    // No async clipboard (insecure context): select the code and use the legacy command.
    const selection = win.getSelection();
    const range = win.document.createRange();
    range.selectNodeContents(code);
    selection?.removeAllRanges();
    selection?.addRange(range);
    const ok = win.document.execCommand("copy");
    selection?.removeAllRanges();
    done(ok ? "Copied" : "Copy failed");
  };
  const clipboard = win.navigator.clipboard;
  if (!clipboard) return fallback();
  clipboard.writeText(code.textContent ?? "").then(() => done("Copied"), fallback);
}

export default () => {
  let shared: Shared | null = null;
  return {
    initialize({ model }: { model: AnyModel }) {
      shared = connect(model);
      const mine = shared;
      return () => {
        mine.dispose();
        if (shared === mine) shared = null;
      };
    },
    render({ model, el }: { model: AnyModel; el: HTMLElement }) {
      // anywidget always initializes first; a private sync keeps render usable on its own.
      const own = shared ? null : connect(model);
      const unmount = mount(model, el, shared ?? own!);
      return () => {
        unmount();
        own?.dispose();
      };
    },
  };
};
