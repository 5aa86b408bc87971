"""Make the README's pictures in a real JupyterLab driven by headless chromium.

    python scripts/readme_images.py                # docs/img/stream-view.png, chat.png, player.png
    python scripts/readme_images.py --animation    # also docs/img/chat-animated.png
    python scripts/readme_images.py --out DIR      # write somewhere else

Run it with the interpreter that has ``streamwidget[test]`` (``.venv/bin/python`` after
``make test``) and Debian's chromium. The pictures use JupyterLab's light theme, are cropped to
the widget, about 900 px wide, and play only the recordings bundled with streamwidget.
The animation is an animated PNG assembled with Pillow (skipped, with a message, without it).

How: this file is also a pytest module. ``main()`` runs pytest on it with the browser-test
harness (``tests/browser/conftest.py``) loaded as a plugin, so the pictures come from the same
server, browser and page helpers as the browser tests. It is not part of the test suite
(pytest's ``testpaths`` is ``tests/``).
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import itertools
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
HARNESS = REPO_ROOT / "tests" / "browser" / "conftest.py"
OUT_ENV = "STREAMWIDGET_README_IMAGES"
ANIMATION_ENV = "STREAMWIDGET_README_ANIMATION"

WIDTH = 900  # px, the widget's width in the pictures
VIEWPORT_HEIGHT = 1300  # px, so that every picture fits in the window
STATUS_BAR = 30  # px, JupyterLab's status bar at the bottom of the window
MAX_BYTES = 200_000
ANIMATION_HEIGHT = 640  # px, the chat with its log at its full height
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"


# --- helpers ------------------------------------------------------------------------------


def _out_dir() -> Path:
    path = Path(os.environ.get(OUT_ENV, REPO_ROOT / "docs" / "img"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def _prepare(lab: Any, name: str, cells: list[str]) -> None:
    """Write a notebook, open it, and size the window so outputs are WIDTH px wide."""
    notebook = lab.server.write_notebook(name, [("code", source) for source in cells])
    lab.open(notebook)
    editor = lab.page.locator(f"{PANEL} .jp-Cell .jp-InputArea-editor").first
    width = editor.bounding_box()["width"]
    viewport = lab.page.viewport_size
    lab.page.set_viewport_size(
        {"width": viewport["width"] + round(WIDTH - width), "height": VIEWPORT_HEIGHT}
    )
    # A still caret and still status dots (no frame catches them half-faded); no notebook
    # footer under the last cell.
    lab.page.emulate_media(reduced_motion="reduce")
    lab.page.add_style_tag(content=".jp-Notebook-footer { visibility: hidden; }")
    lab.page.mouse.move(0, 0)
    lab.page.wait_for_timeout(300)


def _png(image: bytes, path: Path) -> Path:
    """Write a PNG; when Pillow is there, recompress it (and reduce colours if still large)."""
    try:
        from PIL import Image
    except ImportError:
        path.write_bytes(image)
        return path
    picture = Image.open(io.BytesIO(image)).convert("RGB")
    picture.save(path, optimize=True)
    if path.stat().st_size > MAX_BYTES:
        picture.quantize(colors=256, dither=Image.Dither.NONE).save(path, optimize=True)
    return path


# Scroll the notebook so that the element's top is `margin` px below the top of the notebook's
# scrolling area (JupyterLab's body itself never scrolls).
_SCROLL_TO = """(el, margin) => {
  let box = el.parentElement;
  while (box && !(box.scrollHeight > box.clientHeight
                  && /(auto|scroll)/.test(getComputedStyle(box).overflowY))) {
    box = box.parentElement;
  }
  const top = (node) => node.getBoundingClientRect().top;
  if (box) box.scrollTop += top(el) - top(box) - margin;
}"""


# The bottom (relative to the element's top) of its last text block that ends within `limit` px.
_LAST_BLOCK_END = """(el, limit) => {
  const top = el.getBoundingClientRect().top;
  let end = 0;
  for (const block of el.querySelectorAll("p, li, pre, h1, h2, h3, h4, blockquote, table")) {
    const bottom = block.getBoundingClientRect().bottom - top;
    if (bottom <= limit - 6 && bottom > end) end = bottom;
  }
  return end || limit - 6;
}"""


def _clip(lab: Any, locator: Any, max_height: int | None = None) -> dict[str, float]:
    """The widget's box in the viewport (its top ``max_height`` px at most)."""
    locator.evaluate(_SCROLL_TO, 20)
    lab.page.mouse.move(0, 0)  # no hover styles in the picture
    lab.page.wait_for_timeout(200)
    box = locator.bounding_box()
    height = box["height"]
    if max_height is not None and height > max_height:
        # Cut under the last paragraph, list item, heading or code block that fits.
        height = locator.evaluate(_LAST_BLOCK_END, max_height) + 6
    clip = {"x": box["x"], "y": box["y"], "width": box["width"], "height": height}
    viewport = lab.page.viewport_size
    assert clip["y"] + clip["height"] <= viewport["height"] - STATUS_BAR, "taller than the window"
    return clip


