//! Finding and reading the input files.
//!
//! The input set is what a merge request deploys. Inside a git work tree a directory's inputs
//! are its tracked files, whatever any ignore file says, and the untracked files that the
//! repository's own `.gitignore` files do not ignore (`.git/info/exclude`, the global excludes
//! and ignore files outside the repository never apply: they are not part of what is
//! deployed). A directory with no tracked file, or outside any work tree, is walked whole,
//! except the directories of [`BUILT_IN_SKIPS`] below it. Only `.yaml`, `.yml`, `.json`,
//! `.toml` and kubeconfig files are read, less `--exclude` and the config file.
//!
//! A folder with a kustomization is judged by its rendered output (see [`crate::kustomize`]):
//! the files it consumes are replaced by the objects it renders.
//!
//! Symlinks are never followed out of the tree; an in-tree one is read through the link when
//! its target is not an input in its own right. Every problem with a file becomes a
//! [`Source`] with `read_error` set, which the core reports as an error (exit 2): nothing is
//! dropped silently.

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};
use rbac_gate_core::settings::Rendered;
use rbac_gate_core::Source;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

/// Largest file (or stdin) read, in bytes.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 256 * 1024 * 1024;

/// Directories skipped below a checked directory that git does not describe (no work tree,
/// no tracked file there, or git failed): version-control data and installed dependencies,
/// never what a merge request deploys. `--no-ignore` reads them too, except `.git`.
/// `check --help` lists them (a test keeps the two in step).
pub const BUILT_IN_SKIPS: &[&str] = &[".git", ".hg", ".svn", "node_modules", ".gitlab-ci-local"];

#[derive(Debug, Clone)]
pub struct CollectOptions {
    /// `--exclude` globs. A glob without `/` matches any file or directory name; one with `/`
    /// matches the path relative to the working directory (`**` crosses directories).
    pub excludes: Vec<String>,
    /// Name shown for stdin (`-`).
    pub stdin_path: String,
    pub max_file_size: u64,
    /// Files never treated as input (the config file), by their lexical path: a symlink named
    /// like the config must not hide the manifest it points at.
    pub skip: Vec<PathBuf>,
    pub cwd: PathBuf,
    /// `--no-ignore`: read every file below a directory, whatever git or the built-in list
    /// would skip (only `.git` and `--exclude` still apply).
    pub no_ignore: bool,
}

/// The inputs, sorted by path.
#[derive(Debug, Default)]
pub struct Collected {
    pub sources: Vec<Source>,
    /// The file each source was read from, by display path (stdin, and paths that failed
    /// before a read, such as broken symlinks, have none): the text report reads them again
    /// after the evaluation.
    pub files: BTreeMap<String, PathBuf>,
    /// Notes for stderr (e.g. an empty directory), not errors.
    pub warnings: Vec<String>,
    /// The kustomize renders among `sources`, to move findings back onto their files.
    pub kustomize: crate::kustomize::Renders,
}

/// Builds the exclusion matcher; an invalid glob is a usage error.
pub fn excludes(globs: &[String]) -> Result<Excludes, String> {
    let mut names = GlobSetBuilder::new();
    let mut paths = GlobSetBuilder::new();
    for glob in globs {
        let trimmed = glob.trim_start_matches("./").trim_end_matches('/');
        if trimmed.contains('/') {
            let g = GlobBuilder::new(trimmed)
                .literal_separator(true)
                .build()
                .map_err(|e| format!("invalid --exclude glob `{glob}`: {e}"))?;
            paths.add(g);
        } else {
            let g =
                Glob::new(trimmed).map_err(|e| format!("invalid --exclude glob `{glob}`: {e}"))?;
            names.add(g);
        }
    }
    let build = |b: GlobSetBuilder| b.build().map_err(|e| format!("invalid --exclude: {e}"));
    Ok(Excludes {
        names: build(names)?,
        paths: build(paths)?,
    })
}

#[derive(Clone)]
pub struct Excludes {
    names: GlobSet,
    paths: GlobSet,
}

impl Excludes {
    /// Whether `display` or a directory above it is excluded: git lists files, not the
    /// directories a walk would have pruned, so `deploy/old` must also skip
    /// `deploy/old/x.yaml`.
    fn matches(&self, display: &str) -> bool {
        let mut end = 0;
        for component in display.split('/') {
            end += component.len();
            // A name glob matches any component, so excluding `vendor` skips `a/vendor/b.yaml`.
            if self.names.is_match(component) || self.paths.is_match(&display[..end]) {
                return true;
            }
            end += 1;
        }
        false
    }
}

