// How the views redraw: at most once per animation frame however many messages arrive, and
// four times a second while something on screen runs on a clock (a live tool call's timer).

export class Redraw {
  private frame: number | null = null;
  private ticker: number | null = null;

  constructor(
    private readonly win: Window,
    private readonly draw: () => void,
  ) {}

  /** Draw at the next animation frame (once, however often this is called before it). */
  readonly schedule = (): void => {
    if (this.frame === null) {
      this.frame = this.win.requestAnimationFrame(() => {
        this.frame = null;
        this.draw();
      });
    }
  };

  /** Redraw every 250 ms while `on` (a running clock on screen). */
  setTicking(on: boolean): void {
    if (on && this.ticker === null) this.ticker = this.win.setInterval(this.schedule, 250);
    if (!on && this.ticker !== null) {
      this.win.clearInterval(this.ticker);
      this.ticker = null;
    }
  }

  /** No more drawing: the frame asked for and the ticker are cancelled. */
  dispose(): void {
    if (this.frame !== null) this.win.cancelAnimationFrame(this.frame);
    this.frame = null;
    this.setTicking(false);
  }
}
