// Shared helpers of the component tests: paths, YAML loading, GitLab-style interpolation of
// `$[[ ... ]]` blocks, schema validation and gitlab-ci-local runs in throwaway repositories.
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import yaml from "js-yaml";

const require = createRequire(import.meta.url);
const Ajv = require("ajv");
const addFormats = require("ajv-formats");

export const COMPONENT_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const REPO_ROOT = path.resolve(COMPONENT_DIR, "..");
export const TEMPLATE = path.join(COMPONENT_DIR, "templates", "rbac-gate.yml");
export const SCHEMA = path.join(REPO_ROOT, "tests", "gitlab-ci-schema.json");
export const GCL = path.join(COMPONENT_DIR, "node_modules", "gitlab-ci-local", "src", "index.js");

/** The template's two YAML documents: the `spec` header and the job body. */
export function loadTemplate(file = TEMPLATE) {
    const docs = yaml.loadAll(fs.readFileSync(file, "utf8"));
    if (docs.length !== 2) throw new Error(`${file}: expected a header and a body, got ${docs.length} documents`);
    return { header: docs[0], body: docs[1] };
}

/** The input values a consumer gets with `inputs` on top of the defaults. */
export function inputValues(header, inputs = {}) {
    const values = {};
    for (const [name, spec] of Object.entries(header.spec.inputs)) values[name] = spec.default;
    for (const [name, value] of Object.entries(inputs)) {
        if (!(name in header.spec.inputs)) throw new Error(`unknown input ${name}`);
        values[name] = value;
    }
    return values;
}

const BLOCK = /\$\[\[\s*([a-z]+)\.([A-Za-z0-9_-]+)\s*\]\]/g;
const WHOLE = /^\$\[\[\s*([a-z]+)\.([A-Za-z0-9_-]+)\s*\]\]$/;

/**
 * Interpolates like GitLab: a block that is a whole value is inserted with its type (array,
 * boolean, number, null); a block inside a longer string is inserted as text (arrays as JSON,
 * null as the empty string). Keys are interpolated too.
 */
export function interpolate(node, context) {
    const lookup = (scope, key) => {
        if (!(scope in context) || !(key in context[scope])) {
            throw new Error(`unknown interpolation key: ${scope}.${key}`);
        }
        return context[scope][key];
    };
    const text = (value) => (value == null ? "" : Array.isArray(value) ? JSON.stringify(value) : String(value));
    const walk = (value) => {
        if (typeof value === "string") {
            const whole = WHOLE.exec(value);
            if (whole) return lookup(whole[1], whole[2]);
            return value.replace(BLOCK, (_, scope, key) => text(lookup(scope, key)));
        }
        if (Array.isArray(value)) return value.map(walk);
        if (value && typeof value === "object") {
            const out = {};
            for (const [k, v] of Object.entries(value)) out[walk(k)] = walk(v);
            return out;
        }
        return value;
    };
    return walk(node);
}

let validator;
/** Validates a pipeline object against GitLab's CI schema (draft-07); returns the errors. */
export function schemaErrors(config) {
    if (!validator) {
        const ajv = new Ajv({ strict: false, allErrors: true });
        addFormats(ajv);
        validator = ajv.compile(JSON.parse(fs.readFileSync(SCHEMA, "utf8")));
    }
    return validator(config) ? [] : validator.errors.map((e) => `${e.instancePath || "/"} ${e.message} ${JSON.stringify(e.params)}`);
}

/** Path to the real rbac-gate binary: $RBAC_GATE_BIN, else target/release/rbac-gate. */
export function rbacGateBinary() {
    const bin = process.env.RBAC_GATE_BIN
        ? path.resolve(process.env.RBAC_GATE_BIN)
        : path.join(REPO_ROOT, "target", "release", "rbac-gate");
    if (!fs.existsSync(bin)) {
        throw new Error(`rbac-gate binary not found at ${bin}: run \`make build\` (or set RBAC_GATE_BIN)`);
    }
    if (path.basename(bin) !== "rbac-gate") {
        throw new Error(`RBAC_GATE_BIN must point to a file named rbac-gate (the job calls it from PATH): ${bin}`);
    }
    return bin;
}

