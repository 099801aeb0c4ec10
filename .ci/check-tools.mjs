#!/usr/bin/env node
// Fails when a suite runs an external command that .ci/tools does not list, so that
// .ci/ensure-tools.sh installs everything a fresh machine lacks. A developer's machine cannot
// hide a gap: this reads the code (scripts, Makefile recipes, tests, the component's job
// script and gitlab-ci-local's own source), it does not look at what happens to be installed.
//
//   node .ci/check-tools.mjs [SUITE...]      default: every suite
//   --root DIR            the repository to scan (default: this checkout)
//   --manifest FILE       the tool list (default: ROOT/.ci/tools)
//   --require-node-modules  fail, instead of skipping, when a scanned package is not installed
//   --list                print every command found, with the files that run it
//
// Exit 0 when every command found is listed, 1 with one line per gap otherwise, 2 on misuse.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));

/**
 * What each suite runs. `make`: Makefile targets whose recipes it runs; `shell`: shell scripts;
 * `code`: JavaScript, Python and Rust that spawn programs; `jobs`: GitLab CI templates whose
 * scripts gitlab-ci-local runs on this machine (shell executor); `packages`: npm packages
 * (node_modules/NAME/src) whose source spawns programs; `includes`: suites whose tools this one
 * runs too. Paths are globs relative to the root
 * (`*` within a directory, `**` across directories).
 */
export const SUITES = {
    rust: {
        make: ["toolchain", "build", "lint", "wasm-check", "test-rust", "corpus"],
        code: ["crates/*/src/**/*.rs", "crates/*/build.rs", "crates/*/tests/**/*.rs", "tests/**/*.py"],
    },
    component: {
        make: ["test-component"],
        shell: ["ci-component/tests/**/*.sh"],
        code: ["ci-component/tests/**/*.mjs"],
        jobs: ["ci-component/templates/*.yml"],
        packages: [{ dir: "ci-component/node_modules/gitlab-ci-local", files: ["src/**/*.js"] }],
    },
    "web-build": {
        make: ["web", "serve-web"],
        shell: ["web/scripts/*.sh"],
        code: ["web/scripts/*.mjs"],
    },
    web: {
        includes: ["web-build"],
        make: ["test-web"],
        shell: ["web/tests/*.sh"],
        code: ["web/tests/*.mjs", "crates/wasm/tests/*.rs"],
    },
    fuzz: {
        make: ["fuzz", "fuzz-smoke"],
        shell: ["fuzz/*.sh"],
    },
    bench: {
        make: ["bench", "bench-cli", "bench-audit", "bench-peers"],
        shell: ["bench/*.sh"],
        code: ["bench/*.py", "bench/*.mjs", "crates/cli/bench/*.py"],
    },
};

const BUILTINS = new Set(("! : . [ [[ ]] alias bg break builtin caller cd command compgen complete continue " +
    "declare dirs disown echo enable eval exec exit export false fc fg getopts hash help history jobs " +
    "kill let local logout mapfile popd printf pushd pwd read readarray readonly return set shift shopt " +
    "source suspend test times trap true type typeset ulimit umask unalias unset wait").split(" "));
const KEYWORDS = new Set("! if then else elif fi do done while until for in case esac function select { } time".split(" "));
// Commands that run the next word as a command.
const WRAPPERS = { exec: 0, command: 0, nice: 0, nohup: 0, env: 0, timeout: 1, xargs: 0, sudo: 0, time: 0 };

// ---------------------------------------------------------------------------------------------
// Shell: the words in command position, with `$(...)`, `<(...)` and backticks followed.

