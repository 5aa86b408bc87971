// Bundle the front end with esbuild into src/streamwidget/static/.
//
//   node build.mjs           one minified build
//   node build.mjs --watch   rebuild on change (unminified, inline source maps)
//
// Two outputs (every dependency bundled: nothing is loaded from the network at run time):
// - `static/bundle.js` + `static/bundle.css`: every view (src/bundle.ts). They cross iopub once
//   per kernel inside the shared asset model (widgets/base.py), never in a widget's `_esm`;
// - `static/loader.js`: every widget's `_esm`, a few hundred bytes that import the bundle once
//   per page (src/loader.ts).
// Add new views to src/bundle.ts.

import * as esbuild from "esbuild";
import { fileURLToPath } from "node:url";

export const ENTRIES = ["bundle", "loader"];

const here = (path) => fileURLToPath(new URL(path, import.meta.url));
const watch = process.argv.includes("--watch");

const options = {
  entryPoints: Object.fromEntries(ENTRIES.map((name) => [name, here(`./src/${name}.ts`)])),
  outdir: here("../src/streamwidget/static"),
  bundle: true,
  format: "esm",
  target: "es2020",
  platform: "browser",
  minify: !watch,
  sourcemap: watch ? "inline" : false,
  legalComments: "eof",
  logLevel: "info",
};

if (watch) {
  const context = await esbuild.context(options);
  await context.watch();
} else {
  await esbuild.build(options); // logLevel "info" prints each output file and its size
}
