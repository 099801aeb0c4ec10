// End to end: web/dist served on localhost by this test, driven in Debian's Chromium through
// playwright-core (no browser download, ever). Prints the measurements (gzipped wasm size,
// check time of a 300-line manifest, load to first result); they are figures, not assertions.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';
import { serve } from '../scripts/serve.mjs';
import { readPresets } from '../scripts/bundle.mjs';
import { DIST, ROOT, TARGET, CLI, TODAY, cli, withoutDigest, stripDigestText } from './lib.mjs';

const require = createRequire(import.meta.url);
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--headless'];
const VIEWPORT = { width: 1440, height: 900 };

/** What each preset must show (from the README.md of each example): verdict and required codes. */
const EXPECT = {
  'safe-baseline': { verdict: 'pass', codes: [] },
  'helm-default-wildcard': { verdict: 'fail', codes: ['RG102'] },
  'cluster-admin': { verdict: 'fail', codes: ['RG101'] },
  'missing-permissions': { verdict: 'fail', codes: ['RG201'] },
  'static-token': { verdict: 'fail', codes: ['RG403', 'RG401'] },
  'escalation-path': { verdict: 'fail', codes: ['RG601', 'RG101'] },
  justified: { verdict: 'pass', codes: [] },
};

let server;
let base;
let browser;
const measurements = {};
const pageErrors = [];

before(async () => {
  assert.ok(fs.existsSync(path.join(DIST, 'index.html')), 'web/dist is missing: run `make web` first');
  ({ server, url: base } = await serve({ dir: DIST }));
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
});

after(async () => {
  if (browser) await browser.close();
  if (server) server.close();
  const lines = [
    ['wasm size, gzipped', measurements.wasmGzip !== undefined ? `${(measurements.wasmGzip / 1024).toFixed(0)} KB (target <= 600 KB; raw ${(measurements.wasmRaw / 1024).toFixed(0)} KB)` : 'n/a'],
    ['check of a 300-line manifest in the page', measurements.check300 ? `${measurements.check300.wasm.toFixed(2)} ms in the worker, ${measurements.check300.roundTrip.toFixed(2)} ms round trip (median of ${measurements.check300.runs}; target <= 10 ms)` : 'n/a'],
    ['load to first result', measurements.firstResult ? `${measurements.firstResult.cold.toFixed(0)} ms first load, ${measurements.firstResult.warm.toFixed(0)} ms reload (target <= 1000 ms)` : 'n/a'],
  ];
  console.log('\nplayground measurements:');
  for (const [k, v] of lines) console.log(`  ${k}: ${v}`);
  fs.mkdirSync(TARGET, { recursive: true });
  fs.writeFileSync(path.join(TARGET, 'playground-measurements.json'), JSON.stringify(measurements, null, 2) + '\n');
});

async function open(url = base, { context } = {}) {
  const ctx = context || (await browser.newContext({ viewport: VIEWPORT, acceptDownloads: true }));
  const page = await ctx.newPage();
  page.on('pageerror', (e) => pageErrors.push(`${e.message}`));
  page.on('requestfailed', (r) => pageErrors.push(`request failed: ${r.url()} ${r.failure() && r.failure().errorText}`));
  await page.goto(url);
  await page.waitForFunction(() => window.rbacGate && document.body.dataset.firstResult, null, { timeout: 20000 });
  await idle(page);
  return page;
}

const idle = (page) => page.evaluate(() => window.rbacGate.whenIdle());

async function loadPreset(page, id) {
  await page.selectOption('#preset', id);
  await page.waitForFunction((id) => {
    const s = window.rbacGate.state();
    return s.preset === id && !s.modified;
  }, id);
  await idle(page);
}

async function renderedFindings(page) {
  return page.$$eval('[data-testid=finding]', (items) => items.map((el) => ({
    code: el.dataset.code,
    severity: el.dataset.severity,
    line: Number(el.dataset.line),
    path: el.dataset.path,
  })));
}

