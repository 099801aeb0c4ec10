// Static checks of templates/rbac-gate.yml: the spec header, GitLab's CI schema with the
// defaults interpolated, and the shape of the job.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import { loadTemplate, inputValues, interpolate, schemaErrors, TEMPLATE } from "./lib.mjs";

const { header, body } = loadTemplate();
const inputs = header.spec.inputs;

/** The body as GitLab builds it for given inputs and a component version (null: by SHA). */
function rendered(given = {}, version = "1.2.3") {
    return interpolate(body, { inputs: inputValues(header, given), component: { version } });
}

test("the header declares only the component context GitLab knows, and typed inputs", () => {
    assert.deepEqual(Object.keys(header).sort(), ["spec"]);
    assert.deepEqual(Object.keys(header.spec).sort(), ["component", "inputs"]);
    for (const key of header.spec.component) assert.ok(["name", "sha", "version", "reference"].includes(key), key);
    const required = ["stage", "job-name", "paths", "config", "fail-on", "runner-version", "image",
        "allow-failure", "codequality-report", "junit-report", "mode", "changes"];
    for (const name of required) assert.ok(name in inputs, `input ${name} is missing`);
});

test("every input has a default, a description, and a default that passes its own constraints", () => {
    for (const [name, spec] of Object.entries(inputs)) {
        assert.ok("default" in spec, `${name}: no default (the component must work with no inputs)`);
        assert.ok(typeof spec.description === "string" && spec.description.length > 20, `${name}: no description`);
        assert.ok(spec.description.length <= 1024, `${name}: description longer than 1024`);
        const type = spec.type ?? "string";
        const actual = Array.isArray(spec.default) ? "array" : typeof spec.default;
        assert.equal(actual, type, `${name}: default is ${actual}, type is ${type}`);
        if (spec.options) assert.ok(spec.options.includes(spec.default), `${name}: default not among options`);
        if (spec.regex) {
            assert.equal(type, "string", `${name}: regex on a non-string input`);
            assert.match(spec.default, new RegExp(spec.regex), `${name}: default does not match its regex`);
        }
    }
    assert.equal(inputs.paths.type, "array");
    assert.equal(inputs.changes.type, "array");
    assert.equal(inputs["allow-failure"].type, "boolean");
    assert.deepEqual(inputs["fail-on"].options, ["", "info", "low", "medium", "high", "critical"]);
    assert.deepEqual(inputs.mode.options, ["merge-requests", "changed-files", "always"]);
    assert.deepEqual(inputs.paths.default, ["."], "with no inputs the whole repository is checked");
});

test("regexes accept good values and reject bad ones", () => {
    const ok = (name, value) => assert.match(value, new RegExp(inputs[name].regex), `${name}: ${value}`);
    const bad = (name, value) => assert.doesNotMatch(value, new RegExp(inputs[name].regex), `${name}: ${value}`);
    ok("runner-version", "18.0"); ok("runner-version", ""); bad("runner-version", "18"); bad("runner-version", "v18.0");
    ok("junit-report", "reports/rbac.xml"); bad("junit-report", "rbac.json"); bad("junit-report", "a b.xml");
    ok("codequality-report", "gl-code-quality-report.json"); bad("codequality-report", "x.xml");
    ok("config", "ci/.rbac-gate.yaml"); bad("config", "it's.yaml");
    ok("image", "registry.example.com/mirror/rbac-gate:1.2.3"); bad("image", "a b"); bad("image", "x'y");
    ok("job-name", "rbac-gate-deploy"); bad("job-name", ".hidden"); bad("job-name", "a b");
});

test("the header validates against GitLab's CI schema (spec:component is newer than the schema)", () => {
    const { component, ...known } = header.spec;
    assert.ok(component, "spec:component is declared");
    assert.deepEqual(schemaErrors({ spec: known }), []);
});

for (const [label, given, version] of [
    ["defaults, released version", {}, "1.2.3"],
    ["defaults, no version (SHA or branch)", {}, null],
    ["every input set", {
        "job-name": "rbac-gate-deploy", stage: "verify", paths: ["deploy", "clusters/prod"], config: "ci/rbac.yaml",
        "fail-on": "medium", "runner-version": "18.0", image: "registry.example.com/rbac-gate:1.2.3",
        "allow-failure": true, "codequality-report": "reports/cq.json", "junit-report": "reports/junit.xml",
        mode: "changed-files", changes: ["deploy/**/*"],
    }, "1.2.3"],
]) {
    test(`the interpolated body validates against GitLab's CI schema: ${label}`, () => {
        const config = rendered(given, version);
        assert.deepEqual(schemaErrors({ stages: ["test", "verify"], ...config }), []);
    });
}

test("no global keywords: the body holds exactly one job named by the job-name input", () => {
    assert.deepEqual(Object.keys(body), ["$[[ inputs.job-name ]]"]);
    const globals = ["default", "stages", "workflow", "variables", "include", "image", "services", "cache",
        "before_script", "after_script", "pages"];
    for (const key of globals) assert.ok(!(key in body), `global keyword ${key}`);
    const twice = { ...rendered({ "job-name": "rbac-gate-a" }), ...rendered({ "job-name": "rbac-gate-b" }) };
    assert.deepEqual(Object.keys(twice), ["rbac-gate-a", "rbac-gate-b"], "included twice gives two jobs");
});

