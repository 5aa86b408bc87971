// The anywidget entry both StreamView and Chat export: `initialize` connects the model once
// (buffers, caches, message handlers shared by all its views), `render` mounts a view on that.

/** What `connect` returns: shared per model, undone by `dispose`. */
export interface Disposable {
  dispose(): void;
}

/**
 * An anywidget module: `connect(model)` once per model in `initialize`, `mount(model, el,
 * shared)` per view (it returns the unmount function).
 */
export function sharedWidget<M, S extends Disposable>(
  connect: (model: M) => S,
  mount: (model: M, el: HTMLElement, shared: S) => () => void,
) {
  return () => {
    let shared: S | null = null;
    return {
      initialize({ model }: { model: M }) {
        shared = connect(model);
        const mine = shared;
        return () => {
          mine.dispose();
          if (shared === mine) shared = null;
        };
      },
      render({ model, el }: { model: M; el: HTMLElement }) {
        // anywidget always initializes first; a private connection keeps render usable alone.
        const own = shared ? null : connect(model);
        const unmount = mount(model, el, (shared ?? own)!);
        return () => {
          unmount();
          own?.dispose();
        };
      },
    };
  };
}