function git(cwd, ...args) {
    return execFileSync("git", args, {
        cwd,
        encoding: "utf8",
        env: {
            ...process.env,
            GIT_AUTHOR_NAME: "test", GIT_AUTHOR_EMAIL: "test@example.com",
            GIT_COMMITTER_NAME: "test", GIT_COMMITTER_EMAIL: "test@example.com",
            GIT_CONFIG_NOSYSTEM: "1", HOME: cwd,
        },
    }).trim();
}

function writeFiles(dir, files) {
    for (const [name, content] of Object.entries(files)) {
        const file = path.join(dir, name);
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, content);
    }
}

/**
 * A throwaway git repository shaped like a GitLab project: `base` committed on main (the
 * merge request's target branch, also published as origin/main), then `change` committed on
 * branch `feature` (the merge request's source branch). The change commit can also hold
 * `links` ({ path: target }, committed as symlinks) and `forceAdd` paths (files of `change`
 * that a .gitignore lists, added with `git add -f`). `baseSha` is the target branch's commit.
 */
export function makeRepo({
    base = {}, change = {}, links = {}, forceAdd = [], remote = "git@gitlab.example.com:acme/platform.git",
}) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rbac-gate-component-"));
    git(dir, "init", "-q", "-b", "main");
    writeFiles(dir, { "README.md": "# test project\n", ...base });
    git(dir, "add", "-A");
    git(dir, "commit", "-q", "-m", "base");
    git(dir, "remote", "add", "origin", remote);
    git(dir, "update-ref", "refs/remotes/origin/main", "main");
    git(dir, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/main");
    git(dir, "checkout", "-q", "-b", "feature");
    if (Object.keys(change).length || Object.keys(links).length) {
        writeFiles(dir, change);
        for (const [name, target] of Object.entries(links)) {
            fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
            fs.symlinkSync(target, path.join(dir, name));
        }
        git(dir, "add", "-A");
        if (forceAdd.length) git(dir, "add", "-f", "--", ...forceAdd);
        git(dir, "commit", "-q", "-m", "change");
    }
    return {
        dir,
        sha: git(dir, "rev-parse", "HEAD"),
        baseSha: git(dir, "rev-parse", "main"),
        cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
    };
}

/** Variables of a merge request pipeline (gitlab-ci-local sets none of them itself). */
export const MR_PIPELINE = [
    "--variable", "CI_PIPELINE_SOURCE=merge_request_event",
    "--variable", "CI_MERGE_REQUEST_IID=42",
    "--variable", "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME=feature",
    "--variable", "CI_MERGE_REQUEST_TARGET_BRANCH_NAME=main",
    "--ignore-predefined-vars", "CI_PIPELINE_SOURCE",
];

/**
 * Runs `job` as the merge request pipeline of a `makeRepo` repository: the variables above and
 * CI_MERGE_REQUEST_DIFF_BASE_SHA = the target branch's commit, plus `args` (--shell-isolation).
 */
export function mergeRequestPipeline(repo, job, args = []) {
    return gcl(repo.dir, [
        job, ...MR_PIPELINE, ...args,
        "--variable", `CI_MERGE_REQUEST_DIFF_BASE_SHA=${repo.baseSha}`,
    ]);
}

/**
 * Runs gitlab-ci-local in `dir` with the shell executor and the real rbac-gate first on PATH.
 * Returns { status, output (stdout and stderr), stdout }.
 */
export function gcl(dir, args) {
    const binDir = path.dirname(rbacGateBinary());
    const result = spawnSync(process.execPath, [GCL, "--force-shell-executor", "--no-color", ...args], {
        cwd: dir,
        encoding: "utf8",
        timeout: 240_000,
        env: {
            ...process.env,
            PATH: `${binDir}${path.delimiter}${process.env.PATH}`,
            NO_COLOR: "1",
            FORCE_COLOR: "0",
        },
    });
    if (result.error) throw result.error;
    // gitlab-ci-local repeats a warning for every regex input; drop that noise from the log.
    const output = `${result.stdout}${result.stderr}`
        .split("\n")
        .filter((line) => !line.includes("spec:inputs:regex is currently not supported"))
        .join("\n");
    return { status: result.status, output, stdout: result.stdout };
}

/** An artifact a job exported (gitlab-ci-local copies them to .gitlab-ci-local/artifacts/<job>/). */
export function artifact(dir, job, file) {
    return path.join(dir, ".gitlab-ci-local", "artifacts", job, file);
}

export const CODE_QUALITY_SEVERITIES = ["info", "minor", "major", "critical", "blocker"];