def _shoot(lab: Any, locator: Any, name: str, max_height: int | None = None) -> Path:
    """A picture of ``locator`` (its top ``max_height`` px at most) in the output dir."""
    clip = _clip(lab, locator, max_height)
    path = _png(lab.page.screenshot(clip=clip), _out_dir() / name)
    size = path.stat().st_size
    print(f"\n{path}: {round(clip['width'])} x {round(clip['height'])} px, {size // 1000} KB")
    assert size < MAX_BYTES, f"{path} is {size} bytes"
    return path


# --- the pictures -------------------------------------------------------------------------


def test_stream_view(lab):
    """A replay caught mid-stream: a list, then a code block highlighted as it arrives."""
    _prepare(
        lab,
        "readme-stream-view.ipynb",
        ['import streamwidget as sw\n\nsw.replay("code-review")'],
    )
    lab.run_all()
    lab.wait_for(".sw-stream[data-status=streaming] .sw-text")
    lab.page.wait_for_function(
        "() => (document.querySelector('.sw-stream .sw-text pre code')?.innerText || '')"
        ".includes('for line in f')",
        timeout=60_000,
    )
    _shoot(lab, lab.page.locator(".sw-stream").first, "stream-view.png", max_height=820)


def test_chat(lab):
    """A chat whose reply called a tool: the user's bubble, the tool card, the answer."""
    _prepare(
        lab,
        "readme-chat.ipynb",
        [
            "import streamwidget as sw\n\n\n"
            "@sw.tool\n"
            "def get_weather(city: str, unit: str = 'celsius') -> dict:\n"
            '    """Current weather for a city."""\n'
            "    return {'city': city, 'temperature': 19, 'unit': unit,\n"
            "            'conditions': 'sunny'}\n\n\n"
            "chat = sw.Chat('demo:tools', tools=[get_weather])\n"
            "chat",
            '(await chat.send("What\'s the weather in Lisbon?")).status',
        ],
    )
    lab.run_all()
    reply = ".sw-chat .sw-turn[data-role=assistant][data-status=complete]"
    lab.wait_for(f"{reply} .sw-tool[data-status=done]")
    lab.page.locator(f"{reply} .sw-tool .sw-tool-args > summary").click()  # show the arguments
    _shoot(lab, lab.page.locator(".sw-chat").first, "chat.png")


def test_player(lab):
    """The player at the start of the recording's first stall, with its timing strip."""
    _prepare(
        lab,
        "readme-player.ipynb",
        [
            "import streamwidget as sw\n\n"
            'player = sw.Player("markdown-tour")\n'
            "player.seek_time(player.timing.stalls[0][0])\n"
            "player",
        ],
    )
    lab.run_all()
    lab.wait_for(".sw-player .sw-strip")
    lab.page.wait_for_function(
        "() => Number(document.querySelector('.sw-player')?.dataset.position) > 0"
    )
    # Show the document where the cursor is: the end of the text so far.
    lab.page.locator(".sw-player .sw-player-scroll").first.evaluate(
        "el => { el.scrollTop = el.scrollHeight; }"
    )
    lab.page.wait_for_timeout(300)
    _shoot(lab, lab.page.locator(".sw-player").first, "player.png", max_height=640)