const key = (f) => `${f.code}|${f.severity}|${f.path}|${f.line}`;

/** A share link (the playground's own format) for the given state. */
function fragmentFor(state) {
  const deflated = zlib.deflateRawSync(Buffer.from(JSON.stringify(state)));
  return '#s=' + deflated.toString('base64url');
}

test('the page starts when the worker is ready before the page script runs', async () => {
  // boot.js starts the worker early; when the wasm is ready before the main bundle has been
  // parsed, the ready message waits in the boot queue. Holding the main bundle back forces that
  // order, which on a fast machine happens by chance.
  const context = await browser.newContext({ viewport: VIEWPORT });
  const errors = [];
  let held = 0;
  await context.route(/\/main-[A-Z0-9]+\.js$/, async (route) => {
    held += 1;
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await route.continue();
  });
  const page = await context.newPage();
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(base);
  await page.waitForFunction(() => window.rbacGate && document.body.dataset.firstResult, null, { timeout: 20000 });
  assert.ok(held > 0, 'the main bundle was held back');
  assert.ok(await page.evaluate(() => window.__rbacGateBoot === null), 'the page took over the early worker');
  assert.deepEqual(errors, [], 'no page errors');
  assert.ok((await page.locator('.rule-doc').count()) > 0, 'the rule docs are listed');
  assert.notEqual(await page.textContent('#count-rules'), '0');
  await context.close();
});

test('the wasm is small (printed)', () => {
  const info = JSON.parse(fs.readFileSync(path.join(DIST, 'build-info.json'), 'utf8'));
  const wasm = fs.readFileSync(path.join(DIST, info.wasm));
  measurements.wasmRaw = wasm.length;
  measurements.wasmGzip = zlib.gzipSync(wasm, { level: 9 }).length;
  assert.ok(measurements.wasmGzip > 0);
});

test('load to first result (printed), and the test hook answers', async () => {
  const context = await browser.newContext({ viewport: VIEWPORT });
  const first = await open(base, { context });
  const cold = await first.evaluate(() => Number(document.body.dataset.firstResult));
  await first.reload();
  await first.waitForFunction(() => window.rbacGate && document.body.dataset.firstResult, null, { timeout: 20000 });
  const warm = await first.evaluate(() => Number(document.body.dataset.firstResult));
  measurements.firstResult = { cold, warm, metrics: await first.evaluate(() => window.rbacGate.metrics()) };
  const report = await first.evaluate(() => window.rbacGate.check('apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: x}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}\nsubjects: [{kind: ServiceAccount, name: gitlab-runner, namespace: gitlab-runner}]\n'));
  assert.equal(report.schema, 'rbac-gate/report/v1');
  assert.equal(report.verdict, 'fail');
  assert.ok(report.findings.some((f) => f.code === 'RG101'));
  await context.close();
});

test('works offline once loaded (service worker)', async () => {
  const context = await browser.newContext({ viewport: VIEWPORT });
  const page = await open(base, { context });
  await page.evaluate(async () => {
    const registration = await navigator.serviceWorker.ready;
    return registration.active.state;
  });
  await context.setOffline(true);
  await page.reload();
  await page.waitForFunction(() => window.rbacGate && document.body.dataset.firstResult, null, { timeout: 20000 });
  await idle(page);
  assert.equal(await page.getAttribute('[data-testid=verdict]', 'data-verdict'), 'fail');
  assert.ok((await page.locator('[data-testid=finding]').count()) > 0);
  await context.close();
});

