// Tests of the fresh-machine guard: .ci/check-tools.mjs finds the commands the suites run and
// fails on one .ci/tools does not list (the rsync that gitlab-ci-local runs was such a gap:
// `make test` passed where rsync happened to be installed and failed on a new machine), and
// .ci/ensure-tools.sh installs what is missing, idempotently, with `apt-get update` once.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gaps, shellCommands, codeCommands, makeRecipes, SUITES } from "./check-tools.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, "..");
const MANIFEST = fs.readFileSync(path.join(HERE, "tools"), "utf8");
const withoutLine = (command) => MANIFEST.split("\n").filter((l) => !new RegExp(`^\\S+\\s+${command}\\s`).test(l)).join("\n");

// The line of gitlab-ci-local 4.65.1 (src/utils.js) that prepares a --shell-isolation build.
const GCL_RSYNC = "        await Utils.bash(`rsync -a --delete-excluded --delete --exclude-from=<(git ls-files -o --directory | awk '{print \"/\"$0}') --exclude ${stateDir}/ ./ ${stateDir}/builds/${target}/`, cwd);\n";

function tempDir(files) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "check-tools-"));
    for (const [name, content] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
        fs.writeFileSync(path.join(dir, name), content, { mode: 0o755 });
    }
    return dir;
}

test("every command the suites run is listed in .ci/tools", async () => {
    const found = await gaps(ROOT, MANIFEST, Object.keys(SUITES));
    assert.deepEqual(found, [], found.map((g) => `${g.suite}: ${g.command} (${g.files.join(", ")})`).join("\n"));
});

test("a gitlab-ci-local that runs rsync fails the check when .ci/tools lacks rsync", async () => {
    const root = tempDir({
        "Makefile": "test-component: build\n\tRBAC_GATE_BIN=$(CURDIR)/target/release/rbac-gate ci-component/tests/run.sh\n",
        "ci-component/tests/run.sh": "#!/usr/bin/env bash\nnode --test --test-concurrency=1 tests/\n",
        "ci-component/node_modules/gitlab-ci-local/src/utils.js": GCL_RSYNC,
    });
    try {
        const missing = await gaps(root, withoutLine("rsync"), ["component"]);
        assert.deepEqual(missing.map((g) => [g.command, g.files]),
            [["rsync", ["ci-component/node_modules/gitlab-ci-local/src/utils.js"]]]);
        assert.deepEqual(await gaps(root, MANIFEST, ["component"]), []);
    } finally {
        fs.rmSync(root, { recursive: true, force: true });
    }
});

test("the installed gitlab-ci-local runs rsync, git and awk (when node_modules is there)", (t) => {
    const utils = path.join(ROOT, "ci-component/node_modules/gitlab-ci-local/src/utils.js");
    if (!fs.existsSync(utils)) return t.skip("ci-component/node_modules not installed (run.sh checks after npm ci)");
    const found = codeCommands(fs.readFileSync(utils, "utf8"), utils);
    for (const command of ["rsync", "git", "awk"]) assert.ok(found.has(command), `${command} not found in ${[...found]}`);
});

test("a script that runs an unlisted command fails the check, naming the file", async () => {
    const root = tempDir({ "Makefile": "", "fuzz/smoke.sh": "#!/usr/bin/env bash\nset -e\nundeclared-tool . report.json\n" });
    try {
        const found = await gaps(root, MANIFEST, ["fuzz"]);
        assert.deepEqual(found, [{ suite: "fuzz", command: "undeclared-tool", files: ["fuzz/smoke.sh"] }]);
    } finally {
        fs.rmSync(root, { recursive: true, force: true });
    }
});

test("shell scan: command positions only, quotes opaque, substitutions followed", () => {
    const script = [
        "#!/usr/bin/env bash",
        "need() { command -v \"$1\"; }          # a function, not a tool",
        "TARGETS=(yaml toml) n=$((n + 1))",
        "x=\"$(git rev-parse HEAD)\"; start=`date +%s`",
        "if ! node -e 'const fs = require(\"fs\"); rsync()'; then nice cargo build | tee log; fi",
        "case $t in yaml) exec \"$HERE/run.sh\" ;; *) timeout 5 curl -s x 2>&1 ;; esac",
        "for t in alpha beta; do printf '%s\\n' \"$t\"; done",
        "rsync -a <(awk '{print}' list) dest >/dev/null && /usr/bin/time -v ls",
        "need make; ./target/release/rbac-gate check examples/",
    ].join("\n");
    assert.deepEqual([...shellCommands(script)].sort(),
        ["/usr/bin/time", "awk", "cargo", "curl", "date", "git", "ls", "nice", "node", "rsync", "tee", "timeout"]);
});

