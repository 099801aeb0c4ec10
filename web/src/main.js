// The playground page: input files in tabs, a live check in a worker, the verdict, findings,
// permission matrices, escalation paths, rule docs, downloads and a shareable URL.
import './style.css';
import presets from 'virtual:presets';
import { CoreClient, DeadlineError } from './client.js';
import { Editor } from './editor.js';
import { encodeState, decodeState, MAX_FRAGMENT_BYTES } from './share.js';
import { CONFIG_NAME, isConfigPath, readFeatures, writeFeatures } from './config.js';
import {
  renderVerdict, renderFindings, renderFilters, renderIdentities, renderMatrix,
  renderEscalations, renderRules, renderGenerated, renderExplanations, SEVERITIES,
} from './views.js';
import { markdown } from './markdown.js';

const t0 = performance.now();
const $ = (id) => document.getElementById(id);

/** The playground checks at most this much text at once (the CLI has no such limit). */
const MAX_INPUT_BYTES = 8 * 1024 * 1024;
/** Above this the URL fragment is not updated on every edit. */
const LIVE_URL_LIMIT = 512 * 1024;
const DEFAULT_PRESET = 'escalation-path';

const FILE_TEMPLATES = {
  manifest: ['rbac.yaml', 'apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: gitlab-runner\n  namespace: ci-jobs\nrules:\n- apiGroups: [""]\n  resources: ["pods"]\n  verbs: ["get", "create", "delete"]\n'],
  values: ['values.yaml', 'gitlabUrl: https://gitlab.example.com/\nrbac:\n  create: true\n  rules:\n  - resources: ["pods", "pods/exec", "pods/attach", "secrets"]\n    verbs: ["get", "create", "delete"]\nrunners:\n  config: |\n    [[runners]]\n      [runners.kubernetes]\n        namespace = "{{.Release.Namespace}}"\n'],
  toml: ['config.toml', '[[runners]]\n  name = "k8s"\n  url = "https://gitlab.example.com/"\n  executor = "kubernetes"\n  [runners.kubernetes]\n    namespace = "ci-jobs"\n    service_account = "ci-job"\n'],
  config: [CONFIG_NAME, '# rbac-gate configuration (see the README)\nfail-on: high\n'],
};

// ---------------------------------------------------------------- state

const state = {
  files: [], // [{path, text}] in tab order; `.rbac-gate.yaml` is the config, not an input
  active: null,
  failOn: '',
  runnerVersion: '',
  preset: null,
  modified: false,
};

let report = null;
let checkSeq = 0;
let renderedSeq = 0;
let firstResultMs = null;
let lastCheckMs = null;
let lastRoundTripMs = null;
let pendingTimer = null;
let urlTimer = null;
let idleWaiters = [];
let findingFilter = { severity: null, failingOnly: false };
let selectedIdentity = null;
let expandedAll = false;

const core = new CoreClient({
  onReady: (info) => onCoreReady(info),
  onFatal: (message) => showNotice(`The policy engine could not start: ${message}`, 'error'),
});
const editor = new Editor($('editor'), { onChange: onEdit });

// ---------------------------------------------------------------- files and tabs

function fileByPath(path) {
  return state.files.find((f) => f.path === path);
}

function syncActiveText() {
  if (state.active && fileByPath(state.active)) fileByPath(state.active).text = editor.text(state.active);
}

function setFiles(files, active) {
  for (const path of [...editor.states.keys()]) editor.removeFile(path);
  state.files = files.map((f) => ({ path: f.path, text: f.text }));
  for (const f of state.files) editor.setFile(f.path, f.text);
  state.active = null;
  editor.path = null;
  const first = active && fileByPath(active) ? active : state.files[0] && state.files[0].path;
  if (first) activate(first, false);
  renderTabs();
  syncFeatureChecks();
}

function activate(path, focus = true) {
  syncActiveText();
  state.active = path;
  editor.show(path);
  renderTabs();
  applyDiagnostics();
  updateStatus();
  if (focus) editor.view.focus();
}

function uniqueName(name) {
  if (!fileByPath(name)) return name;
  const dot = name.lastIndexOf('.');
  const [stem, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ''];
  for (let i = 2; ; i++) if (!fileByPath(`${stem}-${i}${ext}`)) return `${stem}-${i}${ext}`;
}

function addFile(path, text, { rename = false } = {}) {
  syncActiveText();
  const name = uniqueName(path);
  state.files.push({ path: name, text });
  editor.setFile(name, text);
  activate(name);
  markModified();
  scheduleCheck(0);
  if (rename) startRename(name);
  return name;
}

