// The feature selector's edits of `.rbac-gate.yaml` text (runner.features), and the share-link
// encoding, without a browser.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFeatures, writeFeatures } from '../src/config.js';
import { encodeState, decodeState } from '../src/share.js';

test('features are added to a config without a runner block', () => {
  assert.equal(writeFeatures('', ['namespace_per_job']), 'runner:\n  features: [namespace_per_job]\n');
  assert.equal(writeFeatures('fail-on: high', ['a', 'b']), 'fail-on: high\nrunner:\n  features: [a, b]\n');
  assert.equal(writeFeatures('fail-on: high\n', []), 'fail-on: high\n');
});

test('features go into an existing runner block and replace a block list', () => {
  const text = 'fail-on: high\nrunner:\n  version: "18.0"\n  features:\n    - FF_CONCRETE\n    - session_server\ndisable: [RG507]\n';
  assert.deepEqual(readFeatures(text), ['FF_CONCRETE', 'session_server']);
  const next = writeFeatures(text, ['namespace_per_job']);
  assert.equal(next, 'fail-on: high\nrunner:\n  version: "18.0"\n  features: [namespace_per_job]\ndisable: [RG507]\n');
  assert.deepEqual(readFeatures(next), ['namespace_per_job']);
  const inserted = writeFeatures('runner:\n    version: "17.0"\n', ['FF_CONCRETE']);
  assert.equal(inserted, 'runner:\n    features: [FF_CONCRETE]\n    version: "17.0"\n');
});

test('removing the last feature removes an emptied runner block', () => {
  const text = 'fail-on: low\nrunner:\n  features: [namespace_per_job]\n';
  assert.equal(writeFeatures(text, []), 'fail-on: low\n');
  assert.equal(writeFeatures('runner:\n  version: "18.0"\n  features: [a]\n', []), 'runner:\n  version: "18.0"\n');
});

test('flow-style runner mappings are left to the user', () => {
  assert.equal(writeFeatures('runner: {version: "18.0"}\n', ['a']), null);
  assert.deepEqual(readFeatures('runner: {version: "18.0"}\n'), []);
});

test('share links round-trip through deflate-raw and base64url', async () => {
  const state = { v: 1, files: [{ path: 'rbac.yaml', text: 'kind: Role\n# ünïcödé ✓\n'.repeat(50) }], active: 'rbac.yaml' };
  const fragment = await encodeState(state);
  assert.match(fragment, /^s=[A-Za-z0-9_-]+$/);
  assert.ok(fragment.length < JSON.stringify(state).length / 4, 'compressed');
  assert.deepEqual(await decodeState('#' + fragment), state);
  assert.equal(await decodeState('#nothing'), null);
});
