"""Light and dark JupyterLab themes: reply text and tool cards stay readable in both.

One notebook shows the ``weather-tool-error`` replay (thinking, a tool card, text and the
error banner) and a ``demo:tools`` chat whose reply ran a tool. For each theme the test
screenshots both widgets and measures, in the page, the contrast ratio (WCAG 2 formula) of
every piece of visible text against its effective background: the element's computed
``color`` (times the opacity of it and its ancestors) over the background colours of it and its
ancestors, composited down to the first opaque one.

- Reading text (everything in ``.sw-text``, the ``.sw-tool`` card's own colour, the tool name,
  its argument/result bodies, the error message, the user's bubble) must reach 4.5:1, WCAG AA
  for normal text.
- The cards' secondary labels (argument summary, time, status chip, section titles, the error
  kind) must reach 3:1 (WCAG's floor for large text and interface parts), so that they can never
  vanish into the background; they are listed with their measured ratios on failure.

The theme is switched with JupyterLab's ``apputils:change-theme`` command through
``window.jupyterapp`` (the harness starts lab with ``expose_app_in_browser``) and switched
back to the light theme at the end, since the setting is kept for the whole session's server.
"""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

LIGHT, DARK = "JupyterLab Light", "JupyterLab Dark"
VIEW = ".sw-stream:not(.sw-chat)"
CHAT = ".sw-chat"
READING_MIN, LABEL_MIN = 4.5, 4.5

CELLS = [
    (
        "code",
        'import streamwidget as sw\n\nweather = sw.replay("weather-tool-error", speed=0)\nweather',
    ),
    ("code", "(await weather.handle).status"),
    (
        "code",
        "@sw.tool\n"
        "def get_weather(city: str) -> dict:\n"
        '    """Current weather for a city."""\n'
        '    return {"city": city, "temperature": 19, "conditions": "sunny"}\n\n\n'
        'chat = sw.Chat("demo:tools", tools=[get_weather])\n'
        "chat",
    ),
    ("code", '(await chat.send("What\'s the weather in Lisbon?")).status'),
]

# Text whose colour must reach READING_MIN; the rest of a tool card / error banner LABEL_MIN.
READING = (
    ".sw-text, .sw-text *, .sw-tool, .sw-tool-name, .sw-tool-body, .sw-error-message, .sw-bubble"
)
LABELS = ".sw-tool *, .sw-error, .sw-error *"

# In the page: contrast of every visible element matching `selector` inside `root` that holds
# text of its own (plus elements matching `always`, measured even without own text).
_CONTRAST = """([root, selector, always]) => {
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = 1;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  const parse = (css) => {  // -> [r, g, b (0-255), alpha (0-1)]
    let m = css.match(/^rgba?\\(([^)]+)\\)$/);
    if (m) {
      const p = m[1].split(/[\\s,/]+/).filter(Boolean).map(Number);
      return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
    }
    m = css.match(/^color\\(srgb ([^)]+)\\)$/);
    if (m) {
      const p = m[1].split(/[\\s/]+/).filter(Boolean).map(Number);
      return [p[0] * 255, p[1] * 255, p[2] * 255, p.length > 3 ? p[3] : 1];
    }
    ctx.clearRect(0, 0, 1, 1);  // any other syntax: let the canvas convert it
    ctx.fillStyle = "rgba(0, 0, 0, 0)";
    ctx.fillStyle = css;
    ctx.fillRect(0, 0, 1, 1);
    const d = ctx.getImageData(0, 0, 1, 1).data;
    return [d[0], d[1], d[2], d[3] / 255];
  };
  const over = (top, bottom) => {
    const a = top[3] + bottom[3] * (1 - top[3]);
    const mix = (i) => (top[i] * top[3] + bottom[i] * bottom[3] * (1 - top[3])) / a;
    return [mix(0), mix(1), mix(2), a];
  };
  const luminance = (c) => {
    const lin = (v) => ((v /= 255) <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
    return 0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2]);
  };
  const background = (el) => {
    const layers = [];
    for (let n = el; n; n = n.parentElement) {
      const c = parse(getComputedStyle(n).backgroundColor);
      if (c[3] > 0) layers.push(c);
      if (c[3] >= 1) break;
    }
    let acc = [255, 255, 255, 1];  // the canvas under an unpainted page
    for (const layer of layers.reverse()) acc = over(layer, acc);
    return acc;
  };
  const opacity = (el) => {
    let o = 1;
    for (let n = el; n; n = n.parentElement) o *= Number(getComputedStyle(n).opacity);
    return o;
  };
  const hex = (c) =>
    "#" + c.slice(0, 3).map((v) => Math.round(v).toString(16).padStart(2, "0")).join("");
  const ownText = (el) =>
    Array.from(el.childNodes).filter((n) => n.nodeType === 3).map((n) => n.textContent)
      .join("").trim();
  const top = document.querySelector(root);
  if (!top) throw new Error(`no element ${root}`);
  const found = [];
  for (const el of top.querySelectorAll(selector)) {
    const shown = el.getClientRects().length > 0 && getComputedStyle(el).visibility === "visible";
    if (!shown || !(ownText(el) || el.matches(always))) continue;
    const bg = background(el);
    const fg = parse(getComputedStyle(el).color);
    const text = over([fg[0], fg[1], fg[2], fg[3] * opacity(el)], bg);
    const [hi, lo] = [luminance(text), luminance(bg)].sort((a, b) => b - a);
    found.push({
      classes: Array.from(el.classList),
      element: [el.tagName.toLowerCase(), ...el.classList].join("."),
      text: ownText(el).slice(0, 30),
      color: hex(text),
      background: hex(bg),
      background_luminance: luminance(bg),
      ratio: Math.round(((hi + 0.05) / (lo + 0.05)) * 100) / 100,
    });
  }
  return found;
}"""