function removeFile(path) {
  syncActiveText();
  const index = state.files.findIndex((f) => f.path === path);
  if (index < 0) return;
  const [removed] = state.files.splice(index, 1);
  editor.removeFile(path);
  if (state.active === path) {
    state.active = null;
    editor.path = null;
    const next = state.files[Math.min(index, state.files.length - 1)];
    if (next) {
      activate(next.path, false);
    } else {
      // Never leave the editor without a file: typing must always go somewhere.
      state.files.push({ path: 'manifest.yaml', text: '' });
      editor.setFile('manifest.yaml', '');
      activate('manifest.yaml', false);
    }
  }
  renderTabs();
  syncFeatureChecks();
  markModified();
  scheduleCheck(0);
  toast(`Removed ${path}.`, 'Undo', () => {
    state.files.splice(index, 0, removed);
    editor.setFile(removed.path, removed.text);
    activate(removed.path);
    syncFeatureChecks();
    scheduleCheck(0);
  });
}

function renameFile(from, to) {
  to = to.trim();
  if (!to || to === from) return renderTabs();
  if (fileByPath(to)) {
    toast(`A file named ${to} already exists.`);
    return renderTabs();
  }
  syncActiveText();
  const file = fileByPath(from);
  file.path = to;
  editor.renameFile(from, to);
  if (state.active === from) state.active = to;
  renderTabs();
  syncFeatureChecks();
  markModified();
  scheduleCheck(0);
}

function startRename(path) {
  const tab = [...$('filetabs').querySelectorAll('.filetab')].find((el) => el.dataset.path === path);
  if (!tab) return;
  const label = tab.querySelector('.filetab-name');
  const input = document.createElement('input');
  input.className = 'filetab-rename';
  input.value = path;
  input.setAttribute('aria-label', `New name for ${path}`);
  input.size = Math.max(path.length, 8);
  label.replaceWith(input);
  input.focus();
  input.select();
  let done = false;
  const finish = (commit) => {
    if (done) return;
    done = true;
    if (commit) renameFile(path, input.value);
    else renderTabs();
  };
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') finish(true);
    else if (e.key === 'Escape') finish(false);
    e.stopPropagation();
  });
  input.addEventListener('blur', () => finish(true));
}

function countsForFile(path) {
  if (!report) return null;
  let failing = 0;
  let total = 0;
  for (const f of report.findings) {
    if (f.path !== path) continue;
    total++;
    if (!f.accepted && SEVERITIES.indexOf(f.severity) >= SEVERITIES.indexOf(report.fail_on)) failing++;
  }
  const errors = report.errors.filter((e) => e.path === path).length;
  return { failing, total, errors };
}

function renderTabs() {
  const bar = $('filetabs');
  bar.textContent = '';
  for (const file of state.files) {
    const tab = document.createElement('div');
    tab.className = 'filetab';
    tab.setAttribute('role', 'presentation');
    tab.dataset.path = file.path;
    const selected = file.path === state.active;
    if (selected) tab.classList.add('active');
    const button = document.createElement('button');
    button.type = 'button';
    button.setAttribute('role', 'tab');
    button.setAttribute('aria-selected', String(selected));
    button.tabIndex = selected ? 0 : -1;
    button.title = `${file.path}: double-click or F2 to rename, Delete to remove`;
    button.setAttribute('aria-description', 'F2 renames, Delete removes the file');
    const kind = isConfigPath(file.path) ? 'config' : file.path.endsWith('.toml') ? 'toml' : file.path.endsWith('.json') ? 'json' : 'yaml';
    button.innerHTML = `<span class="filetab-kind ${kind}" aria-hidden="true"></span><span class="filetab-name"></span>`;
    button.querySelector('.filetab-name').textContent = file.path;
    const counts = countsForFile(file.path);
    if (counts && (counts.total || counts.errors)) {
      const badge = document.createElement('span');
      badge.className = 'badge ' + (counts.errors || counts.failing ? 'bad' : 'soft');
      badge.textContent = String(counts.errors + counts.total);
      badge.title = `${counts.total} finding(s), ${counts.failing} failing, ${counts.errors} error(s)`;
      button.appendChild(badge);
    }
    button.addEventListener('click', () => activate(file.path));
    button.addEventListener('dblclick', () => startRename(file.path));
    button.addEventListener('keydown', (e) => {
      const i = state.files.indexOf(file);
      if (e.key === 'ArrowRight' || e.key === 'ArrowLeft') {
        const next = state.files[(i + (e.key === 'ArrowRight' ? 1 : state.files.length - 1)) % state.files.length];
        activate(next.path, false);
        focusTab(next.path);
        e.preventDefault();
      } else if (e.key === 'F2') {
        startRename(file.path);
        e.preventDefault();
      } else if (e.key === 'Delete') {
        removeFile(file.path);
        e.preventDefault();
      }
    });
    tab.appendChild(button);
    // The mouse's way to remove a file; from the keyboard it is Delete on the tab (announced
    // in the tab's description), so the tab list holds only tabs.
    const close = document.createElement('button');
    close.type = 'button';
    close.className = 'filetab-close';
    close.setAttribute('aria-hidden', 'true');
    close.title = `Remove ${file.path} (Delete key on the tab)`;
    close.textContent = '×';
    close.tabIndex = -1;
    close.addEventListener('click', () => removeFile(file.path));
    tab.appendChild(close);
    bar.appendChild(tab);
  }
}

