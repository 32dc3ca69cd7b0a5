// Builds the dashboard: ui/src -> functions/src/stratoflow_functions/ui/assets/ (hashed JS and
// CSS, and index.html naming them). Prints the gzipped size of the JS + CSS (target < 80 KB).
// `node ui/build.mjs` from the repository root (make sync runs it when ui/ changed).
import { build } from "esbuild";
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "functions", "src", "stratoflow_functions", "ui", "assets");
const LIMIT_BYTES = 80 * 1024;

const result = await build({
  entryPoints: [join(here, "src", "main.tsx")],
  bundle: true,
  minify: true,
  format: "esm",
  target: "es2020",
  jsx: "automatic",
  jsxImportSource: "preact",
  write: false,
  outdir: "out",
  legalComments: "none",
  logLevel: "warning",
});

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const names = {};
let gzipped = 0;
for (const file of result.outputFiles) {
  const ext = file.path.endsWith(".css") ? "css" : "js";
  const hash = createHash("sha256").update(file.contents).digest("hex").slice(0, 12);
  const name = `app.${hash}.${ext}`;
  writeFileSync(join(out, name), file.contents);
  names[ext] = name;
  gzipped += gzipSync(file.contents, { level: 9 }).length;
}

const css = names.css ? `<link rel="stylesheet" href="/ui/assets/${names.css}">` : "";
const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Stratoflow</title>
${css}
<script type="module" src="/ui/assets/${names.js}"></script>
</head>
<body>
<div id="app"></div>
<noscript>The Stratoflow dashboard needs JavaScript.</noscript>
</body>
</html>
`;
writeFileSync(join(out, "index.html"), html);
writeFileSync(join(out, "manifest.json"), JSON.stringify({ ...names, gzipped_bytes: gzipped }) + "\n");

const kb = (gzipped / 1024).toFixed(1);
console.log(`ui: ${readdirSync(out).join(", ")} -> ${out}`);
console.log(`ui: JS + CSS ${kb} KB gzipped (limit ${LIMIT_BYTES / 1024} KB)`);
if (gzipped > LIMIT_BYTES) {
  console.error("ui: the bundle is over its size budget");
  process.exit(1);
}
