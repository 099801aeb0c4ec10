// The gate's threat model, end to end: each attack of tests/attacks/README.md that a merge
// request author can try against the component, tried as a merge request pipeline. Every test
// builds a throwaway repository with a base commit (the target branch) and the attacker's
// merge request commit on top, runs the component's job with gitlab-ci-local 4.65.1 (shell
// executor, the real rbac-gate on PATH, CI_PIPELINE_SOURCE=merge_request_event and
// CI_MERGE_REQUEST_DIFF_BASE_SHA = the base commit), and shows the attack stopped: the job
// fails and the Code Quality artifact holds the finding the attacker wanted gone (and what the
// defence must not block, a config change that only tightens, passes).
//
// Each test runs twice: in the project directory, and with --shell-isolation, where
// gitlab-ci-local copies the tracked files and .git into .gitlab-ci-local/builds/<job> (a
// checkout inside a folder whose .gitignore ignores everything, like a runner's builds dir)
// and the job runs there. The numbers are those of tests/attacks/README.md (issue 12); attack
// 5, the compiled-module cache, is outside the merge request's reach and tested by the CLI's
// own attack tests in crates/cli/tests/attacks/.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
    makeRepo, gcl, artifact, rbacGateBinary, MR_PIPELINE, TEMPLATE, CODE_QUALITY_SEVERITIES, COMPONENT_DIR,
} from "./lib.mjs";

const JOB = "rbac-gate";
const TEMPLATE_TEXT = fs.readFileSync(TEMPLATE, "utf8");
// The consumer's pipeline: the component, included as the e2e tests do.
const PIPELINE = {
    ".gitlab-ci.yml": "include:\n  - local: /ci/rbac-gate.yml\n",
    "ci/rbac-gate.yml": TEMPLATE_TEXT,
};

const fixture = (name) => fs.readFileSync(path.join(COMPONENT_DIR, "tests", "fixtures", name), "utf8");
// The runner manager's ServiceAccount bound to cluster-admin (ClusterRoleBinding/gitlab-runner):
// RG101 cluster-admin-binding, critical.
const ADMIN_BINDING = fixture("unsafe/runner-rbac.yaml");
// A read-only Role for a non-runner workload: nothing at or above medium.
const SAFE_ROLE = fixture("safe/pod-reader.yaml");

const MODES = [
    { name: "in the project directory", args: [], isolated: false },
    { name: "with --shell-isolation", args: ["--shell-isolation"], isolated: true },
];

/** Declares `body(t, mode)` as one test per mode. */
function attack(title, body) {
    for (const mode of MODES) test(`${title} (${mode.name})`, (t) => body(t, mode));
}

/** A consumer project: the pipeline and `base` on main, the merge request's commit on top. */
function mergeRequest(t, { base = {}, ...rest }) {
    const repo = makeRepo({ base: { ...PIPELINE, ...base }, ...rest });
    t.after(repo.cleanup);
    return repo;
}

/** Runs the job as the merge request pipeline of `repo`, in `mode`. */
function runPipeline(repo, mode) {
    return gcl(repo.dir, [
        JOB, ...MR_PIPELINE, ...mode.args,
        "--variable", `CI_MERGE_REQUEST_DIFF_BASE_SHA=${repo.baseSha}`,
    ]);
}

/** The directory the job's script ran in. */
function jobDir(repo, mode) {
    return mode.isolated ? path.join(repo.dir, ".gitlab-ci-local", "builds", JOB) : repo.dir;
}

/** Asserts that the job failed with rbac-gate's exit `code` and blocked the merge. */
function assertBlocked({ status, output }, code) {
    assert.notEqual(status, 0, output);
    const verdict = code === 1 ? "FAILED" : "ERROR";
    assert.match(output, new RegExp(`rbac-gate: ${verdict} \\(exit ${code}\\).*The merge is blocked\\.`), output);
}