/// Collects the inputs named on the command line (`-` is stdin; none means `.`).
pub fn collect(paths: &[String], options: &CollectOptions) -> Result<Collected, String> {
    let excludes = excludes(&options.excludes)?;
    let skip: Vec<PathBuf> = options
        .skip
        .iter()
        .map(|p| lexical_absolute(p, &options.cwd))
        .collect();
    let mut found = Found::default();
    let mut warnings = Vec::new();
    let mut renders = crate::kustomize::Renders::default();
    let default = [".".to_string()];
    let paths = if paths.is_empty() {
        &default[..]
    } else {
        paths
    };

    for arg in paths {
        if arg == "-" {
            let name = options.stdin_path.clone();
            let source = read_source(
                name.clone(),
                &mut std::io::stdin().lock(),
                options.max_file_size,
            );
            found.insert(name, source);
            continue;
        }
        let path = Path::new(arg);
        let display = display_path(path, &options.cwd);
        match std::fs::metadata(path) {
            Err(e) => {
                found.insert(
                    display.clone(),
                    error_source(display, format!("cannot read: {}", io_message(&e))),
                );
            }
            Ok(meta) if meta.is_dir() => {
                let before = found.len();
                let walk = Walk {
                    root: path,
                    tree: std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()),
                    options,
                    excludes: &excludes,
                };
                let mut listed = Vec::new();
                walk.list(Path::new(""), &mut listed, &mut found, &mut warnings);
                walk.read(listed, &skip, &mut found);
                let kustomizations = found.kustomizations(&display);
                // A kustomization may read its bases anywhere in the repository (checking one
                // overlay is checking what it renders), never outside it.
                let boundary = work_tree_of(&walk.tree).unwrap_or_else(|| {
                    let cwd =
                        std::fs::canonicalize(&options.cwd).unwrap_or_else(|_| options.cwd.clone());
                    if walk.tree.starts_with(&cwd) {
                        cwd
                    } else {
                        walk.tree.clone()
                    }
                });
                let outcome = renders.render(
                    &kustomizations,
                    &boundary,
                    &options.cwd,
                    options.max_file_size,
                );
                found.apply(outcome);
                if found.len() == before {
                    warnings.push(format!(
                        "no YAML, JSON, TOML or kubeconfig files under {display}"
                    ));
                }
            }
            Ok(_) => {
                if excludes.matches(&display)
                    || skip.contains(&lexical_absolute(path, &options.cwd))
                {
                    continue;
                }
                found.read(display.clone(), path, options.max_file_size);
                if crate::kustomize::is_kustomization(path) {
                    let tree =
                        std::fs::canonicalize(&options.cwd).unwrap_or_else(|_| options.cwd.clone());
                    let kustomizations = [(display, path.to_path_buf())];
                    let outcome =
                        renders.render(&kustomizations, &tree, &options.cwd, options.max_file_size);
                    found.apply(outcome);
                }
            }
        }
    }
    Ok(Collected {
        sources: found.sources.into_values().collect(),
        files: found.files,
        warnings,
        kustomize: renders,
    })
}

