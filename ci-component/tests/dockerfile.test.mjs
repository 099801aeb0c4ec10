// Docker cannot run here, so the image is checked by reading: its build stage must run the
// same build commands as `make build`, and the final stage must hold only the binary.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { COMPONENT_DIR, REPO_ROOT } from "./lib.mjs";

const MAKEFILE = path.join(REPO_ROOT, "Makefile");
const DOCKERFILE = path.join(COMPONENT_DIR, "Dockerfile");

/** Joins backslash-continued lines. */
function logicalLines(text) {
    return text.replace(/\\\r?\n/g, " ").split(/\r?\n/);
}

/** Splits a shell line into simple commands (on &&, ||, ;, |), whitespace normalised. */
function simpleCommands(line) {
    return line.split(/&&|\|\||;|\|/).map((c) => c.trim().replace(/\s+/g, " ")).filter(Boolean);
}

/**
 * The commands that produce the binary: every `cargo` invocation and every `rustup target
 * add`. Other commands (checks such as `rustup target list | grep`, echo) do not change it.
 */
function buildCommands(lines) {
    return lines.flatMap(simpleCommands).filter((c) => /^cargo\s/.test(c) || /^rustup (\+\S+ )?target add\s/.test(c));
}

/** Rules of a Makefile: target -> { prerequisites, recipe (raw logical lines) }. */
function makeRules(text) {
    const rules = {};
    let current = null;
    for (const line of logicalLines(text)) {
        if (line.startsWith("\t")) {
            if (current) current.recipe.push(line.slice(1));
            continue;
        }
        current = null;
        if (/^\s*(#|$)/.test(line)) continue;
        const rule = /^([A-Za-z0-9_.%/-]+(?:\s+[A-Za-z0-9_.%/-]+)*)\s*:(?![:=])\s*([^;=]*)$/.exec(line);
        if (!rule) continue;
        for (const target of rule[1].split(/\s+/)) {
            current = rules[target] ??= { prerequisites: [], recipe: [] };
            current.prerequisites.push(...rule[2].split(/\s+/).filter(Boolean));
        }
    }
    return rules;
}

/** Value of a make variable as make itself computes it (`?=`, `:=`, env are all honoured). */
function makeVariable(name) {
    const env = { ...process.env };
    for (const key of ["MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", name]) delete env[key];
    return execFileSync("make", ["-s", "--no-print-directory", "-C", REPO_ROOT, "-f", MAKEFILE,
        "--eval", "rbac-gate-print-var: ; @printf '%s' '$(" + name + ")'", "rbac-gate-print-var"],
    { encoding: "utf8", env });
}

/** The expanded recipe of `target` and, first, of its prerequisites (as make runs them). */
function makeRecipe(rules, target, seen = new Set()) {
    if (seen.has(target) || !rules[target]) return [];
    seen.add(target);
    const { prerequisites, recipe } = rules[target];
    const lines = prerequisites.flatMap((p) => makeRecipe(rules, p, seen));
    for (let line of recipe) {
        line = line.replace(/^[@+-]+/, "");
        line = line.replace(/\$[({]([A-Za-z0-9_]+)[)}]/g, (_, name) => makeVariable(name));
        lines.push(line.replaceAll("$$", "$"));
    }
    return lines;
}

/** Dockerfile instructions: [{ instruction, args }] with continuations joined. */
function dockerInstructions(text) {
    return logicalLines(text)
        .map((l) => l.trim())
        .filter((l) => l && !l.startsWith("#"))
        .map((l) => {
            const [, instruction, args] = /^(\S+)\s*(.*)$/.exec(l);
            return { instruction: instruction.toUpperCase(), args };
        });
}

/** The shell line of a RUN (shell form, or exec form ["sh", "-c", "..."] / ["cmd", "arg"]). */
function runLine(args) {
    const flagsStripped = args.replace(/^(--\S+\s+)+/, "");
    if (flagsStripped.startsWith("[")) {
        const argv = JSON.parse(flagsStripped);
        return argv[0] === "sh" || argv[0] === "/bin/sh" ? argv[argv.length - 1] : argv.join(" ");
    }
    return flagsStripped;
}

test("the Dockerfile's build stage runs the same build commands as `make build`", () => {
    assert.ok(fs.existsSync(MAKEFILE), "no root Makefile");
    const rules = makeRules(fs.readFileSync(MAKEFILE, "utf8"));
    assert.ok(rules.build, "the root Makefile has no `build` target");
    const fromMake = buildCommands(makeRecipe(rules, "build"));
    assert.ok(fromMake.some((c) => /^cargo build .*--release.*-p rbac-gate$|^cargo build .*-p rbac-gate .*--release/.test(c)),
        `make build does not build the rbac-gate binary: ${JSON.stringify(fromMake)}`);

    const instructions = dockerInstructions(fs.readFileSync(DOCKERFILE, "utf8"));
    const froms = instructions.map((ins, i) => [ins, i]).filter(([ins]) => ins.instruction === "FROM");
    const buildStageEnd = froms.length > 1 ? froms[1][1] : instructions.length;
    const runs = instructions.slice(0, buildStageEnd).filter((ins) => ins.instruction === "RUN").map((ins) => runLine(ins.args));
    const fromDocker = buildCommands(runs);
    assert.deepEqual(fromDocker, fromMake, "Dockerfile RUN commands and the Makefile's build recipe differ");
});

test("the drift check bites: a changed command or an extra one is a difference", () => {
    const make = buildCommands(["@rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown",
        "cargo build --release -p rbac-gate"]);
    assert.deepEqual(make, ["rustup target add wasm32-unknown-unknown", "cargo build --release -p rbac-gate"]);
    assert.notDeepEqual(buildCommands(["cargo build --release --locked -p rbac-gate"]), make.slice(1));
    assert.notDeepEqual(buildCommands(["cargo fetch && cargo build --release -p rbac-gate"]), make.slice(1));
    const rules = makeRules("X ?= y\nbuild: pre\n\t@echo hi\n\tcargo build \\\n\t  -p a\npre:\n\trustup target add t\nother:\n\tcargo test\n");
    assert.deepEqual(rules.build, { prerequisites: ["pre"], recipe: ["@echo hi", "cargo build  \t  -p a"] });
    assert.deepEqual(buildCommands(makeRecipe(rules, "build")), ["rustup target add t", "cargo build -p a"]);
});

test("the image is multi-stage: the rbac-gate binary, git and kustomize on a slim base", () => {
    const text = fs.readFileSync(DOCKERFILE, "utf8");
    const instructions = dockerInstructions(text);
    const froms = instructions.filter((i) => i.instruction === "FROM");
    assert.ok(froms.length >= 2, "multi-stage");
    const args = Object.fromEntries(instructions.filter((i) => i.instruction === "ARG" && i.args.includes("="))
        .map((i) => i.args.split("=", 2)));
    const finalBase = froms.at(-1).args.replace(/\$\{?(\w+)\}?/g, (_, n) => args[n] ?? "");
    assert.match(finalBase, /slim|distroless/, `final base ${finalBase} is not slim`);
    const finalStage = instructions.slice(instructions.lastIndexOf(froms.at(-1)));
    const copies = finalStage.filter((i) => i.instruction === "COPY" || i.instruction === "ADD");
    assert.deepEqual(copies.map((c) => c.args), ["--from=build /src/target/release/rbac-gate /usr/local/bin/rbac-gate"]);
    // The one package install: git (merge request pipelines read the config from the target
    // branch with `--config-from-rev`) and kustomize (kustomizations are judged by what they
    // render), from Debian, without recommends, lists removed: exactly these packages.
    const installs = finalStage.filter((i) => i.instruction === "RUN" && /apt|apk|curl|wget/.test(i.args));
    assert.equal(installs.length, 1, "one install step in the final stage");
    const installed = installs[0].args.match(/apt-get install -y --no-install-recommends ((?:[a-z0-9.+-]+ ?)+)/);
    assert.ok(installed, `no apt-get install in ${installs[0].args}`);
    assert.deepEqual(installed[1].trim().split(/\s+/).sort(), ["ca-certificates", "git", "kustomize"]);
    assert.match(installs[0].args, /rm -rf \/var\/lib\/apt\/lists/);
    assert.doesNotMatch(installs[0].args, /curl|wget|apk/, "no download outside the package manager");
});

/** ENV instructions of a stage: name -> value (`ENV A=1 B=2` and `ENV A 1` forms). */
function envOf(instructions) {
    const env = {};
    for (const { args } of instructions.filter((i) => i.instruction === "ENV")) {
        const pairs = [...args.matchAll(/(\w+)=("[^"]*"|\S+)/g)];
        if (pairs.length) for (const [, k, v] of pairs) env[k] = v.replace(/^"|"$/g, "");
        else { const [k, ...v] = args.split(/\s+/); env[k] = v.join(" "); }
    }
    return env;
}

/**
 * What the final stage does to the module cache (issue 12, attack 5): entries run as machine
 * code, so the image ships them compiled, root-owned and read-only, MAC'd with a root-only key
 * outside the cache, and compiled from a directory that does not contain the cache.
 */
function cacheProblems(text) {
    const instructions = dockerInstructions(text);
    const froms = instructions.filter((i) => i.instruction === "FROM");
    const finalStage = instructions.slice(instructions.lastIndexOf(froms.at(-1)));
    const env = envOf(finalStage);
    const cache = env.RBAC_GATE_CACHE_DIR;
    const key = env.RBAC_GATE_CACHE_KEY;
    const problems = [];
    if (!cache?.startsWith("/")) return ["RBAC_GATE_CACHE_DIR is not an absolute ENV"];
    if (!key?.startsWith("/")) return ["RBAC_GATE_CACHE_KEY is not an absolute ENV"];
    if (key.startsWith(cache + "/")) problems.push("the key is inside the cache directory");
    const runIndex = finalStage.findIndex((i) => i.instruction === "RUN" && /\brbac-gate version\b/.test(i.args));
    if (runIndex < 0) return ["no `rbac-gate version` at build time"];
    const workdir = finalStage.slice(0, runIndex).filter((i) => i.instruction === "WORKDIR").at(-1)?.args ?? "/";
    if (cache === workdir || cache.startsWith(workdir.replace(/\/?$/, "/"))) {
        problems.push(`the cache is compiled from ${workdir}, which contains it (the cache would be refused)`);
    }
    const commands = simpleCommands(runLine(finalStage[runIndex].args));
    const expect = (what, re) => { if (!commands.some((c) => re.test(c))) problems.push(what); };
    const esc = (s) => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
    const keyDir = key.replace(/\/[^/]+$/, "");
    expect("the cache is not made root's", new RegExp(`^chown -R root(:root)? .*${esc(cache)}( |$)`));
    expect("the entries are not made read-only (0444)", new RegExp(`^chmod 0?444 ${esc(cache)}/\\*`));
    expect("the cache directory is not made read-only (0555)", new RegExp(`^chmod 0?555 ${esc(cache)}$`));
    expect("the key is not made root-only (0400 or 0600)", new RegExp(`^chmod 0?[46]00 ${esc(key)}$`));
    expect("the key's directory is not made root-only (0700)", new RegExp(`^chmod 0?700 ${esc(keyDir)}$`));
    expect("the build does not check that the compiled entry is then used", /^grep -q .*Hit/);
    const chmodIndex = commands.findIndex((c) => c.startsWith("chmod"));
    if (commands.findIndex((c) => /^rbac-gate version$/.test(c)) > chmodIndex) problems.push("the module is compiled after the chmods");
    return problems;
}

test("the image ships the compiled module read-only, root's, with a root-only key", () => {
    assert.deepEqual(cacheProblems(fs.readFileSync(DOCKERFILE, "utf8")), []);
});

test("the cache check bites: a writable cache, a key in the cache, a build from / are problems", () => {
    const good = fs.readFileSync(DOCKERFILE, "utf8");
    const variants = {
        "no chmod 0555": good.replace(/ *&& chmod 0555 \S+ *\\\n/, ""),
        "key inside the cache": good.replace("RBAC_GATE_CACHE_KEY=/etc/rbac-gate/cache.key", "RBAC_GATE_CACHE_KEY=/var/cache/rbac-gate/cache.key"),
        "compiled from /": good.replace(/^WORKDIR \/work\n/m, "").replace(/(CMD .*)$/m, "WORKDIR /work\n$1"),
        "no Hit check": good.replace(/ *&& RBAC_GATE_TIMINGS=1 .*\n/, "\n"),
    };
    for (const [name, text] of Object.entries(variants)) {
        assert.notEqual(text, good, `${name}: the variant changed nothing`);
        assert.notDeepEqual(cacheProblems(text), [], name);
    }
});