/** The Code Quality artifact: a regular file (not a link) holding one JSON array of issues. */
function codeQuality(repo) {
    const report = artifact(repo.dir, JOB, "gl-code-quality-report.json");
    assert.ok(fs.lstatSync(report, { throwIfNoEntry: false })?.isFile(), `no regular Code Quality artifact at ${report}`);
    const issues = JSON.parse(fs.readFileSync(report, "utf8"));
    assert.ok(Array.isArray(issues), "the Code Quality report is one JSON array");
    for (const issue of issues) assert.ok(CODE_QUALITY_SEVERITIES.includes(issue.severity), JSON.stringify(issue));
    return issues;
}

/** The Code Quality issue of rule `check` on `file`; fails when there is none. */
function issueOf(issues, check, file) {
    const found = issues.find((i) => i.check_name === check && i.location?.path === file);
    assert.ok(found, `no ${check} on ${file} in ${JSON.stringify(issues, null, 1)}`);
    return found;
}

/** Asserts the blocking cluster-admin finding on `file`. */
function assertAdminFlagged(repo, file = "deploy/admin.yaml") {
    const issues = codeQuality(repo);
    assert.equal(issueOf(issues, "RG101/cluster-admin-binding", file).severity, "blocker");
    return issues;
}

/** Every file below `dir`, recursively (links as they are, not followed). */
function filesBelow(dir) {
    return fs.readdirSync(dir, { recursive: true, withFileTypes: true })
        .filter((entry) => !entry.isDirectory())
        .map((entry) => path.join(entry.parentPath ?? entry.path, entry.name));
}

before(() => {
    rbacGateBinary(); // fails clearly when the binary has not been built
});

// Attack 1: a committed symlink where the job writes its report. It used to drop the manifest
// it points at from the inputs and overwrite it with the report (or, pointed outside the work
// tree, write there). Stopped by the template removing its report paths before the run, and by
// rbac-gate writing reports without following links and never choosing inputs by report path.
attack("attack 1: a report path symlinked to a manifest neither hides nor overwrites it", (t, mode) => {
    const repo = mergeRequest(t, {
        change: { "deploy/admin.yaml": ADMIN_BINDING },
        links: { "gl-code-quality-report.json": "deploy/admin.yaml" },
    });
    const result = runPipeline(repo, mode);
    assertBlocked(result, 1);
    assertAdminFlagged(repo);
    for (const dir of new Set([repo.dir, jobDir(repo, mode)])) {
        assert.equal(fs.readFileSync(path.join(dir, "deploy/admin.yaml"), "utf8"), ADMIN_BINDING, `${dir}: manifest changed`);
    }
});

attack("attack 1: report paths symlinked outside the work tree never write there", (t, mode) => {
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), "rbac-gate-victim-"));
    t.after(() => fs.rmSync(outside, { recursive: true, force: true }));
    const profile = path.join(outside, ".profile");
    const junit = path.join(outside, "junit.xml");
    fs.writeFileSync(profile, "export PATH=/usr/bin:/bin\n");
    fs.writeFileSync(junit, "kept\n");
    const repo = mergeRequest(t, {
        change: { "deploy/admin.yaml": ADMIN_BINDING },
        links: { "gl-code-quality-report.json": profile, "rbac-gate-junit.xml": junit },
    });
    const result = runPipeline(repo, mode);
    assertBlocked(result, 1);
    assertAdminFlagged(repo);
    assert.equal(fs.readFileSync(profile, "utf8"), "export PATH=/usr/bin:/bin\n", "the file outside the tree changed");
    assert.equal(fs.readFileSync(junit, "utf8"), "kept\n", "the file outside the tree changed");
    assert.deepEqual(fs.readdirSync(outside).sort(), [".profile", "junit.xml"], "nothing was created outside the tree");
});