def _set_theme(lab: Any, theme: str) -> None:
    lab.page.evaluate(
        "(theme) => window.jupyterapp.commands.execute('apputils:change-theme', {theme})", theme
    )
    lab.page.wait_for_function(
        "(theme) => document.body.dataset.jpThemeName === theme", arg=theme, timeout=15_000
    )
    # The theme's stylesheet is in; let style recalculation and CSS transitions settle.
    lab.page.wait_for_timeout(400)


def _measure(lab: Any, root: str, selector: str, always: str = ":not(*)") -> list[dict]:
    return lab.page.evaluate(_CONTRAST, [root, selector, always])


def _below(rows: list[dict], minimum: float, where: str) -> list[str]:
    return [
        f"{where}: {row['element']} {row['text']!r} {row['color']} on {row['background']}"
        f" = {row['ratio']} < {minimum}"
        for row in rows
        if row["ratio"] < minimum
    ]


def test_text_and_tool_cards_are_readable_in_light_and_dark(lab):
    notebook = lab.server.write_notebook("themes.ipynb", CELLS)
    lab.open(notebook)
    lab.run_all()
    lab.wait_for(f"{VIEW}[data-status=error] .sw-tool[data-status=done]")
    lab.wait_for(f"{VIEW} .sw-error-message")
    reply = f"{CHAT} .sw-turn[data-role=assistant][data-status=complete]"
    lab.wait_for(f"{reply} .sw-tool[data-status=done]")
    view, chat = lab.page.locator(VIEW).first, lab.page.locator(CHAT).first

    problems: list[str] = []
    try:
        for theme in (LIGHT, DARK):
            _set_theme(lab, theme)
            name = "light" if theme == LIGHT else "dark"
            for root, locator in ((VIEW, view), (CHAT, chat)):
                where = f"{name} {root}"
                reading = _measure(lab, root, READING, always=".sw-tool, .sw-text")
                seen = {(row["element"], row["text"]) for row in reading}
                labels = [
                    row
                    for row in _measure(lab, root, LABELS)
                    if (row["element"], row["text"]) not in seen
                ]
                # Every kind of text is there to be measured (the selectors still match).
                kinds = {name for row in reading for name in row["classes"]}
                assert {"sw-text", "sw-tool", "sw-tool-name"} <= kinds, (where, kinds)
                assert any(row["element"].startswith("p") for row in reading), where
                assert labels, f"{where}: no tool-card labels found"
                # The widget follows the theme: light text on a dark background and back.
                text_block = next(r for r in reading if "sw-text" in r["classes"])
                dark_bg = text_block["background_luminance"] < 0.2
                assert dark_bg == (theme == DARK), f"{where}: background {text_block}"
                problems += _below(reading, READING_MIN, where)
                problems += _below(labels, LABEL_MIN, where)
                locator.scroll_into_view_if_needed()
                lab.screenshot(f"{'chat' if root == CHAT else 'weather'}-{name}", locator)
    finally:
        _set_theme(lab, LIGHT)
    assert not problems, "text too faint to read:\n" + "\n".join(problems)
    assert lab.page_errors == []
