//! Command-line interface: `check`, `rules`, `explain`, `version`.

use crate::collect::{self, CollectOptions};
use crate::render::{self, Format};
use crate::sandbox::{Limits, Origin, Policy, PolicyError};
use clap::{Args, Parser, Subcommand, ValueEnum};
use rbac_gate_core::report::{Counts, FileError, PolicyInfo, Report, Severity, REPORT_SCHEMA};
use rbac_gate_core::rules::RuleDoc;
use rbac_gate_core::{Options, Request, Source};
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Exit code for errors (unreadable or unparsable input, bad usage, policy-module failure).
pub const EXIT_ERROR: i32 = 2;

#[derive(Parser, Debug)]
#[command(
    name = "rbac-gate",
    version,
    about = "Least-privilege gate for GitLab Runner RBAC on Kubernetes",
    long_about = "Least-privilege gate for GitLab Runner RBAC on Kubernetes.\n\n\
        The policy runs as a WebAssembly module inside a wasmtime sandbox (deadline, \
        memory cap, optional fuel). Exit codes: 0 pass, 1 a finding at or above --fail-on, 2 error.",
    disable_help_subcommand = true
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,

    /// Run this policy module (.wasm, or .wat text) instead of the embedded one.
    #[arg(long, global = true, value_name = "FILE")]
    policy: Option<PathBuf>,

    /// Evaluation engine: the sandboxed module (default) or the natively linked core
    /// (benchmarks only).
    #[arg(long, global = true, hide = true, value_enum, default_value_t = Engine::Wasm)]
    engine: Engine,

    /// Fuel budget of one evaluation, a deterministic bound on top of the deadline (off by
    /// default: metering costs about 12% of the time) [env: RBAC_GATE_FUEL].
    #[arg(long, global = true, hide = true)]
    fuel: Option<u64>,

    /// Deadline of one evaluation in milliseconds [env: RBAC_GATE_TIMEOUT_MS].
    #[arg(long, global = true, hide = true)]
    timeout_ms: Option<u64>,

    /// Linear-memory cap in MiB [env: RBAC_GATE_MAX_MEMORY_MB].
    #[arg(long, global = true, hide = true)]
    max_memory_mb: Option<u64>,

    /// Do not use the compiled-module cache.
    #[arg(long, global = true, hide = true)]
    no_module_cache: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Engine {
    Wasm,
    Native,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check files or directories (default: the current directory); `-` reads stdin.
    ///
    /// A directory's inputs are its .yaml, .yml, .json, .toml and kubeconfig files. In a git
    /// work tree: every tracked file, whatever an ignore file says, and the untracked files
    /// that the repository's own .gitignore files do not ignore (.git/info/exclude, the
    /// global excludes and ignore files outside the repository never apply). Elsewhere, and in
    /// a directory with no tracked file: every file, except below the built-in skip list
    /// .git/, .hg/, .svn/, node_modules/ and .gitlab-ci-local/. --exclude applies to both.
    /// Finding no input file is an error (exit 2) unless --allow-empty is given.
    ///
    /// A folder with Chart.yaml is a chart: its values.yaml is judged as values, its
    /// templates are source. A template that can yield RBAC, a ServiceAccount, a runner
    /// config or an unstated kind is an error until rendered (`helm template ... | rbac-gate
    /// check -`); other templates are skipped and counted. Outside charts, `{{` in ConfigMap
    /// and Secret data, annotations and container env/args/command is data (Grafana,
    /// Alertmanager); elsewhere in a judged field it is an error.
    ///
    /// Runner values are also judged under a wrapper chart's dependency key (gitlab-runner by
    /// name or alias, its `version` and `condition` respected), in GitLab's own chart, and in
    /// Flux HelmRelease and Argo CD Application/ApplicationSet objects, at the values' lines.
    ///
    /// A folder with kustomization.yaml is judged by its render: `kustomize build`, else
    /// `kubectl kustomize`, must be on PATH (no plugins, no Helm, no remote resources). Each
    /// overlay renders on its own; bases and consumed files are not judged twice. Findings
    /// point at the file and line that produced the object (a patch's line when the patch
    /// wrote it) and end with "(as kustomize renders OVERLAY)".
    ///
    /// Committed GitLab tokens (glrt-, glpat-, registration tokens, ...) are high (RG404) and
    /// never printed. The runner version is --runner-version, else the config, else the runner
    /// image tag, the values' image.tag or the chart version, else the newest known; findings
    /// say which and why.
    Check(CheckArgs),
    /// List the rules.
    Rules {
        /// Output format.
        #[arg(long, value_parser = ["text", "json"], default_value = "text")]
        format: String,
    },
    /// Show a rule's documentation.
    Explain {
        /// Rule code or name.
        rule: String,
    },
    /// Show the host version, policy version and module digest.
    Version,
    /// Print the minimal RBAC for a runner (ServiceAccounts, Role, RoleBinding; Helm values).
    Generate(crate::commands::generate::GenerateArgs),
    /// Explain Kubernetes API errors from job logs (the message, or stdin).
    #[command(name = "explain-error")]
    ExplainError(crate::commands::explain_error::ExplainErrorArgs),
    /// Compare Kubernetes audit logs with the runner's RBAC: used, unused, denied, unexpected.
    Audit(crate::commands::audit::AuditArgs),
}