/// Why `check` found nothing, and how to go on: what was searched and what skips files.
pub fn nothing_found_message(paths: &[String], excludes: &[String]) -> String {
    let searched = if paths.is_empty() {
        ".".to_string()
    } else {
        paths.join(", ")
    };
    let excluded = if excludes.is_empty() {
        String::new()
    } else {
        format!(
            " The --exclude globs {} skipped matching files and directories.",
            excludes
                .iter()
                .map(|g| format!("`{g}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    format!(
        "no input file found in {searched}: nothing was checked, and a gate that checks nothing \
         cannot pass. rbac-gate reads .yaml, .yml, .json, .toml and kubeconfig files: in a git \
         work tree the tracked ones and the untracked ones its .gitignore files do not ignore; \
         elsewhere every one except below {}.{excluded} Check the paths (and --exclude), or \
         pass --allow-empty if an empty run is expected.",
        BUILT_IN_SKIPS
            .iter()
            .map(|d| format!("{d}/"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// What `collect` found so far, by display path.
#[derive(Default)]
struct Found {
    sources: BTreeMap<String, Source>,
    files: BTreeMap<String, PathBuf>,
}

impl Found {
    fn insert(&mut self, display: String, source: Source) {
        self.files.remove(&display);
        self.sources.insert(display, source);
    }

    fn len(&self) -> usize {
        self.sources.len()
    }

    /// Reads the file at `path`, remembering where it came from.
    fn read(&mut self, display: String, path: &Path, max: u64) {
        let source = read_file(display.clone(), path, max);
        self.sources.insert(display.clone(), source);
        self.files.insert(display, path.to_path_buf());
    }

    /// The kustomization files read below the directory shown as `display` (every one when it
    /// is `.`), with their files.
    fn kustomizations(&self, display: &str) -> Vec<(String, PathBuf)> {
        let prefix = format!("{display}/");
        self.files
            .iter()
            .filter(|(shown, path)| {
                (display == "." || shown.starts_with(&prefix))
                    && crate::kustomize::is_kustomization(path)
            })
            .map(|(shown, path)| (shown.clone(), path.clone()))
            .collect()
    }

    /// Puts the rendered objects in place of the files the kustomizations consumed.
    fn apply(&mut self, outcome: crate::kustomize::Outcome) {
        for consumed in &outcome.consumed {
            self.sources.remove(consumed);
            self.files.remove(consumed);
        }
        for source in outcome.sources {
            self.insert(source.path.clone(), source);
        }
    }

    /// Records a problem with `path` as an error of the run.
    fn error(&mut self, path: &Path, cwd: &Path, message: String) {
        let display = display_path(path, cwd);
        self.insert(display.clone(), error_source(display, message));
    }
}

/// One directory named on the command line: first its entries are listed (by git, or by a
/// walk), then the candidates among them are read.
struct Walk<'a> {
    /// The directory as given.
    root: &'a Path,
    /// Its canonical path: symlinks are followed only to targets below it.
    tree: PathBuf,
    options: &'a CollectOptions,
    excludes: &'a Excludes,
}

impl Walk<'_> {
    /// Appends the entries below `root/dir` that make up the input set, relative to `root`
    /// (files and symlinks; directories only through their contents).
    fn list(
        &self,
        dir: &Path,
        listed: &mut Vec<PathBuf>,
        found: &mut Found,
        warnings: &mut Vec<String>,
    ) {
        let path = self.root.join(dir);
        if self.options.no_ignore {
            return self.walk_everything(dir, &[".git"], listed, found);
        }
        let canonical = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
        let Some(top) = work_tree_of(&canonical) else {
            return self.walk_everything(dir, BUILT_IN_SKIPS, listed, found);
        };
        match git_listing(&top, &canonical) {
            Ok(Some(git)) => {
                for nested in git.nested {
                    let nested = dir.join(nested);
                    // An initialised submodule or an untracked repository: its own git says
                    // what it holds. An empty submodule directory holds nothing.
                    let display = display_path(&self.root.join(&nested), &self.options.cwd);
                    if !self.excludes.matches(&display)
                        && std::fs::symlink_metadata(self.root.join(&nested).join(".git")).is_ok()
                    {
                        self.list(&nested, listed, found, warnings);
                    }
                }
                listed.extend(git.files.into_iter().map(|f| dir.join(f)));
            }
            // Not part of the repository's content (a checkout inside an ignored folder, say):
            // its files are read as if there were no git.
            Ok(None) => self.walk_everything(dir, BUILT_IN_SKIPS, listed, found),
            Err(reason) => {
                warnings.push(format!(
                    "cannot list the files git tracks in {}: {reason}; every file under {} is \
                     checked instead (files .gitignore would skip included)",
                    top.display(),
                    display_path(&path, &self.options.cwd)
                ));
                self.walk_everything(dir, BUILT_IN_SKIPS, listed, found);
            }
        }
    }

    /// Lists every file below `root/dir`, no ignore file applied, pruning `--exclude` and the
    /// directories named in `skipped`.
    fn walk_everything(
        &self,
        dir: &Path,
        skipped: &'static [&'static str],
        listed: &mut Vec<PathBuf>,
        found: &mut Found,
    ) {
        let start = self.root.join(dir);
        let cwd = self.options.cwd.clone();
        let excludes = self.excludes.clone();
        let walker = ignore::WalkBuilder::new(&start)
            .standard_filters(false)
            .follow_links(false)
            .filter_entry(move |entry| {
                entry.depth() == 0
                    || !(entry.file_type().is_some_and(|t| t.is_dir())
                        && skipped.iter().any(|s| entry.file_name() == *s)
                        || excludes.matches(&display_path(entry.path(), &cwd)))
            })
            .build();
        for entry in walker {
            match entry {
                Ok(entry) => {
                    if entry.file_type().is_some_and(|t| !t.is_dir()) {
                        if let Ok(relative) = entry.path().strip_prefix(&start) {
                            listed.push(dir.join(relative));
                        }
                    }
                }
                // An unreadable directory: report it against its path.
                Err(e) => {
                    let path = error_path(&e).unwrap_or_else(|| start.clone());
                    found.error(&path, &self.options.cwd, format!("cannot read: {e}"));
                }
            }
        }
    }

    /// Reads the candidates among `listed` (relative to `root`): regular files, then symlinks
    /// whose target stays below the tree and is not read in its own right.
    fn read(&self, listed: Vec<PathBuf>, skip: &[PathBuf], found: &mut Found) {
        let cwd = &self.options.cwd;
        let max = self.options.max_file_size;
        let mut files = std::collections::BTreeSet::new();
        let mut links = Vec::new();
        for relative in listed {
            let path = self.root.join(&relative);
            let display = display_path(&path, cwd);
            if !is_candidate(&path)
                || self.excludes.matches(&display)
                || skip.contains(&lexical_absolute(&path, cwd))
            {
                continue;
            }
            match std::fs::symlink_metadata(&path) {
                // Tracked but deleted from the work tree: not deployed from this checkout.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => found.error(&path, cwd, format!("cannot read: {}", io_message(&e))),
                Ok(meta) if meta.is_symlink() => links.push((path, display)),
                Ok(meta) if meta.is_file() => {
                    found.read(display, &path, max);
                    files.insert(relative);
                }
                Ok(_) => {} // directories, sockets, fifos, devices
            }
        }
        for (link, display) in links {
            match std::fs::canonicalize(&link) {
                Ok(target) => match target.strip_prefix(&self.tree) {
                    // Read in its own right: reading it again would report it twice.
                    Ok(inside) if files.contains(inside) => {}
                    // Ignored, excluded or not a candidate by name, but deployed through the
                    // link: read it under the link's name. Directories are not followed.
                    Ok(_) => {
                        if std::fs::metadata(&target).is_ok_and(|m| m.is_file()) {
                            found.read(display, &link, max);
                        }
                    }
                    Err(_) => found.error(
                        &link,
                        cwd,
                        format!(
                            "symlink to {} outside the checked tree is not followed; check the \
                             target directly or --exclude the link",
                            target.display()
                        ),
                    ),
                },
                Err(e) => found.error(&link, cwd, format!("broken symlink: {}", io_message(&e))),
            }
        }
    }
}

/// The work tree holding `dir` (a canonical path): the nearest directory at or above it with
/// a `.git` directory or file.
fn work_tree_of(dir: &Path) -> Option<PathBuf> {
    dir.ancestors()
        .find(|a| std::fs::symlink_metadata(a.join(".git")).is_ok())
        .map(Path::to_path_buf)
}

/// What git says `dir` (inside the work tree `top`) holds, relative to `dir`.
struct GitListing {
    /// Tracked files, and untracked ones that no `.gitignore` of the repository ignores.
    files: Vec<PathBuf>,
    /// Submodules and untracked repositories: git does not list their contents.
    nested: Vec<PathBuf>,
}

/// Lists `dir` through git; `Ok(None)` when it holds no tracked file (it is not part of the
/// repository's content), `Err` when git cannot answer.
fn git_listing(top: &Path, dir: &Path) -> Result<Option<GitListing>, String> {
    let pathspec = dir.strip_prefix(top).unwrap_or(Path::new(""));
    let tracked = run_git(top, &["ls-files", "-z", "--cached", "--stage"], pathspec)?;
    if tracked.is_empty() {
        return Ok(None);
    }
    // `--exclude-per-directory` alone: no `.git/info/exclude`, no `core.excludesFile`.
    let untracked = run_git(
        top,
        &[
            "ls-files",
            "-z",
            "--others",
            "--exclude-per-directory=.gitignore",
        ],
        pathspec,
    )?;
    let mut listing = GitListing {
        files: Vec::new(),
        nested: Vec::new(),
    };
    let below = |bytes: &[u8]| {
        let path = path_from_bytes(bytes);
        path.strip_prefix(pathspec).map(Path::to_path_buf).ok()
    };
    for entry in tracked.split(|b| *b == 0).filter(|e| !e.is_empty()) {
        // `<mode> <object> <stage>\t<path>`; mode 160000 is a submodule.
        let Some(tab) = entry.iter().position(|b| *b == b'\t') else {
            return Err("git ls-files printed an entry without a path".to_string());
        };
        let Some(path) = below(&entry[tab + 1..]) else {
            continue;
        };
        if entry.starts_with(b"160000 ") {
            listing.nested.push(path);
        } else {
            listing.files.push(path);
        }
    }
    for entry in untracked.split(|b| *b == 0).filter(|e| !e.is_empty()) {
        // An untracked repository is listed as its directory, with a trailing `/`.
        let (entry, nested) = match entry.strip_suffix(b"/") {
            Some(dir) => (dir, true),
            None => (entry, false),
        };
        if let Some(path) = below(entry) {
            if nested {
                listing.nested.push(path);
            } else {
                listing.files.push(path);
            }
        }
    }
    listing.files.sort();
    listing.files.dedup(); // an unmerged path is listed once per stage
    Ok(Some(listing))
}

/// Runs `git <args> -- <pathspec>` in `top` with nothing from the environment that could
/// point it elsewhere or change what it lists, and returns its stdout.
fn run_git(top: &Path, args: &[&str], pathspec: &Path) -> Result<Vec<u8>, String> {
    let mut command = std::process::Command::new("git");
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("GIT_") {
            command.env_remove(name);
        }
    }
    command
        .env("GIT_CONFIG_NOSYSTEM", "1")
        // Only `top` itself may be the repository, never a directory above it.
        .env(
            "GIT_CEILING_DIRECTORIES",
            top.parent().unwrap_or(top).as_os_str(),
        )
        .arg("--literal-pathspecs")
        .args([
            "-c",
            "core.quotePath=false",
            "-c",
            "core.fsmonitor=false",
            "-C",
        ])
        .arg(top)
        .args(args)
        .arg("--");
    if !pathspec.as_os_str().is_empty() {
        command.arg(pathspec);
    }
    let output = command
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("cannot run git: {}", io_message(&e)))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let reason = stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        return Err(format!(
            "git {} failed ({}): {reason}",
            args[0], output.status
        ));
    }
    Ok(output.stdout)
}

#[cfg(unix)]
fn path_from_bytes(bytes: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    PathBuf::from(std::ffi::OsStr::from_bytes(bytes))
}

#[cfg(not(unix))]
fn path_from_bytes(bytes: &[u8]) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(bytes).into_owned())
}