test("the job runs rbac-gate from PATH with both reports and declares them as report artifacts", () => {
    const job = rendered()["rbac-gate"];
    const script = job.script.join("\n");
    assert.match(script, /^rbac-gate version$/m);
    assert.match(script, /rbac-gate check \\\n\s+--report 'codequality=gl-code-quality-report.json' \\\n\s+--report 'junit=rbac-gate-junit.xml'/);
    assert.doesNotMatch(script, /--format/, "the text report (default format) goes to the job log");
    assert.match(script, /exit 1/);
    assert.match(script, /exit 2/);
    assert.match(script, /FAILED \(exit 1\)/);
    assert.match(script, /ERROR \(exit 2\)/);
    assert.equal(job.artifacts.when, "always");
    assert.deepEqual(job.artifacts.reports, { codequality: "gl-code-quality-report.json", junit: "rbac-gate-junit.xml" });
    assert.equal(job.allow_failure, false);
    assert.equal(job.stage, "test");
    const all = rendered({ "allow-failure": true, "codequality-report": "r/cq.json", "junit-report": "r/j.xml" })["rbac-gate"];
    assert.equal(all.allow_failure, true);
    assert.deepEqual(all.artifacts.reports, { codequality: "r/cq.json", junit: "r/j.xml" });
});

test("the image is the project's image at the component version, with a fallback when it is null", () => {
    const job = rendered({}, "1.2.3")["rbac-gate"];
    assert.deepEqual(job.image, { name: "$RBAC_GATE_DEFAULT_IMAGE", entrypoint: [""] });
    assert.equal(job.variables.RBAC_GATE_DEFAULT_IMAGE, "registry.gitlab.com/rbac-gate/ci-component:1.2.3");
    // With a version, the fallback rule's condition is false ("1.2.3" == ""); without, it is true.
    const fallback = (j) => j.rules.filter((r) => r.variables?.RBAC_GATE_DEFAULT_IMAGE);
    for (const rule of fallback(job)) assert.match(rule.if, /"1\.2\.3" == ""/);
    const unversioned = rendered({}, null)["rbac-gate"];
    assert.ok(fallback(unversioned).length >= 1);
    for (const rule of fallback(unversioned)) {
        assert.match(rule.if, /"" == ""/);
        assert.equal(rule.variables.RBAC_GATE_DEFAULT_IMAGE, "registry.gitlab.com/rbac-gate/ci-component:latest");
    }
    const custom = rendered({ image: "registry.example.com/rbac-gate:9.9.9" })["rbac-gate"];
    assert.equal(custom.image.name, "registry.example.com/rbac-gate:9.9.9");
});

test("mode changed-files puts the changes input into rules:changes; other modes never filter", () => {
    const changed = rendered({ mode: "changed-files", changes: ["deploy/**/*"] })["rbac-gate"];
    const filtered = changed.rules.filter((r) => r.changes);
    assert.ok(filtered.length >= 1);
    for (const rule of filtered) {
        assert.deepEqual(rule.changes, ["deploy/**/*"]);
        assert.match(rule.if, /"changed-files" == "changed-files" && \$CI_PIPELINE_SOURCE == "merge_request_event"/);
    }
    // In the default mode every changes rule is dead ("merge-requests" == "changed-files").
    for (const rule of rendered()["rbac-gate"].rules.filter((r) => r.changes)) {
        assert.match(rule.if, /^"merge-requests" == "changed-files"/);
    }
});

test("the template stays plain: no tabs, no trailing spaces, a final newline", () => {
    const text = fs.readFileSync(TEMPLATE, "utf8");
    assert.ok(text.endsWith("\n"));
    text.split("\n").forEach((line, i) => {
        assert.ok(!line.includes("\t"), `line ${i + 1}: tab`);
        assert.ok(!/\s$/.test(line), `line ${i + 1}: trailing space`);
    });
});

test("schema validation bites: the raw body, with typed inputs still as strings, is rejected", () => {
    const errors = schemaErrors({ ...body });
    assert.ok(errors.some((e) => e.includes("allow_failure")), errors.join("\n"));
});

test("the README documents both include forms, every input with its default, exit codes and the changes trap", () => {
    const readme = fs.readFileSync(new URL("../README.md", import.meta.url), "utf8");
    assert.match(readme, /- component: \$CI_SERVER_FQDN\/[\w/-]+\/rbac-gate@\d+\.\d+\.\d+/);
    assert.match(readme, /- project: [\w/-]+\n\s+ref: \S+\n\s+file: \/templates\/rbac-gate\.yml/);
    for (const [name, spec] of Object.entries(inputs)) {
        const row = readme.split("\n").find((l) => l.startsWith(`| \`${name}\` |`));
        assert.ok(row, `input ${name} is not in the README's inputs table`);
        const shown = typeof spec.default === "string" ? `\`${spec.default === "" ? '""' : spec.default}\`` : `\`${JSON.stringify(spec.default).replaceAll(",", ", ")}\``;
        assert.ok(row.includes(shown), `README default of ${name} is not ${shown}: ${row}`);
    }
    for (const heading of ["#### Exit codes", "#### Making the gate mandatory", "##### The `changes:` trap"]) {
        assert.ok(readme.includes(heading), heading);
    }
    assert.match(readme, /Pipelines must succeed/);
    assert.match(readme, /no\s+pipeline at all/);
});
