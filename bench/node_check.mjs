// The playground's build of the core (crates/wasm through wasm-bindgen, web/pkg) under Node:
// reads one file and checks it, as the playground's worker does, for `make bench`.
// Usage: node bench/node_check.mjs web/pkg/rbac_gate_wasm.js FILE
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";

const [pkg, file] = process.argv.slice(2);
const wasm = await import(pathToFileURL(pkg).href);
wasm.initSync({ module: readFileSync(join(dirname(pkg), "rbac_gate_wasm_bg.wasm")) });
const sources = JSON.stringify([{ path: file, text: readFileSync(file, "utf8") }]);
const report = wasm.check(sources, JSON.stringify({ today: "2026-11-26" }));
const parsed = JSON.parse(report);
process.stdout.write(`${parsed.verdict} ${parsed.counts.objects} objects ${parsed.counts.findings} findings\n`);
process.exit(parsed.verdict === "error" ? 2 : 0);