test('every preset shows its findings and verdict', async () => {
  const page = await open();
  const presets = readPresets();
  assert.deepEqual(Object.keys(EXPECT).sort(), presets.map((p) => p.id).sort());
  for (const preset of presets) {
    await loadPreset(page, preset.id);
    const expect = EXPECT[preset.id];
    const verdict = await page.getAttribute('[data-testid=verdict]', 'data-verdict');
    assert.equal(verdict, expect.verdict, `${preset.id}: verdict`);
    const shown = await renderedFindings(page);
    const report = await page.evaluate(() => window.rbacGate.report());
    assert.equal(shown.length, report.findings.length, `${preset.id}: every finding is rendered`);
    for (const code of expect.codes) {
      assert.ok(shown.some((f) => f.code === code), `${preset.id}: ${code} is shown`);
    }
    if (expect.verdict === 'pass' && preset.id === 'safe-baseline') assert.equal(shown.length, 0, 'safe-baseline has no findings');
    for (const f of shown) {
      assert.ok(['info', 'low', 'medium', 'high', 'critical'].includes(f.severity));
      assert.ok(f.line >= 1);
    }
    // The same findings as the CLI on the example directory (paths there are examples/ID/FILE).
    if (fs.existsSync(CLI)) {
      const expected = JSON.parse(cli(['check', '--format', 'json', `examples/${preset.id}`]));
      const strip = (p) => p.replace(`examples/${preset.id}/`, '');
      assert.equal(report.verdict, expected.verdict, `${preset.id}: verdict as the CLI's`);
      assert.deepEqual(
        shown.map(key).sort(),
        expected.findings.map((f) => key({ ...f, path: strip(f.path) })).sort(),
        `${preset.id}: the findings of the CLI`,
      );
    }
  }
  await page.context().close();
});

test('clicking a finding moves the editor to its line', async () => {
  const page = await open();
  await loadPreset(page, 'escalation-path');
  // A finding in a file that is not the open tab.
  const target = await page.$$eval('[data-testid=finding]', (items) => {
    const active = window.rbacGate.state().active;
    const el = items.find((i) => i.dataset.path !== active && Number(i.dataset.line) > 3) || items[0];
    return { path: el.dataset.path, line: Number(el.dataset.line), code: el.dataset.code };
  });
  await page.click(`[data-testid=finding][data-path="${target.path}"][data-line="${target.line}"][data-code="${target.code}"] .finding-main`);
  const cursor = await page.evaluate(() => window.rbacGate.cursor());
  assert.equal(cursor.path, target.path);
  assert.equal(cursor.line, target.line);
  assert.equal(await page.getAttribute('.filetab.active', 'data-path'), target.path);
  // The editor has the focus, on that line.
  assert.ok(await page.evaluate(() => document.activeElement.classList.contains('cm-content')));
  // Keyboard: Enter on a focused finding does the same.
  const other = await page.$$eval('[data-testid=finding]', (items) => {
    const el = items.find((i) => Number(i.dataset.line) !== window.rbacGate.cursor().line) || items[0];
    return { path: el.dataset.path, line: Number(el.dataset.line), code: el.dataset.code };
  });
  await page.focus(`[data-testid=finding][data-path="${other.path}"][data-line="${other.line}"][data-code="${other.code}"] .finding-main`);
  await page.keyboard.press('Enter');
  assert.equal((await page.evaluate(() => window.rbacGate.cursor())).line, other.line);
  await page.context().close();
});

