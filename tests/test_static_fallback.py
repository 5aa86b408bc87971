"""Where no widget front end runs, a stream shows its document as text and safe markdown."""

from __future__ import annotations

import os
import subprocess
import sys

import nbformat
import pytest

import streamwidget
from streamwidget import Document, Recording, ReplayProvider, Store, StreamView, start
from streamwidget.widgets import static

SRC = os.path.dirname(os.path.dirname(streamwidget.__file__))


def doc_with(text: str) -> Document:
    return Document.from_events([{"t": 0.0, "type": "text", "text": text}], model="m")


def test_markdown_escapes_raw_html_but_not_code():
    md = static.markdown(doc_with("a <script>x()</script> `<b>` and\n```html\n<i>ok</i>\n```\n"))
    assert "&lt;script&gt;" in md and "<script>" not in md
    assert "`<b>`" in md and "<i>ok</i>" in md


@pytest.mark.parametrize("link", ["javascript:alert(1)", "data:text/html,hi", "vbscript:x"])
def test_markdown_drops_unsafe_link_targets(link):
    md = static.markdown(doc_with(f"see [here]({link}) and [docs](https://example.org)"))
    assert link.split(":")[0] + ":" not in md
    assert "[docs](https://example.org)" in md


def test_images_become_links_so_nothing_loads_by_itself():
    md = static.markdown(doc_with("![chart](https://host.example/chart.png)"))
    assert "![" not in md and "[chart](https://host.example/chart.png)" in md


def test_the_mimebundle_carries_the_document_for_static_renderers(comms):
    store = Store(":memory:")
    doc = start(ReplayProvider(Recording.bundled("weather-tool-error"), speed=0), store=store).wait(
        10
    )
    bundle = StreamView(doc.stream_id, store=store)._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert doc.text.splitlines()[0] in bundle["text/plain"]
    assert "get_weather" in bundle["text/markdown"] and "overloaded" in bundle["text/markdown"]


@pytest.mark.slow
def test_nbconvert_html_export_shows_the_final_text(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "import streamwidget as sw\nview = sw.replay('hello', speed=20)\nview"
        ),
        nbformat.v4.new_code_cell("await view.handle"),
    ]
    path = tmp_path / "static.ipynb"
    nbformat.write(nb, path)
    env = {
        **os.environ,
        "STREAMWIDGET_STORE": str(tmp_path / "s.duckdb"),
        "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "jupyter",
            "nbconvert",
            "--to",
            "html",
            "--execute",
            str(path),
            "--output-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    assert out.returncode == 0, out.stderr
    html = (tmp_path / "static.html").read_text()
    final = Recording.bundled("hello").document().text
    last_words = " ".join(final.split()[-4:])
    assert last_words in html.replace("\n", " "), "the final text is not in the export"


def test_headings_become_bold_lines_so_replies_stay_out_of_the_notebook_outline():
    text = (
        "# Title\nprose\n\nSub\n---\n\n- item\n---\n\n```\n# a comment\n```\n## Two ##\nSetext\n==="
    )
    doc = Document(stream_id="s")
    doc.apply({"type": "text", "text": text, "t": 0})
    lines = static.markdown(doc).split("\n")
    assert "**Title**" in lines and "**Sub**" in lines and "**Two**" in lines
    assert "**Setext**" in lines and "===" not in lines
    assert "# a comment" in lines  # code stays as it is
    assert "- item" in lines and lines.count("---") == 1  # a list item then a rule
    assert [line for line in lines if line.startswith("#")] == ["# a comment"]
