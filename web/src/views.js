// Rendering of the report: verdict, findings, permission matrix, escalation paths, rule docs.
// Everything from the report goes through textContent or the escaping Markdown renderer.
import { markdown, escapeHtml } from './markdown.js';

export const SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'];
const rank = (s) => SEVERITIES.indexOf(s);
/** Findings shown before "show all" (keeps huge reports from stalling the page). */
const FINDINGS_PAGE = 200;
/** Matrix rows shown per identity before the rest are summarised. */
const MATRIX_ROWS = 400;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (k === 'html') node.innerHTML = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) node.append(c);
  return node;
}

export function fails(finding, threshold) {
  return !finding.accepted && rank(finding.severity) >= rank(threshold);
}

// ---------------------------------------------------------------- verdict

export function renderVerdict(node, report, { ms, files }) {
  const failing = report.findings.filter((f) => fails(f, report.fail_on)).length;
  const accepted = report.findings.filter((f) => f.accepted).length;
  const below = report.findings.length - failing - accepted;
  const errors = report.errors.length;
  let verdict = report.verdict;
  let title;
  let detail;
  if (verdict === 'error') {
    title = 'Gate fails: input error';
    detail = `${errors} file error${errors === 1 ? '' : 's'}: the gate cannot vouch for files it could not read (exit 2)`;
  } else if (verdict === 'fail') {
    title = `Gate fails at “${report.fail_on}”`;
    detail = `${failing} finding${failing === 1 ? '' : 's'} at or above ${report.fail_on} would block the merge request (exit 1)`;
  } else if (report.counts.files === 0) {
    title = 'No input';
    detail = 'Add a manifest, Helm values or a config.toml, or pick a preset.';
  } else {
    title = `Gate passes at “${report.fail_on}”`;
    detail = failing === 0 && report.findings.length === 0
      ? 'Nothing to report (exit 0)'
      : `No finding at or above ${report.fail_on} (exit 0)`;
  }
  const extras = [];
  if (below) extras.push(`${below} below threshold`);
  if (accepted) extras.push(`${accepted} accepted`);
  // The policy that ran: a disabled rule, an override or an exception is never silent.
  const config = report.config || {};
  if (config.disabled && config.disabled.length) extras.push(`disabled: ${config.disabled.join(', ')}`);
  if (config.severity_overrides && config.severity_overrides.length) {
    extras.push(`overrides: ${config.severity_overrides.map((o) => `${o.rule} ${o.from}→${o.to}`).join(', ')}`);
  }
  if (config.exceptions && config.exceptions.length) {
    extras.push(`${config.exceptions.length} exception${config.exceptions.length === 1 ? '' : 's'}`);
  }
  extras.push(`${report.counts.objects} object${report.counts.objects === 1 ? '' : 's'} in ${files} file${files === 1 ? '' : 's'}`);
  if (typeof ms === 'number') extras.push(`${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms`);
  node.dataset.verdict = verdict === 'pass' ? 'pass' : 'fail';
  node.dataset.reportVerdict = verdict;
  node.className = `verdict ${verdict}`;
  node.querySelector('.verdict-icon').textContent = verdict === 'pass' ? '✓' : verdict === 'error' ? '!' : '✕';
  const text = node.querySelector('.verdict-text');
  text.textContent = '';
  text.append(el('strong', { text: title }), el('span', { text: detail }), el('small', { text: extras.join(' · ') }));
}

// ---------------------------------------------------------------- findings

export function renderFilters(node, report, filter, onChange) {
  node.textContent = '';
  const counts = {};
  for (const f of report.findings) counts[f.severity] = (counts[f.severity] || 0) + 1;
  const all = el('button', {
    type: 'button',
    class: 'chip' + (filter.severity === null && !filter.failingOnly ? ' on' : ''),
    'aria-pressed': String(filter.severity === null && !filter.failingOnly),
    onclick: () => onChange({ severity: null, failingOnly: false }),
  }, `All ${report.findings.length + report.errors.length}`);
  node.append(all);
  const failing = report.findings.filter((f) => fails(f, report.fail_on)).length;
  node.append(el('button', {
    type: 'button',
    class: 'chip' + (filter.failingOnly ? ' on' : ''),
    'aria-pressed': String(filter.failingOnly),
    onclick: () => onChange({ severity: null, failingOnly: !filter.failingOnly }),
  }, `Failing ${failing}`));
  for (const sev of [...SEVERITIES].reverse()) {
    if (!counts[sev]) continue;
    node.append(el('button', {
      type: 'button',
      class: `chip sev-${sev}` + (filter.severity === sev ? ' on' : ''),
      'aria-pressed': String(filter.severity === sev),
      onclick: () => onChange({ severity: filter.severity === sev ? null : sev, failingOnly: false }),
    }, el('span', { class: `dot ${sev}`, 'aria-hidden': 'true' }), `${sev} ${counts[sev]}`));
  }
}