function focusTab(path) {
  const tab = [...$('filetabs').querySelectorAll('.filetab')].find((el) => el.dataset.path === path);
  if (tab) tab.querySelector('[role=tab]').focus();
}

// ---------------------------------------------------------------- editing and checking

function onEdit(path) {
  markModified();
  if (path && isConfigPath(path)) {
    const file = fileByPath(path);
    if (file) file.text = editor.text(path);
    syncFeatureChecks();
  }
  scheduleCheck();
}

function markModified() {
  if (!state.modified) {
    state.modified = true;
    renderPresetSelect();
  }
}

function totalBytes() {
  let n = 0;
  for (const f of state.files) n += f.path === state.active ? editor.view.state.doc.length : f.text.length;
  return n;
}

function scheduleCheck(delay) {
  clearTimeout(pendingTimer);
  const size = totalBytes();
  const wait = delay ?? (size < 100_000 ? 120 : size < 1_000_000 ? 350 : 800);
  setBusy(true);
  pendingTimer = setTimeout(runCheck, wait);
  scheduleUrl();
}

function today() {
  return new Date().toISOString().slice(0, 10);
}

function checkOptions() {
  const options = { today: today() };
  const config = state.files.find((f) => isConfigPath(f.path));
  if (config) options.config = { path: config.path, text: config.text };
  if (state.failOn) options.fail_on = state.failOn;
  if (state.runnerVersion) options.runner_version = state.runnerVersion;
  return options;
}

async function runCheck() {
  syncActiveText();
  const seq = ++checkSeq;
  const size = totalBytes();
  if (size > MAX_INPUT_BYTES) {
    showNotice(
      `The input is ${(size / 1048576).toFixed(1)} MB; the playground checks up to ${MAX_INPUT_BYTES / 1048576} MB at a time so that the page stays responsive. ` +
        'Check larger inputs with the CLI: rbac-gate check DIR.',
      'warn',
    );
    renderedSeq = seq;
    setBusy(false);
    resolveIdle();
    return;
  }
  const sources = state.files.filter((f) => !isConfigPath(f.path)).map((f) => ({ path: f.path, text: f.text }));
  const options = checkOptions();
  const started = performance.now();
  try {
    const { report: result, ms } = await core.check(sources, options, 'ui');
    if (seq !== checkSeq) return; // a newer check is on its way
    lastCheckMs = ms;
    lastRoundTripMs = performance.now() - started;
    report = result;
    hideNotice();
    showResults();
    renderedSeq = seq;
    if (firstResultMs === null) {
      firstResultMs = performance.now();
      document.body.dataset.firstResult = String(Math.round(firstResultMs));
    }
  } catch (error) {
    if (seq !== checkSeq) return;
    showNotice(error instanceof DeadlineError ? error.message : `The check failed: ${error.message}`, 'error');
    renderedSeq = seq;
  }
  setBusy(false);
  resolveIdle();
}

function setBusy(busy) {
  document.body.classList.toggle('checking', busy);
  $('verdict').setAttribute('aria-busy', String(busy));
}

function resolveIdle() {
  if (renderedSeq !== checkSeq || pendingTimer === null) {
    // nothing
  }
  const waiters = idleWaiters;
  idleWaiters = [];
  for (const w of waiters) w();
}

function whenIdle() {
  return new Promise((resolve) => {
    const check = () => {
      if (!document.body.classList.contains('checking') && renderedSeq === checkSeq && checkSeq > 0) resolve();
      else idleWaiters.push(check);
    };
    check();
  });
}

