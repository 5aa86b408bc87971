// Bundle the front end with esbuild into src/streamwidget/static/.
//
//   node build.mjs           one minified build
//   node build.mjs --watch   rebuild on change (unminified, inline source maps)
//
// Each entry `js/src/<name>.ts` becomes `static/<name>.js` (anywidget `_esm`) and, when it
// imports CSS, `static/<name>.css` (anywidget `_css`). Every dependency is bundled: nothing is
// loaded from the network at run time. Add new views to ENTRIES.

import * as esbuild from "esbuild";
import { fileURLToPath } from "node:url";

export const ENTRIES = ["stream_view", "chat", "player", "compare"];

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
