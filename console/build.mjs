// Builds the console into dist/: one bundle, one stylesheet, the HTML shell.
// The gateway serves dist/ at /console (services/gateway/gateway/console.py).
import { build } from "esbuild";
import { copyFile, mkdir, rm } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const dist = resolve(here, "dist");

await rm(dist, { recursive: true, force: true });
await mkdir(resolve(dist, "assets"), { recursive: true });
await build({
  entryPoints: { app: resolve(here, "src/main.tsx"), style: resolve(here, "src/style.css") },
  outdir: resolve(dist, "assets"),
  bundle: true,
  minify: true,
  sourcemap: "linked",
  target: "es2022",
  format: "esm",
  jsx: "automatic",
  jsxImportSource: "preact",
  // contracts/typescript/src imports openapi-fetch: resolved from this package's node_modules.
  nodePaths: [resolve(here, "node_modules")],
  logLevel: "warning",
});
await copyFile(resolve(here, "src/index.html"), resolve(dist, "index.html"));