/** Splits shell text into words and operators; quotes are kept opaque, substitutions recursed. */
function shellTokens(text, nested) {
    const tokens = [];
    let word = "";
    let quoted = false;
    const flush = () => {
        if (word !== "" || quoted) tokens.push({ word, quoted });
        word = "";
        quoted = false;
    };
    // Index of the `)` closing the `(` just before `start`, skipping quotes.
    const closing = (start) => {
        let depth = 1;
        for (let j = start; j < text.length; j++) {
            const c = text[j];
            if (c === "\\") j++;
            else if (c === "'") j = text.indexOf("'", j + 1) < 0 ? text.length : text.indexOf("'", j + 1);
            else if (c === "(") depth++;
            else if (c === ")" && --depth === 0) return j;
        }
        return text.length;
    };
    for (let i = 0; i < text.length; i++) {
        const c = text[i];
        const two = text.slice(i, i + 2);
        if (c === "\\") {
            if (text[i + 1] !== "\n") word += text[i + 1] ?? "";
            i++;
        } else if (c === "'") {
            const end = text.indexOf("'", i + 1);
            word += text.slice(i + 1, end < 0 ? text.length : end);
            quoted = true;
            i = end < 0 ? text.length : end;
        } else if (c === '"') {
            // Double quotes: substitutions inside still run commands.
            let j = i + 1;
            for (; j < text.length && text[j] !== '"'; j++) {
                if (text[j] === "\\") j++;
                else if (text.startsWith("$(", j) && !text.startsWith("$((", j)) {
                    const end = closing(j + 2);
                    nested.push(text.slice(j + 2, end));
                    word += "$";
                    j = end;
                } else if (text[j] === "`") {
                    const end = text.indexOf("`", j + 1);
                    nested.push(text.slice(j + 1, end < 0 ? text.length : end));
                    j = end < 0 ? text.length : end;
                } else word += text[j];
            }
            quoted = true;
            i = j;
        } else if (c === "#" && word === "" && !quoted) {
            const end = text.indexOf("\n", i);
            i = (end < 0 ? text.length : end) - 1;
        } else if (text.startsWith("$((", i) || (c === "(" && /^[A-Za-z_]\w*\+?=$/.test(word))) {
            // Arithmetic, or an array assignment `NAME=(a b)`: data, not commands.
            const end = closing(i + (c === "$" ? 2 : 1));
            word += text.slice(i, end + 1);
            i = end;
        } else if (two === "$(" || two === "<(" || two === ">(") {
            const end = closing(i + 2);
            nested.push(text.slice(i + 2, end));
            word += "$";
            i = end;
        } else if (c === "`") {
            const end = text.indexOf("`", i + 1);
            nested.push(text.slice(i + 1, end < 0 ? text.length : end));
            word += "$";
            i = end < 0 ? text.length : end;
        } else if (c === "$" && text[i + 1] === "{") {
            const end = text.indexOf("}", i);
            word += text.slice(i, end < 0 ? text.length : end + 1);
            i = end < 0 ? text.length : end;
        } else if (/[\s;&|()<>]/.test(c)) {
            flush();
            if (c === "\n" || c === ";" || c === "&" || c === "|" || c === "(" || c === ")") {
                const op = [";;", "&&", "||"].includes(two) ? two : c;
                tokens.push({ op });
                i += op.length - 1;
            } else if (c === "<" || c === ">") {
                let op = c;
                while (text[i + 1] === ">" || text[i + 1] === "&" || text[i + 1] === "<") op += text[++i];
                // `2>&1`, `>&2`: the target is part of the operator, not a word.
                if (op.endsWith("&")) {
                    while (/[0-9-]/.test(text[i + 1] ?? "")) i++;
                    tokens.push({ op: "redirect-done" });
                } else tokens.push({ op: "redirect" });
            }
        } else word += c;
    }
    flush();
    return tokens;
}

/** Commands a piece of shell runs (names or absolute paths), minus builtins and functions. */
export function shellCommands(text) {
    const found = new Set();
    const functions = new Set([...text.matchAll(/^\s*(?:function\s+)?([A-Za-z_][\w-]*)\s*\(\)/gm)].map((m) => m[1]));
    const pending = [text];
    while (pending.length) {
        const nested = [];
        const tokens = shellTokens(pending.pop(), nested);
        pending.push(...nested);
        let start = true; // at a command position
        let wrapperSkip = -1; // words still to skip after a wrapper (-1: none)
        let mode = "normal"; // "for" (skip to do), "case-word", "case-pattern"
        for (let t = 0; t < tokens.length; t++) {
            const tok = tokens[t];
            if (tok.op) {
                if (tok.op === "redirect") { t++; continue; } // the file name
                if (tok.op === "redirect-done") continue;
                if (mode === "case-pattern") { if (tok.op === ")") { mode = "normal"; start = true; } continue; }
                if (tok.op === ";;") { mode = "case-pattern"; continue; }
                if (mode === "for" && tok.op !== "\n" && tok.op !== ";") continue;
                if (mode === "for") mode = "normal";
                start = true;
                continue;
            }
            const w = tok.word;
            if (mode === "case-word") { if (w === "in" && !tok.quoted) mode = "case-pattern"; continue; }
            if (mode === "case-pattern") { if (w === "esac" && !tok.quoted) { mode = "normal"; start = true; } continue; }
            if (mode === "for") continue;
            if (!start) continue;
            if (!tok.quoted && /^[A-Za-z_][A-Za-z0-9_]*(\[[^\]]*\])?\+?=/.test(w)) continue; // assignment
            if (!tok.quoted && KEYWORDS.has(w)) {
                if (w === "for" || w === "select") mode = "for";
                if (w === "case") mode = "case-word";
                if (w === "esac") mode = "normal";
                continue;
            }
            if (wrapperSkip > 0) { wrapperSkip--; continue; }
            if (wrapperSkip === 0 && w.startsWith("-")) {
                if (w === "-n") t++; // nice -n N
                continue;
            }
            start = false;
            wrapperSkip = -1;
            if (w === "" || w.startsWith("$") || w.startsWith("-") || /[*?[\]=]/.test(w) || /^\d+$/.test(w)) continue;
            const wrapper = path.basename(w);
            if (Object.hasOwn(WRAPPERS, wrapper) && (wrapper === w || w.startsWith("/"))) {
                if (!BUILTINS.has(w)) found.add(w);
                start = true;
                wrapperSkip = WRAPPERS[wrapper];
                continue;
            }
            if (BUILTINS.has(w) || functions.has(w)) continue;
            // A path inside the repository (a script or a built binary) is not a tool.
            if (w.includes("/") && !w.startsWith("/")) continue;
            if (w.endsWith(".sh") || w.endsWith(".py") || w.endsWith(".mjs")) continue;
            found.add(w);
        }
    }
    return found;
}