// ---------------------------------------------------------------- results

function showResults() {
  renderVerdict($('verdict'), report, { ms: lastCheckMs, files: state.files.length });
  renderTabs();
  applyDiagnostics();
  renderFindingList();
  $('count-findings').textContent = String(report.findings.length + report.errors.length);
  const identities = report.identities.filter((i) => i.permissions.length || (i.escalations || []).length);
  $('count-identities').textContent = String(identities.length);
  if (!identities.some((i) => i.id === selectedIdentity)) selectedIdentity = pickIdentity(identities);
  renderPermissionPanel();
  const escalations = renderEscalations($('escalations'), report, { onGoto: gotoFinding });
  $('count-escalations').textContent = String(escalations);
  updateStatus();
}

function pickIdentity(identities) {
  const score = (i) => (i.roles.includes('runner-manager') ? 100 : 0) +
    i.permissions.filter((p) => p.status === 'excess' || p.status === 'missing').length;
  const sorted = [...identities].sort((a, b) => score(b) - score(a));
  return sorted[0] ? sorted[0].id : null;
}

function renderFindingList() {
  renderFilters($('filters'), report, findingFilter, (next) => {
    findingFilter = next;
    renderFindingList();
  });
  renderFindings($('findings'), report, {
    filter: findingFilter,
    expandedAll,
    onShowAll: () => {
      expandedAll = true;
      renderFindingList();
    },
    onGoto: gotoFinding,
    onRule: (code) => openRule(code),
  });
}

function renderPermissionPanel() {
  if (!report) return;
  const identities = report.identities.filter((i) => i.permissions.length || (i.escalations || []).length);
  renderIdentities($('identities'), identities, selectedIdentity, (id) => {
    selectedIdentity = id;
    renderPermissionPanel();
  });
  const identity = identities.find((i) => i.id === selectedIdentity);
  renderMatrix($('matrix'), identity, { onlyProblems: $('only-problems').checked });
}

function applyDiagnostics() {
  if (!report) return;
  const byPath = new Map(state.files.map((f) => [f.path, []]));
  for (const f of report.findings) if (byPath.has(f.path)) byPath.get(f.path).push(f);
  for (const e of report.errors) if (byPath.has(e.path)) byPath.get(e.path).push({ ...e, severity: 'error', code: 'error' });
  for (const [path, items] of byPath) editor.setDiagnostics(path, items);
}

function gotoFinding(path, line, column) {
  if (fileByPath(path)) {
    if (state.active !== path) activate(path, false);
    editor.goto(line || 1, column || 1);
  } else if (path && isConfigPath(path)) {
    toast(`${path} is not open.`);
  }
}

function openRule(code) {
  selectResultTab('tab-rules');
  $('rule-search').value = '';
  renderRuleList(code);
}

function renderRuleList(open) {
  const rules = core.info ? core.info.rules : [];
  $('count-rules').textContent = String(rules.length);
  renderRules($('rules'), rules, { query: $('rule-search').value, open });
}

// ---------------------------------------------------------------- notices, status, toast

function showNotice(message, kind = 'warn') {
  const el = $('notice');
  el.textContent = message;
  el.className = `notice ${kind}`;
  el.hidden = false;
}

function hideNotice() {
  $('notice').hidden = true;
}

function updateStatus() {
  const parts = [];
  const size = totalBytes();
  parts.push(`${state.files.length} file${state.files.length === 1 ? '' : 's'}, ${formatBytes(size)}`);
  if (report) {
    parts.push(`${report.counts.objects} object${report.counts.objects === 1 ? '' : 's'}`);
    if (report.counts.skipped) parts.push(`${report.counts.skipped} skipped`);
  }
  if (lastCheckMs !== null) parts.push(`checked in ${lastCheckMs < 10 ? lastCheckMs.toFixed(1) : Math.round(lastCheckMs)} ms`);
  if (core.info) parts.push(`policy ${core.info.version.policy}`);
  $('statusbar').innerHTML = `<span>${parts.map(escape).join(' · ')}</span><span class="keys"><kbd>F8</kbd> next finding · <kbd>Ctrl</kbd>+<kbd>F</kbd> search · <kbd>Esc</kbd> <kbd>Tab</kbd> leave editor</span>`;
}

function escape(s) {
  return String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
}

