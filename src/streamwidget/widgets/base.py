"""The base of every streamwidget widget: the front-end code crosses iopub once per kernel.

An anywidget ships its ``_esm``/``_css`` in its comm_open and in the notebook's saved widget
state. With the ~200 kB bundle as every widget's ``_esm``, a notebook of 20 replies carried it
20 times. Here instead:

- one :class:`Bundle` widget model per kernel (no view) holds the bundle's code and CSS
  (gzip-compressed) and a version hash; it is opened before the first widget and saved once
  in the notebook;
- every :class:`BundledWidget`'s ``_esm`` is the same small loader (``static/loader.js``, from
  ``js/src/loader.ts``); its ``_bundle`` trait refers to the Bundle model (``IPY_MODEL_<id>``),
  and ``_sw_view`` names the view in the bundle. The loader gets the Bundle through the
  widget manager and imports its code once per page and version, whatever the number of
  widgets, notebooks or kernels.

A reloaded notebook works the same way: the widget manager restores the Bundle model from the
saved state like any other model.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

import anywidget
import ipywidgets
import traitlets

STATIC = Path(__file__).resolve().parent.parent / "static"

_NOT_BUILT = """export default { render({ el }) {
  el.textContent = "streamwidget: the front end is not built (%s is missing). "
    + "Reinstall the package, or run `npm run build` in js/ for a development checkout.";
} };"""


def front_end(name: str) -> str:
    """The text of the built ``static/<name>``, or a module that says it is missing."""
    path = STATIC / name
    text = path.read_text(encoding="utf-8") if path.exists() else _NOT_BUILT % name
    # a one-line module could pass for a file name with anywidget (it reads `_esm` files)
    return text if text.endswith("\n") else text + "\n"


@cache
def _bundle_files() -> tuple[str, str, str]:
    """Code, CSS and a version hash of the built bundle (read once per process)."""
    code = front_end("bundle.js")
    css_path = STATIC / "bundle.css"
    css = css_path.read_text(encoding="utf-8") if css_path.exists() else ""
    version = hashlib.sha256((code + "\0" + css).encode()).hexdigest()[:16]
    return code, css, version


@cache
def _compressed_bundle() -> tuple[str, str, str]:
    """The bundle as the Bundle model ships it: code and CSS gzip-compressed, base64-encoded
    (0.4 of the code's size, a fifth of the CSS's)."""
    code, css, version = _bundle_files()
    return _gzip64(code), _gzip64(css), version


def _gzip64(text: str) -> str:
    return base64.b64encode(gzip.compress(text.encode(), compresslevel=9, mtime=0)).decode()


class Bundle(ipywidgets.Widget):
    """The front-end bundle as a widget model with no view, shared by every widget of the
    kernel (see :func:`shared_bundle`). Its code and CSS are gzip-compressed and base64-encoded
    text, which the loader decodes in the page. (Text, not binary buffers: every widget
    manager saves and restores a string the same way.)"""

    code = traitlets.Unicode("").tag(sync=True)
    css = traitlets.Unicode("").tag(sync=True)
    #: A hash of code and CSS: the page imports each version once.
    version = traitlets.Unicode("").tag(sync=True)

    def __repr__(self) -> str:
        size = len(self.code) + len(self.css)
        return f"Bundle(version={self.version!r}, {size:,} characters of gzip+base64)"


_shared: Bundle | None = None


def shared_bundle() -> Bundle:
    """This kernel's :class:`Bundle`, opened on first use (again if it was closed)."""
    global _shared
    if _shared is None or _shared.comm is None:
        code, css, version = _compressed_bundle()
        _shared = Bundle(code=code, css=css, version=version)
    return _shared


class SharedLayout(ipywidgets.Layout):
    """The default layout of every streamwidget widget: one model per kernel, not one per
    widget (a Layout model is ~1 kB in each comm_open and in the saved notebook). It cannot
    be changed: pass ``layout=`` to give one widget a layout of its own."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._sealed = True

    def __setattr__(self, name: str, value: Any) -> None:
        if getattr(self, "_sealed", False) and name in self.keys and not name.startswith("_"):
            raise TypeError(
                "streamwidget widgets share this default layout: give a widget one of its own "
                f"with layout=, e.g. StreamView(..., layout={{{name!r}: {value!r}}})"
            )
        super().__setattr__(name, value)


_shared_layout: SharedLayout | None = None


def shared_layout() -> SharedLayout:
    """This kernel's :class:`SharedLayout`, opened on first use (again if it was closed)."""
    global _shared_layout
    if _shared_layout is None or _shared_layout.comm is None:
        _shared_layout = SharedLayout()
    return _shared_layout


class BundledWidget(anywidget.AnyWidget):
    """An anywidget whose front end is the view ``VIEW`` of the shared bundle."""

    #: The view's name in ``js/src/bundle.ts``.
    VIEW: ClassVar[str] = ""

    _esm = front_end("loader.js")
    _sw_view = traitlets.Unicode("").tag(sync=True)
    _bundle = traitlets.Instance(Bundle, allow_none=True).tag(
        sync=True, **ipywidgets.widget_serialization
    )

    def __init__(self, **kwargs: Any) -> None:
        # the Bundle's comm_open goes out first, so the front end knows it when this one opens
        kwargs.setdefault("layout", shared_layout())
        super().__init__(_sw_view=self.VIEW, _bundle=shared_bundle(), **kwargs)


class WithFallback(BundledWidget):
    """A widget whose output also carries ``text/plain`` and safe ``text/markdown`` of what it
    shows, for places where no widget front end runs (GitHub, nbviewer, nbconvert, a
    terminal). Shown with a display id, so :meth:`_update_displays` can bring the saved
    output up to date (subclasses call it when what they show has settled)."""

    def _fallback(self) -> dict[str, str]:
        """``{"text/plain": ..., "text/markdown": ...}`` of what the widget shows now."""
        raise NotImplementedError

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        """The widget view, plus the fallback for static renderers."""
        widget = super()._repr_mimebundle_(**kwargs)
        data = dict(widget[0] if isinstance(widget, tuple) else widget or {})
        data.update(self._fallback())
        return data

    def _ipython_display_(self) -> None:
        from IPython.display import display

        displays = self.__dict__.setdefault("_displays", [])
        displays.append(display(self._repr_mimebundle_(), raw=True, display_id=True))

    def _update_displays(self) -> None:
        for handle in self.__dict__.get("_displays", []):
            if handle is not None:
                handle.update(self._repr_mimebundle_(), raw=True)