test('a share link restores the state', async () => {
  const page = await open();
  await loadPreset(page, 'missing-permissions');
  await page.selectOption('#fail-on', 'medium');
  await page.selectOption('#runner-version', '17.0');
  // Edit the open file: append a comment at the end.
  await page.click('.cm-content');
  await page.keyboard.press('Control+End');
  await page.keyboard.type('# shared from the playground\n');
  // A feature, which goes into a generated .rbac-gate.yaml.
  await page.click('#features summary');
  await page.check('#features-list input[value="namespace_per_job"]');
  await page.keyboard.press('Escape');
  await idle(page);
  await page.click('#share');
  await page.waitForFunction(() => document.getElementById('share').dataset.link);
  const link = await page.getAttribute('#share', 'data-link');
  assert.match(link, /#s=[A-Za-z0-9_-]+$/);
  const before = await page.evaluate(() => ({ state: window.rbacGate.state(), report: window.rbacGate.report() }));
  assert.ok(before.state.files.some((f) => f.path === '.rbac-gate.yaml' && /features: \[namespace_per_job\]/.test(f.text)));
  assert.ok(before.state.files.some((f) => f.text.includes('# shared from the playground')));
  await page.context().close();

  const fresh = await open(link);
  const after = await fresh.evaluate(() => ({ state: window.rbacGate.state(), report: window.rbacGate.report() }));
  assert.deepEqual(after.state, before.state);
  assert.deepEqual(after.report, before.report);
  assert.equal(await fresh.inputValue('#fail-on'), 'medium');
  assert.equal(await fresh.inputValue('#runner-version'), '17.0');
  assert.ok(await fresh.isChecked('#features-list input[value="namespace_per_job"]'));
  await fresh.context().close();
});

test('downloads: Code Quality parses, and the files are the CLI\'s byte for byte', async () => {
  const dir = 'examples/escalation-path';
  const files = fs.readdirSync(path.join(ROOT, dir)).filter((f) => /\.(ya?ml|toml|json)$/.test(f)).sort()
    .map((f) => ({ path: `${dir}/${f}`, text: fs.readFileSync(path.join(ROOT, dir, f), 'utf8') }));
  const page = await open(base + fragmentFor({ v: 1, files, active: files[0].path }));
  const report = await page.evaluate(() => window.rbacGate.report());
  assert.equal(report.verdict, 'fail');

  async function download(format) {
    await page.evaluate(() => { document.getElementById('toast').hidden = true; });
    await page.click('#downloads summary');
    const failed = page.waitForSelector('#toast:not([hidden])', { timeout: 20000 })
      .then(async () => { throw new Error(`no ${format} download: ${await page.textContent('#toast')}`); });
    failed.catch(() => {});
    const [dl] = await Promise.all([
      Promise.race([page.waitForEvent('download', { timeout: 20000 }), failed]),
      page.click(`#downloads [data-format=${format}]`),
    ]);
    return fs.readFileSync(await dl.path(), 'utf8');
  }

  const codequalityText = await download('codequality');
  const codequality = JSON.parse(codequalityText);
  assert.ok(Array.isArray(codequality));
  assert.equal(codequality.length, report.findings.length + report.errors.length);
  for (const issue of codequality) {
    assert.equal(typeof issue.description, 'string');
    assert.equal(typeof issue.check_name, 'string');
    assert.match(issue.fingerprint, /^[0-9a-f]{32}$/);
    assert.ok(['info', 'minor', 'major', 'critical', 'blocker'].includes(issue.severity));
    assert.ok(issue.location.path.startsWith(`${dir}/`));
    assert.ok(issue.location.lines.begin >= 1);
  }
  const json = await download('json');
  assert.deepEqual(JSON.parse(json), report);
  const sarifText = await download('sarif');
  const sarif = JSON.parse(sarifText);
  assert.equal(sarif.version, '2.1.0');

  if (fs.existsSync(CLI)) {
    const today = await page.evaluate(() => new Date().toISOString().slice(0, 10));
    const run = (format) => stripDigestText(cli(['check', '--format', format, dir]).toString());
    if (today === TODAY) {
      assert.equal(json, run('json'), 'JSON download = rbac-gate check --format json (but the digest)');
      assert.equal(codequalityText, run('codequality'), 'Code Quality download = the CLI\'s');
      assert.equal(sarifText, run('sarif'), 'SARIF download = the CLI\'s (but the digest)');
      assert.equal(await download('junit'), run('junit'), 'JUnit download = the CLI\'s');
    } else {
      assert.deepEqual(withoutDigest(JSON.parse(json)), withoutDigest(JSON.parse(cli(['check', '--format', 'json', dir]))));
    }
  }
  await page.context().close();
});

test('a 300-line manifest checks fast (printed), a multi-megabyte paste keeps the page alive', async () => {
  const page = await open();
  const doc = (i) => [
    '---',
    'apiVersion: rbac.authorization.k8s.io/v1',
    'kind: Role',
    'metadata:',
    `  name: runner-${i}`,
    `  namespace: ci-${i % 4}`,
    'rules:',
    '- apiGroups: [""]',
    '  resources: ["pods", "pods/exec", "pods/attach"]',
    '  verbs: ["get", "list", "watch", "create", "delete"]',
    '- apiGroups: [""]',
    '  resources: ["secrets"]',
    '  verbs: ["get", "create", "update", "delete"]',
    '---',
    'apiVersion: rbac.authorization.k8s.io/v1',
    'kind: RoleBinding',
    'metadata:',
    `  name: runner-${i}`,
    `  namespace: ci-${i % 4}`,
    'roleRef:',
    '  apiGroup: rbac.authorization.k8s.io',
    '  kind: Role',
    `  name: runner-${i}`,
    'subjects:',
    '- kind: ServiceAccount',
    '  name: gitlab-runner',
    '  namespace: gitlab-runner',
  ].join('\n');
  const lines = [];
  for (let i = 0; lines.length < 300; i++) lines.push(...doc(i).split('\n'));
  const manifest = lines.slice(0, 300).join('\n') + '\n';
  const timing = await page.evaluate(async (text) => {
    const wasm = [];
    const trip = [];
    for (let i = 0; i < 21; i++) {
      const t = performance.now();
      await window.rbacGate.check(text);
      trip.push(performance.now() - t);
      wasm.push(window.rbacGate.lastCheckMs);
    }
    const median = (xs) => xs.slice(1).sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
    return { wasm: median(wasm), roundTrip: median(trip), runs: wasm.length - 1 };
  }, manifest);
  measurements.check300 = timing;

  // 3 MB pasted (RBAC objects and big ConfigMaps, as in a cluster dump): checked in the worker.
  const blob = '    ' + 'x'.repeat(100) + '\n';
  let dump = manifest;
  for (let i = 0; dump.length < 3 * 1024 * 1024; i++) dump += `---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-${i}\n  namespace: ci\ndata:\n  blob: |\n${blob.repeat(200)}`;
  await page.evaluate((text) => window.rbacGate.addFile('dump.yaml', text), dump);
  await idle(page);
  assert.equal(await page.isVisible('#notice'), false, 'a 3 MB input is checked');
  measurements.paste3MB = { bytes: dump.length, workerMs: await page.evaluate(() => window.rbacGate.metrics().lastCheckMs) };
  assert.ok((await page.evaluate(() => window.rbacGate.report().counts.documents)) > 100);

  // A paste that keeps the engine busy: the page stays responsive, and the check is stopped at
  // the deadline (shortened here from 20 s) with a clear message.
  let heavy = '';
  // 4 MB of roles and bindings (~14,000 objects; with the 3 MB dump still open, under the 8 MB
  // limit) takes seconds in the worker; the deadline is a small fraction of that, so the check
  // is always stopped, however fast the machine.
  for (let i = 0; heavy.length < 4 * 1024 * 1024; i++) heavy += doc(1000 + i).replace(/gitlab-runner$/m, `sa-${i}`) + '\n';
  await page.evaluate(() => window.rbacGate.setDeadline(300));
  await page.evaluate((text) => window.rbacGate.addFile('heavy.yaml', text), heavy);
  await page.waitForTimeout(150);
  const t = Date.now();
  await page.evaluate(() => document.body.classList.contains('checking'));
  measurements.responsiveWhileCheckingMs = Date.now() - t;
  assert.ok(measurements.responsiveWhileCheckingMs < 1000, 'the page answers while the worker checks');
  await idle(page);
  assert.ok(await page.isVisible('#notice'));
  assert.match(await page.textContent('#notice'), /stopped/);
  await page.evaluate(() => window.rbacGate.setDeadline(20000));
  // The replaced worker works: a small check still answers.
  const again = await page.evaluate(() => window.rbacGate.check('apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: a, namespace: b}\n'));
  assert.equal(again.verdict, 'pass');

  // 9 MB: a clear message instead of a check.
  const huge = manifest.repeat(Math.ceil((9 * 1024 * 1024) / manifest.length));
  await page.evaluate((text) => window.rbacGate.addFile('huge.yaml', text), huge);
  await idle(page);
  assert.ok(await page.isVisible('#notice'));
  assert.match(await page.textContent('#notice'), /checks up to 8 MB/);
  await page.context().close();
});

test('generate panel: the YAML, opened in the editor, passes the gate', async () => {
  // An empty workspace (a link with no files), so that the generated RBAC is all that is checked.
  const page = await open(base + fragmentFor({ v: 1, files: [] }));
  await page.click('#tab-generate');
  await page.waitForSelector('#gen-features input[value="namespace_per_job"]');
  await page.click('#gen-submit');
  const output = page.locator('[data-testid=generate-output]');
  await output.waitFor();
  assert.match(await output.textContent(), /pods\/attach/);
  // Keyboard: the button is reachable and Enter opens the YAML as a new tab.
  await page.focus('#generate-open');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => window.rbacGate.state().files.some((f) => f.path === 'rbac-generated.yaml'));
  await idle(page);
  assert.equal(await page.evaluate(() => window.rbacGate.state().active), 'rbac-generated.yaml');
  assert.equal(await page.getAttribute('[data-testid=verdict]', 'data-verdict'), 'pass');
  const report = await page.evaluate(() => window.rbacGate.report());
  assert.equal(report.verdict, 'pass');
  assert.ok(report.counts.objects > 0, 'the generated objects are checked');
  // Helm values, from the form.
  await page.check('input[name=gen-format][value=helm]');
  await page.fill('#gen-namespace', 'runners');
  await page.click('#gen-submit');
  await page.waitForFunction(() => /rbac:/.test(document.querySelector('[data-testid=generate-output]').textContent));
  await page.context().close();
});