function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1048576) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1048576).toFixed(1)} MB`;
}

let toastTimer = null;
function toast(message, actionLabel, action) {
  const el = $('toast');
  el.textContent = message;
  if (actionLabel) {
    const button = document.createElement('button');
    button.type = 'button';
    button.textContent = actionLabel;
    button.addEventListener('click', () => {
      el.hidden = true;
      action();
    });
    el.appendChild(button);
  }
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (el.hidden = true), actionLabel ? 8000 : 3500);
}

// ---------------------------------------------------------------- presets

function renderPresetSelect() {
  const select = $('preset');
  select.textContent = '';
  if (state.modified || !state.preset) {
    const custom = document.createElement('option');
    custom.value = '';
    custom.textContent = state.preset ? `${presetTitle(state.preset)} (edited)` : 'Your files';
    select.appendChild(custom);
  }
  for (const p of presets) {
    const option = document.createElement('option');
    option.value = p.id;
    option.textContent = `${p.title}${p.expect ? ` — ${p.expect}` : ''}`;
    select.appendChild(option);
  }
  select.value = state.modified || !state.preset ? '' : state.preset;
}

function presetTitle(id) {
  const p = presets.find((x) => x.id === id);
  return p ? p.title : id;
}

function renderPresetAbout() {
  const el = $('preset-about');
  const p = presets.find((x) => x.id === state.preset);
  if (!p) {
    el.hidden = true;
    return;
  }
  el.hidden = false;
  el.querySelector('summary').textContent = `About the preset “${p.title}”${state.modified ? ' (edited)' : ''}`;
  el.querySelector('.md').innerHTML = markdown(p.readme.replace(/^#[^\n]*\n/, ''));
}

async function loadPreset(id, { push = true } = {}) {
  const p = presets.find((x) => x.id === id);
  if (!p) return;
  if (push && state.files.length) {
    // The current files stay one Back away: write them to this history entry first.
    clearTimeout(urlTimer);
    if (totalBytes() <= LIVE_URL_LIMIT) await writeUrl();
  }
  state.preset = id;
  state.modified = false;
  setFiles(p.files, p.files[0] && p.files[0].path);
  renderPresetSelect();
  renderPresetAbout();
  expandedAll = false;
  findingFilter = { severity: null, failingOnly: false };
  scheduleCheck(0);
  if (push) writeUrl({ push: true });
}

// ---------------------------------------------------------------- runner version and features

function renderRunnerControls(info) {
  const select = $('runner-version');
  select.textContent = '';
  const def = document.createElement('option');
  def.value = '';
  def.textContent = `newest (${info.newest})`;
  select.appendChild(def);
  const [newestMajor, newestMinor] = info.newest.split('.').map(Number);
  for (let major = newestMajor; major >= 12; major--) {
    const group = document.createElement('optgroup');
    group.label = `${major}.x`;
    const top = major === newestMajor ? newestMinor : 11;
    for (let minor = top; minor >= 0; minor--) {
      const option = document.createElement('option');
      option.value = `${major}.${minor}`;
      option.textContent = `${major}.${minor}`;
      group.appendChild(option);
    }
    select.appendChild(group);
  }
  if (state.runnerVersion && ![...select.options].some((o) => o.value === state.runnerVersion)) {
    const option = document.createElement('option');
    option.value = state.runnerVersion;
    option.textContent = state.runnerVersion;
    select.appendChild(option);
  }
  select.value = state.runnerVersion;

  const list = $('features-list');
  list.textContent = '';
  for (const name of info.features) {
    const label = document.createElement('label');
    label.className = 'check';
    const input = document.createElement('input');
    input.type = 'checkbox';
    input.value = name;
    input.addEventListener('change', onFeatureToggle);
    label.appendChild(input);
    const text = document.createElement('code');
    text.textContent = name;
    label.appendChild(text);
    list.appendChild(label);
  }
  syncFeatureChecks();
}

// ---------------------------------------------------------------- generate and explain error

let generated = null;

function runnerOptions(select, newest, value) {
  select.textContent = '';
  const def = document.createElement('option');
  def.value = '';
  def.textContent = `newest (${newest})`;
  select.appendChild(def);
  const [newestMajor, newestMinor] = newest.split('.').map(Number);
  for (let major = newestMajor; major >= 12; major--) {
    const group = document.createElement('optgroup');
    group.label = `${major}.x`;
    for (let minor = major === newestMajor ? newestMinor : 11; minor >= 0; minor--) {
      const option = document.createElement('option');
      option.value = option.textContent = `${major}.${minor}`;
      group.appendChild(option);
    }
    select.appendChild(group);
  }
  select.value = value || '';
}

function renderGenerateForm(info) {
  runnerOptions($('gen-runner'), info.newest, $('gen-runner').value);
  const list = $('gen-features');
  const checked = new Set([...list.querySelectorAll('input:checked')].map((i) => i.value));
  list.textContent = '';
  for (const name of info.features) {
    const label = document.createElement('label');
    label.className = 'check';
    const input = document.createElement('input');
    input.type = 'checkbox';
    input.value = name;
    input.checked = checked.has(name);
    label.appendChild(input);
    const text = document.createElement('code');
    text.textContent = name;
    label.appendChild(text);
    list.appendChild(label);
  }
}

function generateRequest() {
  const words = (s) => s.split(/[\s,]+/).map((w) => w.trim()).filter(Boolean);
  const request = { op: 'generate', format: document.querySelector('input[name=gen-format]:checked').value };
  const version = $('gen-runner').value;
  if (version) request.runner_version = version;
  const features = [...$('gen-features').querySelectorAll('input:checked')].map((i) => i.value);
  if (features.length) request.features = features;
  const namespace = $('gen-namespace').value.trim();
  if (namespace) request.namespace = namespace;
  const jobNamespaces = words($('gen-job-namespaces').value);
  if (jobNamespaces.length) request.job_namespaces = jobNamespaces;
  const sa = $('gen-sa').value.trim();
  if (sa) request.service_account = sa;
  const jobSa = $('gen-job-sa').value.trim();
  if (jobSa) request.job_service_account = jobSa;
  return request;
}

async function runGenerate(event) {
  if (event) event.preventDefault();
  const button = $('gen-submit');
  button.disabled = true;
  try {
    generated = await core.handle(generateRequest());
    renderGenerated($('generate-result'), generated, { onOpen: openGenerated });
  } catch (error) {
    generated = null;
    renderGenerated($('generate-result'), { errors: [{ message: error.message }] }, { onOpen: openGenerated });
  } finally {
    button.disabled = false;
  }
  return generated;
}

/** Adds the generated YAML as a tab (checked live from then on), with its gate config if none is open. */
function openGenerated() {
  if (!generated || !generated.text) return null;
  const helm = generated.format === 'helm';
  if (generated.gate_config && !configFile()) addFile(CONFIG_NAME, generated.gate_config);
  else if (generated.gate_config) toast(`Kept the open ${configFile().path}; the generated RBAC is for runner ${generated.runner_version}.`);
  if (generated.extra_manifests) addFile('rbac-extra.yaml', generated.extra_manifests);
  const name = addFile(helm ? 'values.yaml' : 'rbac-generated.yaml', generated.text);
  syncFeatureChecks();
  return name;
}

async function runExplain(event) {
  if (event) event.preventDefault();
  syncActiveText();
  const message = $('explain-message').value;
  const node = $('explanations');
  if (!message.trim()) {
    node.textContent = '';
    const p = document.createElement('p');
    p.className = 'empty';
    p.textContent = 'Paste an error message from a job log first.';
    node.appendChild(p);
    $('explain-message').focus();
    return null;
  }
  const button = $('explain-submit');
  button.disabled = true;
  let response;
  try {
    const sources = state.files.filter((f) => !isConfigPath(f.path)).map((f) => ({ path: f.path, text: f.text }));
    response = await core.handle({ op: 'explain_error', message, sources, options: checkOptions() });
  } catch (error) {
    response = { explanations: [], errors: [{ message: error.message }] };
  } finally {
    button.disabled = false;
  }
  renderExplanations(node, response, { onGoto: gotoFinding, hasFile: (path) => Boolean(fileByPath(path)) });
  return response;
}

function configFile() {
  return state.files.find((f) => isConfigPath(f.path));
}

function syncFeatureChecks() {
  const config = configFile();
  const on = new Set(config ? readFeatures(config.path === state.active ? editor.text(config.path) : config.text) : []);
  for (const input of $('features-list').querySelectorAll('input')) input.checked = on.has(input.value);
  $('features-count').textContent = on.size ? String(on.size) : 'none';
}

function onFeatureToggle() {
  syncActiveText();
  const features = [...$('features-list').querySelectorAll('input')].filter((i) => i.checked).map((i) => i.value);
  let config = configFile();
  if (!config) {
    if (!features.length) return;
    const path = CONFIG_NAME;
    state.files.push({ path, text: '# Written by the playground\'s feature selector.\n' });
    editor.setFile(path, state.files[state.files.length - 1].text);
    config = configFile();
  }
  const next = writeFeatures(config.text, features);
  if (next === null) {
    toast('The config writes `runner` in flow style; edit runner.features in .rbac-gate.yaml by hand.');
    syncFeatureChecks();
    return;
  }
  config.text = next;
  if (state.active === config.path) {
    editor.replaceText(next);
  } else {
    editor.setFile(config.path, next);
  }
  renderTabs();
  syncFeatureChecks();
  markModified();
  scheduleCheck(0);
}

// ---------------------------------------------------------------- URL state and sharing

function snapshot() {
  syncActiveText();
  return {
    v: 1,
    files: state.files.map((f) => ({ path: f.path, text: f.text })),
    active: state.active,
    failOn: state.failOn || undefined,
    runner: state.runnerVersion || undefined,
    preset: state.preset || undefined,
    modified: state.modified || undefined,
  };
}

function scheduleUrl() {
  clearTimeout(urlTimer);
  if (totalBytes() > LIVE_URL_LIMIT) return;
  urlTimer = setTimeout(() => writeUrl(), 500);
}

async function writeUrl({ push = false } = {}) {
  const fragment = await encodeState(snapshot());
  if (fragment.length > MAX_FRAGMENT_BYTES) return { fragment, tooLarge: true };
  const url = `${location.pathname}${location.search}#${fragment}`;
  if (push) history.pushState(null, '', url);
  else history.replaceState(null, '', url);
  return { fragment, tooLarge: false };
}

