// Maths: TeX → MathML through the markdown renderer, streaming-safe, sanitized.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { JSDOM } from "jsdom";
import { MarkdownView, markdownToHtml } from "../src/markdown";
import { texToMathML } from "../src/math";

const { document } = new JSDOM("<!doctype html><body></body>").window;
const render = (src: string) => markdownToHtml(src, document);
const maths = (html: string) => (html.match(/<math\b/g) ?? []).length;

describe("maths", () => {
  test("inline $...$ and \\(...\\) become inline MathML", () => {
    for (const src of ["The area is $\\pi r^2$ here.", "The area is \\(\\pi r^2\\) here."]) {
      const html = render(src);
      assert.equal(maths(html), 1, src);
      assert.match(html, /<p>The area is <math[^>]*>.*<msup>.*<\/math> here\.<\/p>/s, src);
      assert.doesNotMatch(html, /display="block"/, src);
    }
    assert.equal(maths(render("$x$ and $y$")), 2, "one-letter formulas");
  });

  test("display $$...$$ and \\[...\\] become block MathML, alone or inside a paragraph", () => {
    for (const src of ["$$\\frac{a}{b}$$", "\\[\\frac{a}{b}\\]", "Then $$\\frac{a}{b}$$ follows."]) {
      const html = render(src);
      assert.equal(maths(html), 1, src);
      assert.match(html, /<math[^>]*display="block"[^>]*>.*<mfrac>/s, src);
    }
    assert.match(render("$$\nx = 1\n$$"), /class="sw-math-display"/);
  });

  test("currency and stray dollars are not maths", () => {
    for (const src of ["It costs $5 and $10.", "$5 to $6", "price: $ 3 $", "a $x $ b", "100$"]) {
      const html = render(src);
      assert.equal(maths(html), 0, src);
      assert.ok(html.includes("$"), src);
    }
  });

  test("code is not maths", () => {
    assert.equal(maths(render("`$x$` and\n\n```\n$$y$$\n```")), 0);
  });

  test("an unclosed formula stays text while it streams, and renders once closed", () => {
    const el = document.createElement("div");
    const view = new MarkdownView(el);
    const full = "Energy: $E = mc^2$ done.";
    let seenMath = false;
    for (let n = 1; n <= full.length; n++) {
      view.update(full.slice(0, n), 0, { caret: true });
      const closed = n >= full.indexOf("$ done") + 1;
      assert.equal(el.querySelectorAll("math").length, closed ? 1 : 0, full.slice(0, n));
      const typed = full.slice(full.indexOf("$"), n);
      if (!closed && n > full.indexOf("$")) assert.ok(el.textContent!.includes(typed), "shown as typed");
      seenMath ||= closed;
    }
    assert.ok(seenMath);
    view.update(full, 0, { final: true });
    assert.equal(el.querySelectorAll("math").length, 1);
  });

  test("TeX temml cannot parse shows as its source", () => {
    const html = render("bad: $\\frac{a$ and $\\notacommand{x}$");
    assert.match(html, /<code class="sw-math-error">\$\\notacommand\{x\}\$<\/code>/);
    assert.equal(texToMathML("\\frac{", false), null);
  });

  test("hostile TeX and MathML come out inert", () => {
    const attacks = [
      "$\\href{javascript:alert(1)}{x}$",
      "$\\url{javascript:alert(1)}$",
      "$\\htmlClass{jp-Dialog}{x}$",
      "$\\style{position:fixed}{x}$",
      "$$\\def\\a{\\a\\a}\\a$$",
      '<math><mi xlink:href="javascript:alert(1)">x</mi></math>',
      '<math><maction actiontype="statusline" href="javascript:alert(1)">x</maction></math>',
      "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
      '$x$<math href="javascript:alert(1)"><mi>y</mi></math>',
    ];
    for (const src of attacks) {
      const box = document.createElement("div");
      box.innerHTML = render(src);
      assert.equal(box.querySelector("img, style, script, [style], [onerror], [href]"), null, src);
      for (const el of Array.from(box.querySelectorAll("*"))) {
        for (const attr of Array.from(el.attributes)) {
          assert.doesNotMatch(attr.value, /javascript:|jp-Dialog/i, `${src}: ${attr.name}`);
        }
      }
    }
    // raw MathML written by the model is shown as text, not parsed
    assert.equal(maths(render("<math><mi>y</mi></math>")), 0);
  });
});
