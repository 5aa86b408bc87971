// The message box: Enter sends, Shift+Enter makes a new line; Send turns into Stop while a
// reply is asked for or streaming.

import { keyAction } from "./chat_logic";
import { h, show } from "./dom";

export function actionButton(
  doc: Document,
  cls: string,
  action: string,
  label: string,
  title = "",
): HTMLButtonElement {
  const b = h(doc, "button", `sw-btn ${cls}`, label) as HTMLButtonElement;
  b.type = "button";
  b.dataset.action = action;
  if (title) b.title = title;
  return b;
}

export class Composer {
  readonly el: HTMLElement;
  readonly input: HTMLTextAreaElement;
  private readonly sendButton: HTMLButtonElement;
  private readonly stopButton: HTMLButtonElement;

  /** `submit` gets the trimmed text and says whether it was sent (then the box clears). */
  constructor(doc: Document, submit: (text: string) => boolean, stop: () => void) {
    this.el = h(doc, "div", "sw-composer");
    this.input = h(doc, "textarea", "sw-input") as HTMLTextAreaElement;
    this.input.rows = 1;
    this.input.placeholder = "Message… (Enter to send, Shift+Enter for a new line)";
    this.input.setAttribute("aria-label", "Message");
    // JupyterLab must not read keys typed here as notebook shortcuts.
    this.input.setAttribute("data-lm-suppress-shortcuts", "true");
    this.sendButton = actionButton(doc, "sw-btn-primary sw-send", "send", "Send", "Send (Enter)");
    this.stopButton = actionButton(doc, "sw-btn-stop sw-stop", "stop", "Stop", "Stop the reply");
    this.el.append(this.input, this.sendButton, this.stopButton);

    const trySubmit = () => {
      const text = this.input.value.trim();
      if (text && submit(text)) {
        this.input.value = "";
        this.refresh();
      }
    };
    this.input.addEventListener("keydown", (event) => {
      event.stopPropagation(); // keys typed here are not notebook commands
      if (keyAction(event) === "send") {
        event.preventDefault();
        trySubmit();
      }
    });
    this.input.addEventListener("input", () => this.refresh());
    this.sendButton.addEventListener("click", trySubmit);
    this.stopButton.addEventListener("click", stop);
  }

  /** Show Stop instead of Send while `busy`. */
  update(busy: boolean): void {
    show(this.sendButton, !busy);
    show(this.stopButton, busy);
    this.sendButton.disabled = !this.input.value.trim();
  }

  /** Grow with the text, up to about eight lines. */
  private refresh(): void {
    this.input.style.height = "auto";
    this.input.style.height = `${Math.min(this.input.scrollHeight, 200)}px`;
    this.sendButton.disabled = !this.input.value.trim();
  }
}
