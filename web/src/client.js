// Talks to the checking worker: request/response by id, a deadline per request, and a fresh
// worker when one is stuck (a synchronous wasm call cannot be interrupted any other way).

/* global __WORKER_URL__ */
const DEADLINE_MS = 20000;

export class CoreClient {
  constructor({ onReady, onFatal } = {}) {
    this.onReady = onReady || (() => {});
    this.onFatal = onFatal || (() => {});
    this.nextId = 1;
    this.pending = new Map();
    this.info = null;
    this.deadline = DEADLINE_MS;
    this.start();
  }

  start() {
    this.readyPromise = new Promise((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    const boot = window.__rbacGateBoot;
    let early = [];
    if (boot && boot.worker) {
      // Started by boot.js before this bundle was parsed.
      this.worker = boot.worker;
      early = boot.early;
      window.__rbacGateBoot = null;
    } else {
      this.worker = new Worker(new URL(__WORKER_URL__, document.baseURI), { type: 'module' });
    }
    this.worker.onmessage = (event) => this.receive(event.data);
    this.worker.onerror = (event) => {
      const message = event.message || 'the checking worker failed to start';
      this.onFatal(message);
      this.rejectReady(new Error(message));
      this.failAll(message);
    };
    // Delivered after the constructor returns: the page's onReady handler reads the client
    // (`core.info`), which is not assigned yet while the constructor runs. The bundler turns the
    // page's top-level `const core` into a `var`, so reading it early gives `undefined`, not a
    // TDZ error, and the whole page script would stop there.
    if (early.length) queueMicrotask(() => early.forEach((msg) => this.receive(msg)));
  }

  restart(reason) {
    this.worker.terminate();
    this.failAll(reason);
    this.start();
  }

  failAll(reason) {
    for (const [, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new Error(reason));
    }
    this.pending.clear();
  }

  receive(msg) {
    if (msg.type === 'ready') {
      this.info = msg.info;
      this.resolveReady(msg.info);
      this.onReady(msg.info);
      return;
    }
    if (msg.type === 'fatal') {
      this.onFatal(msg.error);
      this.rejectReady(new Error(msg.error));
      this.failAll(msg.error);
      return;
    }
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    clearTimeout(p.timer);
    if (msg.ok) p.resolve(msg.result);
    else p.reject(new Error(msg.error));
  }

  ready() {
    return this.readyPromise;
  }

  request(message, deadline = this.deadline) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new DeadlineError(deadline));
        // The worker is busy in wasm: replace it, and everything it was doing fails.
        this.restart(`the check was stopped after ${deadline / 1000} s`);
      }, deadline);
      this.pending.set(id, { resolve, reject, timer });
      this.worker.postMessage({ ...message, id });
    });
  }

  /** Resolves to {report, ms}: the parsed report and the time the core took in the worker. */
  check(sources, options, slot) {
    return this.request({ type: 'check', sources, options, slot }).then(({ json, ms }) => ({ report: JSON.parse(json), ms }));
  }

  /** Resolves to the parsed response of one request of the core's JSON protocol (`{op, ...}`). */
  handle(request) {
    return this.request({ type: 'handle', request: JSON.stringify(request) }).then(({ json }) => JSON.parse(json));
  }

  render(format, slot = 'ui') {
    return this.request({ type: 'render', format, slot }).then((r) => r.text);
  }
}

export class DeadlineError extends Error {
  constructor(ms) {
    super(`The check took longer than ${ms / 1000} s and was stopped. Use the CLI for inputs this large.`);
    this.name = 'DeadlineError';
  }
}