async function share() {
  const { fragment, tooLarge } = await writeUrl();
  if (tooLarge) {
    toast(`These files are too large for a link (${formatBytes(fragment.length)} compressed). Download them instead.`);
    return;
  }
  const link = location.href;
  let copied = false;
  try {
    await navigator.clipboard.writeText(link);
    copied = true;
  } catch {
    copied = false;
  }
  $('share').dataset.link = link;
  toast(copied ? 'Link copied. The files travel inside the link (after #): no server ever sees them.' : 'Link is in the address bar. The files travel inside it: no server sees them.');
}

async function restoreFromUrl() {
  if (!location.hash || !location.hash.startsWith('#s=')) return false;
  try {
    const saved = await decodeState(location.hash);
    if (!saved || !Array.isArray(saved.files)) return false;
    state.preset = saved.preset || null;
    state.modified = Boolean(saved.modified) || !saved.preset;
    state.failOn = saved.failOn || '';
    state.runnerVersion = saved.runner || '';
    $('fail-on').value = state.failOn;
    if (core.info) renderRunnerControls(core.info.runner);
    setFiles(saved.files.filter((f) => f && typeof f.path === 'string' && typeof f.text === 'string'), saved.active);
    renderPresetSelect();
    renderPresetAbout();
    return true;
  } catch (error) {
    showNotice(`The link could not be read (${error.message}); showing a preset instead.`, 'warn');
    return false;
  }
}

