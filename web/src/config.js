// `.rbac-gate.yaml` `runner.features`, read from and written into the config text, so the
// feature selector and the config tab always say the same thing (the core reads the text).

export const CONFIG_NAME = '.rbac-gate.yaml';

export function isConfigPath(path) {
  return path === CONFIG_NAME || path.endsWith('/' + CONFIG_NAME);
}

const indentOf = (line) => line.length - line.trimStart().length;
const isBlankOrComment = (line) => line.trim() === '' || line.trim().startsWith('#');

/** Where the top-level `runner:` block is: {start, end (exclusive), childIndent, flow}. */
function runnerBlock(lines) {
  const start = lines.findIndex((l) => /^runner\s*:/.test(l));
  if (start < 0) return null;
  const rest = lines[start].replace(/^runner\s*:/, '').replace(/\s#.*$/, '').trim();
  if (rest !== '') return { start, end: start + 1, flow: true };
  let end = start + 1;
  while (end < lines.length && (isBlankOrComment(lines[end]) || indentOf(lines[end]) > 0)) end++;
  while (end > start + 1 && lines[end - 1].trim() === '') end--;
  let childIndent = null;
  for (let i = start + 1; i < end; i++) {
    if (!isBlankOrComment(lines[i])) {
      childIndent = indentOf(lines[i]);
      break;
    }
  }
  return { start, end, childIndent, flow: false };
}

/** The `features:` entry inside the runner block: {start, end (exclusive)}. */
function featuresEntry(lines, block) {
  if (!block || block.flow || block.childIndent === null) return null;
  for (let i = block.start + 1; i < block.end; i++) {
    if (indentOf(lines[i]) === block.childIndent && /^\s*features\s*:/.test(lines[i])) {
      let end = i + 1;
      while (end < block.end) {
        const l = lines[end];
        const ind = indentOf(l);
        if (isBlankOrComment(l) || ind > block.childIndent || (ind === block.childIndent && l.trim().startsWith('- '))) end++;
        else break;
      }
      while (end > i + 1 && lines[end - 1].trim() === '') end--;
      return { start: i, end };
    }
  }
  return null;
}

const unquote = (s) => s.trim().replace(/^(['"])(.*)\1$/, '$2');

/** Features listed in `runner.features` (flow or block list); [] when none. */
export function readFeatures(text) {
  const lines = text.split('\n');
  const entry = featuresEntry(lines, runnerBlock(lines));
  if (!entry) return [];
  const value = lines[entry.start].replace(/^\s*features\s*:/, '').replace(/\s#.*$/, '').trim();
  if (value.startsWith('[')) {
    return value.replace(/^\[/, '').replace(/\].*$/, '').split(',').map(unquote).filter(Boolean);
  }
  const out = [];
  for (let i = entry.start + 1; i < entry.end; i++) {
    const m = /^\s*-\s+(.*?)\s*(#.*)?$/.exec(lines[i]);
    if (m) out.push(unquote(m[1]));
  }
  return out;
}

/**
 * The config text with `runner.features` set to `features` (removed when empty). Returns null
 * when the file writes `runner` in flow style (`runner: {...}`), which is left to the user.
 */
export function writeFeatures(text, features) {
  const lines = text.split('\n');
  const block = runnerBlock(lines);
  const list = `features: [${features.join(', ')}]`;
  if (!block) {
    if (features.length === 0) return text;
    let out = text;
    if (out !== '' && !out.endsWith('\n')) out += '\n';
    return `${out}runner:\n  ${list}\n`;
  }
  if (block.flow) return null;
  const entry = featuresEntry(lines, block);
  const indent = ' '.repeat(block.childIndent ?? 2);
  if (entry) {
    lines.splice(entry.start, entry.end - entry.start, ...(features.length ? [indent + list] : []));
  } else if (features.length) {
    lines.splice(block.start + 1, 0, indent + list);
  } else {
    return text;
  }
  // A `runner:` left without entries would be `runner: null`, which the config rejects.
  const after = runnerBlock(lines);
  if (after && !after.flow && after.childIndent === null) {
    lines.splice(after.start, after.end - after.start);
  }
  return lines.join('\n');
}