function sortFindings(report) {
  return [...report.findings].sort((a, b) => {
    const fa = fails(a, report.fail_on) ? 1 : 0;
    const fb = fails(b, report.fail_on) ? 1 : 0;
    if (fa !== fb) return fb - fa;
    if (!!a.accepted !== !!b.accepted) return a.accepted ? 1 : -1;
    if (rank(a.severity) !== rank(b.severity)) return rank(b.severity) - rank(a.severity);
    if (a.path !== b.path) return a.path < b.path ? -1 : 1;
    return a.line - b.line;
  });
}

function stepsView(steps) {
  const list = el('ol', { class: 'chain' });
  steps.forEach((step, i) => {
    list.append(el('li', { class: i === steps.length - 1 ? 'last' : i === 0 ? 'first' : '' },
      el('span', { class: 'node', 'aria-hidden': 'true', text: String(i + 1) }),
      el('div', { class: 'step', html: inlineMd(step) })));
  });
  return list;
}

function inlineMd(text) {
  // Inline code only: the steps and messages use backticks for names.
  return escapeHtml(text).replace(/`([^`]+)`/g, '<code>$1</code>');
}

function findingItem(f, report, { onGoto, onRule }) {
  const failing = fails(f, report.fail_on);
  const item = el('li', {
    class: `finding sev-${f.severity}${failing ? ' failing' : ''}${f.accepted ? ' accepted' : ''}`,
    'data-testid': 'finding',
    'data-severity': f.severity,
    'data-line': String(f.line),
    'data-code': f.code,
    'data-path': f.path,
  });
  const head = el('button', {
    type: 'button',
    class: 'finding-main',
    title: `Go to ${f.path}:${f.line}`,
    onclick: () => onGoto(f.path, f.line, f.column),
  },
  el('span', { class: `sev ${f.severity}`, text: f.severity }),
  el('span', { class: 'finding-body' },
    el('span', { class: 'finding-top' },
      el('span', { class: 'code', text: f.code }),
      el('span', { class: 'rule', text: f.rule }),
      f.accepted ? el('span', { class: 'tag ok', text: 'accepted' }) : failing ? el('span', { class: 'tag bad', text: 'fails gate' }) : null,
      el('span', { class: 'loc', text: `${f.path}:${f.line}` })),
    el('span', { class: 'message', html: inlineMd(f.message) })));
  item.append(head);
  const more = el('details', { class: 'finding-more' });
  more.append(el('summary', { text: f.steps && f.steps.length ? 'Fix and escalation path' : 'How to fix' }));
  if (f.accepted) {
    more.append(el('p', { class: 'accepted-note' },
      el('strong', { text: `Accepted (was ${f.severity}; ${f.accepted.source === 'config' ? 'by config exception' : 'by annotation'}${f.accepted.expires ? `, expires ${f.accepted.expires}` : ''}): ` }),
      f.accepted.reason));
  }
  if (f.steps && f.steps.length) {
    more.append(el('h2', { text: 'Escalation path' }), stepsView(f.steps));
  }
  if (f.help) more.append(el('div', { class: 'md help', html: markdown(f.help) }));
  const meta = el('dl', { class: 'meta' });
  if (f.object) meta.append(el('dt', { text: 'Object' }), el('dd', { text: f.object }));
  if (f.identity) meta.append(el('dt', { text: 'Identity' }), el('dd', { text: f.identity }));
  meta.append(el('dt', { text: 'Category' }), el('dd', { text: f.category }));
  meta.append(el('dt', { text: 'Fingerprint' }), el('dd', { class: 'mono', text: f.fingerprint }));
  more.append(meta);
  more.append(el('button', { type: 'button', class: 'link', onclick: () => onRule(f.code) }, `Rule docs for ${f.code}`));
  item.append(more);
  return item;
}

function errorItem(e, { onGoto }) {
  return el('li', {
    class: 'finding error failing',
    'data-testid': 'error',
    'data-severity': 'error',
    'data-line': String(e.line || 1),
    'data-path': e.path,
  }, el('button', { type: 'button', class: 'finding-main', onclick: () => onGoto(e.path, e.line || 1, e.column || 1) },
    el('span', { class: 'sev error', text: 'error' }),
    el('span', { class: 'finding-body' },
      el('span', { class: 'finding-top' },
        el('span', { class: 'code', text: 'file error' }),
        el('span', { class: 'tag bad', text: 'fails gate' }),
        el('span', { class: 'loc', text: `${e.path}${e.line ? `:${e.line}` : ''}` })),
      el('span', { class: 'message', text: e.message }))));
}

export function renderFindings(node, report, { filter, expandedAll, onShowAll, onGoto, onRule }) {
  node.textContent = '';
  let findings = sortFindings(report);
  if (filter.severity) findings = findings.filter((f) => f.severity === filter.severity);
  if (filter.failingOnly) findings = findings.filter((f) => fails(f, report.fail_on));
  if (!filter.severity) for (const e of report.errors) node.append(errorItem(e, { onGoto }));
  const shown = expandedAll ? findings : findings.slice(0, FINDINGS_PAGE);
  const fragment = document.createDocumentFragment();
  for (const f of shown) fragment.append(findingItem(f, report, { onGoto, onRule }));
  node.append(fragment);
  if (shown.length < findings.length) {
    node.append(el('li', { class: 'more' }, el('button', { type: 'button', class: 'btn', onclick: onShowAll },
      `Show all ${findings.length} findings`)));
  }
  if (!node.children.length) {
    node.append(el('li', { class: 'empty' },
      report.findings.length ? 'No finding matches this filter.' : report.counts.files ? 'No findings. The inputs grant nothing the gate objects to.' : 'Nothing checked yet.'));
  }
  // Arrow keys move between findings.
  node.onkeydown = (e) => {
    if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
    const buttons = [...node.querySelectorAll('.finding-main')];
    const i = buttons.indexOf(document.activeElement);
    if (i < 0) return;
    const next = buttons[i + (e.key === 'ArrowDown' ? 1 : -1)];
    if (next) {
      next.focus();
      e.preventDefault();
    }
  };
}

// ---------------------------------------------------------------- identities and the matrix

function shortId(id) {
  const m = /^system:serviceaccount:([^:]+):(.+)$/.exec(id);
  return m ? `${m[1]}/${m[2]}` : id;
}

export function renderIdentities(node, identities, selected, onSelect) {
  node.textContent = '';
  if (!identities.length) {
    node.append(el('p', { class: 'empty', text: 'No identity has permissions in these inputs.' }));
    return;
  }
  for (const identity of identities) {
    const excess = identity.permissions.filter((p) => p.status === 'excess').length;
    const missing = identity.permissions.filter((p) => p.status === 'missing').length;
    const isSelected = identity.id === selected;
    node.append(el('button', {
      type: 'button',
      role: 'option',
      'aria-selected': String(isSelected),
      class: 'identity' + (isSelected ? ' on' : ''),
      title: identity.id,
      onclick: () => onSelect(identity.id),
    },
    el('span', { class: 'identity-name', text: shortId(identity.id) }),
    el('span', { class: 'roles', text: identity.roles.join(', ') }),
    excess ? el('span', { class: 'pill excess', text: `${excess} excess` }) : null,
    missing ? el('span', { class: 'pill missing', text: `${missing} missing` }) : null));
  }
}

const VERB_ORDER = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection'];
const STATUS_RANK = { missing: 4, excess: 3, needed: 2, granted: 1 };

function verbColumns(rows) {
  const verbs = new Set();
  for (const r of rows) for (const v of r.verbs) verbs.add(v);
  const known = VERB_ORDER.filter((v) => verbs.has(v));
  const other = [...verbs].filter((v) => !VERB_ORDER.includes(v) && v !== '*').sort();
  return [...known, ...other, ...(verbs.has('*') ? ['*'] : [])];
}

export function renderMatrix(node, identity, { onlyProblems }) {
  node.textContent = '';
  if (!identity) return;
  let rows = identity.permissions;
  if (onlyProblems) rows = rows.filter((p) => p.status === 'excess' || p.status === 'missing');
  node.append(el('p', { class: 'matrix-title' },
    el('strong', { text: identity.id }), ` · ${identity.roles.join(', ')}`));
  if (!rows.length) {
    node.append(el('p', { class: 'empty', text: onlyProblems ? 'Nothing excess or missing.' : 'No permissions.' }));
    return;
  }
  // namespace → resource key → verb → {status, via}
  const byNs = new Map();
  for (const row of rows) {
    const ns = row.namespace;
    if (!byNs.has(ns)) byNs.set(ns, new Map());
    const group = row.api_group === '' ? 'core' : row.api_group;
    const names = row.resource_names && row.resource_names.length ? ` [${row.resource_names.join(', ')}]` : '';
    const key = `${row.resource}${names}\u0000${group}`;
    const resources = byNs.get(ns);
    if (!resources.has(key)) resources.set(key, { resource: row.resource + names, group, cells: new Map() });
    const cells = resources.get(key).cells;
    for (const verb of row.verbs) {
      const prev = cells.get(verb);
      if (!prev || STATUS_RANK[row.status] > STATUS_RANK[prev.status]) cells.set(verb, { status: row.status, via: row.via });
    }
  }
  const verbs = verbColumns(rows);
  const table = el('table', { class: 'matrix' });
  const caption = el('caption', { class: 'sr-only', text: `Effective permissions of ${identity.id}: namespace, resource and verb` });
  table.append(caption);
  table.append(el('thead', {}, el('tr', {},
    el('th', { scope: 'col', text: 'Resource' }),
    el('th', { scope: 'col', text: 'API group' }),
    verbs.map((v) => el('th', { scope: 'col', class: 'verb', text: v })))));
  let count = 0;
  const namespaces = [...byNs.keys()].sort((a, b) => (a === '*' ? -1 : b === '*' ? 1 : a.localeCompare(b)));
  for (const ns of namespaces) {
    const body = el('tbody');
    body.append(el('tr', { class: 'ns' }, el('th', { colspan: String(verbs.length + 2), scope: 'colgroup' },
      ns === '*' ? 'All namespaces (cluster-wide)' : `Namespace ${ns}`)));
    const resources = [...byNs.get(ns).values()].sort((a, b) => a.group.localeCompare(b.group) || a.resource.localeCompare(b.resource));
    for (const r of resources) {
      if (count++ >= MATRIX_ROWS) break;
      body.append(el('tr', {},
        el('th', { scope: 'row', class: 'res', text: r.resource }),
        el('td', { class: 'grp', text: r.group }),
        verbs.map((v) => {
          const cell = r.cells.get(v);
          if (!cell) return el('td', { class: 'cell none' });
          const symbol = { needed: '✓', excess: '+', missing: '−', granted: '•' }[cell.status] || '•';
          return el('td', {
            class: `cell ${cell.status}`,
            title: `${cell.status}: ${v} ${r.resource} (${r.group}) in ${ns === '*' ? 'every namespace' : ns}${cell.via ? `\nvia ${cell.via}` : ''}`,
            'aria-label': `${v}: ${cell.status}`,
            'data-status': cell.status,
          }, symbol);
        })));
    }
    table.append(body);
  }
  node.append(el('div', { class: 'matrix-scroll' }, table));
  if (count > MATRIX_ROWS) {
    node.append(el('p', { class: 'hint', text: `Showing ${MATRIX_ROWS} of ${count} rows; the JSON report has them all.` }));
  }
  const vias = [...new Set(rows.map((r) => r.via).filter(Boolean))];
  if (vias.length) {
    const list = el('ul', { class: 'vias' });
    for (const v of vias.slice(0, 50)) list.append(el('li', { text: v }));
    node.append(el('details', { class: 'via-list' }, el('summary', { text: `Granted through ${vias.length} binding${vias.length === 1 ? '' : 's'}` }), list));
  }
}

// ---------------------------------------------------------------- escalation paths

export function renderEscalations(node, report, { onGoto }) {
  node.textContent = '';
  let count = 0;
  for (const identity of report.identities) {
    for (const path of identity.escalations || []) {
      if (!path.length) continue;
      count++;
      node.append(el('section', { class: 'escalation' },
        el('h2', {}, el('span', { class: 'from', text: shortId(identity.id) }), ' can escalate'),
        stepsView(path)));
    }
  }
  for (const f of report.findings) {
    if (!f.steps || !f.steps.length) continue;
    count++;
    node.append(el('section', { class: `escalation sev-${f.severity}` },
      el('h2', {},
        el('span', { class: `sev ${f.severity}`, text: f.severity }), ' ',
        el('button', { type: 'button', class: 'link', onclick: () => onGoto(f.path, f.line, f.column) }, `${f.code} ${f.rule} · ${f.path}:${f.line}`)),
      f.identity ? el('p', { class: 'from-line' }, 'Starting from ', el('code', { text: f.identity })) : null,
      stepsView(f.steps)));
  }
  if (!count) node.append(el('p', { class: 'empty', text: 'No escalation paths: no identity here can reach more than it was granted.' }));
  return count;
}

// ---------------------------------------------------------------- rule docs

export function renderRules(node, rules, { query = '', open } = {}) {
  node.textContent = '';
  const q = query.trim().toLowerCase();
  const shown = rules.filter((r) => !q || `${r.code} ${r.name} ${r.summary} ${r.docs}`.toLowerCase().includes(q));
  for (const r of shown) {
    const details = el('details', { class: 'rule-doc', id: `rule-${r.code}`, open: r.code === open });
    details.append(el('summary', {},
      el('span', { class: 'code', text: r.code }),
      el('span', { class: 'rule', text: r.name }),
      el('span', { class: `sev ${r.severity}`, text: r.severity }),
      el('span', { class: 'cat', text: r.category }),
      el('span', { class: 'summary', text: r.summary })));
    details.append(el('div', { class: 'md', html: markdown(r.docs) }));
    node.append(details);
  }
  if (!shown.length) node.append(el('p', { class: 'empty', text: 'No rule matches.' }));
  if (open) {
    const target = node.querySelector(`#rule-${CSS.escape(open)}`);
    if (target) {
      target.scrollIntoView({ block: 'start' });
      target.querySelector('summary').focus();
    }
  }
}