// ---------------------------------------------------------------- downloads

const DOWNLOADS = {
  codequality: ['gl-code-quality-report.json', 'application/json'],
  sarif: ['rbac-gate.sarif', 'application/sarif+json'],
  junit: ['rbac-gate-junit.xml', 'application/xml'],
  json: ['rbac-gate-report.json', 'application/json'],
};

async function download(format) {
  $('downloads').open = false;
  try {
    await whenIdle();
    const text = await core.render(format);
    const [name, type] = DOWNLOADS[format];
    const url = URL.createObjectURL(new Blob([text], { type }));
    const a = document.createElement('a');
    a.href = url;
    a.download = name;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  } catch (error) {
    toast(`No ${format} download: ${error.message}`);
  }
}

// ---------------------------------------------------------------- result tabs

function selectResultTab(id) {
  for (const tab of document.querySelectorAll('.result-tabs [role=tab]')) {
    const selected = tab.id === id;
    tab.setAttribute('aria-selected', String(selected));
    tab.tabIndex = selected ? 0 : -1;
    $(tab.getAttribute('aria-controls')).hidden = !selected;
  }
}

function wireResultTabs() {
  const tabs = [...document.querySelectorAll('.result-tabs [role=tab]')];
  for (const tab of tabs) {
    tab.addEventListener('click', () => selectResultTab(tab.id));
    tab.addEventListener('keydown', (e) => {
      const i = tabs.indexOf(tab);
      let next = null;
      if (e.key === 'ArrowRight') next = tabs[(i + 1) % tabs.length];
      else if (e.key === 'ArrowLeft') next = tabs[(i + tabs.length - 1) % tabs.length];
      else if (e.key === 'Home') next = tabs[0];
      else if (e.key === 'End') next = tabs[tabs.length - 1];
      if (next) {
        selectResultTab(next.id);
        next.focus();
        e.preventDefault();
      }
    });
  }
}

