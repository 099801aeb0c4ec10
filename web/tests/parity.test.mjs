// Output parity: the playground's build of the core (web/pkg, wasm-pack --target web, run
// under Node) and the CLI (target/release/rbac-gate) give the same report for every file in
// examples/ and for every example directory, with the same relative paths and the same date.
// The CLI adds the policy module's digest (policy.sha256); it is removed before comparing.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, CLI, TODAY, cli, exampleFiles, exampleDirs, loadBindings, withoutDigest, stripDigestText } from './lib.mjs';

const core = await loadBindings();
const options = JSON.stringify({ today: TODAY });

function playground(paths) {
  const sources = paths.map((p) => ({ path: p, text: fs.readFileSync(path.join(ROOT, p), 'utf8') }));
  return { sources: JSON.stringify(sources), report: core.check(JSON.stringify(sources), options) };
}

test('the CLI binary is there', () => {
  assert.ok(fs.existsSync(CLI), `${CLI} is missing (cargo build --release -p rbac-gate)`);
});

for (const file of exampleFiles()) {
  test(`same JSON report as the CLI: ${file}`, () => {
    const expected = JSON.parse(cli(['check', '--format', 'json', file]));
    const { report } = playground([file]);
    assert.deepEqual(withoutDigest(JSON.parse(report)), withoutDigest(expected));
  });
}

for (const dir of exampleDirs()) {
  test(`same reports as the CLI for the directory ${dir}`, () => {
    const files = exampleFiles().filter((f) => f.startsWith(`${dir}/`));
    const cliJson = cli(['check', '--format', 'json', dir]);
    const { report, sources } = playground(files);
    assert.deepEqual(withoutDigest(JSON.parse(report)), withoutDigest(JSON.parse(cliJson)));
    // The JSON download is byte-identical to the CLI's output, but for the digest line.
    assert.equal(core.render('json', report, sources), stripDigestText(cliJson));
  });
}
