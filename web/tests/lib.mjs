// Shared helpers of the playground tests.
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const WEB = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const ROOT = path.resolve(WEB, '..');
export const DIST = path.join(WEB, 'dist');
export const PKG = path.join(WEB, 'pkg');
export const TARGET = path.join(ROOT, 'target');
export const CLI = process.env.RBAC_GATE_BIN || path.join(ROOT, 'target/release/rbac-gate');
/** One date for the CLI (RBAC_GATE_TODAY) and the playground (options.today). */
export const TODAY = process.env.RBAC_GATE_TODAY || new Date().toISOString().slice(0, 10);

/** Runs the CLI from the repository root; returns stdout (exit codes 0–2 are all reports). */
export function cli(args) {
  try {
    return execFileSync(CLI, args, {
      cwd: ROOT,
      env: { ...process.env, RBAC_GATE_TODAY: TODAY, NO_COLOR: '1' },
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (error) {
    if (typeof error.status === 'number' && error.status <= 2 && error.stdout) return error.stdout;
    throw error;
  }
}

/** Every input file under examples/, as the CLI's directory walk finds them (relative paths). */
export function exampleFiles() {
  const out = [];
  const walk = (dir) => {
    for (const entry of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const rel = `${dir}/${entry.name}`;
      if (entry.isDirectory()) walk(rel);
      else if (/\.(ya?ml|json|toml)$/i.test(entry.name)) out.push(rel);
    }
  };
  walk('examples');
  return out;
}

export function exampleDirs() {
  return fs
    .readdirSync(path.join(ROOT, 'examples'), { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => `examples/${e.name}`)
    .sort();
}

/** Loads the wasm-pack `--target web` build under Node. */
export async function loadBindings() {
  const glue = await import(path.join(PKG, 'rbac_gate_wasm.js'));
  await glue.default({ module_or_path: fs.readFileSync(path.join(PKG, 'rbac_gate_wasm_bg.wasm')) });
  return glue;
}

/** The report without the module digest the CLI adds (`policy.sha256`). */
export function withoutDigest(report) {
  const copy = structuredClone(report);
  if (copy.policy) delete copy.policy.sha256;
  return copy;
}

/** CLI text output with the digest removed: the JSON report's `"sha256"` line, SARIF's `policySha256`. */
export function stripDigestText(text) {
  return text
    .replace(/,\n(\s*)"sha256": "[0-9a-f]{64}"\n/, '\n')
    .replace(/"policySha256": "[0-9a-f]{64}"/, '"policySha256": null');
}
