// Finds where finished top-level markdown blocks end in a growing text, scanning each line
// once (O(new text) per call). Pure logic: no DOM, unit-tested.
//
// A block is finished at a blank line outside a code fence, confirmed once the next
// non-blank line starts and does not continue the block:
// - an indented line continues it (list item paragraphs, nested lists, indented code);
// - a list item continues a block that started with a list item (a loose list stays one list).
// A fence closed at the left margin also ends its block at once, so a long code block is
// frozen as soon as its closing ``` arrives.
//
// This is deliberately pragmatic (HTML blocks with blank lines inside, ...). Link reference
// definitions further down are the view's business: it parses the blocks that came before a
// definition again when the stream ends.

const LIST_ITEM = /^ {0,3}(?:[-*+]|\d{1,9}[.)])(?:[ \t]|$)/;
const FENCE_OPEN = /^([ \t]*)(`{3,}|~{3,})(.*)$/;
const FENCE_CLOSE = /^[ \t]*(`{3,}|~{3,})[ \t]*$/;

interface Fence {
  char: string;
  length: number;
  /** Opened at the left margin (indent 0-3), not nested inside a list item. */
  topLevel: boolean;
}

export class BlockSplitter {
  /** End offsets of finished blocks, ascending. Block i is text.slice(bounds[i-1] ?? 0, bounds[i]). */
  readonly bounds: number[] = [];
  /** Start of the first line not scanned yet (lines are scanned once complete). */
  private lineStart = 0;
  private fence: Fence | null = null;
  /** Offset just past a run of blank lines that may end the current block, or -1. */
  private pendingEnd = -1;
  private blockHasContent = false;
  private blockIsList = false;

  /** Everything before this offset belongs to finished blocks. */
  get stable(): number {
    return this.bounds.length ? this.bounds[this.bounds.length - 1] : 0;
  }

  /** True when the scanned lines end inside an open code fence. */
  get inFence(): boolean {
    return this.fence !== null;
  }

  /** Scan the complete lines that `text` added since the last call. `text` must only grow. */
  feed(text: string): void {
    let nl = text.indexOf("\n", this.lineStart);
    while (nl !== -1) {
      const end = nl > this.lineStart && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl; // \r\n
      this.scanLine(text.slice(this.lineStart, end), nl + 1);
      this.lineStart = nl + 1;
      nl = text.indexOf("\n", this.lineStart);
    }
    // A pending end is confirmed as soon as the next line's first character shows that a new
    // block starts (not indented; in a list block, wait for the whole line).
    if (this.pendingEnd >= 0 && !this.blockIsList && this.lineStart < text.length) {
      const first = text[this.lineStart];
      if (first !== " " && first !== "\t" && first !== "\r") this.endBlock(this.pendingEnd);
    }
  }

  /** `next` is the offset where the following line starts. */
  private scanLine(line: string, next: number): void {
    if (this.fence) {
      const close = FENCE_CLOSE.exec(line);
      if (close && close[1][0] === this.fence.char && close[1].length >= this.fence.length) {
        const topLevel = this.fence.topLevel && !this.blockIsList;
        this.fence = null;
        if (topLevel) this.endBlock(next);
      }
      return;
    }
    if (line.trim() === "") {
      if (this.blockHasContent) this.pendingEnd = next;
      return;
    }
    if (this.pendingEnd >= 0) {
      const continues = /^[ \t]/.test(line) || (this.blockIsList && LIST_ITEM.test(line));
      if (!continues) this.endBlock(this.pendingEnd);
      this.pendingEnd = -1;
    }
    if (!this.blockHasContent) {
      this.blockHasContent = true;
      this.blockIsList = LIST_ITEM.test(line);
    }
    const open = FENCE_OPEN.exec(line);
    // A backtick fence's info string may not contain backticks (else it is inline code).
    if (open && !(open[2][0] === "`" && open[3].includes("`"))) {
      const indent = open[1].replace(/\t/g, "    ").length;
      this.fence = { char: open[2][0], length: open[2].length, topLevel: indent <= 3 };
    }
  }

  private endBlock(at: number): void {
    if (at > this.stable) this.bounds.push(at);
    this.blockHasContent = false;
    this.blockIsList = false;
    this.pendingEnd = -1;
  }
}