// ---------------------------------------------------------------- generate and explain error

function errorList(errors) {
  if (!errors || !errors.length) return null;
  return el('ul', { class: 'tool-errors', role: 'alert' },
    errors.map((e) => el('li', { text: `${e.path ? `${e.path}${e.line ? `:${e.line}` : ''}: ` : ''}${e.message}` })));
}

/** The `generate` response: its YAML, what it was made for, and "Open in editor". */
export function renderGenerated(node, response, { onOpen }) {
  node.textContent = '';
  const errors = errorList(response.errors);
  if (errors) node.append(errors);
  if (!response.text) {
    if (!errors) node.append(el('p', { class: 'empty', text: 'Nothing was generated.' }));
    return;
  }
  const facts = [`runner ${response.runner_version}`, `manager ${response.manager}`];
  if (response.jobs) facts.push(`jobs ${response.jobs}`);
  facts.push(response.job_namespaces && response.job_namespaces.length ? `job namespaces ${response.job_namespaces.join(', ')}` : 'jobs in any namespace');
  node.append(el('div', { class: 'tool-head' },
    el('p', { class: 'tool-facts' },
      el('strong', { text: response.format === 'helm' ? 'Helm values' : 'Manifests' }), ` · ${facts.join(' · ')}`),
    el('button', { type: 'button', class: 'btn', id: 'generate-open', onclick: onOpen }, 'Open in editor')));
  if (response.features && response.features.length) {
    node.append(el('p', { class: 'tool-features' }, 'Features: ', ...response.features.flatMap((f, i) => [i ? ', ' : '', el('code', { text: f })])));
  }
  if (response.cluster_wide) {
    node.append(el('p', { class: 'tool-note' }, el('code', { text: response.cluster_wide }), ' needs namespaced permissions cluster-wide.'));
  }
  for (const note of response.notes || []) node.append(el('p', { class: 'tool-note', html: inlineMd(note) }));
  node.append(el('pre', { class: 'code', 'data-testid': 'generate-output', tabindex: '0', 'aria-label': 'Generated YAML' }, el('code', { text: response.text })));
  if (response.extra_manifests) {
    node.append(el('h2', { class: 'tool-sub', text: 'Also apply with kubectl (the chart cannot render these)' }));
    node.append(el('pre', { class: 'code', tabindex: '0', 'aria-label': 'Extra manifests' }, el('code', { text: response.extra_manifests })));
  }
  if (response.rules && response.rules.length) {
    const table = el('table', { class: 'gen-rules' },
      el('caption', { class: 'sr-only', text: 'Why each rule is there' }),
      el('thead', {}, el('tr', {}, ['Resource', 'Verbs', 'Scope', 'Needed by', 'Without it'].map((h) => el('th', { scope: 'col', text: h })))));
    const body = el('tbody');
    for (const r of response.rules) {
      body.append(el('tr', {},
        el('td', { class: 'mono', text: r.api_group ? `${r.resource}.${r.api_group}` : r.resource }),
        el('td', { class: 'mono', text: r.verbs.join(', ') }),
        el('td', { text: r.scope }),
        el('td', {}, el('code', { text: r.feature }), ` (${r.impact})`),
        el('td', { text: r.breaks })));
    }
    table.append(body);
    node.append(el('details', { class: 'tool-more' }, el('summary', { text: `Why each rule (${response.rules.length})` }), table));
  }
}

