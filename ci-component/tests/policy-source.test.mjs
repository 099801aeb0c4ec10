// Where the job's policy comes from, and how it clears stale reports, by running the template's own script in real git
// repositories with a stub `rbac-gate` that records its arguments: a merge request pipeline
// reads the config at the target (`$CI_MERGE_REQUEST_DIFF_BASE_SHA`), a branch pipeline of
// any other branch at the default branch (fetched from `origin`), and only the default
// branch's own pipeline reads the tree's config. gitlab-ci-local cannot show the branch case:
// its throwaway repositories have no remote to fetch from; here `origin` is a local bare
// repository.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadTemplate, inputValues, interpolate } from "./lib.mjs";

const { header, body } = loadTemplate();
const scriptWith = (inputs = {}) =>
    interpolate(body, { inputs: inputValues(header, inputs), component: { version: "1.2.3" } })["rbac-gate"]
        .script.join("\n");
const script = scriptWith();

function git(dir, ...args) {
    return execFileSync("git", ["-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.com", ...args],
        { encoding: "utf8", env: { ...process.env, GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null" } }).trim();
}

/** A bare `origin` with `main`, and a clone on branch `feature`; a stub rbac-gate on PATH. */
function setup(t) {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "rbac-gate-policy-source-"));
    t.after(() => fs.rmSync(root, { recursive: true, force: true }));
    const seed = path.join(root, "seed");
    fs.mkdirSync(seed);
    git(seed, "init", "-q", "-b", "main");
    fs.writeFileSync(path.join(seed, ".rbac-gate.yaml"), "fail-on: high\n");
    git(seed, "add", "-A");
    git(seed, "commit", "-q", "-m", "base");
    const base = git(seed, "rev-parse", "HEAD");
    const origin = path.join(root, "origin.git");
    execFileSync("git", ["clone", "-q", "--bare", seed, origin]);
    const work = path.join(root, "work");
    execFileSync("git", ["clone", "-q", origin, work]);
    git(work, "checkout", "-q", "-b", "feature");
    fs.writeFileSync(path.join(work, ".rbac-gate.yaml"), "disable: [cluster-admin-binding]\n");
    git(work, "commit", "-q", "-am", "loosen");
    // The clone does not know origin's main as a local ref to read from: the job must fetch it.
    git(work, "update-ref", "-d", "refs/remotes/origin/main");
    const bin = path.join(root, "bin");
    fs.mkdirSync(bin);
    const log = path.join(root, "args.log");
    fs.writeFileSync(path.join(bin, "rbac-gate"),
        // Like rbac-gate, fail when the revision is not in the clone.
        `#!/bin/sh\nprintf '%s\\n' "$*" >> '${log}'\nwhile [ $# -gt 0 ]; do\n  if [ "$1" = --config-from-rev ]; then git cat-file -e "$2^{commit}" || exit 2; fi\n  shift\ndone\nexit 0\n`,
        { mode: 0o755 });
    return { work, base, bin, log };
}

function run({ work, bin, log }, variables, jobScript = script) {
    const result = spawnSync("sh", ["-ec", jobScript], {
        cwd: work,
        encoding: "utf8",
        env: { PATH: `${bin}:${process.env.PATH}`, HOME: work, ...variables },
    });
    const checks = fs.existsSync(log) ? fs.readFileSync(log, "utf8").split("\n").filter((l) => l.startsWith("check")) : [];
    return { result, check: checks.at(-1) ?? "" };
}

test("a merge request pipeline reads the config at the target revision", (t) => {
    const repo = setup(t);
    const { result, check } = run(repo, {
        CI_PIPELINE_SOURCE: "merge_request_event", CI_MERGE_REQUEST_DIFF_BASE_SHA: repo.base,
        CI_COMMIT_BRANCH: "", CI_DEFAULT_BRANCH: "main",
    });
    assert.equal(result.status, 0, result.stdout + result.stderr);
    assert.match(check, new RegExp(`^check .*--config-from-rev ${repo.base} `));
});

test("a branch pipeline of another branch reads the default branch's config, fetched", (t) => {
    const repo = setup(t);
    const { result, check } = run(repo, { CI_COMMIT_BRANCH: "feature", CI_DEFAULT_BRANCH: "main" });
    assert.equal(result.status, 0, result.stdout + result.stderr);
    assert.match(check, /^check .*--config-from-rev refs\/rbac-gate\/default-branch /);
    assert.equal(git(repo.work, "rev-parse", "refs/rbac-gate/default-branch"), repo.base);
});

test("the default branch's own pipeline reads the tree's config", (t) => {
    const repo = setup(t);
    git(repo.work, "checkout", "-q", "-b", "main-copy");
    const { result, check } = run(repo, { CI_COMMIT_BRANCH: "main", CI_DEFAULT_BRANCH: "main" });
    assert.equal(result.status, 0, result.stdout + result.stderr);
    assert.doesNotMatch(check, /--config-from-rev/);
});

test("stale reports are removed, but never through a directory the merge request linked elsewhere", (t) => {
    const repo = setup(t);
    // The merge request commits `reports -> <outside>`; the report input names reports/cq.json.
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), "rbac-gate-outside-"));
    t.after(() => fs.rmSync(outside, { recursive: true, force: true }));
    fs.writeFileSync(path.join(outside, "cq.json"), "precious\n");
    fs.symlinkSync(outside, path.join(repo.work, "reports"));
    const linked = scriptWith({ "codequality-report": "reports/cq.json" });
    const { result } = run(repo, { CI_COMMIT_BRANCH: "main", CI_DEFAULT_BRANCH: "main" }, linked);
    assert.equal(result.status, 0, result.stdout + result.stderr);
    assert.equal(fs.readFileSync(path.join(outside, "cq.json"), "utf8"), "precious\n");
    // A stale report in a real directory is removed before the run.
    fs.rmSync(path.join(repo.work, "reports"));
    fs.mkdirSync(path.join(repo.work, "reports"));
    fs.writeFileSync(path.join(repo.work, "reports", "cq.json"), "[]\n");
    run(repo, { CI_COMMIT_BRANCH: "main", CI_DEFAULT_BRANCH: "main" }, linked);
    assert.ok(!fs.existsSync(path.join(repo.work, "reports", "cq.json")), "a stale report stands in for the run's");
});