// Attack 2: ignore files. A tracked manifest under a .gitignored path, or a path that
// .git/info/exclude lists, used to be skipped. Stopped by rbac-gate reading every tracked file
// whatever any ignore file says. With --shell-isolation the checkout also sits inside
// .gitlab-ci-local/, whose .gitignore ignores everything: an ignore file above the repository.
attack("attack 2: a manifest force-added under a .gitignored path is checked", (t, mode) => {
    const repo = mergeRequest(t, {
        base: { ".gitignore": "generated/\n" },
        change: { "generated/admin.yaml": ADMIN_BINDING },
        forceAdd: ["generated/admin.yaml"],
    });
    const result = runPipeline(repo, mode);
    assertBlocked(result, 1);
    assertAdminFlagged(repo, "generated/admin.yaml");
});

attack("attack 2: .git/info/exclude does not hide a tracked manifest", (t, mode) => {
    const repo = mergeRequest(t, { change: { "deploy/admin.yaml": ADMIN_BINDING } });
    fs.writeFileSync(path.join(repo.dir, ".git", "info", "exclude"), "deploy/\n");
    const result = runPipeline(repo, mode);
    assertBlocked(result, 1);
    assertAdminFlagged(repo);
});

// Attack 3: the merge request brings its own policy. Stopped by the template passing
// --config-from-rev $CI_MERGE_REQUEST_DIFF_BASE_SHA: the target branch's config applies, and
// what the merge request's config would loosen is an RG902 policy-changed finding on its line.
const LOOSENINGS = [
    {
        what: "disables the rule",
        config: "# the merge request's own policy\ndisable: [cluster-admin-binding]\n",
        line: 2,
        says: /disables rule RG101/,
    },
    {
        what: "lowers its severity",
        config: "# the merge request's own policy\nseverity:\n  RG101: info\n",
        line: 3,
        says: /lowers the severity of RG101\S* from critical to info/,
    },
    {
        what: "adds an exception",
        config: "# the merge request's own policy\nexceptions:\n  - rule: RG101\n    object: ClusterRoleBinding/gitlab-runner\n    reason: reviewed\n",
        line: 3,
        says: /adds an exception for RG101\S* on ClusterRoleBinding\/gitlab-runner/,
    },
];

for (const loosening of LOOSENINGS) {
    attack(`attack 3: a .rbac-gate.yaml the merge request adds that ${loosening.what} does not apply and is reported`, (t, mode) => {
        const repo = mergeRequest(t, { change: { ".rbac-gate.yaml": loosening.config, "deploy/admin.yaml": ADMIN_BINDING } });
        const result = runPipeline(repo, mode);
        assertBlocked(result, 1);
        const issues = assertAdminFlagged(repo);
        const changed = issueOf(issues, "RG902/policy-changed", ".rbac-gate.yaml");
        assert.equal(changed.location.lines.begin, loosening.line, JSON.stringify(changed));
        assert.match(changed.description, loosening.says);
    });
}

attack("attack 3: a merge request that only tightens the target branch's config passes", (t, mode) => {
    const repo = mergeRequest(t, {
        base: { ".rbac-gate.yaml": "fail-on: high\n", "deploy/pod-reader.yaml": SAFE_ROLE },
        change: { ".rbac-gate.yaml": "fail-on: medium\n" },
    });
    const result = runPipeline(repo, mode);
    assert.equal(result.status, 0, result.output);
    assert.match(result.output, /rbac-gate: PASSED/, result.output);
    const issues = codeQuality(repo);
    assert.ok(!issues.some((i) => i.check_name === "RG902/policy-changed"), JSON.stringify(issues));
});

// The pipeline's inputs are trusted: the component's `fail-on` and `runner-version` inputs
// set the run's threshold and runner version; they are not a change the merge request makes
// to the config, which here it does not touch (there is none on either side).
attack("attack 3: the component's fail-on and runner-version inputs are not taken for a loosening", (t, mode) => {
    const repo = mergeRequest(t, {
        base: { ".gitlab-ci.yml": "include:\n  - local: /ci/rbac-gate.yml\n    inputs: { fail-on: medium, runner-version: \"17.0\" }\n" },
        change: { "deploy/pod-reader.yaml": SAFE_ROLE },
    });
    const result = runPipeline(repo, mode);
    assert.equal(result.status, 0, result.output);
    assert.match(result.output, /fail-on medium: PASS/, result.output);
});