#[derive(Args, Debug)]
struct CheckArgs {
    /// Files or directories to check; `-` for stdin. Default: the current directory.
    #[arg(value_name = "PATH")]
    paths: Vec<String>,

    /// Output format on stdout: text, json, codequality, sarif, junit.
    #[arg(long, short = 'f', default_value = "text", value_parser = parse_format)]
    format: Format,

    /// Also write FORMAT to FILE (repeatable), e.g. `--report codequality=gl-code-quality.json`.
    #[arg(long, value_name = "FORMAT=FILE", value_parser = parse_report)]
    report: Vec<(Format, PathBuf)>,

    /// Lowest severity that fails the gate: info, low, medium, high, critical
    /// (default: from the config file, else high).
    #[arg(long, value_name = "SEVERITY", value_parser = parse_severity)]
    fail_on: Option<Severity>,

    /// Config file (default: .rbac-gate.yaml in the current directory, if present).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Read the config from git revision REV (e.g. a merge request's target,
    /// $CI_MERGE_REQUEST_DIFF_BASE_SHA) instead of from the tree: the tree's config is only
    /// compared with it, and whatever it would loosen is reported (policy-changed).
    #[arg(long, value_name = "REV")]
    config_from_rev: Option<String>,

    /// GitLab Runner version the manifests are for, X.Y (overrides the config file and the
    /// version read from the inputs: runner image tag, values' image.tag, chart version).
    #[arg(long, value_name = "X.Y")]
    runner_version: Option<String>,

    /// Skip files and directories matching GLOB (repeatable). Without `/` it matches names,
    /// with `/` paths relative to the current directory.
    #[arg(long, value_name = "GLOB")]
    exclude: Vec<String>,

    /// Path shown for stdin.
    #[arg(long, value_name = "NAME", default_value = "-")]
    stdin_path: String,

    /// Read every file below the directories, even untracked ones that `.gitignore` ignores
    /// and those in the built-in skip list (`.git/` and --exclude still apply). Tracked files
    /// are always read.
    #[arg(long)]
    no_ignore: bool,

    /// Pass (exit 0) when no input file is found. Without it an empty run is an error
    /// (exit 2): a gate that checked nothing has nothing to pass.
    #[arg(long)]
    allow_empty: bool,

    /// No colour (also: NO_COLOR).
    #[arg(long)]
    no_color: bool,

    /// Print only the summary line, and nothing when the gate passes.
    #[arg(long, short = 'q')]
    quiet: bool,

    /// Largest input file in MiB.
    #[arg(long, hide = true, default_value_t = collect::DEFAULT_MAX_FILE_SIZE / (1024 * 1024))]
    max_file_mb: u64,
}

fn parse_format(s: &str) -> Result<Format, String> {
    s.parse()
}

fn parse_report(s: &str) -> Result<(Format, PathBuf), String> {
    let (format, file) = s
        .split_once('=')
        .ok_or_else(|| format!("expected FORMAT=FILE, got `{s}`"))?;
    if file.is_empty() {
        return Err(format!("no file in `{s}`"));
    }
    Ok((format.parse()?, PathBuf::from(file)))
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    Severity::parse(s).ok_or_else(|| {
        format!("unknown severity `{s}` (expected info, low, medium, high or critical)")
    })
}

/// Runs the CLI and returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { EXIT_ERROR } else { 0 };
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("rbac-gate: error: {message}");
            EXIT_ERROR
        }
    }
}

fn run(cli: Cli) -> Result<i32, String> {
    let timings = std::env::var_os("RBAC_GATE_TIMINGS").is_some_and(|v| !v.is_empty());
    let evaluator = Evaluator::new(&cli, timings);
    match &cli.command {
        Command::Check(args) => check(args, &evaluator, timings),
        Command::Rules { format } => rules(&evaluator, format),
        Command::Explain { rule } => explain(&evaluator, rule),
        Command::Version => version(&evaluator),
        Command::Generate(args) => crate::commands::generate::run(args, &evaluator),
        Command::ExplainError(args) => crate::commands::explain_error::run(args, &evaluator),
        Command::Audit(args) => crate::commands::audit::run(args, &evaluator),
    }
}