// ---------------------------------------------------------------------------------------------
// The other sources.

/** Recipe lines of the named Makefile targets, with make variables and `$$` resolved. */
export function makeRecipes(makefile, targets) {
    const vars = { CURDIR: "/repo" };
    const recipes = [];
    let current = null;
    const lines = makefile.replace(/\\\n/g, " ").split("\n");
    for (const line of lines) {
        const assignment = /^([A-Za-z_]+)\s*[:?]?=\s*(.*)$/.exec(line);
        if (assignment) { vars[assignment[1]] = assignment[2].trim(); current = null; continue; }
        const rule = /^([A-Za-z0-9_. -]+):(?!=)/.exec(line);
        if (rule && !line.startsWith("\t")) {
            current = rule[1].trim().split(/\s+/).some((t) => targets.includes(t)) ? [] : null;
            if (current) recipes.push(current);
            continue;
        }
        if (line.startsWith("\t") && current) {
            const expanded = line.slice(1)
                .replace(/\$\(([A-Za-z_]+)\)/g, (_, name) => vars[name] ?? "$" + name)
                .replace(/\$\$/g, "$")
                .replace(/^[@+-]+/, "");
            current.push(expanded);
        } else if (!line.startsWith("\t") && line.trim() !== "" && !line.startsWith("#")) current = null;
    }
    return recipes.flat().join("\n");
}

/** Script lines (`script`, `before_script`, `after_script`) of a GitLab CI template. */
export function jobScripts(text, yaml) {
    const lines = [];
    const walk = (node, key) => {
        if (Array.isArray(node)) {
            if (["script", "before_script", "after_script"].includes(key)) {
                for (const item of node.flat(Infinity)) if (typeof item === "string") lines.push(item);
            } else node.forEach((n) => walk(n, key));
        } else if (node && typeof node === "object") {
            for (const [k, v] of Object.entries(node)) walk(v, k);
        }
    };
    for (const doc of yaml.loadAll(text)) walk(doc, "");
    return lines.join("\n");
}

