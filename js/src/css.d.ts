// esbuild bundles imported CSS into the entry's .css output; the import has no value.
declare module "*.css";