/// Runs requests through the sandboxed module (or, for benchmarks, the native core).
pub(crate) struct Evaluator {
    engine: Engine,
    policy_file: Option<PathBuf>,
    limits: Limits,
    module_cache: Option<crate::cache::ModuleCache>,
    timings: bool,
    loaded: std::cell::OnceCell<Result<Policy, PolicyError>>,
}

impl Evaluator {
    fn new(cli: &Cli, timings: bool) -> Evaluator {
        let env_u64 = |name: &str| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        let defaults = Limits::default();
        let limits = Limits {
            fuel: cli
                .fuel
                .or_else(|| env_u64("RBAC_GATE_FUEL"))
                .or(defaults.fuel),
            timeout: cli
                .timeout_ms
                .or_else(|| env_u64("RBAC_GATE_TIMEOUT_MS"))
                .map(Duration::from_millis)
                .unwrap_or(defaults.timeout),
            max_memory: cli
                .max_memory_mb
                .or_else(|| env_u64("RBAC_GATE_MAX_MEMORY_MB"))
                .map(|mb| mb.saturating_mul(1024 * 1024)),
            max_wasm_stack: defaults.max_wasm_stack,
        };
        Evaluator {
            engine: cli.engine,
            policy_file: cli.policy.clone(),
            limits,
            module_cache: if cli.no_module_cache {
                None
            } else {
                crate::cache::ModuleCache::from_env(Evaluator::scanned_trees(&cli.command))
            },
            timings,
            loaded: std::cell::OnceCell::new(),
        }
    }

    /// The trees this run reads inputs from (the current directory and `check`'s paths): a
    /// compiled-module cache inside one of them could come from a merge request, so it is
    /// refused.
    fn scanned_trees(command: &Command) -> Vec<PathBuf> {
        let mut trees: Vec<PathBuf> = std::env::current_dir().into_iter().collect();
        if let Command::Check(args) = command {
            trees.extend(args.paths.iter().filter(|p| *p != "-").map(PathBuf::from));
        }
        trees
    }