/** The string literals of a piece of JavaScript, escapes decoded, each `${...}` as `$GCL`. */
function literalsIn(code) {
    const out = [];
    for (const m of code.matchAll(/"((?:[^"\\\n]|\\.)*)"|'((?:[^'\\\n]|\\.)*)'|`((?:[^`\\]|\\.)*)`/g)) {
        const raw = m[1] ?? m[2] ?? m[3];
        out.push(raw
            .replace(/\$\{[^}]*\}/g, "$GCL")
            .replace(/\\n/g, "\n").replace(/\\t/g, "\t").replace(/\\(["'`\\])/g, "$1"));
    }
    return out;
}

/** The span of a call starting at `open` (index of its `(`), string-aware. */
function callSpan(code, open) {
    let depth = 0;
    for (let i = open; i < code.length; i++) {
        const c = code[i];
        if (c === '"' || c === "'" || c === "`") {
            for (i++; i < code.length && code[i] !== c; i++) if (code[i] === "\\") i++;
        } else if (c === "(") depth++;
        else if (c === ")" && --depth === 0) return code.slice(open, i + 1);
    }
    return code.slice(open);
}

/**
 * Programs JavaScript, Python or Rust code starts: the first element of spawn-like calls when it
 * is a literal, shell strings handed to a shell (`Utils.bash(...)`, `execSync`, strings appended
 * to a `...Cmd` variable), `shell: "bash"`, and absolute program paths in string literals.
 * Code of gitlab-ci-local that only runs with a container executor (`dockerCmd`) is left out.
 */
export function codeCommands(code, file = "") {
    const javascript = /\.[cm]?js$/.test(file);
    const found = new Set();
    const literal = String.raw`(?:"([^"$]+)"|'([^'$]+)')`;
    const first = (m) => m.slice(1).find((g) => g !== undefined);
    const direct = [
        // Node: execFileSync("git", ...), spawn("x"), execa("x"), Utils.spawn(["rsync", ...])
        new RegExp(String.raw`\b(?:execFileSync|execFile|spawnSync|spawn|syncSpawn|execa(?:\.sync)?|fork)\(\s*\[?\s*${literal}`, "g"),
        // Python: subprocess.run(["node", ...]), shutil.which("node")
        new RegExp(String.raw`\b(?:subprocess\.\w+|Popen|which)\(\s*\[?\s*${literal}`, "g"),
        // Rust: Command::new("python3")
        new RegExp(String.raw`\bCommand::new\(\s*${literal}`, "g"),
        // An explicit shell: { shell: "bash" }
        new RegExp(String.raw`\bshell:\s*${literal}`, "g"),
    ];
    for (const re of direct) for (const m of code.matchAll(re)) found.add(first(m));
    // Absolute program paths (a browser, /usr/bin/time), wherever they appear as a literal.
    for (const m of code.matchAll(/["'](\/(?:usr\/)?(?:local\/)?s?bin\/[\w.+-]+)["']/g)) found.add(m[1]);
    // Shell strings.
    const shellText = [];
    if (!javascript) return found;
    // Comments may hold quotes that would unbalance the string scan (`// doesn't`).
    code = code.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[\s,;(){}[\]])\/\/.*$/gm, "$1");
    for (const m of code.matchAll(/(?:\bUtils\.bash(?:Multi)?|(?<![.\w])(?:execSync|exec))\(/g)) {
        shellText.push(...literalsIn(callSpan(code, m.index + m[0].length - 1)));
    }
    for (const m of code.matchAll(/\b(\w*[cC]md)\s*\+?=\s*([^;]*);/g)) {
        if (m[1] === "dockerCmd") continue; // container executor only
        if (m[2].trimStart().startsWith("[")) continue; // an argument vector, not shell text
        shellText.push(...literalsIn(m[2]));
    }
    if (shellText.length) for (const c of shellCommands(shellText.join("\n"))) found.add(c);
    for (const c of [...found]) if (c.includes("/") && !c.startsWith("/")) found.delete(c);
    return found;
}

// ---------------------------------------------------------------------------------------------

function globToRegExp(glob) {
    let re = "";
    for (let i = 0; i < glob.length; i++) {
        if (glob.startsWith("**/", i)) { re += "(?:.*/)?"; i += 2; }
        else if (glob[i] === "*") re += "[^/]*";
        else re += glob[i].replace(/[.+^${}()|[\]\\?]/g, "\\$&");
    }
    return new RegExp(`^${re}$`);
}

function listFiles(root, glob) {
    const fixed = glob.split("/").findIndex((p) => p.includes("*"));
    const base = path.join(root, ...glob.split("/").slice(0, fixed < 0 ? undefined : fixed));
    const re = globToRegExp(glob);
    const out = [];
    const walk = (dir) => {
        let entries;
        try { entries = fs.readdirSync(dir, { withFileTypes: true }); } catch { return; }
        for (const e of entries) {
            const full = path.join(dir, e.name);
            if (e.isDirectory()) { if (e.name !== "node_modules" && e.name !== "target") walk(full); }
            else if (re.test(path.relative(root, full).split(path.sep).join("/"))) out.push(full);
        }
    };
    walk(base);
    return out.sort();
}

/** The tool list: { suite: Map(command -> source) }, `*` entries added to every suite. */
export function readManifest(text) {
    const common = new Map();
    const bySuite = {};
    for (const line of text.split("\n")) {
        const fields = line.replace(/#.*/, "").trim().split(/\s+/);
        if (fields.length < 3) continue;
        const [suite, command, source] = fields;
        (suite === "*" ? common : (bySuite[suite] ??= new Map())).set(command, source);
    }
    const own = (suite) => [...(bySuite[suite] ?? [])];
    const merged = {};
    for (const [suite, spec] of Object.entries(SUITES)) {
        merged[suite] = new Map([...common, ...(spec.includes ?? []).flatMap(own), ...own(suite)]);
    }
    return merged;
}

/**
 * Commands each source of a suite runs: Map(command -> [files]). `missing` collects the npm
 * packages that are not installed (their source cannot be read).
 */
export async function suiteCommands(root, suite, missing = []) {
    const spec = SUITES[suite];
    const found = new Map();
    for (const included of spec.includes ?? []) {
        for (const [command, files] of await suiteCommands(root, included, missing)) found.set(command, [...files]);
    }
    const add = (commands, where) => {
        for (const c of commands) {
            if (!found.has(c)) found.set(c, []);
            found.get(c).push(where);
        }
    };
    if (spec.make) add(shellCommands(makeRecipes(fs.readFileSync(path.join(root, "Makefile"), "utf8"), spec.make)), "Makefile");
    for (const glob of spec.shell ?? []) {
        for (const f of listFiles(root, glob)) add(shellCommands(fs.readFileSync(f, "utf8")), path.relative(root, f));
    }
    for (const glob of spec.code ?? []) {
        for (const f of listFiles(root, glob)) add(codeCommands(fs.readFileSync(f, "utf8"), f), path.relative(root, f));
    }
    if (spec.jobs?.length) {
        const yamlPath = path.join(root, "ci-component", "node_modules", "js-yaml", "index.js");
        if (!fs.existsSync(yamlPath)) missing.push("js-yaml (ci-component/node_modules)");
        else {
            const yaml = (await import(pathToFileURL(yamlPath).href)).default;
            for (const glob of spec.jobs) {
                for (const f of listFiles(root, glob)) add(shellCommands(jobScripts(fs.readFileSync(f, "utf8"), yaml)), path.relative(root, f));
            }
        }
    }
    for (const pkg of spec.packages ?? []) {
        const dir = path.join(root, pkg.dir);
        if (!fs.existsSync(dir)) { missing.push(pkg.dir); continue; }
        for (const glob of pkg.files) {
            for (const f of listFiles(dir, glob)) add(codeCommands(fs.readFileSync(f, "utf8"), f), path.relative(root, f));
        }
    }
    return found;
}

/** Gaps of the suites: [{ suite, command, files }] for every command the manifest lacks. */
export async function gaps(root, manifestText, suites, missing = []) {
    const manifest = readManifest(manifestText);
    const out = [];
    for (const suite of suites) {
        for (const [command, files] of await suiteCommands(root, suite, missing)) {
            if (!manifest[suite].has(command)) out.push({ suite, command, files: [...new Set(files)] });
        }
    }
    return out;
}

async function main(args) {
    let root = path.resolve(HERE, "..");
    let manifestPath = null;
    let requireModules = false;
    let list = false;
    const suites = [];
    for (let i = 0; i < args.length; i++) {
        if (args[i] === "--root") root = path.resolve(args[++i]);
        else if (args[i] === "--manifest") manifestPath = path.resolve(args[++i]);
        else if (args[i] === "--require-node-modules") requireModules = true;
        else if (args[i] === "--list") list = true;
        else if (args[i] in SUITES) suites.push(args[i]);
        else {
            console.error(`check-tools: unknown argument ${args[i]} (suites: ${Object.keys(SUITES).join(", ")})`);
            return 2;
        }
    }
    const manifestFile = manifestPath ?? path.join(root, ".ci", "tools");
    const missing = [];
    if (list) {
        for (const suite of suites.length ? suites : Object.keys(SUITES)) {
            for (const [command, files] of await suiteCommands(root, suite, missing)) {
                console.log(`${suite}\t${command}\t${[...new Set(files)].join(", ")}`);
            }
        }
    }
    const found = await gaps(root, fs.readFileSync(manifestFile, "utf8"), suites.length ? suites : Object.keys(SUITES), missing);
    for (const dir of missing) {
        const message = `${dir} is not installed, so the commands it runs were not checked`;
        if (requireModules) { console.error(`check-tools: ${message}: run \`npm ci\` there first`); return 1; }
        console.log(`check-tools: note: ${message} (ci-component/tests/run.sh checks them after npm ci)`);
    }
    for (const g of found) {
        console.error(`check-tools: suite ${g.suite} runs \`${g.command}\` (${g.files.join(", ")}), which ${path.relative(process.cwd(), manifestFile) || manifestFile} does not list: ` +
            `add a line \`${g.suite} ${g.command} apt:PACKAGE why\` so that .ci/ensure-tools.sh installs it on a fresh machine`);
    }
    if (found.length) return 1;
    console.log(`check-tools: every external command of ${suites.length ? suites.join(", ") : "every suite"} is listed in .ci/tools`);
    return 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
    process.exitCode = await main(process.argv.slice(2));
}