test('explain error: the cause, the rule and an edit that jumps to the Role', async () => {
  const page = await open();
  await loadPreset(page, 'missing-permissions');
  await page.click('#tab-explain');
  await page.fill('#explain-message', 'pods "runner-xyz" is forbidden: User "system:serviceaccount:gitlab-runner:gitlab-runner" cannot create resource "pods/attach" in API group "" in the namespace "gitlab-runner"');
  await page.click('#explain-submit');
  const card = page.locator('[data-testid=explanation]').first();
  await card.waitFor();
  assert.match(await card.textContent(), /pods\/attach/);
  const edit = card.locator('[data-testid=explanation-edit][data-path="rbac.yaml"]').first();
  assert.equal(await edit.count(), 1, 'an edit points at rbac.yaml');
  const line = Number(await edit.getAttribute('data-line'));
  assert.ok(line >= 1);
  await page.evaluate(() => window.rbacGate.addFile('other.yaml', 'apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: a, namespace: b}\n'));
  await idle(page);
  // The edit is a button: Enter on it moves the editor to that file and line.
  await edit.focus();
  await page.keyboard.press('Enter');
  const cursor = await page.evaluate(() => window.rbacGate.cursor());
  assert.equal(cursor.path, 'rbac.yaml');
  assert.equal(cursor.line, line);
  // Ctrl+Enter in the box submits; a text without an API error says so.
  await page.fill('#explain-message', 'ERROR: Job failed: exit code 1');
  await page.focus('#explain-message');
  await page.keyboard.press('Control+Enter');
  await page.waitForFunction(() => !document.querySelector('[data-testid=explanation]') && document.querySelector('#explanations .empty'));
  await page.context().close();
});

