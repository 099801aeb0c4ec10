// End to end: gitlab-ci-local 4.65.1 runs the component's job with the shell executor and the
// real rbac-gate binary on PATH, in throwaway git repositories shaped like GitLab projects.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import {
    makeRepo, gcl, artifact, rbacGateBinary, MR_PIPELINE, TEMPLATE, CODE_QUALITY_SEVERITIES, COMPONENT_DIR,
} from "./lib.mjs";

const TEMPLATE_TEXT = fs.readFileSync(TEMPLATE, "utf8");

const fixture = (name) => fs.readFileSync(path.join(COMPONENT_DIR, "tests", "fixtures", name), "utf8");
// A runner manager ServiceAccount bound to cluster-admin: critical.
const UNSAFE = fixture("unsafe/runner-rbac.yaml");
// A read-only Role for something that is not a runner.
const SAFE = fixture("safe/pod-reader.yaml");
// The unsafe binding with a justification annotation.
const JUSTIFIED = fixture("justified/runner-rbac.yaml");
const JUSTIFICATION = /rbac-gate\.dev\/justification: "(.*)"/.exec(JUSTIFIED)[1];

/** `include: local:` of a copy of the template, with inputs. */
function localInclude(inputs) {
    const lines = ["include:", "  - local: /ci/rbac-gate.yml"];
    if (inputs) lines.push(`    inputs: ${JSON.stringify(inputs)}`);
    return `${lines.join("\n")}\n`;
}

/** A consumer project whose pipeline is only the component, plus `change` on branch feature. */
function project(change, { ci = localInclude(), base = {} } = {}) {
    return makeRepo({ base: { ".gitlab-ci.yml": ci, "ci/rbac-gate.yml": TEMPLATE_TEXT, ...base }, change });
}

function readCodeQuality(dir, job = "rbac-gate", file = "gl-code-quality-report.json") {
    const report = artifact(dir, job, file);
    assert.ok(fs.existsSync(report), `no Code Quality artifact at ${report}`);
    const entries = JSON.parse(fs.readFileSync(report, "utf8"));
    assert.ok(Array.isArray(entries), "the Code Quality report is one JSON array");
    for (const entry of entries) {
        assert.equal(typeof entry.description, "string");
        assert.equal(typeof entry.fingerprint, "string");
        assert.ok(CODE_QUALITY_SEVERITIES.includes(entry.severity), `bad severity ${entry.severity}`);
        assert.equal(typeof entry.location?.path, "string");
        assert.ok(Number.isInteger(entry.location?.lines?.begin), `no location.lines.begin: ${JSON.stringify(entry)}`);
    }
    return entries;
}

/** Job names gitlab-ci-local would run (`--list` leaves out when:never). */
function listed(dir, args = []) {
    const { status, output, stdout } = gcl(dir, ["--list", ...args]);
    assert.equal(status, 0, output);
    const lines = stdout.split("\n");
    const header = lines.findIndex((l) => /^name\s+description\s+stage/.test(l));
    assert.ok(header >= 0, output);
    return lines.slice(header + 1).map((l) => l.trim().split(/\s+/)[0]).filter(Boolean);
}

before(() => {
    rbacGateBinary(); // fails clearly when the binary has not been built
});

test("an unsafe change in a merge request pipeline fails the job and the Code Quality report holds the finding", (t) => {
    const repo = project({ "deploy/runner-rbac.yaml": UNSAFE });
    t.after(repo.cleanup);
    const { status, output } = gcl(repo.dir, ["rbac-gate", ...MR_PIPELINE]);
    assert.notEqual(status, 0, output);
    assert.match(output, /rbac-gate: FAILED \(exit 1\).*The merge is blocked\./, output);
    assert.match(output, /deploy\/runner-rbac\.yaml:\d+/, "the text report is in the job log");
    const entries = readCodeQuality(repo.dir);
    const finding = entries.find((e) => e.location.path === "deploy/runner-rbac.yaml");
    assert.ok(finding, `no finding on deploy/runner-rbac.yaml in ${JSON.stringify(entries)}`);
    assert.ok(["critical", "blocker"].includes(finding.severity), finding.severity);
    assert.ok(finding.location.lines.begin >= 1 && finding.location.lines.begin <= UNSAFE.split("\n").length);
    const junit = fs.readFileSync(artifact(repo.dir, "rbac-gate", "rbac-gate-junit.xml"), "utf8");
    assert.match(junit, /<testsuites[\s\S]*<failure/);
});

