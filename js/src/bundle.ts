// The one front-end bundle: every view's factory, keyed by the name a widget's `_view` trait
// holds. It is not any widget's `_esm`: it crosses iopub once per kernel inside the shared
// asset model (widgets/base.py), and loader.ts imports it once per page.

import chat from "./chat";
import compare from "./compare";
import player from "./player";
import stream_view from "./stream_view";

export const views = { chat, compare, player, stream_view };