test('accessibility: no WCAG 2 A/AA violation (contrast included), keyboard navigation', async () => {
  // axe-core is injected as an inline script, which the page's CSP forbids: bypass it here.
  const context = await browser.newContext({ viewport: VIEWPORT, bypassCSP: true });
  const page = await open(base, { context });
  await page.addScriptTag({ path: require.resolve('axe-core/axe.min.js') });
  for (const tab of ['#tab-findings', '#tab-permissions', '#tab-escalations', '#tab-rules', '#tab-generate', '#tab-explain']) {
    await page.click(tab);
    if (tab === '#tab-generate') {
      await page.click('#gen-submit');
      await page.locator('[data-testid=generate-output]').waitFor();
      await page.click('.tool-more summary');
    }
    if (tab === '#tab-explain') {
      await page.fill('#explain-message', 'pods "runner-xyz" is forbidden: User "system:serviceaccount:gitlab-runner:gitlab-runner" cannot create resource "pods/attach" in API group "" in the namespace "gitlab-runner"');
      await page.click('#explain-submit');
      await page.locator('[data-testid=explanation]').first().waitFor();
    }
    if (tab === '#tab-findings') await page.click('[data-testid=finding] .finding-more summary');
    if (tab === '#tab-rules') await page.click('.rule-doc summary');
    const violations = await page.evaluate(async () => {
      const result = await window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } });
      return result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
    });
    assert.deepEqual(violations, [], `axe on ${tab}`);
  }
  // Result tabs: arrow keys move between them.
  await page.focus('#tab-findings');
  await page.click('#tab-findings');
  await page.keyboard.press('ArrowRight');
  assert.equal(await page.getAttribute('#tab-permissions', 'aria-selected'), 'true');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'tab-permissions');
  // File tabs: arrow keys switch files.
  const before = await page.evaluate(() => window.rbacGate.state().active);
  await page.focus('.filetab.active [role=tab]');
  await page.keyboard.press('ArrowRight');
  assert.notEqual(await page.evaluate(() => window.rbacGate.state().active), before);
  // F8 in the editor jumps to the next finding.
  await page.click('.cm-content');
  await page.keyboard.press('Control+Home');
  await page.keyboard.press('F8');
  const line = (await page.evaluate(() => window.rbacGate.cursor())).line;
  const lines = await page.evaluate(() => {
    const s = window.rbacGate.state();
    return window.rbacGate.report().findings.filter((f) => f.path === s.active).map((f) => f.line);
  });
  if (lines.length) assert.ok(lines.includes(line), `F8 lands on a finding line (${line} in ${lines})`);
  // Tab from the start of the page reaches the preset selector first.
  await page.evaluate(() => {
    document.body.tabIndex = -1;
    document.body.focus();
    document.body.removeAttribute('tabindex');
  });
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.className), 'skip-link');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'preset');
  await context.close();
});