test("a safe change passes", (t) => {
    const repo = project({ "deploy/pod-reader.yaml": SAFE });
    t.after(repo.cleanup);
    const { status, output } = gcl(repo.dir, ["rbac-gate", ...MR_PIPELINE]);
    assert.equal(status, 0, output);
    assert.match(output, /rbac-gate: PASSED/, output);
    const entries = readCodeQuality(repo.dir);
    for (const e of entries) assert.ok(!["critical", "blocker"].includes(e.severity), JSON.stringify(e));
});

test("a bad fail-on value is rejected by input validation before any job runs", (t) => {
    const repo = project({ "deploy/pod-reader.yaml": SAFE }, { ci: localInclude({ "fail-on": "severe" }) });
    t.after(repo.cleanup);
    const { status, output } = gcl(repo.dir, ["rbac-gate", ...MR_PIPELINE]);
    assert.notEqual(status, 0, output);
    assert.match(output, /fail-on.*severe.*not in the list of allowed options/, output);
    assert.doesNotMatch(output, /rbac-gate \$ rbac-gate/, "no job ran");
});

test("a justified object passes and the justification is in the job log", (t) => {
    const repo = project({ "deploy/runner-rbac.yaml": JUSTIFIED });
    t.after(repo.cleanup);
    const { status, output } = gcl(repo.dir, ["rbac-gate", ...MR_PIPELINE]);
    assert.equal(status, 0, output);
    assert.match(output, /rbac-gate: PASSED/, output);
    assert.ok(output.includes(JUSTIFICATION), `justification not in the log:\n${output}`);
});

test("an unreadable input fails the job with the error and a clear exit-2 line", (t) => {
    const repo = project({ "deploy/broken.yaml": "apiVersion: v1\nkind: [unclosed\n" });
    t.after(repo.cleanup);
    const { status, output } = gcl(repo.dir, ["rbac-gate", ...MR_PIPELINE]);
    assert.notEqual(status, 0, output);
    assert.match(output, /rbac-gate: ERROR \(exit 2\).*The merge is blocked\./, output);
    assert.match(output, /broken\.yaml/, output);
});

test("inputs reach the command line: paths, fail-on, report names", (t) => {
    const ci = localInclude({
        paths: ["deploy", "clusters/prod"], "fail-on": "critical",
        "codequality-report": "reports/cq.json", "junit-report": "reports/junit.xml",
    });
    const repo = project({
        "deploy/pod-reader.yaml": SAFE,
        "clusters/prod/runner.yaml": JUSTIFIED,
        "elsewhere/runner-rbac.yaml": UNSAFE, // outside `paths`: not checked
    }, { ci });
    t.after(repo.cleanup);
    const { status, output } = gcl(repo.dir, ["rbac-gate", ...MR_PIPELINE]);
    assert.equal(status, 0, output);
    assert.match(output, /fail-on critical: PASS/, "fail-on reached rbac-gate");
    assert.doesNotMatch(output, /elsewhere/);
    const entries = readCodeQuality(repo.dir, "rbac-gate", "reports/cq.json");
    assert.ok(entries.every((e) => !e.location.path.startsWith("elsewhere/")));
    assert.ok(fs.existsSync(artifact(repo.dir, "rbac-gate", "reports/junit.xml")));
});

test("the component can be included twice under two job names", (t) => {
    const ci = `include:
  - local: /ci/rbac-gate.yml
    inputs: { job-name: rbac-gate-deploy, paths: [deploy] }
  - local: /ci/rbac-gate.yml
    inputs: { job-name: rbac-gate-clusters, paths: [clusters] }
`;
    const repo = project({ "deploy/pod-reader.yaml": SAFE, "clusters/runner-rbac.yaml": UNSAFE }, { ci });
    t.after(repo.cleanup);
    assert.deepEqual(listed(repo.dir, MR_PIPELINE).sort(), ["rbac-gate-clusters", "rbac-gate-deploy"]);
    const deploy = gcl(repo.dir, ["rbac-gate-deploy", ...MR_PIPELINE]);
    assert.equal(deploy.status, 0, deploy.output);
    const clusters = gcl(repo.dir, ["rbac-gate-clusters", ...MR_PIPELINE]);
    assert.notEqual(clusters.status, 0, clusters.output);
    assert.ok(readCodeQuality(repo.dir, "rbac-gate-clusters").some((e) => e.location.path === "clusters/runner-rbac.yaml"));
});