test("code scan: spawned programs, shell strings and absolute program paths", () => {
    assert.deepEqual([...codeCommands('execFileSync("git", ["init"]); spawnSync(process.execPath, [x]);', "a.mjs")], ["git"]);
    assert.deepEqual([...codeCommands('let s = Command::new("python3"); let t = Path::new("/usr/bin/time");', "a.rs")].sort(),
        ["/usr/bin/time", "python3"]);
    assert.deepEqual([...codeCommands('subprocess.run(["node", "--version"]); cmd = "x"', "a.py")], ["node"]);
    // Container-executor code of gitlab-ci-local is not run with --force-shell-executor.
    assert.deepEqual([...codeCommands('dockerCmd += "docker create";\ncpCmd += "rsync -Ra ";\n', "job.js")], ["rsync"]);
});

test("Makefile recipes of the named targets, make variables resolved", () => {
    const makefile = "CARGO ?= cargo\nlint: toolchain\n\t$(CARGO) fmt --all -- --check\n\t@lint-tool x\nother:\n\tundeclared-tool .\n";
    assert.equal(makeRecipes(makefile, ["lint"]), "cargo fmt --all -- --check\nlint-tool x");
});

// ensure_cmd against a fake apt-get that records its calls and "installs" a package by putting
// a command of the package's name on PATH.
function ensure(script, bin) {
    return spawnSync("bash", ["-c", `source ${JSON.stringify(path.join(HERE, "ensure-tools.sh"))}; ${script}`], {
        encoding: "utf8",
        env: { ...process.env, PATH: `${bin}:/usr/bin:/bin` },
    });
}

test("ensure_cmd installs only what is missing, after one apt-get update", (t) => {
    if (process.getuid?.() !== 0) return t.skip("needs root (apt-get runs as root)");
    const bin = tempDir({
        "apt-get": `#!/bin/sh\necho "$*" >> "$(dirname "$0")/calls"\n` +
            `if [ "$1" = install ]; then for p in "$@"; do case $p in -*|install|ghost-pkg) ;; *) printf '#!/bin/sh\\n' > "$(dirname "$0")/$p"; chmod +x "$(dirname "$0")/$p" ;; esac; done; fi\n`,
    });
    const calls = () => fs.readFileSync(path.join(bin, "calls"), "utf8").trim().split("\n");
    try {
        let r = ensure("ensure_cmd bash bash fake-tool-a fake-tool-a fake-tool-b fake-tool-b && ensure_cmd fake-tool-c fake-tool-c", bin);
        assert.equal(r.status, 0, r.stderr);
        assert.deepEqual(calls(), ["update -q", "install -y -q fake-tool-a fake-tool-b", "install -y -q fake-tool-c"]);
        assert.match(r.stdout, /fake-tool-a is missing: installing Debian package fake-tool-a/);

        // Everything is there now: no apt-get at all.
        fs.rmSync(path.join(bin, "calls"));
        r = ensure("ensure_cmd fake-tool-a fake-tool-a fake-tool-c fake-tool-c", bin);
        assert.equal(r.status, 0, r.stderr);
        assert.equal(fs.existsSync(path.join(bin, "calls")), false);

        // A package that does not bring the command fails, saying so.
        r = ensure("ensure_cmd ghost ghost-pkg", bin);
        assert.equal(r.status, 1);
        assert.match(r.stderr, /ghost is still missing after installing ghost-pkg/);
    } finally {
        fs.rmSync(bin, { recursive: true, force: true });
    }
});

test("ensure-tools.sh rejects an unknown suite", () => {
    const r = spawnSync("bash", [path.join(HERE, "ensure-tools.sh"), "nonesuch"], { encoding: "utf8" });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown suite nonesuch/);
});
