// The checking worker: loads the core (rbac-gate-wasm) and answers requests, so that a check of
// a multi-megabyte paste never blocks the page. One request at a time, in order.
import init, * as core from '../pkg/rbac_gate_wasm.js';
import presets from 'virtual:presets';

/* global __WASM_URL__ */
const wasmUrl = new URL(__WASM_URL__, self.location.href);

// The last report and its inputs per slot (`ui` for the editor), for the downloads: they are
// rendered from exactly what was checked.
const last = new Map();

const ready = (async () => {
  const t0 = performance.now();
  await init({ module_or_path: wasmUrl });
  const compileMs = performance.now() - t0;
  return {
    version: JSON.parse(core.version()),
    runner: JSON.parse(core.runner_info()),
    rules: JSON.parse(core.rules()),
    compileMs,
    initMs: performance.now() - t0,
  };
})();

ready.then(
  (info) => {
    self.postMessage({ type: 'ready', info });
    // Warm-up, one preset per task so that a check from the page waits for one piece at most:
    // the first call of each part of the engine pays for its lazy compilation (~50-100 ms in
    // all), which the worker does while the page is still setting up its editor.
    const pieces = presets.map((p) => JSON.stringify(p.files.map((f) => ({ path: `${p.id}/${f.path}`, text: f.text }))));
    const next = () => {
      const piece = pieces.shift();
      if (piece === undefined) return;
      core.check(piece, '{}');
      setTimeout(next, 0);
    };
    setTimeout(next, 0);
  },
  (error) => self.postMessage({ type: 'fatal', error: String((error && error.message) || error) }),
);

function handle(msg) {
  switch (msg.type) {
    case 'check': {
      const sources = JSON.stringify(msg.sources);
      const options = JSON.stringify(msg.options || {});
      const t0 = performance.now();
      const json = core.check(sources, options);
      const ms = performance.now() - t0;
      if (msg.slot) last.set(msg.slot, { json, sources });
      // The JSON text crosses to the page as is: copying a string and parsing it there is
      // cheaper than structured-cloning the parsed report.
      return { json, ms };
    }
    case 'render': {
      const input = last.get(msg.slot || 'ui');
      if (!input) throw new Error('nothing has been checked yet');
      return { text: core.render(msg.format, input.json, input.sources) };
    }
    case 'handle':
      // A raw request of the core's protocol (`generate`, `explain_error`): JSON text both ways.
      return { json: core.handle(msg.request) };
    case 'explain':
      return { doc: core.explain(msg.rule) ? JSON.parse(core.explain(msg.rule)) : null };
    default:
      throw new Error(`unknown request ${msg.type}`);
  }
}

self.onmessage = async (event) => {
  const msg = event.data;
  try {
    await ready;
    const result = handle(msg);
    self.postMessage({ type: 'result', id: msg.id, ok: true, result });
  } catch (error) {
    self.postMessage({ type: 'result', id: msg.id, ok: false, error: String(error && error.message || error) });
  }
};