test("the catalog form resolves: include: component: at $CI_COMMIT_SHA", (t) => {
    const ci = `include:
  - component: $CI_SERVER_FQDN/$CI_PROJECT_PATH/rbac-gate@$CI_COMMIT_SHA
    inputs:
      stage: verify
stages: [verify]
`;
    const repo = makeRepo({
        base: { ".gitlab-ci.yml": ci, "templates/rbac-gate.yml": TEMPLATE_TEXT },
        change: { "deploy/pod-reader.yaml": SAFE },
    });
    t.after(repo.cleanup);
    const { status, output } = gcl(repo.dir, ["rbac-gate", ...MR_PIPELINE]);
    assert.equal(status, 0, output);
    assert.match(output, /rbac-gate starting shell \(verify\)/, output);
    assert.match(output, /rbac-gate: PASSED/, output);
});

test("rules: merge request and default-branch pipelines by default, not other branch pipelines", (t) => {
    const repo = project({ "deploy/pod-reader.yaml": SAFE });
    t.after(repo.cleanup);
    assert.deepEqual(listed(repo.dir, MR_PIPELINE), ["rbac-gate"]);
    assert.deepEqual(listed(repo.dir), [], "push pipeline of branch feature");
    assert.deepEqual(listed(repo.dir, ["--variable", "CI_COMMIT_BRANCH=main", "--ignore-predefined-vars", "CI_COMMIT_BRANCH"]),
        ["rbac-gate"], "push pipeline of the default branch (the Code Quality baseline)");
});

test("rules: mode always runs in branch pipelines too, except while a merge request is open", (t) => {
    const repo = project({ "deploy/pod-reader.yaml": SAFE }, { ci: localInclude({ mode: "always" }) });
    t.after(repo.cleanup);
    assert.deepEqual(listed(repo.dir), ["rbac-gate"]);
    assert.deepEqual(listed(repo.dir, MR_PIPELINE), ["rbac-gate"]);
    assert.deepEqual(listed(repo.dir, ["--variable", "CI_OPEN_MERGE_REQUESTS=acme/platform!42"]), []);
});

test("rules: mode changed-files skips merge requests that touch no matching file", (t) => {
    const ci = localInclude({ mode: "changed-files", changes: ["deploy/**/*"] });
    const touched = project({ "deploy/pod-reader.yaml": SAFE }, { ci });
    t.after(touched.cleanup);
    assert.deepEqual(listed(touched.dir, MR_PIPELINE), ["rbac-gate"]);
    const untouched = project({ "docs/notes.md": "nothing to check\n" }, { ci, base: { "deploy/pod-reader.yaml": SAFE } });
    t.after(untouched.cleanup);
    assert.deepEqual(listed(untouched.dir, MR_PIPELINE), [], "no matching change: no job (the changes: trap)");
    assert.deepEqual(listed(untouched.dir, ["--variable", "CI_COMMIT_BRANCH=main", "--ignore-predefined-vars", "CI_COMMIT_BRANCH"]),
        ["rbac-gate"], "the default branch always runs, so the widget has a baseline");
});

test("allow-failure: true turns a failing gate into a warning", (t) => {
    const repo = project({ "deploy/runner-rbac.yaml": UNSAFE }, { ci: localInclude({ "allow-failure": true }) });
    t.after(repo.cleanup);
    const { status, output } = gcl(repo.dir, ["rbac-gate", ...MR_PIPELINE]);
    assert.equal(status, 0, output);
    assert.match(output, /FAILED \(exit 1\).*the merge is not blocked/, output);
    assert.match(output, /WARN\s+rbac-gate/, output);
});
