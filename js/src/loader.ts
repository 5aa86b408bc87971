// Every streamwidget widget's `_esm`: a few hundred bytes instead of the ~200 kB bundle.
//
// The widget's `_bundle` trait names the shared asset model ("IPY_MODEL_<id>", see
// widgets/base.py), which holds the bundle's code and CSS. `initialize` gets that model through
// the widget manager, imports the code from a Blob URL (once per page per bundle version,
// whichever kernel or notebook sent it), adds the CSS once, then hands the widget to the view
// factory named by its `_sw_view` trait. No imports: this file is the whole module.

type Ctx = { model: LoaderModel; el?: HTMLElement; [key: string]: unknown };
type Cleanup = void | (() => void) | Promise<void | (() => void)>;
type Widget = { initialize?(ctx: Ctx): Cleanup; render?(ctx: Ctx): Cleanup };
type Bundle = { views: Record<string, () => Widget | Promise<Widget>> };

interface AssetModel {
  get(key: "code" | "css" | "version"): string;
}

interface LoaderModel {
  get(key: string): unknown;
  widget_manager: { get_model(id: string): Promise<AssetModel> };
}

/** The asset model (`_bundle` is "IPY_MODEL_<id>"). A page restoring a saved notebook may
 * register it a moment later than this widget: try again for a second and a half. */
async function assetOf(model: LoaderModel, attempt = 0): Promise<AssetModel> {
  try {
    return await model.widget_manager.get_model(String(model.get("_bundle")).slice(10));
  } catch (error) {
    if (attempt > 30) throw error;
    await new Promise((resolve) => setTimeout(resolve, 50));
    return assetOf(model, attempt + 1);
  }
}

/** Import the asset's code once per page and version; add its CSS to the page then. */
function importBundle(asset: AssetModel): Promise<Bundle> {
  const cache: Record<string, Promise<Bundle>> = ((globalThis as any).__streamwidget__ ??= {});
  const version = asset.get("version");
  return (cache[version] ??= (async () => {
    const style = document.createElement("style");
    style.textContent = asset.get("css");
    document.head.append(style);
    const url = URL.createObjectURL(new Blob([asset.get("code")], { type: "text/javascript" }));
    return import(url).finally(() => URL.revokeObjectURL(url));
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
        const { views } = await importBundle(await assetOf(ctx.model));
        inner = await views[String(ctx.model.get("_sw_view"))]();
      } catch (error) {
        return console.error((failure = error));
      }
      return (await inner.initialize?.(ctx)) ?? undefined;
    },
    render(ctx: Ctx): Cleanup {
      if (inner) return inner.render?.(ctx);
      ctx.el!.textContent = `streamwidget: the front end did not load (${failure})`;
    },
  };
};
