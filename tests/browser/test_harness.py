"""The browser harness itself, on throwaway notebooks written into the server's temp root.

These prove the chain the widget tests rely on: JupyterLab serves a notebook, chromium opens
it, Run All runs it in a real kernel, and widget output (ipywidgets and anywidget, both bundled
and served offline) renders and follows kernel-side changes.
"""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

ANYWIDGET_PROBE = '''\
import anywidget
import traitlets


class Probe(anywidget.AnyWidget):
    _esm = """
    function render({ model, el }) {
      el.classList.add("sw-harness-any");
      const show = () => { el.textContent = `anywidget n=${model.get("n")}`; };
      show();
      model.on("change:n", show);
      return () => model.off("change:n", show);
    }
    export default { render };
    """
    n = traitlets.Int(1).tag(sync=True)


probe = Probe()
probe'''


def test_notebook_runs_and_widgets_render(lab):
    notebook = lab.server.write_notebook(
        "harness.ipynb",
        [
            ("markdown", "# Harness notebook"),
            (
                "code",
                'import os\nprint("harness: kernel says hello")\nos.environ["STREAMWIDGET_STORE"]',
            ),
            (
                "code",
                "import ipywidgets\n"
                "ipywidgets.HTML(\"<b class='sw-harness-html'>ipywidgets HTML rendered</b>\")",
            ),
            ("code", ANYWIDGET_PROBE),
            ("code", "probe.n = 42"),
        ],
    )
    lab.open(notebook)
    lab.run_all(timeout=90)

    html = lab.wait_for(".sw-harness-html", timeout=30)
    assert html.inner_text() == "ipywidgets HTML rendered"
    probe = lab.wait_for(".sw-harness-any", timeout=30)
    # The trait set in the last cell reaches the front end that rendered the widget.
    lab.page.wait_for_function(
        "() => document.querySelector('.sw-harness-any')?.textContent === 'anywidget n=42'",
        timeout=30_000,
    )
    assert probe.inner_text() == "anywidget n=42"

    outputs = lab.outputs_text()
    assert "harness: kernel says hello" in outputs
    # The kernel got the server's throwaway store, never the user's.
    assert str(lab.server.store) in outputs
    assert lab.page_errors == []

    shot = lab.screenshot("notebook")
    assert shot.stat().st_size > 10_000


def test_kernel_dialog_is_accepted_and_errors_are_reported(lab):
    """No kernelspec in the notebook: JupyterLab asks for a kernel and the harness accepts.

    A cell that raises makes ``run_all`` fail loudly with the traceback text.
    """
    notebook = lab.server.write_notebook(
        "no-kernelspec.ipynb",
        [("code", "1 + 1"), ("code", "raise ValueError('sw-harness-boom')")],
        kernel=None,
    )
    lab.open(notebook)
    with pytest.raises(AssertionError, match="sw-harness-boom"):
        lab.run_all(timeout=60)
    assert "2" in lab.outputs_text()

    lab.page.evaluate("console.error('sw-harness-console-probe')")
    assert any("sw-harness-console-probe" in line for line in lab.console)