/** The `explain_error` response: one card per distinct error. */
export function renderExplanations(node, response, { onGoto, hasFile }) {
  node.textContent = '';
  const errors = errorList(response.errors);
  if (errors) node.append(errors);
  const list = response.explanations || [];
  if (!list.length) {
    node.append(el('p', { class: 'empty', text: 'No Kubernetes API error (forbidden, unauthorized, expired token or certificate) was recognised in this text.' }));
    return;
  }
  for (const x of list) {
    const card = el('section', { class: `explanation kind-${x.kind}`, 'data-testid': 'explanation', 'data-kind': x.kind, 'data-resource': x.resource || '' });
    const what = [x.verb, x.resource ? (x.api_group ? `${x.resource}.${x.api_group}` : x.resource) : x.path].filter(Boolean).join(' ');
    card.append(el('h2', {},
      el('span', { class: 'tag bad', text: x.kind.replace(/_/g, ' ') }), ' ',
      el('span', { text: x.failure })));
    const meta = el('dl', { class: 'meta' });
    if (what) meta.append(el('dt', { text: 'Request' }), el('dd', { class: 'mono', text: `${what}${x.namespace ? ` in ${x.namespace}` : x.resource ? ' (cluster scope)' : ''}` }));
    if (x.identity) meta.append(el('dt', { text: 'Identity' }), el('dd', { class: 'mono', text: `${x.identity}${x.identity_role && x.identity_role !== 'unknown' ? ` (${x.identity_role})` : ''}` }));
    if (x.occurrences > 1) meta.append(el('dt', { text: 'Seen' }), el('dd', { text: `${x.occurrences} times` }));
    card.append(meta);
    card.append(el('p', { class: 'cause', html: `<strong>Cause:</strong> ${inlineMd(x.cause)}` }));
    if (x.features && x.features.length) {
      card.append(el('h3', { text: 'Needed by' }));
      card.append(el('ul', { class: 'needs' }, x.features.map((f) => el('li', {},
        el('code', { text: f.feature }), ` · ${f.impact}${f.versions ? ` · ${f.versions}` : ''}${f.applies === false ? ' · not used by this runner' : ''}: `,
        el('span', { text: f.breaks })))));
    }
    if (x.rule) {
      card.append(el('h3', { text: x.scope === 'cluster' ? 'Rule to add (ClusterRole)' : 'Rule to add' }));
      card.append(el('pre', { class: 'code', tabindex: '0', 'aria-label': 'Rule to add' }, el('code', { text: x.rule })));
    }
    card.append(el('p', { class: 'fix', html: `<strong>Fix:</strong> ${inlineMd(x.fix)}` }));
    if (x.edits && x.edits.length) {
      card.append(el('h3', { text: 'Where' }));
      card.append(el('ul', { class: 'edits' }, x.edits.map((e) => {
        const loc = `${e.path}:${e.line}`;
        const open = hasFile(e.path);
        const target = open
          ? el('button', { type: 'button', class: 'link loc', 'data-testid': 'explanation-edit', 'data-path': e.path, 'data-line': String(e.line), title: `Go to ${loc}`, onclick: () => onGoto(e.path, e.line, 1) }, loc)
          : el('span', { class: 'loc', 'data-testid': 'explanation-edit', 'data-path': e.path, 'data-line': String(e.line), title: `${e.path} is not open`, text: loc });
        return el('li', {}, target, ' ', el('span', { class: 'object', text: e.object }), ': ', el('span', { html: inlineMd(e.action) }));
      })));
    }
    for (const note of x.notes || []) card.append(el('p', { class: 'tool-note', html: inlineMd(note) }));
    node.append(card);
  }
  if (response.omitted) node.append(el('p', { class: 'empty', text: `${response.omitted} more distinct error(s) were not explained.` }));
}
