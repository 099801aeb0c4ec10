//! Finding and reading the input files.
//!
//! Directories are walked for `.yaml`, `.yml`, `.json`, `.toml` and kubeconfig files,
//! skipping `.git`, honouring `.gitignore` (also outside a git repository) and `--exclude`.
//! Symlinks are never followed out of the tree. Every problem with a file becomes a
//! [`Source`] with `read_error` set, which the core reports as an error (exit 2): nothing is
//! dropped silently.

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};
use rbac_gate_core::Source;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

/// Largest file (or stdin) read, in bytes.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 256 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct CollectOptions {
    /// `--exclude` globs. A glob without `/` matches any file or directory name; one with `/`
    /// matches the path relative to the working directory (`**` crosses directories).
    pub excludes: Vec<String>,
    /// Name shown for stdin (`-`).
    pub stdin_path: String,
    pub max_file_size: u64,
    /// Files never treated as input (the config file).
    pub skip: Vec<PathBuf>,
    pub cwd: PathBuf,
    /// `--no-ignore`: read what `.gitignore` files would hide.
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

pub struct Excludes {
    names: GlobSet,
    paths: GlobSet,
}

impl Excludes {
    fn matches(&self, display: &str) -> bool {
        if self.paths.is_match(display) {
            return true;
        }
        // A name glob matches any component, so excluding `vendor` skips `a/vendor/b.yaml`.
        display
            .split('/')
            .any(|component| self.names.is_match(component))
    }
}

/// Collects the inputs named on the command line (`-` is stdin; none means `.`).
pub fn collect(paths: &[String], options: &CollectOptions) -> Result<Collected, String> {
    let excludes = excludes(&options.excludes)?;
    let skip: Vec<PathBuf> = options
        .skip
        .iter()
        .filter_map(|p| std::fs::canonicalize(p).ok())
        .collect();
    let mut found = Found::default();
    let mut warnings = Vec::new();
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
                walk(path, options, &excludes, &skip, &mut found);
                if found.len() == before {
                    warnings.push(format!(
                        "no YAML, JSON, TOML or kubeconfig files under {display}"
                    ));
                }
            }
            Ok(_) => {
                if excludes.matches(&display) || is_skipped(path, &skip) {
                    continue;
                }
                found.read(display, path, options.max_file_size);
            }
        }
    }
    Ok(Collected {
        sources: found.sources.into_values().collect(),
        files: found.files,
        warnings,
    })
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
}

fn walk(
    root: &Path,
    options: &CollectOptions,
    excludes: &Excludes,
    skip: &[PathBuf],
    found: &mut Found,
) {
    let canonical_root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    let cwd = options.cwd.clone();
    let filter_excludes = excludes.names.clone();
    let filter_paths = excludes.paths.clone();
    let walker = ignore::WalkBuilder::new(root)
        .hidden(false)
        .ignore(false)
        .git_ignore(!options.no_ignore)
        .git_exclude(!options.no_ignore)
        .git_global(false)
        .parents(true)
        .require_git(false)
        .follow_links(false)
        .filter_entry(move |entry| {
            if entry.depth() == 0 {
                return true;
            }
            if entry.file_name() == ".git" {
                return false;
            }
            let display = display_path(entry.path(), &cwd);
            !(filter_paths.is_match(&display)
                || display.split('/').any(|c| filter_excludes.is_match(c)))
        })
        .build();

    for entry in walker {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                // An unreadable directory or ignore file: report it against its path.
                let path = error_path(&e).unwrap_or_else(|| root.to_path_buf());
                let display = display_path(&path, &options.cwd);
                found.insert(
                    display.clone(),
                    error_source(display, format!("cannot read: {e}")),
                );
                continue;
            }
        };
        let path = entry.path();
        let Some(file_type) = entry.file_type() else {
            continue; // stdin, never produced by a directory walk
        };
        if file_type.is_dir() || !is_candidate(path) || is_skipped(path, skip) {
            continue;
        }
        let display = display_path(path, &options.cwd);
        if file_type.is_symlink() {
            match std::fs::canonicalize(path) {
                // Inside the tree the target is walked in its own right.
                Ok(target) if target.starts_with(&canonical_root) => {}
                Ok(target) => {
                    found.insert(
                        display.clone(),
                        error_source(
                            display,
                            format!(
                                "symlink to {} outside the checked tree is not followed; check \
                                 the target directly or --exclude the link",
                                target.display()
                            ),
                        ),
                    );
                }
                Err(e) => {
                    found.insert(
                        display.clone(),
                        error_source(display, format!("broken symlink: {}", io_message(&e))),
                    );
                }
            }
            continue;
        }
        if !file_type.is_file() {
            continue; // sockets, fifos, devices
        }
        found.read(display, path, options.max_file_size);
    }
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

fn is_skipped(path: &Path, skip: &[PathBuf]) -> bool {
    !skip.is_empty()
        && std::fs::canonicalize(path)
            .map(|p| skip.contains(&p))
            .unwrap_or(false)
}

/// `.yaml`, `.yml`, `.json`, `.toml`, `*kubeconfig*`, or `config` inside a `.kube` directory.
pub fn is_candidate(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    let lower = name.to_ascii_lowercase();
    if let Some((_, ext)) = lower.rsplit_once('.') {
        if matches!(ext, "yaml" | "yml" | "json" | "toml") {
            return true;
        }
    }
    if lower.contains("kubeconfig") {
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
    fn too_large_and_invalid_utf8() {
        let s = read_source("f".into(), &mut &b"abcdef"[..], 3);
        assert!(s.read_error.as_deref().unwrap_or("").contains("too large"));
        let s = read_source("f".into(), &mut &b"ok\xff"[..], 100);
        assert!(s.read_error.as_deref().unwrap_or("").contains("UTF-8"));
        let s = read_source("f".into(), &mut &b"ok"[..], 100);
        assert_eq!(s.text, "ok");
    }
}
