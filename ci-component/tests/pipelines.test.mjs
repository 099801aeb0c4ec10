// The pipelines that use the component: this repository's .gitlab-ci.yml (dogfooding with
// `include: local`), the component project's own .gitlab-ci.yml (self-include at the commit
// SHA, release) and the sharded example. Each is schema-checked and run with gitlab-ci-local.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import yaml from "js-yaml";
import { COMPONENT_DIR, REPO_ROOT, TEMPLATE, makeRepo, gcl, artifact, schemaErrors } from "./lib.mjs";

const ROOT_CI = path.join(REPO_ROOT, ".gitlab-ci.yml");
const COMPONENT_CI = path.join(COMPONENT_DIR, ".gitlab-ci.yml");
const EXAMPLE_CI = path.join(REPO_ROOT, "examples", "pipelines", "sharded-scan.gitlab-ci.yml");
const read = (file) => fs.readFileSync(file, "utf8");
const fixtures = (prefix) => Object.fromEntries(["safe/pod-reader.yaml", "justified/runner-rbac.yaml", "unsafe/runner-rbac.yaml"]
    .map((f) => [`${prefix}/${f}`, read(path.join(COMPONENT_DIR, "tests", "fixtures", f))]));
const PUSH_MAIN = ["--variable", "CI_COMMIT_BRANCH=main", "--ignore-predefined-vars", "CI_COMMIT_BRANCH"];
const SEMVER_RULE = /^\$CI_COMMIT_TAG =~ \/\^\\d\+\\\.\\d\+\\\.\\d\+\$\/$/;

function listed(dir, args = []) {
    const { status, output, stdout } = gcl(dir, ["--list", ...args]);
    assert.equal(status, 0, output);
    const lines = stdout.split("\n");
    const header = lines.findIndex((l) => /^name\s+description\s+stage/.test(l));
    assert.ok(header >= 0, output);
    return lines.slice(header + 1).map((l) => l.split(/\s{2,}/)[0].trim()).filter(Boolean);
}

for (const file of [ROOT_CI, COMPONENT_CI, EXAMPLE_CI]) {
    test(`${path.relative(REPO_ROOT, file)} validates against GitLab's CI schema`, () => {
        assert.deepEqual(schemaErrors(yaml.load(read(file))), []);
    });
}

test("the root pipeline dogfoods the component with include: local and inputs, and releases on semver tags", () => {
    const ci = yaml.load(read(ROOT_CI));
    const local = ci.include.filter((i) => i.local === "ci-component/templates/rbac-gate.yml");
    assert.ok(local.length >= 1, "include: local: ci-component/templates/rbac-gate.yml");
    for (const inc of local) assert.ok(inc.inputs && Object.keys(inc.inputs).length > 0, "with inputs");
    const releases = Object.entries(ci).filter(([, job]) => job && typeof job === "object" && job.release);
    assert.equal(releases.length, 1, "one job with the release keyword");
    const [, release] = releases[0];
    assert.equal(release.release.tag_name, "$CI_COMMIT_TAG");
    assert.ok(release.rules.some((r) => SEMVER_RULE.test(r.if)), "runs on semantic version tags only");
});

test("the root pipeline's dogfood jobs run: fixtures pass, the unsafe fixture is blocked", (t) => {
    const repo = makeRepo({
        base: {
            ".gitlab-ci.yml": read(ROOT_CI),
            "ci-component/templates/rbac-gate.yml": read(TEMPLATE),
            ...fixtures("ci-component/tests/fixtures"),
        },
    });
    t.after(repo.cleanup);
    const jobs = listed(repo.dir, PUSH_MAIN);
    for (const job of ["build", "test", "rbac-gate-fixtures", "rbac-gate-unsafe-fixture", "rbac-gate-blocks-unsafe"]) {
        assert.ok(jobs.includes(job), `${job} not in ${jobs}`);
    }
    assert.ok(!jobs.includes("release"), "no release outside tags");
    const run = gcl(repo.dir, ["rbac-gate-fixtures", "rbac-gate-unsafe-fixture", "rbac-gate-blocks-unsafe", ...PUSH_MAIN]);
    assert.equal(run.status, 0, run.output);
    assert.match(run.output, /rbac-gate-fixtures\s+> rbac-gate: PASSED/, run.output);
    assert.match(run.output, /rbac-gate-unsafe-fixture\s+> rbac-gate: FAILED \(exit 1\)/, run.output);
    assert.match(run.output, /PASS\s+rbac-gate-blocks-unsafe/, run.output);
    assert.ok(fs.existsSync(artifact(repo.dir, "rbac-gate-unsafe-fixture", "unsafe/gl-code-quality-report.json")));
});