// Attack 4: the unsafe binding justifies itself. Stopped by the justification limits: an
// annotation accepts at most `high` by default, so the critical finding stays blocking.
attack("attack 4: a self-justified cluster-admin binding still fails as a blocker", (t, mode) => {
    const justified = ADMIN_BINDING.replace(
        "metadata:\n  name: gitlab-runner\n",
        "metadata:\n  name: gitlab-runner\n  annotations:\n    rbac-gate.dev/justification: \"x\"\n",
    );
    assert.notEqual(justified, ADMIN_BINDING);
    const repo = mergeRequest(t, { change: { "deploy/admin.yaml": justified } });
    const result = runPipeline(repo, mode);
    assertBlocked(result, 1);
    assertAdminFlagged(repo); // severity blocker, not info
});

// Attack 6: credentials in URLs and exec arguments used to be quoted in the text report (the
// job log). Stopped by redaction of URL userinfo and secret-looking arguments in every format.
// The kubeconfig is written in flow style so that the findings' quoted lines hold the secrets;
// the binding next to it makes the job fail.
const SECRETS = ["S3cretPass", "S3cretPass2"];
const KUBECONFIG = `apiVersion: v1
kind: Config
clusters:
  - name: prod
    cluster: { server: "https://admin:${SECRETS[0]}@k8s.example.com", insecure-skip-tls-verify: true }
users:
  - name: ci
    user:
      exec: { apiVersion: client.authentication.k8s.io/v1beta1, command: get-token, args: ["--password=${SECRETS[1]}"] }
contexts:
  - name: prod
    context: { cluster: prod, user: ci }
current-context: prod
`;

attack("attack 6: credentials in a kubeconfig's server URL and exec arguments reach neither the log nor an artifact", (t, mode) => {
    const repo = mergeRequest(t, { change: { "deploy/ci-kubeconfig": KUBECONFIG, "deploy/admin.yaml": ADMIN_BINDING } });
    const result = runPipeline(repo, mode);
    assertBlocked(result, 1);
    // Both lines were quoted in the log, redacted: without redaction the test would see them.
    assert.match(result.output, /5 \|.*server: "https:\/\/\[REDACTED\]@k8s\.example\.com/, result.output);
    assert.match(result.output, /9 \|.*args: \["--password=\[REDACTED\]/, result.output);
    const artifacts = filesBelow(path.join(repo.dir, ".gitlab-ci-local", "artifacts", JOB));
    assert.ok(artifacts.length >= 2, `artifacts: ${artifacts}`);
    for (const secret of SECRETS) {
        assert.ok(!result.output.includes(secret), `the job log holds ${secret}:\n${result.output}`);
        for (const file of artifacts) {
            assert.ok(!fs.readFileSync(file, "utf8").includes(secret), `${file} holds ${secret}`);
        }
    }
    const issues = assertAdminFlagged(repo);
    issueOf(issues, "RG405/insecure-skip-tls-verify", "deploy/ci-kubeconfig");
    issueOf(issues, "RG406/kubeconfig-exec-plugin", "deploy/ci-kubeconfig");
});

// Attack 7: nothing to check. A run that found no input used to pass with a warning. Stopped
// by rbac-gate exiting 2 when it finds no input (the template never passes --allow-empty).
// gitlab-ci-local includes only tracked files, and the pipeline definition is itself YAML the
// gate would read, so the consumer here checks `deploy/` (the `paths` input), where the merge
// request leaves no manifest, only a note.
attack("attack 7: a merge request with nothing to check fails instead of passing", (t, mode) => {
    const repo = mergeRequest(t, {
        base: { ".gitlab-ci.yml": "include:\n  - local: /ci/rbac-gate.yml\n    inputs: { paths: [deploy] }\n" },
        change: { "deploy/README.md": "# deploy\nThe manifests moved to another repository.\n" },
    });
    const result = runPipeline(repo, mode);
    assertBlocked(result, 2);
    assert.match(result.output, /no input file found in deploy/, result.output);
});
