// Loaded before the page's main bundle: starts the checking worker (which fetches and compiles
// the wasm) while the browser is still parsing the editor code. Messages that arrive before
// the page takes the worker over are kept for it.
/* global __WORKER_URL__ */
const worker = new Worker(new URL(__WORKER_URL__, document.baseURI), { type: 'module' });
const early = [];
worker.onmessage = (event) => early.push(event.data);
worker.onerror = (event) => early.push({ type: 'fatal', error: event.message || 'the checking worker failed to start' });
window.__rbacGateBoot = { worker, early };