def test_animation(lab):
    """Optional: type a question into a Chat and watch the reply stream (an animated PNG)."""
    if not os.environ.get(ANIMATION_ENV):
        pytest.skip("pass --animation to make the animated picture")
    try:
        from PIL import Image, ImageChops
    except ImportError:
        pytest.skip("the animation needs Pillow (pip install pillow)")
    _prepare(lab, "readme-animation.ipynb", ["import streamwidget as sw\n\nsw.Chat()"])
    lab.run_all()
    box = lab.wait_for(".sw-chat .sw-input")
    chat = lab.page.locator(".sw-chat").first
    clip = {**_clip(lab, chat), "height": ANIMATION_HEIGHT}
    frames: list[tuple[Any, float]] = []

    def capture() -> None:
        frame = Image.open(io.BytesIO(lab.page.screenshot(clip=clip))).convert("RGB")
        if not frames or ImageChops.difference(frame, frames[-1][0]).getbbox() is not None:
            frames.append((frame, time.monotonic()))  # unchanged frames just last longer

    box.click()
    lab.page.mouse.move(0, 0)
    capture()
    question = "Can you review my code?"  # the demo model answers with the code review
    for start in range(0, len(question), 3):
        box.type(question[start : start + 3])
        capture()
    box.press("Enter")
    # Until the reply fills the chat's log: from there on the log scrolls with the text, every
    # frame would differ everywhere, and the file would grow tenfold.
    log = chat.locator(".sw-chat-log")
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        full = log.evaluate("el => el.scrollHeight > el.clientHeight + 2")
        capture()
        if full:
            break
    assert len(frames) > 10, "the chat did not visibly progress"
    times = [t for _, t in frames] + [frames[-1][1] + 3.0]  # hold the end for 3 s
    durations = [round((b - a) * 1000) for a, b in itertools.pairwise(times)]
    # One palette for every frame (from the first and the last together; "max coverage" keeps
    # the white exact), so that pixels that did not change keep their index and each frame
    # stores only the region that changed.
    sample = Image.new("RGB", (clip["width"], 2 * ANIMATION_HEIGHT), "white")
    sample.paste(frames[0][0], (0, 0))
    sample.paste(frames[-1][0], (0, ANIMATION_HEIGHT))
    palette = sample.quantize(colors=128, method=Image.Quantize.MAXCOVERAGE)
    images = [frame.quantize(palette=palette, dither=Image.Dither.NONE) for frame, _ in frames]
    path = _out_dir() / "chat-animated.png"
    images[0].save(
        path, save_all=True, append_images=images[1:], duration=durations, loop=0, optimize=True
    )
    size = path.stat().st_size
    print(f"\n{path}: {len(images)} frames, {sum(durations) / 1000:.1f} s, {size // 1000} KB")
    assert size < MAX_BYTES, f"{path} is {size} bytes"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="output directory (default: docs/img)")
    parser.add_argument(
        "--animation", action="store_true", help="also make chat-animated.png (Pillow)"
    )
    args = parser.parse_args(argv)
    if args.out:
        os.environ[OUT_ENV] = str(args.out.resolve())
    if args.animation:
        os.environ[ANIMATION_ENV] = "1"
    spec = importlib.util.spec_from_file_location("streamwidget_browser_harness", HARNESS)
    assert spec is not None and spec.loader is not None
    harness = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(harness)
    return pytest.main(
        [str(Path(__file__).resolve()), "-q", "-s", "-p", "no:cacheprovider", "-o", "addopts="],
        plugins=[harness],
    )


if __name__ == "__main__":
    sys.exit(main())
