"""The front-end bundle crosses iopub once per kernel (widgets/base.py): one Bundle model holds
the code and CSS; every widget's comm_open carries only the small loader and a reference."""

from __future__ import annotations

import base64
import gzip
import json
import re
from pathlib import Path

import pytest

from streamwidget import Chat, Recording, ReplayProvider, Store, StreamView, start
from streamwidget.widgets import Compare, Player, base

JS = Path(__file__).resolve().parents[1] / "js" / "src"


@pytest.fixture
def fresh_bundle(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start without a Bundle and a shared Layout, as a new kernel does."""
    monkeypatch.setattr(base, "_shared", None)
    monkeypatch.setattr(base, "_shared_layout", None)


def opens(comms) -> list[dict]:
    return [m["data"] for c in comms for m in c.messages if m["msg_type"] == "comm_open"]


def test_many_widgets_open_one_bundle_and_small_comms(comms, fresh_bundle):
    store = Store(":memory:")
    handles = [
        start(ReplayProvider(Recording.bundled(name), speed=1), store=store)
        for name in ("hello", "markdown-tour", "code-review")
    ]
    widgets = [StreamView(h, store=store) for h in handles]
    widgets.append(Chat(store=store))
    widgets.append(Player("hello", store=store))
    widgets.append(Compare("hello", "markdown-tour", store=store))
    states = [o["state"] for o in opens(comms)]
    bundles = [s for s in states if s.get("version")]
    assert len(bundles) == 1, "one Bundle model, whatever the number of widgets"
    layouts = [s for s in states if s.get("_model_name") == "LayoutModel"]
    assert len(layouts) == 1, "one Layout model too"
    code, css, version = base._bundle_files()
    # code and CSS travel gzip-compressed, base64-encoded
    assert gzip.decompress(base64.b64decode(bundles[0]["code"])).decode() == code
    assert gzip.decompress(base64.b64decode(bundles[0]["css"])).decode() == css
    assert len(bundles[0]["code"]) < len(code.encode()) / 2
    assert bundles[0]["version"] == version
    bundle_id = base.shared_bundle().model_id
    views = [s for s in states if s.get("_sw_view")]
    assert [s["_sw_view"] for s in views] == [w.VIEW for w in widgets]
    for state in views:
        assert state["_bundle"] == f"IPY_MODEL_{bundle_id}"
        assert state["_esm"] == base.front_end("loader.js") and len(state["_esm"]) < 1500
        assert not state.get("_css")
    # a view opened before its stream has text, and an empty chat: what is left is fixed cost
    # (Player and Compare carry their recordings' content in their state)
    for state in views[:4]:
        assert len(json.dumps(state)) < 5000, state["_sw_view"]


def test_a_closed_bundle_is_opened_again(comms, fresh_bundle):
    first = base.shared_bundle()
    assert base.shared_bundle() is first
    first.close()
    second = base.shared_bundle()
    assert second is not first and second.comm is not None
    view = StreamView(start(ReplayProvider(Recording.bundled("hello"), speed=0)).id)
    assert view._bundle is second


def test_every_python_view_is_in_the_bundle():
    """``VIEW`` names the factory the loader picks from js/src/bundle.ts."""
    source = (JS / "bundle.ts").read_text()
    exported = re.search(r"export const views = \{([^}]*)\}", source)
    assert exported is not None
    names = {name.strip() for name in exported.group(1).split(",")}
    assert {StreamView.VIEW, Chat.VIEW, Player.VIEW, Compare.VIEW} == names
    loader = (JS / "loader.ts").read_text()
    assert '"_sw_view"' in loader and '"_bundle"' in loader


def test_the_esm_is_never_mistaken_for_a_file_name():
    # anywidget reads a one-line `_esm` that ends like a file name as a path
    assert base.front_end("loader.js").endswith("\n")
    assert "\n" in base.front_end("no-such-file.js")


def test_widgets_share_a_layout_that_says_how_to_get_one_of_their_own(comms, fresh_bundle):
    store = Store(":memory:")
    stream_id = start(ReplayProvider(Recording.bundled("hello"), speed=0), store=store).id
    one, two = StreamView(stream_id, store=store), StreamView(stream_id, store=store)
    assert one.layout is two.layout
    with pytest.raises(TypeError, match=r"layout=.*'width': '50%'"):
        one.layout.width = "50%"
    own = StreamView(stream_id, store=store, layout={"width": "50%"})
    assert own.layout is not one.layout and own.layout.width == "50%"
    own.layout.height = "10em"  # a layout of its own can change
    assert one.layout.height is None


def test_widgets_and_the_shared_pieces_close(comms, fresh_bundle):
    store = Store(":memory:")
    stream_id = start(ReplayProvider(Recording.bundled("hello"), speed=0), store=store).id
    view = StreamView(stream_id, store=store)
    layout, bundle = view.layout, view._bundle
    view.close()
    layout.close()  # e.g. Widget.close_all() at shutdown
    bundle.close()
    assert layout.comm is None and bundle.comm is None
    again = StreamView(view.stream_id, store=store)
    assert again.layout is not layout and again.layout.comm is not None
    assert again._bundle is not bundle and again._bundle.comm is not None