test('rule docs, permission matrix and escalation paths render; screenshot', async () => {
  const page = await open();
  await loadPreset(page, 'escalation-path');
  const rules = await page.evaluate(() => window.rbacGate.report() && document.querySelectorAll('.rule-doc').length);
  assert.ok(rules > 0, 'the rule docs are listed');
  await page.click('#tab-permissions');
  assert.ok(await page.locator('table.matrix td.cell').count() > 0, 'a permission matrix is drawn');
  assert.ok(await page.locator('table.matrix td.cell.excess, table.matrix td.cell.missing').count() > 0, 'excess or missing cells are highlighted');
  await page.screenshot({ path: path.join(TARGET, 'playground-permissions.png') });
  await page.click('#tab-escalations');
  assert.ok(await page.locator('#escalations .chain li').count() >= 2, 'an escalation path is drawn step by step');
  await page.screenshot({ path: path.join(TARGET, 'playground-escalations.png') });
  await page.click('#tab-findings');
  await page.click('[data-testid=finding][data-code=RG601] .finding-main');
  await page.click('[data-testid=finding][data-code=RG601] .finding-more summary');
  await page.screenshot({ path: path.join(TARGET, 'playground.png') });
  assert.ok(fs.statSync(path.join(TARGET, 'playground.png')).size > 10000);
  await page.context().close();
  assert.deepEqual(pageErrors, [], 'no page errors or failed requests');
});