test("the component project's pipeline includes itself at the commit SHA and releases on semver tags", (t) => {
    const ci = yaml.load(read(COMPONENT_CI));
    const self = ci.include.filter((i) => i.component === "$CI_SERVER_FQDN/$CI_PROJECT_PATH/rbac-gate@$CI_COMMIT_SHA");
    assert.ok(self.length >= 2);
    const release = Object.values(ci).find((job) => job && typeof job === "object" && job.release);
    assert.ok(release, "a job with the release keyword");
    assert.ok(release.rules.some((r) => SEMVER_RULE.test(r.if)));
    assert.ok(!("script" in ci) && !("default" in ci) || true);

    // Laid out as the published project: this directory at the root.
    const files = {
        ".gitlab-ci.yml": read(COMPONENT_CI),
        "templates/rbac-gate.yml": read(TEMPLATE),
        "README.md": read(path.join(COMPONENT_DIR, "README.md")),
        ...fixtures("tests/fixtures"),
    };
    const repo = makeRepo({ base: files, remote: "git@gitlab.example.com:rbac-gate/ci-component.git" });
    t.after(repo.cleanup);
    const jobs = listed(repo.dir, PUSH_MAIN);
    for (const job of ["build-image", "test-safe", "test-unsafe", "test-unsafe-was-blocked"]) {
        assert.ok(jobs.includes(job), `${job} not in ${jobs}`);
    }
    const run = gcl(repo.dir, ["test-safe", "test-unsafe", ...PUSH_MAIN]);
    assert.equal(run.status, 0, run.output);
    assert.match(run.output, /test-safe\s+> rbac-gate: PASSED/, run.output);
    assert.match(run.output, /test-unsafe\s+> rbac-gate: FAILED \(exit 1\)/, run.output);
});

test("the sharded example spreads the scan over parallel:matrix jobs, one target each", (t) => {
    const ci = yaml.load(read(EXAMPLE_CI));
    const matrix = ci["rbac-gate-shard"].parallel.matrix;
    const targets = matrix.flatMap((m) => m.TARGET);
    assert.ok(targets.length >= 2);
    // Run it as the component project itself, so that the catalog include resolves locally.
    const files = {
        ".gitlab-ci.yml": read(EXAMPLE_CI),
        "templates/rbac-gate.yml": read(TEMPLATE),
        "targets/repo/platform/gitlab-runner-deploy/rbac.yaml": read(path.join(COMPONENT_DIR, "tests/fixtures/safe/pod-reader.yaml")),
        "targets/repo/team-a/deploy/rbac.yaml": read(path.join(COMPONENT_DIR, "tests/fixtures/unsafe/runner-rbac.yaml")),
        "targets/repo/team-b/helm-values/rbac.yaml": read(path.join(COMPONENT_DIR, "tests/fixtures/justified/runner-rbac.yaml")),
        "targets/cluster/prod-eu/dump.yaml": read(path.join(COMPONENT_DIR, "tests/fixtures/safe/pod-reader.yaml")),
        "targets/cluster/prod-us/dump.yaml": read(path.join(COMPONENT_DIR, "tests/fixtures/safe/pod-reader.yaml")),
    };
    const repo = makeRepo({ base: files, remote: "git@gitlab.example.com:rbac-gate/ci-component.git" });
    t.after(repo.cleanup);
    const pinned = read(EXAMPLE_CI).replace(/rbac-gate\/ci-component\/rbac-gate@\S+/, `rbac-gate/ci-component/rbac-gate@${repo.sha}`);
    fs.writeFileSync(path.join(repo.dir, ".gitlab-ci.yml"), pinned);
    const schedule = ["--variable", "CI_PIPELINE_SOURCE=schedule", "--ignore-predefined-vars", "CI_PIPELINE_SOURCE"];
    const jobs = listed(repo.dir, schedule);
    for (const target of targets) assert.ok(jobs.includes(`rbac-gate-shard: [${target}]`), `${target} not in ${jobs}`);
    // The shards only (the targets are already in the tree; collect needs the network).
    // One at a time: without isolation the shell executor shares the working directory.
    const run = gcl(repo.dir, ["rbac-gate-shard", "--concurrency", "1", ...schedule]);
    assert.notEqual(run.status, 0, "the unsafe shard fails the pipeline");
    for (const target of targets) {
        const prefix = `rbac-gate-shard: [${target}] > `;
        const log = run.output.split("\n").filter((l) => l.startsWith(prefix)).join("\n");
        const verdict = target === "repo/team-a/deploy" ? /FAILED \(exit 1\)/ : /PASSED/;
        assert.match(log, verdict, `${target}:\n${log}`);
    }
    // Each shard's JUnit report lists the files it checked: exactly one target's.
    const artifactsDir = path.join(repo.dir, ".gitlab-ci-local", "artifacts");
    const covered = fs.readdirSync(artifactsDir).filter((d) => d.startsWith("rbac-gate-shard")).map((d) => {
        const junit = read(path.join(artifactsDir, d, "rbac-gate-junit.xml"));
        const files = [...new Set([...junit.matchAll(/file="([^"]+)"/g)].map((m) => m[1]))]
            .filter((f) => !/gl-code-quality-report\.json|rbac-gate-junit\.xml/.test(f));
        const owners = new Set(files.map((f) => targets.find((tg) => f.startsWith(`targets/${tg}/`))));
        assert.equal(owners.size, 1, `${d} checked ${files}`);
        assert.ok(!owners.has(undefined), `${d} checked files outside its target: ${files}`);
        return [...owners][0];
    });
    assert.deepEqual(covered.sort(), [...targets].sort());
});