fn error_path(error: &ignore::Error) -> Option<PathBuf> {
    match error {
        ignore::Error::WithPath { path, .. } => Some(path.clone()),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            error_path(err)
        }
        ignore::Error::Partial(errors) => errors.iter().find_map(error_path),
        _ => None,
    }
}

/// `path` made absolute against `cwd`, `.` and `..` resolved by name (no symlink followed).
pub fn lexical_absolute(path: &Path, cwd: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in cwd.join(path).components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// `.yaml`, `.yml`, `.json`, `.toml`, `*kubeconfig*`, or `config` inside a `.kube` directory.
pub fn is_candidate(path: &Path) -> bool {
    // By the name's bytes, as kubectl matches extensions: a name that is not UTF-8
    // (`admin\xff.yaml`) is still a manifest kubectl applies.
    let Some(name) = path.file_name().map(|n| n.to_string_lossy()) else {
        return false;
    };
    let lower = name.to_ascii_lowercase();
    if let Some((_, ext)) = lower.rsplit_once('.') {
        if matches!(ext, "yaml" | "yml" | "json" | "toml") {
            return true;
        }
    }
    if lower.contains("kubeconfig") || crate::kustomize::is_kustomization(path) {
        return true;
    }
    name == "config"
        && path
            .parent()
            .map(|p| p.components().any(|c| c.as_os_str() == ".kube"))
            .unwrap_or(false)
}

/// Path as shown in reports: relative to the working directory when inside it, `/`-separated,
/// without `./`.
pub fn display_path(path: &Path, cwd: &Path) -> String {
    let relative = if path.is_absolute() {
        path.strip_prefix(cwd).unwrap_or(path)
    } else {
        path
    };
    let mut parts: Vec<String> = Vec::new();
    let mut absolute = false;
    for component in relative.components() {
        match component {
            Component::CurDir => {}
            Component::RootDir => absolute = true,
            Component::Prefix(p) => parts.push(p.as_os_str().to_string_lossy().into_owned()),
            other => parts.push(other.as_os_str().to_string_lossy().into_owned()),
        }
    }
    let joined = parts.join("/");
    match (absolute, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

pub(crate) fn read_file(display: String, path: &Path, max: u64) -> Source {
    match std::fs::File::open(path) {
        Ok(file) => {
            if let Ok(meta) = file.metadata() {
                if meta.len() > max {
                    return error_source(display, too_large(meta.len(), max));
                }
            }
            read_source(display, &mut std::io::BufReader::new(file), max)
        }
        Err(e) => error_source(display, format!("cannot read: {}", io_message(&e))),
    }
}

fn read_source(display: String, reader: &mut dyn Read, max: u64) -> Source {
    let mut bytes = Vec::new();
    match reader.take(max.saturating_add(1)).read_to_end(&mut bytes) {
        Err(e) => error_source(display, format!("cannot read: {}", io_message(&e))),
        Ok(_) if bytes.len() as u64 > max => {
            error_source(display, too_large(bytes.len() as u64, max))
        }
        Ok(_) => match String::from_utf8(bytes) {
            Ok(text) => Source::new(display, text),
            Err(e) => {
                let offset = e.utf8_error().valid_up_to();
                error_source(
                    display,
                    format!("not valid UTF-8 (first invalid byte at offset {offset}); rbac-gate reads UTF-8 text only"),
                )
            }
        },
    }
}

fn too_large(len: u64, max: u64) -> String {
    format!(
        "file is too large ({}{} bytes; the limit is {} MiB)",
        if len > max { "more than " } else { "" },
        max,
        max / (1024 * 1024)
    )
}

/// Reads the `rendered:` outputs (see the config's `rendered:`) of the charts among the inputs,
/// whatever git or `--exclude` say of them: the config names them, typically a build job's
/// artifact that is never committed. A missing output is left out, for the core to report on
/// its entry's line; an output that leads outside the working directory is an error.
pub fn read_rendered(collected: &mut Collected, entries: &[Rendered], cwd: &Path, max: u64) {
    let has = |collected: &Collected, path: &str| collected.sources.iter().any(|s| s.path == path);
    let tree = std::fs::canonicalize(cwd).unwrap_or_else(|_| cwd.to_path_buf());
    let mut added = false;
    for entry in entries {
        let chart_file = |name: &str| match entry.chart.as_str() {
            "" => name.to_string(),
            chart => format!("{chart}/{name}"),
        };
        let checked = ["Chart.yaml", "Chart.yml"]
            .iter()
            .any(|name| has(collected, &chart_file(name)));
        if !checked {
            continue;
        }
        // The entry makes the chart's templates skipped in favour of this file. A committed
        // file is whatever the merge request wrote there, not what the chart renders: the
        // templates could grant cluster-admin beside a harmless "rendering".
        if committed(cwd, &entry.output) {
            collected.sources.retain(|s| s.path != entry.output);
            collected.files.remove(&entry.output);
            collected.sources.push(error_source(
                entry.output.clone(),
                format!(
                    "the config's `rendered` output for chart {} is committed to the repository,                      so it need not be what the chart renders; render it in the pipeline (an                      untracked file, e.g. an artifact of an earlier job) or drop the entry",
                    entry.chart
                ),
            ));
            added = true;
            continue;
        }
        if has(collected, &entry.output) {
            continue;
        }
        let source = match std::fs::canonicalize(cwd.join(&entry.output)) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => error_source(
                entry.output.clone(),
                format!("cannot read: {}", io_message(&e)),
            ),
            Ok(real) if !real.starts_with(&tree) => error_source(
                entry.output.clone(),
                "the config's `rendered` output leads outside the working directory (through a \
                 symbolic link); render the chart to a file inside it"
                    .to_string(),
            ),
            Ok(real) => {
                collected.files.insert(entry.output.clone(), real.clone());
                read_file(entry.output.clone(), &real, max)
            }
        };
        collected.sources.push(source);
        added = true;
    }
    if added {
        collected.sources.sort_by(|a, b| a.path.cmp(&b.path));
    }
}

/// Whether git tracks `relative` (to `cwd`); `false` outside a work tree or when git cannot
/// answer.
fn committed(cwd: &Path, relative: &str) -> bool {
    let canonical_cwd = std::fs::canonicalize(cwd).unwrap_or_else(|_| cwd.to_path_buf());
    let Some(top) = work_tree_of(&canonical_cwd) else {
        return false;
    };
    let Ok(inside) = canonical_cwd.strip_prefix(&top) else {
        return false;
    };
    run_git(
        &top,
        &["ls-files", "-z", "--cached"],
        &inside.join(relative),
    )
    .is_ok_and(|listed| !listed.is_empty())
}

fn error_source(path: String, message: String) -> Source {
    Source {
        path,
        text: String::new(),
        read_error: Some(message),
    }
}

/// An I/O error without the "(os error N)" suffix.
fn io_message(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates() {
        for yes in [
            "a.yaml",
            "b/c.YML",
            "x.json",
            "runner/config.toml",
            "home/.kube/config",
            "kubeconfig",
            "ci-kubeconfig.txt",
            "prod.kubeconfig",
        ] {
            assert!(is_candidate(Path::new(yes)), "{yes}");
        }
        for no in [
            "config",
            "a/config",
            "README.md",
            "yaml",
            "kube/config",
            "x.yaml.bak",
        ] {
            assert!(!is_candidate(Path::new(no)), "{no}");
        }
    }

    #[test]
    fn rendered_outputs_of_checked_charts_are_read_whatever_git_says() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cwd = dir.path();
        std::fs::create_dir_all(cwd.join("out")).expect("mkdir");
        std::fs::write(cwd.join("out/web.yaml"), "kind: Role\n").expect("write");
        let entry = |chart: &str, output: &str| Rendered {
            chart: chart.to_string(),
            output: output.to_string(),
            line: 1,
        };
        let mut collected = Collected {
            sources: vec![Source::new("charts/web/Chart.yaml", "name: web\n")],
            ..Collected::default()
        };
        let entries = [
            entry("charts/web", "out/web.yaml"),
            entry("charts/web", "out/missing.yaml"),
            entry("charts/api", "out/web-again.yaml"),
        ];
        read_rendered(&mut collected, &entries, cwd, 1024);
        let paths: Vec<&str> = collected.sources.iter().map(|s| s.path.as_str()).collect();
        assert_eq!(paths, ["charts/web/Chart.yaml", "out/web.yaml"]);
        assert_eq!(collected.sources[1].text, "kind: Role\n");
        assert!(collected.files.contains_key("out/web.yaml"));
        #[cfg(unix)]
        {
            let outside = tempfile::tempdir().expect("tempdir");
            std::fs::write(outside.path().join("x.yaml"), "kind: Role\n").expect("write");
            std::os::unix::fs::symlink(outside.path().join("x.yaml"), cwd.join("out/link.yaml"))
                .expect("symlink");
            let mut collected = Collected {
                sources: vec![Source::new("charts/web/Chart.yaml", "")],
                ..Collected::default()
            };
            read_rendered(
                &mut collected,
                &[entry("charts/web", "out/link.yaml")],
                cwd,
                1024,
            );
            assert!(collected.sources[1]
                .read_error
                .as_deref()
                .is_some_and(|e| e.contains("outside the working directory")));
        }
    }

    #[test]
    fn display_paths() {
        let cwd = Path::new("/work/repo");
        assert_eq!(display_path(Path::new("./a/b.yaml"), cwd), "a/b.yaml");
        assert_eq!(display_path(Path::new("/work/repo/a.yaml"), cwd), "a.yaml");
        assert_eq!(display_path(Path::new("/etc/x.yaml"), cwd), "/etc/x.yaml");
        assert_eq!(display_path(Path::new("."), cwd), ".");
        assert_eq!(display_path(Path::new("examples/"), cwd), "examples");
    }

    #[test]
    fn exclude_globs() {
        let ex = excludes(&["vendor".into(), "deploy/old/**".into(), "*.json".into()])
            .expect("valid globs");
        assert!(ex.matches("vendor"));
        assert!(ex.matches("a/vendor/b.yaml"));
        assert!(ex.matches("deploy/old/x.yaml"));
        assert!(ex.matches("x/y.json"));
        assert!(!ex.matches("deploy/new/x.yaml"));
        assert!(excludes(&["[".into()]).is_err());
    }

    #[test]
    fn path_globs_also_exclude_what_is_below_a_matching_directory() {
        let ex = excludes(&["deploy/old".into()]).expect("valid glob");
        assert!(ex.matches("deploy/old"));
        assert!(
            ex.matches("deploy/old/x.yaml"),
            "git lists files, not directories"
        );
        assert!(!ex.matches("deploy/older/x.yaml"));
        assert!(
            !ex.matches("a/deploy/old/x.yaml"),
            "a path glob is anchored"
        );
    }

    #[test]
    fn lexical_paths_resolve_dots_by_name() {
        let cwd = Path::new("/work/repo");
        let abs = |p: &str| lexical_absolute(Path::new(p), cwd);
        assert_eq!(
            abs(".rbac-gate.yaml"),
            Path::new("/work/repo/.rbac-gate.yaml")
        );
        assert_eq!(abs("./a/../b.yaml"), Path::new("/work/repo/b.yaml"));
        assert_eq!(abs("../x.json"), Path::new("/work/x.json"));
        assert_eq!(abs("/etc/../tmp/x"), Path::new("/tmp/x"));
        assert_eq!(abs("../../../../x"), Path::new("/x"));
    }

    fn write(root: &Path, relative: &str, text: &str) {
        let path = root.join(relative);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }

    fn git(root: &Path, args: &[&str]) {
        let status = std::process::Command::new("git")
            .args(args)
            .current_dir(root)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .stdout(std::process::Stdio::null())
            .status()
            .expect("git runs");
        assert!(status.success(), "git {args:?}");
    }

    /// The display paths `collect` finds under `root` (run from `root`), and its warnings.
    fn inputs(root: &Path, paths: &[&str], skip: &[&str]) -> (Vec<String>, Vec<String>) {
        let options = CollectOptions {
            excludes: Vec::new(),
            stdin_path: "-".into(),
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            skip: skip.iter().map(|s| root.join(s)).collect(),
            cwd: root.to_path_buf(),
            no_ignore: false,
        };
        let paths: Vec<String> = paths
            .iter()
            .map(|p| root.join(p).display().to_string())
            .collect();
        let collected = collect(&paths, &options).expect("collects");
        let found = collected.sources.iter().map(|s| s.path.clone()).collect();
        (found, collected.warnings)
    }

    #[test]
    fn a_git_work_tree_gives_tracked_files_and_what_its_own_gitignore_keeps() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = &std::fs::canonicalize(dir.path()).expect("canonical");
        git(root, &["init", "-q", "."]);
        write(root, ".gitignore", "ignored/\nnode_modules/\n");
        write(root, "ignored/tracked.yaml", "a: 1\n");
        write(root, "ignored/untracked.yaml", "a: 1\n");
        write(root, "excluded-by-info/new.yaml", "a: 1\n");
        write(root, ".git/info/exclude", "excluded-by-info/\n");
        write(root, "node_modules/tracked.yaml", "a: 1\n");
        write(root, "new/untracked.yaml", "a: 1\n");
        write(root, "spaced dir/ü [x].yaml", "a: 1\n");
        // An untracked repository inside: its own git decides.
        write(root, "nested/.gitignore", "secret/\n");
        write(root, "nested/deploy.yaml", "a: 1\n");
        write(root, "nested/secret/x.yaml", "a: 1\n");
        git(&root.join("nested"), &["init", "-q", "."]);
        git(&root.join("nested"), &["add", "."]);
        git(root, &["add", ".gitignore", "spaced dir"]);
        git(
            root,
            &[
                "add",
                "-f",
                "ignored/tracked.yaml",
                "node_modules/tracked.yaml",
            ],
        );

        let (found, warnings) = inputs(root, &[""], &[]);
        let expected = [
            "excluded-by-info/new.yaml",
            "ignored/tracked.yaml",
            "nested/deploy.yaml",
            "new/untracked.yaml",
            "node_modules/tracked.yaml",
            "spaced dir/ü [x].yaml",
        ];
        assert_eq!(found, expected);
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn without_git_everything_is_walked_except_the_built_in_skips_below_the_root() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = &std::fs::canonicalize(dir.path()).expect("canonical");
        let checkout = root.join("node_modules/build");
        write(root, ".gitignore", "*\n");
        write(&checkout, ".gitignore", "*\n");
        write(&checkout, "deploy/a.yaml", "a: 1\n");
        for skipped in BUILT_IN_SKIPS {
            write(&checkout, &format!("sub/{skipped}/x.yaml"), "a: 1\n");
        }
        write(&checkout, "sub/.git-not/x.yaml", "a: 1\n");
        let (found, _) = inputs(&checkout, &[""], &[]);
        let expected = ["deploy/a.yaml", "sub/.git-not/x.yaml"];
        assert_eq!(found, expected);
    }

    #[cfg(unix)]
    #[test]
    fn the_config_is_skipped_by_its_own_path_and_links_are_read_when_their_target_is_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = &std::fs::canonicalize(dir.path()).expect("canonical");
        write(root, "deploy/admin.yaml", "kind: ClusterRoleBinding\n");
        write(root, "notes/admin.txt", "kind: ClusterRoleBinding\n");
        std::os::unix::fs::symlink("deploy/admin.yaml", root.join(".rbac-gate.yaml"))
            .expect("link");
        std::os::unix::fs::symlink("../notes/admin.txt", root.join("deploy/linked.yaml"))
            .expect("link");
        std::os::unix::fs::symlink("admin.yaml", root.join("deploy/same.yaml")).expect("link");
        let (found, _) = inputs(root, &[""], &[".rbac-gate.yaml"]);
        let expected = ["deploy/admin.yaml", "deploy/linked.yaml"];
        assert_eq!(found, expected);
    }

    #[test]
    fn too_large_and_invalid_utf8() {
        let s = read_source("f".into(), &mut &b"abcdef"[..], 3);
        assert!(s.read_error.as_deref().unwrap_or("").contains("too large"));
        let s = read_source("f".into(), &mut &b"ok\xff"[..], 100);
        assert!(s.read_error.as_deref().unwrap_or("").contains("UTF-8"));
        let s = read_source("f".into(), &mut &b"ok"[..], 100);
        assert_eq!(s.text, "ok");
    }
}
