// Every streamwidget widget's `_esm`: a few hundred bytes instead of the bundle.
//
// The widget's `_bundle` trait names the shared asset model ("IPY_MODEL_<id>", see
// widgets/base.py), which holds the bundle's code and CSS, gzip-compressed and base64-encoded.
// `initialize` gets
// that model through the widget manager, imports the code from a Blob URL once per page per
// bundle version (whichever kernel or notebook sent it), adds the CSS then, and hands the
// widget to the view factory named by its `_sw_view` trait. No imports: this file is the
// whole module, copied into every widget's saved state, so it is kept short.

type Ctx = { model: LoaderModel; el?: HTMLElement; [key: string]: unknown };
type Cleanup = void | (() => void) | Promise<void | (() => void)>;
type Widget = { initialize?(ctx: Ctx): Cleanup; render?(ctx: Ctx): Cleanup };
type Bundle = { views: Record<string, () => Widget | Promise<Widget>> };
type AssetModel = { get(key: string): unknown };
type LoaderModel = AssetModel & {
  widget_manager: { get_model(id: string): Promise<AssetModel> };
};

/** A field of the asset model (gzip-compressed, base64-encoded), as text. */
const gunzip = (value: unknown): Promise<string> =>
  new Response(
    new Blob([Uint8Array.from(atob(String(value)), (c) => c.charCodeAt(0))])
      .stream()
      .pipeThrough(new DecompressionStream("gzip")),
  ).text();

/** The asset model; a page restoring a saved notebook may register it a moment after this
 * widget, so try again for a second and a half. Then its code, imported once per version. */
async function load(model: LoaderModel): Promise<Bundle> {
  let asset: AssetModel | undefined;
  for (let attempt = 0; !asset; attempt++) {
    asset = await model.widget_manager
      .get_model(String(model.get("_bundle")).slice(10))
      .catch((error) => {
        if (attempt > 30) throw error;
        return new Promise<undefined>((resolve) => setTimeout(resolve, 50));
      });
  }
  const cache: Record<string, Promise<Bundle>> = ((globalThis as any).__streamwidget__ ??= {});
  const version = String(asset.get("version"));
  return (cache[version] ??= (async () => {
    const style = document.createElement("style");
    style.textContent = await gunzip(asset.get("css"));
    document.head.append(style);
    const code = await gunzip(asset.get("code"));
    // one Blob URL per page and version, kept: a module's URL must stay valid
    return import(URL.createObjectURL(new Blob([code], { type: "text/javascript" })));
  })().catch((error) => {
    delete cache[version]; // a failed load may be tried again
    throw error;
  }));
}

export default () => {
  let inner: Widget | undefined;
  let failure: unknown;
  return {
    async initialize(ctx: Ctx): Promise<void | (() => void)> {
      try {
        inner = await (await load(ctx.model)).views[String(ctx.model.get("_sw_view"))]();
      } catch (error) {
        return console.error((failure = error));
      }
      return (await inner.initialize?.(ctx)) ?? undefined;
    },
    render(ctx: Ctx): Cleanup {
      if (inner) return inner.render?.(ctx);
      ctx.el!.textContent = `streamwidget did not load: ${failure}`;
    },
  };
};
