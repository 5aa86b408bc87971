// Compile test/*.test.ts with esbuild (node has no TypeScript of its own here) and run them
// with node's built-in test runner. Compiled files go under node_modules/.cache (ignored).

import * as esbuild from "esbuild";
import { spawnSync } from "node:child_process";
import { readFileSync, readdirSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";

const here = (path) => fileURLToPath(new URL(path, import.meta.url));
const pkg = JSON.parse(readFileSync(here("../package.json"), "utf8"));
const LAZY = ["temml"];
const outdir = here("../node_modules/.cache/sw-tests");
const tests = readdirSync(here(".")).filter((name) => name.endsWith(".test.ts"));

rmSync(outdir, { recursive: true, force: true });
await esbuild.build({
  entryPoints: tests.map((name) => here(`./${name}`)),
  outdir,
  outExtension: { ".js": ".mjs" },
  bundle: true,
  // resolved from js/node_modules at run time, except what the views `require` lazily (bundled
  // as in the real build, where esbuild turns the require into a deferred module)
  external: Object.keys({ ...pkg.dependencies, ...pkg.devDependencies }).filter(
    (name) => !LAZY.includes(name),
  ),
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: "inline",
  loader: { ".css": "empty" },
  logLevel: "warning",
});

const files = tests.map((name) => `${outdir}/${name.replace(/\.ts$/, ".mjs")}`);
const run = spawnSync(process.execPath, ["--enable-source-maps", "--test", ...files], {
  stdio: "inherit",
});
process.exit(run.status ?? 1);