// ---------------------------------------------------------------- wiring

function closePopovers(except) {
  for (const d of document.querySelectorAll('details.popover[open]')) if (d !== except) d.open = false;
}

function wire() {
  wireResultTabs();
  $('preset').addEventListener('change', (e) => {
    if (e.target.value) loadPreset(e.target.value);
  });
  $('fail-on').addEventListener('change', (e) => {
    state.failOn = e.target.value;
    scheduleCheck(0);
  });
  $('runner-version').addEventListener('change', (e) => {
    state.runnerVersion = e.target.value;
    scheduleCheck(0);
  });
  $('share').addEventListener('click', share);
  for (const button of document.querySelectorAll('#downloads [data-format]')) {
    button.addEventListener('click', () => download(button.dataset.format));
  }
  for (const button of document.querySelectorAll('#add-file [data-template]')) {
    button.addEventListener('click', () => {
      $('add-file').open = false;
      const [name, text] = FILE_TEMPLATES[button.dataset.template];
      if (name === CONFIG_NAME && configFile()) {
        activate(configFile().path);
        return;
      }
      addFile(name, text, { rename: name !== CONFIG_NAME });
    });
  }
  $('only-problems').addEventListener('change', renderPermissionPanel);
  $('generate-form').addEventListener('submit', runGenerate);
  $('explain-form').addEventListener('submit', runExplain);
  $('explain-message').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) runExplain(e);
  });
  $('rule-search').addEventListener('input', () => renderRuleList());
  for (const d of document.querySelectorAll('details.popover')) {
    d.addEventListener('toggle', () => d.open && closePopovers(d));
    d.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && d.open) {
        d.open = false;
        d.querySelector('summary').focus();
      }
    });
  }
  document.addEventListener('click', (e) => {
    for (const d of document.querySelectorAll('details.popover[open]')) if (!d.contains(e.target)) d.open = false;
  });
  window.addEventListener('popstate', async () => {
    if (await restoreFromUrl()) scheduleCheck(0);
  });
  // Drop files onto the page to add them.
  document.addEventListener('dragover', (e) => e.preventDefault());
  document.addEventListener('drop', async (e) => {
    e.preventDefault();
    for (const file of e.dataTransfer.files) {
      if (file.size > MAX_INPUT_BYTES) {
        showNotice(`${file.name} is ${formatBytes(file.size)}; the playground checks up to ${MAX_INPUT_BYTES / 1048576} MB. Use the CLI.`, 'warn');
        continue;
      }
      addFile(file.name, await file.text());
    }
  });
}

function onCoreReady(info) {
  renderRunnerControls(info.runner);
  renderGenerateForm(info.runner);
  renderRuleList();
  updateStatus();
}

// The test and automation hook (a stable contract, see web/tests/e2e.mjs).
window.rbacGate = {
  /** Resolves to the report (an object) for a single manifest text, with today's date. */
  async check(text, options = {}) {
    const { report: result, ms } = await core.check([{ path: options.path || 'input.yaml', text }], { today: today(), ...options, path: undefined });
    window.rbacGate.lastCheckMs = ms;
    return result;
  },
  ready: core.ready(),
  whenIdle,
  report: () => report,
  state: snapshot,
  cursor: () => editor.cursor(),
  loadPreset: (id) => loadPreset(id),
  /** Changes how long a check may run before the worker is replaced (default 20 s). */
  setDeadline: (ms) => {
    core.deadline = ms;
  },
  /** Adds a file as a new tab (as a paste or a drop would). */
  addFile: (path, text) => addFile(path, text),
  presets: presets.map((p) => p.id),
  /** A raw request of the core's protocol (`{op:'generate',...}`, `{op:'explain_error',...}`), answered by the worker. */
  handle: (request) => core.handle(request),
  metrics: () => ({
    firstResultMs,
    lastCheckMs,
    lastRoundTripMs,
    workerInitMs: core.info && core.info.initMs,
    wasmCompileMs: core.info && core.info.compileMs,
    startMs: t0,
  }),
};

async function start() {
  wire();
  renderPresetSelect();
  const restored = await restoreFromUrl();
  if (!restored) loadPreset(DEFAULT_PRESET, { push: false });
  else scheduleCheck(0);
  if ('serviceWorker' in navigator && location.protocol !== 'file:') {
    navigator.serviceWorker.register('sw.js').catch(() => {});
  }
}

start();
