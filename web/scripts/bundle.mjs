// Bundles the playground into web/dist: esbuild for the page and the worker, the wasm from
// web/pkg (built by build-wasm.sh), the presets read from ../examples at build time (so they
// stay in sync with the repository), content-hashed file names and an offline service worker.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

const web = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const root = path.resolve(web, '..');
const dist = path.join(web, 'dist');
const pkg = path.join(web, 'pkg');

/** The presets, in menu order: directory names under examples/. */
export const PRESET_ORDER = [
  'safe-baseline',
  'helm-default-wildcard',
  'cluster-admin',
  'missing-permissions',
  'static-token',
  'escalation-path',
  'justified',
];
const INPUT_FILE = /\.(ya?ml|json|toml)$/i;

export function readPresets(examples = path.join(root, 'examples')) {
  const presets = [];
  for (const id of PRESET_ORDER) {
    const dir = path.join(examples, id);
    if (!fs.existsSync(dir)) throw new Error(`preset directory missing: ${dir}`);
    const readmePath = path.join(dir, 'README.md');
    const readme = fs.existsSync(readmePath) ? fs.readFileSync(readmePath, 'utf8') : `# ${id}\n`;
    const title = (/^#\s+(.+)$/m.exec(readme) || [null, id])[1].trim();
    const exit = /Expected:\s*\*\*exit\s+(\d)\*\*/.exec(readme);
    const expect = exit ? (exit[1] === '0' ? 'passes' : exit[1] === '1' ? 'fails' : 'error') : null;
    const files = fs
      .readdirSync(dir)
      .filter((name) => INPUT_FILE.test(name) && fs.statSync(path.join(dir, name)).isFile())
      .sort()
      .map((name) => ({ path: name, text: fs.readFileSync(path.join(dir, name), 'utf8') }));
    if (!files.length) throw new Error(`preset ${id} has no input files`);
    presets.push({ id, title, expect, readme, files });
  }
  return presets;
}

const presetsPlugin = (presets) => ({
  name: 'presets',
  setup(b) {
    b.onResolve({ filter: /^virtual:presets$/ }, () => ({ path: 'presets', namespace: 'virtual' }));
    b.onLoad({ filter: /.*/, namespace: 'virtual' }, () => ({
      contents: `export default ${JSON.stringify(presets)};`,
      loader: 'js',
    }));
  },
});

const hash = (bytes) => createHash('sha256').update(bytes).digest('hex').slice(0, 10);

function outputsOf(result, entryName) {
  return Object.entries(result.metafile.outputs).filter(([file, meta]) => meta.entryPoint && meta.entryPoint.endsWith(entryName)).map(([file]) => file);
}

async function main() {
  const wasmSrc = path.join(pkg, 'rbac_gate_wasm_bg.wasm');
  if (!fs.existsSync(wasmSrc)) {
    throw new Error(`${wasmSrc} is missing: run web/scripts/build-wasm.sh first`);
  }
  fs.rmSync(dist, { recursive: true, force: true });
  fs.mkdirSync(dist, { recursive: true });

  const wasm = fs.readFileSync(wasmSrc);
  const wasmName = `rbac-gate-${hash(wasm)}.wasm`;
  fs.writeFileSync(path.join(dist, wasmName), wasm);

  const common = {
    bundle: true,
    format: 'esm',
    target: ['es2022', 'chrome110', 'firefox115', 'safari16'],
    minify: true,
    sourcemap: false,
    legalComments: 'none',
    outdir: dist,
    entryNames: '[name]-[hash]',
    metafile: true,
    logLevel: 'warning',
  };

  const presets = readPresets();
  const worker = await build({
    ...common,
    entryPoints: [path.join(web, 'src/worker.js')],
    define: { __WASM_URL__: JSON.stringify(wasmName) },
    // The worker warms the engine up on the presets' files (no READMEs).
    plugins: [presetsPlugin(presets.map((p) => ({ id: p.id, files: p.files })))],
  });
  const workerFile = path.basename(outputsOf(worker, 'src/worker.js')[0]);

  const boot = await build({
    ...common,
    entryPoints: [path.join(web, 'src/boot.js')],
    define: { __WORKER_URL__: JSON.stringify(workerFile) },
  });
  const bootJs = path.basename(outputsOf(boot, 'src/boot.js')[0]);
  const main = await build({
    ...common,
    entryPoints: [path.join(web, 'src/main.js')],
    define: { __WORKER_URL__: JSON.stringify(workerFile) },
    plugins: [presetsPlugin(presets)],
  });
  const mainOutputs = Object.keys(main.metafile.outputs).map((f) => path.basename(f));
  const mainJs = mainOutputs.find((f) => f.startsWith('main-') && f.endsWith('.js'));
  const mainCss = mainOutputs.find((f) => f.startsWith('main-') && f.endsWith('.css'));

  const html = fs
    .readFileSync(path.join(web, 'src/index.html'), 'utf8')
    .replace('%BOOT_JS%', bootJs)
    .replace('%MAIN_JS%', mainJs)
    .replace('%MAIN_CSS%', mainCss);
  fs.writeFileSync(path.join(dist, 'index.html'), html);

  // Offline: a service worker that keeps every asset of this build.
  const assets = ['./', 'index.html', bootJs, mainJs, mainCss, workerFile, wasmName];
  const version = hash(assets.map((a) => (a === './' ? '' : fs.readFileSync(path.join(dist, a)))).reduce((acc, b) => Buffer.concat([acc, Buffer.from(b)]), Buffer.alloc(0)));
  const sw = fs
    .readFileSync(path.join(web, 'src/sw.js'), 'utf8')
    .replace('__CACHE__', `rbac-gate-${version}`)
    .replace('__ASSETS__', JSON.stringify(assets));
  fs.writeFileSync(path.join(dist, 'sw.js'), sw);

  const gz = zlib.gzipSync(wasm, { level: 9 }).length;
  const info = {
    wasm: wasmName,
    wasm_bytes: wasm.length,
    wasm_gzip_bytes: gz,
    js: mainJs,
    js_bytes: fs.statSync(path.join(dist, mainJs)).size,
    worker: workerFile,
    presets: presets.map((p) => p.id),
  };
  fs.writeFileSync(path.join(dist, 'build-info.json'), JSON.stringify(info, null, 2) + '\n');
  console.log(`web/dist: ${mainJs} (${(info.js_bytes / 1024).toFixed(0)} KB), ${wasmName} (${(wasm.length / 1024).toFixed(0)} KB, ${(gz / 1024).toFixed(0)} KB gzipped), ${presets.length} presets`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error) => {
    console.error(error.message || error);
    process.exit(1);
  });
}