    fn policy(&self) -> Result<&Policy, PolicyError> {
        self.loaded
            .get_or_init(|| {
                let policy = match &self.policy_file {
                    Some(path) => Policy::from_file(path, self.limits, self.module_cache.as_ref()),
                    None => Policy::embedded(self.limits, self.module_cache.as_ref()),
                };
                if self.timings {
                    if let Ok(p) = &policy {
                        eprintln!(
                            "timing: module load {:.1} ms ({:?})",
                            ms(p.load_info().elapsed),
                            p.load_info().cache
                        );
                    }
                }
                policy
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Module digest reported with every result (`None` for the native engine).
    fn sha256(&self) -> Option<String> {
        match self.engine {
            Engine::Native => None,
            Engine::Wasm => self.policy().ok().map(|p| p.sha256().to_string()),
        }
    }

    /// Runs `f` with a function that sends requests to one module instance kept alive for all
    /// of them (fresh fuel and deadline per request). Requests are at most `max_request` bytes.
    pub(crate) fn with_session<R: Send>(
        &self,
        max_request: usize,
        f: impl FnOnce(&mut dyn FnMut(&str) -> Result<String, PolicyError>) -> R + Send,
    ) -> Result<R, PolicyError> {
        match self.engine {
            Engine::Native => {
                let mut call = |request: &str| Ok(rbac_gate_core::handle_json(request));
                Ok(f(&mut call))
            }
            Engine::Wasm => {
                let policy = self.policy()?;
                let timings = self.timings;
                policy.with_session(max_request, |session| {
                    let start = Instant::now();
                    let result = {
                        let mut call = |request: &str| session.call(request);
                        f(&mut call)
                    };
                    if timings {
                        eprintln!(
                            "timing: session {} calls, fuel used {}, linear memory {} MiB, {:.1} ms",
                            session.calls,
                            session.fuel_used,
                            session.memory_size() / (1024 * 1024),
                            ms(start.elapsed())
                        );
                    }
                    result
                })
            }
        }
    }

    /// Runs one request. It is taken by value: the sandbox frees its copy as soon as the module
    /// has its own, which matters for a 40 MB request.
    pub(crate) fn evaluate(&self, request: String) -> Result<String, PolicyError> {
        let start = Instant::now();
        let request_len = request.len();
        let result = match self.engine {
            Engine::Native => Ok(rbac_gate_core::handle_json(&request)),
            Engine::Wasm => {
                let policy = self.policy()?;
                policy.evaluate(request).map(|evaluation| {
                    if let (true, Some(fuel)) = (self.timings, evaluation.fuel_used) {
                        eprintln!("timing: fuel used {fuel}");
                    }
                    if self.timings {
                        eprintln!(
                            "timing: policy module memory {:.1} MiB",
                            evaluation.memory_bytes as f64 / (1024.0 * 1024.0)
                        );
                    }
                    evaluation.json
                })
            }
        };
        if self.timings {
            eprintln!(
                "timing: evaluate ({:?}, {} request bytes) {:.1} ms",
                self.engine,
                request_len,
                ms(start.elapsed())
            );
        }
        result
    }

    fn rules(&self) -> Result<Vec<RuleDoc>, String> {
        let request = serde_json::to_string(&Request::Rules).map_err(|e| e.to_string())?;
        let response = self.evaluate(request).map_err(|e| e.to_string())?;
        serde_json::from_str(&response)
            .map_err(|e| format!("policy module returned a malformed rule catalog: {e}"))
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn check(args: &CheckArgs, evaluator: &Evaluator, timings: bool) -> Result<i32, String> {
    let start = Instant::now();
    let cwd =
        std::env::current_dir().map_err(|e| format!("cannot get the current directory: {e}"))?;
    // Refused before anything runs: a report is never written outside the working directory.
    let report_targets = args
        .report
        .iter()
        .map(|(_, file)| report_target(file, &cwd))
        .collect::<Result<Vec<_>, _>>()?;

    let (config, config_path, proposed_config) = match &args.config_from_rev {
        None => {
            let (config, path) = read_config(args.config.as_deref(), &cwd)?;
            (config, path, None)
        }
        Some(revision) => {
            let read = crate::trusted_config::read(revision, args.config.as_deref(), &cwd)?;
            (read.trusted, Some(read.proposed_path), read.proposed)
        }
    };
    let today = crate::date::today()?;
    let max_file_size = args.max_file_mb.saturating_mul(1024 * 1024);
    let mut collected = collect::collect(
        &args.paths,
        &CollectOptions {
            excludes: args.exclude.clone(),
            stdin_path: args.stdin_path.clone(),
            max_file_size,
            // Only the config, by the path it is read from. Report paths never change the
            // inputs: a report symlinked to a manifest would hide it.
            skip: config_path.into_iter().collect(),
            cwd: cwd.clone(),
            no_ignore: args.no_ignore,
        },
    )?;
    // The charts the config says are judged by a rendered file: read those files too.
    if let Some(config) = &config {
        let entries = rbac_gate_core::settings::rendered_entries(config);
        collect::read_rendered(&mut collected, &entries, &cwd, max_file_size);
    }
    for warning in &collected.warnings {
        eprintln!("rbac-gate: warning: {warning}");
    }
    if collected.sources.is_empty() && !args.allow_empty {
        return Err(collect::nothing_found_message(&args.paths, &args.exclude));
    }
    let sources = collected.sources;
    if timings {
        eprintln!(
            "timing: collect {} files {:.1} ms",
            sources.len(),
            ms(start.elapsed())
        );
    }

    let options = Options {
        config,
        config_revision: args.config_from_rev.clone(),
        proposed_config,
        fail_on: args.fail_on,
        today: Some(today),
        runner_version: args.runner_version.clone(),
        // Only the JSON report shows the permission matrix.
        skip_identities: !args.renders(Format::Json),
    };
    let fail_on = args.fail_on;
    let request = encode_check(&sources, &options)?;
    // The host's copy of the inputs is dead weight while the module runs (37 MB for a
    // 100,000-object dump, on top of the module's peak); paths and read errors stay. Only the
    // text report quotes source lines, and it reads the files again afterwards.
    let mut sources = sources;
    let quoted = Quoted::drop_texts(&mut sources, &collected.files, args.renders(Format::Text));

    let mut policy_failed = false;
    let mut report = match evaluator.evaluate(request) {
        Ok(json) => match serde_json::from_str::<Report>(&json) {
            Ok(report) => report,
            Err(e) => {
                policy_failed = true;
                let message = format!("policy module returned a malformed report: {e}");
                eprintln!("rbac-gate: error: {message}");
                error_report(&sources, fail_on, message)
            }
        },
        Err(e) => {
            policy_failed = true;
            eprintln!("rbac-gate: error: {e}");
            error_report(&sources, fail_on, e.to_string())
        }
    };
    report.policy.sha256 = evaluator.sha256();
    enforce_invariants(&mut report, &sources);
    // No format may print a credential a message quotes (URL userinfo, `--password X`).
    crate::redact::redact_report(&mut report);
    for warning in quoted.read_again(&mut sources, &collected.files, max_file_size) {
        eprintln!("rbac-gate: warning: {warning}");
    }
    // Findings on kustomize renders point at the files that produced the objects.
    collected
        .kustomize
        .attribute(&mut report, &mut sources, max_file_size);

    let render_start = Instant::now();
    let needs_rules = !policy_failed && args.renders(Format::Sarif);
    let rules = if needs_rules {
        evaluator.rules().unwrap_or_else(|e| {
            eprintln!("rbac-gate: warning: no rule metadata for SARIF: {e}");
            Vec::new()
        })
    } else {
        Vec::new()
    };
    let color = args.format == Format::Text
        && !args.no_color
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::io::stdout().is_terminal();
    let context = |color: bool| render::Context {
        report: &report,
        sources: &sources,
        rules: &rules,
        color,
        quiet: args.quiet,
    };

    let mut exit = report.exit_code();
    for ((format, file), target) in args.report.iter().zip(&report_targets) {
        if let Err(e) = write_report(target, *format, &context(false)) {
            eprintln!(
                "rbac-gate: error: cannot write the {} report to {}: {e}",
                format.name(),
                file.display()
            );
            exit = EXIT_ERROR;
        }
    }
    let mut stdout = std::io::BufWriter::with_capacity(OUTPUT_BUFFER, std::io::stdout().lock());
    if let Err(e) =
        render::write(args.format, &context(color), &mut stdout).and_then(|()| stdout.flush())
    {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("rbac-gate: error: cannot write to stdout: {e}");
        }
        exit = EXIT_ERROR;
    }
    if timings {
        eprintln!(
            "timing: render {:.1} ms, total {:.1} ms",
            ms(render_start.elapsed()),
            ms(start.elapsed())
        );
    }
    Ok(exit)
}

/// The inputs the text report will quote, while their texts are dropped for the evaluation.
struct Quoted {
    /// Per source: the digest of the text that was checked, when it was dropped to be read
    /// again from its file.
    digests: Vec<Option<(usize, u64)>>,
}

impl Quoted {
    /// Drops the texts of `sources`. With `quote`, those read from a file are remembered, to be
    /// read again for the text report; stdin cannot be read twice, so its text stays.
    fn drop_texts(
        sources: &mut [Source],
        files: &BTreeMap<String, PathBuf>,
        quote: bool,
    ) -> Quoted {
        let digests = sources
            .iter_mut()
            .map(|source| {
                if quote && !files.contains_key(&source.path) {
                    return None;
                }
                let text = std::mem::take(&mut source.text);
                (quote && source.read_error.is_none()).then(|| digest(&text))
            })
            .collect();
        Quoted { digests }
    }

    /// Reads the dropped texts again. A file that is gone or changed since it was checked is
    /// not quoted (its lines would not be the ones the findings point at): the returned
    /// warnings say so.
    fn read_again(
        self,
        sources: &mut [Source],
        files: &BTreeMap<String, PathBuf>,
        max_file_size: u64,
    ) -> Vec<String> {
        let mut warnings = Vec::new();
        for (source, digest_checked) in sources.iter_mut().zip(self.digests) {
            let (Some(checked), Some(file)) = (digest_checked, files.get(&source.path)) else {
                continue;
            };
            let again = collect::read_file(source.path.clone(), file, max_file_size);
            if again.read_error.is_none() && digest(&again.text) == checked {
                source.text = again.text;
            } else {
                warnings.push(format!(
                    "{} changed while it was checked; the text report does not quote its lines",
                    source.path
                ));
            }
        }
        warnings
    }
}

/// Length and hash of a text, to tell whether a file still holds what was checked.
fn digest(text: &str) -> (usize, u64) {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::hash::DefaultHasher::new();
    text.hash(&mut hasher);
    (text.len(), hasher.finish())
}

/// Reports are written as they are rendered, through a buffer of this size.
const OUTPUT_BUFFER: usize = 64 * 1024;

/// Where a `--report` file goes: its absolute path, once it is known to stay inside the
/// working directory. The path is resolved by name (`..` included), and no directory between
/// the working directory and the file may be a symlink, since the tree (and so any link in
/// it) may come from a merge request.
fn report_target(file: &Path, cwd: &Path) -> Result<PathBuf, String> {
    let target = collect::lexical_absolute(file, cwd);
    let refuse = |why: String| {
        format!(
            "cannot write the report {}: {why}. Reports are written only inside the working \
             directory {} and never through a symlink: give a path below it, such as \
             gl-code-quality-report.json, or run rbac-gate from the directory the report \
             belongs in",
            file.display(),
            cwd.display()
        )
    };
    let inside = match target.strip_prefix(cwd) {
        Ok(inside) if !inside.as_os_str().is_empty() => inside,
        _ => return Err(refuse("it is outside the working directory".to_string())),
    };
    let mut dir = cwd.to_path_buf();
    for component in inside.parent().into_iter().flat_map(Path::components) {
        dir.push(component);
        match std::fs::symlink_metadata(&dir) {
            Ok(meta) if meta.is_symlink() => {
                return Err(refuse(format!(
                    "its directory {} is a symlink (remove the link)",
                    collect::display_path(&dir, cwd)
                )))
            }
            Ok(_) => {}
            // Missing directories are created, as real directories, when the report is written.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
            Err(e) => return Err(refuse(format!("cannot inspect {}: {e}", dir.display()))),
        }
    }
    Ok(target)
}

/// Writes a `--report` file at `target` (from [`report_target`]), creating its directory. The
/// report goes to a new file beside it, then replaces it by a rename: a symlink at `target`
/// is replaced itself, and whatever it points at is never written.
fn write_report(
    target: &Path,
    format: Format,
    context: &render::Context<'_>,
) -> std::io::Result<()> {
    let dir = target.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let (temp, file) = create_beside(target)?;
    let written = (|| {
        let mut out = std::io::BufWriter::with_capacity(OUTPUT_BUFFER, file);
        render::write(format, context, &mut out)?;
        out.flush()?;
        std::fs::rename(&temp, target)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

/// A new file next to `target`, created without following any symlink: it must not exist
/// yet (`O_EXCL`) and may not be a link (`O_NOFOLLOW`), so a link planted under the temporary
/// name cannot redirect the write either.
fn create_beside(target: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut attempt = 0;
    loop {
        let temp = target.with_file_name(format!(
            ".{name}.rbac-gate-{}-{attempt}.tmp",
            std::process::id()
        ));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.custom_flags(libc::O_NOFOLLOW);
        }
        match options.open(&temp) {
            Ok(file) => return Ok((temp, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 100 => {
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// `--config FILE` must exist; otherwise `.rbac-gate.yaml` is used when present.
pub(crate) fn read_config(
    named: Option<&Path>,
    cwd: &Path,
) -> Result<(Option<Source>, Option<PathBuf>), String> {
    let (path, required) = match named {
        Some(path) => (path.to_path_buf(), true),
        None => (cwd.join(".rbac-gate.yaml"), false),
    };
    if !required && !path.exists() {
        return Ok((None, None));
    }
    let display = collect::display_path(&path, cwd);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read config file {display}: {e}"))?;
    Ok((Some(Source::new(display, text)), Some(path)))
}

/// The report when the policy module produced none: one error, exit 2.
fn error_report(sources: &[Source], fail_on: Option<Severity>, message: String) -> Report {
    Report {
        schema: REPORT_SCHEMA.to_string(),
        policy: PolicyInfo {
            version: "unknown".to_string(),
            sha256: None,
        },
        config: Default::default(),
        fail_on: fail_on.unwrap_or(Severity::High),
        verdict: "error".to_string(),
        findings: Vec::new(),
        identities: Vec::new(),
        errors: vec![FileError {
            path: "<policy>".to_string(),
            line: None,
            column: None,
            message,
        }],
        skipped_kinds: BTreeMap::new(),
        counts: Counts {
            files: sources.len(),
            errors: 1,
            ..Counts::default()
        },
    }
}

impl CheckArgs {
    /// Whether this run writes `format`, on stdout or as a `--report` file.
    fn renders(&self, format: Format) -> bool {
        self.format == format || self.report.iter().any(|(f, _)| *f == format)
    }
}

/// The `check` request, serialized from borrowed inputs: `Request::Check` owns its sources,
/// and cloning them only to serialize doubled the host's memory for a large dump.
fn encode_check(sources: &[Source], options: &Options) -> Result<String, String> {
    #[derive(serde::Serialize)]
    #[serde(tag = "op", rename = "check")]
    struct Check<'a> {
        sources: &'a [Source],
        options: &'a Options,
    }
    serde_json::to_string(&Check { sources, options })
        .map_err(|e| format!("cannot encode the request: {e}"))
}

/// Fail-closed checks on whatever module produced the report (a `--policy` module is not
/// trusted to get them right): unreadable inputs are errors, errors mean exit 2, and a
/// failing finding is never a pass.
fn enforce_invariants(report: &mut Report, sources: &[Source]) {
    for source in sources {
        if let Some(message) = &source.read_error {
            if !report.errors.iter().any(|e| e.path == source.path) {
                report.errors.push(FileError {
                    path: source.path.clone(),
                    line: None,
                    column: None,
                    message: message.clone(),
                });
                report.counts.errors = report.errors.len();
            }
        }
    }
    let failing = report.findings.iter().any(|f| f.fails(report.fail_on));
    if !report.errors.is_empty() {
        report.verdict = "error".to_string();
    } else if failing && report.verdict == "pass" {
        report.verdict = "fail".to_string();
    }
}

fn rules(evaluator: &Evaluator, format: &str) -> Result<i32, String> {
    let rules = evaluator.rules()?;
    let mut out = String::new();
    if format == "json" {
        out = serde_json::to_string_pretty(&rules).map_err(|e| e.to_string())? + "\n";
    } else if rules.is_empty() {
        out.push_str("no rules\n");
    } else {
        let code_w = rules.iter().map(|r| r.code.len()).max().unwrap_or(4).max(4);
        let name_w = rules.iter().map(|r| r.name.len()).max().unwrap_or(4).max(4);
        out.push_str(&format!(
            "{:code_w$}  {:name_w$}  {:8}  {:8}  SUMMARY\n",
            "CODE", "NAME", "SEVERITY", "CATEGORY"
        ));
        for r in &rules {
            out.push_str(&format!(
                "{:code_w$}  {:name_w$}  {:8}  {:8}  {}\n",
                r.code,
                r.name,
                r.severity.as_str(),
                category_name(r.category),
                r.summary
            ));
        }
    }
    print_stdout(&out)
}

fn explain(evaluator: &Evaluator, wanted: &str) -> Result<i32, String> {
    let rules = evaluator.rules()?;
    let rule = rules
        .iter()
        .find(|r| r.code.eq_ignore_ascii_case(wanted) || r.name.eq_ignore_ascii_case(wanted))
        .ok_or_else(|| format!("unknown rule `{wanted}` (`rbac-gate rules` lists them)"))?;
    let out = format!(
        "{}/{} ({}, {})\n\n{}\n\n{}\n",
        rule.code,
        rule.name,
        rule.severity.as_str(),
        category_name(rule.category),
        rule.summary,
        rule.docs.trim_end()
    );
    print_stdout(&out)
}

fn category_name(category: rbac_gate_core::report::Category) -> &'static str {
    use rbac_gate_core::report::Category;
    match category {
        Category::Unsafe => "unsafe",
        Category::Missing => "missing",
        Category::Hygiene => "hygiene",
    }
}

fn version(evaluator: &Evaluator) -> Result<i32, String> {
    let request = serde_json::to_string(&Request::Check {
        sources: Vec::new(),
        options: Options::default(),
    })
    .map_err(|e| e.to_string())?;
    let response = evaluator.evaluate(request).map_err(|e| e.to_string())?;
    let report: Report = serde_json::from_str(&response)
        .map_err(|e| format!("policy module returned a malformed report: {e}"))?;
    let module = match evaluator.engine {
        Engine::Native => "native core (no module)".to_string(),
        Engine::Wasm => {
            let policy = evaluator.policy().map_err(|e| e.to_string())?;
            let origin = match policy.origin() {
                Origin::Embedded => "embedded".to_string(),
                Origin::File(path) => path.display().to_string(),
            };
            format!("sha256:{} ({origin})", policy.sha256())
        }
    };
    let out = format!(
        "rbac-gate {}\nwasmtime {}\npolicy {} (abi {})\nmodule {module}\n",
        env!("CARGO_PKG_VERSION"),
        crate::sandbox::WASMTIME_VERSION,
        report.policy.version,
        rbac_gate_core::ABI_VERSION,
    );
    print_stdout(&out)
}

pub(crate) fn print_stdout(text: &str) -> Result<i32, String> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Ok(0),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(0),
        Err(e) => Err(format!("cannot write to stdout: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_help_lists_the_built_in_skips() {
        use clap::CommandFactory;
        let mut cli = Cli::command();
        let check = cli.find_subcommand_mut("check").expect("check");
        let help = check.render_long_help().to_string();
        for skipped in collect::BUILT_IN_SKIPS {
            assert!(
                help.contains(&format!("{skipped}/")),
                "{skipped} not in:\n{help}"
            );
        }
    }

    #[test]
    fn report_targets_stay_in_the_working_directory_and_off_symlinks() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cwd = &std::fs::canonicalize(dir.path()).expect("canonical");
        std::fs::create_dir(cwd.join("real")).expect("mkdir");
        let target = |file: &str| report_target(Path::new(file), cwd);
        assert_eq!(target("a/../r.json"), Ok(cwd.join("r.json")));
        assert_eq!(target("real/new/r.json"), Ok(cwd.join("real/new/r.json")));
        let absolute = cwd.join("real/r.json").display().to_string();
        assert_eq!(target(&absolute), Ok(cwd.join("real/r.json")));
        for outside in [
            "../r.json",
            "real/../../r.json",
            "/tmp/r.json",
            ".",
            "real/..",
        ] {
            let refused = target(outside).expect_err(outside);
            assert!(
                refused.contains("outside the working directory"),
                "{refused}"
            );
        }
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink("real", cwd.join("link")).expect("link");
            let refused = target("link/new/r.json").expect_err("symlinked directory");
            assert!(
                refused.contains("its directory link is a symlink"),
                "{refused}"
            );
            // The file itself may be a link: it is replaced, not followed.
            std::fs::write(cwd.join("real/manifest.yaml"), "kind: Role\n").expect("write");
            std::os::unix::fs::symlink("real/manifest.yaml", cwd.join("r.json")).expect("link");
            let target = target("r.json").expect("a link at the file is fine");
            let (temp, file) = create_beside(&target).expect("temp file");
            drop(file);
            std::fs::rename(&temp, &target).expect("rename");
            assert!(std::fs::symlink_metadata(&target)
                .expect("exists")
                .is_file());
            assert_eq!(
                std::fs::read_to_string(cwd.join("real/manifest.yaml")).expect("read"),
                "kind: Role\n"
            );
        }
    }

    #[test]
    fn quoted_files_are_read_again_unless_they_changed_and_stdin_is_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let same = dir.path().join("same.yaml");
        let changed = dir.path().join("changed.yaml");
        std::fs::write(&same, "kind: Role\n").expect("write");
        std::fs::write(&changed, "kind: Role\n").expect("write");
        let files: BTreeMap<String, PathBuf> = [
            ("same.yaml".to_string(), same),
            ("changed.yaml".to_string(), changed.clone()),
        ]
        .into();
        let mut sources = vec![
            Source::new("same.yaml", "kind: Role\n"),
            Source::new("changed.yaml", "kind: Role\n"),
            Source::new("-", "kind: RoleBinding\n"),
        ];
        let quoted = Quoted::drop_texts(&mut sources, &files, true);
        assert!(sources[0].text.is_empty() && sources[1].text.is_empty());
        assert_eq!(
            sources[2].text, "kind: RoleBinding\n",
            "stdin cannot be read again"
        );
        std::fs::write(&changed, "kind: ClusterRole\n").expect("write");
        let warnings = quoted.read_again(&mut sources, &files, 1024 * 1024);
        assert_eq!(sources[0].text, "kind: Role\n");
        assert_eq!(sources[1].text, "", "a changed file is not quoted");
        assert_eq!(
            warnings,
            ["changed.yaml changed while it was checked; the text report does not quote its lines"]
        );

        // Without a text report nothing is kept, and nothing is read again.
        let quoted = Quoted::drop_texts(&mut sources, &files, false);
        assert!(sources.iter().all(|s| s.text.is_empty()));
        assert!(quoted
            .read_again(&mut sources, &files, 1024 * 1024)
            .is_empty());
        assert!(sources.iter().all(|s| s.text.is_empty()));
    }

    #[test]
    fn the_borrowed_check_request_is_the_owned_one_byte_for_byte() {
        let sources = vec![
            Source::new("a.yaml", "kind: Role\n\"quoted\": \\\n"),
            Source {
                read_error: Some("permission denied".to_string()),
                ..Source::new("b.yaml", "")
            },
        ];
        let options = Options {
            fail_on: Some(Severity::High),
            today: Some("2026-11-27".to_string()),
            skip_identities: true,
            ..Options::default()
        };
        let owned = serde_json::to_string(&Request::Check {
            sources: sources.clone(),
            options: options.clone(),
        })
        .expect("serializes");
        assert_eq!(encode_check(&sources, &options), Ok(owned.clone()));
        // And the module reads it back as that request.
        assert_eq!(
            serde_json::from_str::<Request>(&owned).expect("parses"),
            Request::Check { sources, options }
        );
    }
}
